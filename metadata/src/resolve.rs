//! The resolver: indexes qualified names, replaces aliases, turns v2 associations into navigation
//! properties and bindings, attaches out-of-line annotations, and reports every dangling reference.
//!
//! It never fails: what cannot be resolved is left as written and reported as a [`Diagnostic`]
//! with the line, column and element path of the element that refers to it.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::annotations::{Annotation, Annotations};
use crate::error::{Diagnostic, Location, Severity};
use crate::model::*;

/// An out-of-line `Annotations` block waiting for its target.
#[derive(Debug)]
pub(crate) struct PendingBlock {
    pub(crate) schema: u32,
    pub(crate) target: Box<str>,
    pub(crate) annotations: Vec<Annotation>,
    pub(crate) offset: u32,
    pub(crate) path: String,
}

/// Primitive and abstract types of the `Edm` namespace, v2 and v4 (CSDL 4.0 section 4.4, and
/// the v2 types `DateTime`, `Time`, `Single` that v4 dropped or renamed).
const EDM_TYPES: &[&str] = &[
    "Binary",
    "Boolean",
    "Byte",
    "Date",
    "DateTime",
    "DateTimeOffset",
    "Decimal",
    "Double",
    "Duration",
    "Float",
    "Guid",
    "Int16",
    "Int32",
    "Int64",
    "SByte",
    "Single",
    "Stream",
    "String",
    "Time",
    "TimeOfDay",
    "Geography",
    "GeographyPoint",
    "GeographyLineString",
    "GeographyPolygon",
    "GeographyMultiPoint",
    "GeographyMultiLineString",
    "GeographyMultiPolygon",
    "GeographyCollection",
    "Geometry",
    "GeometryPoint",
    "GeometryLineString",
    "GeometryPolygon",
    "GeometryMultiPoint",
    "GeometryMultiLineString",
    "GeometryMultiPolygon",
    "GeometryCollection",
    "PrimitiveType",
    "ComplexType",
    "EntityType",
    "Untyped",
    "AnnotationPath",
    "PropertyPath",
    "NavigationPropertyPath",
    "AnyPropertyPath",
    "ModelElementPath",
    "FunctionImportPath",
];

/// Address of an annotatable element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Address {
    Schema(usize),
    EntityType(usize, usize),
    EntityProperty(usize, usize, usize),
    EntityNavigation(usize, usize, usize),
    ComplexType(usize, usize),
    ComplexProperty(usize, usize, usize),
    ComplexNavigation(usize, usize, usize),
    EnumType(usize, usize),
    EnumMember(usize, usize, usize),
    TypeDefinition(usize, usize),
    Association(usize, usize),
    Operation(usize, usize),
    OperationParameter(usize, usize, usize),
    OperationReturn(usize, usize),
    Container(usize, usize),
    EntitySet(usize, usize, usize),
    Singleton(usize, usize, usize),
    AssociationSet(usize, usize, usize),
    OperationImport(usize, usize, usize),
    ImportParameter(usize, usize, usize, usize),
}

/// What an annotation target path names.
enum Target {
    /// Elements of this document (several for all overloads of an operation).
    Found(Vec<Address>),
    /// A valid path that names an element in a context (kept as a block).
    Contextual,
    /// A namespace from a referenced document that is not loaded.
    NotLoaded(String),
    /// Nothing: the reason.
    Missing(String),
}

struct Resolver<'m> {
    metadata: &'m mut Metadata,
    source: &'m [u8],
    diagnostics: &'m mut Vec<Diagnostic>,
    /// Namespaces included from referenced documents that are not part of this one.
    referenced: HashSet<Box<str>>,
    /// Referenced namespaces already reported as not loaded.
    reported_not_loaded: HashSet<String>,
}

/// Resolves a freshly parsed model in place, appending diagnostics.
pub(crate) fn resolve(
    metadata: &mut Metadata,
    pending: Vec<PendingBlock>,
    source: &[u8],
    diagnostics: &mut Vec<Diagnostic>,
) {
    let mut resolver = Resolver {
        metadata,
        source,
        diagnostics,
        referenced: HashSet::new(),
        reported_not_loaded: HashSet::new(),
    };
    resolver.index();
    resolver.normalize_names();
    resolver.check_types();
    resolver.resolve_associations();
    resolver.resolve_association_sets();
    resolver.check_containers();
    resolver.attach_annotations(pending);
}

fn qualified(namespace: &str, name: &str) -> Arc<str> {
    format!("{namespace}.{name}").into()
}

fn index_u32(i: usize) -> u32 {
    u32::try_from(i).expect("a document has fewer than 2^32 elements of one kind")
}

