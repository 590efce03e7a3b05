//! The OData v4 endpoint over the composed graph: per namespace at `/odata/v4/<namespace>/`, the
//! service document, `$metadata` rendered from the composed model, and reads of entity sets,
//! entities and navigations, answered in OData JSON 4.0 (`odata.metadata=minimal`), whatever the
//! backend's version. Reads share the GraphQL side's planner and executor; writes and operation
//! calls are in [`crate::odata_write`].

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bizgraph_schema::edm::EdmType;
use bizgraph_schema::execute::{
    COUNT_KEY, ERROR_KEY, ETAG_KEY, ExecError, Execute, NODES_KEY, RELATION_PREFIX,
};
use bizgraph_schema::model::{EntityId, EntityKind, FieldKind, Graph, NamespaceId};
use bizgraph_schema::query::{Selection, Target};
use serde_json::{Map, Value, json};

use crate::graph::Generation;
use crate::server::{AppState, authenticate, trace_id};

/// An OData error answer (OData JSON Format 4.01 section 21): `error.code`, `message`,
/// `target`, `details`, and our trace id in `innererror`.
#[derive(Debug)]
pub struct ODataError(Box<ErrorBody>);

#[derive(Debug)]
struct ErrorBody {
    status: StatusCode,
    code: String,
    message: String,
    target: Option<String>,
    details: Vec<Value>,
    trace_id: String,
}

impl ODataError {
    /// An error with a status, a code and a message.
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        ODataError(Box::new(ErrorBody {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: code.into(),
            message: message.into(),
            target: None,
            details: Vec::new(),
            trace_id: trace_id(),
        }))
    }

    /// Names the query option or path segment at fault.
    pub fn with_target(mut self, target: Option<String>) -> Self {
        self.0.target = target;
        self
    }

    /// The answer for an executor error: its code's status, the backend's message in
    /// `details`, and the trace id of the request.
    pub(crate) fn from_exec(error: ExecError) -> Self {
        let status = match error.code.as_str() {
            "BAD_USER_INPUT" | "BACKEND_BAD_REQUEST" => 400,
            "UNAUTHENTICATED" => 401,
            "FORBIDDEN" => 403,
            "NOT_FOUND" => 404,
            "CONFLICT" => 409,
            "PRECONDITION_FAILED" => 412,
            "NOT_SUPPORTED" => 501,
            "BACKEND_TIMEOUT" => 504,
            "LIMIT_EXCEEDED" => 400,
            _ => 502,
        };
        // A client error of the backend that no code above names (428 Precondition Required
        // when an ETag is missing, 405, 415, 422, ...) is the client's to fix: it keeps its
        // status. Authentication failures between gateway and backend stay 502.
        let (status, code) = match (error.code.as_str(), error.status) {
            ("BACKEND_ERROR", Some(428)) => (428, "PRECONDITION_REQUIRED".to_owned()),
            ("BACKEND_ERROR", Some(backend @ 400..=499)) if backend != 401 && backend != 407 => {
                (backend, error.code.clone())
            }
            _ => (status, error.code.clone()),
        };
        let mut answer = ODataError::new(status, code, error.message.clone());
        if let Some(backend_message) = &error.backend_message {
            answer.0.details.push(json!({
                "code": error.backend.clone().unwrap_or_default(),
                "message": backend_message,
            }));
        }
        if let Some(trace) = error.trace_id {
            answer.0.trace_id = trace;
        }
        answer
    }
}

impl IntoResponse for ODataError {
    fn into_response(self) -> Response {
        let body = *self.0;
        let mut error = json!({
            "code": body.code,
            "message": body.message,
            "innererror": { "traceId": body.trace_id },
        });
        if let Some(target) = body.target {
            error["target"] = Value::String(target);
        }
        if !body.details.is_empty() {
            error["details"] = Value::Array(body.details);
        }
        let mut response = (body.status, axum::Json(json!({ "error": error }))).into_response();
        response
            .headers_mut()
            .insert("odata-version", HeaderValue::from_static("4.0"));
        response
    }
}

