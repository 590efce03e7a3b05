//! GraphQL over HTTP: `POST /graphql` executes (JSON `{query, variables, operationName}`),
//! `GET /graphql` serves a small interactive page (or executes a query given as `?query=`),
//! `/readyz` reports each data source, `POST /admin/refresh` reloads every `$metadata`.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use bizgraph_schema::graphql::Executor as ExecutorData;
use serde::Deserialize;
use serde_json::json;

use crate::graph::Generation;
use crate::server::{AppError, AppState, authenticate};

/// `GET /graphql` parameters (GraphQL over HTTP: queries may come as URL parameters).
#[derive(Debug, Deserialize)]
pub struct GetParams {
    query: Option<String>,
    variables: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
}

/// Executes one GraphQL request as the caller.
pub async fn execute(
    state: &Arc<AppState>,
    generation: &Generation,
    caller: crate::identity::Caller,
    request: async_graphql::Request,
) -> async_graphql::Response {
    let executor = state.executor(caller, generation.limits);
    let trace_id = executor.trace_id.clone();
    let executor: ExecutorData = Arc::new(executor);
    let mut response = generation.schema.execute(request.data(executor)).await;
    mark_limit_errors(&mut response);
    if !response.errors.is_empty() {
        tracing::debug!(trace_id = %trace_id, errors = response.errors.len(), "query answered with errors");
    }
    response
}

/// Gives async-graphql's own limit errors (depth, complexity, recursion), which come with a
/// fixed message and no code, the code the planner's limits carry, so that clients tell every
/// exceeded limit apart the same way.
fn mark_limit_errors(response: &mut async_graphql::Response) {
    for error in &mut response.errors {
        let message = error.message.as_str();
        if message == "Query is nested too deep."
            || message == "Query is too complex."
            || message.starts_with("The recursion depth of the query")
        {
            error
                .extensions
                .get_or_insert_with(Default::default)
                .set("code", "LIMIT_EXCEEDED");
        }
    }
}

/// `POST /graphql`.
pub async fn post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let caller = authenticate(&state, &headers).await?;
    let request: async_graphql::Request = serde_json::from_slice(&body).map_err(|error| {
        AppError::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            format!("the body is not a GraphQL request ({{\"query\": ...}}): {error}"),
        )
    })?;
    let generation = state.graph.current();
    let response = execute(&state, &generation, caller, request).await;
    Ok(Json(response).into_response())
}

/// `GET /graphql`: the interactive page, or a query from the URL.
pub async fn get(
    State(state): State<Arc<AppState>>,
    Query(params): Query<GetParams>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let Some(query) = params.query else {
        return Ok(Html(PAGE).into_response());
    };
    let caller = authenticate(&state, &headers).await?;
    let mut request = async_graphql::Request::new(query);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = params.variables {
        let variables: serde_json::Value = serde_json::from_str(&variables).map_err(|error| {
            AppError::new(
                StatusCode::BAD_REQUEST,
                "BAD_REQUEST",
                format!("variables are not JSON: {error}"),
            )
        })?;
        request = request.variables(async_graphql::Variables::from_json(variables));
    }
    // GraphQL over HTTP: GET must not run mutations.
    if selects_mutation(&request) {
        return Err(AppError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "mutations need POST".to_owned(),
        ));
    }
    let generation = state.graph.current();
    let response = execute(&state, &generation, caller, request).await;
    Ok(Json(response).into_response())
}

/// True when the operation the request would run is a mutation (a document that does not
/// parse is left to execution, which reports it).
fn selects_mutation(request: &async_graphql::Request) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return false;
    };
    match &document.operations {
        DocumentOperations::Single(operation) => operation.node.ty == OperationType::Mutation,
        DocumentOperations::Multiple(operations) => operations
            .iter()
            .filter(|(name, _)| {
                request
                    .operation_name
                    .as_deref()
                    .is_none_or(|wanted| name.as_str() == wanted)
            })
            .any(|(_, operation)| operation.node.ty == OperationType::Mutation),
    }
}

/// `GET /readyz`: 200 when every data source is ready, else 503; the body lists each one.
pub async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let generation = state.graph.current();
    let status = if generation.loaded && generation.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report(&generation))).into_response()
}

/// The state of every source, the graph's size and the composition findings.
pub fn report(generation: &Generation) -> serde_json::Value {
    json!({
        "ready": generation.loaded && generation.is_ready(),
        "loaded": generation.loaded,
        "loadedAt": generation
            .loaded_at
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default(),
        "sources": generation.sources,
        "size": generation.size(),
        "findings": generation.findings.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
    })
}

/// `POST /admin/refresh`: fetches every `$metadata` again and swaps the schema in. Only for
/// administrators: every refresh fetches every `$metadata` and rebuilds the schema, so any
/// signed-in user could otherwise keep the gateway and every backend busy.
pub async fn refresh(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let caller = authenticate(&state, &headers).await?;
    if !caller.admin {
        tracing::info!(user = %caller.user, "graph refresh refused: not an administrator");
        return Err(AppError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "refreshing the graph needs an administrator: a token with the admin scope (identity.admin_scope), or a development user with admin = true".to_owned(),
        ));
    }
    tracing::info!(user = %caller.user, "graph refresh requested");
    let generation = state.graph.refresh(&state.upstream).await;
    Ok(Json(report(&generation)).into_response())
}

