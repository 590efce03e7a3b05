//! The backend under test: answers every request with a JSON echo of what it received and
//! records it, optionally acting as an OAuth resource server that accepts only live tokens of a
//! [`TokenEndpoint`].
//!
//! It serves any method and path, so it works both as a direct target and behind a forward
//! proxy such as tinyproxy, which passes requests on in origin form (`GET /path HTTP/1.1`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use url::Url;

use super::server::Server;
use super::token_endpoint::{TokenEndpoint, TokenState};
use super::{bearer_token, header_map, lock};

/// One request the backend received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchoRequest {
    /// The method, `GET`.
    pub method: String,
    /// The path without the query, `/sap/opu/odata/sap/API/$metadata`.
    pub path: String,
    /// The raw query string without `?`, if there was one.
    pub query: Option<String>,
    /// Headers, lowercase name to value.
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
    /// The status answered.
    pub status: u16,
}

impl EchoRequest {
    /// One header by lowercase name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

#[derive(Debug)]
struct Inner {
    requests: Vec<EchoRequest>,
    always_unauthorized: bool,
}

#[derive(Clone)]
struct AppState {
    inner: Arc<Mutex<Inner>>,
    tokens: Option<TokenState>,
}

/// The running echo backend.
#[derive(Debug)]
pub struct EchoBackend {
    /// `http://127.0.0.1:PORT/`.
    pub base_url: Url,
    inner: Arc<Mutex<Inner>>,
    server: Server,
}

impl EchoBackend {
    /// A backend that accepts every request.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(None).await
    }

    /// A backend that requires `Authorization: Bearer <token>` with a token `tokens` issued and
    /// that is neither revoked nor expired; anything else gets 401.
    pub async fn start_checking(tokens: &TokenEndpoint) -> anyhow::Result<Self> {
        Self::start_with(Some(tokens.state())).await
    }

    async fn start_with(tokens: Option<TokenState>) -> anyhow::Result<Self> {
        let inner = Arc::new(Mutex::new(Inner {
            requests: Vec::new(),
            always_unauthorized: false,
        }));
        let app = AppState {
            inner: Arc::clone(&inner),
            tokens,
        };
        let router = Router::new().fallback(echo).with_state(app);
        let server = Server::start(router).await?;
        Ok(Self {
            base_url: server.base_url().clone(),
            inner,
            server,
        })
    }

    /// Answers 401 to everything while set, as a backend whose trust is broken does.
    pub fn set_always_unauthorized(&self, on: bool) {
        lock(&self.inner).always_unauthorized = on;
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<EchoRequest> {
        lock(&self.inner).requests.clone()
    }

    /// How many requests arrived.
    pub fn count(&self) -> usize {
        lock(&self.inner).requests.len()
    }

    /// Stops the backend and waits until it has.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

async fn echo(
    State(app): State<AppState>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let headers_seen = header_map(&headers);
    let always_unauthorized = lock(&app.inner).always_unauthorized;
    let refusal = if always_unauthorized {
        Some("the backend refuses every request")
    } else {
        app.tokens.as_ref().and_then(|tokens| {
            match bearer_token(&headers).map(|token| tokens.grant_of(&token)) {
                None => Some("no bearer token"),
                Some(None) => Some("unknown token"),
                Some(Some(grant)) if !grant.is_active() => Some("revoked or expired token"),
                Some(Some(_)) => None,
            }
        })
    };
    let status = if refusal.is_some() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::OK
    };
    let record = EchoRequest {
        method: method.as_str().to_owned(),
        path: uri.path().to_owned(),
        query: uri.query().map(str::to_owned),
        headers: headers_seen,
        body: body.to_vec(),
        status: status.as_u16(),
    };
    let echoed = json!({
        "method": record.method,
        "path": record.path,
        "query": record.query,
        "headers": record.headers,
        "body": String::from_utf8_lossy(&record.body),
    });
    lock(&app.inner).requests.push(record);
    match refusal {
        Some(reason) => {
            let mut response = (
                status,
                axum::Json(json!({ "error": "invalid_token", "error_description": reason })),
            )
                .into_response();
            // RFC 6750 section 3: a resource server names the scheme and the error.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
            response
        }
        None => (status, axum::Json(echoed)).into_response(),
    }
}
