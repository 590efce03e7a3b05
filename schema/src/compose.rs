//! Composition: parsed OData models of many services into one [`Graph`].
//!
//! Invariants: no I/O, and no input stops the composition. Whatever cannot be composed (an entity
//! set whose type is missing, a navigation whose target set is unknown, an association naming an
//! unknown property) is left out and reported; the rest of the graph is built. Names are made
//! legal and unique in a fixed order (configuration order, then document order), so the same
//! inputs always give the same schema.

use std::collections::{HashMap, HashSet};

use bizgraph_metadata::annotations::Terms;
use bizgraph_metadata::{
    Annotations, EntityContainer, EntitySet, Metadata, Multiplicity, OperationImportKind,
    OperationKind as ODataOperationKind, Parameter, Property, Singleton, StructuredType, TypeRef,
};
use serde::Serialize;

use crate::edm::{Dialect, EdmType};
use crate::model::{
    Binding, Capabilities, ComplexId, ComplexType, Entity, EntityId, EntityKind, EnumId,
    EnumMember, EnumType, Field, FieldKind, Graph, Namespace, NamespaceId, Operation,
    OperationKind, Relation, RelationKind, ReturnKind, Returns, Service, ServiceId,
};
use crate::names::{Scope, sanitize};

/// One service to compose, with its parsed `$metadata`.
#[derive(Debug, Clone, Copy)]
pub struct ServiceInput<'a> {
    /// The destination that reaches it.
    pub destination: &'a str,
    /// Service root below the destination URL.
    pub path: &'a str,
    /// Its model.
    pub metadata: &'a Metadata,
}

/// One data source: a namespace and the services that succeeded in loading.
#[derive(Debug, Clone)]
pub struct SourceInput<'a> {
    /// Namespace name (`sap.s4`).
    pub name: &'a str,
    /// Its services.
    pub services: Vec<ServiceInput<'a>>,
}

/// A configured relation across sources, joined on property values.
#[derive(Debug, Clone, Default)]
pub struct CrossAssociation {
    /// Source entity, `<namespace>.<EntitySet>`.
    pub from: String,
    /// Target entity, `<namespace>.<EntitySet>`.
    pub to: String,
    /// (source property, target property) pairs.
    pub pairs: Vec<(String, String)>,
    /// Field name on the source.
    pub name: String,
    /// To-many.
    pub many: bool,
}

/// How serious a composition finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Something configured or declared was left out.
    Warning,
    /// Something was renamed or adjusted; nothing is missing.
    Info,
}

/// One finding of the composition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Warning or info.
    pub level: Level,
    /// The namespace concerned, when one is.
    pub namespace: Option<String>,
    /// What happened, naming the element.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.level {
            Level::Warning => "warning",
            Level::Info => "info",
        };
        match &self.namespace {
            Some(namespace) => write!(f, "{level}: [{namespace}] {}", self.message),
            None => write!(f, "{level}: {}", self.message),
        }
    }
}

/// The composed graph and what composition found on the way.
#[derive(Debug, Clone, Default)]
pub struct Composition {
    /// The graph.
    pub graph: Graph,
    /// Findings, in composition order.
    pub findings: Vec<Finding>,
}

/// GraphQL type names the schema defines itself; generated names must avoid them.
pub const RESERVED_TYPE_NAMES: &[&str] = &[
    "Query",
    "Mutation",
    "Subscription",
    "String",
    "Int",
    "Float",
    "Boolean",
    "ID",
    "Decimal",
    "Int64",
    "Date",
    "DateTime",
    "Time",
    "UUID",
    "Binary",
    "Duration",
    "JSON",
    "SortDirection",
];

/// Suffixes of the types generated beside each entity type.
pub const ENTITY_TYPE_SUFFIXES: &[&str] =
    &["_connection", "_filter", "_orderBy", "_input", "_patch"];

