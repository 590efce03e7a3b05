//! The composed graph model: namespaces of entities with fields, keys, relations and
//! capabilities, independent of the OData version each came from.
//!
//! It is the single source of truth the GraphQL schema, the query planner and (later) the OData
//! endpoint and the explorer render from. Items live in flat vectors addressed by index, so that
//! relations can point anywhere in the graph (also across namespaces) without lifetimes.

use serde::Serialize;

use crate::edm::{Dialect, EdmType};

/// Index of a namespace in [`Graph::namespaces`].
pub type NamespaceId = usize;
/// Index of a service in [`Graph::services`].
pub type ServiceId = usize;
/// Index of an entity in [`Graph::entities`].
pub type EntityId = usize;
/// Index of a complex type in [`Graph::complex_types`].
pub type ComplexId = usize;
/// Index of an enum type in [`Graph::enums`].
pub type EnumId = usize;

/// The whole composed graph.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Graph {
    /// Namespaces in configuration order.
    pub namespaces: Vec<Namespace>,
    /// Services of all namespaces.
    pub services: Vec<Service>,
    /// Entities (one per entity set) of all namespaces.
    pub entities: Vec<Entity>,
    /// Complex types used by entity fields.
    pub complex_types: Vec<ComplexType>,
    /// Enum types used by fields.
    pub enums: Vec<EnumType>,
    /// Function and action imports.
    pub operations: Vec<Operation>,
}

/// One namespace (a data source).
#[derive(Debug, Clone, Serialize)]
pub struct Namespace {
    /// Configured name (`sap.s4`).
    pub name: String,
    /// GraphQL root field and type prefix (`sap_s4`).
    pub gql_name: String,
    /// Its services.
    pub services: Vec<ServiceId>,
    /// Its entities, in service and document order.
    pub entities: Vec<EntityId>,
    /// Its function and action imports.
    pub operations: Vec<usize>,
}

/// One OData service of a namespace.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    /// The namespace it belongs to.
    pub namespace: NamespaceId,
    /// The destination that reaches it.
    pub destination: String,
    /// Service root path below the destination URL, without a trailing `/`.
    pub path: String,
    /// URL and JSON conventions.
    pub dialect: Dialect,
}

/// One entity: an entity set of a service, with the fields of its type.
#[derive(Debug, Clone, Serialize)]
pub struct Entity {
    /// The namespace.
    pub namespace: NamespaceId,
    /// The service that holds the set.
    pub service: ServiceId,
    /// How the entity is reached: an entity set, a singleton, or only through navigation.
    pub kind: EntityKind,
    /// The entity set's or singleton's name (the URL segment); empty for [`EntityKind::Contained`].
    pub set_name: String,
    /// Qualified name of the OData entity type.
    pub type_name: String,
    /// GraphQL field name under the namespace (unique there).
    pub gql_field: String,
    /// GraphQL type name (unique in the schema).
    pub gql_type: String,
    /// Human-readable label.
    pub label: Option<String>,
    /// Longer description.
    pub description: Option<String>,
    /// Indexes into `fields` of the key properties, in key order.
    pub key: Vec<usize>,
    /// Structural properties.
    pub fields: Vec<Field>,
    /// Navigation properties and configured associations.
    pub relations: Vec<Relation>,
    /// What the service allows on the set.
    pub capabilities: Capabilities,
    /// True when the entity has an ETag (v2 `ConcurrencyMode="Fixed"` or `Core.OptimisticConcurrency`).
    pub etag: bool,
    /// Operations bound to this entity (indexes into [`Graph::operations`]).
    pub operations: Vec<usize>,
}

/// How an entity is addressed in its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum EntityKind {
    /// An entity set: a collection with keys.
    Set,
    /// A singleton: exactly one instance at a fixed URL, no key in the path.
    Singleton,
    /// An entity type no set or singleton holds: reached only through navigation (containment,
    /// or navigations without a binding); no root field, no URL of its own.
    Contained,
}

impl Entity {
    /// What messages call the entity: its set or singleton, or the simple name of its type.
    pub fn shown_name(&self) -> &str {
        if self.kind == EntityKind::Contained {
            self.type_name.rsplit('.').next().unwrap_or(&self.type_name)
        } else {
            &self.set_name
        }
    }

    /// A field by its OData name.
    pub fn field(&self, name: &str) -> Option<(usize, &Field)> {
        self.fields.iter().enumerate().find(|(_, f)| f.name == name)
    }

    /// A field by its GraphQL name.
    pub fn field_by_gql(&self, gql_name: &str) -> Option<(usize, &Field)> {
        self.fields
            .iter()
            .enumerate()
            .find(|(_, f)| f.gql_name == gql_name)
    }

