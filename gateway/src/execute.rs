//! Plan execution: requests to the backends as the caller, answers read into the canonical JSON
//! the GraphQL resolvers expect, cross-source joins batched per level and joined back, writes
//! with SAP's CSRF handshake.
//!
//! Invariants: one request per backend per level (plus server-driven pages and URL-length
//! chunks of one batch); a failing join marks only its own field (on every parent that asked
//! for it); nothing here logs a credential.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use bizgraph_schema::call::{Call, CallMethod};
use bizgraph_schema::edm::{Dialect, EdmType};
use bizgraph_schema::execute::{
    BoxFuture, COUNT_KEY, ERROR_KEY, ETAG_KEY, ExecError, Execute, NODES_KEY, Nested,
    RELATION_PREFIX, Write, WriteKind,
};
use bizgraph_schema::literal;
use bizgraph_schema::model::{FieldKind, Graph, ReturnKind};
use bizgraph_schema::plan::{Fetch, Join, Plan, PlanLimits, Shape, entity_path};
use bizgraph_schema::temporal::iso_to_epoch_millis;
use serde_json::{Map, Value, json};

use crate::identity::Caller;
use crate::upstream::{CallError, Request, Response, Upstream};
use crate::wire;

/// Tenant, user and destination: whose CSRF token it is.
type CsrfKey = (Option<Arc<str>>, Arc<str>, String);

/// CSRF tokens (with the session cookies they belong to) per tenant, user and destination.
#[derive(Debug, Clone)]
pub struct CsrfTokens {
    cache: moka::future::Cache<CsrfKey, Arc<CsrfToken>>,
}

#[derive(Debug)]
struct CsrfToken {
    token: String,
    cookies: Option<String>,
}

impl Default for CsrfTokens {
    fn default() -> Self {
        CsrfTokens {
            cache: moka::future::Cache::builder()
                .max_capacity(100_000)
                // SAP Gateway sessions end after 30 minutes of inactivity by default.
                .time_to_idle(Duration::from_secs(25 * 60))
                .build(),
        }
    }
}

/// Runs plans for one caller.
#[derive(Debug, Clone)]
pub struct Executor {
    /// The upstream client.
    pub upstream: Arc<Upstream>,
    /// The caller.
    pub caller: Caller,
    /// The request's trace id.
    pub trace_id: String,
    /// Planner limits (page sizes of joins).
    pub limits: PlanLimits,
    /// CSRF tokens.
    pub csrf: CsrfTokens,
    /// Set for an inner request of a `$batch` change set: its change is handed to the change
    /// set instead of being sent alone.
    pub change_set: Option<crate::changeset::Member>,
}

impl Execute for Executor {
    fn read<'a>(
        &'a self,
        graph: &'a Graph,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Result<Value, ExecError>> {
        Box::pin(self.run_read(graph, plan))
    }

    fn write<'a>(
        &'a self,
        graph: &'a Graph,
        write: &'a Write,
    ) -> BoxFuture<'a, Result<Value, ExecError>> {
        Box::pin(self.run_write(graph, write))
    }

    fn call<'a>(
        &'a self,
        graph: &'a Graph,
        call: &'a Call,
    ) -> BoxFuture<'a, Result<Value, ExecError>> {
        Box::pin(self.run_call(graph, call))
    }
}

impl Executor {
    fn error(&self, graph: &Graph, fetch_service: usize, code: &str, message: String) -> ExecError {
        let service = &graph.services[fetch_service];
        ExecError {
            code: code.to_owned(),
            message,
            backend: Some(graph.namespaces[service.namespace].name.clone()),
            status: None,
            backend_message: None,
            trace_id: Some(self.trace_id.clone()),
        }
    }

    fn call_error(&self, graph: &Graph, service: usize, error: CallError) -> ExecError {
        let code = match &error {
            CallError::Transport { timeout: true, .. } => "BACKEND_TIMEOUT",
            CallError::Transport { .. } | CallError::ProxyRejected { .. } => "BACKEND_UNAVAILABLE",
            CallError::Unauthorized { .. } => "BACKEND_UNAUTHORIZED",
            CallError::UserRequired { .. } | CallError::JwtRequired { .. } => "UNAUTHENTICATED",
            CallError::TooLarge { .. } => "BACKEND_RESPONSE_TOO_LARGE",
            _ => "BACKEND_UNAVAILABLE",
        };
        let namespace = &graph.namespaces[graph.services[service].namespace].name;
        let mut answer = self.error(graph, service, code, format!("[{namespace}] {error}"));
        answer.status = Some(error.status());
        tracing::warn!(trace_id = %self.trace_id, backend = %namespace, code, error = %error, "backend call failed");
        answer
    }

    /// An error for a non-2xx answer, carrying the backend's own message.
    fn status_error(
        &self,
        graph: &Graph,
        service: usize,
        what: &str,
        response: &Response,
    ) -> ExecError {
        let backend = wire::parse_error(&response.body);
        let code = match response.status {
            400 => "BACKEND_BAD_REQUEST",
            401 | 403 => "FORBIDDEN",
            404 => "NOT_FOUND",
            409 => "CONFLICT",
            412 => "PRECONDITION_FAILED",
            501 => "NOT_SUPPORTED",
            _ => "BACKEND_ERROR",
        };
        let namespace = &graph.namespaces[graph.services[service].namespace].name;
        let detail = backend
            .as_ref()
            .map(|b| format!(": {}", b.message))
            .unwrap_or_default();
        let mut error = self.error(
            graph,
            service,
            code,
            format!("[{namespace}] {what}: HTTP {}{detail}", response.status),
        );
        error.status = Some(response.status);
        error.backend_message = backend.map(|b| b.message);
        tracing::info!(trace_id = %self.trace_id, backend = %namespace, status = response.status, what, "backend answered an error");
        error
    }

