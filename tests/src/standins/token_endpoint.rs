//! An OAuth 2.0 token endpoint shaped like XSUAA's `POST /oauth/token`.
//!
//! Clients authenticate with HTTP Basic or with `client_id`/`client_secret` form fields
//! (RFC 6749 section 2.3.1). Supported grants: `client_credentials`, the JWT bearer grant
//! (RFC 7523; the user JWT is decoded without verification, which is enough for a stand-in) and
//! the SAML 2.0 bearer grant (RFC 7522; the assertion is verified by the Python signxml verifier
//! and checked for audience, recipient, expiry and replay). Success answers follow RFC 6749
//! section 5.1 with `token_type` `bearer` as XSUAA writes it; errors follow section 5.2.
//! Access tokens are opaque random strings whose grants tests can look up.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD_PAD_INDIFFERENT, URL_SAFE_NO_PAD_INDIFFERENT};
use serde_json::{Value, json};
use url::Url;

use super::saml::{self, VerifiedAssertion};
use super::server::Server;
use super::{header_map, lock, random_hex, unix_now};

/// `grant_type` of the client credentials grant.
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
/// `grant_type` of the JWT bearer grant (RFC 7523 section 2.1).
pub const GRANT_JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// `grant_type` of the SAML 2.0 bearer grant (RFC 7522 section 2.1).
pub const GRANT_SAML2_BEARER: &str = "urn:ietf:params:oauth:grant-type:saml2-bearer";

/// Seconds of clock skew tolerated on SAML `NotBefore`, as token services commonly allow.
const CLOCK_SKEW: i64 = 60;

/// How the endpoint answers, whatever the request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    /// Normal OAuth behaviour.
    #[default]
    Normal,
    /// 503 with an RFC 6749 style error body, as a service that is down answers.
    Down,
    /// 200 with a body that is not JSON although it claims to be.
    Garbage,
    /// This status and body (sent as `application/json`).
    Error(u16, String),
}

/// What the endpoint trusts for the SAML 2.0 bearer grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlTrust {
    /// PEM certificate whose key must have signed the assertion.
    pub cert_path: PathBuf,
    /// Required `Audience`.
    pub audience: String,
    /// Required `Recipient`; `None` means the endpoint's own token URL.
    pub recipient: Option<String>,
    /// The verifier program; defaults to `tests/python/verify_saml.py`.
    pub verifier: PathBuf,
}

impl SamlTrust {
    /// Trusts assertions signed for `cert_path`'s key and addressed to `audience`.
    pub fn new(cert_path: impl Into<PathBuf>, audience: &str) -> Self {
        Self {
            cert_path: cert_path.into(),
            audience: audience.to_owned(),
            recipient: None,
            verifier: saml::default_verifier(),
        }
    }

    /// Requires this `Recipient` instead of the token URL.
    pub fn recipient(mut self, recipient: &str) -> Self {
        self.recipient = Some(recipient.to_owned());
        self
    }
}

/// Start-up settings of a [`TokenEndpoint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenEndpointConfig {
    /// Registered clients as (client id, client secret).
    pub clients: Vec<(String, String)>,
    /// `expires_in` of issued tokens, in seconds.
    pub expires_in: u64,
    /// The identity zone (tenant) of tokens whose grant names none.
    pub tenant: String,
    /// Trust for the SAML 2.0 bearer grant; without it that grant is unsupported.
    pub saml: Option<SamlTrust>,
}

impl Default for TokenEndpointConfig {
    fn default() -> Self {
        Self {
            clients: Vec::new(),
            expires_in: 3600,
            tenant: "standin-zone".to_owned(),
            saml: None,
        }
    }
}

impl TokenEndpointConfig {
    /// Registers a client.
    pub fn client(mut self, client_id: &str, client_secret: &str) -> Self {
        self.clients
            .push((client_id.to_owned(), client_secret.to_owned()));
        self
    }

    /// Sets the lifetime of issued tokens.
    pub fn expires_in(mut self, seconds: u64) -> Self {
        self.expires_in = seconds;
        self
    }

    /// Sets the default tenant.
    pub fn tenant(mut self, tenant: &str) -> Self {
        self.tenant = tenant.to_owned();
        self
    }

    /// Enables the SAML 2.0 bearer grant.
    pub fn saml(mut self, trust: SamlTrust) -> Self {
        self.saml = Some(trust);
        self
    }
}

