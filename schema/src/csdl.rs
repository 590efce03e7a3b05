//! The composed model of one namespace as an OData v4 service: its CSDL XML `$metadata` document
//! and its JSON service document.
//!
//! Everything is rendered from the [`Graph`], never copied from a backend's document, so v2
//! backends appear as v4: associations are navigation properties (with partners where the
//! constraints prove them), `Edm.DateTime` is `Edm.DateTimeOffset` (or `Edm.Date` where SAP marks
//! a date), `Edm.Time` is `Edm.TimeOfDay`, and `sap:` attributes are terms of the Core,
//! Capabilities, Measures and SAP Common vocabularies. Configured cross-source associations are
//! navigation properties too; a target in another namespace is taken from that namespace's own
//! document through an `edmx:Reference`.
//!
//! Names. The CSDL namespace is the configured name ([`namespace_schema_name`]); entity sets keep
//! their backend names; each graph entity gets its own entity type (sets that shared a backend type
//! may differ in capabilities and relations), named like the backend type when only that set used
//! it, else like the set. Every name is made a legal `SimpleIdentifier` and unique where CSDL
//! requires it, in a fixed order; [`names`] tells the OData endpoint what each item is called.
//!
//! The output is deterministic: the same graph gives a byte-identical document. Section numbers in
//! comments refer to OData CSDL XML Representation Version 4.01.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use crate::edm::{Dialect, EdmType};
use crate::literal::{encode_component, format_key};
use crate::model::{
    ComplexId, EntityId, EntityKind, EnumId, Field, FieldKind, Graph, NamespaceId, OperationKind,
    Relation, RelationKind, ReturnKind, Returns,
};
use crate::names::Scope;

/// The name of the one entity container of every namespace's schema.
pub const CONTAINER_NAME: &str = "EntityContainer";

/// Names CSDL reserves for namespaces and aliases (section 15.1), plus the aliases this renderer
/// gives the vocabularies, which must not collide with a schema namespace either (section 4.2).
const RESERVED_NAMESPACES: &[&str] = &[
    "Edm",
    "odata",
    "System",
    "Transient",
    "Core",
    "Capabilities",
    "Measures",
    "Common",
];

/// The vocabularies this renderer uses: alias, namespace, document URI.
const VOCABULARIES: [(&str, &str, &str); 4] = [
    (
        "Core",
        "Org.OData.Core.V1",
        "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Core.V1.xml",
    ),
    (
        "Capabilities",
        "Org.OData.Capabilities.V1",
        "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Capabilities.V1.xml",
    ),
    (
        "Measures",
        "Org.OData.Measures.V1",
        "https://oasis-tcs.github.io/odata-vocabularies/vocabularies/Org.OData.Measures.V1.xml",
    ),
    (
        "Common",
        "com.sap.vocabularies.Common.v1",
        "https://sap.github.io/odata-vocabularies/vocabularies/Common.xml",
    ),
];

// ----- names -----

/// The CSDL names of one namespace's items: what the `$metadata` document declares them as and
/// what OData URLs address them by.
///
/// Backend names are kept wherever they are legal and unique; the exceptions are entity sets of a
/// backend's secondary containers (`Container.Set` becomes `Container_Set`), sets of two services
/// with the same name (the second gets `_2`), and configured association names that are not
/// identifiers.
#[derive(Debug, Clone, Default)]
pub struct Names {
    namespace: String,
    entity_sets: BTreeMap<EntityId, String>,
    entity_types: BTreeMap<EntityId, String>,
    relations: BTreeMap<(EntityId, usize), String>,
    complex_types: BTreeMap<ComplexId, String>,
    enum_types: BTreeMap<EnumId, String>,
    operations: BTreeMap<usize, String>,
    imports: BTreeMap<usize, String>,
}

impl Names {
    /// The schema's namespace (see [`namespace_schema_name`]).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The entity set of a graph entity of this namespace.
    pub fn entity_set(&self, entity: EntityId) -> Option<&str> {
        self.entity_sets.get(&entity).map(String::as_str)
    }

    /// The (simple) name of the entity type of a graph entity of this namespace.
    pub fn entity_type(&self, entity: EntityId) -> Option<&str> {
        self.entity_types.get(&entity).map(String::as_str)
    }

    /// The qualified name of the entity type of a graph entity of this namespace.
    pub fn qualified_entity_type(&self, entity: EntityId) -> Option<String> {
        self.entity_type(entity).map(|name| self.qualified(name))
    }

    /// The navigation property of a relation (by its index in [`crate::model::Entity::relations`]).
    pub fn relation(&self, entity: EntityId, index: usize) -> Option<&str> {
        self.relations.get(&(entity, index)).map(String::as_str)
    }

    /// The (simple) name of a complex type of this namespace.
    pub fn complex_type(&self, id: ComplexId) -> Option<&str> {
        self.complex_types.get(&id).map(String::as_str)
    }

    /// The (simple) name of an enum type of this namespace.
    pub fn enum_type(&self, id: EnumId) -> Option<&str> {
        self.enum_types.get(&id).map(String::as_str)
    }

    /// The (simple) name of the `Function` or `Action` of an operation of this namespace.
    pub fn operation(&self, id: usize) -> Option<&str> {
        self.operations.get(&id).map(String::as_str)
    }

    /// The `FunctionImport` or `ActionImport` of an operation (the URL segment that calls it).
    pub fn operation_import(&self, id: usize) -> Option<&str> {
        self.imports.get(&id).map(String::as_str)
    }

    /// The graph entity whose entity set has this name.
    pub fn entity_by_set(&self, name: &str) -> Option<EntityId> {
        self.entity_sets
            .iter()
            .find(|(_, set)| *set == name)
            .map(|(&id, _)| id)
    }

    /// The operation whose import has this name.
    pub fn operation_by_import(&self, name: &str) -> Option<usize> {
        self.imports
            .iter()
            .find(|(_, import)| *import == name)
            .map(|(&id, _)| id)
    }