    async fn get(
        &self,
        graph: &Graph,
        service: usize,
        path: String,
    ) -> Result<Response, ExecError> {
        let definition = &graph.services[service];
        let accept = match definition.dialect {
            // Decimal and Int64 as strings, so no digit is lost on the way (OData JSON Format
            // 4.01 section 3.2).
            Dialect::V4 => "application/json;IEEE754Compatible=true",
            Dialect::V2 => "application/json",
        };
        let request = Request {
            method: Method::GET,
            path,
            headers: vec![(header::ACCEPT, HeaderValue::from_static(accept))],
            body: Default::default(),
        };
        tracing::debug!(trace_id = %self.trace_id, destination = %definition.destination, path = %request.path, "backend request");
        self.upstream
            .send(&definition.destination, Some(&self.caller), &request)
            .await
            .map_err(|error| self.call_error(graph, service, error))
    }

    async fn run_read(&self, graph: &Graph, plan: &Plan) -> Result<Value, ExecError> {
        let fetch = &plan.fetch;
        let service = &graph.services[fetch.service];
        let dialect = service.dialect;
        let entity = &graph.entities[fetch.entity];
        let path = format!("{}/{}", service.path, fetch.url(graph));
        let response = self.get(graph, fetch.service, path).await?;
        if plan.single {
            if response.status == 404 {
                return Ok(Value::Null);
            }
            if !(200..300).contains(&response.status) {
                return Err(self.status_error(graph, fetch.service, &entity.set_name, &response));
            }
            let raw = wire::parse_entity(dialect, &response.body).map_err(|error| {
                self.error(
                    graph,
                    fetch.service,
                    "BACKEND_BAD_RESPONSE",
                    format!("{}: {error}", entity.set_name),
                )
            })?;
            let mut row = self.normalize_row(graph, dialect, &fetch.shape, &raw);
            self.run_joins(graph, &fetch.shape, vec![&mut row]).await;
            return Ok(Value::Object(row));
        }
        if !(200..300).contains(&response.status) {
            return Err(self.status_error(graph, fetch.service, &entity.set_name, &response));
        }
        let wanted = fetch.options.top.map_or(usize::MAX, |top| top as usize);
        let (raw_rows, count) = self
            .collect_pages(graph, fetch.service, &entity.set_name, response, wanted)
            .await?;
        let mut rows: Vec<Map<String, Value>> = raw_rows
            .iter()
            .map(|raw| self.normalize_row(graph, dialect, &fetch.shape, raw))
            .collect();
        self.run_joins(graph, &fetch.shape, rows.iter_mut().collect())
            .await;
        Ok(json!({
            NODES_KEY: rows.into_iter().map(Value::Object).collect::<Vec<_>>(),
            COUNT_KEY: count,
        }))
    }

    /// Reads a collection answer and follows server-driven paging until `wanted` rows are
    /// there or the backend has no more.
    async fn collect_pages(
        &self,
        graph: &Graph,
        service: usize,
        what: &str,
        first: Response,
        wanted: usize,
    ) -> Result<(Vec<Map<String, Value>>, Option<u64>), ExecError> {
        let dialect = graph.services[service].dialect;
        let mut response = first;
        let mut rows = Vec::new();
        let mut count = None;
        // Guards against a backend that links pages in a circle.
        for _ in 0..1_000 {
            let page = wire::parse_collection(dialect, &response.body).map_err(|error| {
                self.error(
                    graph,
                    service,
                    "BACKEND_BAD_RESPONSE",
                    format!("{what}: {error}"),
                )
            })?;
            count = count.or(page.count);
            rows.extend(page.rows);
            let Some(next) = page.next_link else { break };
            if rows.len() >= wanted {
                break;
            }
            let path = next_path(&graph.services[service].path, &next);
            response = self.get(graph, service, path).await?;
            if !(200..300).contains(&response.status) {
                return Err(self.status_error(graph, service, what, &response));
            }
        }
        rows.truncate(wanted);
        Ok((rows, count))
    }

    fn normalize_row(
        &self,
        graph: &Graph,
        dialect: Dialect,
        shape: &Shape,
        raw: &Map<String, Value>,
    ) -> Map<String, Value> {
        let entity = &graph.entities[shape.entity];
        let mut row = Map::new();
        for &index in &shape.fields {
            let field = &entity.fields[index];
            let value = raw.get(&field.name).unwrap_or(&Value::Null);
            row.insert(
                field.name.clone(),
                self.normalize_value(graph, dialect, field.kind, value),
            );
        }
        if shape.etag
            && let Some(etag) = wire::etag(dialect, raw)
        {
            row.insert(ETAG_KEY.to_owned(), Value::String(etag));
        }
        for expand in &shape.expands {
            let value = raw.get(&expand.navigation).unwrap_or(&Value::Null);
            let key = format!("{RELATION_PREFIX}{}", expand.key);
            let result = if expand.many {
                let items: &[Value] = match value {
                    Value::Array(items) => items,
                    // v2: {"results": [...]}.
                    Value::Object(object) => object
                        .get("results")
                        .and_then(Value::as_array)
                        .map_or(&[], |v| v.as_slice()),
                    _ => &[],
                };
                let nodes: Vec<Value> = items
                    .iter()
                    .filter_map(Value::as_object)
                    .map(|item| {
                        Value::Object(self.normalize_row(graph, dialect, &expand.shape, item))
                    })
                    .collect();
                let count = if expand.count_inline {
                    raw.get(&format!("{}@odata.count", expand.navigation))
                        .or_else(|| raw.get(&format!("{}@count", expand.navigation)))
                        .and_then(|c| c.as_u64().or_else(|| c.as_str()?.parse().ok()))
                } else {
                    Some(nodes.len() as u64)
                };
                json!({ NODES_KEY: nodes, COUNT_KEY: count })
            } else {
                match value {
                    // v2 leaves `{"__deferred": ...}` for navigations it did not expand.
                    Value::Object(object) if !object.contains_key("__deferred") => {
                        Value::Object(self.normalize_row(graph, dialect, &expand.shape, object))
                    }
                    _ => Value::Null,
                }
            };
            row.insert(key, result);
        }
        row
    }

