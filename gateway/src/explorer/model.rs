//! The explorer's view of one graph generation as compact JSON: namespaces with the state of
//! their sources, entities with keys, properties and relations, and operations.
//!
//! Entities are one flat array addressed by their graph index (relations point at indexes, also
//! across namespaces), so the page builds its search index and neighbourhoods without lookups by
//! name. Absent labels, descriptions and false flags are left out to keep the document small for
//! graphs of thousands of entities.

use std::collections::HashSet;

use bizgraph_schema::edm::Dialect;
use bizgraph_schema::graphql::scalar_name;
use bizgraph_schema::model::{
    Entity, EntityKind, Field, FieldKind, Graph, OperationKind, RelationKind, ReturnKind,
};
use serde_json::{Map, Value, json};

use crate::graph::{Generation, SourceHealth};

/// The model document of a generation (see the module documentation for its shape).
pub fn model_json(generation: &Generation) -> Value {
    let graph = &generation.graph;
    let mut namespaces = Vec::new();
    let mut seen = HashSet::new();
    // Sources in configuration order, with those that failed entirely (and so are missing from
    // the graph) in their place.
    for source in &generation.sources {
        seen.insert(source.name.as_str());
        let id = graph.namespace(&source.name);
        let sources: Vec<Value> = source
            .services
            .iter()
            .map(|service| {
                let dialect = id.and_then(|id| {
                    graph.namespaces[id]
                        .services
                        .iter()
                        .map(|&s| &graph.services[s])
                        .find(|s| {
                            s.destination == service.destination
                                && s.path == service.path.trim_end_matches('/')
                        })
                        .map(|s| dialect_name(s.dialect))
                });
                let mut item = json!({
                    "destination": service.destination,
                    "path": service.path,
                    "state": if service.ok { "ready" } else { "failed" },
                    "entitySets": service.entity_sets,
                });
                put(&mut item, "dialect", dialect.map(Value::from));
                put(
                    &mut item,
                    "version",
                    service.version.clone().map(Value::from),
                );
                put(&mut item, "url", service.url.clone().map(Value::from));
                put(&mut item, "error", service.error.clone().map(Value::from));
                if service.metadata_errors > 0 {
                    item["metadataErrors"] = Value::from(service.metadata_errors);
                }
                item
            })
            .collect();
        let state = match source.state {
            SourceHealth::Ready => "ready",
            SourceHealth::Degraded => "degraded",
            SourceHealth::Failed => "failed",
        };
        namespaces.push(namespace_json(graph, id, &source.name, state, sources));
    }
    // A graph built without sources (tests, or a namespace the states do not list).
    for (id, namespace) in graph.namespaces.iter().enumerate() {
        if seen.contains(namespace.name.as_str()) {
            continue;
        }
        let sources = namespace
            .services
            .iter()
            .map(|&s| {
                let service = &graph.services[s];
                json!({
                    "destination": service.destination,
                    "path": service.path,
                    "state": "ready",
                    "dialect": dialect_name(service.dialect),
                })
            })
            .collect();
        namespaces.push(namespace_json(
            graph,
            Some(id),
            &namespace.name,
            "ready",
            sources,
        ));
    }
    let names = entity_names(graph);
    let entities: Vec<Value> = graph
        .entities
        .iter()
        .enumerate()
        .map(|(id, entity)| entity_json(graph, entity, &names[id]))
        .collect();
    let operations: Vec<Value> = graph
        .operations
        .iter()
        .map(|operation| {
            let mut item = json!({
                "ns": operation.namespace,
                "name": operation.name,
                "gql": operation.gql_name,
                "kind": match operation.kind {
                    OperationKind::Function => "function",
                    OperationKind::Action => "action",
                },
                "parameters": operation.parameters.iter().map(|p| field_json(graph, p, false)).collect::<Vec<_>>(),
            });
            if let Some(returns) = &operation.returns {
                let ty = match returns.kind {
                    ReturnKind::Entity(entity) => json!({"entity": entity}),
                    ReturnKind::Value(kind) => json!({"type": kind_name(graph, kind)}),
                };
                item["returns"] = ty;
                item["returns"]["collection"] = Value::from(returns.collection);
            }
            put(
                &mut item,
                "description",
                operation.description.clone().map(Value::from),
            );
            if let Some(binding) = &operation.binding {
                item["bound"] = json!({
                    "entity": binding.entity,
                    "collection": binding.collection,
                    "qualified": binding.qualified,
                });
            }
            item
        })
        .collect();
    let size = graph.size();
    json!({
        "loaded": generation.loaded,
        "loadedAt": generation
            .loaded_at
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default(),
        "size": size,
        "namespaces": namespaces,
        "entities": entities,
        "operations": operations,
        "findings": generation.findings.iter().map(ToString::to_string).collect::<Vec<_>>(),
    })
}