    /// An entity's URL relative to the service root, as this document addresses it: the
    /// advertised set name with the key in v4 literals of the advertised types (`Orders(5)`,
    /// `Items(Order='1',Item='10')`, whatever the backend's dialect; OData 4.01 part 2,
    /// section 4.3.1), or a singleton's name. `None` for an entity no set holds, an entity of
    /// another namespace, or a key value that is no literal of its type.
    pub fn entity_url(
        &self,
        graph: &Graph,
        entity: EntityId,
        key: &[(usize, Value)],
    ) -> Option<String> {
        let set = encode_component(self.entity_set(entity)?);
        let item = &graph.entities[entity];
        match item.kind {
            EntityKind::Singleton => return Some(set),
            EntityKind::Contained => return None,
            EntityKind::Set if key.is_empty() => return None,
            EntityKind::Set => {}
        }
        let properties: Vec<(&str, EdmType, &Value)> = key
            .iter()
            .map(|(index, value)| {
                let field = &item.fields[*index];
                let ty = field.edm_type().map_or(EdmType::String, advertised_type);
                (field.name.as_str(), ty, value)
            })
            .collect();
        let predicate = format_key(Dialect::V4, &properties).ok()?;
        Some(format!("{set}{}", encode_component(&predicate)))
    }

    fn qualified(&self, simple: &str) -> String {
        format!("{}.{simple}", self.namespace)
    }
}

/// The CSDL `Namespace` of a namespace's schema: its configured name (`sap.s4`), with every
/// dot-separated part made a `SimpleIdentifier` (`my-ns` becomes `my_ns`, section 15.1), a name CSDL
/// reserves (`Edm`, `odata`, `System`, `Transient`) or that is a vocabulary alias of the document
/// suffixed, and made unique among the graph's namespaces in configuration order (`_2`, ...).
pub fn namespace_schema_name(graph: &Graph, namespace: NamespaceId) -> String {
    let mut scope = Scope::default();
    let mut result = String::new();
    for (id, item) in graph.namespaces.iter().enumerate().take(namespace + 1) {
        let mut wanted = item
            .name
            .split('.')
            .map(simple_identifier)
            .collect::<Vec<_>>()
            .join(".");
        if RESERVED_NAMESPACES
            .iter()
            .any(|reserved| reserved.eq_ignore_ascii_case(&wanted))
        {
            wanted.push_str("_ns");
        }
        let (name, _) = scope.claim(&wanted);
        if id == namespace {
            result = name;
        }
    }
    result
}

/// The CSDL names of one namespace's items, assigned in a fixed order: entity sets, then (per
/// entity) relations, then entity types, complex types, enum types and operations in graph order.
pub fn names(graph: &Graph, namespace: NamespaceId) -> Names {
    let ns = &graph.namespaces[namespace];
    let mut names = Names {
        namespace: namespace_schema_name(graph, namespace),
        ..Names::default()
    };
    // Section 13: entity sets, singletons and operation imports share the container's names.
    let mut container = Scope::default();
    for &entity in &ns.entities {
        if graph.entities[entity].kind == EntityKind::Contained {
            continue;
        }
        let (name, _) = container.claim(&simple_identifier(&graph.entities[entity].set_name));
        names.entity_sets.insert(entity, name);
    }
    for &operation in &ns.operations {
        let (name, _) = container.claim(&simple_identifier(&graph.operations[operation].name));
        names.imports.insert(operation, name);
    }
    // Section 6: properties and navigation properties share the type's names. Structural
    // properties keep their backend names (requests address them); configured associations
    // yield to them.
    for &entity in &ns.entities {
        let item = &graph.entities[entity];
        let mut members = Scope::with_reserved(item.fields.iter().map(|f| f.name.as_str()));
        for (index, relation) in item.relations.iter().enumerate() {
            let (name, _) = members.claim(&simple_identifier(&relation.name));
            names.relations.insert((entity, index), name);
        }
    }
    // Section 5: types, operations and the container share the schema's names. A type must not
    // be named like one of its own properties (sections 6 and 9), so such a name gets `Type`.
    let mut schema = Scope::with_reserved([CONTAINER_NAME]);
    for &entity in &ns.entities {
        let item = &graph.entities[entity];
        let shared = ns
            .entities
            .iter()
            .filter(|&&other| graph.entities[other].type_name == item.type_name)
            .count()
            > 1;
        let backend = item.type_name.rsplit('.').next().unwrap_or(&item.type_name);
        let mut wanted = match names.entity_sets.get(&entity) {
            Some(set) if shared || schema.contains(&simple_identifier(backend)) => set.clone(),
            _ => simple_identifier(backend),
        };
        let mut members = item
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .chain((0..item.relations.len()).map(|i| names.relations[&(entity, i)].as_str()));
        if members.any(|m| m == wanted) {
            wanted.push_str("Type");
        }
        names.entity_types.insert(entity, schema.claim(&wanted).0);
    }
    for (id, complex) in graph.complex_types.iter().enumerate() {
        if complex.namespace != namespace {
            continue;
        }
        let backend = complex.name.rsplit('.').next().unwrap_or(&complex.name);
        let mut wanted = simple_identifier(backend);
        if complex.fields.iter().any(|f| f.name == wanted) {
            wanted.push_str("Type");
        }
        names.complex_types.insert(id, schema.claim(&wanted).0);
    }
    for (id, enum_type) in graph.enums.iter().enumerate() {
        if enum_type.namespace != namespace {
            continue;
        }
        let backend = enum_type.name.rsplit('.').next().unwrap_or(&enum_type.name);
        names
            .enum_types
            .insert(id, schema.claim(&simple_identifier(backend)).0);
    }
    for &operation in &ns.operations {
        let wanted = simple_identifier(&graph.operations[operation].name);
        names.operations.insert(operation, schema.claim(&wanted).0);
    }
    // Bound operations of the same name are overloads, told apart by their binding parameter's
    // type (section 12.2): one name for all of them.
    let mut bound: BTreeMap<String, String> = BTreeMap::new();
    for &entity in &ns.entities {
        for &operation in &graph.entities[entity].operations {
            let wanted = simple_identifier(&graph.operations[operation].name);
            let name = bound
                .entry(wanted.clone())
                .or_insert_with(|| schema.claim(&wanted).0)
                .clone();
            names.operations.insert(operation, name);
        }
    }
    names
}