    fn normalize_value(
        &self,
        graph: &Graph,
        dialect: Dialect,
        kind: FieldKind,
        value: &Value,
    ) -> Value {
        match (kind, value) {
            (_, Value::Null) => Value::Null,
            (kind, Value::Array(items)) => Value::Array(
                items
                    .iter()
                    .map(|item| self.normalize_value(graph, dialect, kind, item))
                    .collect(),
            ),
            // v2 wraps collections of complex or primitive values in {"results": [...]}.
            (kind, Value::Object(object)) if dialect == Dialect::V2 && object.contains_key("results") => {
                self.normalize_value(graph, dialect, kind, object.get("results").unwrap_or(&Value::Null))
            }
            (FieldKind::Scalar(ty), value) => wire::normalize(dialect, ty, value).unwrap_or_else(|error| {
                tracing::debug!(trace_id = %self.trace_id, error = %error, "value not in its declared type; passed on as sent");
                value.clone()
            }),
            (FieldKind::Enum(_), value) => value.clone(),
            (FieldKind::Complex(id), Value::Object(object)) => {
                let complex = &graph.complex_types[id];
                let mut out = Map::new();
                for field in &complex.fields {
                    let value = object.get(&field.name).unwrap_or(&Value::Null);
                    out.insert(field.name.clone(), self.normalize_value(graph, dialect, field.kind, value));
                }
                Value::Object(out)
            }
            (_, other) => other.clone(),
        }
    }