/// The interactive page: plain HTML and JavaScript, no network beyond this gateway.
const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bizgraph GraphQL</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;display:grid;grid-template-columns:1fr 1fr;grid-template-rows:auto 1fr;height:100vh}
header{grid-column:1/3;padding:.5rem 1rem;background:#0a3d62;color:#fff;display:flex;gap:1rem;align-items:center}
header input{flex:1;max-width:28rem}
textarea,pre{margin:0;padding:.75rem;font:13px/1.4 ui-monospace,monospace;border:0;border-right:1px solid #ccc;overflow:auto}
.left{display:grid;grid-template-rows:3fr 1fr}
</style></head>
<body>
<header><strong>bizgraph</strong>
<label>Authorization <input id="auth" placeholder="Basic ... or Bearer ..." autocomplete="off"></label>
<button id="run">Run (Ctrl+Enter)</button></header>
<div class="left"><textarea id="query" spellcheck="false">{
  __schema { queryType { fields { name description } } }
}</textarea>
<textarea id="variables" spellcheck="false" placeholder="variables (JSON)"></textarea></div>
<pre id="result"></pre>
<script>
const $ = (id) => document.getElementById(id);
async function run() {
  const headers = {'content-type': 'application/json'};
  if ($('auth').value) headers.authorization = $('auth').value;
  let variables = null;
  try { variables = $('variables').value ? JSON.parse($('variables').value) : null; }
  catch (e) { $('result').textContent = 'variables: ' + e; return; }
  const answer = await fetch('graphql', {method: 'POST', headers, credentials: 'same-origin',
    body: JSON.stringify({query: $('query').value, variables})});
  $('result').textContent = JSON.stringify(await answer.json(), null, 2);
}
$('run').onclick = run;
document.addEventListener('keydown', (e) => { if (e.ctrlKey && e.key === 'Enter') run(); });
</script></body></html>"#;

/// Records plans instead of running them, answering every read with no data.
#[derive(Debug, Default)]
struct Recorder {
    described: std::sync::Mutex<Vec<String>>,
}

impl bizgraph_schema::execute::Execute for Recorder {
    fn read<'a>(
        &'a self,
        graph: &'a bizgraph_schema::model::Graph,
        plan: &'a bizgraph_schema::plan::Plan,
    ) -> bizgraph_schema::execute::BoxFuture<
        'a,
        Result<serde_json::Value, bizgraph_schema::execute::ExecError>,
    > {
        let text = bizgraph_schema::plan::describe(graph, plan);
        if let Ok(mut described) = self.described.lock() {
            described.push(text);
        }
        let empty = if plan.single {
            serde_json::Value::Null
        } else {
            json!({ "nodes": [], "totalCount": null })
        };
        Box::pin(async move { Ok(empty) })
    }

    fn write<'a>(
        &'a self,
        graph: &'a bizgraph_schema::model::Graph,
        write: &'a bizgraph_schema::execute::Write,
    ) -> bizgraph_schema::execute::BoxFuture<
        'a,
        Result<serde_json::Value, bizgraph_schema::execute::ExecError>,
    > {
        let entity = &graph.entities[write.entity];
        let service = &graph.services[entity.service];
        let text = format!(
            "[{}] {}: {:?} {}{}\n",
            graph.namespaces[service.namespace].name,
            service.destination,
            write.kind,
            service.path,
            format_args!("/{}", entity.set_name)
        );
        if let Ok(mut described) = self.described.lock() {
            described.push(text);
        }
        Box::pin(async move { Ok(serde_json::Value::Null) })
    }

    fn call<'a>(
        &'a self,
        graph: &'a bizgraph_schema::model::Graph,
        call: &'a bizgraph_schema::call::Call,
    ) -> bizgraph_schema::execute::BoxFuture<
        'a,
        Result<serde_json::Value, bizgraph_schema::execute::ExecError>,
    > {
        let service = &graph.services[call.service];
        let version = match service.dialect {
            bizgraph_schema::edm::Dialect::V2 => "v2",
            bizgraph_schema::edm::Dialect::V4 => "v4",
        };
        let method = match call.method {
            bizgraph_schema::call::CallMethod::Get => "GET",
            bizgraph_schema::call::CallMethod::Post => "POST",
        };
        let text = format!(
            "[{}] {} ({version}): {method} {}/{}\n",
            graph.namespaces[service.namespace].name, service.destination, service.path, call.path
        );
        if let Ok(mut described) = self.described.lock() {
            described.push(text);
        }
        Box::pin(async move { Ok(serde_json::Value::Null) })
    }
}

/// The plans a query compiles into (printed), and its errors, without calling any backend.
pub async fn plans(
    generation: &Generation,
    query: &str,
    variables: Option<serde_json::Value>,
) -> (Vec<String>, Vec<String>) {
    let recorder = Arc::new(Recorder::default());
    let executor: ExecutorData = recorder.clone();
    let mut request = async_graphql::Request::new(query).data(executor);
    if let Some(variables) = variables {
        request = request.variables(async_graphql::Variables::from_json(variables));
    }
    let response = generation.schema.execute(request).await;
    let errors = response.errors.iter().map(|e| e.message.clone()).collect();
    let plans = recorder
        .described
        .lock()
        .map(|plans| plans.clone())
        .unwrap_or_default();
    (plans, errors)
}
