//! The GraphQL schema rendered from the composed graph (async-graphql dynamic schema), with
//! SAP Graph and CAP conventions: a root field per namespace, types prefixed by namespace,
//! connections with `nodes` and `totalCount`, typed filters (a list's items ORed, an object's
//! fields ANDed) and `orderBy` lists.
//!
//! Resolvers plan at the top: the namespace-level field turns its whole selection into one
//! [`Read`], plans it and hands the plan to the request's [`Execute`]. Fields below only read
//! the canonical JSON that came back, so a nested selection never causes a request of its own.

use std::sync::Arc;

use async_graphql::dynamic::{
    Enum, EnumItem, Field, FieldFuture, FieldValue, InputObject, InputValue, Object,
    ResolverContext, Scalar, Schema, SchemaError, TypeRef,
};
use async_graphql::{ErrorExtensions, Name, SelectionField, Value as GqlValue};
use indexmap::IndexMap;
use serde_json::Value;

use crate::edm::EdmType;
use crate::execute::{
    COUNT_KEY, ERROR_KEY, ETAG_KEY, ExecError, Execute, NODES_KEY, RELATION_PREFIX, Write,
    WriteKind,
};
use crate::model::{
    Entity, EntityId, EntityKind, Field as GraphField, FieldKind, Graph, OperationKind, ReturnKind,
};
use crate::plan::{Plan, PlanError, PlanLimits, plan};
use crate::query::{
    CollectionArgs, CompareOp, Direction, Filter, Read, RelationRead, Selection, Target, TextOp,
};

/// Options of the generated schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaOptions {
    /// Planner limits.
    pub plan: PlanLimits,
    /// Deepest selection nesting.
    pub max_depth: usize,
    /// Most fields in one query.
    pub max_nodes: usize,
}

impl Default for SchemaOptions {
    fn default() -> Self {
        SchemaOptions {
            plan: PlanLimits::default(),
            max_depth: 12,
            max_nodes: 2_000,
        }
    }
}

/// The per-request executor, as the gateway puts it into the request's data.
pub type Executor = Arc<dyn Execute>;

/// Name of the field carrying an entity's ETag, when the entity has one.
pub const ETAG_FIELD: &str = "_etag";

/// Builds the GraphQL schema of a graph.
pub fn build(graph: Arc<Graph>, options: SchemaOptions) -> Result<Schema, SchemaError> {
    let mut builder = Schema::build("Query", has_mutations(&graph).then_some("Mutation"), None)
        .limit_depth(options.max_depth)
        .limit_complexity(options.max_nodes)
        .limit_recursive_depth(64);
    for scalar in scalars() {
        builder = builder.register(scalar);
    }
    builder = builder.register(
        Enum::new("SortDirection")
            .description("Sort order of an orderBy entry")
            .item(EnumItem::new("asc"))
            .item(EnumItem::new("desc")),
    );
    for filter in scalar_filters() {
        builder = builder.register(filter);
    }
    for enum_type in &graph.enums {
        let mut gql =
            Enum::new(&enum_type.gql_type).description(format!("OData {}", enum_type.name));
        for member in &enum_type.members {
            gql = gql.item(EnumItem::new(&member.gql_name));
        }
        builder = builder.register(gql);
        let filter = InputObject::new(format!("{}_filter", enum_type.gql_type))
            .field(InputValue::new("eq", TypeRef::named(&enum_type.gql_type)))
            .field(InputValue::new("ne", TypeRef::named(&enum_type.gql_type)))
            .field(InputValue::new(
                "in",
                TypeRef::named_nn_list(&enum_type.gql_type),
            ));
        builder = builder.register(filter);
    }
    for complex in &graph.complex_types {
        let mut object =
            Object::new(&complex.gql_type).description(format!("OData {}", complex.name));
        for field in &complex.fields {
            object = object.field(value_field(&graph, field));
        }
        if complex.fields.is_empty() {
            // Open complex types may declare nothing; GraphQL objects need a field.
            object = object.field(
                Field::new("_empty", TypeRef::named(TypeRef::BOOLEAN), |_| {
                    FieldFuture::from_value(None)
                })
                .description("The type declares no properties"),
            );
        }
        builder = builder.register(object);
    }
    let mut query = Object::new("Query");
    let mut mutation = Object::new("Mutation");
    for (namespace_id, namespace) in graph.namespaces.iter().enumerate() {
        let query_type = format!("{}_Query", namespace.gql_name);
        let mut namespace_query = Object::new(&query_type)
            .description(format!("Entities of the data source {}", namespace.name));
        let mutation_type = format!("{}_Mutation", namespace.gql_name);
        let mut namespace_mutation = Object::new(&mutation_type)
            .description(format!("Changes to the data source {}", namespace.name));
        let mut mutation_fields = 0;
        for &entity_id in &namespace.entities {
            for ty in entity_types(&graph, entity_id) {
                builder = builder.register(ty);
            }
            builder = builder.register(filter_type(&graph, entity_id));
            builder = builder.register(order_type(&graph, entity_id));
            let entity = &graph.entities[entity_id];
            match entity.kind {
                EntityKind::Set => {}
                EntityKind::Singleton => {
                    namespace_query =
                        namespace_query.field(single_field(&graph, entity_id, options));
                    continue;
                }
                // Reached only through the relations that lead to it.
                EntityKind::Contained => continue,
            }
            namespace_query = namespace_query.field(collection_field(&graph, entity_id, options));
            if entity.capabilities.addressable && !entity.key.is_empty() {
                namespace_query = namespace_query.field(single_field(&graph, entity_id, options));
            }
            let (inputs, fields) = mutation_fields_of(&graph, entity_id, options);
            for input in inputs {
                builder = builder.register(input);
            }
            for field in fields {
                namespace_mutation = namespace_mutation.field(field);
                mutation_fields += 1;
            }
        }
        let _ = namespace_id;
        let bound = namespace
            .entities
            .iter()
            .flat_map(|&entity| graph.entities[entity].operations.iter().copied());
        let callable = namespace
            .operations
            .iter()
            .copied()
            .chain(bound)
            .filter(|&operation| graphql_callable(&graph, operation));
        for operation in callable {
            let field = operation_field(&graph, operation, options);
            match graph.operations[operation].kind {
                OperationKind::Function => namespace_query = namespace_query.field(field),
                OperationKind::Action => {
                    namespace_mutation = namespace_mutation.field(field);
                    mutation_fields += 1;
                }
            }
        }
        builder = builder.register(namespace_query);
        query = query.field(
            Field::new(&namespace.gql_name, TypeRef::named_nn(&query_type), |_| {
                FieldFuture::new(async { Ok(Some(FieldValue::owned_any(()))) })
            })
            .description(format!("The data source {}", namespace.name)),
        );
        if mutation_fields > 0 {
            builder = builder.register(namespace_mutation);
            mutation = mutation.field(
                Field::new(
                    &namespace.gql_name,
                    TypeRef::named_nn(&mutation_type),
                    |_| FieldFuture::new(async { Ok(Some(FieldValue::owned_any(()))) }),
                )
                .description(format!("Changes to the data source {}", namespace.name)),
            );
        }
    }
    if graph.namespaces.is_empty() {
        // GraphQL requires at least one field on Query.
        query = query.field(
            Field::new("_empty", TypeRef::named(TypeRef::BOOLEAN), |_| {
                FieldFuture::from_value(None)
            })
            .description("The graph has no data source loaded"),
        );
    }
    builder = builder.register(query);
    if has_mutations(&graph) {
        builder = builder.register(mutation);
    }
    builder.finish()
}