    /// A relation by its GraphQL name.
    pub fn relation_by_gql(&self, gql_name: &str) -> Option<(usize, &Relation)> {
        self.relations
            .iter()
            .enumerate()
            .find(|(_, r)| r.gql_name == gql_name)
    }
}

/// The type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum FieldKind {
    /// A primitive.
    Scalar(EdmType),
    /// An enum type.
    Enum(EnumId),
    /// A complex type.
    Complex(ComplexId),
}

/// A structural property.
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    /// OData property name.
    pub name: String,
    /// GraphQL field name (unique within its type, also against relations).
    pub gql_name: String,
    /// Its type.
    pub kind: FieldKind,
    /// `Collection(...)`.
    pub collection: bool,
    /// May be null.
    pub nullable: bool,
    /// Usable in `$filter`.
    pub filterable: bool,
    /// Usable in `$orderby`.
    pub sortable: bool,
    /// May be given on create.
    pub insertable: bool,
    /// May be changed on update.
    pub updatable: bool,
    /// Human-readable label.
    pub label: Option<String>,
    /// Longer description.
    pub description: Option<String>,
    /// The property holding this amount's unit or currency, or a fixed code.
    pub unit: Option<String>,
    /// Whether [`Field::unit`] is a currency, where the service says so: v4's
    /// `Measures.ISOCurrency` (true) or `Measures.Unit` (false).
    pub unit_is_currency: Option<bool>,
    /// SAP's `sap:semantics` of this property (`currency-code`, `unit-of-measure`, ...).
    pub semantics: Option<String>,
    /// `MaxLength`.
    pub max_length: Option<u64>,
    /// `Precision`.
    pub precision: Option<u32>,
    /// `Scale` when fixed.
    pub scale: Option<u32>,
}

impl Field {
    /// The primitive type, when the field is one.
    pub fn edm_type(&self) -> Option<EdmType> {
        match self.kind {
            FieldKind::Scalar(ty) => Some(ty),
            _ => None,
        }
    }
}

/// How a relation is resolved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum RelationKind {
    /// A navigation property of the same service: `$expand` by its name.
    Navigation,
    /// A join on property values, fetched with a separate (batched) request: configured
    /// cross-source associations. Pairs are (field index here, field index in the target).
    Join {
        /// (source field, target field) index pairs.
        pairs: Vec<(usize, usize)>,
    },
}

/// A navigation property or configured association.
#[derive(Debug, Clone, Serialize)]
pub struct Relation {
    /// OData navigation property name, or the configured association's name.
    pub name: String,
    /// GraphQL field name.
    pub gql_name: String,
    /// The target entity.
    pub target: EntityId,
    /// To-many.
    pub many: bool,
    /// A to-one target may be missing.
    pub nullable: bool,
    /// How it is resolved.
    pub kind: RelationKind,
    /// For same-service navigations: (source field, target field) pairs from the referential
    /// constraints, empty when the service declares none.
    pub constraints: Vec<(usize, usize)>,
    /// For same-service navigations: the target's navigation back, as the service declares it
    /// (v4 `Partner`, or the other end of a v2 association).
    pub partner: Option<String>,
}

/// What a service allows on an entity set (from `sap:` attributes and Capabilities terms).
#[derive(Debug, Clone, Serialize)]
pub struct Capabilities {
    /// `$filter` at all.
    pub filterable: bool,
    /// `$orderby` at all.
    pub sortable: bool,
    /// `$count` / `$inlinecount`.
    pub countable: bool,
    /// `$search` (v4) or SAP's `search` option (v2).
    pub searchable: bool,
    /// `$top`.
    pub top: bool,
    /// `$skip`.
    pub skip: bool,
    /// Create.
    pub insertable: bool,
    /// Update.
    pub updatable: bool,
    /// Delete.
    pub deletable: bool,
    /// A `$filter` is required on every read of the collection.
    pub requires_filter: bool,
    /// Entities can be read by key.
    pub addressable: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self {
            filterable: true,
            sortable: true,
            countable: true,
            searchable: false,
            top: true,
            skip: true,
            insertable: true,
            updatable: true,
            deletable: true,
            requires_filter: false,
            addressable: true,
        }
    }
}

/// A complex type.
#[derive(Debug, Clone, Serialize)]
pub struct ComplexType {
    /// Qualified OData name.
    pub name: String,
    /// The namespace it was composed into.
    pub namespace: NamespaceId,
    /// GraphQL type name.
    pub gql_type: String,
    /// Its properties.
    pub fields: Vec<Field>,
}