impl From<ODataError> for Response {
    fn from(error: ODataError) -> Response {
        error.into_response()
    }
}

/// How the client wants numbers and metadata (OData JSON Format 4.01 sections 3 and 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    /// `IEEE754Compatible=true`: Int64 and Decimal as strings.
    pub ieee754: bool,
    /// `odata.metadata=none`: no control information.
    pub no_metadata: bool,
    /// `odata.metadata=full`: also each entity's type, id and edit link (OData JSON Format
    /// 4.01 section 3.1.2).
    pub full_metadata: bool,
    /// The client accepts OData 4.01 (`OData-MaxVersion: 4.01`): answers use 4.01's short
    /// control names (`@count`, `@nextLink`; OData JSON Format 4.01 section 4.5).
    pub version_401: bool,
}

impl Format {
    /// Reads `Accept` and `$format`.
    pub fn from_headers(headers: &HeaderMap) -> Result<Format, ODataError> {
        let accept = accept(headers);
        let json_ok = accept.contains("json") || accept.contains("*/*") || accept.is_empty();
        if !json_ok {
            return Err(ODataError::new(
                406,
                "NOT_ACCEPTABLE",
                "this service answers application/json only",
            ));
        }
        Ok(Format::read(headers))
    }

    /// The format the headers ask for, whether or not they accept JSON.
    fn read(headers: &HeaderMap) -> Format {
        let accept = accept(headers);
        Format {
            ieee754: accept.contains("ieee754compatible=true"),
            no_metadata: accept.contains("odata.metadata=none") || accept.contains("metadata=none"),
            full_metadata: accept.contains("odata.metadata=full")
                || accept.contains("metadata=full"),
            version_401: accepts_401(headers),
        }
    }

    /// The format with what the URL's `$format` asked for, which wins over `Accept`.
    pub(crate) fn with_option(self, option: &bizgraph_schema::odata_url::Format) -> Format {
        Format {
            ieee754: option.ieee754_compatible.unwrap_or(self.ieee754),
            no_metadata: matches!(
                option.metadata,
                Some(bizgraph_schema::odata_url::MetadataLevel::None)
            ) || self.no_metadata,
            full_metadata: matches!(
                option.metadata,
                Some(bizgraph_schema::odata_url::MetadataLevel::Full)
            ) || (self.full_metadata && option.metadata.is_none()),
            version_401: self.version_401,
        }
    }

    fn content_type(self) -> &'static str {
        match (self.no_metadata, self.full_metadata, self.ieee754) {
            (false, false, false) => "application/json;odata.metadata=minimal",
            (false, false, true) => {
                "application/json;odata.metadata=minimal;IEEE754Compatible=true"
            }
            (false, true, false) => "application/json;odata.metadata=full",
            (false, true, true) => "application/json;odata.metadata=full;IEEE754Compatible=true",
            (true, _, false) => "application/json;odata.metadata=none",
            (true, _, true) => "application/json;odata.metadata=none;IEEE754Compatible=true",
        }
    }
}

/// The `Accept` header, lowercase; `application/json` when there is none.
fn accept(headers: &HeaderMap) -> String {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_ascii_lowercase()
}

/// The client accepts OData 4.01 (`OData-MaxVersion: 4.01` or later).
fn accepts_401(headers: &HeaderMap) -> bool {
    headers
        .get("odata-maxversion")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .is_some_and(|version| version >= 4.01)
}

/// Middleware of every endpoint route: each answer, errors and text answers included, says the
/// version the client accepts, `OData-Version: 4.01` for a 4.01 client (OData 4.01 part 1,
/// section 8.1.5: the service answers in the version it chose for the request).
pub(crate) async fn versioned(request: axum::extract::Request, next: Next) -> Response {
    let accepts = accepts_401(request.headers());
    let mut response = next.run(request).await;
    if accepts && let Some(version) = response.headers_mut().get_mut("odata-version") {
        *version = HeaderValue::from_static("4.01");
    }
    response
}

