//! What a GraphQL request sends, shown without sending it.
//!
//! Backend requests come from the planner the executor uses: the request runs against the
//! generation's GraphQL schema with a recording [`Execute`] instead of the backends, so what is
//! shown is what would be sent. Beside each read, the equivalent URL of the gateway's own OData
//! v4 endpoint: the GraphQL selection is read into the same front-end-neutral [`Read`] the
//! schema's resolvers build ([`root_reads`], following `schema/src/graphql.rs` rule for rule),
//! paired with the recorded plan that planning it reproduces, and written as an OData v4 URL with
//! the names the endpoint serves ([`gateway_url`]).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationType, Selection as GqlSelection,
    SelectionSet,
};
use async_graphql::{Name, Value as ConstValue};
use bizgraph_schema::call::{Call, CallMethod};
use bizgraph_schema::edm::{Dialect, EdmType};
use bizgraph_schema::execute::{BoxFuture, ExecError, Execute, Write, WriteKind};
use bizgraph_schema::graphql::{ETAG_FIELD, Executor as ExecutorData};
use bizgraph_schema::literal::{encode_component, escape_search, format_key, format_literal};
use bizgraph_schema::model::{Entity, EntityId, EntityKind, FieldKind, Graph};
use bizgraph_schema::plan::{Fetch, Options, Plan, Shape, plan, render_options};
use bizgraph_schema::query::{
    CollectionArgs, CompareOp, Direction, Filter, Operand, Quantifier, Read, RelationRead, Scope,
    Selection, Target, TextOp,
};
use serde::Serialize;
use serde_json::{Value, json};

use super::NameTable;
use crate::graph::Generation;

/// Response keys of a connection (`schema::execute`), as GraphQL selects them.
const NODES: &str = "nodes";
const TOTAL_COUNT: &str = "totalCount";
/// Deepest fragment nesting followed; validation refuses cycles, this only bounds the work.
const MAX_FRAGMENT_DEPTH: usize = 64;

/// What a GraphQL request would send.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Explanation {
    /// One entry per root read, in document order, then calls and writes.
    pub reads: Vec<ExplainedRead>,
    /// GraphQL errors (parsing, validation, planning), as messages.
    pub errors: Vec<String>,
}

/// One root field's requests.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExplainedRead {
    /// The response path (`crm.Opportunities`), when the read comes from a root field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The namespace read.
    pub namespace: String,
    /// The entity read (its set, singleton or type name), or the operation called.
    pub entity: String,
    /// The backend requests, first request first, then the batched joins level by level.
    pub requests: Vec<BackendRequest>,
    /// The equivalent URL of the gateway's OData v4 endpoint, percent-encoded and relative to
    /// the gateway's root (`odata/v4/crm/Opportunities?...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub odata: Option<String>,
    /// Why this read cannot be planned, or has no OData URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One request to a backend.
#[derive(Debug, Clone, Serialize)]
pub struct BackendRequest {
    /// The namespace of the service asked.
    pub namespace: String,
    /// The destination that reaches it.
    pub destination: String,
    /// `v2` or `v4`.
    pub dialect: &'static str,
    /// The HTTP method.
    pub method: &'static str,
    /// Path and query below the destination's URL, as the planner renders them.
    pub url: String,
    /// 0 for the first request; a join one level down is 1, and so on.
    pub depth: usize,
    /// For a join: the response key of the relation it fetches, once for all parents; its URL
    /// shows `<parent keys>` where the parents' keys go.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join: Option<String>,
}