/// An enum type.
#[derive(Debug, Clone, Serialize)]
pub struct EnumType {
    /// Qualified OData name.
    pub name: String,
    /// The namespace it was composed into.
    pub namespace: NamespaceId,
    /// GraphQL type name.
    pub gql_type: String,
    /// Members in order.
    pub members: Vec<EnumMember>,
    /// `IsFlags`.
    pub flags: bool,
}

/// An enum member.
#[derive(Debug, Clone, Serialize)]
pub struct EnumMember {
    /// OData member name (what the wire carries).
    pub name: String,
    /// GraphQL enum value.
    pub gql_name: String,
}

/// Whether an operation reads or changes data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OperationKind {
    /// A function: `GET`, exposed under `Query`.
    Function,
    /// An action (or a v2 function import called with `POST`): exposed under `Mutation`.
    Action,
}

/// A function or action: an import of the service (unbound) or bound to an entity.
#[derive(Debug, Clone, Serialize)]
pub struct Operation {
    /// The namespace.
    pub namespace: NamespaceId,
    /// The service.
    pub service: ServiceId,
    /// The import's name (the URL segment); for a bound operation its simple name.
    pub name: String,
    /// For a bound operation: what it is bound to.
    pub binding: Option<Binding>,
    /// GraphQL field name under the namespace.
    pub gql_name: String,
    /// Function or action.
    pub kind: OperationKind,
    /// Parameters (without a binding parameter).
    pub parameters: Vec<Field>,
    /// What it returns; `None` for actions without a result.
    pub returns: Option<Returns>,
    /// Description.
    pub description: Option<String>,
}

/// What a bound operation is called on (OData 4.01 part 1, section 11.5.1).
#[derive(Debug, Clone, Serialize)]
pub struct Binding {
    /// The entity whose instances (or collection) it is bound to.
    pub entity: EntityId,
    /// Bound to the collection (`Set/NS.Op`) rather than to one entity (`Set(key)/NS.Op`).
    pub collection: bool,
    /// The backend's qualified name of the operation: the URL segment after the binding path.
    pub qualified: String,
}

/// The result type of an operation.
#[derive(Debug, Clone, Serialize)]
pub struct Returns {
    /// An entity of the graph, or a field type.
    pub kind: ReturnKind,
    /// A collection.
    pub collection: bool,
}

/// The type an operation returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ReturnKind {
    /// Entities of this graph entity.
    Entity(EntityId),
    /// A primitive, enum or complex value.
    Value(FieldKind),
}

impl Graph {
    /// A namespace by its configured name.
    pub fn namespace(&self, name: &str) -> Option<NamespaceId> {
        self.namespaces.iter().position(|n| n.name == name)
    }

    /// An entity by namespace and entity set name (`crm`, `Opportunities`).
    pub fn entity(&self, namespace: NamespaceId, set_name: &str) -> Option<EntityId> {
        self.namespaces[namespace]
            .entities
            .iter()
            .copied()
            .find(|&id| {
                self.entities[id].kind != EntityKind::Contained
                    && self.entities[id].set_name == set_name
            })
    }

    /// An entity by `<namespace>.<EntitySet>`, taking the longest namespace that matches
    /// (namespaces contain dots themselves).
    pub fn entity_by_path(&self, path: &str) -> Option<EntityId> {
        let mut best: Option<(usize, EntityId)> = None;
        for (id, namespace) in self.namespaces.iter().enumerate() {
            let Some(rest) = path
                .strip_prefix(namespace.name.as_str())
                .and_then(|rest| rest.strip_prefix('.'))
            else {
                continue;
            };
            if let Some(entity) = self.entity(id, rest)
                && best.is_none_or(|(length, _)| namespace.name.len() > length)
            {
                best = Some((namespace.name.len(), entity));
            }
        }
        best.map(|(_, entity)| entity)
    }

    /// Counts for reports: namespaces, entities, fields, relations, operations.
    pub fn size(&self) -> GraphSize {
        GraphSize {
            namespaces: self.namespaces.len(),
            services: self.services.len(),
            entities: self.entities.len(),
            fields: self.entities.iter().map(|e| e.fields.len()).sum(),
            relations: self.entities.iter().map(|e| e.relations.len()).sum(),
            operations: self.operations.len(),
        }
    }
}

/// Sizes of a graph, for `check` and `/readyz`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GraphSize {
    /// Namespaces.
    pub namespaces: usize,
    /// Services.
    pub services: usize,
    /// Entities (entity sets).
    pub entities: usize,
    /// Structural fields over all entities.
    pub fields: usize,
    /// Relations over all entities.
    pub relations: usize,
    /// Function and action imports.
    pub operations: usize,
}