/// An operation gets a field unless a parameter is structured (GraphQL would need an input
/// type mirroring the complex type; such operations are served by the OData endpoint) or, for a
/// bound operation, is named like a key argument of the entity it is called on (both would be
/// arguments of the same field).
fn graphql_callable(graph: &Graph, operation_id: usize) -> bool {
    let operation = &graph.operations[operation_id];
    if operation
        .parameters
        .iter()
        .any(|parameter| matches!(parameter.kind, FieldKind::Complex(_)))
    {
        return false;
    }
    let Some(binding) = &operation.binding else {
        return true;
    };
    let holder = &graph.entities[binding.entity];
    if binding.collection || holder.kind != EntityKind::Set {
        return true;
    }
    !operation.parameters.iter().any(|parameter| {
        holder
            .key
            .iter()
            .any(|&key| holder.fields[key].gql_name == parameter.gql_name)
    })
}

fn has_mutations(graph: &Graph) -> bool {
    graph
        .operations
        .iter()
        .enumerate()
        .any(|(id, o)| o.kind == OperationKind::Action && graphql_callable(graph, id))
        || graph.entities.iter().any(|e| {
            e.kind == EntityKind::Set
                && (e.capabilities.insertable
                    || (!e.key.is_empty()
                        && (e.capabilities.updatable || e.capabilities.deletable)))
        })
}

/// The custom scalars for Edm types without an exact GraphQL counterpart.
fn scalars() -> Vec<Scalar> {
    vec![
        Scalar::new("Decimal")
            .description("Edm.Decimal as a string of digits, exact (no floating point)")
            .validator(|value| match value {
                GqlValue::String(text) => is_decimal(text),
                GqlValue::Number(_) => true,
                _ => false,
            }),
        Scalar::new("Int64")
            .description("Edm.Int64 as a string of digits (exact beyond 2^53)")
            .validator(|value| match value {
                GqlValue::String(text) => text.parse::<i64>().is_ok(),
                GqlValue::Number(number) => number.is_i64(),
                _ => false,
            }),
        Scalar::new("Date")
            .description("Edm.Date: YYYY-MM-DD")
            .validator(|value| matches!(value, GqlValue::String(_))),
        Scalar::new("DateTime")
            .description(
                "Edm.DateTimeOffset and Edm.DateTime: ISO 8601, UTC (`2024-01-31T10:00:00Z`)",
            )
            .validator(|value| matches!(value, GqlValue::String(_))),
        Scalar::new("Time")
            .description("Edm.TimeOfDay and Edm.Time: HH:MM:SS[.fff]")
            .validator(|value| matches!(value, GqlValue::String(_))),
        Scalar::new("UUID")
            .description("Edm.Guid")
            .validator(|value| matches!(value, GqlValue::String(_))),
        Scalar::new("Binary")
            .description("Edm.Binary, base64")
            .validator(|value| matches!(value, GqlValue::String(_))),
        Scalar::new("Duration")
            .description("Edm.Duration, ISO 8601 (`P1DT2H`)")
            .validator(|value| matches!(value, GqlValue::String(_))),
        Scalar::new("JSON").description("A value without a GraphQL type (geo, untyped), as JSON"),
    ]
}

fn is_decimal(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// The GraphQL scalar of an Edm type.
pub fn scalar_name(ty: EdmType) -> &'static str {
    match ty {
        EdmType::String => TypeRef::STRING,
        EdmType::Boolean => TypeRef::BOOLEAN,
        EdmType::Byte | EdmType::SByte | EdmType::Int16 | EdmType::Int32 => TypeRef::INT,
        EdmType::Int64 => "Int64",
        EdmType::Decimal => "Decimal",
        EdmType::Single | EdmType::Double => TypeRef::FLOAT,
        EdmType::Date => "Date",
        EdmType::DateTime | EdmType::DateTimeOffset => "DateTime",
        EdmType::TimeOfDay | EdmType::Time => "Time",
        EdmType::Duration => "Duration",
        EdmType::Guid => "UUID",
        EdmType::Binary => "Binary",
        EdmType::Stream | EdmType::Geo | EdmType::Untyped => "JSON",
    }
}

/// Which operators a scalar's filter offers.
fn scalar_filter_name(ty: EdmType) -> Option<String> {
    if !ty.is_comparable() {
        return None;
    }
    Some(format!("{}_filter", scalar_name(ty)))
}

fn scalar_filters() -> Vec<InputObject> {
    let scalars = [
        (TypeRef::STRING, true, true),
        (TypeRef::INT, true, false),
        (TypeRef::FLOAT, true, false),
        (TypeRef::BOOLEAN, false, false),
        ("Int64", true, false),
        ("Decimal", true, false),
        ("Date", true, false),
        ("DateTime", true, false),
        ("Time", true, false),
        ("Duration", true, false),
        ("UUID", false, false),
        ("Binary", false, false),
    ];
    scalars
        .iter()
        .map(|&(scalar, ordered, text)| {
            let mut filter = InputObject::new(format!("{scalar}_filter"))
                .description(format!(
                    "Conditions on a {scalar} field; all given operators must hold"
                ))
                .field(InputValue::new("eq", TypeRef::named(scalar)))
                .field(InputValue::new("ne", TypeRef::named(scalar)))
                .field(InputValue::new("in", TypeRef::named_nn_list(scalar)));
            if ordered {
                for op in ["gt", "ge", "lt", "le"] {
                    filter = filter.field(InputValue::new(op, TypeRef::named(scalar)));
                }
            }
            if text {
                for op in ["startswith", "endswith", "contains"] {
                    filter = filter.field(InputValue::new(op, TypeRef::named(scalar)));
                }
            }
            filter
        })
        .collect()
}

fn field_type_name(graph: &Graph, field: &GraphField) -> String {
    match field.kind {
        FieldKind::Scalar(ty) => scalar_name(ty).to_owned(),
        FieldKind::Enum(id) => graph.enums[id].gql_type.clone(),
        FieldKind::Complex(id) => graph.complex_types[id].gql_type.clone(),
    }
}

/// True for a field whose type is a flags enumeration: its value is a set of members (CSDL
/// 10.2, `IsFlags`), a list of the enum in GraphQL.
fn is_flags(graph: &Graph, field: &GraphField) -> bool {
    matches!(field.kind, FieldKind::Enum(id) if graph.enums[id].flags)
}