/// What an issued access token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// The user, for user grants; `None` for client credentials.
    pub subject: Option<String>,
    /// The identity zone: the user JWT's `zid`, else the endpoint's tenant.
    pub tenant: Option<String>,
    /// The authenticated client.
    pub client_id: String,
    /// The `grant_type` that produced the token.
    pub grant_type: String,
    /// The requested `scope`, echoed back.
    pub scope: Option<String>,
    /// When the token was issued.
    pub issued_at: SystemTime,
    /// Lifetime in seconds.
    pub expires_in: u64,
    /// Whether [`TokenEndpoint::revoke`] was called for it.
    pub revoked: bool,
}

impl TokenGrant {
    /// Neither revoked nor expired.
    pub fn is_active(&self) -> bool {
        let age = self.issued_at.elapsed().unwrap_or_default();
        !self.revoked && age < Duration::from_secs(self.expires_in)
    }
}

/// One request the endpoint received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The form fields in order.
    pub form: Vec<(String, String)>,
    /// Headers, lowercase name to value.
    pub headers: BTreeMap<String, String>,
    /// The user the request is for, read without verification: the JWT's `user_name` or `sub`,
    /// or the SAML `NameID`.
    pub subject: Option<String>,
    /// The status answered; `None` while the request is still being processed.
    pub status: Option<u16>,
}

impl TokenRequest {
    /// The first value of a form field.
    pub fn field(&self, name: &str) -> Option<&str> {
        field(&self.form, name)
    }
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

#[derive(Debug)]
struct Inner {
    clients: HashMap<String, String>,
    grants: HashMap<String, TokenGrant>,
    requests: Vec<TokenRequest>,
    seen_assertions: HashSet<String>,
    mode: Mode,
    delay: Duration,
    expires_in: u64,
    tenant: String,
    saml: Option<SamlTrust>,
}

/// Shared access to a token endpoint's state, for the stand-ins that check its tokens.
#[derive(Debug, Clone)]
pub(crate) struct TokenState {
    inner: Arc<Mutex<Inner>>,
    token_url: Url,
}

impl TokenState {
    pub(crate) fn grant_of(&self, token: &str) -> Option<TokenGrant> {
        lock(&self.inner).grants.get(token).cloned()
    }

    pub(crate) fn add_client(&self, client_id: &str, client_secret: &str) {
        lock(&self.inner)
            .clients
            .insert(client_id.to_owned(), client_secret.to_owned());
    }
}

/// The running token endpoint. `POST {base_url}oauth/token`.
#[derive(Debug)]
pub struct TokenEndpoint {
    /// `http://127.0.0.1:PORT/`; the binding `url` of services that use this endpoint.
    pub base_url: Url,
    state: TokenState,
    server: Server,
}

impl TokenEndpoint {
    /// Starts an endpoint with `config` on the current runtime.
    pub async fn start(config: TokenEndpointConfig) -> anyhow::Result<Self> {
        let inner = Arc::new(Mutex::new(Inner {
            clients: config.clients.into_iter().collect(),
            grants: HashMap::new(),
            requests: Vec::new(),
            seen_assertions: HashSet::new(),
            mode: Mode::Normal,
            delay: Duration::ZERO,
            expires_in: config.expires_in,
            tenant: config.tenant,
            saml: config.saml,
        }));
        // The token URL is only known once the port is; the handler reads it from a slot filled
        // right after binding, before any request can arrive over the network.
        let url_slot: Arc<Mutex<Option<Url>>> = Arc::new(Mutex::new(None));
        let app = AppState {
            inner: Arc::clone(&inner),
            token_url: Arc::clone(&url_slot),
        };
        let router = Router::new()
            .route("/oauth/token", post(token))
            .with_state(app);
        let server = Server::start(router).await?;
        let base_url = server.base_url().clone();
        let token_url = base_url.join("oauth/token")?;
        *lock(&url_slot) = Some(token_url.clone());
        Ok(Self {
            base_url,
            state: TokenState { inner, token_url },
            server,
        })
    }

    /// The token URL, `{base_url}oauth/token`.
    pub fn token_url(&self) -> Url {
        self.state.token_url.clone()
    }

    /// Registers another client.
    pub fn add_client(&self, client_id: &str, client_secret: &str) {
        self.state.add_client(client_id, client_secret);
    }

    /// The grant behind an access token, if the endpoint issued it.
    pub fn grant_of(&self, token: &str) -> Option<TokenGrant> {
        self.state.grant_of(token)
    }