impl Resolver<'_> {
    fn report(&mut self, severity: Severity, offset: u32, path: String, message: String) {
        let at = Location::at(self.source, offset as usize, path);
        self.diagnostics.push(Diagnostic {
            severity,
            at,
            message,
        });
    }

    fn error(&mut self, offset: u32, path: String, message: String) {
        self.report(Severity::Error, offset, path, message);
    }

    /// Builds the lookup tables and reports duplicate names.
    fn index(&mut self) {
        let mut index = Index::default();
        let mut duplicates = Vec::new();
        for reference in &self.metadata.references {
            for include in &reference.includes {
                self.referenced.insert(include.namespace.clone());
                if let Some(alias) = &include.alias {
                    index
                        .aliases
                        .insert(alias.clone(), include.namespace.clone());
                }
            }
        }
        for (s, schema) in self.metadata.schemas.iter().enumerate() {
            self.referenced.remove(&schema.namespace);
            if let Some(alias) = &schema.alias {
                index
                    .aliases
                    .insert(alias.clone(), schema.namespace.clone());
            }
            let ns = &*schema.namespace;
            let s32 = index_u32(s);
            let mut add_type = |name: &str, id: TypeId, offset: u32, path: String| {
                if index.types.insert(qualified(ns, name), id).is_some() {
                    duplicates.push((offset, path, format!("duplicate type name {ns}.{name}")));
                }
            };
            for (i, t) in schema.entity_types.iter().enumerate() {
                let path = format!("Schema[{ns}]/EntityType[{}]", t.name);
                add_type(&t.name, TypeId::Entity(s32, index_u32(i)), t.offset, path);
            }
            for (i, t) in schema.complex_types.iter().enumerate() {
                let path = format!("Schema[{ns}]/ComplexType[{}]", t.name);
                add_type(&t.name, TypeId::Complex(s32, index_u32(i)), t.offset, path);
            }
            for (i, t) in schema.enum_types.iter().enumerate() {
                let path = format!("Schema[{ns}]/EnumType[{}]", t.name);
                add_type(&t.name, TypeId::Enum(s32, index_u32(i)), t.offset, path);
            }
            for (i, t) in schema.type_definitions.iter().enumerate() {
                let path = format!("Schema[{ns}]/TypeDefinition[{}]", t.name);
                add_type(
                    &t.name,
                    TypeId::Definition(s32, index_u32(i)),
                    t.offset,
                    path,
                );
            }
            for (i, o) in schema.operations.iter().enumerate() {
                index
                    .operations
                    .entry(qualified(ns, &o.name))
                    .or_default()
                    .push((s32, index_u32(i)));
            }
            for (i, c) in schema.entity_containers.iter().enumerate() {
                index
                    .containers
                    .insert(qualified(ns, &c.name), (s32, index_u32(i)));
            }
            for (i, a) in schema.associations.iter().enumerate() {
                if index
                    .associations
                    .insert(qualified(ns, &a.name), (s32, index_u32(i)))
                    .is_some()
                {
                    duplicates.push((
                        a.offset,
                        format!("Schema[{ns}]/Association[{}]", a.name),
                        format!("duplicate association name {ns}.{}", a.name),
                    ));
                }
            }
        }
        self.metadata.index = index;
        for (offset, path, message) in duplicates {
            self.error(offset, path, message);
        }
    }

    /// Replaces aliases by namespaces in every qualified name of the model.
    fn normalize_names(&mut self) {
        let aliases = &self.metadata.index.aliases;
        if aliases.is_empty() {
            return;
        }
        let replaced = |name: &str| -> Option<String> {
            let (prefix, rest) = name.rsplit_once('.')?;
            let namespace = aliases.get(prefix)?;
            Some(format!("{namespace}.{rest}"))
        };
        let fix = |name: &mut Box<str>| {
            if let Some(full) = replaced(name) {
                *name = full.into();
            }
        };
        // Shared type names are rewritten per reference; the few aliased ones lose sharing.
        let fix_shared = |name: &mut Arc<str>| {
            if let Some(full) = replaced(name) {
                *name = full.into();
            }
        };
        for schema in &mut self.metadata.schemas {
            for t in &mut schema.entity_types {
                if let Some(base) = &mut t.base_type {
                    fix(base);
                }
                for p in &mut t.properties {
                    fix_shared(&mut p.type_ref.name);
                }
                for n in &mut t.navigation_properties {
                    fix_shared(&mut n.target.name);
                    if let Some(link) = &mut n.association {
                        fix(&mut link.association);
                    }
                }
            }
            for t in &mut schema.complex_types {
                if let Some(base) = &mut t.base_type {
                    fix(base);
                }
                for p in &mut t.properties {
                    fix_shared(&mut p.type_ref.name);
                }
                for n in &mut t.navigation_properties {
                    fix_shared(&mut n.target.name);
                }
            }
            for t in &mut schema.enum_types {
                fix(&mut t.underlying_type);
            }
            for t in &mut schema.type_definitions {
                fix(&mut t.underlying_type);
            }
            for a in &mut schema.associations {
                for end in &mut a.ends {
                    fix(&mut end.entity_type);
                }
            }
            for o in &mut schema.operations {
                for p in &mut o.parameters {
                    fix_shared(&mut p.type_ref.name);
                }
                if let Some(r) = &mut o.return_type {
                    fix_shared(&mut r.type_ref.name);
                }
            }
            for c in &mut schema.entity_containers {
                for set in &mut c.entity_sets {
                    fix(&mut set.entity_type);
                }
                for singleton in &mut c.singletons {
                    fix(&mut singleton.entity_type);
                }
                for set in &mut c.association_sets {
                    fix(&mut set.association);
                }
                for import in &mut c.operation_imports {
                    if let Some(operation) = &mut import.operation {
                        fix(operation);
                    }
                    if let Some(r) = &mut import.return_type {
                        fix_shared(&mut r.name);
                    }
                    for p in &mut import.parameters {
                        fix_shared(&mut p.type_ref.name);
                    }
                }
            }
        }
    }

    /// What is wrong with a qualified type name, if anything. Names in namespaces of referenced
    /// documents are reported once per namespace as not loaded (a warning); `Edm` names must be
    /// known primitive types; all others must be declared in this document.
    fn type_problem(
        &self,
        name: &str,
        expect: Expect,
        not_loaded: &mut HashSet<String>,
    ) -> Option<(Severity, String)> {
        if let Some(edm) = name.strip_prefix("Edm.") {
            if EDM_TYPES.contains(&edm) {
                return None;
            }
            return Some((
                Severity::Warning,
                format!(
                    "unknown primitive type {name}; its values are passed through as they come"
                ),
            ));
        }
        let found = match self.metadata.index.types.get(name) {
            Some(found) => *found,
            None => {
                let namespace = name.rsplit_once('.').map_or("", |(ns, _)| ns);
                if !self.referenced.contains(namespace) {
                    return Some((Severity::Error, format!("unknown type {name}")));
                }
                if self.reported_not_loaded.contains(namespace)
                    || !not_loaded.insert(namespace.to_owned())
                {
                    return None;
                }
                return Some((
                    Severity::Warning,
                    format!(
                        "type {name} is in namespace {namespace} of a referenced document that is \
                         not loaded; references into it are not checked"
                    ),
                ));
            }
        };
        let expected = match (expect, found) {
            (Expect::Entity, TypeId::Entity(..))
            | (Expect::Complex, TypeId::Complex(..))
            | (Expect::Value, _) => return None,
            (Expect::Entity, _) => "an entity type",
            (Expect::Complex, _) => "a complex type",
        };
        Some((Severity::Error, format!("{name} is not {expected}")))
    }

    /// Checks type references of types, properties, operations and containers. Paths are only
    /// rendered for problems: this runs over every property of documents with tens of thousands.
    fn check_types(&mut self) {
        let metadata = &*self.metadata;
        let mut not_loaded = HashSet::new();
        let mut problems: Vec<(Severity, u32, Site, String)> = Vec::new();
        let mut check = |name: &str, expect: Expect, offset: u32, site: Site| {
            if let Some((severity, message)) = self.type_problem(name, expect, &mut not_loaded) {
                problems.push((severity, offset, site, message));
            }
        };
        for (s, schema) in metadata.schemas.iter().enumerate() {
            for (i, t) in schema.entity_types.iter().enumerate() {
                if let Some(base) = &t.base_type {
                    check(base, Expect::Entity, t.offset, Site::EntityType(s, i));
                }
                for (p, property) in t.properties.iter().enumerate() {
                    let site = Site::EntityProperty(s, i, p);
                    check(
                        &property.type_ref.name,
                        Expect::Value,
                        property.offset,
                        site,
                    );
                }
                for (n, navigation) in t.navigation_properties.iter().enumerate() {
                    if navigation.association.is_none() {
                        let site = Site::EntityNavigation(s, i, n);
                        check(
                            &navigation.target.name,
                            Expect::Entity,
                            navigation.offset,
                            site,
                        );
                    }
                }
            }
            for (i, t) in schema.complex_types.iter().enumerate() {
                if let Some(base) = &t.base_type {
                    check(base, Expect::Complex, t.offset, Site::ComplexType(s, i));
                }
                for (p, property) in t.properties.iter().enumerate() {
                    let site = Site::ComplexProperty(s, i, p);
                    check(
                        &property.type_ref.name,
                        Expect::Value,
                        property.offset,
                        site,
                    );
                }
                for (n, navigation) in t.navigation_properties.iter().enumerate() {
                    let site = Site::ComplexNavigation(s, i, n);
                    check(
                        &navigation.target.name,
                        Expect::Entity,
                        navigation.offset,
                        site,
                    );
                }
            }
            for (i, t) in schema.type_definitions.iter().enumerate() {
                check(
                    &t.underlying_type,
                    Expect::Value,
                    t.offset,
                    Site::TypeDefinition(s, i),
                );
            }
            for (o, operation) in schema.operations.iter().enumerate() {
                for (p, parameter) in operation.parameters.iter().enumerate() {
                    let site = Site::OperationParameter(s, o, p);
                    check(
                        &parameter.type_ref.name,
                        Expect::Value,
                        parameter.offset,
                        site,
                    );
                }
                if let Some(r) = &operation.return_type {
                    let site = Site::OperationReturn(s, o);
                    check(&r.type_ref.name, Expect::Value, operation.offset, site);
                }
            }
            for (c, container) in schema.entity_containers.iter().enumerate() {
                for (e, set) in container.entity_sets.iter().enumerate() {
                    check(
                        &set.entity_type,
                        Expect::Entity,
                        set.offset,
                        Site::EntitySet(s, c, e),
                    );
                }
                for (e, singleton) in container.singletons.iter().enumerate() {
                    let site = Site::Singleton(s, c, e);
                    check(
                        &singleton.entity_type,
                        Expect::Entity,
                        singleton.offset,
                        site,
                    );
                }
                for (e, import) in container.operation_imports.iter().enumerate() {
                    if let Some(r) = &import.return_type {
                        check(
                            &r.name,
                            Expect::Value,
                            import.offset,
                            Site::OperationImport(s, c, e),
                        );
                    }
                    for (p, parameter) in import.parameters.iter().enumerate() {
                        let site = Site::ImportParameter(s, c, e, p);
                        check(
                            &parameter.type_ref.name,
                            Expect::Value,
                            parameter.offset,
                            site,
                        );
                    }
                }
            }
        }
        let problems: Vec<_> = problems
            .into_iter()
            .map(|(severity, offset, site, message)| {
                (severity, offset, site_path(metadata, site), message)
            })
            .collect();
        self.reported_not_loaded.extend(not_loaded);
        for (severity, offset, path, message) in problems {
            self.report(severity, offset, path, message);
        }
        self.check_keys_and_partners();
    }

    fn check_keys_and_partners(&mut self) {
        let mut problems = Vec::new();
        let metadata = &*self.metadata;
        let keyed: HashSet<&str> = metadata
            .schemas
            .iter()
            .flat_map(|s| &s.entity_containers)
            .flat_map(|c| &c.entity_sets)
            .map(|set| &*set.entity_type)
            .collect();
        for schema in &metadata.schemas {
            let ns = &schema.namespace;
            for t in &schema.entity_types {
                let at = format!("Schema[{ns}]/EntityType[{}]", t.name);
                let ty = StructuredType::Entity(t);
                // Types without a key are legal for singletons and containment (MS Graph uses
                // them); an entity set needs a key to address its entities.
                if metadata.key_of(t).is_empty()
                    && !t.is_abstract
                    && keyed.contains(&*qualified(ns, &t.name))
                {
                    problems.push((
                        Severity::Error,
                        t.offset,
                        at.clone(),
                        "entity type has no key but is the type of an entity set".to_owned(),
                    ));
                }
                if !t.key.is_empty() {
                    let properties = metadata.all_properties(ty);
                    for key in &t.key {
                        // A key path into a complex property (v4) names its first segment here.
                        let first = key.name.split('/').next().unwrap_or_default();
                        if !properties.iter().any(|p| *p.name == *first) {
                            problems.push((
                                Severity::Error,
                                t.offset,
                                format!("{at}/Key/PropertyRef[{}]", key.name),
                                format!("key property {} is not a property of the type", key.name),
                            ));
                        }
                    }
                }
                for n in &t.navigation_properties {
                    let path = || format!("{at}/NavigationProperty[{}]", n.name);
                    let Some(target) = metadata.structured_type(&n.target.name) else {
                        continue;
                    };
                    if let Some(partner) = &n.partner
                        && n.association.is_none()
                        && !metadata
                            .all_navigation_properties(target)
                            .iter()
                            .any(|p| p.name == *partner)
                    {
                        problems.push((
                            Severity::Warning,
                            n.offset,
                            path(),
                            format!(
                                "partner {partner} is not a navigation property of {}",
                                n.target.name
                            ),
                        ));
                    }
                    if n.association.is_none() {
                        let own = metadata.all_properties(ty);
                        let theirs = metadata.all_properties(target);
                        for constraint in &n.referential_constraints {
                            if !own.iter().any(|p| p.name == constraint.property) {
                                problems.push((
                                    Severity::Error,
                                    n.offset,
                                    path(),
                                    format!(
                                        "referential constraint property {} is not a property of {}",
                                        constraint.property, t.name
                                    ),
                                ));
                            }
                            let referenced = constraint.referenced_property.split('/').next();
                            if !theirs.iter().any(|p| Some(&*p.name) == referenced) {
                                problems.push((
                                    Severity::Error,
                                    n.offset,
                                    path(),
                                    format!(
                                        "referenced property {} is not a property of {}",
                                        constraint.referenced_property, n.target.name
                                    ),
                                ));
                            }
                        }
                    }
                }
            }
        }
        for (severity, offset, path, message) in problems {
            self.report(severity, offset, path, message);
        }
    }

    /// Checks the entity types of association ends. An end whose type does not exist is repaired
    /// from an association set that binds the role to an entity set (a warning), else reported.
    /// Returns the repaired end types keyed by (association name, role) string addresses.
    fn check_association_ends(&mut self) -> HashMap<(*const str, *const str), Box<str>> {
        let mut repaired = HashMap::new();
        let mut problems = Vec::new();
        let metadata = &*self.metadata;
        for schema in &metadata.schemas {
            for association in &schema.associations {
                let qualified_name = qualified(&schema.namespace, &association.name);
                for end in &association.ends {
                    if metadata.entity_type(&end.entity_type).is_some() {
                        continue;
                    }
                    let path = format!(
                        "Schema[{}]/Association[{}]/End[{}]",
                        schema.namespace, association.name, end.role
                    );
                    let namespace = end.entity_type.rsplit_once('.').map_or("", |p| p.0);
                    if self.referenced.contains(namespace) {
                        continue;
                    }
                    let from_set = metadata
                        .schemas
                        .iter()
                        .flat_map(|s| &s.entity_containers)
                        .find_map(|container| {
                            let set = container
                                .association_sets
                                .iter()
                                .find(|set| *set.association == *qualified_name)?;
                            let set_end = set.ends.iter().find(|e| e.role == end.role)?;
                            let entity_set = container
                                .entity_sets
                                .iter()
                                .find(|s| s.name == set_end.entity_set)?;
                            metadata.entity_type(&entity_set.entity_type)?;
                            Some((entity_set.name.clone(), entity_set.entity_type.clone()))
                        });
                    match from_set {
                        Some((set_name, entity_type)) => {
                            problems.push((
                                Severity::Warning,
                                association.offset,
                                path,
                                format!(
                                    "unknown type {}; the end is taken as {entity_type}, the type \
                                     of entity set {set_name} bound to this role",
                                    end.entity_type
                                ),
                            ));
                            repaired.insert(
                                (&*association.name as *const str, &*end.role as *const str),
                                entity_type,
                            );
                        }
                        None => problems.push((
                            Severity::Error,
                            association.offset,
                            path,
                            format!("unknown type {}", end.entity_type),
                        )),
                    }
                }
            }
        }
        for (severity, offset, path, message) in problems {
            self.report(severity, offset, path, message);
        }
        repaired
    }

    /// Fills v2 navigation properties from their associations (target, multiplicity, partner,
    /// constraints in both directions, OnDelete).
    fn resolve_associations(&mut self) {
        struct Update {
            schema: usize,
            entity_type: usize,
            navigation: usize,
            target: TypeRef,
            multiplicity: Multiplicity,
            on_delete: Option<OnDeleteAction>,
            constraints: Vec<ReferentialConstraint>,
        }
        let repaired = self.check_association_ends();
        let end_type = |association: &Association, end: &AssociationEnd| -> Box<str> {
            let key = (&*association.name as *const str, &*end.role as *const str);
            repaired
                .get(&key)
                .cloned()
                .unwrap_or_else(|| end.entity_type.clone())
        };
        let mut updates = Vec::new();
        let mut problems = Vec::new();
        let metadata = &*self.metadata;
        for (s, schema) in metadata.schemas.iter().enumerate() {
            for (i, t) in schema.entity_types.iter().enumerate() {
                for (n, nav) in t.navigation_properties.iter().enumerate() {
                    let Some(link) = &nav.association else {
                        continue;
                    };
                    let path = format!(
                        "Schema[{}]/EntityType[{}]/NavigationProperty[{}]",
                        schema.namespace, t.name, nav.name
                    );
                    let Some(association) = metadata.association(&link.association) else {
                        let namespace = link.association.rsplit_once('.').map_or("", |p| p.0);
                        let severity = if self.referenced.contains(namespace) {
                            Severity::Warning
                        } else {
                            Severity::Error
                        };
                        problems.push((
                            severity,
                            nav.offset,
                            path,
                            format!("association {} not found", link.association),
                        ));
                        continue;
                    };
                    let from = association.ends.iter().find(|e| e.role == link.from_role);
                    let to = association.ends.iter().find(|e| e.role == link.to_role);
                    let (Some(from), Some(to)) = (from, to) else {
                        problems.push((
                            Severity::Error,
                            nav.offset,
                            path,
                            format!(
                                "association {} has no role {}",
                                link.association,
                                if from.is_none() {
                                    &link.from_role
                                } else {
                                    &link.to_role
                                }
                            ),
                        ));
                        continue;
                    };
                    let own_name = format!("{}.{}", schema.namespace, t.name);
                    let from_type = end_type(association, from);
                    let declared_on_base = metadata
                        .type_chain(StructuredType::Entity(t))
                        .iter()
                        .any(|ty| {
                            metadata
                                .structured_type(&from_type)
                                .is_some_and(|f| std::ptr::eq(f.name(), ty.name()))
                        });
                    if *from_type != *own_name && !declared_on_base {
                        problems.push((
                            Severity::Warning,
                            nav.offset,
                            path.clone(),
                            format!(
                                "role {} of association {} is of type {}, not {own_name}",
                                link.from_role, link.association, from_type
                            ),
                        ));
                    }
                    let mut constraints = Vec::new();
                    if let Some(c) = &association.constraint {
                        let pairs = c.dependent_properties.iter().zip(&c.principal_properties);
                        if c.dependent_role == link.from_role {
                            constraints.extend(pairs.map(|(d, p)| ReferentialConstraint {
                                property: d.clone(),
                                referenced_property: p.clone(),
                            }));
                        } else if c.principal_role == link.from_role {
                            constraints.extend(pairs.map(|(d, p)| ReferentialConstraint {
                                property: p.clone(),
                                referenced_property: d.clone(),
                            }));
                        }
                    }
                    updates.push(Update {
                        schema: s,
                        entity_type: i,
                        navigation: n,
                        target: TypeRef {
                            name: end_type(association, to).into(),
                            collection: to.multiplicity == Multiplicity::Many,
                        },
                        multiplicity: to.multiplicity,
                        on_delete: from.on_delete,
                        constraints,
                    });
                }
            }
            for a in &schema.associations {
                if let Some(c) = &a.constraint {
                    for role in [&c.principal_role, &c.dependent_role] {
                        if !a.ends.iter().any(|e| e.role == *role) {
                            problems.push((
                                Severity::Error,
                                a.offset,
                                format!(
                                    "Schema[{}]/Association[{}]/ReferentialConstraint",
                                    schema.namespace, a.name
                                ),
                                format!("role {role} is not an end of the association"),
                            ));
                        }
                    }
                }
            }
        }
        for (severity, offset, path, message) in problems {
            self.report(severity, offset, path, message);
        }
        for u in updates {
            let nav = &mut self.metadata.schemas[u.schema].entity_types[u.entity_type]
                .navigation_properties[u.navigation];
            nav.target = u.target;
            nav.multiplicity = u.multiplicity;
            nav.on_delete = u.on_delete;
            nav.referential_constraints = u.constraints;
        }
        // Partners: the navigation property of the target type over the same association with
        // the roles swapped.
        let mut partners = Vec::new();
        let metadata = &*self.metadata;
        for (s, schema) in metadata.schemas.iter().enumerate() {
            for (i, t) in schema.entity_types.iter().enumerate() {
                for (n, nav) in t.navigation_properties.iter().enumerate() {
                    let Some(link) = &nav.association else {
                        continue;
                    };
                    let Some(target) = metadata.structured_type(&nav.target.name) else {
                        continue;
                    };
                    let partner =
                        metadata
                            .all_navigation_properties(target)
                            .into_iter()
                            .find(|p| {
                                p.association.as_ref().is_some_and(|l| {
                                    l.association == link.association
                                        && l.from_role == link.to_role
                                        && l.to_role == link.from_role
                                })
                            });
                    if let Some(partner) = partner {
                        partners.push((s, i, n, partner.name.clone()));
                    }
                }
            }
        }
        for (s, i, n, partner) in partners {
            self.metadata.schemas[s].entity_types[i].navigation_properties[n].partner =
                Some(partner);
        }
    }

    /// Derives navigation property bindings on entity sets from v2 association sets.
    fn resolve_association_sets(&mut self) {
        let mut bindings = Vec::new();
        let mut problems = Vec::new();
        let metadata = &*self.metadata;
        for (s, schema) in metadata.schemas.iter().enumerate() {
            for (c, container) in schema.entity_containers.iter().enumerate() {
                let set_index: HashMap<&str, usize> = container
                    .entity_sets
                    .iter()
                    .enumerate()
                    .map(|(i, set)| (&*set.name, i))
                    .collect();
                for set in &container.association_sets {
                    let path = format!(
                        "Schema[{}]/EntityContainer[{}]/AssociationSet[{}]",
                        schema.namespace, container.name, set.name
                    );
                    let Some(association) = metadata.association(&set.association) else {
                        problems.push((
                            set.offset,
                            path,
                            format!("association {} not found", set.association),
                        ));
                        continue;
                    };
                    let mut ends = Vec::new();
                    for end in &set.ends {
                        match set_index.get(&*end.entity_set) {
                            Some(&i) => ends.push((end, i)),
                            None => problems.push((
                                set.offset,
                                path.clone(),
                                format!("entity set {} not found", end.entity_set),
                            )),
                        }
                        if !association.ends.iter().any(|e| e.role == end.role) {
                            problems.push((
                                set.offset,
                                path.clone(),
                                format!(
                                    "role {} is not an end of association {}",
                                    end.role, set.association
                                ),
                            ));
                        }
                    }
                    let [(from, from_set), (to, to_set)] = ends[..] else {
                        continue;
                    };
                    for ((from, from_set), (to, _)) in [
                        ((from, from_set), (to, to_set)),
                        ((to, to_set), (from, from_set)),
                    ] {
                        let entity_set = &container.entity_sets[from_set];
                        let Some(ty) = metadata.entity_type(&entity_set.entity_type) else {
                            continue;
                        };
                        for nav in metadata.all_navigation_properties(StructuredType::Entity(ty)) {
                            let matches = nav.association.as_ref().is_some_and(|l| {
                                l.association == set.association
                                    && l.from_role == from.role
                                    && l.to_role == to.role
                            });
                            if matches {
                                bindings.push((
                                    s,
                                    c,
                                    from_set,
                                    NavigationPropertyBinding {
                                        path: nav.name.clone(),
                                        target: to.entity_set.clone(),
                                    },
                                ));
                            }
                        }
                    }
                }
            }
        }
        for (offset, path, message) in problems {
            self.error(offset, path, message);
        }
        for (s, c, set, binding) in bindings {
            let bindings = &mut self.metadata.schemas[s].entity_containers[c].entity_sets[set]
                .navigation_property_bindings;
            if !bindings.contains(&binding) {
                bindings.push(binding);
            }
        }
    }

    /// Checks binding targets and operation imports of v4 containers.
    fn check_containers(&mut self) {
        let mut problems = Vec::new();
        let metadata = &*self.metadata;
        for schema in &metadata.schemas {
            for container in &schema.entity_containers {
                let at = format!(
                    "Schema[{}]/EntityContainer[{}]",
                    schema.namespace, container.name
                );
                // CSDL 4.01 section 13.4.2: the target is an entity set or singleton, optionally
                // prefixed by a qualified container name, optionally followed by a path of
                // containment navigation properties and type casts; the set is what must exist.
                let has_target = |target: &str| -> bool {
                    let mut segments = target.split('/');
                    let first = segments.next().unwrap_or_default();
                    let (container, name) = if first.contains('.') {
                        match metadata.entity_container_named(first) {
                            Some(c) => (c, segments.next().unwrap_or_default()),
                            None => return false,
                        }
                    } else {
                        (container, first)
                    };
                    container.entity_sets.iter().any(|s| *s.name == *name)
                        || container.singletons.iter().any(|s| *s.name == *name)
                };
                let sources = container
                    .entity_sets
                    .iter()
                    .map(|s| {
                        (
                            "EntitySet",
                            &s.name,
                            &s.entity_type,
                            &s.navigation_property_bindings,
                            s.offset,
                        )
                    })
                    .chain(container.singletons.iter().map(|s| {
                        (
                            "Singleton",
                            &s.name,
                            &s.entity_type,
                            &s.navigation_property_bindings,
                            s.offset,
                        )
                    }));
                for (kind, name, entity_type, bindings, offset) in sources {
                    for binding in bindings {
                        let path = || {
                            format!(
                                "{at}/{kind}[{name}]/NavigationPropertyBinding[{}]",
                                binding.path
                            )
                        };
                        if !has_target(&binding.target) {
                            let namespace = binding
                                .target
                                .split_once('/')
                                .and_then(|(q, _)| q.rsplit_once('.'))
                                .map(|(ns, _)| metadata.normalize(ns).into_owned());
                            if namespace.is_some_and(|ns| self.referenced.contains(ns.as_str())) {
                                continue;
                            }
                            problems.push((
                                offset,
                                path(),
                                format!("binding target {} not found", binding.target),
                            ));
                        }
                        // The last segment of the path must be a navigation property of some type
                        // on the way; check the common single-segment case exactly.
                        if !binding.path.contains('/')
                            && let Some(ty) = metadata.entity_type(entity_type)
                            && !metadata
                                .all_navigation_properties(StructuredType::Entity(ty))
                                .iter()
                                .any(|n| n.name == binding.path)
                        {
                            problems.push((
                                offset,
                                path(),
                                format!(
                                    "{} is not a navigation property of {entity_type}",
                                    binding.path
                                ),
                            ));
                        }
                    }
                }
                for import in &container.operation_imports {
                    let path = || format!("{at}/{:?}[{}]", import.kind, import.name);
                    if let Some(operation) = &import.operation
                        && metadata.operations(operation).next().is_none()
                    {
                        problems.push((
                            import.offset,
                            path(),
                            format!("imported operation {operation} not found"),
                        ));
                    }
                    if let Some(set) = &import.entity_set
                        && !set.contains('/')
                        && !container.entity_sets.iter().any(|s| s.name == *set)
                    {
                        problems.push((
                            import.offset,
                            path(),
                            format!("entity set {set} not found"),
                        ));
                    }
                }
            }
        }
        for (offset, path, message) in problems {
            self.error(offset, path, message);
        }
    }

    /// Applies out-of-line annotation blocks to their targets.
    fn attach_annotations(&mut self, pending: Vec<PendingBlock>) {
        for block in pending {
            let target = self.metadata.normalize_target(&block.target);
            match self.find_target(&target) {
                Target::Found(addresses) => {
                    let last = addresses.len().saturating_sub(1);
                    let mut annotations = Some(block.annotations);
                    for (i, address) in addresses.into_iter().enumerate() {
                        let batch = if i == last {
                            annotations.take().unwrap_or_default()
                        } else {
                            annotations.clone().unwrap_or_default()
                        };
                        let slot = self.annotations_mut(address);
                        for annotation in batch {
                            slot.add(annotation);
                        }
                    }
                }
                Target::Contextual => {
                    self.metadata.schemas[block.schema as usize]
                        .annotations
                        .push(AnnotationBlock {
                            target: target.into(),
                            annotations: block.annotations,
                        });
                }
                Target::NotLoaded(namespace) => {
                    if self.reported_not_loaded.insert(namespace.clone()) {
                        self.report(
                            Severity::Warning,
                            block.offset,
                            block.path,
                            format!(
                                "target is in namespace {namespace} of a referenced document that \
                                 is not loaded; annotations into it are kept unattached"
                            ),
                        );
                    }
                    self.metadata.schemas[block.schema as usize]
                        .annotations
                        .push(AnnotationBlock {
                            target: target.into(),
                            annotations: block.annotations,
                        });
                }
                Target::Missing(reason) => {
                    self.report(
                        Severity::Warning,
                        block.offset,
                        block.path,
                        format!("annotation target not found: {reason}"),
                    );
                    self.metadata.schemas[block.schema as usize]
                        .annotations
                        .push(AnnotationBlock {
                            target: target.into(),
                            annotations: block.annotations,
                        });
                }
            }
        }
    }

    fn annotations_mut(&mut self, address: Address) -> &mut Annotations {
        let schemas = &mut self.metadata.schemas;
        match address {
            Address::Schema(s) => &mut schemas[s].own_annotations,
            Address::EntityType(s, i) => &mut schemas[s].entity_types[i].annotations,
            Address::EntityProperty(s, i, p) => {
                &mut schemas[s].entity_types[i].properties[p].annotations
            }
            Address::EntityNavigation(s, i, n) => {
                &mut schemas[s].entity_types[i].navigation_properties[n].annotations
            }
            Address::ComplexType(s, i) => &mut schemas[s].complex_types[i].annotations,
            Address::ComplexProperty(s, i, p) => {
                &mut schemas[s].complex_types[i].properties[p].annotations
            }
            Address::ComplexNavigation(s, i, n) => {
                &mut schemas[s].complex_types[i].navigation_properties[n].annotations
            }
            Address::EnumType(s, i) => &mut schemas[s].enum_types[i].annotations,
            Address::EnumMember(s, i, m) => &mut schemas[s].enum_types[i].members[m].annotations,
            Address::TypeDefinition(s, i) => &mut schemas[s].type_definitions[i].annotations,
            Address::Association(s, i) => &mut schemas[s].associations[i].annotations,
            Address::Operation(s, i) => &mut schemas[s].operations[i].annotations,
            Address::OperationParameter(s, i, p) => {
                &mut schemas[s].operations[i].parameters[p].annotations
            }
            Address::OperationReturn(s, i) => {
                let operation = &mut schemas[s].operations[i];
                match &mut operation.return_type {
                    Some(r) => &mut r.annotations,
                    None => &mut operation.annotations,
                }
            }
            Address::Container(s, c) => &mut schemas[s].entity_containers[c].annotations,
            Address::EntitySet(s, c, e) => {
                &mut schemas[s].entity_containers[c].entity_sets[e].annotations
            }
            Address::Singleton(s, c, e) => {
                &mut schemas[s].entity_containers[c].singletons[e].annotations
            }
            Address::AssociationSet(s, c, e) => {
                &mut schemas[s].entity_containers[c].association_sets[e].annotations
            }
            Address::OperationImport(s, c, e) => {
                &mut schemas[s].entity_containers[c].operation_imports[e].annotations
            }
            Address::ImportParameter(s, c, e, p) => {
                &mut schemas[s].entity_containers[c].operation_imports[e].parameters[p].annotations
            }
        }
    }

    /// Finds the element(s) an annotation target path names (CSDL 4.01 section 14.2.1).
    fn find_target(&self, target: &str) -> Target {
        let metadata = &*self.metadata;
        let (head, rest) = split_head(target);
        let (name, signature) = match head.split_once('(') {
            Some((name, args)) => (name, Some(args.strip_suffix(')').unwrap_or(args))),
            None => (head, None),
        };
        let segments: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('/').collect()
        };
        if let Some(s) = metadata.schemas.iter().position(|s| *s.namespace == *name) {
            return if segments.is_empty() {
                Target::Found(vec![Address::Schema(s)])
            } else {
                Target::Missing(format!("{target}: a schema has no members by path"))
            };
        }
        if let Some(id) = metadata.index.types.get(name) {
            return self.type_member(*id, &segments, target);
        }
        if let Some(overloads) = metadata.index.operations.get(name) {
            let chosen: Vec<(usize, usize)> = overloads
                .iter()
                .map(|(s, i)| (*s as usize, *i as usize))
                .filter(|(s, i)| {
                    signature.is_none_or(|sig| {
                        overload_matches(metadata, &metadata.schemas[*s].operations[*i], sig)
                    })
                })
                .collect();
            if chosen.is_empty() {
                return Target::Missing(format!("{target}: no overload with these parameters"));
            }
            let mut found = Vec::new();
            for (s, i) in chosen {
                let operation = &metadata.schemas[s].operations[i];
                match segments.as_slice() {
                    [] => found.push(Address::Operation(s, i)),
                    ["$ReturnType"] => found.push(Address::OperationReturn(s, i)),
                    [parameter] => {
                        if let Some(p) = operation
                            .parameters
                            .iter()
                            .position(|p| *p.name == **parameter)
                        {
                            found.push(Address::OperationParameter(s, i, p));
                        }
                    }
                    _ => return Target::Contextual,
                }
            }
            return if found.is_empty() {
                Target::Missing(format!("{target}: no such parameter"))
            } else {
                Target::Found(found)
            };
        }
        if let Some(&(s, c)) = metadata.index.containers.get(name) {
            let (s, c) = (s as usize, c as usize);
            let container = &metadata.schemas[s].entity_containers[c];
            let Some(first) = segments.first() else {
                return Target::Found(vec![Address::Container(s, c)]);
            };
            let address = if let Some(e) = container
                .entity_sets
                .iter()
                .position(|x| *x.name == **first)
            {
                Address::EntitySet(s, c, e)
            } else if let Some(e) = container.singletons.iter().position(|x| *x.name == **first) {
                Address::Singleton(s, c, e)
            } else if let Some(e) = container
                .operation_imports
                .iter()
                .position(|x| *x.name == **first)
            {
                if let [_, parameter] = segments.as_slice() {
                    let import = &container.operation_imports[e];
                    return match import
                        .parameters
                        .iter()
                        .position(|p| *p.name == **parameter)
                    {
                        Some(p) => Target::Found(vec![Address::ImportParameter(s, c, e, p)]),
                        None => Target::Contextual,
                    };
                }
                Address::OperationImport(s, c, e)
            } else if let Some(e) = container
                .association_sets
                .iter()
                .position(|x| *x.name == **first)
            {
                Address::AssociationSet(s, c, e)
            } else {
                return Target::Missing(format!("{target}: {first} is not in container {name}"));
            };
            return if segments.len() == 1 {
                Target::Found(vec![address])
            } else {
                Target::Contextual
            };
        }
        if let Some(&(s, i)) = metadata.index.associations.get(name) {
            return Target::Found(vec![Address::Association(s as usize, i as usize)]);
        }
        let namespace = name.rsplit_once('.').map_or("", |(ns, _)| ns);
        if self.referenced.contains(namespace) {
            return Target::NotLoaded(namespace.to_owned());
        }
        if metadata.schemas.iter().any(|s| {
            *s.namespace == *namespace && s.terms.iter().any(|t| format!("{namespace}.{t}") == name)
        }) {
            return Target::Contextual;
        }
        Target::Missing(format!("{target}: no element named {name}"))
    }

    /// Resolves `Type/Member[/Member...]` paths inside a type.
    fn type_member(&self, id: TypeId, segments: &[&str], target: &str) -> Target {
        let metadata = &*self.metadata;
        let Some((first, rest)) = segments.split_first() else {
            return Target::Found(vec![match id {
                TypeId::Entity(s, i) => Address::EntityType(s as usize, i as usize),
                TypeId::Complex(s, i) => Address::ComplexType(s as usize, i as usize),
                TypeId::Enum(s, i) => Address::EnumType(s as usize, i as usize),
                TypeId::Definition(s, i) => Address::TypeDefinition(s as usize, i as usize),
            }]);
        };
        match id {
            TypeId::Enum(s, i) => {
                let enum_type = &metadata.schemas[s as usize].enum_types[i as usize];
                return match enum_type.members.iter().position(|m| *m.name == **first) {
                    Some(m) if rest.is_empty() => {
                        Target::Found(vec![Address::EnumMember(s as usize, i as usize, m)])
                    }
                    _ => Target::Missing(format!("{target}: no member {first}")),
                };
            }
            TypeId::Definition(..) => {
                return Target::Missing(format!("{target}: a type definition has no members"));
            }
            TypeId::Entity(..) | TypeId::Complex(..) => {}
        }
        // Look in the type, then its base types; a qualified segment is a type cast.
        if first.contains('.') {
            return match metadata.index.types.get(*first) {
                Some(cast) => self.type_member(*cast, rest, target),
                None => Target::Missing(format!("{target}: unknown type cast {first}")),
            };
        }
        let mut current = Some(id);
        let mut depth = 0;
        while let Some(id) = current {
            depth += 1;
            if depth > 64 {
                break;
            }
            let (ty, entity, (s, i)) = match id {
                TypeId::Entity(s, i) => (
                    StructuredType::Entity(&metadata.schemas[s as usize].entity_types[i as usize]),
                    true,
                    (s as usize, i as usize),
                ),
                TypeId::Complex(s, i) => (
                    StructuredType::Complex(
                        &metadata.schemas[s as usize].complex_types[i as usize],
                    ),
                    false,
                    (s as usize, i as usize),
                ),
                _ => break,
            };
            if let Some(p) = ty.properties().iter().position(|p| *p.name == **first) {
                if rest.is_empty() {
                    return Target::Found(vec![if entity {
                        Address::EntityProperty(s, i, p)
                    } else {
                        Address::ComplexProperty(s, i, p)
                    }]);
                }
                // A path into a complex property: continue in its type.
                let property_type = &ty.properties()[p].type_ref.name;
                return match metadata.index.types.get(&**property_type) {
                    Some(next) => self.type_member(*next, rest, target),
                    None => Target::Contextual,
                };
            }
            if let Some(n) = ty
                .navigation_properties()
                .iter()
                .position(|n| *n.name == **first)
            {
                return if rest.is_empty() {
                    Target::Found(vec![if entity {
                        Address::EntityNavigation(s, i, n)
                    } else {
                        Address::ComplexNavigation(s, i, n)
                    }])
                } else {
                    Target::Contextual
                };
            }
            current = ty
                .base_type()
                .and_then(|b| metadata.index.types.get(b).copied());
        }
        Target::Missing(format!("{target}: no property {first}"))
    }
}