fn namespace_json(
    graph: &Graph,
    id: Option<usize>,
    name: &str,
    state: &str,
    sources: Vec<Value>,
) -> Value {
    let (gql, entities, operations) = match id {
        Some(id) => {
            let namespace = &graph.namespaces[id];
            (
                Value::from(namespace.gql_name.as_str()),
                namespace.entities.clone(),
                namespace.operations.clone(),
            )
        }
        None => (Value::Null, Vec::new(), Vec::new()),
    };
    json!({
        "id": id,
        "name": name,
        "gql": gql,
        "state": state,
        "sources": sources,
        "entities": entities,
        "operations": operations,
    })
}

/// Sets `key` when there is a value.
fn put(item: &mut Value, key: &str, value: Option<Value>) {
    if let (Some(value), Value::Object(object)) = (value, item) {
        object.insert(key.to_owned(), value);
    }
}

fn dialect_name(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::V2 => "v2",
        Dialect::V4 => "v4",
    }
}

/// The name each entity goes by in its namespace (and in the explorer's links): its set or
/// singleton, or for one reached only by navigation the simple name of its type, qualified
/// when that is taken.
pub fn entity_names(graph: &Graph) -> Vec<String> {
    let mut names = vec![String::new(); graph.entities.len()];
    for namespace in &graph.namespaces {
        let mut taken: HashSet<&str> = HashSet::new();
        for &id in &namespace.entities {
            let entity = &graph.entities[id];
            if entity.kind != EntityKind::Contained {
                taken.insert(entity.set_name.as_str());
                names[id] = entity.set_name.clone();
            }
        }
        for &id in &namespace.entities {
            let entity = &graph.entities[id];
            if entity.kind == EntityKind::Contained {
                let simple = entity.shown_name();
                names[id] = if taken.insert(simple) {
                    simple.to_owned()
                } else {
                    entity.type_name.clone()
                };
            }
        }
    }
    names
}

fn entity_json(graph: &Graph, entity: &Entity, name: &str) -> Value {
    let kind = match entity.kind {
        EntityKind::Set => "set",
        EntityKind::Singleton => "singleton",
        EntityKind::Contained => "contained",
    };
    let properties: Vec<Value> = entity
        .fields
        .iter()
        .enumerate()
        .map(|(index, field)| {
            let mut json = field_json(graph, field, entity.key.contains(&index));
            // Whether the unit is a currency, decided as the served `$metadata` decides it.
            if let Some(currency) = bizgraph_schema::csdl::unit_is_currency(field, &entity.fields) {
                json["unitKind"] = Value::from(if currency { "currency" } else { "unit" });
            }
            json
        })
        .collect();
    let relations: Vec<Value> = entity
        .relations
        .iter()
        .map(|relation| {
            let mut item = json!({
                "name": relation.name,
                "gql": relation.gql_name,
                "target": relation.target,
                "many": relation.many,
            });
            let target = &graph.entities[relation.target];
            let pairs = match &relation.kind {
                RelationKind::Join { pairs } => {
                    item["cross"] = Value::Bool(true);
                    pairs
                }
                RelationKind::Navigation => &relation.constraints,
            };
            if !pairs.is_empty() {
                item["on"] = pairs
                    .iter()
                    .map(|&(local, remote)| {
                        json!([entity.fields[local].name, target.fields[remote].name])
                    })
                    .collect();
            }
            item
        })
        .collect();
    let capabilities = &entity.capabilities;
    let flags: Vec<&str> = [
        ("filterable", capabilities.filterable),
        ("sortable", capabilities.sortable),
        ("countable", capabilities.countable),
        ("searchable", capabilities.searchable),
        ("top", capabilities.top),
        ("skip", capabilities.skip),
        ("insertable", capabilities.insertable),
        ("updatable", capabilities.updatable),
        ("deletable", capabilities.deletable),
        ("requiresFilter", capabilities.requires_filter),
        ("addressable", capabilities.addressable),
    ]
    .into_iter()
    .filter_map(|(flag, on)| on.then_some(flag))
    .collect();
    let mut item = json!({
        "ns": entity.namespace,
        "name": name,
        "kind": kind,
        "type": entity.type_name,
        "gqlType": entity.gql_type,
        "keys": entity.key.iter().map(|&k| entity.fields[k].name.as_str()).collect::<Vec<_>>(),
        "properties": properties,
        "relations": relations,
        "capabilities": flags,
    });
    let object = item.as_object_mut().expect("an object");
    if entity.kind != EntityKind::Contained {
        object.insert("set".to_owned(), Value::from(entity.set_name.as_str()));
        object.insert(
            "gqlField".to_owned(),
            Value::from(entity.gql_field.as_str()),
        );
    }
    optional(object, "label", &entity.label);
    optional(object, "description", &entity.description);
    if entity.etag {
        object.insert("etag".to_owned(), Value::Bool(true));
    }
    if !entity.operations.is_empty() {
        object.insert("operations".to_owned(), json!(entity.operations));
    }
    item
}