    /// Marks a token revoked; resource servers checking it then refuse it.
    pub fn revoke(&self, token: &str) -> bool {
        match lock(&self.state.inner).grants.get_mut(token) {
            Some(grant) => {
                grant.revoked = true;
                true
            }
            None => false,
        }
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<TokenRequest> {
        lock(&self.state.inner).requests.clone()
    }

    /// How many requests arrived.
    pub fn request_count(&self) -> usize {
        lock(&self.state.inner).requests.len()
    }

    /// How many requests arrived for this user (see [`TokenRequest::subject`]).
    pub fn request_count_for(&self, subject: &str) -> usize {
        lock(&self.state.inner)
            .requests
            .iter()
            .filter(|request| request.subject.as_deref() == Some(subject))
            .count()
    }

    /// How many requests carried this `grant_type`.
    pub fn request_count_of_grant(&self, grant_type: &str) -> usize {
        lock(&self.state.inner)
            .requests
            .iter()
            .filter(|request| request.field("grant_type") == Some(grant_type))
            .count()
    }

    /// Every token issued so far with its grant.
    pub fn issued(&self) -> Vec<(String, TokenGrant)> {
        lock(&self.state.inner)
            .grants
            .iter()
            .map(|(token, grant)| (token.clone(), grant.clone()))
            .collect()
    }

    /// Sets how every later request is answered.
    pub fn set_mode(&self, mode: Mode) {
        lock(&self.state.inner).mode = mode;
    }

    /// Delays every later answer, so concurrent callers overlap.
    pub fn set_delay(&self, delay: Duration) {
        lock(&self.state.inner).delay = delay;
    }

    /// Sets `expires_in` of later tokens.
    pub fn set_expires_in(&self, seconds: u64) {
        lock(&self.state.inner).expires_in = seconds;
    }

    /// Enables or replaces the SAML 2.0 bearer trust.
    pub fn set_saml(&self, trust: Option<SamlTrust>) {
        lock(&self.state.inner).saml = trust;
    }

    /// Shared state for the destination service and the echo backend.
    pub(crate) fn state(&self) -> TokenState {
        self.state.clone()
    }

    /// Stops the endpoint and waits until it has.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

#[derive(Clone)]
struct AppState {
    inner: Arc<Mutex<Inner>>,
    token_url: Arc<Mutex<Option<Url>>>,
}

async fn token(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&body).into_owned().collect();
    let subject = unverified_subject(&form);
    let (index, delay, mode) = {
        let mut inner = lock(&app.inner);
        inner.requests.push(TokenRequest {
            form: form.clone(),
            headers: header_map(&headers),
            subject,
            status: None,
        });
        (inner.requests.len() - 1, inner.delay, inner.mode.clone())
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let response = match mode {
        Mode::Normal => process(&app, &headers, &form).await,
        Mode::Down => oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the token service is down",
        ),
        Mode::Garbage => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "<html><body>502 Bad Gateway</body></html>",
        )
            .into_response(),
        Mode::Error(status, body) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
    };
    if let Some(request) = lock(&app.inner).requests.get_mut(index) {
        request.status = Some(response.status().as_u16());
    }
    response
}

/// The user a request is for, read without checking anything, so that requests can be counted
/// per user even when they fail.
fn unverified_subject(form: &[(String, String)]) -> Option<String> {
    let assertion = field(form, "assertion")?;
    match field(form, "grant_type")? {
        GRANT_JWT_BEARER => read_user_jwt(assertion).ok().map(|claims| claims.subject),
        GRANT_SAML2_BEARER => {
            let xml = URL_SAFE_NO_PAD_INDIFFERENT.decode(assertion).ok()?;
            element_text(&String::from_utf8_lossy(&xml), "NameID")
        }
        _ => None,
    }
}

/// The text of the first element with this local name, whatever its prefix. Only for recording:
/// the grant itself uses the verifier's answer.
fn element_text(xml: &str, local_name: &str) -> Option<String> {
    let mut rest = xml;
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        let tag_end = rest.find(['>', ' ', '/'])?;
        let tag = &rest[..tag_end];
        let name = tag.rsplit(':').next().unwrap_or(tag);
        if name == local_name {
            let open_end = rest.find('>')?;
            let after = &rest[open_end + 1..];
            let close = after.find('<')?;
            return Some(after[..close].trim().to_owned());
        }
    }
    None
}