/// Where a type reference sits, for rendering its path only when it is reported.
#[derive(Debug, Clone, Copy)]
enum Site {
    EntityType(usize, usize),
    EntityProperty(usize, usize, usize),
    EntityNavigation(usize, usize, usize),
    ComplexType(usize, usize),
    ComplexProperty(usize, usize, usize),
    ComplexNavigation(usize, usize, usize),
    TypeDefinition(usize, usize),
    OperationParameter(usize, usize, usize),
    OperationReturn(usize, usize),
    EntitySet(usize, usize, usize),
    Singleton(usize, usize, usize),
    OperationImport(usize, usize, usize),
    ImportParameter(usize, usize, usize, usize),
}

fn operation_path(schema: &Schema, o: usize) -> String {
    let operation = &schema.operations[o];
    let kind = match operation.kind {
        OperationKind::Function => "Function",
        OperationKind::Action => "Action",
    };
    format!("Schema[{}]/{kind}[{}]", schema.namespace, operation.name)
}

fn import_path(schema: &Schema, c: usize, e: usize) -> String {
    let container = &schema.entity_containers[c];
    let import = &container.operation_imports[e];
    format!(
        "Schema[{}]/EntityContainer[{}]/{:?}[{}]",
        schema.namespace, container.name, import.kind, import.name
    )
}

