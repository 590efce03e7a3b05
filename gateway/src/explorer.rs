//! The schema explorer at `/explorer`: static assets embedded in the binary and the JSON it reads.
//!
//! The page (plain HTML, CSS and JavaScript in `explorer/`, no framework, nothing fetched from
//! elsewhere) browses the composed graph, draws an entity's neighbourhood, and runs GraphQL with
//! the caller's own credentials. Its two JSON APIs are rendered from the same composed model and
//! planner everything else uses:
//!
//! - `GET /explorer/api/model`: namespaces with the state of their sources, entities with
//!   properties and relations, operations ([`model`]); built once per graph generation and
//!   served with an `ETag`.
//! - `POST /explorer/api/plan`: for a GraphQL request, the OData requests the planner sends to
//!   each backend and the equivalent URLs of the gateway's own OData v4 endpoint ([`plan`]).
//!
//! The assets carry no data and are served without authentication; the APIs authenticate like
//! `/graphql` (a 401 carries the same challenge, so a browser asks for credentials).

mod model;
mod plan;

use std::sync::{Arc, Mutex, OnceLock, Weak};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use bizgraph_schema::csdl::{Names, names};
use bizgraph_schema::model::{Graph, NamespaceId};

use crate::graph::Generation;
use crate::server::{AppError, AppState, authenticate};

use model::model_json;
use plan::explain;

/// The explorer's routes; `/` redirects to it.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::temporary("/explorer") }))
        // The page addresses everything relative to `/explorer` (so that it also works below a
        // path prefix an app router adds); a trailing slash would shift those URLs.
        .route(
            "/explorer/",
            get(|| async { Redirect::temporary("../explorer") }),
        )
        .route("/explorer", get(index))
        .route("/explorer/app.js", get(script))
        .route("/explorer/app.css", get(style))
        .route("/explorer/api/model", get(model_api))
        .route("/explorer/api/plan", post(plan_api))
}

// ----- assets -----

const INDEX_HTML: &str = include_str!("explorer/index.html");
const APP_JS: &str = include_str!("explorer/app.js");
const APP_CSS: &str = include_str!("explorer/app.css");

/// One embedded asset with its validator.
struct Asset {
    body: Bytes,
    content_type: &'static str,
    /// A strong `ETag`: the quoted start of the body's SHA-256.
    etag: String,
    /// The same digest, short, for versioned URLs (`app.js?v=...`).
    version: String,
}

impl Asset {
    fn new(body: String, content_type: &'static str) -> Asset {
        let version = digest(body.as_bytes());
        Asset {
            etag: format!("\"{version}\""),
            body: Bytes::from(body),
            content_type,
            version,
        }
    }
}

struct Assets {
    index: Asset,
    script: Asset,
    style: Asset,
}

/// The assets, hashed once. The page links the script and style sheet with their digests in the
/// URL, so those can be cached for good, while the page itself is revalidated on every load.
fn assets() -> &'static Assets {
    static ASSETS: OnceLock<Assets> = OnceLock::new();
    ASSETS.get_or_init(|| {
        let script = Asset::new(APP_JS.to_owned(), "text/javascript; charset=utf-8");
        let style = Asset::new(APP_CSS.to_owned(), "text/css; charset=utf-8");
        let page = INDEX_HTML
            .replace(
                "{{script}}",
                &format!("explorer/app.js?v={}", script.version),
            )
            .replace(
                "{{style}}",
                &format!("explorer/app.css?v={}", style.version),
            );
        Assets {
            index: Asset::new(page, "text/html; charset=utf-8"),
            script,
            style,
        }
    })
}

/// Hex of the first 16 bytes of the SHA-256 of `bytes`.
fn digest(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref()[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// True when the request's `If-None-Match` names `etag` (RFC 9110 section 13.1.2, weak
/// comparison).
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|candidate| candidate.trim().trim_start_matches("W/"))
        .any(|candidate| candidate == "*" || candidate == etag)
}