/// A legal `SimpleIdentifier` (section 15.2): a letter or underscore, then at most 127 letters,
/// digits or underscores. A name that is one already is kept as it is (backend names usually are);
/// any other is rewritten to ASCII letters, digits and underscores, short enough to take a
/// numbered suffix.
fn simple_identifier(text: &str) -> String {
    let mut chars = text.chars();
    let legal = chars
        .next()
        .is_some_and(|first| first == '_' || first.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
        && text.chars().count() <= 128;
    if legal {
        return text.to_owned();
    }
    let mut name: String = text
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(120)
        .collect();
    if !name.starts_with(|c: char| c == '_' || c.is_ascii_alphabetic()) {
        name.insert(0, '_');
    }
    name
}

// ----- service document -----

/// The JSON service document of a namespace (OData JSON Format 4.01, section 5): every entity set
/// and every function import, each with its name, kind and URL relative to the service root, and
/// the set's label as `title` where the model has one. Action imports are not listed: they cannot
/// be addressed with `GET`.
pub fn service_document(graph: &Graph, namespace: NamespaceId) -> Value {
    let names = names(graph, namespace);
    let ns = &graph.namespaces[namespace];
    let mut value = Vec::new();
    for &entity in &ns.entities {
        let kind = match graph.entities[entity].kind {
            EntityKind::Set => "EntitySet",
            EntityKind::Singleton => "Singleton",
            EntityKind::Contained => continue,
        };
        let name = names.entity_set(entity).unwrap_or_default();
        let mut item = json!({"name": name, "kind": kind, "url": name});
        if let Some(label) = &graph.entities[entity].label {
            item["title"] = Value::from(label.as_str());
        }
        value.push(item);
    }
    for &operation in &ns.operations {
        if effective_kind(&graph.operations[operation]) == OperationKind::Function {
            let name = names.operation_import(operation).unwrap_or_default();
            value.push(json!({"name": name, "kind": "FunctionImport", "url": name}));
        }
    }
    json!({"@odata.context": "$metadata", "value": value})
}

/// A function must return something (section 12.3), but v2 lets a `GET` function import return
/// nothing; such an import is declared as an action.
fn effective_kind(operation: &crate::model::Operation) -> OperationKind {
    match (operation.kind, &operation.returns) {
        (OperationKind::Function, None) => OperationKind::Action,
        (kind, _) => kind,
    }
}

// ----- $metadata -----

/// The CSDL XML `$metadata` document of a namespace (OData version 4.0).
///
/// `service_root` is the path the namespace's service is served under, ending in `/`
/// (`/odata/v4/sap.s4/`), so that the document lives at `<service_root>$metadata`. The other
/// namespaces are served beside it (`/odata/v4/crm/`); a cross-source association into one of them
/// references its document relative to this one (`../crm/$metadata`), so the reference stays right
/// behind a proxy that adds a path prefix. A service root at the top of the server (`/`) has no
/// siblings to point up to; the other documents are then taken to be below it (`crm/$metadata`).
pub fn metadata_document(graph: &Graph, namespace: NamespaceId, service_root: &str) -> String {
    let mut renderer = Renderer {
        graph,
        namespace,
        names: names(graph, namespace),
        foreign: BTreeMap::new(),
        vocabularies: BTreeSet::new(),
        xml: Xml {
            out: String::new(),
            depth: 3,
        },
    };
    renderer.schema_body();
    let Renderer {
        names,
        foreign,
        vocabularies,
        xml: body,
        ..
    } = renderer;

    let mut xml = Xml {
        out: String::with_capacity(body.out.len() + 2048),
        depth: 0,
    };
    xml.out
        .push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    // Section 4: the root element with the version of the document.
    xml.open(
        "edmx:Edmx",
        &[
            ("Version", "4.0"),
            ("xmlns:edmx", "http://docs.oasis-open.org/odata/ns/edmx"),
        ],
    );
    // Sections 4.1 and 4.2: a reference per vocabulary used, with the alias the terms are written
    // with, and per other namespace a navigation property leads into.
    for (alias, vocabulary, uri) in VOCABULARIES {
        if vocabularies.contains(alias) {
            xml.open("edmx:Reference", &[("Uri", uri)]);
            xml.empty(
                "edmx:Include",
                &[("Namespace", vocabulary), ("Alias", alias)],
            );
            xml.close("edmx:Reference");
        }
    }
    let up = if service_root.trim_matches('/').is_empty() {
        ""
    } else {
        "../"
    };
    for (other, other_names) in &foreign {
        let uri = format!(
            "{up}{}/$metadata",
            encode_component(&graph.namespaces[*other].name)
        );
        xml.open("edmx:Reference", &[("Uri", &uri)]);
        xml.empty("edmx:Include", &[("Namespace", other_names.namespace())]);
        xml.close("edmx:Reference");
    }
    xml.open("edmx:DataServices", &[]);
    // Section 5: one schema.
    xml.open(
        "Schema",
        &[
            ("Namespace", names.namespace()),
            ("xmlns", "http://docs.oasis-open.org/odata/ns/edm"),
        ],
    );
    xml.out.push_str(&body.out);
    xml.close("Schema");
    xml.close("edmx:DataServices");
    xml.close("edmx:Edmx");
    xml.out
}

struct Renderer<'g> {
    graph: &'g Graph,
    namespace: NamespaceId,
    names: Names,
    /// Names of the other namespaces that relations or results lead into.
    foreign: BTreeMap<NamespaceId, Names>,
    /// Aliases of the vocabularies whose terms were written.
    vocabularies: BTreeSet<&'static str>,
    xml: Xml,
}