fn output_type(graph: &Graph, field: &GraphField) -> TypeRef {
    let name = field_type_name(graph, field);
    if is_flags(graph, field) {
        let members = TypeRef::named_nn_list(name);
        return match (field.collection, field.nullable) {
            (true, _) => TypeRef::List(Box::new(members)),
            (false, true) => members,
            (false, false) => TypeRef::NonNull(Box::new(members)),
        };
    }
    match (field.collection, field.nullable) {
        (true, _) => TypeRef::named_list(name),
        (false, true) => TypeRef::named(name),
        (false, false) => TypeRef::named_nn(name),
    }
}

/// The GraphQL type of a field in create and update inputs (always optional).
fn input_type(graph: &Graph, field: &GraphField) -> TypeRef {
    let name = field_type_name(graph, field);
    if is_flags(graph, field) {
        TypeRef::named_nn_list(name)
    } else {
        TypeRef::named(name)
    }
}

fn describe(field: &GraphField) -> Option<String> {
    let mut text = match (&field.label, &field.description) {
        (Some(label), Some(description)) if label != description => {
            format!("{label}: {description}")
        }
        (Some(label), _) => label.clone(),
        (None, Some(description)) => description.clone(),
        (None, None) => String::new(),
    };
    if let Some(unit) = &field.unit {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&format!("(unit: {unit})"));
    }
    (!text.is_empty()).then_some(text)
}

/// A field reading a property of the parent's JSON object (entity rows and complex values).
fn value_field(graph: &Arc<Graph>, field: &GraphField) -> Field {
    let name = field.name.clone();
    let enum_members: Option<Vec<(String, String)>> = match field.kind {
        FieldKind::Enum(id) => Some(
            graph.enums[id]
                .members
                .iter()
                .map(|m| (m.name.clone(), m.gql_name.clone()))
                .collect(),
        ),
        _ => None,
    };
    let complex = matches!(field.kind, FieldKind::Complex(_));
    let flags = is_flags(graph, field);
    let mut gql = Field::new(&field.gql_name, output_type(graph, field), move |ctx| {
        let value = ctx
            .parent_value
            .downcast_ref::<Value>()
            .and_then(|row| row.get(&name));
        let result = match value {
            None | Some(Value::Null) => None,
            Some(value) if complex => Some(match value {
                Value::Array(items) => {
                    FieldValue::list(items.iter().map(|item| FieldValue::borrowed_any(item)))
                }
                other => FieldValue::borrowed_any(other),
            }),
            Some(value) if flags => Some(FieldValue::value(flags_to_gql(
                value,
                enum_members.as_deref().unwrap_or_default(),
            ))),
            Some(value) => Some(FieldValue::value(to_gql(value, enum_members.as_deref()))),
        };
        FieldFuture::Value(result)
    });
    if let Some(description) = describe(field) {
        gql = gql.description(description);
    }
    gql
}

/// A flags value as its list of members: OData JSON writes the set as the member names joined
/// by commas (`"Red,Blue"`, OData JSON Format 7.1); a collection of flags values is a list of
/// such lists.
fn flags_to_gql(value: &Value, members: &[(String, String)]) -> GqlValue {
    match value {
        Value::String(text) => GqlValue::List(
            text.split(',')
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .map(|name| to_gql(&Value::String(name.to_owned()), Some(members)))
                .collect(),
        ),
        Value::Array(items) => GqlValue::List(
            items
                .iter()
                .map(|item| flags_to_gql(item, members))
                .collect(),
        ),
        other => to_gql(other, Some(members)),
    }
}

fn to_gql(value: &Value, members: Option<&[(String, String)]>) -> GqlValue {
    match (value, members) {
        (Value::String(text), Some(members)) => members
            .iter()
            .find(|(name, _)| name == text)
            .map(|(_, gql)| GqlValue::Enum(Name::new(gql)))
            .unwrap_or_else(|| GqlValue::String(text.clone())),
        (Value::Array(items), _) => {
            GqlValue::List(items.iter().map(|item| to_gql(item, members)).collect())
        }
        (Value::Null, _) => GqlValue::Null,
        (Value::Bool(flag), _) => GqlValue::Boolean(*flag),
        (Value::Number(number), _) => GqlValue::Number(number.clone()),
        (Value::String(text), None) => GqlValue::String(text.clone()),
        // Converted directly: `GqlValue::from_json` goes through serde, which costs more than
        // the rest of a field's resolution.
        (Value::Object(object), _) => GqlValue::Object(
            object
                .iter()
                .map(|(key, value)| (Name::new(key), to_gql(value, None)))
                .collect(),
        ),
    }
}