/// Composes the services of all data sources and the configured associations into one graph.
pub fn compose(sources: &[SourceInput<'_>], associations: &[CrossAssociation]) -> Composition {
    let mut composer = Composer {
        graph: Graph::default(),
        findings: Vec::new(),
        types: Scope::with_reserved(RESERVED_TYPE_NAMES.iter().copied()),
        roots: Scope::default(),
        field_scopes: Vec::new(),
        complex_ids: HashMap::new(),
        enum_ids: HashMap::new(),
    };
    for source in sources {
        composer.namespace(source);
    }
    for association in associations {
        composer.association(association);
    }
    Composition {
        graph: composer.graph,
        findings: composer.findings,
    }
}

struct Composer {
    graph: Graph,
    findings: Vec<Finding>,
    /// GraphQL type names of the whole schema.
    types: Scope,
    /// Root fields (one per namespace).
    roots: Scope,
    /// Field names per entity (fields and relations share it).
    field_scopes: Vec<Scope>,
    complex_ids: HashMap<(NamespaceId, String), ComplexId>,
    enum_ids: HashMap<(NamespaceId, String), EnumId>,
}

impl Composer {
    fn note(&mut self, level: Level, namespace: Option<NamespaceId>, message: String) {
        let namespace = namespace.map(|id| self.graph.namespaces[id].name.clone());
        self.findings.push(Finding {
            level,
            namespace,
            message,
        });
    }

    fn namespace(&mut self, source: &SourceInput<'_>) {
        let (wanted, _) = sanitize(source.name);
        let (gql_name, renamed) = self.roots.claim(&wanted);
        let namespace = self.graph.namespaces.len();
        self.graph.namespaces.push(Namespace {
            name: source.name.to_owned(),
            gql_name: gql_name.clone(),
            services: Vec::new(),
            entities: Vec::new(),
            operations: Vec::new(),
        });
        if renamed {
            self.note(
                Level::Info,
                Some(namespace),
                format!("root field is {gql_name}: {wanted} is taken by another data source"),
            );
        }
        // Entity field names and operation names share the namespace's object type.
        let mut members = Scope::default();
        let mut first_entity = Vec::new();
        for input in &source.services {
            let service = self.graph.services.len();
            self.graph.services.push(Service {
                namespace,
                destination: input.destination.to_owned(),
                path: input.path.trim_end_matches('/').to_owned(),
                dialect: Dialect::from(input.metadata.version),
            });
            self.graph.namespaces[namespace].services.push(service);
            first_entity.push(self.graph.entities.len());
            let sets = entity_sets(input.metadata);
            if sets.is_empty() && input.metadata.entity_container().is_none() {
                self.note(
                    Level::Warning,
                    Some(namespace),
                    format!(
                        "service {} (destination {}) declares no entity container; it adds nothing",
                        input.path, input.destination
                    ),
                );
                continue;
            }
            for (set_name, entity_set) in sets {
                let holder = Holder {
                    kind: EntityKind::Set,
                    name: &set_name,
                    entity_type: &entity_set.entity_type,
                    annotations: &entity_set.annotations,
                };
                self.entity(namespace, service, input, holder, &mut members);
            }
            for (name, singleton) in singletons(input.metadata) {
                let holder = Holder {
                    kind: EntityKind::Singleton,
                    name: &name,
                    entity_type: &singleton.entity_type,
                    annotations: &singleton.annotations,
                };
                self.entity(namespace, service, input, holder, &mut members);
            }
            // Entity types no set or singleton holds: reached through containment or unbound
            // navigation, and part of the model a client browses.
            let held: HashSet<String> = self.graph.entities[first_entity[first_entity.len() - 1]..]
                .iter()
                .map(|e| e.type_name.clone())
                .collect();
            let empty = Annotations::default();
            for schema in &input.metadata.schemas {
                for entity_type in &schema.entity_types {
                    let qualified = format!("{}.{}", schema.namespace, entity_type.name);
                    if held.contains(&qualified) {
                        continue;
                    }
                    let holder = Holder {
                        kind: EntityKind::Contained,
                        name: "",
                        entity_type: &qualified,
                        annotations: &empty,
                    };
                    self.entity(namespace, service, input, holder, &mut members);
                }
            }
        }
        // Relations need every entity of the service to exist first.
        for (index, input) in source.services.iter().enumerate() {
            let service = self.graph.namespaces[namespace].services[index];
            let end = first_entity
                .get(index + 1)
                .copied()
                .unwrap_or(self.graph.entities.len());
            for entity in first_entity[index]..end {
                self.navigations(entity, service, input.metadata);
            }
            for entity in first_entity[index]..end {
                self.constraints_from_reverse(entity);
            }
            if let Some(container) = input.metadata.entity_container() {
                self.operations(namespace, service, input.metadata, container, &mut members);
            }
            self.bound_operations(namespace, service, input.metadata, &mut members);
        }
    }

    fn entity(
        &mut self,
        namespace: NamespaceId,
        service: ServiceId,
        input: &ServiceInput<'_>,
        holder: Holder<'_>,
        members: &mut Scope,
    ) {
        let metadata = input.metadata;
        let what = match holder.kind {
            EntityKind::Set => "entity set",
            EntityKind::Singleton => "singleton",
            EntityKind::Contained => "entity type",
        };
        let Some(entity_type) = metadata.entity_type(holder.entity_type) else {
            self.note(
                Level::Warning,
                Some(namespace),
                format!(
                    "{what} {} left out: its type {} is not declared in {}",
                    holder.name, holder.entity_type, input.path
                ),
            );
            return;
        };
        let id = self.graph.entities.len();
        let ns_gql = self.graph.namespaces[namespace].gql_name.clone();
        let type_simple = holder
            .entity_type
            .rsplit('.')
            .next()
            .unwrap_or(holder.entity_type);
        // What messages call the entity: the set or singleton, or the type of a contained one.
        let shown = if holder.kind == EntityKind::Contained {
            type_simple
        } else {
            holder.name
        };
        let (gql_field, gql_type) = if holder.kind == EntityKind::Contained {
            // No root field; the type is named after the entity type.
            let (wanted, _) = sanitize(type_simple);
            (
                String::new(),
                self.claim_entity_type(&format!("{ns_gql}_{wanted}")),
            )
        } else {
            let (set_gql, _) = sanitize(holder.name);
            let (gql_field, renamed) = members.claim(&set_gql);
            if renamed {
                self.note(
                    Level::Info,
                    Some(namespace),
                    format!(
                        "{what} {} of {} is exposed as {gql_field}: the name is taken in the namespace",
                        holder.name, input.path
                    ),
                );
            }
            let gql_type = self.claim_entity_type(&format!("{ns_gql}_{gql_field}"));
            (gql_field, gql_type)
        };

        let structured = StructuredType::Entity(entity_type);
        let set_terms = holder.annotations.terms.as_deref();
        let type_terms = entity_type.annotations.terms.as_deref();
        let terms = set_terms.or(type_terms);
        let mut capabilities = capabilities(
            holder.annotations,
            &entity_type.annotations,
            terms,
            Dialect::from(metadata.version),
        );
        match holder.kind {
            EntityKind::Set => {}
            // One instance at a fixed URL: it can be read and updated, not listed, created or
            // deleted.
            EntityKind::Singleton => {
                capabilities.filterable = false;
                capabilities.sortable = false;
                capabilities.insertable = false;
                capabilities.deletable = false;
                capabilities.countable = false;
                capabilities.searchable = false;
                capabilities.top = false;
                capabilities.skip = false;
                capabilities.requires_filter = false;
            }
            // Only reached inside its parent's answer: read with the options of an expand, no
            // URL of its own to write to or search.
            EntityKind::Contained => {
                capabilities = Capabilities {
                    filterable: true,
                    sortable: true,
                    countable: true,
                    searchable: false,
                    top: true,
                    skip: true,
                    insertable: false,
                    updatable: false,
                    deletable: false,
                    requires_filter: false,
                    addressable: false,
                };
            }
        }
        let restrictions = if holder.kind == EntityKind::Contained {
            Restrictions::default()
        } else {
            Restrictions::of(terms)
        };

        // Names that are legal as written are held for their own property or navigation, so
        // a renamed one never pushes them aside.
        let mut scope = Scope::default();
        scope.hold(
            metadata
                .all_properties(structured)
                .iter()
                .map(|property| &*property.name)
                .chain(
                    metadata
                        .all_navigation_properties(structured)
                        .iter()
                        .map(|navigation| &*navigation.name),
                )
                .filter(|name| !sanitize(name).1),
        );
        let mut fields = Vec::new();
        let mut etag = holder
            .annotations
            .raw("Org.OData.Core.V1.OptimisticConcurrency", None)
            .is_some();
        for property in metadata.all_properties(structured) {
            etag |= property.concurrency_token;
            if let Some(field) = self.field(
                namespace,
                shown,
                metadata,
                property,
                &restrictions,
                &mut scope,
            ) {
                fields.push(field);
            } else {
                self.note(
                    Level::Warning,
                    Some(namespace),
                    format!(
                        "property {shown}.{} left out: type {} is not declared",
                        property.name, property.type_ref
                    ),
                );
            }
        }
        let mut key = Vec::new();
        for property_ref in metadata.key_of(entity_type) {
            match fields.iter().position(|f| f.name == *property_ref.name) {
                Some(index) => {
                    key.push(index);
                    fields[index].updatable = false;
                }
                None => {
                    key.clear();
                    if holder.kind == EntityKind::Set {
                        self.note(
                            Level::Warning,
                            Some(namespace),
                            format!(
                                "entity set {}: key property {} is not a top-level property; the set cannot be read by key",
                                holder.name, property_ref.name
                            ),
                        );
                    }
                    break;
                }
            }
        }
        if key.is_empty() && holder.kind == EntityKind::Set {
            capabilities.addressable = false;
        }
        self.field_scopes.push(scope);
        let annotations = if holder.annotations.label().is_some() {
            holder.annotations
        } else {
            &entity_type.annotations
        };
        self.graph.entities.push(Entity {
            kind: holder.kind,
            namespace,
            service,
            set_name: holder.name.to_owned(),
            type_name: metadata.normalize(holder.entity_type).into_owned(),
            gql_field,
            gql_type,
            label: annotations.label().map(str::to_owned),
            description: annotations
                .description()
                .or(holder.annotations.description())
                .map(str::to_owned),
            key,
            fields,
            relations: Vec::new(),
            capabilities,
            etag,
            operations: Vec::new(),
        });
        self.graph.namespaces[namespace].entities.push(id);
    }

    /// Claims a type name and the names of the types generated beside it.
    fn claim_entity_type(&mut self, wanted: &str) -> String {
        let mut candidate = wanted.to_owned();
        let mut number = 1;
        loop {
            let family_free = !self.types.contains(&candidate)
                && ENTITY_TYPE_SUFFIXES
                    .iter()
                    .all(|suffix| !self.types.contains(&format!("{candidate}{suffix}")));
            if family_free {
                self.types.claim(&candidate);
                for suffix in ENTITY_TYPE_SUFFIXES {
                    self.types.claim(&format!("{candidate}{suffix}"));
                }
                return candidate;
            }
            number += 1;
            candidate = format!("{wanted}_{number}");
        }
    }

    fn field(
        &mut self,
        namespace: NamespaceId,
        owner: &str,
        metadata: &Metadata,
        property: &Property,
        restrictions: &Restrictions<'_>,
        scope: &mut Scope,
    ) -> Option<Field> {
        let mut kind = self.field_kind(namespace, metadata, &property.type_ref)?;
        let sap_date = property
            .annotations
            .sap
            .as_deref()
            .and_then(|s| s.display_format.as_deref())
            .is_some_and(|format| format.eq_ignore_ascii_case("Date"));
        if kind == FieldKind::Scalar(EdmType::DateTime) && sap_date {
            // SAP v2 services have no Edm.Date; `sap:display-format="Date"` marks a
            // DateTime that holds a date. The literal stays `datetime'...'` on the wire.
            kind = FieldKind::Scalar(EdmType::Date);
        }
        let (wanted, sanitized) = sanitize(&property.name);
        let (gql_name, renamed) = if sanitized {
            scope.claim_renamed(&wanted)
        } else {
            scope.claim(&wanted)
        };
        if sanitized || renamed {
            self.note(
                Level::Info,
                Some(namespace),
                format!(
                    "property {owner}.{} is exposed as {gql_name}: {}",
                    property.name,
                    match (sanitized, renamed) {
                        (true, true) => format!(
                            "the name is not a legal GraphQL name and {wanted} belongs to another field"
                        ),
                        (true, false) => "the name is not a legal GraphQL name".to_owned(),
                        _ => "another property has that name".to_owned(),
                    }
                ),
            );
        }
        let sap = property.annotations.sap.as_deref();
        let terms = property.annotations.terms.as_deref();
        let name = &*property.name;
        let simple = !property.type_ref.collection;
        let comparable = match kind {
            FieldKind::Scalar(ty) => ty.is_comparable(),
            FieldKind::Enum(_) => true,
            FieldKind::Complex(_) => false,
        };
        let computed = terms.and_then(|t| t.computed).unwrap_or(false);
        let immutable = terms.and_then(|t| t.immutable).unwrap_or(false);
        let unit = sap
            .and_then(|s| s.unit.as_deref())
            .map(str::to_owned)
            .or_else(|| {
                terms
                    .and_then(|t| t.iso_currency.as_ref().or(t.unit.as_ref()))
                    .map(|unit| match unit {
                        bizgraph_metadata::annotations::ValueOrPath::Path(path) => path.to_string(),
                        bizgraph_metadata::annotations::ValueOrPath::Value(value) => {
                            format!("'{value}'")
                        }
                    })
            });
        Some(Field {
            name: name.to_owned(),
            gql_name,
            kind,
            collection: property.type_ref.collection,
            nullable: property.nullable,
            filterable: simple
                && comparable
                && sap.and_then(|s| s.filterable).unwrap_or(true)
                && !restrictions.non_filterable.contains(&name),
            sortable: simple
                && comparable
                && sap.and_then(|s| s.sortable).unwrap_or(true)
                && !restrictions.non_sortable.contains(&name),
            insertable: !computed
                && sap.and_then(|s| s.creatable).unwrap_or(true)
                && !restrictions.non_insertable.contains(&name),
            updatable: !computed
                && !immutable
                && sap.and_then(|s| s.updatable).unwrap_or(true)
                && !restrictions.non_updatable.contains(&name),
            label: property.annotations.label().map(str::to_owned),
            description: property.annotations.description().map(str::to_owned),
            unit,
            unit_is_currency: match terms {
                Some(t) if t.iso_currency.is_some() => Some(true),
                Some(t) if t.unit.is_some() => Some(false),
                _ => None,
            }
            .filter(|_| sap.and_then(|s| s.unit.as_deref()).is_none()),
            semantics: sap.and_then(|s| s.semantics.as_deref()).map(str::to_owned),
            max_length: match property.facets.max_length {
                Some(bizgraph_metadata::MaxLength::Length(length)) => Some(length),
                _ => None,
            },
            precision: property.facets.precision,
            scale: match property.facets.scale {
                Some(bizgraph_metadata::Scale::Fixed(scale)) => Some(scale),
                _ => None,
            },
        })
    }

    fn field_kind(
        &mut self,
        namespace: NamespaceId,
        metadata: &Metadata,
        type_ref: &TypeRef,
    ) -> Option<FieldKind> {
        if type_ref.is_edm() {
            return Some(FieldKind::Scalar(EdmType::from_name(&type_ref.name)));
        }
        if let Some(definition) = metadata.type_definition(&type_ref.name) {
            return Some(FieldKind::Scalar(EdmType::from_name(
                &definition.underlying_type,
            )));
        }
        let qualified = metadata.normalize(&type_ref.name).into_owned();
        if metadata.enum_type(&qualified).is_some() {
            return Some(FieldKind::Enum(
                self.enum_type(namespace, metadata, &qualified),
            ));
        }
        if metadata.complex_type(&qualified).is_some() {
            return Some(FieldKind::Complex(
                self.complex_type(namespace, metadata, &qualified),
            ));
        }
        None
    }

    fn enum_type(
        &mut self,
        namespace: NamespaceId,
        metadata: &Metadata,
        qualified: &str,
    ) -> EnumId {
        if let Some(&id) = self.enum_ids.get(&(namespace, qualified.to_owned())) {
            return id;
        }
        let Some(enum_type) = metadata.enum_type(qualified) else {
            unreachable!("checked by the caller");
        };
        let ns_gql = &self.graph.namespaces[namespace].gql_name;
        let (wanted, _) = sanitize(&format!("{ns_gql}_{}", enum_type.name));
        let (gql_type, _) = self.types.claim(&wanted);
        let mut values = Scope::with_reserved(["true", "false", "null"]);
        let members = enum_type
            .members
            .iter()
            .map(|member| EnumMember {
                name: member.name.to_string(),
                gql_name: values.claim(&sanitize(&member.name).0).0,
            })
            .collect();
        let id = self.graph.enums.len();
        self.graph.enums.push(EnumType {
            name: qualified.to_owned(),
            namespace,
            gql_type,
            members,
            flags: enum_type.is_flags,
        });
        self.enum_ids.insert((namespace, qualified.to_owned()), id);
        id
    }

    fn complex_type(
        &mut self,
        namespace: NamespaceId,
        metadata: &Metadata,
        qualified: &str,
    ) -> ComplexId {
        if let Some(&id) = self.complex_ids.get(&(namespace, qualified.to_owned())) {
            return id;
        }
        let Some(complex) = metadata.complex_type(qualified) else {
            unreachable!("checked by the caller");
        };
        let ns_gql = self.graph.namespaces[namespace].gql_name.clone();
        let (wanted, _) = sanitize(&format!("{ns_gql}_{}", complex.name));
        let (gql_type, _) = self.types.claim(&wanted);
        // Registered before its fields so that recursive complex types end.
        let id = self.graph.complex_types.len();
        self.graph.complex_types.push(ComplexType {
            name: qualified.to_owned(),
            namespace,
            gql_type,
            fields: Vec::new(),
        });
        self.complex_ids
            .insert((namespace, qualified.to_owned()), id);
        let mut scope = Scope::default();
        let mut fields = Vec::new();
        let none = Restrictions::default();
        for property in metadata.all_properties(StructuredType::Complex(complex)) {
            if let Some(mut field) =
                self.field(namespace, qualified, metadata, property, &none, &mut scope)
            {
                // Filtering into complex properties is not offered (yet): paths are per entity.
                field.filterable = false;
                field.sortable = false;
                fields.push(field);
            }
        }
        self.graph.complex_types[id].fields = fields;
        id
    }

    fn navigations(&mut self, entity: EntityId, service: ServiceId, metadata: &Metadata) {
        let namespace = self.graph.entities[entity].namespace;
        let Some(entity_type) = metadata.entity_type(&self.graph.entities[entity].type_name) else {
            return;
        };
        let own_name = &self.graph.entities[entity].set_name;
        let bindings = match self.graph.entities[entity].kind {
            EntityKind::Set => entity_sets(metadata)
                .into_iter()
                .find(|(name, _)| name == own_name)
                .map(|(_, set)| set.navigation_property_bindings.as_slice()),
            EntityKind::Singleton => singletons(metadata)
                .into_iter()
                .find(|(name, _)| name == own_name)
                .map(|(_, singleton)| singleton.navigation_property_bindings.as_slice()),
            EntityKind::Contained => None,
        };
        for navigation in metadata.all_navigation_properties(StructuredType::Entity(entity_type)) {
            let target_set = bindings
                .and_then(|bindings| bindings.iter().find(|b| *b.path == *navigation.name))
                .map(|binding| {
                    // `NS.Container/Set` or a simple set name of the same container.
                    binding
                        .target
                        .rsplit_once('/')
                        .map_or(&*binding.target, |(_, set)| set)
                        .to_owned()
                });
            let target_type = metadata.normalize(&navigation.target.name).into_owned();
            let candidates: Vec<EntityId> = self.graph.namespaces[namespace]
                .entities
                .iter()
                .copied()
                .filter(|&id| self.graph.entities[id].service == service)
                .filter(|&id| match &target_set {
                    Some(name) => {
                        self.graph.entities[id].kind != EntityKind::Contained
                            && self.graph.entities[id].set_name == *name
                    }
                    None => self.graph.entities[id].type_name == target_type,
                })
                .collect();
            let source_name = self.graph.entities[entity].shown_name().to_owned();
            let target = match candidates.as_slice() {
                [one] => *one,
                // Contained entities live inside their parent: any holder of the type describes
                // them, and they are only ever read through the navigation.
                [first, ..] if navigation.contains_target => *first,
                [] => {
                    self.note(
                        Level::Info,
                        Some(namespace),
                        format!(
                            "navigation {source_name}.{} left out: no entity set of type {target_type} in the service",
                            navigation.name
                        ),
                    );
                    continue;
                }
                _ => {
                    self.note(
                        Level::Info,
                        Some(namespace),
                        format!(
                            "navigation {source_name}.{} left out: several entity sets of type {target_type} and no binding says which",
                            navigation.name
                        ),
                    );
                    continue;
                }
            };
            let constraints = navigation
                .referential_constraints
                .iter()
                .filter_map(|constraint| {
                    let local = self.graph.entities[entity].field(&constraint.property)?.0;
                    let remote = self.graph.entities[target]
                        .field(&constraint.referenced_property)?
                        .0;
                    Some((local, remote))
                })
                .collect();
            let (wanted, sanitized) = sanitize(&navigation.name);
            let (gql_name, renamed) = if sanitized {
                self.field_scopes[entity].claim_renamed(&wanted)
            } else {
                self.field_scopes[entity].claim(&wanted)
            };
            if renamed {
                self.note(
                    Level::Info,
                    Some(namespace),
                    format!(
                        "navigation {source_name}.{} is exposed as {gql_name}: a property has that name",
                        navigation.name
                    ),
                );
            }
            self.graph.entities[entity].relations.push(Relation {
                name: navigation.name.to_string(),
                gql_name,
                target,
                many: navigation.multiplicity == Multiplicity::Many,
                nullable: navigation.multiplicity != Multiplicity::One,
                kind: RelationKind::Navigation,
                constraints,
                partner: navigation.partner.as_deref().map(str::to_owned),
            });
        }
    }

    /// Services often declare a key equality on one direction only (SAP's v2 services, CAP's
    /// v2 adapter: the to-one `to_SoldToParty` has it, the to-many `to_SalesOrder` not). A
    /// to-many navigation without constraints takes them, reversed, from the one to-one
    /// navigation of the target that leads back.
    fn constraints_from_reverse(&mut self, entity: EntityId) {
        for index in 0..self.graph.entities[entity].relations.len() {
            let relation = &self.graph.entities[entity].relations[index];
            if !relation.constraints.is_empty() || relation.kind != RelationKind::Navigation {
                continue;
            }
            let target = relation.target;
            let reverse: Vec<&Relation> = self.graph.entities[target]
                .relations
                .iter()
                .filter(|r| {
                    r.target == entity
                        && !r.many
                        && r.kind == RelationKind::Navigation
                        && !r.constraints.is_empty()
                })
                .collect();
            if let [back] = reverse.as_slice() {
                let pairs = back
                    .constraints
                    .iter()
                    .map(|&(remote, local)| (local, remote))
                    .collect();
                self.graph.entities[entity].relations[index].constraints = pairs;
            }
        }
    }

    fn operations(
        &mut self,
        namespace: NamespaceId,
        service: ServiceId,
        metadata: &Metadata,
        container: &EntityContainer,
        members: &mut Scope,
    ) {
        for import in &container.operation_imports {
            // v4 imports name a schema operation carrying parameters and result; v2 imports
            // carry them themselves.
            let (kind, parameters, returns) = match import.kind {
                OperationImportKind::FunctionImport if import.operation.is_none() => {
                    let post = import
                        .http_method
                        .as_deref()
                        .is_some_and(|m| m.eq_ignore_ascii_case("POST"));
                    let kind = if post {
                        OperationKind::Action
                    } else {
                        OperationKind::Function
                    };
                    (kind, &import.parameters, import.return_type.clone())
                }
                _ => {
                    let Some(qualified) = import.operation.as_deref() else {
                        continue;
                    };
                    let Some(operation) = metadata.operations(qualified).find(|o| !o.is_bound)
                    else {
                        self.note(
                            Level::Info,
                            Some(namespace),
                            format!(
                                "operation import {} left out: unbound {qualified} is not declared",
                                import.name
                            ),
                        );
                        continue;
                    };
                    let kind = match operation.kind {
                        ODataOperationKind::Function => OperationKind::Function,
                        ODataOperationKind::Action => OperationKind::Action,
                    };
                    (
                        kind,
                        &operation.parameters,
                        operation.return_type.as_ref().map(|r| r.type_ref.clone()),
                    )
                }
            };
            let entity_set = import.entity_set.as_deref();
            let signature = self.signature(
                namespace, service, metadata, parameters, returns, entity_set,
            );
            let Some((fields, returns)) = signature else {
                self.note(
                    Level::Info,
                    Some(namespace),
                    format!(
                        "operation import {} left out: a parameter or result type is not in the graph",
                        import.name
                    ),
                );
                continue;
            };
            let (gql_name, _) = members.claim(&sanitize(&import.name).0);
            let id = self.graph.operations.len();
            self.graph.operations.push(Operation {
                namespace,
                service,
                name: import.name.to_string(),
                binding: None,
                gql_name,
                kind,
                parameters: fields,
                returns,
                description: import.annotations.description().map(str::to_owned),
            });
            self.graph.namespaces[namespace].operations.push(id);
        }
    }

    /// Parameters and result of an operation in graph terms; `None` when a type is not in the
    /// graph. An entity result is the entity of `entity_set` if given, else the first of the
    /// service with the result's type.
    fn signature(
        &mut self,
        namespace: NamespaceId,
        service: ServiceId,
        metadata: &Metadata,
        parameters: &[Parameter],
        returns: Option<TypeRef>,
        entity_set: Option<&str>,
    ) -> Option<Signature> {
        let mut scope = Scope::default();
        let mut fields = Vec::new();
        for parameter in parameters {
            let kind = self.field_kind(namespace, metadata, &parameter.type_ref)?;
            let (gql_name, _) = scope.claim(&sanitize(&parameter.name).0);
            fields.push(Field {
                name: parameter.name.to_string(),
                gql_name,
                kind,
                collection: parameter.type_ref.collection,
                nullable: parameter.nullable,
                filterable: false,
                sortable: false,
                insertable: true,
                updatable: true,
                label: parameter.annotations.label().map(str::to_owned),
                description: parameter.annotations.description().map(str::to_owned),
                unit: None,
                unit_is_currency: None,
                semantics: None,
                max_length: None,
                precision: parameter.facets.precision,
                scale: None,
            });
        }
        let Some(type_ref) = returns else {
            return Some((fields, None));
        };
        let qualified = metadata.normalize(&type_ref.name).into_owned();
        let kind = if metadata.entity_type(&qualified).is_some() {
            let by_set = entity_set.and_then(|set| {
                let set = set.rsplit_once('/').map_or(set, |(_, s)| s);
                self.graph.entity(namespace, set)
            });
            let by_type = || {
                self.graph.namespaces[namespace]
                    .entities
                    .iter()
                    .copied()
                    .find(|&id| {
                        self.graph.entities[id].service == service
                            && self.graph.entities[id].type_name == qualified
                    })
            };
            ReturnKind::Entity(by_set.or_else(by_type)?)
        } else {
            ReturnKind::Value(self.field_kind(namespace, metadata, &type_ref)?)
        };
        Some((
            fields,
            Some(Returns {
                kind,
                collection: type_ref.collection,
            }),
        ))
    }

    /// Bound actions and functions (v4): each is attached to every set and singleton of the
    /// service whose type it is bound to, with the binding parameter left out of its
    /// parameters; entity by entity, in document order within each. Operations bound to types
    /// only reached through navigation are left out: they have no URL of their own to call
    /// them on.
    fn bound_operations(
        &mut self,
        namespace: NamespaceId,
        service: ServiceId,
        metadata: &Metadata,
        members: &mut Scope,
    ) {
        // (schema namespace, operation, binding parameter, bound type) of every bound operation.
        let mut bound = Vec::new();
        for schema in &metadata.schemas {
            for operation in schema.operations.iter().filter(|o| o.is_bound) {
                let Some((binding, _)) = operation.parameters.split_first() else {
                    continue;
                };
                let bound_type = metadata.normalize(&binding.type_ref.name).into_owned();
                bound.push((&*schema.namespace, operation, binding, bound_type));
            }
        }
        // Signatures are worked out on first use, entity by entity, so that the types they
        // bring into the graph come in the same order however the document orders operations.
        let mut signatures: Vec<Option<Option<Signature>>> = vec![None; bound.len()];
        let entities = self.graph.namespaces[namespace].entities.clone();
        for entity in entities {
            if self.graph.entities[entity].service != service {
                continue;
            }
            for (index, (schema_namespace, operation, binding, bound_type)) in
                bound.iter().enumerate()
            {
                let holder = &self.graph.entities[entity];
                if holder.type_name != *bound_type
                    || !binds(holder.kind, binding.type_ref.collection)
                {
                    continue;
                }
                if signatures[index].is_none() {
                    let returns = operation.return_type.as_ref().map(|r| r.type_ref.clone());
                    let signature = self.signature(
                        namespace,
                        service,
                        metadata,
                        &operation.parameters[1..],
                        returns,
                        None,
                    );
                    if signature.is_none() {
                        self.note(
                            Level::Info,
                            Some(namespace),
                            format!(
                                "bound operation {schema_namespace}.{} left out: a parameter or result type is not in the graph",
                                operation.name
                            ),
                        );
                    }
                    signatures[index] = Some(signature);
                }
                let Some(Some((fields, returns))) = &signatures[index] else {
                    continue;
                };
                let holder = &self.graph.entities[entity];
                let (wanted, _) = sanitize(&format!("{}_{}", holder.gql_field, operation.name));
                let (gql_name, _) = members.claim(&wanted);
                let kind = match operation.kind {
                    ODataOperationKind::Function => OperationKind::Function,
                    ODataOperationKind::Action => OperationKind::Action,
                };
                let id = self.graph.operations.len();
                self.graph.operations.push(Operation {
                    namespace,
                    service,
                    name: operation.name.to_string(),
                    binding: Some(Binding {
                        entity,
                        collection: binding.type_ref.collection,
                        qualified: format!("{schema_namespace}.{}", operation.name),
                    }),
                    gql_name,
                    kind,
                    parameters: fields.clone(),
                    returns: returns.clone(),
                    description: operation.annotations.description().map(str::to_owned),
                });
                self.graph.entities[entity].operations.push(id);
            }
        }
    }

    fn association(&mut self, association: &CrossAssociation) {
        let warn = |composer: &mut Composer, message: String| {
            composer.note(
                Level::Warning,
                None,
                format!(
                    "association {} ({} -> {}) left out: {message}",
                    association.name, association.from, association.to
                ),
            );
        };
        let Some(source) = self.graph.entity_by_path(&association.from) else {
            warn(
                self,
                format!(
                    "{} is not an entity of a loaded data source",
                    association.from
                ),
            );
            return;
        };
        let Some(target) = self.graph.entity_by_path(&association.to) else {
            warn(
                self,
                format!(
                    "{} is not an entity of a loaded data source",
                    association.to
                ),
            );
            return;
        };
        if self.graph.entities[target].kind != EntityKind::Set {
            warn(
                self,
                format!(
                    "{} is a singleton; associations lead to entity sets",
                    association.to
                ),
            );
            return;
        }
        let mut pairs = Vec::new();
        for (local, remote) in &association.pairs {
            let Some((local_index, local_field)) = self.graph.entities[source].field(local) else {
                warn(
                    self,
                    format!("{} has no property {local}", association.from),
                );
                return;
            };
            let Some((remote_index, remote_field)) = self.graph.entities[target].field(remote)
            else {
                warn(self, format!("{} has no property {remote}", association.to));
                return;
            };
            if local_field.edm_type().is_none() || remote_field.edm_type().is_none() {
                warn(
                    self,
                    format!("{local} and {remote} must both be primitive properties"),
                );
                return;
            }
            if !remote_field.filterable {
                warn(
                    self,
                    format!(
                        "{}.{remote} is not filterable, so it cannot be joined on",
                        association.to
                    ),
                );
                return;
            }
            if local_field.edm_type() != remote_field.edm_type() {
                let (local_type, remote_type) = (local_field.edm_type(), remote_field.edm_type());
                self.note(
                    Level::Info,
                    None,
                    format!(
                        "association {}: {local} ({}) and {remote} ({}) differ in type; values are compared as text",
                        association.name,
                        local_type.map_or("?", EdmType::name),
                        remote_type.map_or("?", EdmType::name)
                    ),
                );
            }
            pairs.push((local_index, remote_index));
        }
        let (wanted, sanitized) = sanitize(&association.name);
        let (gql_name, renamed) = self.field_scopes[source].claim(&wanted);
        if sanitized || renamed {
            self.note(
                Level::Info,
                None,
                format!(
                    "association {} is exposed as {gql_name} on {}",
                    association.name, association.from
                ),
            );
        }
        self.graph.entities[source].relations.push(Relation {
            name: association.name.clone(),
            gql_name,
            target,
            many: association.many,
            nullable: true,
            kind: RelationKind::Join { pairs },
            constraints: Vec::new(),
            partner: None,
        });
    }
}

/// An operation's parameters and result in graph terms.
type Signature = (Vec<Field>, Option<Returns>);

/// True when an operation bound to an entity type (or a collection of it) can be called on an
/// entity of this kind: sets take both, singletons single-entity bindings, contained entities
/// none (they have no URL of their own).
fn binds(kind: EntityKind, collection: bool) -> bool {
    match kind {
        EntityKind::Set => true,
        EntityKind::Singleton => !collection,
        EntityKind::Contained => false,
    }
}

/// What holds the entities of one [`Entity`]: a set, a singleton, or nothing (a contained type).
#[derive(Clone, Copy)]
struct Holder<'a> {
    kind: EntityKind,
    /// The set's or singleton's name in URLs; empty for a contained type.
    name: &'a str,
    /// Qualified name of the entity type.
    entity_type: &'a str,
    /// The set's or singleton's annotations (empty for a contained type).
    annotations: &'a Annotations,
}