/// An annotation value (section 14.3 constants, 14.4 dynamic expressions).
enum Expr {
    Bool(bool),
    String(String),
    Path(String),
    /// A collection of property paths (section 14.4.1.6), possibly empty.
    PropertyPaths(Vec<String>),
    Record(Vec<(&'static str, Expr)>),
}

/// One annotation: an alias-qualified term and its value.
struct Annotation {
    term: &'static str,
    value: Expr,
}

impl Annotation {
    fn new(term: &'static str, value: Expr) -> Annotation {
        Annotation { term, value }
    }
}

impl Renderer<'_> {
    fn schema_body(&mut self) {
        let graph = self.graph;
        let ns = &graph.namespaces[self.namespace];
        for &entity in &ns.entities {
            self.entity_type(entity);
        }
        for (id, complex) in graph.complex_types.iter().enumerate() {
            if complex.namespace == self.namespace {
                self.complex_type(id);
            }
        }
        for (id, enum_type) in graph.enums.iter().enumerate() {
            if enum_type.namespace == self.namespace {
                self.enum_type(id);
            }
        }
        for &operation in &ns.operations {
            self.operation(operation);
        }
        for &entity in &ns.entities {
            for &operation in &graph.entities[entity].operations {
                self.operation(operation);
            }
        }
        self.container();
    }

    /// The names of the namespace an item lives in, this one or another.
    fn names_of(&mut self, namespace: NamespaceId) -> &Names {
        if namespace == self.namespace {
            return &self.names;
        }
        self.foreign
            .entry(namespace)
            .or_insert_with(|| names(self.graph, namespace))
    }

    /// The qualified name of an entity's type, wherever it lives.
    fn entity_type_ref(&mut self, entity: EntityId) -> String {
        let names = self.names_of(self.graph.entities[entity].namespace);
        names.qualified(names.entity_type(entity).unwrap_or_default())
    }

    /// An entity set as a binding target or import result (section 13.4.2): its simple name in
    /// this container, else the qualified container of its namespace and the set's name.
    fn entity_set_ref(&mut self, entity: EntityId) -> String {
        let namespace = self.graph.entities[entity].namespace;
        let own = namespace == self.namespace;
        let names = self.names_of(namespace);
        let set = names.entity_set(entity).unwrap_or_default();
        if own {
            set.to_owned()
        } else {
            format!("{}/{set}", names.qualified(CONTAINER_NAME))
        }
    }

    /// The type of a field, parameter or result (section 7.1): v4 primitive names, qualified
    /// enum and complex types, `Collection(...)` around collections.
    fn type_ref(&mut self, kind: FieldKind, collection: bool) -> String {
        let name = match kind {
            FieldKind::Scalar(ty) => v4_type(ty).to_owned(),
            FieldKind::Enum(id) => {
                let names = self.names_of(self.graph.enums[id].namespace);
                names.qualified(names.enum_type(id).unwrap_or_default())
            }
            FieldKind::Complex(id) => {
                let names = self.names_of(self.graph.complex_types[id].namespace);
                names.qualified(names.complex_type(id).unwrap_or_default())
            }
        };
        if collection {
            format!("Collection({name})")
        } else {
            name
        }
    }

    fn entity_type(&mut self, entity: EntityId) {
        let graph = self.graph;
        let item = &graph.entities[entity];
        let name = self
            .names
            .entity_type(entity)
            .unwrap_or_default()
            .to_owned();
        // Section 6: the entity type. A type without a key that no set holds can only be a base
        // of others (section 6.1.3 allows no key only for abstract or derived types).
        if item.key.is_empty() && item.kind == EntityKind::Contained {
            self.xml
                .open("EntityType", &[("Name", &name), ("Abstract", "true")]);
        } else {
            self.xml.open("EntityType", &[("Name", &name)]);
        }
        // Section 6.5: the key.
        if !item.key.is_empty() {
            self.xml.open("Key", &[]);
            for &index in &item.key {
                self.xml
                    .empty("PropertyRef", &[("Name", &item.fields[index].name)]);
            }
            self.xml.close("Key");
        }
        for (index, field) in item.fields.iter().enumerate() {
            self.property(field, item.key.contains(&index), &item.fields);
        }
        for (index, relation) in item.relations.iter().enumerate() {
            self.navigation_property(entity, index, relation);
        }
        let mut annotations = Vec::new();
        describe(
            &mut annotations,
            item.label.as_deref(),
            item.description.as_deref(),
        );
        self.annotations(&annotations);
        self.xml.close("EntityType");
    }

    fn complex_type(&mut self, id: ComplexId) {
        let complex = &self.graph.complex_types[id];
        let name = self.names.complex_type(id).unwrap_or_default().to_owned();
        // Section 9: the complex type.
        self.xml.open("ComplexType", &[("Name", &name)]);
        for field in &complex.fields {
            self.property(field, false, &complex.fields);
        }
        self.xml.close("ComplexType");
    }

    fn enum_type(&mut self, id: EnumId) {
        let enum_type = &self.graph.enums[id];
        let name = self.names.enum_type(id).unwrap_or_default().to_owned();
        // Section 10: the model keeps neither the underlying type nor the members' values; the
        // wire carries member names, so the defaults serve (Int32, values counted from 0). A flags
        // enumeration needs explicit values (section 10.2): powers of two, in member order.
        let mut attributes = vec![("Name", name)];
        if enum_type.flags {
            attributes.push(("IsFlags", "true".to_owned()));
        }
        self.xml.open("EnumType", &pairs_of(&attributes));
        for (index, member) in enum_type.members.iter().enumerate() {
            if enum_type.flags {
                let value = 1u64.checked_shl(index as u32).unwrap_or(0).to_string();
                self.xml
                    .empty("Member", &[("Name", &member.name), ("Value", &value)]);
            } else {
                self.xml.empty("Member", &[("Name", &member.name)]);
            }
        }
        self.xml.close("EnumType");
    }

    /// A structural property (section 7) with its facets (section 3.4) and annotations.
    fn property(&mut self, field: &Field, key: bool, siblings: &[Field]) {
        let mut attributes = vec![
            ("Name", field.name.clone()),
            ("Type", self.type_ref(field.kind, field.collection)),
        ];
        // Section 6.5: key properties are never null, whatever the backend declared.
        if !field.nullable || key {
            attributes.push(("Nullable", "false".to_owned()));
        }
        facets(&mut attributes, field);

        let mut annotations = Vec::new();
        describe(
            &mut annotations,
            field.label.as_deref(),
            field.description.as_deref(),
        );
        if let Some(unit) = unit_annotation(field, siblings) {
            annotations.push(unit);
        }
        // Core vocabulary: a value the client can never write is computed; one it can only give on
        // create is immutable (a term for non-key properties: keys never change anyway).
        if !field.insertable && !field.updatable {
            annotations.push(Annotation::new("Core.Computed", Expr::Bool(true)));
        } else if field.insertable && !field.updatable && !key {
            annotations.push(Annotation::new("Core.Immutable", Expr::Bool(true)));
        }
        self.element_with_annotations("Property", &attributes, &annotations);
    }

    /// A navigation property (section 8) for a same-service navigation or a configured join.
    fn navigation_property(&mut self, entity: EntityId, index: usize, relation: &Relation) {
        let graph = self.graph;
        let name = self
            .names
            .relation(entity, index)
            .unwrap_or_default()
            .to_owned();
        let target = self.entity_type_ref(relation.target);
        // Section 8.1: `Collection(...)` for to-many.
        let target = if relation.many {
            format!("Collection({target})")
        } else {
            target
        };
        let mut attributes = vec![("Name", name), ("Type", target)];
        // Section 8.2: `Nullable` only for single-valued navigation; absent means true.
        if !relation.many && !relation.nullable {
            attributes.push(("Nullable", "false".to_owned()));
        }
        // Section 8.3: the partner, where the constraints prove the inverse.
        if let Some(back) = partner(graph, entity, index) {
            let back = self
                .names
                .relation(relation.target, back)
                .unwrap_or_default()
                .to_owned();
            attributes.push(("Partner", back));
        }
        // Section 8.5: referential constraints belong to single-valued navigation properties;
        // a join's value pairs are constraints too.
        let pairs: &[(usize, usize)] = match (&relation.kind, relation.many) {
            (_, true) => &[],
            (RelationKind::Navigation, false) => &relation.constraints,
            (RelationKind::Join { pairs }, false) => pairs,
        };
        if pairs.is_empty() {
            self.xml.empty("NavigationProperty", &pairs_of(&attributes));
            return;
        }
        self.xml.open("NavigationProperty", &pairs_of(&attributes));
        let source = &graph.entities[entity];
        let target = &graph.entities[relation.target];
        for &(local, remote) in pairs {
            self.xml.empty(
                "ReferentialConstraint",
                &[
                    ("Property", &source.fields[local].name),
                    ("ReferencedProperty", &target.fields[remote].name),
                ],
            );
        }
        self.xml.close("NavigationProperty");
    }

    /// An unbound function or action (sections 12.1, 12.3, 12.9 and 12.8).
    fn operation(&mut self, id: usize) {
        let operation = &self.graph.operations[id];
        let element = match effective_kind(operation) {
            OperationKind::Function => "Function",
            OperationKind::Action => "Action",
        };
        let name = self.names.operation(id).unwrap_or_default().to_owned();
        let mut attributes = vec![("Name", name.as_str())];
        if operation.binding.is_some() {
            attributes.push(("IsBound", "true"));
        }
        if operation.parameters.is_empty()
            && operation.returns.is_none()
            && operation.binding.is_none()
        {
            self.xml.empty(element, &attributes);
            return;
        }
        self.xml.open(element, &attributes);
        if let Some(binding) = &operation.binding {
            // Section 12.2: the binding parameter comes first; its name is free to choose.
            let mut parameter_name = "in".to_owned();
            while operation
                .parameters
                .iter()
                .any(|p| p.name == parameter_name)
            {
                parameter_name.insert(0, '_');
            }
            let mut type_name = self.entity_type_ref(binding.entity);
            if binding.collection {
                type_name = format!("Collection({type_name})");
            }
            self.xml.empty(
                "Parameter",
                &[
                    ("Name", parameter_name.as_str()),
                    ("Type", type_name.as_str()),
                    ("Nullable", "false"),
                ],
            );
        }
        for parameter in &operation.parameters {
            let mut attributes = vec![
                ("Name", parameter.name.clone()),
                ("Type", self.type_ref(parameter.kind, parameter.collection)),
            ];
            if !parameter.nullable {
                attributes.push(("Nullable", "false".to_owned()));
            }
            facets(&mut attributes, parameter);
            let mut annotations = Vec::new();
            describe(
                &mut annotations,
                parameter.label.as_deref(),
                parameter.description.as_deref(),
            );
            self.element_with_annotations("Parameter", &attributes, &annotations);
        }
        if let Some(Returns { kind, collection }) = &operation.returns {
            let type_name = match *kind {
                ReturnKind::Entity(entity) => {
                    let name = self.entity_type_ref(entity);
                    if *collection {
                        format!("Collection({name})")
                    } else {
                        name
                    }
                }
                ReturnKind::Value(kind) => self.type_ref(kind, *collection),
            };
            self.xml.empty("ReturnType", &[("Type", &type_name)]);
        }
        self.xml.close(element);
    }

    /// The entity container (section 13): entity sets with bindings and capabilities, and the
    /// operation imports.
    fn container(&mut self) {
        let graph = self.graph;
        let ns = &graph.namespaces[self.namespace];
        self.xml
            .open("EntityContainer", &[("Name", CONTAINER_NAME)]);
        for &entity in &ns.entities {
            self.entity_set(entity);
        }
        for &id in &ns.operations {
            let operation = &graph.operations[id];
            let import = self
                .names
                .operation_import(id)
                .unwrap_or_default()
                .to_owned();
            let target = self
                .names
                .qualified(self.names.operation(id).unwrap_or_default());
            let (element, attribute) = match effective_kind(operation) {
                OperationKind::Function => ("FunctionImport", "Function"),
                OperationKind::Action => ("ActionImport", "Action"),
            };
            let mut attributes = vec![("Name", import), (attribute, target)];
            if let Some(Returns {
                kind: ReturnKind::Entity(entity),
                ..
            }) = operation.returns
                && graph.entities[entity].kind == EntityKind::Set
            {
                attributes.push(("EntitySet", self.entity_set_ref(entity)));
            }
            // Section 13.6.3: listed in the service document, as `service_document` does.
            if element == "FunctionImport" {
                attributes.push(("IncludeInServiceDocument", "true".to_owned()));
            }
            let mut annotations = Vec::new();
            describe(&mut annotations, None, operation.description.as_deref());
            self.element_with_annotations(element, &attributes, &annotations);
        }
        self.xml.close("EntityContainer");
    }

    /// An entity set (section 13.2) or singleton (section 13.3) with a navigation property
    /// binding per relation (section 13.4) and the set's capabilities. Contained entities have
    /// neither.
    fn entity_set(&mut self, entity: EntityId) {
        let graph = self.graph;
        let item = &graph.entities[entity];
        let (element, type_attribute) = match item.kind {
            EntityKind::Set => ("EntitySet", "EntityType"),
            EntityKind::Singleton => ("Singleton", "Type"),
            EntityKind::Contained => return,
        };
        let set = self.names.entity_set(entity).unwrap_or_default().to_owned();
        let entity_type = self
            .names
            .qualified(self.names.entity_type(entity).unwrap_or_default());
        let mut bindings = Vec::new();
        for (index, relation) in item.relations.iter().enumerate() {
            // A binding to another document's container is valid CSDL (section 13.4.2), but
            // SAP's OData client generator fails on it; the navigation property with its
            // qualified type and the `edmx:Reference` say where such relations lead.
            if graph.entities[relation.target].namespace != self.namespace
                || graph.entities[relation.target].kind == EntityKind::Contained
            {
                continue;
            }
            let path = self
                .names
                .relation(entity, index)
                .unwrap_or_default()
                .to_owned();
            bindings.push((path, self.entity_set_ref(relation.target)));
        }
        let mut annotations = set_annotations(item);
        if item.kind == EntityKind::Singleton {
            // One instance: only whether it may be updated says something.
            annotations.retain(|annotation| annotation.term == "Capabilities.UpdateRestrictions");
        }
        let attributes = [
            ("Name", set.as_str()),
            (type_attribute, entity_type.as_str()),
        ];
        if bindings.is_empty() && annotations.is_empty() {
            self.xml.empty(element, &attributes);
            return;
        }
        self.xml.open(element, &attributes);
        for (path, target) in &bindings {
            self.xml.empty(
                "NavigationPropertyBinding",
                &[("Path", path), ("Target", target)],
            );
        }
        self.annotations(&annotations);
        self.xml.close(element);
    }

    fn element_with_annotations(
        &mut self,
        element: &str,
        attributes: &[(&str, String)],
        annotations: &[Annotation],
    ) {
        if annotations.is_empty() {
            self.xml.empty(element, &pairs_of(attributes));
        } else {
            self.xml.open(element, &pairs_of(attributes));
            self.annotations(annotations);
            self.xml.close(element);
        }
    }

    /// Inline annotations (section 14.2), simple values in attribute notation.
    fn annotations(&mut self, annotations: &[Annotation]) {
        for annotation in annotations {
            if let Some((alias, _)) = annotation.term.split_once('.')
                && let Some((alias, _, _)) = VOCABULARIES.iter().find(|(a, _, _)| *a == alias)
            {
                self.vocabularies.insert(alias);
            }
            let term = ("Term", annotation.term);
            match &annotation.value {
                Expr::Bool(flag) => self
                    .xml
                    .empty("Annotation", &[term, ("Bool", bool_text(*flag))]),
                Expr::String(text) => self.xml.empty("Annotation", &[term, ("String", text)]),
                Expr::Path(path) => self.xml.empty("Annotation", &[term, ("Path", path)]),
                value => {
                    self.xml.open("Annotation", &[term]);
                    self.xml.expression(value);
                    self.xml.close("Annotation");
                }
            }
        }
    }
}

/// `Common.Label` and `Core.Description` of an element.
fn describe(annotations: &mut Vec<Annotation>, label: Option<&str>, description: Option<&str>) {
    if let Some(label) = label {
        annotations.push(Annotation::new(
            "Common.Label",
            Expr::String(label.to_owned()),
        ));
    }
    if let Some(description) = description {
        annotations.push(Annotation::new(
            "Core.Description",
            Expr::String(description.to_owned()),
        ));
    }
}

/// The unit or currency of an amount (Measures vocabulary): a path when the model names a sibling
/// property (or a path), the code when it holds a quoted constant (`'EUR'`). Whether it is a
/// currency comes from the service where it says so: v4's own term, or the unit property's
/// `sap:semantics` (`currency-code`, `unit-of-measure`). Otherwise a unit property named like a
/// currency (`Currency`, `TransactionCurrency`, SAP's `Waers`/`Waerk`/`Cuky`) makes
/// `ISOCurrency`, any other `Unit`. A name that is no property is left out rather than written as
/// a dangling path.
fn unit_annotation(field: &Field, siblings: &[Field]) -> Option<Annotation> {
    let unit = field.unit.as_deref()?;
    if let Some(code) = unit
        .strip_prefix('\'')
        .and_then(|rest| rest.strip_suffix('\''))
    {
        return Some(Annotation::new(
            "Measures.Unit",
            Expr::String(code.to_owned()),
        ));
    }
    if !unit.contains('/') && !siblings.iter().any(|f| f.name == unit) {
        return None;
    }
    let term = if unit_is_currency(field, siblings)? {
        "Measures.ISOCurrency"
    } else {
        "Measures.Unit"
    };
    Some(Annotation::new(term, Expr::Path(unit.to_owned())))
}

/// Whether an amount's unit ([`Field::unit`]) is a currency; `None` when it has no unit. See
/// [`unit_annotation`] for how it is decided.
pub fn unit_is_currency(field: &Field, siblings: &[Field]) -> Option<bool> {
    let unit = field.unit.as_deref()?;
    if unit.starts_with('\'') {
        return Some(false);
    }
    let declared = field.unit_is_currency.or_else(|| {
        let sibling = siblings.iter().find(|f| f.name == unit)?;
        match sibling.semantics.as_deref()? {
            "currency-code" => Some(true),
            "unit-of-measure" => Some(false),
            _ => None,
        }
    });
    let last = unit.rsplit('/').next().unwrap_or(unit).to_ascii_lowercase();
    Some(declared.unwrap_or_else(|| {
        ["currency", "curr", "waers", "waerk", "cuky"]
            .iter()
            .any(|hint| last.contains(hint))
    }))
}

/// The Capabilities and Core terms of an entity set, each only where it differs from the
/// vocabulary's default (everything allowed).
fn set_annotations(item: &crate::model::Entity) -> Vec<Annotation> {
    let caps = &item.capabilities;
    let names_where = |keep: fn(&Field) -> bool| -> Vec<String> {
        item.fields
            .iter()
            .filter(|f| keep(f))
            .map(|f| f.name.clone())
            .collect()
    };
    let mut annotations = Vec::new();
    let mut record = |term: &'static str, members: Vec<(&'static str, Expr)>| {
        if !members.is_empty() {
            annotations.push(Annotation::new(term, Expr::Record(members)));
        }
    };