async fn process(app: &AppState, headers: &HeaderMap, form: &[(String, String)]) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    }
    let client_id = match authenticate(app, headers, form) {
        Ok(client_id) => client_id,
        Err(error) => return error.into_response(),
    };
    let Some(grant_type) = field(form, "grant_type") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "missing grant_type",
        );
    };
    let default_tenant = lock(&app.inner).tenant.clone();
    let (subject, tenant) = match grant_type {
        GRANT_CLIENT_CREDENTIALS => (None, Some(default_tenant)),
        GRANT_JWT_BEARER => {
            let Some(assertion) = field(form, "assertion") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "missing assertion",
                );
            };
            match decode_user_jwt(assertion) {
                Ok(claims) => (
                    Some(claims.subject),
                    Some(claims.zone.unwrap_or(default_tenant)),
                ),
                Err(reason) => {
                    return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", &reason);
                }
            }
        }
        GRANT_SAML2_BEARER => {
            let Some(assertion) = field(form, "assertion") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "missing assertion",
                );
            };
            match check_saml(app, assertion).await {
                Ok(subject) => (Some(subject), Some(default_tenant)),
                Err(error) => return error.into_response(),
            }
        }
        other => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant type {other} is not supported"),
            );
        }
    };
    issue(
        app,
        client_id,
        grant_type,
        subject,
        tenant,
        field(form, "scope"),
    )
}

/// Authenticates the client by HTTP Basic or by form fields (RFC 6749 section 2.3.1) and
/// answers 401 `invalid_client` when it fails.
fn authenticate(
    app: &AppState,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<String, OAuthError> {
    let basic = match headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
    {
        Some(value) if value.len() > 6 && value[..6].eq_ignore_ascii_case("basic ") => Some(
            parse_basic(&value[6..])
                .ok_or_else(|| invalid_client("the Basic authorization header is malformed"))?,
        ),
        _ => None,
    };
    let candidates: Vec<(String, String)> = match basic {
        Some((id, secret)) => {
            // RFC 6749 section 2.3 forbids using two authentication methods in one request; an
            // extra client_id naming the same client is what XSUAA's own examples send.
            if field(form, "client_secret").is_some() {
                return Err(OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "the client authenticated both by Basic and by client_secret",
                ));
            }
            let decoded_id = form_decode(&id);
            if let Some(form_id) = field(form, "client_id")
                && form_id != id
                && form_id != decoded_id
            {
                return Err(invalid_client("client_id differs from the Basic user"));
            }
            // RFC 6749 section 2.3.1 form-encodes both parts before Basic encoding, while many
            // clients do not; both readings are tried.
            vec![(form_decode(&id), form_decode(&secret)), (id, secret)]
        }
        None => match (field(form, "client_id"), field(form, "client_secret")) {
            (Some(id), Some(secret)) => vec![(id.to_owned(), secret.to_owned())],
            _ => return Err(invalid_client("no client authentication")),
        },
    };
    let inner = lock(&app.inner);
    candidates
        .into_iter()
        .find(|(id, secret)| inner.clients.get(id) == Some(secret))
        .map(|(id, _)| id)
        .ok_or_else(|| invalid_client("bad client credentials"))
}

fn parse_basic(encoded: &str) -> Option<(String, String)> {
    let decoded = STANDARD_PAD_INDIFFERENT.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

fn form_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_else(|| text.to_owned())
}

/// Claims of a user JWT that the endpoint uses.
struct UserClaims {
    subject: String,
    zone: Option<String>,
    expiry: Option<i64>,
}

/// Reads the payload of a JWT without checking its signature: a stand-in trusts its callers, and
/// the gateway's own verification is tested elsewhere. Expired tokens are refused, as XSUAA does.
fn decode_user_jwt(jwt: &str) -> Result<UserClaims, String> {
    let claims = read_user_jwt(jwt)?;
    if claims.expiry.is_some_and(|expiry| expiry <= unix_now()) {
        return Err("the JWT has expired".to_owned());
    }
    Ok(claims)
}

/// The claims of a JWT, read without any check.
fn read_user_jwt(jwt: &str) -> Result<UserClaims, String> {
    let mut parts = jwt.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the assertion is not a JWT".to_owned());
    };
    let bytes = URL_SAFE_NO_PAD_INDIFFERENT
        .decode(payload)
        .map_err(|_| "the JWT payload is not base64url".to_owned())?;
    let claims: Value =
        serde_json::from_slice(&bytes).map_err(|_| "the JWT payload is not JSON".to_owned())?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    let subject = text("user_name")
        .or_else(|| text("sub"))
        .ok_or_else(|| "the JWT names no user (user_name or sub)".to_owned())?;
    Ok(UserClaims {
        subject,
        zone: text("zid"),
        expiry: claims.get("exp").and_then(Value::as_i64),
    })
}

