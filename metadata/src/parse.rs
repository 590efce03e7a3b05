//! The streaming parser: `$metadata` bytes to the model, one pass over quick-xml events, no DOM.
//!
//! Elements are read by recursive descent: each `*_element` function reads its attributes, then its
//! children until its end tag, skipping whatever it does not know. Names are matched on local names
//! (the EDMX and EDM namespaces differ between v2 and v4, the elements do not); `sap:` and `m:`
//! attributes are matched on their conventional prefixes, which every SAP and Microsoft service
//! uses. A structurally broken document stops with an [`Error`] naming line, column and element
//! path; smaller problems (a facet that is not a number) become diagnostics.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::events::{BytesStart, Event};

use crate::annotations::{
    Annotation, Annotations, ConstantKind, Expr, PathKind, PropertyValue, Record, SapAttributes,
};
use crate::error::{Diagnostic, Error, Location, Severity};
use crate::model::*;
use crate::resolve::{PendingBlock, resolve};

/// A parsed and resolved document with the problems found in it.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The model.
    pub metadata: Metadata,
    /// Problems that did not stop parsing, in document order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    /// Diagnostics of severity error.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }
}

/// Parses and resolves a `$metadata` document (EDMX v2, CSDL XML v4 or v4.01).
pub fn parse(source: &[u8]) -> Result<Parsed, Error> {
    let mut parser = Parser::new(source);
    let (metadata, pending) = parser.document()?;
    let mut metadata = metadata;
    let mut diagnostics = parser.diagnostics;
    resolve(&mut metadata, pending, source, &mut diagnostics);
    diagnostics.sort_by_key(|d| (d.at.line, d.at.column));
    Ok(Parsed {
        metadata,
        diagnostics,
    })
}

type Result<T, E = Error> = std::result::Result<T, E>;

/// Attribute values of one element, by position in the requested name list, plus `sap:` ones.
struct Attrs<'e, const N: usize> {
    values: [Option<Cow<'e, str>>; N],
    sap: Option<Box<SapAttributes>>,
}

impl<const N: usize> Attrs<'_, N> {
    fn boxed(&self, i: usize) -> Option<Box<str>> {
        self.values[i].as_deref().map(Box::from)
    }
}

struct Parser<'a> {
    source: &'a [u8],
    reader: Reader<&'a [u8]>,
    /// Length of the byte order mark the reader does not see: its positions start after it.
    bom: u64,
    /// Offset of the last event read.
    event_start: u64,
    /// Element path of the current element, `/`-separated.
    path: String,
    diagnostics: Vec<Diagnostic>,
    /// Alias -> namespace for terms, from references and schemas seen so far.
    aliases: HashMap<Box<str>, Box<str>>,
    /// Term names as written -> shared namespace-qualified names.
    terms: HashMap<Box<str>, Arc<str>>,
    /// Shared copies of type names.
    interned: HashMap<Box<str>, Arc<str>>,
}

fn offset32(offset: u64) -> u32 {
    u32::try_from(offset).unwrap_or(u32::MAX)
}

/// Parses `Collection(NS.T)` or `NS.T`; the name is not interned yet.
fn type_ref(text: &str) -> Result<(&str, bool), String> {
    let text = text.trim();
    let (inner, collection) = match text.strip_prefix("Collection(") {
        Some(rest) => match rest.strip_suffix(')') {
            Some(inner) => (inner.trim(), true),
            None => {
                return Err(format!(
                    "bad type `{text}`: `Collection(` without closing `)`"
                ));
            }
        },
        None => (text, false),
    };
    if inner.is_empty() {
        return Err(format!("bad type `{text}`: empty type name"));
    }
    if inner.contains(['(', ')', ' ', ',']) {
        return Err(format!("bad type `{text}`: not a qualified type name"));
    }
    if !inner.contains('.') {
        return Err(format!(
            "bad type `{text}`: `{inner}` is not qualified by a namespace"
        ));
    }
    Ok((inner, collection))
}

impl<'a> Parser<'a> {
    fn new(source: &'a [u8]) -> Self {
        // quick-xml drops a UTF-8 byte order mark without counting it in its positions, which
        // would put every location of such a document (TripPin has one) three bytes early; so
        // the reader gets the text after the mark, and positions are shifted back by its length.
        let bom = if source.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let mut reader = Reader::from_reader(&source[bom..]);
        let config = reader.config_mut();
        config.check_end_names = true;
        config.expand_empty_elements = false;
        config.trim_text_start = false;
        config.trim_text_end = false;
        Parser {
            source,
            reader,
            bom: bom as u64,
            event_start: 0,
            path: String::new(),
            diagnostics: Vec::new(),
            aliases: HashMap::new(),
            terms: HashMap::new(),
            interned: HashMap::new(),
        }
    }

    // ----- positions, errors and diagnostics -----

    fn location(&self, offset: u64, path: String) -> Location {
        Location::at(
            self.source,
            usize::try_from(offset).unwrap_or(usize::MAX),
            path,
        )
    }

    fn path_or_root(&self) -> String {
        if self.path.is_empty() {
            "Edmx".to_owned()
        } else {
            self.path.clone()
        }
    }

    fn structure(&self, offset: u64, message: impl Into<String>) -> Error {
        Error::Structure {
            at: self.location(offset, self.path_or_root()),
            message: message.into(),
        }
    }

    fn xml_error(&self, error: quick_xml::Error) -> Error {
        let position = self.reader.error_position() + self.bom;
        let message = match &error {
            quick_xml::Error::Syntax(_) | quick_xml::Error::IllFormed(_)
                if position as usize >= self.source.len() =>
            {
                format!("document ends early ({error})")
            }
            _ => error.to_string(),
        };
        Error::Xml {
            at: self.location(position, self.path_or_root()),
            message,
        }
    }

    /// An XML error at a known place. Errors in attribute values and character references are
    /// not syntax errors of the reader: quick-xml reports their positions relative to the value
    /// and leaves `error_position` at 0 (or at an older error), so the caller names the place.
    fn error_at(&self, offset: u64, error: quick_xml::Error) -> Error {
        Error::Xml {
            at: self.location(offset, self.path_or_root()),
            message: error.to_string(),
        }
    }

    /// An XML error in the attributes of the element just read: shown at the element's start.
    fn element_error(&self, error: quick_xml::Error) -> Error {
        self.error_at(self.event_start, error)
    }

    fn warn(&mut self, offset: u64, message: String) {
        let at = self.location(offset, self.path_or_root());
        self.diagnostics.push(Diagnostic {
            severity: Severity::Warning,
            at,
            message,
        });
    }

    fn enter(&mut self, segment: &str) -> usize {
        let len = self.path.len();
        if !self.path.is_empty() {
            self.path.push('/');
        }
        self.path.push_str(segment);
        len
    }

    /// Enters an element whose path segment carries its name, such as `EntityType[Product]`.
    fn enter_named(&mut self, element: &str, name: Option<&str>) -> usize {
        let len = self.enter(element);
        if let Some(name) = name {
            self.path.push('[');
            self.path.push_str(name);
            self.path.push(']');
        }
        len
    }

    fn leave(&mut self, len: usize) {
        self.path.truncate(len);
    }

    // ----- events -----