/// Explains a GraphQL request: runs it against the generation's schema with a recorder, reads
/// its root fields into [`Read`]s and pairs the two.
pub async fn explain(
    generation: &Generation,
    names: &NameTable,
    query: &str,
    variables: Value,
    operation_name: Option<&str>,
) -> Explanation {
    let graph = &generation.graph;
    let recorder = Arc::new(Recorder::default());
    let executor: ExecutorData = recorder.clone();
    let mut request = async_graphql::Request::new(query).data(executor);
    if !variables.is_null() {
        request = request.variables(async_graphql::Variables::from_json(variables.clone()));
    }
    if let Some(name) = operation_name {
        request = request.operation_name(name);
    }
    let response = generation.schema.execute(request).await;
    let mut explanation = Explanation {
        errors: response.errors.iter().map(|e| e.message.clone()).collect(),
        ..Explanation::default()
    };
    let mut events = recorder
        .events
        .lock()
        .map(|mut events| std::mem::take(&mut *events))
        .unwrap_or_default();
    // The reads as the GraphQL front end builds them. A document the schema refused has errors
    // already; this reading adds nothing to them.
    let reads = root_reads(graph, query, &variables, operation_name).unwrap_or_default();
    for root in reads {
        let entity = &graph.entities[root.read.entity];
        let mut entry = ExplainedRead {
            path: Some(root.path.clone()),
            namespace: graph.namespaces[entity.namespace].name.clone(),
            entity: entity.shown_name().to_owned(),
            ..ExplainedRead::default()
        };
        match plan(graph, &root.read, &generation.limits) {
            Ok(planned) => {
                let recorded = events
                    .iter()
                    .position(|event| matches!(event, Event::Read(p) if *p == planned));
                match recorded {
                    Some(index) => {
                        events.remove(index);
                        entry.requests = plan_requests(graph, &planned);
                        match gateway_url(graph, names, &root.read) {
                            Ok(url) => entry.odata = Some(url),
                            Err(reason) => entry.note = Some(reason),
                        }
                    }
                    // The schema did not run this read (an error elsewhere stopped it).
                    None => continue,
                }
            }
            Err(error) => entry.note = Some(error.to_string()),
        }
        explanation.reads.push(entry);
    }
    for event in events {
        explanation.reads.push(match event {
            Event::Read(planned) => {
                let entity = &graph.entities[planned.fetch.entity];
                ExplainedRead {
                    namespace: graph.namespaces[entity.namespace].name.clone(),
                    entity: entity.shown_name().to_owned(),
                    requests: plan_requests(graph, &planned),
                    note: Some("no equivalent OData URL is known for this read".to_owned()),
                    ..ExplainedRead::default()
                }
            }
            Event::Other {
                namespace,
                name,
                request,
            } => ExplainedRead {
                namespace,
                entity: name,
                requests: vec![request],
                ..ExplainedRead::default()
            },
        });
    }
    explanation
}

// ----- recording -----

/// What the schema handed to the executor.
enum Event {
    /// A planned read.
    Read(Plan),
    /// A write or an operation call: one request.
    Other {
        namespace: String,
        name: String,
        request: BackendRequest,
    },
}

/// Records what the schema would send and answers every read with no data.
#[derive(Default)]
struct Recorder {
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    fn push(&self, event: Event) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event);
        }
    }
}

fn dialect_name(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::V2 => "v2",
        Dialect::V4 => "v4",
    }
}

impl Execute for Recorder {
    fn read<'a>(
        &'a self,
        _graph: &'a Graph,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Result<Value, ExecError>> {
        self.push(Event::Read(plan.clone()));
        let empty = if plan.single {
            Value::Null
        } else {
            json!({ NODES: [], TOTAL_COUNT: null })
        };
        Box::pin(async move { Ok(empty) })
    }

    fn write<'a>(
        &'a self,
        graph: &'a Graph,
        write: &'a Write,
    ) -> BoxFuture<'a, Result<Value, ExecError>> {
        let entity = &graph.entities[write.entity];
        let service = &graph.services[entity.service];
        let method = match (write.kind, service.dialect) {
            (WriteKind::Create, _) => "POST",
            (WriteKind::Update, Dialect::V4) => "PATCH",
            (WriteKind::Update, Dialect::V2) => "MERGE",
            (WriteKind::Replace, _) => "PUT",
            (WriteKind::Delete, _) => "DELETE",
        };
        let resource = match write.kind {
            WriteKind::Create => encode_component(&entity.set_name),
            _ => bizgraph_schema::plan::entity_path(graph, write.entity, &write.key)
                .unwrap_or_else(|_| encode_component(&entity.set_name)),
        };
        self.push(Event::Other {
            namespace: graph.namespaces[entity.namespace].name.clone(),
            name: entity.shown_name().to_owned(),
            request: BackendRequest {
                namespace: graph.namespaces[entity.namespace].name.clone(),
                destination: service.destination.clone(),
                dialect: dialect_name(service.dialect),
                method,
                url: format!("{}/{resource}", service.path),
                depth: 0,
                join: None,
            },
        });
        Box::pin(async move { Ok(Value::Null) })
    }

    fn call<'a>(
        &'a self,
        graph: &'a Graph,
        call: &'a Call,
    ) -> BoxFuture<'a, Result<Value, ExecError>> {
        let service = &graph.services[call.service];
        let namespace = graph.namespaces[service.namespace].name.clone();
        let method = match call.method {
            CallMethod::Get => "GET",
            CallMethod::Post => "POST",
        };
        let name = call
            .path
            .split(['(', '?'])
            .next()
            .unwrap_or(&call.path)
            .to_owned();
        self.push(Event::Other {
            namespace: namespace.clone(),
            name,
            request: BackendRequest {
                namespace,
                destination: service.destination.clone(),
                dialect: dialect_name(service.dialect),
                method,
                url: format!("{}/{}", service.path, call.path),
                depth: 0,
                join: None,
            },
        });
        Box::pin(async move { Ok(Value::Null) })
    }
}