/// Verifies a SAML 2.0 bearer assertion (RFC 7522 section 3) and returns its `NameID`.
async fn check_saml(app: &AppState, assertion: &str) -> Result<String, OAuthError> {
    let grant_error =
        |reason: &str| OAuthError::new(StatusCode::BAD_REQUEST, "invalid_grant", reason);
    let Some(trust) = lock(&app.inner).saml.clone() else {
        return Err(OAuthError::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "the SAML 2.0 bearer grant is not configured",
        ));
    };
    // RFC 7522 section 2.1: base64url, padding optional.
    let xml = URL_SAFE_NO_PAD_INDIFFERENT
        .decode(assertion)
        .map_err(|_| grant_error("the assertion is not base64url"))?;
    let cert = trust.cert_path.clone();
    let verifier = trust.verifier.clone();
    let verified: VerifiedAssertion =
        tokio::task::spawn_blocking(move || saml::verify_assertion(&xml, &cert, &verifier))
            .await
            .map_err(|_| grant_error("the verifier task failed"))?
            .map_err(|reason| grant_error(&format!("signature not accepted: {reason}")))?;

    if verified.subject_confirmation_method.as_deref() != Some(saml::BEARER_METHOD) {
        return Err(grant_error("the subject confirmation method is not bearer"));
    }
    if verified.audience.as_deref() != Some(trust.audience.as_str()) {
        return Err(grant_error("the assertion is not for this audience"));
    }
    let own_url = lock(&app.token_url)
        .as_ref()
        .map(Url::to_string)
        .unwrap_or_default();
    let recipient = trust.recipient.clone().unwrap_or(own_url);
    if verified.recipient.as_deref() != Some(recipient.as_str()) {
        return Err(grant_error("the assertion names another recipient"));
    }
    let now = unix_now();
    match verified.not_on_or_after.as_deref().map(saml::parse_instant) {
        Some(Some(expiry)) if expiry > now => {}
        Some(Some(_)) => return Err(grant_error("the assertion has expired")),
        _ => return Err(grant_error("the assertion has no readable NotOnOrAfter")),
    }
    if let Some(start) = verified.not_before.as_deref() {
        match saml::parse_instant(start) {
            Some(start) if start <= now + CLOCK_SKEW => {}
            _ => return Err(grant_error("the assertion is not valid yet")),
        }
    }
    let Some(subject) = verified.name_id.filter(|name| !name.is_empty()) else {
        return Err(grant_error("the assertion has no NameID"));
    };
    let Some(id) = verified.id.filter(|id| !id.is_empty()) else {
        return Err(grant_error("the assertion has no ID"));
    };
    if !lock(&app.inner).seen_assertions.insert(id) {
        return Err(grant_error("the assertion was used before"));
    }
    Ok(subject)
}

fn issue(
    app: &AppState,
    client_id: String,
    grant_type: &str,
    subject: Option<String>,
    tenant: Option<String>,
    scope: Option<&str>,
) -> Response {
    let token = random_hex(32);
    let mut inner = lock(&app.inner);
    let expires_in = inner.expires_in;
    inner.grants.insert(
        token.clone(),
        TokenGrant {
            subject,
            tenant,
            client_id,
            grant_type: grant_type.to_owned(),
            scope: scope.map(str::to_owned),
            issued_at: SystemTime::now(),
            expires_in,
            revoked: false,
        },
    );
    drop(inner);
    let mut body = json!({
        "access_token": token,
        "token_type": "bearer",
        "expires_in": expires_in,
        "jti": random_hex(16),
    });
    if let (Some(scope), Some(object)) = (scope, body.as_object_mut()) {
        object.insert("scope".to_owned(), Value::String(scope.to_owned()));
    }
    let mut response = (StatusCode::OK, axum::Json(body)).into_response();
    // RFC 6749 section 5.1 requires both on responses carrying tokens.
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// An RFC 6749 section 5.2 error.
#[derive(Debug)]
struct OAuthError {
    status: StatusCode,
    code: &'static str,
    description: String,
}

impl OAuthError {
    fn new(status: StatusCode, code: &'static str, description: &str) -> Self {
        Self {
            status,
            code,
            description: description.to_owned(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            axum::Json(json!({ "error": self.code, "error_description": self.description })),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6749 section 5.2 asks for the challenge of the scheme the client may use.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"oauth\""),
            );
        }
        response
    }
}

fn oauth_error(status: StatusCode, code: &'static str, description: &str) -> Response {
    OAuthError::new(status, code, description).into_response()
}

/// 401 `invalid_client`.
fn invalid_client(description: &str) -> OAuthError {
    OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
}