/// The singletons of all containers, named as [`entity_sets`] names sets.
fn singletons(metadata: &Metadata) -> Vec<(String, &Singleton)> {
    let primary = metadata.entity_container();
    let mut found = Vec::new();
    for container in metadata.schemas.iter().flat_map(|s| &s.entity_containers) {
        let is_primary = primary.is_some_and(|p| std::ptr::eq(p, container));
        for singleton in &container.singletons {
            let name = if is_primary {
                singleton.name.to_string()
            } else {
                format!("{}.{}", container.name, singleton.name)
            };
            found.push((name, singleton));
        }
    }
    found
}

/// The entity sets of all containers with the names URLs address them by: plain for the
/// service's (default) container, `Container.Set` for others (OData v2 URI conventions 2.2).
fn entity_sets(metadata: &Metadata) -> Vec<(String, &EntitySet)> {
    let primary = metadata.entity_container();
    let mut sets = Vec::new();
    for container in metadata.schemas.iter().flat_map(|s| &s.entity_containers) {
        let is_primary = primary.is_some_and(|p| std::ptr::eq(p, container));
        for set in &container.entity_sets {
            let name = if is_primary {
                set.name.to_string()
            } else {
                format!("{}.{}", container.name, set.name)
            };
            sets.push((name, set));
        }
    }
    sets
}