/// The requests of a plan: the first one as the executor sends it, then each join (one request
/// per level for all parents) with a placeholder for the parents' keys, as `bizgraph plan`
/// prints them.
pub fn plan_requests(graph: &Graph, plan: &Plan) -> Vec<BackendRequest> {
    let mut requests = Vec::new();
    let first = fetch_request(graph, &plan.fetch, plan.fetch.url(graph), 0, None);
    requests.push(first);
    join_requests(graph, &plan.fetch.shape, 1, &mut requests);
    requests
}

fn fetch_request(
    graph: &Graph,
    fetch: &Fetch,
    url: String,
    depth: usize,
    join: Option<String>,
) -> BackendRequest {
    let service = &graph.services[fetch.service];
    BackendRequest {
        namespace: graph.namespaces[service.namespace].name.clone(),
        destination: service.destination.clone(),
        dialect: dialect_name(service.dialect),
        method: "GET",
        url: format!("{}/{url}", service.path),
        depth,
        join,
    }
}

fn join_requests(graph: &Graph, shape: &Shape, depth: usize, out: &mut Vec<BackendRequest>) {
    for expand in &shape.expands {
        join_requests(graph, &expand.shape, depth, out);
    }
    for join in &shape.joins {
        out.push(fetch_request(
            graph,
            &join.fetch,
            join.template(graph),
            depth,
            Some(join.key.clone()),
        ));
        join_requests(graph, &join.fetch.shape, depth + 1, out);
    }
}

// ----- GraphQL to reads -----

/// A root field of a query read as the schema's resolver reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct RootRead {
    /// Response keys from the root: `crm.Opportunities` (aliases where given).
    pub path: String,
    /// The read.
    pub read: Read,
}

/// The entity reads of a GraphQL query's root fields, as the schema builds them (see
/// `schema/src/graphql.rs`: `connection_read`, `entity_selection`, `collection_args`,
/// `filter_of`). Mutations, operations and unknown fields yield nothing; the schema itself
/// reports what is invalid.
pub fn root_reads(
    graph: &Graph,
    query: &str,
    variables: &Value,
    operation_name: Option<&str>,
) -> Result<Vec<RootRead>, String> {
    let document = async_graphql::parser::parse_query(query).map_err(|error| error.to_string())?;
    let operation = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => &operation.node,
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .iter()
            .find(|(candidate, _)| candidate.as_str() == name)
            .map(|(_, operation)| &operation.node)
            .ok_or_else(|| format!("unknown operation named \"{name}\""))?,
        (DocumentOperations::Multiple(operations), None) => {
            let mut all = operations.values();
            match (all.next(), all.next()) {
                (Some(only), None) => &only.node,
                _ => return Err("operationName is required".to_owned()),
            }
        }
    };
    if operation.ty != OperationType::Query {
        return Ok(Vec::new());
    }
    let mut bound = serde_json::Map::new();
    for definition in &operation.variable_definitions {
        let name = definition.node.name.node.as_str();
        match variables.get(name) {
            Some(value) => {
                bound.insert(name.to_owned(), value.clone());
            }
            None => {
                if let Some(default) = &definition.node.default_value {
                    let value = default.node.clone().into_json().unwrap_or(Value::Null);
                    bound.insert(name.to_owned(), value);
                }
            }
        }
    }
    let reader = Reader {
        graph,
        document: &document,
        variables: bound,
    };
    let mut reads = Vec::new();
    for namespace_field in reader.fields(&operation.selection_set.node)? {
        let Some(namespace) = graph
            .namespaces
            .iter()
            .find(|n| n.gql_name == namespace_field.name.node.as_str())
        else {
            continue;
        };
        let namespace_key = response_key(namespace_field);
        for field in reader.fields(&namespace_field.selection_set.node)? {
            let name = field.name.node.as_str();
            let path = format!("{namespace_key}.{}", response_key(field));
            for &entity_id in &namespace.entities {
                let entity = &graph.entities[entity_id];
                let read = match entity.kind {
                    EntityKind::Contained => continue,
                    EntityKind::Set if entity.gql_field == name => {
                        let (args, selection) = reader.connection(entity_id, field)?;
                        Read {
                            entity: entity_id,
                            target: Target::Collection(args),
                            selection,
                        }
                    }
                    EntityKind::Set
                        if name.strip_suffix("ByKey") == Some(entity.gql_field.as_str()) =>
                    {
                        let arguments = reader.arguments(field);
                        let key = entity
                            .key
                            .iter()
                            .map(|&index| {
                                let key = &entity.fields[index];
                                let value = arguments
                                    .get(&key.gql_name)
                                    .ok_or_else(|| format!("key {} is missing", key.gql_name))?;
                                Ok((index, to_json(value)))
                            })
                            .collect::<Result<Vec<_>, String>>()?;
                        Read {
                            entity: entity_id,
                            target: Target::Key(key),
                            selection: reader.entity_selection(entity_id, field)?,
                        }
                    }
                    EntityKind::Singleton if entity.gql_field == name => Read {
                        entity: entity_id,
                        target: Target::Key(Vec::new()),
                        selection: reader.entity_selection(entity_id, field)?,
                    },
                    _ => continue,
                };
                reads.push(RootRead {
                    path: path.clone(),
                    read,
                });
                break;
            }
        }
    }
    Ok(reads)
}