    let mut filter = Vec::new();
    if !caps.filterable {
        filter.push(("Filterable", Expr::Bool(false)));
    }
    if caps.requires_filter {
        filter.push(("RequiresFilter", Expr::Bool(true)));
    }
    let non_filterable = names_where(|f| !f.filterable);
    if !non_filterable.is_empty() {
        filter.push((
            "NonFilterableProperties",
            Expr::PropertyPaths(non_filterable),
        ));
    }
    record("Capabilities.FilterRestrictions", filter);

    let mut sort = Vec::new();
    if !caps.sortable {
        sort.push(("Sortable", Expr::Bool(false)));
    }
    let non_sortable = names_where(|f| !f.sortable);
    if !non_sortable.is_empty() {
        sort.push(("NonSortableProperties", Expr::PropertyPaths(non_sortable)));
    }
    record("Capabilities.SortRestrictions", sort);

    let mut insert = Vec::new();
    if !caps.insertable {
        insert.push(("Insertable", Expr::Bool(false)));
    }
    // Fields the client can neither give nor change are `Core.Computed` on the property; the
    // ones it may change but not give are listed here.
    let non_insertable = names_where(|f| !f.insertable && f.updatable);
    if !non_insertable.is_empty() {
        insert.push((
            "NonInsertableProperties",
            Expr::PropertyPaths(non_insertable),
        ));
    }
    record("Capabilities.InsertRestrictions", insert);