/// A JSON answer with the OData headers.
pub(crate) fn json_response(format: Format, body: &Value) -> Response {
    let text = if format.version_401 {
        short_control_names(body).to_string()
    } else {
        body.to_string()
    };
    let mut response = Response::new(Body::from(text));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    let version = if format.version_401 { "4.01" } else { "4.0" };
    headers.insert("odata-version", HeaderValue::from_static(version));
    response
}

/// OData 4.01 control information without the `odata.` prefix (`@odata.count` → `@count`,
/// `to_Item@odata.count` → `to_Item@count`; OData JSON Format 4.01 section 4.5).
fn short_control_names(value: &Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(key, value)| (key.replacen("@odata.", "@", 1), short_control_names(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(short_control_names).collect()),
        other => other.clone(),
    }
}

/// The namespace addressed by the first path segment (its configured name, `sap.s4`).
pub(crate) fn namespace_of(generation: &Generation, name: &str) -> Result<NamespaceId, ODataError> {
    generation
        .graph
        .namespace(name)
        .ok_or_else(|| ODataError::new(404, "NOT_FOUND", format!("no data source named '{name}'")))
}

/// The service root of a namespace: `/odata/v4/<namespace>/`.
pub(crate) fn service_root(graph: &Graph, namespace: NamespaceId) -> String {
    format!("/odata/v4/{}/", graph.namespaces[namespace].name)
}

/// The context URLs of an answer holding entities of `entity` (OData JSON Format 4.01,
/// section 10): for a collection and for one entity. They name the set, the singleton, or for
/// an entity no set holds its qualified type, as the `$metadata` of the entity's own namespace
/// declares it: an entity reached from another namespace (a cross-source association) is
/// described by its own namespace's document, not by the one of the URL that reached it.
pub(crate) fn context_urls(graph: &Graph, entity_id: EntityId) -> (String, String) {
    let entity = &graph.entities[entity_id];
    let names = bizgraph_schema::csdl::names(graph, entity.namespace);
    let metadata = format!("{}$metadata", service_root(graph, entity.namespace));
    let set = names.entity_set(entity_id).unwrap_or_default();
    match entity.kind {
        EntityKind::Set => (
            format!("{metadata}#{set}"),
            format!("{metadata}#{set}/$entity"),
        ),
        EntityKind::Singleton => {
            let context = format!("{metadata}#{set}");
            (context.clone(), context)
        }
        EntityKind::Contained => {
            let type_name = names.qualified_entity_type(entity_id).unwrap_or_default();
            (
                format!("{metadata}#Collection({type_name})"),
                format!("{metadata}#{type_name}"),
            )
        }
    }
}

/// `GET /odata/v4/<namespace>/`: the service document.
pub async fn service_document(
    State(state): State<Arc<AppState>>,
    Path(namespace): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    authenticate(&state, &headers)
        .await
        .map_err(IntoResponse::into_response)?;
    let format = Format::from_headers(&headers)?;
    let generation = state.graph.current();
    let namespace = namespace_of(&generation, &namespace)?;
    let body = bizgraph_schema::csdl::service_document(&generation.graph, namespace);
    Ok(json_response(format, &body))
}

/// `GET /odata/v4/<namespace>/$metadata`: CSDL XML rendered from the composed model.
pub async fn metadata(
    State(state): State<Arc<AppState>>,
    Path(namespace): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    authenticate(&state, &headers)
        .await
        .map_err(IntoResponse::into_response)?;
    let generation = state.graph.current();
    let id = namespace_of(&generation, &namespace)?;
    let root = format!("/odata/v4/{namespace}/");
    let document = bizgraph_schema::csdl::metadata_document(&generation.graph, id, &root);
    let mut response = Response::new(Body::from(document));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    headers.insert("odata-version", HeaderValue::from_static("4.0"));
    Ok(response)
}