    /// Runs the joins of `shape` for all `rows` (one batched request per join, chunked by URL
    /// length), then the joins below, level by level.
    fn run_joins<'a>(
        &'a self,
        graph: &'a Graph,
        shape: &'a Shape,
        rows: Vec<&'a mut Map<String, Value>>,
    ) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            if rows.is_empty() {
                return;
            }
            let mut rows = rows;
            if !shape.joins.is_empty() {
                let entity = &graph.entities[shape.entity];
                // Keys first (immutable), then all joins of this level at once.
                let mut work = Vec::new();
                for join in &shape.joins {
                    let mut keys: Vec<Vec<Value>> = Vec::new();
                    let mut seen = std::collections::HashSet::new();
                    for row in &rows {
                        let tuple: Vec<Value> = join
                            .pairs
                            .iter()
                            .map(|(local, _)| {
                                row.get(&entity.fields[*local].name)
                                    .cloned()
                                    .unwrap_or(Value::Null)
                            })
                            .collect();
                        if tuple.iter().any(Value::is_null) {
                            continue;
                        }
                        if seen.insert(tuple_key(&tuple)) {
                            keys.push(tuple);
                        }
                    }
                    work.push(keys);
                }
                let fetches = shape
                    .joins
                    .iter()
                    .zip(&work)
                    .map(|(join, keys)| self.fetch_join(graph, join, keys));
                let results = crate::graph::join_all(fetches.collect()).await;
                for (join, result) in shape.joins.iter().zip(results) {
                    self.attach(graph, entity, join, &mut rows, result).await;
                }
            }
            if shape.expands.is_empty() {
                return;
            }
            // Each expanded relation is its own part of every row, so the joins below the
            // expansions go out together rather than one expansion after another.
            let keys: Vec<String> = shape
                .expands
                .iter()
                .map(|expand| format!("{RELATION_PREFIX}{}", expand.key))
                .collect();
            let mut children: Vec<Vec<&mut Map<String, Value>>> =
                shape.expands.iter().map(|_| Vec::new()).collect();
            for row in rows.iter_mut() {
                for (key, value) in row.iter_mut() {
                    let Some(index) = keys.iter().position(|wanted| wanted == key) else {
                        continue;
                    };
                    let Value::Object(object) = value else {
                        continue;
                    };
                    if !shape.expands[index].many {
                        children[index].push(object);
                    } else if let Some(Value::Array(nodes)) = object.get_mut(NODES_KEY) {
                        children[index].extend(nodes.iter_mut().filter_map(Value::as_object_mut));
                    }
                }
            }
            let runs = shape
                .expands
                .iter()
                .zip(children)
                .map(|(expand, children)| self.run_joins(graph, &expand.shape, children));
            crate::graph::join_all(runs.collect()).await;
        })
    }

    /// Fetches the targets of one join for a set of parent key tuples.
    async fn fetch_join(
        &self,
        graph: &Graph,
        join: &Join,
        keys: &[Vec<Value>],
    ) -> Result<Vec<Map<String, Value>>, ExecError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let fetch: &Fetch = &join.fetch;
        let service = &graph.services[fetch.service];
        let entity = &graph.entities[fetch.entity];
        let urls = join.urls(graph, keys, &self.limits);
        // Each request asks for one row more than the limit (see `Join::urls`), and so does
        // paging; more than `max_join_rows` over all requests of the level is an error, never a
        // silent cut, since a missing row would read as a parent without that relation.
        let limit = self.limits.max_join_rows as usize;
        let requests = urls.into_iter().map(|url| async move {
            let response = self
                .get(graph, fetch.service, format!("{}/{url}", service.path))
                .await?;
            if !(200..300).contains(&response.status) {
                return Err(self.status_error(graph, fetch.service, &entity.set_name, &response));
            }
            let (rows, _) = self
                .collect_pages(
                    graph,
                    fetch.service,
                    &entity.set_name,
                    response,
                    limit.saturating_add(1),
                )
                .await?;
            Ok(rows)
        });
        let mut all = Vec::new();
        for result in crate::graph::join_all(requests.collect()).await {
            all.extend(result?);
        }
        if all.len() > limit {
            let namespace = &graph.namespaces[service.namespace].name;
            return Err(self.error(
                graph,
                fetch.service,
                "LIMIT_EXCEEDED",
                format!(
                    "[{namespace}] {}: more than {limit} rows for one level of the join (graph.limits.max_join_rows = {limit}); ask for fewer parents",
                    join.relation
                ),
            ));
        }
        let mut rows: Vec<Map<String, Value>> = all
            .iter()
            .map(|raw| self.normalize_row(graph, service.dialect, &fetch.shape, raw))
            .collect();
        self.run_joins(graph, &fetch.shape, rows.iter_mut().collect())
            .await;
        Ok(rows)
    }

    async fn attach(
        &self,
        graph: &Graph,
        entity: &bizgraph_schema::model::Entity,
        join: &Join,
        rows: &mut [&mut Map<String, Value>],
        result: Result<Vec<Map<String, Value>>, ExecError>,
    ) {
        let key = format!("{RELATION_PREFIX}{}", join.key);
        let targets = match result {
            Ok(targets) => targets,
            Err(error) => {
                // The field failed for every parent whose key was asked for, so each of them
                // answers null with the error at its own path (GraphQL, October 2021, section
                // 6.4.4: a field error nulls that field and is reported at its path). An empty
                // list or a null to-one would read as "no related rows", which nobody checked.
                // A parent without a complete key asked for nothing and matches nothing.
                let marker =
                    json!({ ERROR_KEY: serde_json::to_value(&error).unwrap_or(Value::Null) });
                for row in rows.iter_mut() {
                    let asked = join.pairs.iter().all(|(local, _)| {
                        row.get(&entity.fields[*local].name)
                            .is_some_and(|value| !value.is_null())
                    });
                    let value = match (asked, join.many) {
                        (true, _) => marker.clone(),
                        (false, true) => {
                            json!({ NODES_KEY: [], COUNT_KEY: join.count.then_some(0) })
                        }
                        (false, false) => Value::Null,
                    };
                    row.insert(key.clone(), value);
                }
                return;
            }
        };
        let target = &graph.entities[join.fetch.entity];
        let mut groups: HashMap<String, Vec<Value>> = HashMap::new();
        for row in targets {
            let tuple: Vec<Value> = join
                .pairs
                .iter()
                .map(|(_, remote)| {
                    row.get(&target.fields[*remote].name)
                        .cloned()
                        .unwrap_or(Value::Null)
                })
                .collect();
            groups
                .entry(tuple_key(&tuple))
                .or_default()
                .push(Value::Object(row));
        }
        for row in rows.iter_mut() {
            let tuple: Vec<Value> = join
                .pairs
                .iter()
                .map(|(local, _)| {
                    row.get(&entity.fields[*local].name)
                        .cloned()
                        .unwrap_or(Value::Null)
                })
                .collect();
            let group = if tuple.iter().any(Value::is_null) {
                None
            } else {
                groups.get(&tuple_key(&tuple))
            };
            let value = if join.many {
                let all = group.map_or(&[][..], |g| g.as_slice());
                let skip = (join.skip as usize).min(all.len());
                let end = join
                    .top
                    .map_or(all.len(), |top| (skip + top as usize).min(all.len()));
                json!({
                    NODES_KEY: all[skip..end].to_vec(),
                    COUNT_KEY: join.count.then_some(all.len()),
                })
            } else {
                group
                    .and_then(|g| g.first())
                    .cloned()
                    .unwrap_or(Value::Null)
            };
            row.insert(key.clone(), value);
        }
    }

    async fn run_write(&self, graph: &Graph, write: &Write) -> Result<Value, ExecError> {
        let entity = &graph.entities[write.entity];
        let service_id = entity.service;
        let service = &graph.services[service_id];
        let dialect = service.dialect;
        // The error is built once per failed write; its size does not matter here.
        #[allow(clippy::result_large_err)]
        let key_path = || -> Result<String, ExecError> {
            let path = entity_path(graph, write.entity, &write.key)
                .map_err(|error| self.error(graph, service_id, error.code(), error.to_string()))?;
            Ok(format!("{}/{path}", service.path))
        };
        let body = entity_payload(graph, dialect, write.entity, &write.values, &write.nested);
        let (method, path, payload) = match write.kind {
            WriteKind::Create => (
                Method::POST,
                format!(
                    "{}/{}",
                    service.path,
                    literal::encode_component(&entity.set_name)
                ),
                Some(body),
            ),
            WriteKind::Update => (
                match dialect {
                    Dialect::V4 => Method::PATCH,
                    // OData v2 section 2.6: MERGE changes only the properties sent.
                    Dialect::V2 => Method::from_bytes(b"MERGE").unwrap_or(Method::PATCH),
                },
                key_path()?,
                Some(body),
            ),
            // OData v2 section 2.6 and OData 4.01 part 1 section 11.4.3: PUT replaces the
            // entity in both versions.
            WriteKind::Replace => (Method::PUT, key_path()?, Some(body)),
            WriteKind::Delete => (Method::DELETE, key_path()?, None),
        };
        let response = self
            .send_modifying(
                graph,
                service_id,
                method,
                &path,
                payload,
                write.etag.as_deref(),
            )
            .await?;
        if !(200..300).contains(&response.status) {
            return Err(self.status_error(graph, service_id, &entity.set_name, &response));
        }
        let Some(shape) = &write.shape else {
            return Ok(Value::Bool(true));
        };
        let raw = if response.status == 204 || response.body.is_empty() {
            // v2 MERGE answers 204: read the entity back.
            let path = format!(
                "{}?$select={}",
                key_path()?,
                literal::encode_component(
                    &shape
                        .fields
                        .iter()
                        .map(|i| entity.fields[*i].name.as_str())
                        .collect::<Vec<_>>()
                        .join(",")
                )
            );
            let response = self.get(graph, service_id, path).await?;
            if response.status == 404 {
                return Ok(Value::Null);
            }
            if !(200..300).contains(&response.status) {
                return Err(self.status_error(graph, service_id, &entity.set_name, &response));
            }
            wire::parse_entity(dialect, &response.body)
        } else {
            wire::parse_entity(dialect, &response.body)
        }
        .map_err(|error| {
            self.error(
                graph,
                service_id,
                "BACKEND_BAD_RESPONSE",
                format!("{}: {error}", entity.set_name),
            )
        })?;
        Ok(Value::Object(
            self.normalize_row(graph, dialect, shape, &raw),
        ))
    }

    async fn run_call(&self, graph: &Graph, call: &Call) -> Result<Value, ExecError> {
        let operation = &graph.operations[call.operation];
        let service = &graph.services[call.service];
        let dialect = service.dialect;
        let path = format!("{}/{}", service.path, call.path);
        let response = match call.method {
            CallMethod::Get => self.get(graph, call.service, path).await?,
            CallMethod::Post => {
                // v4 actions take their parameters as a JSON object; v2 imports in the URL,
                // with an empty JSON body (SAP ignores it; CAP's v2 adapter only reads the URL
                // parameters of a POST whose content type is JSON).
                let body = call
                    .body
                    .as_ref()
                    .map(|values| {
                        values
                            .iter()
                            .map(|(index, value)| {
                                let parameter = &operation.parameters[*index];
                                (
                                    parameter.name.clone(),
                                    to_wire(dialect, parameter.kind, value),
                                )
                            })
                            .collect::<Map<String, Value>>()
                    })
                    .unwrap_or_default();
                let body = Some(body);
                self.send_modifying(graph, call.service, Method::POST, &path, body, None)
                    .await?
            }
        };
        if !(200..300).contains(&response.status) {
            return Err(self.status_error(graph, call.service, &operation.name, &response));
        }
        let Some(returns) = &operation.returns else {
            return Ok(Value::Null);
        };
        if response.status == 204 || response.body.is_empty() {
            return Ok(Value::Null);
        }
        let bad = |error: String| {
            self.error(
                graph,
                call.service,
                "BACKEND_BAD_RESPONSE",
                format!("{}: {error}", operation.name),
            )
        };
        match (returns.kind, &call.shape) {
            (ReturnKind::Entity(_), Some(shape)) if returns.collection => {
                let page = wire::parse_collection(dialect, &response.body)
                    .map_err(|e| bad(e.to_string()))?;
                let mut rows: Vec<Map<String, Value>> = page
                    .rows
                    .iter()
                    .map(|raw| self.normalize_row(graph, dialect, shape, raw))
                    .collect();
                self.run_joins(graph, shape, rows.iter_mut().collect())
                    .await;
                Ok(Value::Array(rows.into_iter().map(Value::Object).collect()))
            }
            (ReturnKind::Entity(_), Some(shape)) => {
                let raw =
                    wire::parse_entity(dialect, &response.body).map_err(|e| bad(e.to_string()))?;
                Ok(Value::Object(
                    self.normalize_row(graph, dialect, shape, &raw),
                ))
            }
            (ReturnKind::Entity(_), None) => Err(bad("no shape planned for the entity".into())),
            (ReturnKind::Value(kind), _) => {
                let body: Value = serde_json::from_slice(&response.body)
                    .map_err(|e| bad(format!("the answer is not JSON: {e}")))?;
                let value = operation_result(dialect, &operation.name, &body, returns.collection);
                Ok(self.normalize_value(graph, dialect, kind, &value))
            }
        }
    }

    /// Sends a modifying request with a CSRF token: fetched first for v2 (SAP Gateway always
    /// demands one), on demand for v4 (`403` with `X-CSRF-Token: Required`), and fetched again
    /// once when the cached one has expired.
    async fn send_modifying(
        &self,
        graph: &Graph,
        service_id: usize,
        method: Method,
        path: &str,
        payload: Option<Map<String, Value>>,
        etag: Option<&str>,
    ) -> Result<Response, ExecError> {
        let service = &graph.services[service_id];
        // An ETag that cannot be a header value is refused before anything is sent: dropped,
        // it would turn a write guarded by `If-Match` into an unguarded one.
        let if_match = match etag {
            Some(etag) => Some(HeaderValue::from_str(etag).map_err(|_| {
                self.error(
                    graph,
                    service_id,
                    "BAD_USER_INPUT",
                    format!(
                        "etag {etag:?} is not a valid If-Match value: only visible ASCII characters, spaces and tabs are allowed (RFC 9110 section 8.8.3)"
                    ),
                )
            })?),
            None => None,
        };
        let body = payload
            .map(|p| serde_json::to_vec(&Value::Object(p)).unwrap_or_default())
            .unwrap_or_default();
        let mut headers = vec![(
            header::ACCEPT,
            HeaderValue::from_static(match service.dialect {
                Dialect::V4 => "application/json;IEEE754Compatible=true",
                Dialect::V2 => "application/json",
            }),
        )];
        if !body.is_empty() {
            headers.push((
                header::CONTENT_TYPE,
                HeaderValue::from_static(match service.dialect {
                    Dialect::V4 => "application/json;IEEE754Compatible=true",
                    Dialect::V2 => "application/json",
                }),
            ));
        }
        // OData 4.01 part 1, section 8.2.8.7: `return` applies to requests that change an
        // entity and answer it; a DELETE answers nothing, and CAP refuses the preference.
        if service.dialect == Dialect::V4 && method != Method::DELETE {
            headers.push((
                HeaderName::from_static("prefer"),
                HeaderValue::from_static("return=representation"),
            ));
        }
        if let Some(value) = if_match {
            headers.push((header::IF_MATCH, value));
        }
        let request = Request {
            method,
            path: path.to_owned(),
            headers,
            body: body.into(),
        };
        if let Some(member) = &self.change_set {
            return match member
                .submit(service_id, &service.destination, request)
                .await
            {
                Ok(outcome) => outcome,
                Err(crate::changeset::Refused::SecondChange) => Err(self.error(
                    graph,
                    service_id,
                    "NOT_SUPPORTED",
                    "this request needs more than one change of its backend, which a change set cannot hold".to_owned(),
                )),
            };
        }
        self.send_with_csrf(graph, service_id, request).await
    }

    /// Sends a modifying request with the caller's CSRF token for the service's destination
    /// (see [`Executor::send_modifying`]).
    async fn send_with_csrf(
        &self,
        graph: &Graph,
        service_id: usize,
        request: Request,
    ) -> Result<Response, ExecError> {
        let service = &graph.services[service_id];
        let key = (
            self.caller.tenant.clone(),
            self.caller.user.clone(),
            service.destination.clone(),
        );
        let mut token = if service.dialect == Dialect::V2 {
            Some(self.csrf_token(graph, service_id, &key, false).await?)
        } else {
            self.csrf.cache.get(&key).await
        };
        for attempt in 0..2 {
            let mut request = request.clone();
            if let Some(token) = &token {
                if let Ok(value) = HeaderValue::from_str(&token.token) {
                    request
                        .headers
                        .push((HeaderName::from_static("x-csrf-token"), value));
                }
                if let Some(cookies) = &token.cookies
                    && let Ok(mut value) = HeaderValue::from_str(cookies)
                {
                    value.set_sensitive(true);
                    request.headers.push((header::COOKIE, value));
                }
            }
            let response = self
                .upstream
                .send(&service.destination, Some(&self.caller), &request)
                .await
                .map_err(|error| self.call_error(graph, service_id, error))?;
            let required = response.status == 403
                && response
                    .headers
                    .get("x-csrf-token")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.eq_ignore_ascii_case("required"));
            if required && attempt == 0 {
                token = Some(self.csrf_token(graph, service_id, &key, true).await?);
                continue;
            }
            return Ok(response);
        }
        unreachable!("the loop returns on its second attempt")
    }

    /// Decides a settled change set (see [`crate::changeset`]): aborted when a member left
    /// without a change or the changes span services, else sent as one change set of the
    /// service's own `$batch` and each member answered with its part.
    pub(crate) async fn run_change_set(
        &self,
        graph: &Graph,
        submissions: Vec<crate::changeset::Submission>,
        aborted: bool,
    ) {
        let Some(first) = submissions.first() else {
            return;
        };
        let service_id = first.service;
        let refuse = |code: &str, message: String| ExecError {
            code: code.to_owned(),
            message,
            backend: None,
            status: None,
            backend_message: None,
            trace_id: Some(self.trace_id.clone()),
        };
        if aborted {
            for submission in submissions {
                submission.answer(Err(refuse(
                    "CHANGESET_ABORTED",
                    "not applied: another request of the change set was refused".to_owned(),
                )));
            }
            return;
        }
        let known = |submission: &crate::changeset::Submission| {
            graph
                .services
                .get(submission.service)
                .is_some_and(|service| service.destination == submission.destination)
        };
        if let Some(other) = submissions
            .iter()
            .find(|s| s.service != service_id || !known(s))
        {
            let describe = |id: usize| {
                graph.services.get(id).map_or_else(
                    || "a service no longer loaded".to_owned(),
                    |service| format!("{} (destination {})", service.path, service.destination),
                )
            };
            let message = format!(
                "a change set is applied atomically by one backend service; this one changes {} and {}",
                describe(service_id),
                describe(other.service)
            );
            for submission in submissions {
                submission.answer(Err(refuse("NOT_SUPPORTED", message.clone())));
            }
            return;
        }
        let service = &graph.services[service_id];
        let requests: Vec<&Request> = submissions.iter().map(|s| &s.request).collect();
        let outcome = self.send_batch(graph, service_id, &requests).await;
        match outcome {
            Ok(answers) if answers.len() == submissions.len() => {
                for (submission, (_, answer)) in submissions.into_iter().zip(answers) {
                    submission.answer(Ok(answer));
                }
            }
            // One answer for the whole change set: the backend refused it as a unit. It goes
            // to the request its Content-ID names (or to all when it names none); the others
            // were rolled back with it.
            Ok(answers) if answers.len() == 1 => {
                let (content_id, answer) = &answers[0];
                let culprit = content_id
                    .as_deref()
                    .and_then(|id| id.parse::<usize>().ok())
                    .filter(|&id| (1..=submissions.len()).contains(&id))
                    .map(|id| id - 1);
                for (index, submission) in submissions.into_iter().enumerate() {
                    if culprit.is_none_or(|culprit| culprit == index) {
                        submission.answer(Ok(Response {
                            status: answer.status,
                            headers: answer.headers.clone(),
                            body: answer.body.clone(),
                        }));
                    } else {
                        submission.answer(Err(refuse(
                            "CHANGESET_ABORTED",
                            "rolled back: another request of the change set failed".to_owned(),
                        )));
                    }
                }
            }
            Ok(answers) => {
                let error = self.error(
                    graph,
                    service_id,
                    "BACKEND_BAD_RESPONSE",
                    format!(
                        "{}/$batch answered {} parts to a change set of {}",
                        service.path,
                        answers.len(),
                        submissions.len()
                    ),
                );
                for submission in submissions {
                    submission.answer(Err(error.clone()));
                }
            }
            Err(error) => {
                for submission in submissions {
                    submission.answer(Err(error.clone()));
                }
            }
        }
    }

    /// Sends `requests` as one change set in a multipart `$batch` to the service (OData v2
    /// section 2.2.7.5 and OData 4.01 part 1, section 11.7.7) and returns the answers of its
    /// parts in order: one per request, or one for the whole change set when the backend
    /// refused it.
    async fn send_batch(
        &self,
        graph: &Graph,
        service_id: usize,
        requests: &[&Request],
    ) -> Result<Vec<(Option<String>, Response)>, ExecError> {
        let service = &graph.services[service_id];
        let batch = format!("batch_{}", self.trace_id);
        let changeset = format!("changeset_{}", self.trace_id);
        let root = format!("{}/", service.path);
        let mut body =
            format!("--{batch}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n")
                .into_bytes();
        for (index, request) in requests.iter().enumerate() {
            let path = request.path.strip_prefix(&root).unwrap_or(&request.path);
            let mut part = format!(
                "--{changeset}\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: {}\r\n\r\n{} {path} HTTP/1.1\r\n",
                index + 1,
                request.method
            );
            for (name, value) in &request.headers {
                if let Ok(value) = value.to_str() {
                    part.push_str(&format!("{name}: {value}\r\n"));
                }
            }
            part.push_str(&format!("Content-Length: {}\r\n\r\n", request.body.len()));
            body.extend_from_slice(part.as_bytes());
            body.extend_from_slice(&request.body);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(format!("--{changeset}--\r\n--{batch}--\r\n").as_bytes());
        let content_type = format!("multipart/mixed; boundary={batch}");
        let request = Request {
            method: Method::POST,
            path: format!("{}/$batch", service.path),
            headers: vec![
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_str(&content_type)
                        .unwrap_or(HeaderValue::from_static("multipart/mixed")),
                ),
                (header::ACCEPT, HeaderValue::from_static("multipart/mixed")),
            ],
            body: body.into(),
        };
        let response = self.send_with_csrf(graph, service_id, request).await?;
        if !(200..300).contains(&response.status) {
            return Err(self.status_error(graph, service_id, "$batch", &response));
        }
        let bad = |message: String| {
            self.error(
                graph,
                service_id,
                "BACKEND_BAD_RESPONSE",
                format!("{}/$batch: {message}", service.path),
            )
        };
        let content_type = response
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let boundary = crate::odata_batch::boundary_of(content_type)
            .ok_or_else(|| bad(format!("the answer is not multipart ({content_type})")))?;
        let text = std::str::from_utf8(&response.body)
            .map_err(|_| bad("the answer is not UTF-8".to_owned()))?;
        let mut answers = Vec::new();
        for part in crate::odata_batch::split_parts(text, &boundary) {
            let (head, content) = crate::odata_batch::head_and_body(part);
            let part_type = crate::odata_batch::header_lines(head)
                .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
                .map(|(_, value)| value.to_owned())
                .unwrap_or_default();
            match crate::odata_batch::boundary_of(&part_type) {
                Some(inner) => {
                    for inner_part in crate::odata_batch::split_parts(content, &inner) {
                        let (inner_head, http) = crate::odata_batch::head_and_body(inner_part);
                        let answer = http_response(http).ok_or_else(|| {
                            bad("a part of the change set is not an HTTP answer".to_owned())
                        })?;
                        answers.push((content_id(inner_head), answer));
                    }
                }
                None => {
                    let answer = http_response(content)
                        .ok_or_else(|| bad("a part is not an HTTP answer".to_owned()))?;
                    answers.push((content_id(head), answer));
                }
            }
        }
        Ok(answers)
    }

    async fn csrf_token(
        &self,
        graph: &Graph,
        service_id: usize,
        key: &CsrfKey,
        fresh: bool,
    ) -> Result<Arc<CsrfToken>, ExecError> {
        if fresh {
            self.csrf.cache.invalidate(key).await;
        } else if let Some(token) = self.csrf.cache.get(key).await {
            return Ok(token);
        }
        let service = &graph.services[service_id];
        let request = Request {
            method: Method::GET,
            path: format!("{}/", service.path),
            headers: vec![
                (
                    HeaderName::from_static("x-csrf-token"),
                    HeaderValue::from_static("Fetch"),
                ),
                (header::ACCEPT, HeaderValue::from_static("application/json")),
            ],
            body: Default::default(),
        };
        let response = self
            .upstream
            .send(&service.destination, Some(&self.caller), &request)
            .await
            .map_err(|error| self.call_error(graph, service_id, error))?;
        let token = response
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.eq_ignore_ascii_case("required"))
            .map(str::to_owned);
        let Some(token) = token else {
            return Err(self.error(
                graph,
                service_id,
                "CSRF_TOKEN_UNAVAILABLE",
                format!(
                    "[{}] the service gave no CSRF token (HTTP {})",
                    graph.namespaces[service.namespace].name, response.status
                ),
            ));
        };
        let cookies: Vec<String> = response
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .map(str::to_owned)
            .collect();
        let token = Arc::new(CsrfToken {
            token,
            cookies: (!cookies.is_empty()).then(|| cookies.join("; ")),
        });
        self.csrf.cache.insert(key.clone(), token.clone()).await;
        Ok(token)
    }
}