    let flag = |allowed: bool, member: &'static str| {
        if allowed {
            Vec::new()
        } else {
            vec![(member, Expr::Bool(false))]
        }
    };
    record(
        "Capabilities.UpdateRestrictions",
        flag(caps.updatable, "Updatable"),
    );
    record(
        "Capabilities.DeleteRestrictions",
        flag(caps.deletable, "Deletable"),
    );
    record(
        "Capabilities.CountRestrictions",
        flag(caps.countable, "Countable"),
    );
    record(
        "Capabilities.SearchRestrictions",
        flag(caps.searchable, "Searchable"),
    );
    if !caps.addressable {
        record(
            "Capabilities.ReadRestrictions",
            vec![(
                "ReadByKeyRestrictions",
                Expr::Record(vec![("Readable", Expr::Bool(false))]),
            )],
        );
    }
    if !caps.top {
        annotations.push(Annotation::new(
            "Capabilities.TopSupported",
            Expr::Bool(false),
        ));
    }
    if !caps.skip {
        annotations.push(Annotation::new(
            "Capabilities.SkipSupported",
            Expr::Bool(false),
        ));
    }
    // Core vocabulary: an empty collection says ETags are required without naming the
    // properties they are computed from, which the model does not keep.
    if item.etag {
        annotations.push(Annotation::new(
            "Core.OptimisticConcurrency",
            Expr::PropertyPaths(Vec::new()),
        ));
    }
    annotations
}