/// Property lists of the Capabilities restrictions that switch single properties off.
#[derive(Debug, Default)]
struct Restrictions<'a> {
    non_filterable: Vec<&'a str>,
    non_sortable: Vec<&'a str>,
    non_insertable: Vec<&'a str>,
    non_updatable: Vec<&'a str>,
}

impl<'a> Restrictions<'a> {
    fn of(terms: Option<&'a Terms>) -> Restrictions<'a> {
        let Some(terms) = terms else {
            return Restrictions::default();
        };
        let list = |items: Option<&'a Vec<Box<str>>>| {
            items
                .map(|items| items.iter().map(|s| &**s).collect())
                .unwrap_or_default()
        };
        Restrictions {
            non_filterable: list(
                terms
                    .filter_restrictions
                    .as_ref()
                    .map(|r| &r.non_filterable_properties),
            ),
            non_sortable: list(
                terms
                    .sort_restrictions
                    .as_ref()
                    .map(|r| &r.non_sortable_properties),
            ),
            non_insertable: list(
                terms
                    .insert_restrictions
                    .as_ref()
                    .map(|r| &r.non_modifiable_properties),
            ),
            non_updatable: list(
                terms
                    .update_restrictions
                    .as_ref()
                    .map(|r| &r.non_modifiable_properties),
            ),
        }
    }
}