/// An entity's JSON payload in the backend's dialect, with the related entities of a deep
/// insert under their navigation names: v4 an array or object (OData JSON Format 4.01 section
/// 8.5), v2 `{"results": [...]}` for to-many as SAP Gateway documents it.
fn entity_payload(
    graph: &Graph,
    dialect: Dialect,
    entity_id: usize,
    values: &[(usize, Value)],
    nested: &[Nested],
) -> Map<String, Value> {
    let entity = &graph.entities[entity_id];
    let mut body = Map::new();
    for (index, value) in values {
        let field = &entity.fields[*index];
        body.insert(field.name.clone(), to_wire(dialect, field.kind, value));
    }
    for group in nested {
        let relation = &entity.relations[group.relation];
        let mut items: Vec<Value> = group
            .entities
            .iter()
            .map(|item| {
                Value::Object(entity_payload(
                    graph,
                    dialect,
                    relation.target,
                    &item.values,
                    &item.nested,
                ))
            })
            .collect();
        let value = match (relation.many, dialect) {
            (true, Dialect::V4) => Value::Array(items),
            (true, Dialect::V2) => json!({ "results": items }),
            (false, _) => items.pop().unwrap_or(Value::Null),
        };
        body.insert(relation.name.clone(), value);
    }
    body
}