/// The v4 name of a primitive type (see [`advertised_type`]).
fn v4_type(ty: EdmType) -> &'static str {
    advertised_type(ty).name()
}

/// The type this document declares for a primitive type: v2's `Edm.DateTime` and `Edm.Time`
/// become `Edm.DateTimeOffset` and `Edm.TimeOfDay` (a v2 DateTime marked as a date is already
/// [`EdmType::Date`]); every other type is its own.
pub fn advertised_type(ty: EdmType) -> EdmType {
    match ty {
        EdmType::DateTime => EdmType::DateTimeOffset,
        EdmType::Time => EdmType::TimeOfDay,
        other => other,
    }
}

/// The facets that apply to the field's type (section 3.4): `MaxLength` for strings, binaries and
/// streams, `Precision` for decimals and temporal types with fractional seconds (0 to 12), `Scale`
/// for decimals. A decimal without a fixed scale says `variable`: the model does not keep whether
/// the backend said so or said nothing, and a client rounding to a default scale of 0 would
/// lose digits.
fn facets(attributes: &mut Vec<(&'static str, String)>, field: &Field) {
    let FieldKind::Scalar(ty) = field.kind else {
        return;
    };
    let ty = EdmType::from_name(v4_type(ty));
    if let Some(length) = field.max_length
        && matches!(ty, EdmType::String | EdmType::Binary | EdmType::Stream)
        && length > 0
    {
        attributes.push(("MaxLength", length.to_string()));
    }
    match ty {
        EdmType::Decimal => {
            if let Some(precision) = field.precision.filter(|&p| p > 0) {
                attributes.push(("Precision", precision.to_string()));
            }
            let scale = match (field.scale, field.precision) {
                (Some(scale), Some(precision)) if scale <= precision => scale.to_string(),
                (Some(scale), None) => scale.to_string(),
                _ => "variable".to_owned(),
            };
            attributes.push(("Scale", scale));
        }
        EdmType::DateTimeOffset | EdmType::TimeOfDay | EdmType::Duration => {
            if let Some(precision) = field.precision.filter(|&p| p <= 12) {
                attributes.push(("Precision", precision.to_string()));
            }
        }
        _ => {}
    }
}

/// A relation's partner (section 8.3 requires partners to name each other): the target's
/// navigation the service declares as the partner (v4 `Partner`, the other end of a v2
/// association), when that one leads back here and declares this one in turn or nothing;
/// otherwise the navigation of the target back to this entity whose constraints are exactly
/// these, reversed, and for which this one is the only such candidate in turn. Without either,
/// nothing proves the inverse, so there is none.
fn partner(graph: &Graph, entity: EntityId, index: usize) -> Option<usize> {
    let relation = &graph.entities[entity].relations[index];
    if relation.kind == RelationKind::Navigation
        && let Some(declared) = &relation.partner
    {
        let back = graph.entities[relation.target]
            .relations
            .iter()
            .position(|candidate| {
                candidate.name == *declared
                    && candidate.kind == RelationKind::Navigation
                    && candidate.target == entity
                    && candidate
                        .partner
                        .as_ref()
                        .is_none_or(|name| *name == relation.name)
            });
        if back.is_some() {
            return back;
        }
    }
    // The other side of a partner declared one way only.
    if relation.kind == RelationKind::Navigation && relation.partner.is_none() {
        let back = graph.entities[relation.target]
            .relations
            .iter()
            .position(|candidate| {
                candidate.kind == RelationKind::Navigation
                    && candidate.target == entity
                    && candidate.partner.as_deref() == Some(relation.name.as_str())
            });
        if back.is_some() {
            return back;
        }
    }
    let candidates = inverse_candidates(graph, entity, index);
    let [back] = candidates.as_slice() else {
        return None;
    };
    let back = *back;
    match inverse_candidates(graph, relation.target, back).as_slice() {
        [only] if *only == index => Some(back),
        _ => None,
    }
}

fn inverse_candidates(graph: &Graph, entity: EntityId, index: usize) -> Vec<usize> {
    let relation = &graph.entities[entity].relations[index];
    if relation.kind != RelationKind::Navigation || relation.constraints.is_empty() {
        return Vec::new();
    }
    let mut ours = relation.constraints.clone();
    ours.sort_unstable();
    graph.entities[relation.target]
        .relations
        .iter()
        .enumerate()
        .filter(|&(other, back)| {
            if back.kind != RelationKind::Navigation
                || back.target != entity
                || (relation.target == entity && other == index)
                || (relation.many && back.many)
            {
                return false;
            }
            let mut theirs: Vec<(usize, usize)> = back
                .constraints
                .iter()
                .map(|&(remote, local)| (local, remote))
                .collect();
            theirs.sort_unstable();
            theirs == ours
        })
        .map(|(other, _)| other)
        .collect()
}

fn bool_text(flag: bool) -> &'static str {
    if flag { "true" } else { "false" }
}