/// The object type of an entity and its connection type.
fn entity_types(graph: &Arc<Graph>, entity_id: EntityId) -> Vec<Object> {
    let entity = &graph.entities[entity_id];
    let namespace = &graph.namespaces[entity.namespace];
    let mut description = entity
        .label
        .clone()
        .unwrap_or_else(|| format!("{} of {}", entity.shown_name(), namespace.name));
    if let Some(text) = &entity.description {
        description.push_str(": ");
        description.push_str(text);
    }
    let mut object = Object::new(&entity.gql_type).description(description);
    if entity.fields.is_empty() && entity.relations.is_empty() {
        // Types that only serve as a base may declare nothing; GraphQL objects need a field.
        object = object.field(
            Field::new("_empty", TypeRef::named(TypeRef::BOOLEAN), |_| {
                FieldFuture::from_value(None)
            })
            .description("The type declares no properties"),
        );
    }
    for field in &entity.fields {
        object = object.field(value_field(graph, field));
    }
    if entity.etag
        && entity.field_by_gql(ETAG_FIELD).is_none()
        && entity.relation_by_gql(ETAG_FIELD).is_none()
    {
        object = object.field(
            Field::new(ETAG_FIELD, TypeRef::named(TypeRef::STRING), |ctx| {
                let value = ctx
                    .parent_value
                    .downcast_ref::<Value>()
                    .and_then(|row| row.get(ETAG_KEY))
                    .and_then(Value::as_str)
                    .map(|etag| FieldValue::value(GqlValue::String(etag.to_owned())));
                FieldFuture::Value(value)
            })
            .description("The entity's ETag, for `etag` arguments of update and delete"),
        );
    }
    for relation in &entity.relations {
        let target = &graph.entities[relation.target];
        let key_of = |ctx: &ResolverContext<'_>| {
            format!(
                "{RELATION_PREFIX}{}",
                ctx.ctx.field().alias().unwrap_or(ctx.ctx.field().name())
            )
        };
        if relation.many {
            let field = Field::new(
                &relation.gql_name,
                // Nullable, so that a failing backend nulls only this relation.
                TypeRef::named(format!("{}_connection", target.gql_type)),
                move |ctx| {
                    let key = key_of(&ctx);
                    let value = ctx
                        .parent_value
                        .downcast_ref::<Value>()
                        .and_then(|row| row.get(&key));
                    FieldFuture::Value(match value {
                        Some(value) if value.get(ERROR_KEY).is_some() => {
                            return relation_error(&ctx, value);
                        }
                        Some(value @ Value::Object(_)) => Some(FieldValue::borrowed_any(value)),
                        _ => Some(FieldValue::owned_any(empty_connection())),
                    })
                },
            );
            object = object.field(collection_arguments(graph, relation.target, field));
        } else {
            let field = Field::new(
                &relation.gql_name,
                if relation.nullable {
                    TypeRef::named(&target.gql_type)
                } else {
                    // Backends drop rows the user may not see; a declared 1 may still be absent.
                    TypeRef::named(&target.gql_type)
                },
                move |ctx| {
                    let key = key_of(&ctx);
                    let value = ctx
                        .parent_value
                        .downcast_ref::<Value>()
                        .and_then(|row| row.get(&key));
                    match value {
                        Some(value) if value.get(ERROR_KEY).is_some() => {
                            relation_error(&ctx, value)
                        }
                        Some(value @ Value::Object(_)) => {
                            FieldFuture::Value(Some(FieldValue::borrowed_any(value)))
                        }
                        _ => FieldFuture::Value(None),
                    }
                },
            );
            object = object.field(field);
        }
    }
    let connection = Object::new(format!("{}_connection", entity.gql_type))
        .description(format!("A page of {}", entity.set_name))
        .field(Field::new(
            NODES_KEY,
            TypeRef::named_nn_list_nn(&entity.gql_type),
            |ctx| {
                let nodes = ctx
                    .parent_value
                    .downcast_ref::<Value>()
                    .and_then(|c| c.get(NODES_KEY))
                    .and_then(Value::as_array);
                FieldFuture::Value(Some(FieldValue::list(
                    nodes
                        .into_iter()
                        .flatten()
                        .map(|node| FieldValue::borrowed_any(node)),
                )))
            },
        ))
        .field(
            Field::new(COUNT_KEY, TypeRef::named(TypeRef::INT), |ctx| {
                let count = ctx
                    .parent_value
                    .downcast_ref::<Value>()
                    .and_then(|c| c.get(COUNT_KEY))
                    .and_then(Value::as_u64);
                FieldFuture::Value(count.map(|n| FieldValue::value(GqlValue::from(n))))
            })
            .description("Number of entities matching the filter, ignoring top and skip"),
        );
    vec![object, connection]
}

fn empty_connection() -> Value {
    serde_json::json!({ NODES_KEY: [], COUNT_KEY: null })
}

/// Answers null for a relation whose backend failed, with the error reported at the field's path.
fn relation_error<'a>(ctx: &ResolverContext<'a>, marker: &Value) -> FieldFuture<'a> {
    let error: ExecError = marker
        .get(ERROR_KEY)
        .and_then(|e| serde_json::from_value(e.clone()).ok())
        .unwrap_or_default();
    report_at_field(ctx.ctx, exec_error(error));
    FieldFuture::Value(None)
}

/// Runs the resolver of a nullable field that may fail. A failure answers null for the field and
/// reports the error at the field's path, as GraphQL asks (October 2021, section 6.4.4,
/// "Handling Field Errors"); async-graphql's dynamic schema would otherwise leave the field out
/// of the response and report the error without a path. The other fields still resolve.
fn resolve_nullable<'a, F>(ctx: &'a async_graphql::Context<'a>, resolver: F) -> FieldFuture<'a>
where
    F: std::future::Future<Output = Result<Option<FieldValue<'a>>, async_graphql::Error>>
        + Send
        + 'a,
{
    FieldFuture::new(async move {
        Ok(resolver.await.unwrap_or_else(|error| {
            report_at_field(ctx, error);
            None
        }))
    })
}

/// Adds `error` to the response with the path and location of the field being resolved.
fn report_at_field(ctx: &async_graphql::Context<'_>, error: async_graphql::Error) {
    ctx.add_error(ctx.set_error_path(error.into_server_error(ctx.item.pos)));
}

impl<'de> serde::Deserialize<'de> for ExecError {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Raw {
            #[serde(default)]
            code: String,
            #[serde(default)]
            message: String,
            backend: Option<String>,
            status: Option<u16>,
            backend_message: Option<String>,
            trace_id: Option<String>,
        }
        let raw = Raw::deserialize(deserializer)?;
        Ok(ExecError {
            code: raw.code,
            message: raw.message,
            backend: raw.backend,
            status: raw.status,
            backend_message: raw.backend_message,
            trace_id: raw.trace_id,
        })
    }
}

/// A GraphQL error with the extensions clients use to tell failures apart.
pub fn exec_error(error: ExecError) -> async_graphql::Error {
    async_graphql::Error::new(error.message.clone()).extend_with(|_, extensions| {
        extensions.set("code", error.code.clone());
        if let Some(backend) = &error.backend {
            extensions.set("backend", backend.clone());
        }
        if let Some(status) = error.status {
            extensions.set("status", status);
        }
        if let Some(message) = &error.backend_message {
            extensions.set("backendMessage", message.clone());
        }
        if let Some(trace) = &error.trace_id {
            extensions.set("traceId", trace.clone());
        }
    })
}

fn plan_error(error: PlanError) -> async_graphql::Error {
    let code = error.code();
    async_graphql::Error::new(error.to_string()).extend_with(|_, extensions| {
        extensions.set("code", code);
    })
}

fn input_error(message: String) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, extensions| {
        extensions.set("code", "BAD_USER_INPUT");
    })
}

fn filter_type(graph: &Graph, entity_id: EntityId) -> InputObject {
    let entity = &graph.entities[entity_id];
    let mut filter = InputObject::new(format!("{}_filter", entity.gql_type)).description(format!(
        "Conditions on {}: the fields of one object must all hold; of a list, one object must",
        entity.set_name
    ));
    let mut any = false;
    if entity.capabilities.filterable {
        for field in entity.fields.iter().filter(|f| f.filterable) {
            let name = match field.kind {
                FieldKind::Scalar(ty) => scalar_filter_name(ty),
                FieldKind::Enum(id) => Some(format!("{}_filter", graph.enums[id].gql_type)),
                FieldKind::Complex(_) => None,
            };
            if let Some(name) = name {
                filter = filter.field(InputValue::new(
                    &field.gql_name,
                    TypeRef::named_nn_list(name),
                ));
                any = true;
            }
        }
        for relation in &entity.relations {
            let target = &graph.entities[relation.target];
            if !relation.many
                && relation.kind == crate::model::RelationKind::Navigation
                && target.fields.iter().any(|f| f.filterable)
            {
                filter = filter.field(InputValue::new(
                    &relation.gql_name,
                    TypeRef::named_nn_list(format!("{}_filter", target.gql_type)),
                ));
                any = true;
            }
        }
    }
    if !any {
        // Input objects need a field; this one never matches anything it is given.
        filter = filter.field(
            InputValue::new("_none", TypeRef::named(TypeRef::BOOLEAN))
                .description("The entity has no filterable fields"),
        );
    }
    filter
}