/// The value of an operation's answer: v4 `{"value": ...}` for primitives and collections
/// (OData JSON Format 4.01 sections 11 and 12), a complex value as the object itself; v2
/// `{"d": {"<Name>": value}}` for a primitive, `{"d": {"results": [...]}}` or `{"d": [...]}`
/// for collections, `{"d": {...}}` for a complex value (MS-ODATA 2.2.6.3.8 to 2.2.6.3.10).
fn operation_result(dialect: Dialect, name: &str, body: &Value, collection: bool) -> Value {
    match dialect {
        Dialect::V4 => match body.get("value") {
            Some(value) => value.clone(),
            None if !collection => body.clone(),
            None => Value::Null,
        },
        Dialect::V2 => {
            let d = body.get("d").unwrap_or(body);
            if collection {
                return match d {
                    Value::Array(_) => d.clone(),
                    other => other.get("results").cloned().unwrap_or(Value::Null),
                };
            }
            match d {
                Value::Object(object) if object.len() == 1 && object.contains_key(name) => {
                    object[name].clone()
                }
                other => other.clone(),
            }
        }
    }
}

/// A key tuple as one comparable string; values compare by their text, so a join between an
/// Int32 and a String property still matches `10` with `"10"`.
fn tuple_key(tuple: &[Value]) -> String {
    let mut key = String::new();
    for value in tuple {
        match value {
            Value::String(text) => key.push_str(text),
            other => key.push_str(&other.to_string()),
        }
        key.push('\u{1}');
    }
    key
}