fn pairs_of<'a>(attributes: &'a [(&'a str, String)]) -> Vec<(&'a str, &'a str)> {
    attributes
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect()
}

// ----- XML writing -----

/// A small indenting XML writer; every attribute value and text goes through [`escape_attribute`]
/// or [`escape_text`].
struct Xml {
    out: String,
    depth: usize,
}

impl Xml {
    fn start(&mut self, element: &str, attributes: &[(&str, &str)]) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
        self.out.push('<');
        self.out.push_str(element);
        for (name, value) in attributes {
            self.out.push(' ');
            self.out.push_str(name);
            self.out.push_str("=\"");
            escape_attribute(&mut self.out, value);
            self.out.push('"');
        }
    }

    fn open(&mut self, element: &str, attributes: &[(&str, &str)]) {
        self.start(element, attributes);
        self.out.push_str(">\n");
        self.depth += 1;
    }

    fn empty(&mut self, element: &str, attributes: &[(&str, &str)]) {
        self.start(element, attributes);
        self.out.push_str("/>\n");
    }

    fn close(&mut self, element: &str) {
        self.depth = self.depth.saturating_sub(1);
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
        self.out.push_str("</");
        self.out.push_str(element);
        self.out.push_str(">\n");
    }

    fn text_element(&mut self, element: &str, text: &str) {
        self.start(element, &[]);
        self.out.push('>');
        escape_text(&mut self.out, text);
        self.out.push_str("</");
        self.out.push_str(element);
        self.out.push_str(">\n");
    }

    /// An expression in element notation (sections 14.4.6 and 14.4.12).
    fn expression(&mut self, value: &Expr) {
        match value {
            Expr::Bool(flag) => self.text_element("Bool", bool_text(*flag)),
            Expr::String(text) => self.text_element("String", text),
            Expr::Path(path) => self.text_element("Path", path),
            Expr::PropertyPaths(paths) if paths.is_empty() => self.empty("Collection", &[]),
            Expr::PropertyPaths(paths) => {
                self.open("Collection", &[]);
                for path in paths {
                    self.text_element("PropertyPath", path);
                }
                self.close("Collection");
            }
            Expr::Record(members) => {
                self.open("Record", &[]);
                for (property, member) in members {
                    let property = ("Property", *property);
                    match member {
                        Expr::Bool(flag) => {
                            self.empty("PropertyValue", &[property, ("Bool", bool_text(*flag))])
                        }
                        Expr::String(text) => {
                            self.empty("PropertyValue", &[property, ("String", text)])
                        }
                        Expr::Path(path) => {
                            self.empty("PropertyValue", &[property, ("Path", path)])
                        }
                        nested => {
                            self.open("PropertyValue", &[property]);
                            self.expression(nested);
                            self.close("PropertyValue");
                        }
                    }
                }
                self.close("Record");
            }
        }
    }
}

/// Appends `text` as the value of a double-quoted attribute (XML 1.0 sections 2.4 and 3.3.3):
/// markup characters as entities, and tab, line feed and carriage return as character references,
/// which attribute-value normalization would otherwise turn into spaces. Characters XML 1.0
/// cannot carry at all (most C0 controls, U+FFFE, U+FFFF) become U+FFFD.
pub fn escape_attribute(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' => out.push_str("&#9;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            c if !is_xml_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// Appends `text` as character data (XML 1.0 section 2.4): `&` and `<` as entities, `>` too (so
/// `]]>` cannot occur), a carriage return as a character reference (line-end handling would drop
/// it), and characters XML 1.0 cannot carry as U+FFFD.
pub fn escape_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c if !is_xml_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

/// XML 1.0 section 2.2 `Char` (Rust `char`s are never surrogates).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{FFFD}' | '\u{10000}'..)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attribute(text: &str) -> String {
        let mut out = String::new();
        escape_attribute(&mut out, text);
        out
    }

    fn text(text: &str) -> String {
        let mut out = String::new();
        escape_text(&mut out, text);
        out
    }

    #[test]
    fn escapes_markup_whitespace_and_illegal_characters() {
        assert_eq!(
            attribute("a<&\"'>b\tc\nd\re"),
            "a&lt;&amp;&quot;&apos;&gt;b&#9;c&#10;d&#13;e"
        );
        assert_eq!(attribute("x\u{1}y\u{FFFF}"), "x\u{FFFD}y\u{FFFD}");
        assert_eq!(text("a<&>]]>\"'\n\r"), "a&lt;&amp;&gt;]]&gt;\"'\n&#13;");
        assert_eq!(attribute("Größe 😀"), "Größe 😀");
    }

    #[test]
    fn identifiers_are_kept_when_legal_and_rewritten_when_not() {
        assert_eq!(simple_identifier("A_SalesOrder"), "A_SalesOrder");
        assert_eq!(simple_identifier("Größe"), "Größe");
        assert_eq!(simple_identifier("C.Set"), "C_Set");
        assert_eq!(simple_identifier("1st"), "_1st");
        assert_eq!(simple_identifier(""), "_");
        assert_eq!(simple_identifier(&"x".repeat(200)).len(), 120);
    }
}