/// The asset, or 304 when the client has it. `immutable` is for versioned URLs.
fn serve(asset: &Asset, headers: &HeaderMap, immutable: bool) -> Response {
    let cache = if immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = if not_modified(headers, &asset.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Response::new(Body::from(asset.body.clone()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        );
        response
    };
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&asset.etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// True when the URL carries the asset's current version (`?v=<digest>`).
fn versioned(query: Option<&str>, asset: &Asset) -> bool {
    query.is_some_and(|query| {
        query
            .split('&')
            .any(|pair| pair.strip_prefix("v=") == Some(asset.version.as_str()))
    })
}

/// `GET /explorer`: the page. It may only load its own script and style and talk to this origin.
async fn index(headers: HeaderMap) -> Response {
    let mut response = serve(&assets().index, &headers, false);
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    response
}

async fn script(uri: axum::http::Uri, headers: HeaderMap) -> Response {
    let asset = &assets().script;
    serve(asset, &headers, versioned(uri.query(), asset))
}

async fn style(uri: axum::http::Uri, headers: HeaderMap) -> Response {
    let asset = &assets().style;
    serve(asset, &headers, versioned(uri.query(), asset))
}

// ----- per-generation cache -----

/// What the explorer derives from one generation, built on its first use: the model JSON and
/// the CSDL names of each namespace (for OData URLs).
struct Prepared {
    generation: Weak<Generation>,
    body: Bytes,
    etag: String,
    names: NameTable,
}

/// The CSDL names of each namespace of a graph, worked out when first needed.
#[derive(Debug, Default)]
pub(crate) struct NameTable {
    namespaces: Vec<OnceLock<Names>>,
}

impl NameTable {
    /// An empty table for `graph`.
    pub(crate) fn new(graph: &Graph) -> NameTable {
        NameTable {
            namespaces: (0..graph.namespaces.len())
                .map(|_| OnceLock::new())
                .collect(),
        }
    }

    /// The names of one namespace's items.
    pub(crate) fn get(&self, graph: &Graph, namespace: NamespaceId) -> &Names {
        self.namespaces[namespace].get_or_init(|| names(graph, namespace))
    }
}

/// The prepared data of `generation`, built now when this is its first request. A handful of
/// generations are kept: the current one and those that requests in flight still hold.
fn prepared(generation: &Arc<Generation>) -> Arc<Prepared> {
    static CACHE: Mutex<Vec<Arc<Prepared>>> = Mutex::new(Vec::new());
    let wanted = Arc::downgrade(generation);
    let lookup = |cache: &mut Vec<Arc<Prepared>>| {
        cache.retain(|entry| entry.generation.strong_count() > 0);
        cache
            .iter()
            .find(|entry| Weak::ptr_eq(&entry.generation, &wanted))
            .cloned()
    };
    {
        let mut cache = CACHE
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(found) = lookup(&mut cache) {
            return found;
        }
    }
    let body = serde_json::to_vec(&model_json(generation)).expect("JSON values serialize");
    let built = Arc::new(Prepared {
        generation: wanted.clone(),
        etag: format!("\"{}\"", digest(&body)),
        body: Bytes::from(body),
        names: NameTable::new(&generation.graph),
    });
    let mut cache = CACHE
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    // Another request may have built it meanwhile; keep one.
    if let Some(found) = lookup(&mut cache) {
        return found;
    }
    cache.push(built.clone());
    built
}

async fn prepared_async(generation: &Arc<Generation>) -> Result<Arc<Prepared>, AppError> {
    let generation = generation.clone();
    // Building takes a while for thousands of entities; keep it off the request threads.
    tokio::task::spawn_blocking(move || prepared(&generation))
        .await
        .map_err(|error| {
            AppError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                format!("cannot build the explorer's model: {error}"),
            )
        })
}

// ----- APIs -----

/// `GET /explorer/api/model`.
async fn model_api(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    authenticate(&state, &headers).await?;
    let generation = state.graph.current();
    let prepared = prepared_async(&generation).await?;
    let mut response = if not_modified(&headers, &prepared.etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = Response::new(Body::from(prepared.body.clone()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
    };
    let answer = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&prepared.etag) {
        answer.insert(header::ETAG, etag);
    }
    // Revalidated on each load (a refresh may change the graph); private, because it is only
    // given to signed-in callers.
    answer.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    answer.insert(header::VARY, HeaderValue::from_static("Authorization"));
    Ok(response)
}

/// The body of `POST /explorer/api/plan`: a GraphQL request.
#[derive(Debug, serde::Deserialize)]
struct PlanRequest {
    query: String,
    #[serde(default)]
    variables: Option<serde_json::Value>,
    #[serde(default, rename = "operationName")]
    operation_name: Option<String>,
}

/// `POST /explorer/api/plan`: what a GraphQL request would send, without sending it.
async fn plan_api(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    authenticate(&state, &headers).await?;
    let request: PlanRequest = serde_json::from_slice(&body).map_err(|error| {
        AppError::new(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            format!("the body is not a GraphQL request ({{\"query\": ...}}): {error}"),
        )
    })?;
    let generation = state.graph.current();
    let prepared = prepared_async(&generation).await?;
    let explanation = explain(
        &generation,
        &prepared.names,
        &request.query,
        request.variables.unwrap_or(serde_json::Value::Null),
        request.operation_name.as_deref(),
    )
    .await;
    if explanation.reads.is_empty() && !explanation.errors.is_empty() {
        return Err(AppError::new(
            StatusCode::BAD_REQUEST,
            "BAD_QUERY",
            explanation.errors.join("; "),
        ));
    }
    Ok(axum::Json(explanation).into_response())
}

#[cfg(test)]
mod tests;