fn order_type(graph: &Graph, entity_id: EntityId) -> InputObject {
    let entity = &graph.entities[entity_id];
    let mut order = InputObject::new(format!("{}_orderBy", entity.gql_type)).description(format!(
        "Sort keys of {}; each object's fields apply in the order written",
        entity.set_name
    ));
    let mut any = false;
    if entity.capabilities.sortable {
        for field in entity.fields.iter().filter(|f| f.sortable) {
            order = order.field(InputValue::new(
                &field.gql_name,
                TypeRef::named("SortDirection"),
            ));
            any = true;
        }
    }
    if !any {
        order = order.field(
            InputValue::new("_none", TypeRef::named("SortDirection"))
                .description("The entity has no sortable fields"),
        );
    }
    order
}

fn collection_arguments(graph: &Graph, entity_id: EntityId, field: Field) -> Field {
    let entity = &graph.entities[entity_id];
    let mut field = field
        .argument(InputValue::new(
            "filter",
            TypeRef::named_nn_list(format!("{}_filter", entity.gql_type)),
        ))
        .argument(InputValue::new(
            "orderBy",
            TypeRef::named_nn_list(format!("{}_orderBy", entity.gql_type)),
        ));
    if entity.capabilities.top {
        field = field.argument(InputValue::new("top", TypeRef::named(TypeRef::INT)));
    }
    if entity.capabilities.skip {
        field = field.argument(InputValue::new("skip", TypeRef::named(TypeRef::INT)));
    }
    if entity.capabilities.searchable {
        field = field.argument(InputValue::new("search", TypeRef::named(TypeRef::STRING)));
    }
    field
}

fn collection_field(graph: &Arc<Graph>, entity_id: EntityId, options: SchemaOptions) -> Field {
    let entity = &graph.entities[entity_id];
    let resolver_graph = graph.clone();
    let field = Field::new(
        &entity.gql_field,
        TypeRef::named(format!("{}_connection", entity.gql_type)),
        move |ctx| {
            let graph = resolver_graph.clone();
            resolve_nullable(ctx.ctx, async move {
                let field = ctx.ctx.field();
                let (args, selection) = connection_read(&graph, entity_id, field)?;
                let read = Read {
                    entity: entity_id,
                    target: Target::Collection(args),
                    selection,
                };
                let executor = ctx.ctx.data::<Executor>()?;
                let planned = plan(&graph, &read, &options.plan);
                announce(executor, &ctx, &read, planned.as_ref());
                let plan = planned.map_err(plan_error)?;
                let value = executor.read(&graph, &plan).await.map_err(exec_error)?;
                Ok(Some(FieldValue::owned_any(value)))
            })
        },
    );
    let field = match &entity.label {
        Some(label) => field.description(format!("{label} ({})", entity.set_name)),
        None => field,
    };
    collection_arguments(graph, entity_id, field)
}

fn key_arguments(graph: &Graph, entity: &Entity, field: Field) -> Field {
    let mut field = field;
    for &index in &entity.key {
        let key = &entity.fields[index];
        field = field.argument(InputValue::new(
            &key.gql_name,
            TypeRef::named_nn(field_type_name(graph, key)),
        ));
    }
    field
}

/// The root field reading one entity: `<Set>ByKey(<key>)` for a set, `<Singleton>` for a
/// singleton (no arguments).
fn single_field(graph: &Arc<Graph>, entity_id: EntityId, options: SchemaOptions) -> Field {
    let entity = &graph.entities[entity_id];
    let resolver_graph = graph.clone();
    let singleton = entity.kind == EntityKind::Singleton;
    let name = if singleton {
        entity.gql_field.clone()
    } else {
        format!("{}ByKey", entity.gql_field)
    };
    let field = Field::new(name, TypeRef::named(&entity.gql_type), move |ctx| {
        let graph = resolver_graph.clone();
        resolve_nullable(ctx.ctx, async move {
            let field = ctx.ctx.field();
            let key = if singleton {
                Vec::new()
            } else {
                key_values(&graph.entities[entity_id], &arguments(&field)?)?
            };
            let selection = entity_selection(&graph, entity_id, field)?;
            let read = Read {
                entity: entity_id,
                target: Target::Key(key),
                selection,
            };
            let executor = ctx.ctx.data::<Executor>()?;
            let planned = plan(&graph, &read, &options.plan);
            announce(executor, &ctx, &read, planned.as_ref());
            let plan = planned.map_err(plan_error)?;
            let value = executor.read(&graph, &plan).await.map_err(exec_error)?;
            Ok(match value {
                Value::Null => None,
                value => Some(FieldValue::owned_any(value)),
            })
        })
    });
    if singleton {
        let description = entity
            .label
            .clone()
            .unwrap_or_else(|| format!("The singleton {}", entity.set_name));
        return field.description(description);
    }
    key_arguments(
        graph,
        entity,
        field.description(format!("One {} by its key", entity.set_name)),
    )
}

/// Tells an executor that wants it which root read was planned, and how planning went.
fn announce(
    executor: &Executor,
    ctx: &ResolverContext<'_>,
    read: &Read,
    outcome: Result<&Plan, &PlanError>,
) {
    if executor.wants_reads() {
        let path = ctx
            .ctx
            .path_node
            .map(|node| node.to_string())
            .unwrap_or_default();
        executor.planned(&path, read, outcome);
    }
}

fn key_values(
    entity: &Entity,
    arguments: &IndexMap<Name, GqlValue>,
) -> Result<Vec<(usize, Value)>, async_graphql::Error> {
    entity
        .key
        .iter()
        .map(|&index| {
            let field = &entity.fields[index];
            let value = arguments
                .get(field.gql_name.as_str())
                .ok_or_else(|| input_error(format!("key {} is missing", field.gql_name)))?;
            Ok((index, to_json(value)))
        })
        .collect()
}

