//! What a GraphQL request sends, shown without sending it.
//!
//! Backend requests come from the planner the executor uses: the request runs against the
//! generation's GraphQL schema with a recording [`Execute`] instead of the backends, so what is
//! shown is what would be sent. Beside each read, the equivalent URL of the gateway's own OData
//! v4 endpoint: the recorder also receives each root [`Read`] the schema's resolvers build
//! ([`Execute::planned`]), just before its plan, and writes it as an OData v4 URL with the names
//! the endpoint serves ([`gateway_url`]).

use std::sync::{Arc, Mutex};

use bizgraph_schema::call::{Call, CallMethod};
use bizgraph_schema::edm::{Dialect, EdmType};
use bizgraph_schema::execute::{BoxFuture, ExecError, Execute, Write, WriteKind};
use bizgraph_schema::graphql::Executor as ExecutorData;
use bizgraph_schema::literal::{encode_component, escape_search, format_key, format_literal};
use bizgraph_schema::model::{Entity, EntityId, EntityKind, FieldKind, Graph};
use bizgraph_schema::plan::{Fetch, Options, Plan, PlanError, Shape, render_options};
use bizgraph_schema::query::{
    CollectionArgs, Direction, Filter, Operand, Quantifier, Read, Scope, Selection, Target, TextOp,
};
use serde::Serialize;
use serde_json::{Value, json};

use super::NameTable;
use crate::graph::Generation;

/// Response keys of a connection (`schema::execute`), as GraphQL selects them.
const NODES: &str = "nodes";
const TOTAL_COUNT: &str = "totalCount";

/// What a GraphQL request would send.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Explanation {
    /// One entry per root read, call and write, in the order the schema ran them.
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

/// Explains a GraphQL request: runs it against the generation's schema with a recorder that
/// receives each root field's [`Read`] with its plan, and every request the schema would send.
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
    let mut index = 0;
    while index < events.len() {
        // A root read as the schema built it comes with its plan. The schema hands that plan
        // to the executor next; it is paired here by content, not by position, so resolvers
        // of parallel root fields may interleave.
        if let Event::Planned {
            outcome: Ok(plan), ..
        } = &events[index]
        {
            let sent = events[index + 1..]
                .iter()
                .position(|event| matches!(event, Event::Read(recorded) if recorded == &**plan));
            if let Some(offset) = sent {
                events.remove(index + 1 + offset);
            }
        }
        index += 1;
    }
    for event in events {
        let entry = match event {
            Event::Planned {
                path,
                read,
                outcome,
            } => {
                let entity = &graph.entities[read.entity];
                let mut entry = ExplainedRead {
                    path: Some(path),
                    namespace: graph.namespaces[entity.namespace].name.clone(),
                    entity: entity.shown_name().to_owned(),
                    ..ExplainedRead::default()
                };
                match outcome {
                    Ok(planned) => {
                        entry.requests = plan_requests(graph, &planned);
                        match gateway_url(graph, names, &read) {
                            Ok(url) => entry.odata = Some(url),
                            Err(reason) => entry.note = Some(reason),
                        }
                    }
                    Err(reason) => entry.note = Some(reason),
                }
                entry
            }
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
        };
        explanation.reads.push(entry);
    }
    explanation
}

/// The root reads a GraphQL query makes, as the schema's resolvers build them, with their
/// response paths (`crm.Opportunities`).
#[cfg(test)]
pub async fn root_reads(
    generation: &Generation,
    query: &str,
    variables: Value,
) -> Vec<(String, Read)> {
    let recorder = Arc::new(Recorder::default());
    let executor: ExecutorData = recorder.clone();
    let mut request = async_graphql::Request::new(query).data(executor);
    if !variables.is_null() {
        request = request.variables(async_graphql::Variables::from_json(variables));
    }
    let _ = generation.schema.execute(request).await;
    recorder
        .events
        .lock()
        .map(|mut events| std::mem::take(&mut *events))
        .unwrap_or_default()
        .into_iter()
        .filter_map(|event| match event {
            Event::Planned { path, read, .. } => Some((path, read)),
            _ => None,
        })
        .collect()
}

// ----- recording -----

/// What the schema handed to the executor.
enum Event {
    /// A root read with its response path and its plan, or why planning refused it.
    Planned {
        path: String,
        read: Read,
        outcome: Result<Box<Plan>, String>,
    },
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
    fn wants_reads(&self) -> bool {
        true
    }

    fn planned(&self, path: &str, read: &Read, outcome: Result<&Plan, &PlanError>) {
        self.push(Event::Planned {
            path: path.to_owned(),
            read: read.clone(),
            outcome: outcome
                .map(|plan| Box::new(plan.clone()))
                .map_err(|error| error.to_string()),
        });
    }

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