/// Set-level capabilities: `sap:` attributes of the set (v2), Capabilities terms (v4), defaults
/// as the vocabularies define them (everything allowed) except `$search`, which SAP v2 services
/// only offer when they say `sap:searchable="true"`.
fn capabilities(
    set: &Annotations,
    entity_type: &Annotations,
    terms: Option<&Terms>,
    dialect: Dialect,
) -> Capabilities {
    let sap = set.sap.as_deref();
    let type_sap = entity_type.sap.as_deref();
    let flag = |pick: fn(&bizgraph_metadata::SapAttributes) -> Option<bool>| {
        sap.and_then(pick).or_else(|| type_sap.and_then(pick))
    };
    let pageable = flag(|s| s.pageable).unwrap_or(true);
    let mut capabilities = Capabilities {
        filterable: true,
        sortable: true,
        countable: flag(|s| s.countable).unwrap_or(true),
        searchable: flag(|s| s.searchable).unwrap_or(dialect == Dialect::V4),
        top: pageable,
        skip: pageable,
        insertable: flag(|s| s.creatable).unwrap_or(true),
        updatable: flag(|s| s.updatable).unwrap_or(true),
        deletable: flag(|s| s.deletable).unwrap_or(true),
        requires_filter: flag(|s| s.requires_filter).unwrap_or(false),
        addressable: flag(|s| s.addressable).unwrap_or(true),
    };
    if let Some(terms) = terms {
        if let Some(r) = &terms.filter_restrictions {
            capabilities.filterable = r.filterable.unwrap_or(true);
            capabilities.requires_filter |= r.requires_filter.unwrap_or(false);
        }
        if let Some(r) = &terms.sort_restrictions {
            capabilities.sortable = r.sortable.unwrap_or(true);
        }
        if let Some(r) = &terms.count_restrictions {
            capabilities.countable = r.countable.unwrap_or(true);
        }
        if let Some(r) = &terms.search_restrictions {
            capabilities.searchable = r.searchable.unwrap_or(true);
        }
        if let Some(r) = &terms.insert_restrictions {
            capabilities.insertable = r.allowed.unwrap_or(true);
        }
        if let Some(r) = &terms.update_restrictions {
            capabilities.updatable = r.allowed.unwrap_or(true) || r.allowed_path.is_some();
        }
        if let Some(r) = &terms.delete_restrictions {
            capabilities.deletable = r.allowed.unwrap_or(true) || r.allowed_path.is_some();
        }
        if let Some(top) = terms.top_supported {
            capabilities.top = top;
        }
        if let Some(skip) = terms.skip_supported {
            capabilities.skip = skip;
        }
    }
    capabilities
}