/// The element path of a site, in the form the parser uses.
fn site_path(metadata: &Metadata, site: Site) -> String {
    let schema = |s: usize| &metadata.schemas[s];
    let entity = |s: usize, i: usize| {
        format!(
            "Schema[{}]/EntityType[{}]",
            schema(s).namespace,
            schema(s).entity_types[i].name
        )
    };
    let complex = |s: usize, i: usize| {
        format!(
            "Schema[{}]/ComplexType[{}]",
            schema(s).namespace,
            schema(s).complex_types[i].name
        )
    };
    let container = |s: usize, c: usize| {
        format!(
            "Schema[{}]/EntityContainer[{}]",
            schema(s).namespace,
            schema(s).entity_containers[c].name
        )
    };
    match site {
        Site::EntityType(s, i) => entity(s, i),
        Site::EntityProperty(s, i, p) => format!(
            "{}/Property[{}]",
            entity(s, i),
            schema(s).entity_types[i].properties[p].name
        ),
        Site::EntityNavigation(s, i, n) => format!(
            "{}/NavigationProperty[{}]",
            entity(s, i),
            schema(s).entity_types[i].navigation_properties[n].name
        ),
        Site::ComplexType(s, i) => complex(s, i),
        Site::ComplexProperty(s, i, p) => format!(
            "{}/Property[{}]",
            complex(s, i),
            schema(s).complex_types[i].properties[p].name
        ),
        Site::ComplexNavigation(s, i, n) => format!(
            "{}/NavigationProperty[{}]",
            complex(s, i),
            schema(s).complex_types[i].navigation_properties[n].name
        ),
        Site::TypeDefinition(s, i) => format!(
            "Schema[{}]/TypeDefinition[{}]",
            schema(s).namespace,
            schema(s).type_definitions[i].name
        ),
        Site::OperationParameter(s, o, p) => format!(
            "{}/Parameter[{}]",
            operation_path(schema(s), o),
            schema(s).operations[o].parameters[p].name
        ),
        Site::OperationReturn(s, o) => format!("{}/ReturnType", operation_path(schema(s), o)),
        Site::EntitySet(s, c, e) => format!(
            "{}/EntitySet[{}]",
            container(s, c),
            schema(s).entity_containers[c].entity_sets[e].name
        ),
        Site::Singleton(s, c, e) => format!(
            "{}/Singleton[{}]",
            container(s, c),
            schema(s).entity_containers[c].singletons[e].name
        ),
        Site::OperationImport(s, c, e) => import_path(schema(s), c, e),
        Site::ImportParameter(s, c, e, p) => format!(
            "{}/Parameter[{}]",
            import_path(schema(s), c, e),
            schema(s).entity_containers[c].operation_imports[e].parameters[p].name
        ),
    }
}