fn mutation_fields_of(
    graph: &Arc<Graph>,
    entity_id: EntityId,
    options: SchemaOptions,
) -> (Vec<InputObject>, Vec<Field>) {
    let entity = &graph.entities[entity_id];
    let caps = &entity.capabilities;
    let keyed = !entity.key.is_empty();
    let mut inputs = Vec::new();
    let mut fields = Vec::new();
    for (kind, allowed) in [
        (WriteKind::Create, caps.insertable),
        (WriteKind::Update, caps.updatable && keyed),
        (WriteKind::Delete, caps.deletable && keyed),
    ] {
        if !allowed {
            continue;
        }
        let (suffix, input, description) = match kind {
            WriteKind::Create => (
                "create",
                write_input(
                    graph,
                    entity,
                    "_input",
                    "A new {}; leave out what the service fills in",
                    |f| f.insertable,
                ),
                "Creates one {}",
            ),
            WriteKind::Update => (
                "update",
                write_input(
                    graph,
                    entity,
                    "_patch",
                    "Changes to a {}; fields left out stay as they are",
                    |f| f.updatable,
                ),
                "Changes one {}; with etag, only if it was not changed since",
            ),
            WriteKind::Delete => (
                "delete",
                None,
                "Deletes one {}; with etag, only if it was not changed since",
            ),
            // GraphQL offers partial updates only; replacing is for the OData endpoint's PUT.
            WriteKind::Replace => continue,
        };
        if kind != WriteKind::Delete && input.is_none() {
            // Nothing a client could send.
            continue;
        }
        let output = match kind {
            // Nullable, so that a failing write nulls only itself.
            WriteKind::Delete => TypeRef::named(TypeRef::BOOLEAN),
            _ => TypeRef::named(&entity.gql_type),
        };
        let mut field = write_field(graph, entity_id, kind, options, suffix, output)
            .description(description.replace("{}", &entity.set_name));
        if let Some(input) = input {
            field = field.argument(InputValue::new(
                "input",
                TypeRef::named_nn(input.type_name()),
            ));
            inputs.push(input);
        }
        if kind != WriteKind::Create {
            field = key_arguments(graph, entity, field)
                .argument(InputValue::new("etag", TypeRef::named(TypeRef::STRING)));
        }
        fields.push(field);
    }
    (inputs, fields)
}

/// The input object of a create (`_input`) or update (`_patch`): the primitive and enum fields
/// the service lets clients set; `None` when there are none.
fn write_input(
    graph: &Graph,
    entity: &Entity,
    suffix: &str,
    description: &str,
    settable: fn(&GraphField) -> bool,
) -> Option<InputObject> {
    let mut input = InputObject::new(format!("{}{suffix}", entity.gql_type))
        .description(description.replace("{}", &entity.set_name));
    let mut any = false;
    for field in entity
        .fields
        .iter()
        .filter(|f| settable(f) && !f.collection && !matches!(f.kind, FieldKind::Complex(_)))
    {
        input = input.field(InputValue::new(&field.gql_name, input_type(graph, field)));
        any = true;
    }
    any.then_some(input)
}

/// `<Set>_create`, `<Set>_update` or `<Set>_delete`: arguments to a [`Write`], handed to the
/// request's executor.
fn write_field(
    graph: &Arc<Graph>,
    entity_id: EntityId,
    kind: WriteKind,
    options: SchemaOptions,
    suffix: &str,
    output: TypeRef,
) -> Field {
    let entity = &graph.entities[entity_id];
    let resolver_graph = graph.clone();
    Field::new(
        format!("{}_{suffix}", entity.gql_field),
        output,
        move |ctx| {
            let graph = resolver_graph.clone();
            resolve_nullable(ctx.ctx, async move {
                let field = ctx.ctx.field();
                let arguments = arguments(&field)?;
                let entity = &graph.entities[entity_id];
                let key = match kind {
                    WriteKind::Create => Vec::new(),
                    _ => key_values(entity, &arguments)?,
                };
                let values = match kind {
                    WriteKind::Delete => Vec::new(),
                    _ => input_values(&graph, entity, arguments.get("input"))?,
                };
                let shape = match kind {
                    WriteKind::Delete => None,
                    _ => Some(write_shape(&graph, entity_id, field, &options)?),
                };
                let write = Write {
                    entity: entity_id,
                    kind,
                    values,
                    key,
                    etag: etag_argument(&arguments),
                    shape,
                    nested: Vec::new(),
                };
                let executor = ctx.ctx.data::<Executor>()?;
                let value = executor.write(&graph, &write).await.map_err(exec_error)?;
                Ok(match (kind, value) {
                    (WriteKind::Delete, _) => Some(FieldValue::value(GqlValue::Boolean(true))),
                    (_, Value::Null) => None,
                    (_, value) => Some(FieldValue::owned_any(value)),
                })
            })
        },
    )
}

fn etag_argument(arguments: &IndexMap<Name, GqlValue>) -> Option<String> {
    match arguments.get("etag") {
        Some(GqlValue::String(etag)) => Some(etag.clone()),
        _ => None,
    }
}

/// A client value as canonical JSON for a field: enum values become the members' OData names
/// (they differ where the OData name is not a legal GraphQL name).
fn field_json(graph: &Graph, field: &GraphField, value: &GqlValue) -> Value {
    let json = to_json(value);
    let FieldKind::Enum(id) = field.kind else {
        return json;
    };
    let member = |value: Value| match value {
        Value::String(text) => Value::String(
            graph.enums[id]
                .members
                .iter()
                .find(|m| m.gql_name == text)
                .map_or(text, |m| m.name.clone()),
        ),
        other => other,
    };
    match json {
        // A set of flags goes on the wire as its members joined by commas.
        Value::Array(items) if graph.enums[id].flags && !field.collection => Value::String(
            items
                .into_iter()
                .map(member)
                .filter_map(|name| name.as_str().map(str::to_owned))
                .collect::<Vec<_>>()
                .join(","),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(member).collect()),
        other => member(other),
    }
}

fn input_values(
    graph: &Graph,
    entity: &Entity,
    input: Option<&GqlValue>,
) -> Result<Vec<(usize, Value)>, async_graphql::Error> {
    let Some(GqlValue::Object(input)) = input else {
        return Err(input_error("input is missing".to_owned()));
    };
    let mut values = Vec::new();
    for (name, value) in input {
        let (index, field) = entity
            .field_by_gql(name.as_str())
            .ok_or_else(|| input_error(format!("{} has no field {name}", entity.set_name)))?;
        values.push((index, field_json(graph, field, value)));
    }
    Ok(values)
}