/// The path of a next link below the destination: relative links are relative to the service
/// root; absolute ones are cut at the service path.
fn next_path(service_path: &str, next: &str) -> String {
    if next.starts_with("http://") || next.starts_with("https://") {
        if let Some(at) = next.find(service_path).filter(|_| !service_path.is_empty()) {
            return next[at..].to_owned();
        }
        // No service path to cut at: drop scheme and authority.
        let rest = next.splitn(4, '/').nth(3).unwrap_or_default();
        return format!("/{rest}");
    }
    if next.starts_with('/') {
        return next.to_owned();
    }
    format!("{service_path}/{next}")
}

/// A canonical value in the backend's JSON payload form.
fn to_wire(dialect: Dialect, kind: FieldKind, value: &Value) -> Value {
    let FieldKind::Scalar(ty) = kind else {
        return value.clone();
    };
    match (dialect, ty, value) {
        (_, _, Value::Null) => Value::Null,
        // v2 JSON (MS-ODATA 2.2.6.3.3): Edm.DateTime as "/Date(ms)/".
        (Dialect::V2, EdmType::DateTime, Value::String(text)) => match iso_to_epoch_millis(text) {
            Some(ms) => Value::String(format!("/Date({ms})/")),
            None => value.clone(),
        },
        (Dialect::V2, EdmType::Date, Value::String(text)) => match iso_to_epoch_millis(text) {
            Some(ms) => Value::String(format!("/Date({ms})/")),
            None => value.clone(),
        },
        (Dialect::V2, EdmType::DateTimeOffset, Value::String(text)) => {
            match iso_to_epoch_millis(text) {
                Some(ms) => Value::String(format!("/Date({ms}+0000)/")),
                None => value.clone(),
            }
        }
        (Dialect::V2, EdmType::Time, Value::String(text)) => {
            let mut parts = text.split(':');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(h), Some(m), s) => Value::String(format!("PT{h}H{m}M{}S", s.unwrap_or("00"))),
                _ => value.clone(),
            }
        }
        // Exact numbers as strings: v2 always, v4 with IEEE754Compatible=true.
        (_, EdmType::Decimal | EdmType::Int64, Value::Number(number)) => {
            Value::String(number.to_string())
        }
        _ => value.clone(),
    }
}