#[derive(Debug, Clone, Copy)]
enum Expect {
    Entity,
    Complex,
    Value,
}

/// Splits `NS.Op(NS.A,Collection(NS.B))/Param` into the head and the rest after the first `/`
/// outside parentheses.
fn split_head(target: &str) -> (&str, &str) {
    let mut depth = 0usize;
    for (i, c) in target.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            '/' if depth == 0 => return (&target[..i], &target[i + 1..]),
            _ => {}
        }
    }
    (target, "")
}

/// Whether an overload matches the parameter type list of a target path: the binding parameter
/// for bound actions, all parameters for functions (CSDL 4.01 section 14.2.1). Services also write
/// the other form (SAP the binding parameter alone for functions, Microsoft all parameters for
/// actions); both identify one overload, so both are accepted.
fn overload_matches(metadata: &Metadata, operation: &Operation, signature: &str) -> bool {
    let wanted: Vec<String> = split_signature(signature)
        .into_iter()
        .map(|t| normalize_type_text(metadata, t))
        .collect();
    let types: Vec<String> = operation
        .parameters
        .iter()
        .map(|p| p.type_ref.to_string())
        .collect();
    let binding: &[String] = if operation.is_bound { &types[..1] } else { &[] };
    wanted == types || (operation.is_bound && wanted == binding)
}