/// A function import (under the namespace's query type) or action import (under its mutation
/// type): parameters as arguments, the result typed as the graph knows it.
fn operation_field(graph: &Arc<Graph>, operation_id: usize, options: SchemaOptions) -> Field {
    let operation = &graph.operations[operation_id];
    let (type_name, entity) = match operation.returns.as_ref().map(|r| r.kind) {
        None => (TypeRef::BOOLEAN.to_owned(), None),
        Some(ReturnKind::Entity(id)) => (graph.entities[id].gql_type.clone(), Some(id)),
        Some(ReturnKind::Value(kind)) => (
            match kind {
                FieldKind::Scalar(ty) => scalar_name(ty).to_owned(),
                FieldKind::Enum(id) => graph.enums[id].gql_type.clone(),
                FieldKind::Complex(id) => graph.complex_types[id].gql_type.clone(),
            },
            None,
        ),
    };
    let collection = operation.returns.as_ref().is_some_and(|r| r.collection);
    let output = if collection {
        TypeRef::named_nn_list(type_name)
    } else {
        TypeRef::named(type_name)
    };
    let enum_members: Option<Vec<(String, String)>> =
        match operation.returns.as_ref().map(|r| r.kind) {
            Some(ReturnKind::Value(FieldKind::Enum(id))) => Some(
                graph.enums[id]
                    .members
                    .iter()
                    .map(|m| (m.name.clone(), m.gql_name.clone()))
                    .collect(),
            ),
            _ => None,
        };
    let structured = entity.is_some()
        || matches!(
            operation.returns.as_ref().map(|r| r.kind),
            Some(ReturnKind::Value(FieldKind::Complex(_)))
        );
    let no_result = operation.returns.is_none();
    let resolver_graph = graph.clone();
    let mut field = Field::new(&operation.gql_name, output, move |ctx| {
        let graph = resolver_graph.clone();
        let enum_members = enum_members.clone();
        resolve_nullable(ctx.ctx, async move {
            let field = ctx.ctx.field();
            let given = arguments(&field)?;
            let operation = &graph.operations[operation_id];
            let mut values = Vec::new();
            for (index, parameter) in operation.parameters.iter().enumerate() {
                if let Some(value) = given.get(parameter.gql_name.as_str()) {
                    values.push((index, field_json(&graph, parameter, value)));
                }
            }
            let shape = match entity {
                Some(id) => Some(write_shape(&graph, id, field, &options)?),
                None => None,
            };
            // A bound operation is called on the entity its key arguments name (a singleton
            // and a collection need none).
            let bound_to = match &operation.binding {
                Some(binding) if !binding.collection => {
                    let holder = &graph.entities[binding.entity];
                    Some(if holder.kind == EntityKind::Singleton {
                        Vec::new()
                    } else {
                        key_values(holder, &given)?
                    })
                }
                _ => None,
            };
            let call =
                crate::call::plan_call(&graph, operation_id, &values, bound_to.as_deref(), shape)
                    .map_err(plan_error)?;
            let executor = ctx.ctx.data::<Executor>()?;
            let value = executor.call(&graph, &call).await.map_err(exec_error)?;
            Ok(match value {
                _ if no_result => Some(FieldValue::value(GqlValue::Boolean(true))),
                Value::Null => None,
                Value::Array(items) if structured => Some(FieldValue::list(
                    items.into_iter().map(FieldValue::owned_any),
                )),
                value if structured => Some(FieldValue::owned_any(value)),
                value => Some(FieldValue::value(to_gql(&value, enum_members.as_deref()))),
            })
        })
    });
    for parameter in &operation.parameters {
        let name = field_type_name(graph, parameter);
        let ty = match (parameter.collection, parameter.nullable) {
            (true, _) => TypeRef::named_nn_list(name),
            (false, true) => TypeRef::named(name),
            (false, false) => TypeRef::named_nn(name),
        };
        let mut argument = InputValue::new(&parameter.gql_name, ty);
        if let Some(description) = describe(parameter) {
            argument = argument.description(description);
        }
        field = field.argument(argument);
    }
    if let Some(binding) = &operation.binding {
        let holder = &graph.entities[binding.entity];
        if !binding.collection && holder.kind == EntityKind::Set {
            field = key_arguments(graph, holder, field);
        }
    }
    let kind = match operation.kind {
        OperationKind::Function => "function",
        OperationKind::Action => "action",
    };
    let mut description = match &operation.binding {
        None => format!("Calls the {kind} {} of the service", operation.name),
        Some(binding) if binding.collection => format!(
            "Calls the {kind} {} on the collection {}",
            operation.name,
            graph.entities[binding.entity].shown_name()
        ),
        Some(binding) => format!(
            "Calls the {kind} {} on one {}",
            operation.name,
            graph.entities[binding.entity].shown_name()
        ),
    };
    if let Some(text) = &operation.description {
        description = format!("{text} ({kind} {})", operation.name);
    }
    field.description(description)
}

fn write_shape(
    graph: &Graph,
    entity_id: EntityId,
    field: SelectionField<'_>,
    options: &SchemaOptions,
) -> Result<crate::plan::Shape, async_graphql::Error> {
    let mut selection = entity_selection(graph, entity_id, field)?;
    // Writes return what the backend answers; relations would need a read after the write.
    selection.relations.clear();
    let read = Read {
        entity: entity_id,
        target: Target::Collection(CollectionArgs::default()),
        selection,
    };
    let plan = plan(graph, &read, &options.plan).map_err(plan_error)?;
    Ok(plan.fetch.shape)
}

/// Arguments of a selected field, variables resolved, as a map.
fn arguments(field: &SelectionField<'_>) -> Result<IndexMap<Name, GqlValue>, async_graphql::Error> {
    Ok(field
        .arguments()
        .map_err(|error| async_graphql::Error::new(error.message))?
        .into_iter()
        .collect())
}

/// `@skip(if:)` and `@include(if:)` (GraphQL October 2021, section 3.13).
fn included(field: &SelectionField<'_>) -> Result<bool, async_graphql::Error> {
    for directive in field
        .directives()
        .map_err(|error| async_graphql::Error::new(error.message))?
    {
        let condition = directive
            .get_argument("if")
            .map(|value| matches!(&value.node, GqlValue::Boolean(true)));
        match (directive.name.node.as_str(), condition) {
            ("skip", Some(true)) | ("include", Some(false)) => return Ok(false),
            _ => {}
        }
    }
    Ok(true)
}

fn connection_read(
    graph: &Graph,
    entity_id: EntityId,
    field: SelectionField<'_>,
) -> Result<(CollectionArgs, Selection), async_graphql::Error> {
    let arguments = arguments(&field)?;
    let mut args = collection_args(graph, entity_id, &arguments)?;
    let mut selection = Selection::default();
    for child in field.selection_set() {
        if !included(&child)? {
            continue;
        }
        match child.name() {
            NODES_KEY => {
                args.nodes = true;
                merge(&mut selection, entity_selection(graph, entity_id, child)?);
            }
            COUNT_KEY => args.count = true,
            _ => {}
        }
    }
    Ok((args, selection))
}

fn merge(into: &mut Selection, from: Selection) {
    for field in from.fields {
        into.add_field(field);
    }
    into.etag |= from.etag;
    for relation in from.relations {
        match into.relations.iter_mut().find(|r| r.key == relation.key) {
            Some(existing) => {
                existing.args.count |= relation.args.count;
                existing.args.nodes |= relation.args.nodes;
                merge(&mut existing.selection, relation.selection);
            }
            None => into.relations.push(relation),
        }
    }
}