fn optional(object: &mut Map<String, Value>, key: &str, value: &Option<String>) {
    if let Some(value) = value {
        object.insert(key.to_owned(), Value::from(value.as_str()));
    }
}

/// The OData type of a field's values (`Edm.String`, an enum or complex type's name).
fn kind_name(graph: &Graph, kind: FieldKind) -> String {
    match kind {
        FieldKind::Scalar(ty) => ty.name().to_owned(),
        FieldKind::Enum(id) => graph.enums[id].name.clone(),
        FieldKind::Complex(id) => graph.complex_types[id].name.clone(),
    }
}

/// The GraphQL type of a field's values: a scalar, or an enum or object type.
fn gql_kind_name(graph: &Graph, kind: FieldKind) -> String {
    match kind {
        FieldKind::Scalar(ty) => scalar_name(ty).to_owned(),
        FieldKind::Enum(id) => graph.enums[id].gql_type.clone(),
        FieldKind::Complex(id) => graph.complex_types[id].gql_type.clone(),
    }
}

fn field_json(graph: &Graph, field: &Field, key: bool) -> Value {
    let mut ty = kind_name(graph, field.kind);
    if field.collection {
        ty = format!("Collection({ty})");
    }
    let mut object = Map::new();
    object.insert("name".to_owned(), Value::from(field.name.as_str()));
    if field.gql_name != field.name {
        object.insert("gql".to_owned(), Value::from(field.gql_name.as_str()));
    }
    object.insert("type".to_owned(), Value::from(ty));
    object.insert(
        "gqlType".to_owned(),
        Value::from(gql_kind_name(graph, field.kind)),
    );
    match field.kind {
        FieldKind::Enum(id) => {
            object.insert(
                "members".to_owned(),
                graph.enums[id]
                    .members
                    .iter()
                    .map(|m| Value::from(m.gql_name.as_str()))
                    .collect(),
            );
        }
        FieldKind::Complex(_) => {
            object.insert("complex".to_owned(), Value::Bool(true));
        }
        FieldKind::Scalar(_) => {}
    }
    for (flag, on) in [
        ("key", key),
        ("filterable", field.filterable),
        ("sortable", field.sortable),
        ("nullable", field.nullable),
        ("collection", field.collection),
    ] {
        if on {
            object.insert(flag.to_owned(), Value::Bool(true));
        }
    }
    optional(&mut object, "label", &field.label);
    optional(&mut object, "description", &field.description);
    optional(&mut object, "unit", &field.unit);
    if let Some(length) = field.max_length {
        object.insert("maxLength".to_owned(), Value::from(length));
    }
    if let Some(precision) = field.precision {
        object.insert("precision".to_owned(), Value::from(precision));
    }
    if let Some(scale) = field.scale {
        object.insert("scale".to_owned(), Value::from(scale));
    }
    Value::Object(object)
}