/// A URL parse error as an OData error.
pub(crate) fn url_error(error: &bizgraph_schema::odata_url::UrlError) -> ODataError {
    ODataError::new(error.status, error.code, error.message.clone())
        .with_target(error.target.clone())
}

/// `GET /odata/v4/<namespace>/<resource>`: reads, and calls of function imports.
pub async fn resource(
    state: State<Arc<AppState>>,
    path: Path<(String, String)>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, Response> {
    read(state, path, &uri, &headers).await
}

/// A path ending in `/$count` (also percent-encoded, `/%24count`).
fn is_count_path(raw_path: &str) -> bool {
    let last = raw_path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    last == "$count" || last.eq_ignore_ascii_case("%24count")
}

async fn read(
    State(state): State<Arc<AppState>>,
    Path((namespace, _rest)): Path<(String, String)>,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Response, Response> {
    let caller = authenticate(&state, headers)
        .await
        .map_err(IntoResponse::into_response)?;
    // The raw path after `/odata/v4/<namespace>/`, still percent-encoded: keys like `('a%2Fb')`
    // must be decoded by the parser, once.
    let (raw_path, query) = crate::odata_write::path_and_query(uri, &namespace);
    // A count is `text/plain` (OData 4.01 part 1, section 11.2.10): a client may accept only
    // that.
    let format = match Format::from_headers(headers) {
        Ok(format) => format,
        Err(_) if is_count_path(raw_path) && accept(headers).contains("text/plain") => {
            Format::read(headers)
        }
        Err(error) => return Err(error.into()),
    };
    let generation = state.graph.current();
    let namespace_id = namespace_of(&generation, &namespace)?;
    let graph = &generation.graph;
    if let Some(call) = bizgraph_schema::odata_url::parse_operation(
        graph,
        namespace_id,
        raw_path,
        query,
        &generation.limits,
    )
    .map_err(|error| url_error(&error))?
    {
        let endpoint = crate::odata_write::Endpoint::new(&state, caller, &generation, namespace_id);
        return Ok(endpoint
            .call(&axum::http::Method::GET, call, format, &[])
            .await?);
    }
    let request = bizgraph_schema::odata_url::parse_request(
        graph,
        namespace_id,
        raw_path,
        query,
        &generation.limits,
    )
    .map_err(|error| url_error(&error))?;
    let format = format.with_option(&request.format);
    let single = request.path.single(graph);
    let mut read = request.read;
    // Server-driven paging (OData 4.01 part 1, section 11.2.6.7): a page holds at most
    // `odata.maxpagesize` (Prefer, section 8.2.8.3) or, without a client `$top`, the configured
    // page size; one more row is asked for to know whether a next page exists. With `$top` the
    // pages together hold the `$top` rows: the skip token counts the rows already delivered.
    let mut page = None;
    let mut applied_page_size = None;
    if let Target::Collection(args) = &mut read.target
        && !single
        && !request.count_only
    {
        let offset: u32 = match request.skip_token.as_deref() {
            None => 0,
            Some(token) => token.parse().map_err(|_| {
                ODataError::new(
                    400,
                    "INVALID_SKIPTOKEN",
                    format!("$skiptoken '{token}' is not one of ours"),
                )
                .with_target(Some("$skiptoken".into()))
            })?,
        };
        let largest = generation.limits.max_top.saturating_sub(1).max(1);
        let preferred = prefer_max_page_size(headers).map(|size| size.clamp(1, largest));
        let remaining = args.top.map(|top| top.saturating_sub(offset));
        let size = match (remaining, preferred) {
            (None, preferred) => Some(preferred.unwrap_or(largest)),
            (Some(remaining), Some(preferred)) if preferred < remaining => Some(preferred),
            (Some(_), _) => None,
        };
        args.skip = Some(args.skip.unwrap_or(0) + offset);
        match size {
            Some(size) => {
                args.top = Some(size + 1);
                page = Some((size, offset));
            }
            // The rest of the client's `$top` fits one page: the last one.
            None => args.top = remaining,
        }
        applied_page_size = preferred;
    }
    let plan = bizgraph_schema::plan::plan(graph, &read, &generation.limits).map_err(|error| {
        let status = match error.code() {
            "NOT_SUPPORTED" => 501,
            _ => 400,
        };
        ODataError::new(status, error.code(), error.to_string())
    })?;
    let executor = state.executor(caller, generation.limits);
    let value = executor
        .read(graph, &plan)
        .await
        .map_err(ODataError::from_exec)?;
    // A navigation read through its parent: the answer is the parent's relation slot.
    let (value, entity_id, selection, count) = match &request.through {
        Some(key) => {
            let Value::Object(mut parent) = value else {
                return Err(ODataError::new(
                    404,
                    "NOT_FOUND",
                    format!("no {} with this key", graph.entities[read.entity].set_name),
                )
                .into());
            };
            let relation_read = read.selection.relations.first();
            let relation = relation_read.map(|r| r.relation).unwrap_or_default();
            let target = graph.entities[read.entity].relations[relation].target;
            let slot = parent
                .remove(&format!("{RELATION_PREFIX}{key}"))
                .unwrap_or(Value::Null);
            if let Some(error) = slot.get(ERROR_KEY) {
                let error: ExecError = serde_json::from_value(error.clone()).unwrap_or_default();
                return Err(ODataError::from_exec(error).into());
            }
            (
                slot,
                target,
                relation_read
                    .map(|r| r.selection.clone())
                    .unwrap_or_default(),
                relation_read.is_some_and(|r| r.args.count),
            )
        }
        None => {
            let count = matches!(&read.target, Target::Collection(args) if args.count);
            (value, read.entity, read.selection.clone(), count)
        }
    };
    let entity = &graph.entities[entity_id];
    let (context, entity_context) = context_urls(graph, entity_id);
    if request.count_only {
        let count = match &value {
            Value::Null => 0,
            Value::Object(object) if object.contains_key(NODES_KEY) => object
                .get(COUNT_KEY)
                .and_then(Value::as_u64)
                .unwrap_or_default(),
            _ => 1,
        };
        let mut response = Response::new(Body::from(count.to_string()));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        headers.insert("odata-version", HeaderValue::from_static("4.0"));
        return Ok(response);
    }
    // The entity's ETag as a header too (OData 4.01 part 1, section 11.2: a single entity's
    // answer carries it, so a client can send it back in `If-Match`).
    let mut etag = None;
    let body = if single {
        let row = match &value {
            Value::Object(object) if object.contains_key(NODES_KEY) => object
                .get(NODES_KEY)
                .and_then(Value::as_array)
                .and_then(|rows| rows.first())
                .and_then(Value::as_object),
            Value::Object(object) => Some(object),
            _ => None,
        };
        let Some(row) = row else {
            // A single-valued navigation to nothing is 204 No Content (OData 4.01 part 1,
            // section 11.2.6); an entity addressed by a key that does not exist is 404.
            if request.path.navigation.is_some() && request.path.navigation_key.is_none() {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::NO_CONTENT;
                response
                    .headers_mut()
                    .insert("odata-version", HeaderValue::from_static("4.0"));
                return Ok(response);
            }
            return Err(ODataError::new(
                404,
                "NOT_FOUND",
                format!("no {} with this key", entity.set_name),
            )
            .into());
        };
        etag = row.get(ETAG_KEY).and_then(Value::as_str).map(str::to_owned);
        let mut object = Map::new();
        if !format.no_metadata {
            object.insert("@odata.context".into(), Value::String(entity_context));
        }
        object.extend(Renderer::new(graph, namespace_id, format).row(entity_id, &selection, row)?);
        Value::Object(object)
    } else {
        let mut rows: Vec<&Map<String, Value>> = value
            .get(NODES_KEY)
            .and_then(Value::as_array)
            .map(|rows| rows.iter().filter_map(Value::as_object).collect())
            .unwrap_or_default();
        let mut next = None;
        if let Some((size, offset)) = page
            && rows.len() > size as usize
        {
            rows.truncate(size as usize);
            next = Some(next_link(uri, offset + size));
        }
        let mut list = Vec::with_capacity(rows.len());
        let mut renderer = Renderer::new(graph, namespace_id, format);
        for row in rows {
            list.push(Value::Object(renderer.row(entity_id, &selection, row)?));
        }
        let mut object = Map::new();
        if !format.no_metadata {
            object.insert("@odata.context".into(), Value::String(context));
        }
        if count {
            object.insert(
                "@odata.count".into(),
                value.get(COUNT_KEY).cloned().unwrap_or(Value::Null),
            );
        }
        object.insert("value".into(), Value::Array(list));
        if let Some(next) = next {
            object.insert("@odata.nextLink".into(), Value::String(next));
        }
        Value::Object(object)
    };
    let mut response = json_response(format, &body);
    if let Some(etag) = etag.and_then(|etag| HeaderValue::from_str(&etag).ok()) {
        response.headers_mut().insert(header::ETAG, etag);
    }
    if let Some(size) = applied_page_size {
        // OData 4.01 part 1, section 8.3.6: a service that applied a preference says so.
        response.headers_mut().insert(
            "preference-applied",
            HeaderValue::from_str(&format!("odata.maxpagesize={size}"))
                .expect("a number is a header value"),
        );
    }
    Ok(response)
}

/// `Prefer: odata.maxpagesize=N` (OData 4.01 part 1, section 8.2.8.3).
fn prefer_max_page_size(headers: &HeaderMap) -> Option<u32> {
    preference(headers, "odata.maxpagesize").and_then(|value| value.parse().ok())
}

/// The value of one preference of the `Prefer` headers (OData 4.01 part 1, section 8.2.8),
/// by case-insensitive name, without quotes; the first one given wins.
pub(crate) fn preference(headers: &HeaderMap, wanted: &str) -> Option<String> {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|preference| {
            let preference = preference.split(';').next().unwrap_or_default();
            let (name, value) = preference.trim().split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case(wanted)
                .then(|| value.trim().trim_matches('"').to_owned())
        })
}

/// The request's own URL with `$skiptoken` set to the next page's offset. The request's own skip
/// token goes, however it was spelled (`$skiptoken`, `skiptoken` or `%24skiptoken`, any case:
/// URL 4.01, "System Query Options"), or the link would name the option twice.
fn next_link(uri: &Uri, offset: u32) -> String {
    let is_skip_token = |part: &str| {
        let name = part
            .split('=')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let name = name
            .strip_prefix('$')
            .or_else(|| name.strip_prefix("%24"))
            .unwrap_or(&name);
        name == "skiptoken"
    };
    let mut query: Vec<&str> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|part| !part.is_empty() && !is_skip_token(part))
        .collect();
    let token = format!("$skiptoken={offset}");
    query.push(&token);
    format!("{}?{}", uri.path(), query.join("&"))
}