fn split_signature(signature: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in signature.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(signature[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = signature[start..].trim();
    if !last.is_empty() {
        parts.push(last);
    }
    parts
}

fn normalize_type_text(metadata: &Metadata, text: &str) -> String {
    match text
        .strip_prefix("Collection(")
        .and_then(|t| t.strip_suffix(')'))
    {
        Some(inner) => format!("Collection({})", metadata.normalize(inner.trim())),
        None => metadata.normalize(text).into_owned(),
    }
}

impl Metadata {
    /// Replaces aliases in the head of a target path and in an overload signature.
    pub(crate) fn normalize_target(&self, target: &str) -> String {
        let (head, rest) = split_head(target);
        let head = match head.split_once('(') {
            Some((name, args)) => {
                let args = args.strip_suffix(')').unwrap_or(args);
                let args: Vec<String> = split_signature(args)
                    .into_iter()
                    .map(|t| normalize_type_text(self, t))
                    .collect();
                format!("{}({})", self.normalize(name), args.join(","))
            }
            None => self.normalize(head).into_owned(),
        };
        if rest.is_empty() {
            head
        } else {
            // Type casts inside the path may use aliases too.
            let rest: Vec<String> = rest
                .split('/')
                .map(|segment| {
                    if segment.contains('.') && !segment.starts_with('@') {
                        self.normalize(segment).into_owned()
                    } else {
                        segment.to_owned()
                    }
                })
                .collect();
            format!("{head}/{}", rest.join("/"))
        }
    }
}