fn entity_selection(
    graph: &Graph,
    entity_id: EntityId,
    field: SelectionField<'_>,
) -> Result<Selection, async_graphql::Error> {
    let entity = &graph.entities[entity_id];
    let mut selection = Selection::default();
    for child in field.selection_set() {
        if !included(&child)? {
            continue;
        }
        let name = child.name();
        if let Some((index, _)) = entity.field_by_gql(name) {
            selection.add_field(index);
        } else if let Some((index, relation)) = entity.relation_by_gql(name) {
            let key = child.alias().unwrap_or(name).to_owned();
            let read = if relation.many {
                let (args, nested) = connection_read(graph, relation.target, child)?;
                RelationRead {
                    key,
                    relation: index,
                    args,
                    selection: nested,
                }
            } else {
                RelationRead {
                    key,
                    relation: index,
                    args: CollectionArgs {
                        nodes: true,
                        ..CollectionArgs::default()
                    },
                    selection: entity_selection(graph, relation.target, child)?,
                }
            };
            merge(
                &mut selection,
                Selection {
                    relations: vec![read],
                    ..Selection::default()
                },
            );
        } else if name == ETAG_FIELD {
            selection.etag = true;
        }
    }
    Ok(selection)
}

fn collection_args(
    graph: &Graph,
    entity_id: EntityId,
    arguments: &IndexMap<Name, GqlValue>,
) -> Result<CollectionArgs, async_graphql::Error> {
    let mut args = CollectionArgs::default();
    if let Some(filter) = arguments.get("filter")
        && !matches!(filter, GqlValue::Null)
    {
        args.filter = Some(filter_of(graph, entity_id, &[], filter)?);
    }
    if let Some(order) = arguments.get("orderBy") {
        let entity = &graph.entities[entity_id];
        for item in list_items(order) {
            let GqlValue::Object(item) = item else {
                continue;
            };
            for (name, direction) in item {
                let (index, _) = entity.field_by_gql(name.as_str()).ok_or_else(|| {
                    input_error(format!("{} cannot be sorted by {name}", entity.set_name))
                })?;
                let direction = match direction {
                    GqlValue::Enum(value) if value.as_str() == "desc" => Direction::Desc,
                    GqlValue::String(value) if value == "desc" => Direction::Desc,
                    GqlValue::Null => continue,
                    _ => Direction::Asc,
                };
                args.order_by.push((index, direction));
            }
        }
    }
    args.top = count_argument(arguments, "top")?;
    args.skip = count_argument(arguments, "skip")?;
    if let Some(GqlValue::String(search)) = arguments.get("search") {
        // GraphQL's `search` is one phrase: its text is never read as search syntax.
        args.search = Some(vec![search.clone()]);
    }
    Ok(args)
}

fn count_argument(
    arguments: &IndexMap<Name, GqlValue>,
    name: &str,
) -> Result<Option<u32>, async_graphql::Error> {
    match arguments.get(name) {
        None | Some(GqlValue::Null) => Ok(None),
        Some(GqlValue::Number(number)) => number
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| input_error(format!("{name} must be 0 or more, not {number}"))),
        Some(other) => Err(input_error(format!(
            "{name} must be an integer, not {other}"
        ))),
    }
}

/// A list value's items; a single value counts as a list of one (GraphQL input coercion,
/// section 3.11, which the selection's raw arguments have not been through).
fn list_items(value: &GqlValue) -> Vec<&GqlValue> {
    match value {
        GqlValue::List(items) => items.iter().collect(),
        GqlValue::Null => Vec::new(),
        other => vec![other],
    }
}

/// CAP semantics: a list's items are ORed, an object's fields ANDed, down to the operators.
fn filter_of(
    graph: &Graph,
    entity_id: EntityId,
    path: &[usize],
    value: &GqlValue,
) -> Result<Filter, async_graphql::Error> {
    let entity = &graph.entities[entity_id];
    let mut alternatives = Vec::new();
    for item in list_items(value) {
        let GqlValue::Object(object) = item else {
            return Err(input_error(format!(
                "a filter on {} must be an object",
                entity.set_name
            )));
        };
        let mut all = Vec::new();
        for (name, condition) in object {
            if let Some((index, field)) = entity.field_by_gql(name.as_str()) {
                if !field.filterable {
                    return Err(input_error(format!(
                        "{}.{name} is not filterable",
                        entity.set_name
                    )));
                }
                let mut any = Vec::new();
                for operators in list_items(condition) {
                    let GqlValue::Object(operators) = operators else {
                        return Err(input_error(format!(
                            "the filter on {}.{name} must be an object of operators",
                            entity.set_name
                        )));
                    };
                    let mut conditions = Vec::new();
                    for (op, operand) in operators {
                        conditions.push(operator(path, index, op.as_str(), operand)?);
                    }
                    any.push(Filter::And(conditions));
                }
                all.push(Filter::Or(any));
            } else if let Some((index, relation)) = entity.relation_by_gql(name.as_str()) {
                let mut nested_path = path.to_vec();
                nested_path.push(index);
                all.push(filter_of(graph, relation.target, &nested_path, condition)?);
            } else if name.as_str() == "_none" {
                all.push(Filter::Or(Vec::new()));
            } else {
                return Err(input_error(format!(
                    "{} has no filter field {name}",
                    entity.set_name
                )));
            }
        }
        alternatives.push(Filter::And(all));
    }
    Ok(simplify(Filter::Or(alternatives)))
}

fn operator(
    path: &[usize],
    field: usize,
    op: &str,
    operand: &GqlValue,
) -> Result<Filter, async_graphql::Error> {
    let path = path.to_vec();
    let compare = |op| Filter::Compare {
        path: path.clone(),
        field,
        op,
        value: to_json(operand),
    };
    let text = |op| match operand {
        GqlValue::String(value) => Ok(Filter::Text {
            path: path.clone(),
            field,
            op,
            value: value.clone(),
        }),
        _ => Err(input_error(format!("{op:?} needs a string"))),
    };
    Ok(match op {
        "eq" => compare(CompareOp::Eq),
        "ne" => compare(CompareOp::Ne),
        "gt" => compare(CompareOp::Gt),
        "ge" => compare(CompareOp::Ge),
        "lt" => compare(CompareOp::Lt),
        "le" => compare(CompareOp::Le),
        "in" => Filter::In {
            path: path.clone(),
            field,
            values: list_items(operand).into_iter().map(to_json).collect(),
        },
        "contains" => text(TextOp::Contains)?,
        "startswith" => text(TextOp::StartsWith)?,
        "endswith" => text(TextOp::EndsWith)?,
        other => return Err(input_error(format!("unknown filter operator {other}"))),
    })
}

/// Removes one-element AND/OR wrappers, so plans read as written.
fn simplify(filter: Filter) -> Filter {
    match filter {
        Filter::And(parts) | Filter::Or(parts) if parts.len() == 1 => {
            simplify(parts.into_iter().next().unwrap_or(Filter::And(Vec::new())))
        }
        Filter::And(parts) => Filter::And(parts.into_iter().map(simplify).collect()),
        Filter::Or(parts) => Filter::Or(parts.into_iter().map(simplify).collect()),
        Filter::Not(inner) => Filter::Not(Box::new(simplify(*inner))),
        other => other,
    }
}

fn to_json(value: &GqlValue) -> Value {
    match value {
        GqlValue::Enum(name) => Value::String(name.to_string()),
        other => other.clone().into_json().unwrap_or(Value::Null),
    }
}