fn response_key(field: &Field) -> &str {
    field
        .alias
        .as_ref()
        .map_or(field.name.node.as_str(), |alias| alias.node.as_str())
}

/// A field's arguments, variables resolved, in the order written.
#[derive(Debug, Default)]
struct Arguments(Vec<(String, ConstValue)>);

impl Arguments {
    /// An argument by name.
    fn get(&self, name: &str) -> Option<&ConstValue> {
        self.0
            .iter()
            .find(|(candidate, _)| candidate == name)
            .map(|(_, value)| value)
    }
}

struct Reader<'a> {
    graph: &'a Graph,
    document: &'a ExecutableDocument,
    variables: serde_json::Map<String, Value>,
}

impl<'a> Reader<'a> {
    /// A variable's value; one not given is null.
    fn variable(&self, name: Name) -> Result<ConstValue, Infallible> {
        Ok(self
            .variables
            .get(name.as_str())
            .and_then(|value| ConstValue::from_json(value.clone()).ok())
            .unwrap_or(ConstValue::Null))
    }

    fn arguments(&self, field: &Field) -> Arguments {
        Arguments(
            field
                .arguments
                .iter()
                .map(|(name, value)| {
                    (
                        name.node.to_string(),
                        value
                            .node
                            .clone()
                            .into_const_with(|name| self.variable(name))
                            .unwrap_or(ConstValue::Null),
                    )
                })
                .collect(),
        )
    }

    /// `@skip(if:)` and `@include(if:)` (GraphQL October 2021, section 3.13).
    fn included(
        &self,
        directives: &[async_graphql::Positioned<async_graphql::parser::types::Directive>],
    ) -> bool {
        for directive in directives {
            let condition = directive.node.get_argument("if").map(|value| {
                matches!(
                    value
                        .node
                        .clone()
                        .into_const_with(|name| self.variable(name)),
                    Ok(ConstValue::Boolean(true))
                )
            });
            match (directive.node.name.node.as_str(), condition) {
                ("skip", Some(true)) | ("include", Some(false)) => return false,
                _ => {}
            }
        }
        true
    }