/// The `Content-ID` among the MIME headers of a batch part.
fn content_id(head: &str) -> Option<String> {
    crate::odata_batch::header_lines(head)
        .find(|(name, _)| name.eq_ignore_ascii_case("content-id"))
        .map(|(_, value)| value.to_owned())
}

/// An HTTP answer inside a multipart body: status line, headers, empty line, body.
fn http_response(text: &str) -> Option<Response> {
    let (head, body) = crate::odata_batch::head_and_body(text);
    let mut lines = head.lines();
    let status_line = lines.next()?;
    let status: u16 = status_line.split_whitespace().nth(1)?.parse().ok()?;
    let mut headers = reqwest::header::HeaderMap::new();
    for (name, value) in
        crate::odata_batch::header_lines(lines.collect::<Vec<_>>().join("\n").as_str())
    {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
    let body = body.trim_end_matches(['\r', '\n']);
    Some(Response {
        status,
        headers,
        body: axum::body::Bytes::from(body.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_resolve_below_the_destination() {
        assert_eq!(
            next_path("/odata/v4/crm", "Opportunities?$skiptoken=1"),
            "/odata/v4/crm/Opportunities?$skiptoken=1"
        );
        assert_eq!(
            next_path(
                "/sap/opu/odata/sap/X",
                "http://h:1/sap/opu/odata/sap/X/A?$skiptoken=2"
            ),
            "/sap/opu/odata/sap/X/A?$skiptoken=2"
        );
    }
}
