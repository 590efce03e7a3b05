//! The HTTP server: health, and `/api/<destination>/<path>`, which forwards a request to a
//! destination as the authenticated caller (the building block the GraphQL and OData endpoints
//! stand on). Errors are JSON `{"error": {"code", "message", "trace_id"}}`; internal detail is
//! logged, never a credential.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use ring::rand::{SecureRandom as _, SystemRandom};
use serde_json::json;

use crate::execute::CsrfTokens;
use crate::graph::GraphRuntime;
use crate::graphql_http;
use crate::identity::{AuthError, Authenticator, Caller};
use crate::odata_batch;
use crate::odata_http;
use crate::odata_write;
use crate::upstream::{CallError, Request, Upstream};

/// What every handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The upstream client.
    pub upstream: Arc<Upstream>,
    /// How callers are identified.
    pub authenticator: Authenticator,
    /// Largest request body accepted.
    pub body_limit: usize,
    /// The composed graph being served.
    pub graph: Arc<GraphRuntime>,
    /// CSRF tokens of SAP backends, per user and destination.
    pub csrf: CsrfTokens,
}

impl AppState {
    /// An executor acting as `caller` for one request, with a fresh trace id.
    pub fn executor(
        &self,
        caller: Caller,
        limits: bizgraph_schema::plan::PlanLimits,
    ) -> crate::execute::Executor {
        crate::execute::Executor {
            upstream: self.upstream.clone(),
            caller,
            trace_id: trace_id(),
            limits,
            csrf: self.csrf.clone(),
            change_set: None,
        }
    }
}

/// Builds the router.
pub fn app(state: Arc<AppState>) -> Router {
    let body_limit = state.body_limit;
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(graphql_http::readyz))
        .route("/graphql", get(graphql_http::get).post(graphql_http::post))
        .route("/admin/refresh", post(graphql_http::refresh))
        .merge(odata_routes())
        .route("/api/{destination}", any(forward))
        .route("/api/{destination}/{*rest}", any(forward))
        .merge(crate::explorer::routes())
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// The OData v4 endpoint, every answer carrying the OData version the client accepts.
fn odata_routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/odata/v4/{namespace}/", get(odata_http::service_document))
        .route("/odata/v4/{namespace}/$metadata", get(odata_http::metadata))
        .route("/odata/v4/{namespace}/$batch", post(odata_batch::batch))
        .route(
            "/odata/v4/{namespace}/{*rest}",
            get(odata_http::resource)
                .post(odata_write::post)
                .patch(odata_write::patch)
                .put(odata_write::put)
                .delete(odata_write::delete),
        )
        .route_layer(axum::middleware::from_fn(odata_http::versioned))
}

/// An error answer.
#[derive(Debug)]
pub struct AppError {
    status: StatusCode,
    code: &'static str,
    message: String,
    trace_id: String,
    challenge: Option<&'static str>,
}