    /// The fields of a selection set, fragments flattened, skipped ones left out.
    fn fields(&self, set: &'a SelectionSet) -> Result<Vec<&'a Field>, String> {
        let mut out = Vec::new();
        self.collect(set, &mut out, 0)?;
        Ok(out)
    }

    fn collect(
        &self,
        set: &'a SelectionSet,
        out: &mut Vec<&'a Field>,
        depth: usize,
    ) -> Result<(), String> {
        if depth > MAX_FRAGMENT_DEPTH {
            return Err("fragments are nested too deep".to_owned());
        }
        for item in &set.items {
            match &item.node {
                GqlSelection::Field(field) => {
                    if self.included(&field.node.directives) {
                        out.push(&field.node);
                    }
                }
                GqlSelection::FragmentSpread(spread) => {
                    if !self.included(&spread.node.directives) {
                        continue;
                    }
                    let name = &spread.node.fragment_name.node;
                    let fragment = self
                        .document
                        .fragments
                        .get(name)
                        .ok_or_else(|| format!("unknown fragment \"{name}\""))?;
                    self.collect(&fragment.node.selection_set.node, out, depth + 1)?;
                }
                GqlSelection::InlineFragment(fragment) => {
                    if self.included(&fragment.node.directives) {
                        self.collect(&fragment.node.selection_set.node, out, depth + 1)?;
                    }
                }
            }
        }
        Ok(())
    }

    fn connection(
        &self,
        entity_id: EntityId,
        field: &'a Field,
    ) -> Result<(CollectionArgs, Selection), String> {
        let arguments = self.arguments(field);
        let mut args = self.collection_args(entity_id, &arguments)?;
        let mut selection = Selection::default();
        for child in self.fields(&field.selection_set.node)? {
            match child.name.node.as_str() {
                NODES => {
                    args.nodes = true;
                    merge(&mut selection, self.entity_selection(entity_id, child)?);
                }
                TOTAL_COUNT => args.count = true,
                _ => {}
            }
        }
        Ok((args, selection))
    }

    fn entity_selection(&self, entity_id: EntityId, field: &'a Field) -> Result<Selection, String> {
        let entity = &self.graph.entities[entity_id];
        let mut selection = Selection::default();
        for child in self.fields(&field.selection_set.node)? {
            let name = child.name.node.as_str();
            if let Some((index, _)) = entity.field_by_gql(name) {
                selection.add_field(index);
            } else if let Some((index, relation)) = entity.relation_by_gql(name) {
                let key = response_key(child).to_owned();
                let read = if relation.many {
                    let (args, nested) = self.connection(relation.target, child)?;
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
                        selection: self.entity_selection(relation.target, child)?,
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
        &self,
        entity_id: EntityId,
        arguments: &Arguments,
    ) -> Result<CollectionArgs, String> {
        let entity = &self.graph.entities[entity_id];
        let mut args = CollectionArgs::default();
        if let Some(filter) = arguments.get("filter")
            && !matches!(filter, ConstValue::Null)
        {
            args.filter = Some(filter_of(self.graph, entity_id, &[], filter)?);
        }
        if let Some(order) = arguments.get("orderBy") {
            for item in list_items(order) {
                let ConstValue::Object(item) = item else {
                    continue;
                };
                for (name, direction) in item {
                    let (index, _) = entity.field_by_gql(name.as_str()).ok_or_else(|| {
                        format!("{} cannot be sorted by {name}", entity.shown_name())
                    })?;
                    let direction = match direction {
                        ConstValue::Enum(value) if value.as_str() == "desc" => Direction::Desc,
                        ConstValue::String(value) if value == "desc" => Direction::Desc,
                        ConstValue::Null => continue,
                        _ => Direction::Asc,
                    };
                    args.order_by.push((index, direction));
                }
            }
        }
        args.top = count_argument(arguments, "top")?;
        args.skip = count_argument(arguments, "skip")?;
        if let Some(ConstValue::String(search)) = arguments.get("search") {
            args.search = Some(search.clone());
        }
        Ok(args)
    }
}

/// Merges a selection into another as the schema does: fields once, relations by response key.
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

fn count_argument(arguments: &Arguments, name: &str) -> Result<Option<u32>, String> {
    match arguments.get(name) {
        None | Some(ConstValue::Null) => Ok(None),
        Some(ConstValue::Number(number)) => number
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| format!("{name} must be 0 or more, not {number}")),
        Some(other) => Err(format!("{name} must be an integer, not {other}")),
    }
}

/// A list value's items; a single value counts as a list of one (GraphQL input coercion,
/// section 3.11).
fn list_items(value: &ConstValue) -> Vec<&ConstValue> {
    match value {
        ConstValue::List(items) => items.iter().collect(),
        ConstValue::Null => Vec::new(),
        other => vec![other],
    }
}

fn to_json(value: &ConstValue) -> Value {
    match value {
        ConstValue::Enum(name) => Value::String(name.to_string()),
        other => other.clone().into_json().unwrap_or(Value::Null),
    }
}

/// CAP semantics: a list's items are ORed, an object's fields ANDed, down to the operators.
fn filter_of(
    graph: &Graph,
    entity_id: EntityId,
    path: &[usize],
    value: &ConstValue,
) -> Result<Filter, String> {
    let entity = &graph.entities[entity_id];
    let mut alternatives = Vec::new();
    for item in list_items(value) {
        let ConstValue::Object(object) = item else {
            return Err(format!(
                "a filter on {} must be an object",
                entity.shown_name()
            ));
        };
        let mut all = Vec::new();
        for (name, condition) in object {
            if let Some((index, field)) = entity.field_by_gql(name.as_str()) {
                if !field.filterable {
                    return Err(format!("{}.{name} is not filterable", entity.shown_name()));
                }
                let mut any = Vec::new();
                for operators in list_items(condition) {
                    let ConstValue::Object(operators) = operators else {
                        return Err(format!(
                            "the filter on {}.{name} must be an object of operators",
                            entity.shown_name()
                        ));
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
                return Err(format!(
                    "{} has no filter field {name}",
                    entity.shown_name()
                ));
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
    operand: &ConstValue,
) -> Result<Filter, String> {
    let compare = |op| Filter::Compare {
        path: path.to_vec(),
        field,
        op,
        value: to_json(operand),
    };
    let text = |op| match operand {
        ConstValue::String(value) => Ok(Filter::Text {
            path: path.to_vec(),
            field,
            op,
            value: value.clone(),
        }),
        _ => Err(format!("{op:?} needs a string")),
    };
    Ok(match op {
        "eq" => compare(CompareOp::Eq),
        "ne" => compare(CompareOp::Ne),
        "gt" => compare(CompareOp::Gt),
        "ge" => compare(CompareOp::Ge),
        "lt" => compare(CompareOp::Lt),
        "le" => compare(CompareOp::Le),
        "in" => Filter::In {
            path: path.to_vec(),
            field,
            values: list_items(operand).into_iter().map(to_json).collect(),
        },
        "contains" => text(TextOp::Contains)?,
        "startswith" => text(TextOp::StartsWith)?,
        "endswith" => text(TextOp::EndsWith)?,
        other => return Err(format!("unknown filter operator {other}")),
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

// ----- reads to gateway OData URLs -----

/// The URL of the gateway's OData v4 endpoint that reads what `read` reads, relative to the
/// gateway's root and percent-encoded: `odata/v4/<namespace>/<Set>[(<key>)]?<options>` with
/// `$select`, `$expand` (nested options, also across sources), `$filter`, `$orderby`, `$top`,
/// `$skip`, `$count` and `$search` (OData 4.01 Part 2, "System Query Options"). Names are the
/// ones the endpoint's `$metadata` declares; values are written as OData v4 literals of their
/// fields' types.
pub fn gateway_url(graph: &Graph, names: &NameTable, read: &Read) -> Result<String, String> {
    let entity = &graph.entities[read.entity];
    let namespace = &graph.namespaces[entity.namespace];
    if entity.kind == EntityKind::Contained {
        return Err(format!(
            "{} is only reached through navigation; it has no URL of its own",
            entity.shown_name()
        ));
    }
    let writer = UrlWriter { graph, names };
    let set = names
        .get(graph, entity.namespace)
        .entity_set(read.entity)
        .unwrap_or(&entity.set_name)
        .to_owned();
    let mut options = Options::default();
    let mut resource = encode_component(&set);
    match &read.target {
        Target::Collection(args) => writer.collection_options(read.entity, args, &mut options)?,
        Target::Key(key) if key.is_empty() => {}
        Target::Key(key) => {
            let values: Vec<(&str, EdmType, &Value)> = key
                .iter()
                .map(|(index, value)| {
                    let field = &entity.fields[*index];
                    let ty = field.edm_type().unwrap_or(EdmType::String);
                    (field.name.as_str(), ty, value)
                })
                .collect();
            let predicate = format_key(Dialect::V4, &values).map_err(|error| error.to_string())?;
            resource.push_str(&encode_component(&predicate));
        }
    }
    writer.selection_options(read.entity, &read.selection, &mut options)?;
    let query = render_options(Dialect::V4, &options, '&', true);
    let mut url = format!("odata/v4/{}/{resource}", encode_component(&namespace.name));
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query);
    }
    Ok(url)
}

struct UrlWriter<'g> {
    graph: &'g Graph,
    names: &'g NameTable,
}

impl UrlWriter<'_> {
    /// The navigation property the endpoint declares for a relation.
    fn relation_name(&self, entity_id: EntityId, relation: usize) -> String {
        let entity = &self.graph.entities[entity_id];
        self.names
            .get(self.graph, entity.namespace)
            .relation(entity_id, relation)
            .map_or_else(|| entity.relations[relation].name.clone(), str::to_owned)
    }

    fn collection_options(
        &self,
        entity_id: EntityId,
        args: &CollectionArgs,
        options: &mut Options,
    ) -> Result<(), String> {
        let entity = &self.graph.entities[entity_id];
        if let Some(filter) = &args.filter {
            options.filter = Some(self.condition(&[entity_id], filter)?);
        }
        for (index, direction) in &args.order_by {
            let direction = match direction {
                Direction::Asc => "asc",
                Direction::Desc => "desc",
            };
            options
                .orderby
                .push(format!("{} {direction}", entity.fields[*index].name));
        }
        options.top = if args.nodes { args.top } else { Some(0) };
        options.skip = args.skip.filter(|&skip| skip > 0);
        options.count = args.count;
        options.search = args
            .search
            .as_ref()
            .map(|text| escape_search(Dialect::V4, text));
        Ok(())
    }

    fn selection_options(
        &self,
        entity_id: EntityId,
        selection: &Selection,
        options: &mut Options,
    ) -> Result<(), String> {
        let entity = &self.graph.entities[entity_id];
        let mut fields = selection.fields.clone();
        if fields.is_empty() {
            // Only relations (or nothing) selected: the key keeps the answer narrow, where no
            // `$select` would return every property.
            fields = entity.key.clone();
        }
        options.select = fields
            .iter()
            .map(|&index| entity.fields[index].name.clone())
            .collect();
        for relation_read in &selection.relations {
            let relation = &entity.relations[relation_read.relation];
            let mut nested = Options::default();
            if relation.many {
                self.collection_options(relation.target, &relation_read.args, &mut nested)?;
            }
            self.selection_options(relation.target, &relation_read.selection, &mut nested)?;
            let name = self.relation_name(entity_id, relation_read.relation);
            let inner = render_options(Dialect::V4, &nested, ';', false);
            options.expand.push(if inner.is_empty() {
                name
            } else {
                format!("{name}({inner})")
            });
        }
        Ok(())
    }

    /// A property path's prefix: the navigation properties walked from `entity_id`, each
    /// followed by `/`, and the entity reached.
    fn walk(&self, entity_id: EntityId, path: &[usize]) -> (EntityId, String) {
        let mut current = entity_id;
        let mut prefix = String::new();
        for &relation in path {
            prefix.push_str(&self.relation_name(current, relation));
            prefix.push('/');
            current = self.graph.entities[current].relations[relation].target;
        }
        (current, prefix)
    }

    /// The entity a scope stands for and its prefix (`$it/`, `x0/`, ...), as the planner names
    /// lambda variables. `scopes[0]` is the entity filtered, each lambda body adds one.
    fn scope(&self, scopes: &[EntityId], scope: Scope) -> Result<(EntityId, String), String> {
        let depth = scopes.len() - 1;
        let level = match scope {
            Scope::Current => Some(depth),
            Scope::Root => Some(0),
            Scope::Outer(up) => depth.checked_sub(up),
        };
        let level = level.ok_or_else(|| format!("{scope:?} is outside every lambda"))?;
        let prefix = match level {
            _ if depth == 0 => String::new(),
            0 => "$it/".to_owned(),
            level => format!("x{}/", level - 1),
        };
        Ok((scopes[level], prefix))
    }

    fn member(
        &self,
        scopes: &[EntityId],
        scope: Scope,
        path: &[usize],
    ) -> Result<(EntityId, String), String> {
        let (start, prefix) = self.scope(scopes, scope)?;
        let (reached, walked) = self.walk(start, path);
        Ok((reached, format!("{prefix}{walked}")))
    }

    fn condition(&self, scopes: &[EntityId], filter: &Filter) -> Result<String, String> {
        Ok(match filter {
            Filter::And(parts) | Filter::Or(parts) => {
                let and = matches!(filter, Filter::And(_));
                let rendered = parts
                    .iter()
                    .map(|part| self.condition(scopes, part))
                    .collect::<Result<Vec<_>, _>>()?;
                match rendered.len() {
                    0 => if and { "true" } else { "false" }.to_owned(),
                    1 => rendered.into_iter().next().unwrap_or_default(),
                    _ => format!("({})", rendered.join(if and { " and " } else { " or " })),
                }
            }
            Filter::Not(inner) => format!("not ({})", self.condition(scopes, inner)?),
            Filter::Compare {
                path,
                field,
                op,
                value,
            } => {
                let (target, prefix) = self.member(scopes, Scope::Current, path)?;
                let field_def = &self.graph.entities[target].fields[*field];
                let literal = self.field_literal(target, *field, value)?;
                format!("{prefix}{} {} {literal}", field_def.name, op.as_str())
            }
            Filter::In {
                path,
                field,
                values,
            } => {
                let (target, prefix) = self.member(scopes, Scope::Current, path)?;
                if values.is_empty() {
                    return Ok("false".to_owned());
                }
                let literals = values
                    .iter()
                    .map(|value| self.field_literal(target, *field, value))
                    .collect::<Result<Vec<_>, _>>()?;
                let name = &self.graph.entities[target].fields[*field].name;
                format!("{prefix}{name} in ({})", literals.join(","))
            }
            Filter::Text {
                path,
                field,
                op,
                value,
            } => {
                let (target, prefix) = self.member(scopes, Scope::Current, path)?;
                let name = &self.graph.entities[target].fields[*field].name;
                let text =
                    format_literal(Dialect::V4, EdmType::String, &Value::from(value.as_str()))
                        .map_err(|error| error.to_string())?;
                let function = match op {
                    TextOp::Contains => "contains",
                    TextOp::StartsWith => "startswith",
                    TextOp::EndsWith => "endswith",
                };
                format!("{function}({prefix}{name},{text})")
            }
            Filter::Comparison { left, op, right } => format!(
                "{} {} {}",
                self.operand(scopes, left)?,
                op.as_str(),
                self.operand(scopes, right)?
            ),
            Filter::OneOf { operand, values } => {
                if values.is_empty() {
                    return Ok("false".to_owned());
                }
                let values = values
                    .iter()
                    .map(|value| self.operand(scopes, value))
                    .collect::<Result<Vec<_>, _>>()?;
                format!(
                    "{} in ({})",
                    self.operand(scopes, operand)?,
                    values.join(",")
                )
            }
            Filter::Has { operand, flags } => format!(
                "{} has {}",
                self.operand(scopes, operand)?,
                self.operand(scopes, flags)?
            ),
            Filter::Holds(operand) => self.operand(scopes, operand)?,
            Filter::Lambda {
                scope,
                path,
                relation,
                quantifier,
                condition,
            } => {
                let (reached, prefix) = self.member(scopes, *scope, path)?;
                let name = self.relation_name(reached, *relation);
                let target = self.graph.entities[reached].relations[*relation].target;
                let operator = match quantifier {
                    Quantifier::Any => "any",
                    Quantifier::All => "all",
                };
                let body = match condition {
                    Some(condition) => {
                        let mut inner = scopes.to_vec();
                        inner.push(target);
                        format!(
                            "x{}:{}",
                            inner.len() - 2,
                            self.condition(&inner, condition)?
                        )
                    }
                    None => String::new(),
                };
                format!("{prefix}{name}/{operator}({body})")
            }
        })
    }

    fn operand(&self, scopes: &[EntityId], operand: &Operand) -> Result<String, String> {
        Ok(match operand {
            Operand::Property { scope, path, field } => {
                let (target, prefix) = self.member(scopes, *scope, path)?;
                format!(
                    "{prefix}{}",
                    self.graph.entities[target].fields[*field].name
                )
            }
            Operand::Navigation { scope, path } => {
                let (_, prefix) = self.member(scopes, *scope, path)?;
                prefix.trim_end_matches('/').to_owned()
            }
            Operand::Value { kind, value } => self.literal(*kind, value)?,
            Operand::Null => "null".to_owned(),
            Operand::Call { function, args } => {
                let args = args
                    .iter()
                    .map(|arg| self.operand(scopes, arg))
                    .collect::<Result<Vec<_>, _>>()?;
                format!("{}({})", function.as_str(), args.join(","))
            }
            Operand::Arithmetic { op, left, right } => format!(
                "({} {} {})",
                self.operand(scopes, left)?,
                op.as_str(),
                self.operand(scopes, right)?
            ),
            Operand::Negate(inner) => format!("-{}", self.operand(scopes, inner)?),
        })
    }

    fn field_literal(
        &self,
        entity: EntityId,
        field: usize,
        value: &Value,
    ) -> Result<String, String> {
        let entity_def: &Entity = &self.graph.entities[entity];
        let field_def = &entity_def.fields[field];
        self.literal(field_def.kind, value)
            .map_err(|error| format!("{}.{}: {error}", entity_def.shown_name(), field_def.name))
    }

    /// An OData v4 literal of a value of `kind`; an enum value is `Namespace.Type'Member'` with
    /// the names the endpoint declares (CSDL 4.0 enumeration literal).
    fn literal(&self, kind: FieldKind, value: &Value) -> Result<String, String> {
        match kind {
            FieldKind::Scalar(ty) => {
                format_literal(Dialect::V4, ty, value).map_err(|error| error.to_string())
            }
            FieldKind::Enum(id) => {
                let Some(text) = value.as_str() else {
                    return Ok("null".to_owned());
                };
                let enum_type = &self.graph.enums[id];
                let names = self.names.get(self.graph, enum_type.namespace);
                let members = text
                    .split(',')
                    .map(|wanted| {
                        enum_type
                            .members
                            .iter()
                            .find(|m| m.gql_name == wanted || m.name == wanted)
                            .map(|m| m.name.as_str())
                            .ok_or_else(|| format!("{text} is not a member of {}", enum_type.name))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let simple = names
                    .enum_type(id)
                    .unwrap_or_else(|| enum_type.name.rsplit('.').next().unwrap_or_default());
                Ok(format!(
                    "{}.{simple}'{}'",
                    names.namespace(),
                    members.join(",")
                ))
            }
            FieldKind::Complex(_) => Err("complex values cannot be compared".to_owned()),
        }
    }
}