/// Renders entities of one answer in OData JSON. The CSDL names that full metadata needs are
/// worked out once per namespace and answer, not per entity.
pub(crate) struct Renderer<'g> {
    graph: &'g Graph,
    /// The namespace whose service root the answer's relative URLs are relative to.
    namespace: NamespaceId,
    format: Format,
    names: HashMap<NamespaceId, bizgraph_schema::csdl::Names>,
}

impl std::fmt::Debug for Renderer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renderer")
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl<'g> Renderer<'g> {
    /// A renderer for one answer of the endpoint of `namespace`.
    pub(crate) fn new(graph: &'g Graph, namespace: NamespaceId, format: Format) -> Self {
        Renderer {
            graph,
            namespace,
            format,
            names: HashMap::new(),
        }
    }

    /// One entity: the selected properties (keys always), the ETag, expanded relations under
    /// their navigation names with their counts.
    pub(crate) fn row(
        &mut self,
        entity_id: EntityId,
        selection: &Selection,
        row: &Map<String, Value>,
    ) -> Result<Map<String, Value>, ODataError> {
        let graph = self.graph;
        let format = self.format;
        let entity = &graph.entities[entity_id];
        let mut object = Map::new();
        if format.full_metadata && !format.no_metadata {
            let names = self
                .names
                .entry(entity.namespace)
                .or_insert_with(|| bizgraph_schema::csdl::names(graph, entity.namespace));
            if let Some(type_name) = names.entity_type(entity_id) {
                object.insert(
                    "@odata.type".into(),
                    Value::String(format!("#{}.{type_name}", names.namespace())),
                );
            }
            let key: Vec<(usize, Value)> = entity
                .key
                .iter()
                .map(|&index| {
                    let name = &entity.fields[index].name;
                    (index, row.get(name).cloned().unwrap_or(Value::Null))
                })
                .collect();
            let addressed = match entity.kind {
                EntityKind::Set => !key.is_empty(),
                EntityKind::Singleton => true,
                EntityKind::Contained => false,
            };
            // The entity's URL at this endpoint, in v4 literals and the advertised names
            // (JSON Format 4.01, section 4.6.7); relative to the service root of the answer's
            // namespace, or the path below the own root of an entity of another namespace.
            if addressed && let Some(url) = names.entity_url(graph, entity_id, &key) {
                let url = if entity.namespace == self.namespace {
                    url
                } else {
                    format!("{}{url}", service_root(graph, entity.namespace))
                };
                object.insert("@odata.id".into(), Value::String(url.clone()));
                object.insert("@odata.editLink".into(), Value::String(url));
            }
        }
        if !format.no_metadata
            && let Some(Value::String(etag)) = row.get(ETAG_KEY)
        {
            object.insert("@odata.etag".into(), Value::String(etag.clone()));
        }
        for (index, field) in entity.fields.iter().enumerate() {
            if !(entity.key.contains(&index) || selection.fields.contains(&index)) {
                continue;
            }
            let value = row.get(&field.name).cloned().unwrap_or(Value::Null);
            object.insert(field.name.clone(), wire_value(field.kind, value, format));
        }
        for read in &selection.relations {
            let relation = &entity.relations[read.relation];
            let value = row
                .get(&format!("{RELATION_PREFIX}{}", read.key))
                .unwrap_or(&Value::Null);
            if let Some(error) = value.get(ERROR_KEY) {
                let error: ExecError = serde_json::from_value(error.clone()).unwrap_or_default();
                return Err(ODataError::from_exec(error));
            }
            if relation.many {
                let nodes = value
                    .get(NODES_KEY)
                    .and_then(Value::as_array)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                let mut list = Vec::with_capacity(nodes.len());
                for node in nodes.iter().filter_map(Value::as_object) {
                    list.push(Value::Object(self.row(
                        relation.target,
                        &read.selection,
                        node,
                    )?));
                }
                if read.args.count {
                    object.insert(
                        format!("{}@odata.count", read.key),
                        value.get(COUNT_KEY).cloned().unwrap_or(Value::Null),
                    );
                }
                object.insert(read.key.clone(), Value::Array(list));
            } else {
                let rendered = match value {
                    Value::Object(node) => {
                        Value::Object(self.row(relation.target, &read.selection, node)?)
                    }
                    _ => Value::Null,
                };
                object.insert(read.key.clone(), rendered);
            }
        }
        Ok(object)
    }
}

/// A canonical value in OData JSON: Int64 and Decimal as numbers unless the client asked for
/// IEEE754 compatibility (OData JSON Format 4.01 section 3.2).
pub(crate) fn wire_value(kind: FieldKind, value: Value, format: Format) -> Value {
    match (kind, value) {
        (FieldKind::Scalar(EdmType::Int64 | EdmType::Decimal), Value::String(text))
            if !format.ieee754 =>
        {
            text.parse::<serde_json::Number>()
                .map(Value::Number)
                .unwrap_or(Value::String(text))
        }
        (_, value) => value,
    }
}