impl AppError {
    /// An error answer with a fresh trace id.
    pub fn new(status: StatusCode, code: &'static str, message: String) -> Self {
        Self {
            status,
            code,
            message,
            trace_id: trace_id(),
            challenge: None,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = json!({
            "error": { "code": self.code, "message": self.message, "trace_id": self.trace_id }
        });
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

impl From<CallError> for AppError {
    fn from(error: CallError) -> Self {
        let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_GATEWAY);
        let code = match &error {
            CallError::Resolve(crate::destinations::ResolveError::Unknown(_)) => {
                "DESTINATION_NOT_FOUND"
            }
            CallError::Resolve(_) => "DESTINATION_UNAVAILABLE",
            CallError::UserRequired { .. } | CallError::JwtRequired { .. } => "USER_REQUIRED",
            CallError::Token { .. }
            | CallError::Brokered { .. }
            | CallError::MissingClaim { .. } => "TOKEN_UNAVAILABLE",
            CallError::ProxyToken { .. } | CallError::ProxyRejected { .. } => "PROXY_UNAVAILABLE",
            CallError::Unauthorized { .. } => "BACKEND_UNAUTHORIZED",
            CallError::Transport { timeout: true, .. } => "BACKEND_TIMEOUT",
            CallError::Transport { .. } => "BACKEND_UNREACHABLE",
            CallError::TooLarge { .. } => "BACKEND_RESPONSE_TOO_LARGE",
            CallError::Setup { .. } => "DESTINATION_MISCONFIGURED",
        };
        let error = AppError::new(status, code, error.to_string());
        tracing::warn!(trace_id = %error.trace_id, code, error = %error.message, "request failed");
        error
    }
}

/// A fresh random trace id (32 hex digits).
pub fn trace_id() -> String {
    let mut bytes = [0u8; 16];
    // A failing system random source leaves zeros: the id then only loses its uniqueness.
    let _ = SystemRandom::new().fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Identifies the caller or answers 401.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Caller, AppError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    state
        .authenticator
        .authenticate(authorization)
        .await
        .map_err(|error: AuthError| {
            // The caller is not at fault when the identity provider's keys cannot be fetched:
            // that is 503, so clients retry instead of asking the user to sign in again.
            if let AuthError::Jwt(jwt) = &error
                && jwt.is_unavailable()
            {
                let answer = AppError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "IDENTITY_PROVIDER_UNAVAILABLE",
                    error.to_string(),
                );
                tracing::warn!(trace_id = %answer.trace_id, error = %answer.message, "cannot verify callers");
                return answer;
            }
            let mut answer =
                AppError::new(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", error.to_string());
            answer.challenge = Some(state.authenticator.challenge());
            tracing::info!(trace_id = %answer.trace_id, error = %answer.message, "caller rejected");
            answer
        })
}

/// Request headers passed on to backends: content negotiation, conditions and OData versions.
/// Credentials, cookies and hop-by-hop headers stay here.
const FORWARDED_REQUEST_HEADERS: &[&str] = &[
    "accept",
    "accept-language",
    "content-type",
    "if-match",
    "if-none-match",
    "prefer",
    "odata-version",
    "odata-maxversion",
    "dataserviceversion",
    "maxdataserviceversion",
    "x-csrf-token",
];
/// Response headers passed back to the caller.
const FORWARDED_RESPONSE_HEADERS: &[&str] = &[
    "content-type",
    "etag",
    "location",
    "odata-version",
    "dataserviceversion",
    "preference-applied",
    "x-csrf-token",
];

async fn forward(
    State(state): State<Arc<AppState>>,
    path: Path<Vec<(String, String)>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let caller = authenticate(&state, &headers).await?;
    let destination = path
        .iter()
        .find(|(key, _)| key == "destination")
        .map(|(_, value)| value.clone())
        .unwrap_or_default();
    // The rest of the path is taken from the raw URI so its percent-encoding reaches the
    // backend unchanged (OData keys like `('a%2Fb')` must not be decoded on the way).
    let raw_path = uri.path();
    let prefix_end = raw_path
        .match_indices('/')
        .nth(2)
        .map_or(raw_path.len(), |(at, _)| at);
    let mut rest = raw_path[prefix_end..].to_owned();
    if let Some(query) = uri.query() {
        rest.push('?');
        rest.push_str(query);
    }
    let mut forwarded = Vec::new();
    for (name, value) in &headers {
        if FORWARDED_REQUEST_HEADERS.contains(&name.as_str()) {
            forwarded.push((name.clone(), value.clone()));
        }
    }
    let request = Request {
        method,
        path: rest,
        headers: forwarded,
        body,
    };
    let response = state
        .upstream
        .send(&destination, Some(&caller), &request)
        .await?;
    let mut answer = Response::builder()
        .status(StatusCode::from_u16(response.status).unwrap_or(StatusCode::BAD_GATEWAY));
    for (name, value) in &response.headers {
        if FORWARDED_RESPONSE_HEADERS.contains(&name.as_str()) {
            answer = answer.header(name, value);
        }
    }
    answer.body(Body::from(response.body)).map_err(|error| {
        AppError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            format!("cannot build the response: {error}"),
        )
    })
}