    fn next(&mut self) -> Result<Event<'a>> {
        self.event_start = self.reader.buffer_position() + self.bom;
        self.reader.read_event().map_err(|e| self.xml_error(e))
    }

    /// The next child element of the current element, or `None` at its end tag.
    fn child(&mut self) -> Result<Option<(BytesStart<'a>, bool)>> {
        loop {
            match self.next()? {
                Event::Start(e) => return Ok(Some((e, false))),
                Event::Empty(e) => return Ok(Some((e, true))),
                Event::End(_) => return Ok(None),
                Event::Eof => {
                    return Err(Error::Xml {
                        at: self.location(self.source.len() as u64, self.path_or_root()),
                        message: "document ends early: element not closed".into(),
                    });
                }
                _ => {}
            }
        }
    }

    /// Skips an element that is not needed, with all its content.
    fn skip(&mut self, element: &BytesStart<'a>, empty: bool) -> Result<()> {
        if !empty {
            self.reader
                .read_to_end(element.name())
                .map_err(|e| self.xml_error(e))?;
        }
        Ok(())
    }

    /// Skips all children of the current element.
    fn skip_children(&mut self, empty: bool) -> Result<()> {
        if !empty {
            while let Some((child, child_empty)) = self.child()? {
                self.skip(&child, child_empty)?;
            }
        }
        Ok(())
    }

    /// The text content of the current element, entity references resolved.
    fn text(&mut self, empty: bool) -> Result<String> {
        let mut text = String::new();
        if empty {
            return Ok(text);
        }
        loop {
            match self.next()? {
                Event::Text(t) => text.push_str(&t.xml10_content()),
                Event::CData(t) => text.push_str(&t.xml10_content()),
                Event::GeneralRef(r) => {
                    let offset = self.event_start;
                    if let Some(c) = r.resolve_char_ref().map_err(|e| self.error_at(offset, e))? {
                        text.push(c);
                    } else {
                        match quick_xml::escape::resolve_predefined_entity(&r) {
                            Some(replacement) => text.push_str(replacement),
                            None => {
                                return Err(
                                    self.structure(offset, format!("unknown entity `&{};`", &*r))
                                );
                            }
                        }
                    }
                }
                Event::Start(e) => self.skip(&e, false)?,
                Event::End(_) => return Ok(text),
                Event::Eof => {
                    return Err(Error::Xml {
                        at: self.location(self.source.len() as u64, self.path_or_root()),
                        message: "document ends early: element not closed".into(),
                    });
                }
                _ => {}
            }
        }
    }

    /// Reads the named attributes (exact qualified names) and all `sap:` attributes.
    fn attrs<'e, const N: usize>(
        &self,
        element: &'e BytesStart<'a>,
        names: [&str; N],
    ) -> Result<Attrs<'e, N>> {
        let mut out = Attrs {
            values: std::array::from_fn(|_| None),
            sap: None,
        };
        for attribute in element.attributes().with_checks(false) {
            let attribute = attribute.map_err(|e| self.element_error(e.into()))?;
            let key = attribute.key.into_inner();
            if let Some(local) = key.strip_prefix("sap:") {
                let value = attribute
                    .normalized_value(XmlVersion::Implicit1_0)
                    .map_err(|e| self.element_error(e))?;
                out.sap.get_or_insert_with(Box::default).set(local, &value);
                continue;
            }
            if let Some(i) = names.iter().position(|n| *n == key) {
                let value = attribute
                    .normalized_value(XmlVersion::Implicit1_0)
                    .map_err(|e| self.element_error(e))?;
                out.values[i] = Some(value);
            }
        }
        Ok(out)
    }

    fn required<'v>(
        &self,
        offset: u64,
        value: &'v Option<Cow<'_, str>>,
        name: &str,
    ) -> Result<&'v str> {
        value
            .as_deref()
            .ok_or_else(|| self.structure(offset, format!("missing attribute {name}")))
    }

    fn type_attr(
        &mut self,
        offset: u64,
        value: &Option<Cow<'_, str>>,
        name: &str,
    ) -> Result<TypeRef> {
        let (type_name, collection) =
            type_ref(self.required(offset, value, name)?).map_err(|m| self.structure(offset, m))?;
        Ok(TypeRef {
            name: self.intern(type_name),
            collection,
        })
    }

    /// One shared copy of a name that documents repeat (type names, terms).
    fn intern(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.interned.get(text) {
            return shared.clone();
        }
        let shared: Arc<str> = text.into();
        self.interned.insert(text.into(), shared.clone());
        shared
    }

    fn flag(
        &mut self,
        offset: u64,
        value: &Option<Cow<'_, str>>,
        name: &str,
        default: bool,
    ) -> bool {
        match value.as_deref() {
            None => default,
            Some("true" | "1") => true,
            Some("false" | "0") => false,
            Some(other) => {
                self.warn(
                    offset,
                    format!("attribute {name}: `{other}` is not a boolean, taken as {default}"),
                );
                default
            }
        }
    }

    fn facets(
        &mut self,
        offset: u64,
        max_length: &Option<Cow<'_, str>>,
        precision: &Option<Cow<'_, str>>,
        scale: &Option<Cow<'_, str>>,
        srid: &Option<Cow<'_, str>>,
        unicode: &Option<Cow<'_, str>>,
    ) -> Facets {
        let mut facets = Facets::default();
        if let Some(text) = max_length.as_deref() {
            facets.max_length = match text {
                "max" | "Max" | "MAX" => Some(MaxLength::Max),
                "variable" => Some(MaxLength::Variable),
                number => match number.parse() {
                    Ok(n) => Some(MaxLength::Length(n)),
                    Err(_) => {
                        self.warn(offset, format!("attribute MaxLength: `{number}` ignored"));
                        None
                    }
                },
            };
        }
        if let Some(text) = precision.as_deref() {
            match text.parse() {
                Ok(n) => facets.precision = Some(n),
                Err(_) => self.warn(offset, format!("attribute Precision: `{text}` ignored")),
            }
        }
        if let Some(text) = scale.as_deref() {
            facets.scale = match text {
                "variable" | "Variable" => Some(Scale::Variable),
                "floating" => Some(Scale::Floating),
                number => match number.parse() {
                    Ok(n) => Some(Scale::Fixed(n)),
                    Err(_) => {
                        self.warn(offset, format!("attribute Scale: `{number}` ignored"));
                        None
                    }
                },
            };
        }
        facets.srid = srid.as_deref().map(Box::from);
        if unicode.is_some() {
            facets.unicode = Some(self.flag(offset, unicode, "Unicode", true));
        }
        facets
    }

    // ----- document structure -----

    fn document(&mut self) -> Result<(Metadata, Vec<PendingBlock>)> {
        let (root, empty) = loop {
            match self.next()? {
                Event::Start(e) => break (e, false),
                Event::Empty(e) => break (e, true),
                Event::Eof => {
                    return Err(self.structure(0, "empty document: no edmx:Edmx root element"));
                }
                _ => {}
            }
        };
        let offset = self.event_start;
        if root.local_name().into_inner() != "Edmx" {
            return Err(self.structure(
                offset,
                format!(
                    "expected root element edmx:Edmx, found {}",
                    root.name().into_inner()
                ),
            ));
        }
        let attrs = self.attrs(&root, ["Version"])?;
        let version = match self.required(offset, &attrs.values[0], "Version")? {
            "1.0" => ODataVersion::V2,
            "4.0" => ODataVersion::V4,
            "4.01" => ODataVersion::V401,
            other => {
                return Err(self.structure(
                    offset,
                    format!("unsupported edmx:Edmx Version `{other}` (expected 1.0, 4.0 or 4.01)"),
                ));
            }
        };
        let mut metadata = Metadata {
            version,
            data_service_version: None,
            references: Vec::new(),
            schemas: Vec::new(),
            index: Index::default(),
        };
        let mut pending = Vec::new();
        let mut data_services = false;
        if !empty {
            while let Some((child, child_empty)) = self.child()? {
                match child.local_name().into_inner() {
                    "Reference" => {
                        let reference = self.reference_element(&child, child_empty)?;
                        metadata.references.push(reference);
                    }
                    "DataServices" => {
                        data_services = true;
                        let attrs = self.attrs(&child, ["m:DataServiceVersion"])?;
                        metadata.data_service_version = attrs.boxed(0);
                        if !child_empty {
                            while let Some((schema, schema_empty)) = self.child()? {
                                if schema.local_name().into_inner() == "Schema" {
                                    let index = metadata.schemas.len() as u32;
                                    let parsed = self.schema_element(
                                        &schema,
                                        schema_empty,
                                        index,
                                        &mut pending,
                                    )?;
                                    metadata.schemas.push(parsed);
                                } else {
                                    self.skip(&schema, schema_empty)?;
                                }
                            }
                        }
                    }
                    _ => self.skip(&child, child_empty)?,
                }
            }
        }
        if !data_services {
            return Err(self.structure(offset, "edmx:Edmx has no edmx:DataServices element"));
        }
        // Anything after the root must be whitespace, comments or processing instructions.
        loop {
            match self.next()? {
                Event::Eof => break,
                Event::Start(e) | Event::Empty(e) => {
                    return Err(self.structure(
                        self.event_start,
                        format!("element {} after the root element", e.name().into_inner()),
                    ));
                }
                _ => {}
            }
        }
        Ok((metadata, pending))
    }

    fn reference_element(&mut self, element: &BytesStart<'a>, empty: bool) -> Result<Reference> {
        let offset = self.event_start;
        let attrs = self.attrs(element, ["Uri"])?;
        let uri: Box<str> = self.required(offset, &attrs.values[0], "Uri")?.into();
        let outer = self.enter_named("Reference", Some(&uri));
        let mut reference = Reference {
            uri,
            includes: Vec::new(),
        };
        if !empty {
            while let Some((child, child_empty)) = self.child()? {
                if child.local_name().into_inner() == "Include" {
                    let offset = self.event_start;
                    let attrs = self.attrs(&child, ["Namespace", "Alias"])?;
                    let namespace: Box<str> =
                        self.required(offset, &attrs.values[0], "Namespace")?.into();
                    let alias = attrs.boxed(1);
                    if let Some(alias) = &alias {
                        self.aliases.insert(alias.clone(), namespace.clone());
                    }
                    reference.includes.push(Include { namespace, alias });
                }
                self.skip(&child, child_empty)?;
            }
        }
        self.leave(outer);
        Ok(reference)
    }

    fn schema_element(
        &mut self,
        element: &BytesStart<'a>,
        empty: bool,
        schema_index: u32,
        pending: &mut Vec<PendingBlock>,
    ) -> Result<Schema> {
        let offset = self.event_start;
        let attrs = self.attrs(element, ["Namespace", "Alias"])?;
        let namespace: Box<str> = self.required(offset, &attrs.values[0], "Namespace")?.into();
        let alias = attrs.boxed(1);
        if let Some(alias) = &alias {
            self.aliases.insert(alias.clone(), namespace.clone());
        }
        let outer = self.enter_named("Schema", Some(&namespace));
        let mut schema = Schema {
            namespace,
            alias,
            own_annotations: Annotations {
                sap: attrs.sap,
                ..Annotations::default()
            },
            ..Schema::default()
        };
        if !empty {
            while let Some((child, child_empty)) = self.child()? {
                match child.local_name().into_inner() {
                    "EntityType" => {
                        let t = self.entity_type_element(&child, child_empty)?;
                        schema.entity_types.push(t);
                    }
                    "ComplexType" => {
                        let t = self.complex_type_element(&child, child_empty)?;
                        schema.complex_types.push(t);
                    }
                    "EnumType" => {
                        let t = self.enum_type_element(&child, child_empty)?;
                        schema.enum_types.push(t);
                    }
                    "TypeDefinition" => {
                        let t = self.type_definition_element(&child, child_empty)?;
                        schema.type_definitions.push(t);
                    }
                    "Association" => {
                        let a = self.association_element(&child, child_empty)?;
                        schema.associations.push(a);
                    }
                    kind @ ("Function" | "Action") => {
                        let kind = if kind == "Function" {
                            OperationKind::Function
                        } else {
                            OperationKind::Action
                        };
                        let o = self.operation_element(&child, child_empty, kind)?;
                        schema.operations.push(o);
                    }
                    "EntityContainer" => {
                        let c = self.container_element(&child, child_empty)?;
                        schema.entity_containers.push(c);
                    }
                    "Annotations" => {
                        let block = self.annotations_element(&child, child_empty, schema_index)?;
                        pending.push(block);
                    }
                    "Annotation" => {
                        let a = self.annotation_element(&child, child_empty)?;
                        schema.own_annotations.add(a);
                    }
                    "Term" => {
                        let attrs = self.attrs(&child, ["Name"])?;
                        if let Some(name) = attrs.boxed(0) {
                            schema.terms.push(name);
                        }
                        self.skip(&child, child_empty)?;
                    }
                    _ => self.skip(&child, child_empty)?,
                }
            }
        }
        self.leave(outer);
        Ok(schema)
    }

    fn entity_type_element(&mut self, element: &BytesStart<'a>, empty: bool) -> Result<EntityType> {
        let offset = self.event_start;
        let attrs = self.attrs(
            element,
            [
                "Name",
                "BaseType",
                "Abstract",
                "OpenType",
                "HasStream",
                "m:HasStream",
            ],
        )?;
        let outer = self.enter_named("EntityType", attrs.values[0].as_deref());
        let name: Box<str> = self.required(offset, &attrs.values[0], "Name")?.into();
        let has_stream = self.flag(offset, &attrs.values[4], "HasStream", false)
            || self.flag(offset, &attrs.values[5], "m:HasStream", false);
        let mut entity_type = EntityType {
            name,
            base_type: attrs.boxed(1),
            is_abstract: self.flag(offset, &attrs.values[2], "Abstract", false),
            open: self.flag(offset, &attrs.values[3], "OpenType", false),
            has_stream,
            annotations: Annotations {
                sap: attrs.sap,
                ..Annotations::default()
            },
            offset: offset32(offset),
            ..EntityType::default()
        };
        if !empty {
            while let Some((child, child_empty)) = self.child()? {
                match child.local_name().into_inner() {
                    "Key" => self.key_element(child_empty, &mut entity_type.key)?,
                    "Property" => {
                        let p = self.property_element(&child, child_empty)?;
                        entity_type.properties.push(p);
                    }
                    "NavigationProperty" => {
                        let n = self.navigation_property_element(&child, child_empty)?;
                        entity_type.navigation_properties.push(n);
                    }
                    "Annotation" => {
                        let a = self.annotation_element(&child, child_empty)?;
                        entity_type.annotations.add(a);
                    }
                    _ => self.skip(&child, child_empty)?,
                }
            }
        }
        self.leave(outer);
        // Vectors grow by doubling; the model lives long, so give back the spare capacity.
        entity_type.properties.shrink_to_fit();
        entity_type.navigation_properties.shrink_to_fit();
        Ok(entity_type)
    }

    fn key_element(&mut self, empty: bool, key: &mut Vec<PropertyRef>) -> Result<()> {
        let outer = self.enter("Key");
        if !empty {
            while let Some((child, child_empty)) = self.child()? {
                if child.local_name().into_inner() == "PropertyRef" {
                    let offset = self.event_start;
                    let attrs = self.attrs(&child, ["Name", "Alias"])?;
                    let name = self.required(offset, &attrs.values[0], "Name")?.into();
                    key.push(PropertyRef {
                        name,
                        alias: attrs.boxed(1),
                    });
                }
                self.skip(&child, child_empty)?;
            }
        }
        self.leave(outer);
        Ok(())
    }

    fn complex_type_element(
        &mut self,
        element: &BytesStart<'a>,
        empty: bool,
    ) -> Result<ComplexType> {
        let offset = self.event_start;
        let attrs = self.attrs(element, ["Name", "BaseType", "Abstract", "OpenType"])?;
        let outer = self.enter_named("ComplexType", attrs.values[0].as_deref());
        let name: Box<str> = self.required(offset, &attrs.values[0], "Name")?.into();
        let mut complex_type = ComplexType {
            name,
            base_type: attrs.boxed(1),
            is_abstract: self.flag(offset, &attrs.values[2], "Abstract", false),
            open: self.flag(offset, &attrs.values[3], "OpenType", false),
            annotations: Annotations {
                sap: attrs.sap,
                ..Annotations::default()
            },
            offset: offset32(offset),
            ..ComplexType::default()
        };
        if !empty {
            while let Some((child, child_empty)) = self.child()? {
                match child.local_name().into_inner() {
                    "Property" => {
                        let p = self.property_element(&child, child_empty)?;
                        complex_type.properties.push(p);
                    }
                    "NavigationProperty" => {
                        let n = self.navigation_property_element(&child, child_empty)?;
                        complex_type.navigation_properties.push(n);
                    }
                    "Annotation" => {
                        let a = self.annotation_element(&child, child_empty)?;
                        complex_type.annotations.add(a);
                    }
                    _ => self.skip(&child, child_empty)?,
                }
            }
        }
        self.leave(outer);
        complex_type.properties.shrink_to_fit();
        complex_type.navigation_properties.shrink_to_fit();
        Ok(complex_type)
    }

    fn property_element(&mut self, element: &BytesStart<'a>, empty: bool) -> Result<Property> {
        let offset = self.event_start;
        let attrs = self.attrs(
            element,
            [
                "Name",
                "Type",
                "Nullable",
                "MaxLength",
                "Precision",
                "Scale",
                "SRID",
                "Unicode",
                "DefaultValue",
                "ConcurrencyMode",
            ],
        )?;
        let [
            name,
            ty,
            nullable,
            max_length,
            precision,
            scale,
            srid,
            unicode,
            default,
            concurrency,
        ] = &attrs.values;
        let outer = self.enter_named("Property", name.as_deref());
        let name: Box<str> = self.required(offset, name, "Name")?.into();
        let type_ref = self.type_attr(offset, ty, "Type")?;
        let mut property = Property {
            name,
            type_ref,
            nullable: self.flag(offset, nullable, "Nullable", true),
            facets: self.facets(offset, max_length, precision, scale, srid, unicode),
            default_value: default.as_deref().map(Box::from),
            concurrency_token: concurrency.as_deref() == Some("Fixed"),
            annotations: Annotations {
                sap: attrs.sap,
                ..Annotations::default()
            },
            offset: offset32(offset),
        };
        self.inline_annotations(empty, &mut property.annotations)?;
        self.leave(outer);
        Ok(property)
    }

    /// Reads `Annotation` children into `annotations`, skipping everything else.
    fn inline_annotations(&mut self, empty: bool, annotations: &mut Annotations) -> Result<()> {
        if !empty {
            while let Some((child, child_empty)) = self.child()? {
                if child.local_name().into_inner() == "Annotation" {
                    let a = self.annotation_element(&child, child_empty)?;
                    annotations.add(a);
                } else {
                    self.skip(&child, child_empty)?;
                }
            }
        }
        Ok(())
    }

    fn navigation_property_element(
        &mut self,
        element: &BytesStart<'a>,
        empty: bool,
    ) -> Result<NavigationProperty> {
        let offset = self.event_start;
        let attrs = self.attrs(
            element,
            [
                "Name",
                "Type",
                "Nullable",
                "Partner",
                "ContainsTarget",
                "Relationship",
                "FromRole",
                "ToRole",
            ],
        )?;
        let [
            name,
            ty,
            nullable,
            partner,
            contains,
            relationship,
            from_role,
            to_role,
        ] = &attrs.values;
        let outer = self.enter_named("NavigationProperty", name.as_deref());
        let name: Box<str> = self.required(offset, name, "Name")?.into();
        let mut navigation = if relationship.is_some() {
            // v2: the target and multiplicity come from the association, filled in by the resolver.
            let association = AssociationLink {
                association: self.required(offset, relationship, "Relationship")?.into(),
                from_role: self.required(offset, from_role, "FromRole")?.into(),
                to_role: self.required(offset, to_role, "ToRole")?.into(),
            };
            NavigationProperty {
                name,
                target: TypeRef {
                    name: "".into(),
                    collection: false,
                },
                multiplicity: Multiplicity::ZeroOrOne,
                partner: None,
                contains_target: false,
                referential_constraints: Vec::new(),
                on_delete: None,
                association: Some(association),
                annotations: Annotations::default(),
                offset: offset32(offset),
            }
        } else {
            let target = self.type_attr(offset, ty, "Type")?;
            let nullable = self.flag(offset, nullable, "Nullable", true);
            // CSDL 4.0 section 7.1.3: Nullable applies to single-valued navigation only.
            let multiplicity = match (target.collection, nullable) {
                (true, _) => Multiplicity::Many,
                (false, true) => Multiplicity::ZeroOrOne,
                (false, false) => Multiplicity::One,
            };
            NavigationProperty {
                name,
                target,
                multiplicity,
                partner: partner.as_deref().map(Box::from),
                contains_target: self.flag(offset, contains, "ContainsTarget", false),
                referential_constraints: Vec::new(),
                on_delete: None,
                association: None,
                annotations: Annotations::default(),
                offset: offset32(offset),
            }
        };
        navigation.annotations.sap = attrs.sap;
        if !empty {
            while let Some((child, child_empty)) = self.child()? {
                let child_offset = self.event_start;
                match child.local_name().into_inner() {
                    "ReferentialConstraint" => {
                        let attrs = self.attrs(&child, ["Property", "ReferencedProperty"])?;
                        let inner = self.enter("ReferentialConstraint");
                        let property = self.required(child_offset, &attrs.values[0], "Property")?;
                        let referenced =
                            self.required(child_offset, &attrs.values[1], "ReferencedProperty")?;
                        navigation
                            .referential_constraints
                            .push(ReferentialConstraint {
                                property: property.into(),
                                referenced_property: referenced.into(),
                            });
                        self.leave(inner);
                        self.skip(&child, child_empty)?;
                    }
                    "OnDelete" => {
                        navigation.on_delete = self.on_delete(&child)?;
                        self.skip(&child, child_empty)?;
                    }
                    "Annotation" => {
                        let a = self.annotation_element(&child, child_empty)?;
                        navigation.annotations.add(a);
                    }
                    _ => self.skip(&child, child_empty)?,
                }
            }
        }
        self.leave(outer);
        Ok(navigation)
    }

    fn on_delete(&mut self, element: &BytesStart<'a>) -> Result<Option<OnDeleteAction>> {
        let offset = self.event_start;
        let attrs = self.attrs(element, ["Action"])?;
        let action = self.required(offset, &attrs.values[0], "Action")?;
        let parsed = OnDeleteAction::parse(action);
        if parsed.is_none() {
            self.warn(
                offset,
                format!("OnDelete: unknown action `{action}` ignored"),
            );
        }
        Ok(parsed)
    }

    fn enum_type_element(&mut self, element: &BytesStart<'a>, empty: bool) -> Result<EnumType> {
        let offset = self.event_start;
        let attrs = self.attrs(element, ["Name", "UnderlyingType", "IsFlags"])?;
        let outer = self.enter_named("EnumType", attrs.values[0].as_deref());
        let name: Box<str> = self.required(offset, &attrs.values[0], "Name")?.into();
        let mut enum_type = EnumType {
            name,
            underlying_type: attrs.boxed(1).unwrap_or_else(|| "Edm.Int32".into()),
            is_flags: self.flag(offset, &attrs.values[2], "IsFlags", false),
            members: Vec::new(),
            annotations: Annotations {
                sap: attrs.sap,
                ..Annotations::default()
            },
            offset: offset32(offset),
        };
        let mut next_value = 0i64;
        if !empty {
            while let Some((child, child_empty)) = self.child()? {
                match child.local_name().into_inner() {
                    "Member" => {
                        let member_offset = self.event_start;
                        let attrs = self.attrs(&child, ["Name", "Value"])?;
                        let inner = self.enter_named("Member", attrs.values[0].as_deref());
                        let name: Box<str> = self
                            .required(member_offset, &attrs.values[0], "Name")?
                            .into();
                        let mut value_text = None;
                        let value = match attrs.values[1].as_deref() {
                            None => next_value,
                            Some(text) => match text.trim().parse() {
                                Ok(value) => value,
                                Err(_) => {
                                    self.warn(
                                        member_offset,
                                        format!(
                                            "member Value `{text}` is not a 64-bit integer; kept as \
                                             written, numbered {next_value}"
                                        ),
                                    );
                                    value_text = Some(Box::from(text));
                                    next_value
                                }
                            },
                        };
                        next_value = value.saturating_add(1);
                        let mut member = EnumMember {
                            name,
                            value,
                            value_text,
                            annotations: Annotations::default(),
                        };
                        self.inline_annotations(child_empty, &mut member.annotations)?;
                        self.leave(inner);
                        enum_type.members.push(member);
                    }
                    "Annotation" => {
                        let a = self.annotation_element(&child, child_empty)?;
                        enum_type.annotations.add(a);
                    }
                    _ => self.skip(&child, child_empty)?,
                }
            }
        }
        self.leave(outer);
        enum_type.members.shrink_to_fit();
        Ok(enum_type)
    }

    fn type_definition_element(
        &mut self,
        element: &BytesStart<'a>,
        empty: bool,
    ) -> Result<TypeDefinition> {
        let offset = self.event_start;
        let attrs = self.attrs(
            element,
            [
                "Name",
                "UnderlyingType",
                "MaxLength",
                "Precision",
                "Scale",
                "SRID",
                "Unicode",
            ],
        )?;
        let [
            name,
            underlying,
            max_length,
            precision,
            scale,
            srid,
            unicode,
        ] = &attrs.values;
        let outer = self.enter_named("TypeDefinition", name.as_deref());
        let name: Box<str> = self.required(offset, name, "Name")?.into();
        let underlying_type = self.required(offset, underlying, "UnderlyingType")?.into();
        let mut definition = TypeDefinition {
            name,
            underlying_type,
            facets: self.facets(offset, max_length, precision, scale, srid, unicode),
            annotations: Annotations::default(),
            offset: offset32(offset),
        };
        self.inline_annotations(empty, &mut definition.annotations)?;
        self.leave(outer);
        Ok(definition)
    }

    fn association_element(
        &mut self,
        element: &BytesStart<'a>,
        empty: bool,
    ) -> Result<Association> {
        let offset = self.event_start;
        let attrs = self.attrs(element, ["Name"])?;
        let outer = self.enter_named("Association", attrs.values[0].as_deref());
        let name: Box<str> = self.required(offset, &attrs.values[0], "Name")?.into();
        let mut association = Association {
            name,
            ends: Vec::new(),
            constraint: None,
            annotations: Annotations {
                sap: attrs.sap,
                ..Annotations::default()
            },
            offset: offset32(offset),
        };
        if !empty {
            while let Some((child, child_empty)) = self.child()? {
                let child_offset = self.event_start;
                match child.local_name().into_inner() {
                    "End" => {
                        let attrs = self.attrs(&child, ["Role", "Type", "Multiplicity"])?;
                        let inner = self.enter_named("End", attrs.values[0].as_deref());
                        let role = self.required(child_offset, &attrs.values[0], "Role")?;
                        let ty = self.type_attr(child_offset, &attrs.values[1], "Type")?;
                        let text = self.required(child_offset, &attrs.values[2], "Multiplicity")?;
                        let multiplicity = Multiplicity::from_v2(text).ok_or_else(|| {
                            self.structure(child_offset, format!("bad Multiplicity `{text}`"))
                        })?;
                        let mut end = AssociationEnd {
                            role: role.into(),
                            entity_type: Box::from(&*ty.name),
                            multiplicity,
                            on_delete: None,
                        };
                        if !child_empty {
                            while let Some((grandchild, grandchild_empty)) = self.child()? {
                                if grandchild.local_name().into_inner() == "OnDelete" {
                                    end.on_delete = self.on_delete(&grandchild)?;
                                }
                                self.skip(&grandchild, grandchild_empty)?;
                            }
                        }
                        self.leave(inner);
                        association.ends.push(end);
                    }
                    "ReferentialConstraint" => {
                        let inner = self.enter("ReferentialConstraint");
                        association.constraint = Some(self.association_constraint(child_empty)?);
                        self.leave(inner);
                    }
                    _ => self.skip(&child, child_empty)?,
                }
            }
        }
        if association.ends.len() != 2 {
            return Err(self.structure(
                offset,
                format!(
                    "association has {} ends, expected 2",
                    association.ends.len()
                ),
            ));
        }
        self.leave(outer);
        Ok(association)
    }

    fn association_constraint(&mut self, empty: bool) -> Result<AssociationConstraint> {
        let offset = self.event_start;
        let mut principal = None;
        let mut dependent = None;
        if !empty {
            while let Some((child, child_empty)) = self.child()? {
                let child_offset = self.event_start;
                let local = child.local_name().into_inner();
                if local != "Principal" && local != "Dependent" {
                    self.skip(&child, child_empty)?;
                    continue;
                }
                let attrs = self.attrs(&child, ["Role"])?;
                let inner = self.enter(local);
                let role: Box<str> = self
                    .required(child_offset, &attrs.values[0], "Role")?
                    .into();
                let mut properties = Vec::new();
                self.key_element(child_empty, &mut properties)?;
                self.leave(inner);
                let properties: Vec<Box<str>> = properties.into_iter().map(|p| p.name).collect();
                if local == "Principal" {
                    principal = Some((role, properties));
                } else {
                    dependent = Some((role, properties));
                }
            }
        }
        let (
            Some((principal_role, principal_properties)),
            Some((dependent_role, dependent_properties)),
        ) = (principal, dependent)
        else {
            return Err(self.structure(
                offset,
                "ReferentialConstraint needs Principal and Dependent",
            ));
        };
        if principal_properties.len() != dependent_properties.len() {
            return Err(self.structure(
                offset,
                format!(
                    "ReferentialConstraint: {} principal properties but {} dependent properties",
                    principal_properties.len(),
                    dependent_properties.len()
                ),
            ));
        }
        Ok(AssociationConstraint {
            principal_role,
            principal_properties,
            dependent_role,
            dependent_properties,
        })
    }

    fn parameter_element(&mut self, element: &BytesStart<'a>, empty: bool) -> Result<Parameter> {
        let offset = self.event_start;
        let attrs = self.attrs(
            element,
            [
                "Name",
                "Type",
                "Nullable",
                "MaxLength",
                "Precision",
                "Scale",
                "SRID",
                "Unicode",
                "Mode",
            ],
        )?;
        let [
            name,
            ty,
            nullable,
            max_length,
            precision,
            scale,
            srid,
            unicode,
            mode,
        ] = &attrs.values;
        let outer = self.enter_named("Parameter", name.as_deref());
        let name: Box<str> = self.required(offset, name, "Name")?.into();
        let type_ref = self.type_attr(offset, ty, "Type")?;
        let mode = match mode.as_deref() {
            None => None,
            Some("In") => Some(ParameterMode::In),
            Some("Out") => Some(ParameterMode::Out),
            Some("InOut") => Some(ParameterMode::InOut),
            Some(other) => {
                self.warn(offset, format!("attribute Mode: `{other}` ignored"));
                None
            }
        };
        let mut parameter = Parameter {
            name,
            type_ref,
            nullable: self.flag(offset, nullable, "Nullable", true),
            facets: self.facets(offset, max_length, precision, scale, srid, unicode),
            mode,
            annotations: Annotations {
                sap: attrs.sap,
                ..Annotations::default()
            },
            offset: offset32(offset),
        };
        self.inline_annotations(empty, &mut parameter.annotations)?;
        self.leave(outer);
        Ok(parameter)
    }

    fn operation_element(
        &mut self,
        element: &BytesStart<'a>,
        empty: bool,
        kind: OperationKind,
    ) -> Result<Operation> {
        let offset = self.event_start;
        let attrs = self.attrs(
            element,
            ["Name", "IsBound", "IsComposable", "EntitySetPath"],
        )?;
        let element_name = match kind {
            OperationKind::Function => "Function",
            OperationKind::Action => "Action",
        };
        let outer = self.enter_named(element_name, attrs.values[0].as_deref());
        let name: Box<str> = self.required(offset, &attrs.values[0], "Name")?.into();
        let mut operation = Operation {
            kind,
            name,
            is_bound: self.flag(offset, &attrs.values[1], "IsBound", false),
            is_composable: self.flag(offset, &attrs.values[2], "IsComposable", false),
            entity_set_path: attrs.boxed(3),
            parameters: Vec::new(),
            return_type: None,
            annotations: Annotations::default(),
            offset: offset32(offset),
        };
        if !empty {
            while let Some((child, child_empty)) = self.child()? {
                match child.local_name().into_inner() {
                    "Parameter" => {
                        let p = self.parameter_element(&child, child_empty)?;
                        operation.parameters.push(p);
                    }
                    "ReturnType" => {
                        let child_offset = self.event_start;
                        let attrs = self.attrs(
                            &child,
                            [
                                "Type",
                                "Nullable",
                                "MaxLength",
                                "Precision",
                                "Scale",
                                "SRID",
                                "Unicode",
                            ],
                        )?;
                        let [ty, nullable, max_length, precision, scale, srid, unicode] =
                            &attrs.values;
                        let inner = self.enter("ReturnType");
                        let mut return_type = ReturnType {
                            type_ref: self.type_attr(child_offset, ty, "Type")?,
                            nullable: self.flag(child_offset, nullable, "Nullable", true),
                            facets: self.facets(
                                child_offset,
                                max_length,
                                precision,
                                scale,
                                srid,
                                unicode,
                            ),
                            annotations: Annotations::default(),
                        };
                        self.inline_annotations(child_empty, &mut return_type.annotations)?;
                        self.leave(inner);
                        operation.return_type = Some(return_type);
                    }
                    "Annotation" => {
                        let a = self.annotation_element(&child, child_empty)?;
                        operation.annotations.add(a);
                    }
                    _ => self.skip(&child, child_empty)?,
                }
            }
        }
        if operation.is_bound && operation.parameters.is_empty() {
            return Err(self.structure(offset, "bound operation without a binding parameter"));
        }
        self.leave(outer);
        operation.parameters.shrink_to_fit();
        Ok(operation)
    }

    fn container_element(
        &mut self,
        element: &BytesStart<'a>,
        empty: bool,
    ) -> Result<EntityContainer> {
        let offset = self.event_start;
        let attrs = self.attrs(element, ["Name", "m:IsDefaultEntityContainer"])?;
        let outer = self.enter_named("EntityContainer", attrs.values[0].as_deref());
        let name: Box<str> = self.required(offset, &attrs.values[0], "Name")?.into();
        let mut container = EntityContainer {
            name,
            is_default: self.flag(
                offset,
                &attrs.values[1],
                "m:IsDefaultEntityContainer",
                false,
            ),
            annotations: Annotations {
                sap: attrs.sap,
                ..Annotations::default()
            },
            offset: offset32(offset),
            ..EntityContainer::default()
        };
        if !empty {
            while let Some((child, child_empty)) = self.child()? {
                let child_offset = self.event_start;
                match child.local_name().into_inner() {
                    "EntitySet" => {
                        let attrs =
                            self.attrs(&child, ["Name", "EntityType", "IncludeInServiceDocument"])?;
                        let inner = self.enter_named("EntitySet", attrs.values[0].as_deref());
                        let name = self
                            .required(child_offset, &attrs.values[0], "Name")?
                            .into();
                        let entity_type =
                            self.type_attr(child_offset, &attrs.values[1], "EntityType")?;
                        let mut set = EntitySet {
                            name,
                            entity_type: Box::from(&*entity_type.name),
                            navigation_property_bindings: Vec::new(),
                            include_in_service_document: self.flag(
                                child_offset,
                                &attrs.values[2],
                                "IncludeInServiceDocument",
                                true,
                            ),
                            annotations: Annotations {
                                sap: attrs.sap,
                                ..Annotations::default()
                            },
                            offset: offset32(child_offset),
                        };
                        self.bindings(
                            child_empty,
                            &mut set.navigation_property_bindings,
                            &mut set.annotations,
                        )?;
                        self.leave(inner);
                        container.entity_sets.push(set);
                    }
                    "Singleton" => {
                        let attrs = self.attrs(&child, ["Name", "Type"])?;
                        let inner = self.enter_named("Singleton", attrs.values[0].as_deref());
                        let name = self
                            .required(child_offset, &attrs.values[0], "Name")?
                            .into();
                        let ty = self.type_attr(child_offset, &attrs.values[1], "Type")?;
                        let mut singleton = Singleton {
                            name,
                            entity_type: Box::from(&*ty.name),
                            navigation_property_bindings: Vec::new(),
                            annotations: Annotations::default(),
                            offset: offset32(child_offset),
                        };
                        self.bindings(
                            child_empty,
                            &mut singleton.navigation_property_bindings,
                            &mut singleton.annotations,
                        )?;
                        self.leave(inner);
                        container.singletons.push(singleton);
                    }
                    "AssociationSet" => {
                        let set = self.association_set_element(&child, child_empty)?;
                        container.association_sets.push(set);
                    }
                    kind @ ("FunctionImport" | "ActionImport") => {
                        let kind = if kind == "FunctionImport" {
                            OperationImportKind::FunctionImport
                        } else {
                            OperationImportKind::ActionImport
                        };
                        let import = self.operation_import_element(&child, child_empty, kind)?;
                        container.operation_imports.push(import);
                    }
                    "Annotation" => {
                        let a = self.annotation_element(&child, child_empty)?;
                        container.annotations.add(a);
                    }
                    _ => self.skip(&child, child_empty)?,
                }
            }
        }
        self.leave(outer);
        container.entity_sets.shrink_to_fit();
        Ok(container)
    }

    fn bindings(
        &mut self,
        empty: bool,
        bindings: &mut Vec<NavigationPropertyBinding>,
        annotations: &mut Annotations,
    ) -> Result<()> {
        if empty {
            return Ok(());
        }
        while let Some((child, child_empty)) = self.child()? {
            let offset = self.event_start;
            match child.local_name().into_inner() {
                "NavigationPropertyBinding" => {
                    let attrs = self.attrs(&child, ["Path", "Target"])?;
                    let inner =
                        self.enter_named("NavigationPropertyBinding", attrs.values[0].as_deref());
                    let path = self.required(offset, &attrs.values[0], "Path")?.into();
                    let target = self.required(offset, &attrs.values[1], "Target")?.into();
                    bindings.push(NavigationPropertyBinding { path, target });
                    self.leave(inner);
                    self.skip(&child, child_empty)?;
                }
                "Annotation" => {
                    let a = self.annotation_element(&child, child_empty)?;
                    annotations.add(a);
                }
                _ => self.skip(&child, child_empty)?,
            }
        }
        Ok(())
    }

    fn association_set_element(
        &mut self,
        element: &BytesStart<'a>,
        empty: bool,
    ) -> Result<AssociationSet> {
        let offset = self.event_start;
        let attrs = self.attrs(element, ["Name", "Association"])?;
        let outer = self.enter_named("AssociationSet", attrs.values[0].as_deref());
        let name = self.required(offset, &attrs.values[0], "Name")?.into();
        let association = self
            .type_attr(offset, &attrs.values[1], "Association")?
            .name;
        let mut set = AssociationSet {
            name,
            association: Box::from(&*association),
            ends: Vec::new(),
            annotations: Annotations {
                sap: attrs.sap,
                ..Annotations::default()
            },
            offset: offset32(offset),
        };
        if !empty {
            while let Some((child, child_empty)) = self.child()? {
                let child_offset = self.event_start;
                if child.local_name().into_inner() == "End" {
                    let attrs = self.attrs(&child, ["Role", "EntitySet"])?;
                    let inner = self.enter_named("End", attrs.values[0].as_deref());
                    let role = self
                        .required(child_offset, &attrs.values[0], "Role")?
                        .into();
                    let entity_set = self
                        .required(child_offset, &attrs.values[1], "EntitySet")?
                        .into();
                    set.ends.push(AssociationSetEnd { role, entity_set });
                    self.leave(inner);
                }
                self.skip(&child, child_empty)?;
            }
        }
        if set.ends.len() != 2 {
            return Err(self.structure(
                offset,
                format!("association set has {} ends, expected 2", set.ends.len()),
            ));
        }
        self.leave(outer);
        Ok(set)
    }

    fn operation_import_element(
        &mut self,
        element: &BytesStart<'a>,
        empty: bool,
        kind: OperationImportKind,
    ) -> Result<OperationImport> {
        let offset = self.event_start;
        let attrs = self.attrs(
            element,
            [
                "Name",
                "Function",
                "Action",
                "EntitySet",
                "IncludeInServiceDocument",
                "ReturnType",
                "m:HttpMethod",
            ],
        )?;
        let [
            name,
            function,
            action,
            entity_set,
            include,
            return_type,
            http_method,
        ] = &attrs.values;
        let element_name = match kind {
            OperationImportKind::FunctionImport => "FunctionImport",
            OperationImportKind::ActionImport => "ActionImport",
        };
        let outer = self.enter_named(element_name, name.as_deref());
        let name: Box<str> = self.required(offset, name, "Name")?.into();
        let operation = match kind {
            OperationImportKind::ActionImport => Some(self.required(offset, action, "Action")?),
            OperationImportKind::FunctionImport => function.as_deref(),
        };
        let return_type = match return_type.as_deref() {
            Some(text) => {
                let (type_name, collection) =
                    type_ref(text).map_err(|m| self.structure(offset, m))?;
                Some(TypeRef {
                    name: self.intern(type_name),
                    collection,
                })
            }
            None => None,
        };
        let mut import = OperationImport {
            kind,
            name,
            operation: operation.map(Box::from),
            entity_set: entity_set.as_deref().map(Box::from),
            include_in_service_document: self.flag(
                offset,
                include,
                "IncludeInServiceDocument",
                false,
            ),
            http_method: http_method.as_deref().map(Box::from),
            return_type,
            parameters: Vec::new(),
            annotations: Annotations {
                sap: attrs.sap,
                ..Annotations::default()
            },
            offset: offset32(offset),
        };
        if !empty {
            while let Some((child, child_empty)) = self.child()? {
                match child.local_name().into_inner() {
                    "Parameter" => {
                        let p = self.parameter_element(&child, child_empty)?;
                        import.parameters.push(p);
                    }
                    "Annotation" => {
                        let a = self.annotation_element(&child, child_empty)?;
                        import.annotations.add(a);
                    }
                    _ => self.skip(&child, child_empty)?,
                }
            }
        }
        self.leave(outer);
        Ok(import)
    }

    // ----- annotations -----

    fn annotations_element(
        &mut self,
        element: &BytesStart<'a>,
        empty: bool,
        schema: u32,
    ) -> Result<PendingBlock> {
        let offset = self.event_start;
        let attrs = self.attrs(element, ["Target", "Qualifier"])?;
        let outer = self.enter_named("Annotations", attrs.values[0].as_deref());
        let target: Box<str> = self.required(offset, &attrs.values[0], "Target")?.into();
        let qualifier = attrs.boxed(1);
        let mut annotations = Vec::new();
        if !empty {
            while let Some((child, child_empty)) = self.child()? {
                if child.local_name().into_inner() == "Annotation" {
                    let mut annotation = self.annotation_element(&child, child_empty)?;
                    if annotation.qualifier.is_none() {
                        annotation.qualifier = qualifier.clone();
                    }
                    annotations.push(annotation);
                } else {
                    self.skip(&child, child_empty)?;
                }
            }
        }
        let path = self.path.clone();
        self.leave(outer);
        Ok(PendingBlock {
            schema,
            target,
            annotations,
            offset: offset32(offset),
            path,
        })
    }

    fn term_name(&mut self, written: &str) -> Arc<str> {
        if let Some(shared) = self.terms.get(written) {
            return shared.clone();
        }
        let resolved: Arc<str> = match written.rsplit_once('.') {
            Some((prefix, name)) => match self.aliases.get(prefix) {
                Some(namespace) => format!("{namespace}.{name}").into(),
                None => written.into(),
            },
            None => written.into(),
        };
        self.terms.insert(written.into(), resolved.clone());
        resolved
    }

    fn annotation_element(&mut self, element: &BytesStart<'a>, empty: bool) -> Result<Annotation> {
        let offset = self.event_start;
        let mut term = None;
        let mut qualifier = None;
        let mut value = None;
        for attribute in element.attributes().with_checks(false) {
            let attribute = attribute.map_err(|e| self.element_error(e.into()))?;
            let key = attribute.key.into_inner();
            let text = || {
                attribute
                    .normalized_value(XmlVersion::Implicit1_0)
                    .map_err(|e| self.element_error(e))
            };
            match key {
                "Term" => term = Some(text()?),
                "Qualifier" => qualifier = Some(Box::<str>::from(text()?)),
                _ => {
                    if let Some(expr) = attribute_expr(key, text)? {
                        value = Some(expr);
                    }
                }
            }
        }
        let outer = self.enter_named("Annotation", term.as_deref());
        let Some(term) = term else {
            return Err(self.structure(offset, "missing attribute Term"));
        };
        let term = self.term_name(&term);
        let mut annotation = Annotation {
            term,
            qualifier,
            value,
            annotations: Vec::new(),
        };
        if !empty {
            while let Some((child, child_empty)) = self.child()? {
                if child.local_name().into_inner() == "Annotation" {
                    let nested = self.annotation_element(&child, child_empty)?;
                    annotation.annotations.push(nested);
                } else {
                    let expr = self.expr_element(&child, child_empty)?;
                    annotation.value = Some(expr);
                }
            }
        }
        self.leave(outer);
        Ok(annotation)
    }

    /// An expression in element notation (CSDL 4.0 section 14.4 and 14.5).
    fn expr_element(&mut self, element: &BytesStart<'a>, empty: bool) -> Result<Expr> {
        let name = element.local_name().into_inner();
        if let Some(kind) = ConstantKind::from_name(name) {
            return Ok(Expr::Constant(kind, self.text(empty)?.into()));
        }
        if let Some(kind) = PathKind::from_name(name) {
            return Ok(Expr::Path(kind, self.text(empty)?.trim().into()));
        }
        match name {
            "Null" => {
                self.skip_children(empty)?;
                Ok(Expr::Null)
            }
            "Collection" => {
                let mut items = Vec::new();
                if !empty {
                    while let Some((child, child_empty)) = self.child()? {
                        items.push(self.expr_element(&child, child_empty)?);
                    }
                }
                Ok(Expr::Collection(items))
            }
            "Record" => {
                let attrs = self.attrs(element, ["Type"])?;
                let mut record = Record {
                    type_name: attrs.boxed(0),
                    properties: Vec::new(),
                    annotations: Vec::new(),
                };
                if !empty {
                    while let Some((child, child_empty)) = self.child()? {
                        match child.local_name().into_inner() {
                            "PropertyValue" => {
                                let member = self.property_value_element(&child, child_empty)?;
                                record.properties.push(member);
                            }
                            "Annotation" => {
                                let a = self.annotation_element(&child, child_empty)?;
                                record.annotations.push(a);
                            }
                            _ => self.skip(&child, child_empty)?,
                        }
                    }
                }
                Ok(Expr::Record(Box::new(record)))
            }
            _ => {
                let mut attributes = Vec::new();
                for attribute in element.attributes().with_checks(false) {
                    let attribute = attribute.map_err(|e| self.element_error(e.into()))?;
                    let value = attribute
                        .normalized_value(XmlVersion::Implicit1_0)
                        .map_err(|e| self.element_error(e))?;
                    attributes.push((Box::from(attribute.key.into_inner()), Box::from(value)));
                }
                let mut children = Vec::new();
                if name == "LabeledElementReference" {
                    children.push(Expr::Constant(
                        ConstantKind::String,
                        self.text(empty)?.into(),
                    ));
                } else if !empty {
                    while let Some((child, child_empty)) = self.child()? {
                        if child.local_name().into_inner() == "Annotation" {
                            self.skip(&child, child_empty)?;
                        } else {
                            children.push(self.expr_element(&child, child_empty)?);
                        }
                    }
                }
                // Attribute notation inside dynamic expressions (`LabeledElement Path="..."`).
                for (key, value) in &attributes {
                    if let Some(expr) = attribute_expr(key, || Ok(Cow::Borrowed(&**value)))? {
                        children.push(expr);
                    }
                }
                if name == "Apply" {
                    let function = attributes
                        .iter()
                        .find(|(k, _)| &**k == "Function")
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default();
                    return Ok(Expr::Apply {
                        function,
                        arguments: children,
                    });
                }
                Ok(Expr::Element {
                    name: name.into(),
                    attributes,
                    children,
                })
            }
        }
    }

    fn property_value_element(
        &mut self,
        element: &BytesStart<'a>,
        empty: bool,
    ) -> Result<PropertyValue> {
        let offset = self.event_start;
        let mut property = None;
        let mut value = None;
        for attribute in element.attributes().with_checks(false) {
            let attribute = attribute.map_err(|e| self.element_error(e.into()))?;
            let key = attribute.key.into_inner();
            let text = || {
                attribute
                    .normalized_value(XmlVersion::Implicit1_0)
                    .map_err(|e| self.element_error(e))
            };
            if key == "Property" {
                property = Some(Box::<str>::from(text()?));
            } else if let Some(expr) = attribute_expr(key, text)? {
                value = Some(expr);
            }
        }
        let outer = self.enter_named("PropertyValue", property.as_deref());
        let Some(property) = property else {
            return Err(self.structure(offset, "missing attribute Property"));
        };
        if !empty {
            while let Some((child, child_empty)) = self.child()? {
                if child.local_name().into_inner() == "Annotation" {
                    self.skip(&child, child_empty)?;
                } else {
                    value = Some(self.expr_element(&child, child_empty)?);
                }
            }
        }
        self.leave(outer);
        Ok(PropertyValue {
            property,
            // A property value without any expression is the term's default; CSDL spells the
            // empty case as an absent value, which a Null keeps visible.
            value: value.unwrap_or(Expr::Null),
        })
    }
}

/// An expression in attribute notation (`Bool="true"`, `Path="To_X"`), if `key` names one.
fn attribute_expr<'v>(
    key: &str,
    text: impl FnOnce() -> Result<Cow<'v, str>>,
) -> Result<Option<Expr>> {
    if let Some(kind) = ConstantKind::from_name(key) {
        return Ok(Some(Expr::Constant(kind, Box::from(text()?))));
    }
    if let Some(kind) = PathKind::from_name(key) {
        return Ok(Some(Expr::Path(kind, Box::from(text()?.trim()))));
    }
    Ok(None)
}
