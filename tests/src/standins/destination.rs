//! The SAP BTP Destination service as an application sees it: the "find destination" call
//! `GET /destination-configuration/v1/destinations/{name}`, protected by a client credentials
//! token of the service binding's own OAuth client.
//!
//! The answer has the documented shape: `owner`, `destinationConfiguration` (all values strings)
//! and, for authentication types with automatic token retrieval, `authTokens`. For OAuth2
//! destinations the stand-in does what the real service does on the server side: it calls the
//! destination's `tokenServiceURL` over HTTP on the application's behalf, using the user JWT from
//! the `X-user-token` header for user-dependent types, and reports a failed retrieval as an
//! entry with empty `type` and `value` and an `error` text.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};
use url::Url;

use super::saml::SamlAssertion;
use super::server::Server;
use super::token_endpoint::{
    GRANT_CLIENT_CREDENTIALS, GRANT_JWT_BEARER, GRANT_SAML2_BEARER, TokenEndpoint, TokenState,
};
use super::{bearer_token, header_map, http_client, lock, random_uuid, without_trailing_slash};

/// A destination: its properties exactly as the service returns them in
/// `destinationConfiguration`, all strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    properties: BTreeMap<String, String>,
}

impl Destination {
    /// An HTTP destination on the internet without authentication.
    pub fn new(name: &str, url: &str) -> Self {
        let properties = [
            ("Name", name),
            ("Type", "HTTP"),
            ("URL", url),
            ("Authentication", "NoAuthentication"),
            ("ProxyType", "Internet"),
        ]
        .into_iter()
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect();
        Self { properties }
    }

    /// `BasicAuthentication` with `User` and `Password`.
    pub fn basic(name: &str, url: &str, user: &str, password: &str) -> Self {
        Self::new(name, url)
            .with("Authentication", "BasicAuthentication")
            .with("User", user)
            .with("Password", password)
    }

    /// An OAuth2 destination (`OAuth2ClientCredentials`, `OAuth2JWTBearer`,
    /// `OAuth2UserTokenExchange`) whose token comes from `tokenServiceURL` for this client.
    pub fn oauth2(
        authentication: &str,
        name: &str,
        url: &str,
        token_service_url: &str,
        client_id: &str,
        client_secret: &str,
    ) -> Self {
        Self::new(name, url)
            .with("Authentication", authentication)
            .with("tokenServiceURL", token_service_url)
            .with("clientId", client_id)
            .with("clientSecret", client_secret)
    }

    /// `OAuth2SAMLBearerAssertion`: the service signs an assertion for the user and exchanges it
    /// at `tokenServiceURL`, authenticating as `tokenServiceUser` with `clientKey` as client id.
    pub fn oauth2_saml_bearer(
        name: &str,
        url: &str,
        token_service_url: &str,
        audience: &str,
        client_key: &str,
        token_service_user: &str,
        token_service_password: &str,
    ) -> Self {
        Self::new(name, url)
            .with("Authentication", "OAuth2SAMLBearerAssertion")
            .with("tokenServiceURL", token_service_url)
            .with("audience", audience)
            .with("clientKey", client_key)
            .with("tokenServiceUser", token_service_user)
            .with("tokenServicePassword", token_service_password)
            .with("authnContextClassRef", super::saml::PREVIOUS_SESSION)
            .with("nameIdFormat", super::saml::NAME_ID_UNSPECIFIED)
    }

    /// Sets any property.
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.properties.insert(key.to_owned(), value.to_owned());
        self
    }

    /// `ProxyType` `OnPremise`, with a Cloud Connector location when given.
    pub fn on_premise(self, location_id: Option<&str>) -> Self {
        let destination = self.with("ProxyType", "OnPremise");
        match location_id {
            Some(location) => destination.with("CloudConnectorLocationId", location),
            None => destination,
        }
    }

    /// The `Name` property.
    pub fn name(&self) -> &str {
        self.get("Name").unwrap_or_default()
    }

    /// One property.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.properties.get(key).map(String::as_str)
    }

    /// All properties.
    pub fn properties(&self) -> &BTreeMap<String, String> {
        &self.properties
    }
}

/// The key and certificate the service signs SAML assertions with (in BTP, the subaccount's
/// trust certificate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlSigner {
    /// PEM private key.
    pub key_path: PathBuf,
    /// PEM certificate.
    pub cert_path: PathBuf,
    /// `Issuer` of the assertions, unless a destination sets `assertionIssuer`.
    pub issuer: String,
}

/// Identity and binding of the service instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationServiceConfig {
    /// The binding's `clientid`.
    pub client_id: String,
    /// The binding's `clientsecret`.
    pub client_secret: String,
    /// `owner.SubaccountId` of found destinations.
    pub subaccount_id: String,
    /// The service instance's GUID (`instanceid`).
    pub instance_id: String,
    /// The service instance's name in `VCAP_SERVICES`.
    pub instance_name: String,
    /// The binding's `xsappname`.
    pub xsappname: String,
    /// The binding's `identityzone` (the subaccount's subdomain).
    pub identity_zone: String,
    /// The binding's `tenantid`.
    pub tenant_id: String,
    /// Signing material for `OAuth2SAMLBearerAssertion` destinations.
    pub saml_signer: Option<SamlSigner>,
}

impl Default for DestinationServiceConfig {
    fn default() -> Self {
        Self {
            // The shape of a real binding's client id: broker clone of the destination xsappname.
            client_id: "sb-clone-standin-destination!b101|destination-xsappname!b62".to_owned(),
            client_secret: "standin-destination-secret".to_owned(),
            subaccount_id: random_uuid(),
            instance_id: random_uuid(),
            instance_name: "bizgraph-destination".to_owned(),
            xsappname: "clone-standin-destination!b101|destination-xsappname!b62".to_owned(),
            identity_zone: "standin-subdomain".to_owned(),
            tenant_id: random_uuid(),
            saml_signer: None,
        }
    }
}

/// One "find destination" call the service received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationCall {
    /// The destination name from the path.
    pub name: String,
    /// All headers, lowercase name to value.
    pub headers: BTreeMap<String, String>,
    /// `X-user-token`.
    pub user_token: Option<String>,
    /// `X-tenant`.
    pub tenant: Option<String>,
    /// The status answered; `None` while the call is still being processed.
    pub status: Option<u16>,
}

struct Inner {
    destinations: HashMap<String, Destination>,
    calls: Vec<DestinationCall>,
}

#[derive(Clone)]
struct AppState {
    inner: Arc<Mutex<Inner>>,
    config: Arc<DestinationServiceConfig>,
    tokens: TokenState,
    client: reqwest::Client,
}

/// The running Destination service.
#[derive(Debug)]
pub struct DestinationService {
    /// `http://127.0.0.1:PORT/`; the binding's `uri`.
    pub base_url: Url,
    token_base_url: Url,
    inner: Arc<Mutex<Inner>>,
    config: Arc<DestinationServiceConfig>,
    server: Server,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Destinations hold passwords; only their names are shown.
        f.debug_struct("Inner")
            .field(
                "destinations",
                &self.destinations.keys().collect::<Vec<_>>(),
            )
            .field("calls", &self.calls.len())
            .finish()
    }
}

impl DestinationService {
    /// Starts the service, registering its binding client with `tokens`, whose base URL becomes
    /// the binding's `url`.
    pub async fn start(
        config: DestinationServiceConfig,
        tokens: &TokenEndpoint,
    ) -> anyhow::Result<Self> {
        let token_state = tokens.state();
        token_state.add_client(&config.client_id, &config.client_secret);
        let inner = Arc::new(Mutex::new(Inner {
            destinations: HashMap::new(),
            calls: Vec::new(),
        }));
        let config = Arc::new(config);
        let app = AppState {
            inner: Arc::clone(&inner),
            config: Arc::clone(&config),
            tokens: token_state,
            client: http_client()?,
        };
        let router = Router::new()
            .route(
                "/destination-configuration/v1/destinations/{name}",
                get(find_destination),
            )
            .with_state(app);
        let server = Server::start(router).await?;
        Ok(Self {
            base_url: server.base_url().clone(),
            token_base_url: tokens.base_url.clone(),
            inner,
            config,
            server,
        })
    }

    /// Adds or replaces a destination.
    pub fn add_destination(&self, destination: Destination) {
        lock(&self.inner)
            .destinations
            .insert(destination.name().to_owned(), destination);
    }

    /// Removes a destination; later finds answer 404.
    pub fn remove_destination(&self, name: &str) -> bool {
        lock(&self.inner).destinations.remove(name).is_some()
    }

    /// Every call received so far, in arrival order.
    pub fn calls(&self) -> Vec<DestinationCall> {
        lock(&self.inner).calls.clone()
    }

    /// How many calls arrived.
    pub fn call_count(&self) -> usize {
        lock(&self.inner).calls.len()
    }

    /// How many calls asked for this destination.
    pub fn call_count_for(&self, name: &str) -> usize {
        lock(&self.inner)
            .calls
            .iter()
            .filter(|call| call.name == name)
            .count()
    }

    /// The instance's settings.
    pub fn config(&self) -> &DestinationServiceConfig {
        &self.config
    }

    /// The binding credentials as BTP puts them into `VCAP_SERVICES`: `url` is the token
    /// service (tokens come from `{url}/oauth/token`), `uri` the REST API.
    pub fn binding_credentials(&self) -> Value {
        let token_url = without_trailing_slash(&self.token_base_url);
        let uaa_domain = self.token_base_url.host_str().unwrap_or("127.0.0.1");
        json!({
            "clientid": self.config.client_id,
            "clientsecret": self.config.client_secret,
            "credential-type": "binding-secret",
            "identityzone": self.config.identity_zone,
            "instanceid": self.config.instance_id,
            "tenantid": self.config.tenant_id,
            "tenantmode": "dedicated",
            "uaadomain": uaa_domain,
            "uri": without_trailing_slash(&self.base_url),
            "url": token_url,
            "xsappname": self.config.xsappname,
        })
    }

    /// The whole `VCAP_SERVICES` value with this instance bound under the label `destination`.
    pub fn vcap_services(&self) -> String {
        json!({
            "destination": [{
                "binding_guid": random_uuid(),
                "binding_name": null,
                "credentials": self.binding_credentials(),
                "instance_guid": self.config.instance_id,
                "instance_name": self.config.instance_name,
                "label": "destination",
                "name": self.config.instance_name,
                "plan": "lite",
                "provider": null,
                "syslog_drain_url": null,
                "tags": ["destination", "conn", "connsvc"],
                "volume_mounts": [],
            }]
        })
        .to_string()
    }

    /// Stops the service and waits until it has.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

async fn find_destination(
    State(app): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let index = {
        let mut inner = lock(&app.inner);
        inner.calls.push(DestinationCall {
            name: name.clone(),
            headers: header_map(&headers),
            user_token: header_text(&headers, "x-user-token"),
            tenant: header_text(&headers, "x-tenant"),
            status: None,
        });
        inner.calls.len() - 1
    };
    let response = answer(&app, &name, &headers).await;
    if let Some(call) = lock(&app.inner).calls.get_mut(index) {
        call.status = Some(response.status().as_u16());
    }
    response
}

/// The body of an error answer. The documentation gives only the status codes, not the body;
/// `{"ErrorMessage": ...}` is how the live service is remembered to answer, unconfirmed by a
/// published source, so clients under test should act on the status alone.
fn service_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "ErrorMessage": message }))).into_response()
}

async fn answer(app: &AppState, name: &str, headers: &HeaderMap) -> Response {
    let authorized = bearer_token(headers)
        .and_then(|token| app.tokens.grant_of(&token))
        .is_some_and(|grant| {
            grant.is_active()
                && grant.grant_type == GRANT_CLIENT_CREDENTIALS
                && grant.client_id == app.config.client_id
        });
    if !authorized {
        return service_error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized: a client credentials token of the service binding is required",
        );
    }
    let Some(destination) = lock(&app.inner).destinations.get(name).cloned() else {
        return service_error(
            StatusCode::NOT_FOUND,
            "Configuration with the specified name was not found",
        );
    };
    let user_token = header_text(headers, "x-user-token");
    let mut body = Map::new();
    body.insert(
        "owner".to_owned(),
        json!({ "SubaccountId": app.config.subaccount_id, "InstanceId": null }),
    );
    body.insert(
        "destinationConfiguration".to_owned(),
        Value::Object(
            destination
                .properties()
                .iter()
                .map(|(key, value)| (key.clone(), Value::String(value.clone())))
                .collect(),
        ),
    );
    if let Some(tokens) = auth_tokens(app, &destination, user_token.as_deref()).await {
        body.insert("authTokens".to_owned(), Value::Array(tokens));
    }
    (StatusCode::OK, axum::Json(Value::Object(body))).into_response()
}

/// The `authTokens` array for a destination, or `None` for types that have none.
async fn auth_tokens(
    app: &AppState,
    destination: &Destination,
    user_token: Option<&str>,
) -> Option<Vec<Value>> {
    let authentication = destination
        .get("Authentication")
        .unwrap_or("NoAuthentication");
    let entry = match authentication {
        "BasicAuthentication" => {
            let credentials = format!(
                "{}:{}",
                destination.get("User").unwrap_or_default(),
                destination.get("Password").unwrap_or_default()
            );
            let value = STANDARD.encode(credentials);
            json!({
                "type": "Basic",
                "value": value,
                "http_header": { "key": "Authorization", "value": format!("Basic {value}") },
            })
        }
        "OAuth2ClientCredentials" => {
            let form = client_form(destination, GRANT_CLIENT_CREDENTIALS, None);
            fetch_token(app, destination, form, None).await
        }
        "OAuth2JWTBearer" | "OAuth2UserTokenExchange" => match user_token {
            Some(user_token) => {
                let form = client_form(destination, GRANT_JWT_BEARER, Some(user_token));
                fetch_token(app, destination, form, None).await
            }
            None => missing_user(authentication),
        },
        "OAuth2SAMLBearerAssertion" => match user_token {
            Some(user_token) => saml_bearer(app, destination, user_token).await,
            None => missing_user(authentication),
        },
        _ => return None,
    };
    Some(vec![entry])
}

/// The form of a grant whose client authenticates in the body, the destination service's
/// default (`tokenService.addClientCredentialsInBody` is true unless set otherwise).
fn client_form(
    destination: &Destination,
    grant_type: &str,
    assertion: Option<&str>,
) -> Vec<(String, String)> {
    let mut form = vec![("grant_type".to_owned(), grant_type.to_owned())];
    if let Some(assertion) = assertion {
        form.push(("assertion".to_owned(), assertion.to_owned()));
    }
    form.push((
        "client_id".to_owned(),
        destination.get("clientId").unwrap_or_default().to_owned(),
    ));
    form.push((
        "client_secret".to_owned(),
        destination
            .get("clientSecret")
            .unwrap_or_default()
            .to_owned(),
    ));
    if let Some(scope) = destination.get("scope") {
        form.push(("scope".to_owned(), scope.to_owned()));
    }
    form
}

/// The entry for a failed retrieval, as documented: empty `type` and `value`, and `error`.
fn failed(message: &str) -> Value {
    json!({ "type": "", "value": "", "error": message })
}

fn missing_user(authentication: &str) -> Value {
    failed(&format!(
        "Retrieval of the access token failed: authentication type {authentication} needs a user \
         JWT in the X-user-token header"
    ))
}

/// Requests a token from the destination's `tokenServiceURL` and turns the answer into an
/// `authTokens` entry.
async fn fetch_token(
    app: &AppState,
    destination: &Destination,
    form: Vec<(String, String)>,
    basic: Option<(String, String)>,
) -> Value {
    let Some(token_url) = destination.get("tokenServiceURL") else {
        return failed("Retrieval of the access token failed: tokenServiceURL is missing");
    };
    let mut request = app.client.post(token_url).form(&form);
    if let Some((user, password)) = basic {
        request = request.basic_auth(user, Some(password));
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(error) => {
            return failed(&format!(
                "Retrieval of the access token failed: {token_url}: {error}"
            ));
        }
    };
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        return failed(&format!(
            "Retrieval of the access token failed: {token_url} answered HTTP {}: {text}",
            status.as_u16()
        ));
    }
    let Ok(body) = serde_json::from_str::<Value>(&text) else {
        return failed(&format!(
            "Retrieval of the access token failed: {token_url} answered with a body that is not JSON"
        ));
    };
    let Some(access_token) = body.get("access_token").and_then(Value::as_str) else {
        return failed(&format!(
            "Retrieval of the access token failed: {token_url} answered without access_token"
        ));
    };
    let token_type = body
        .get("token_type")
        .and_then(Value::as_str)
        .unwrap_or("bearer");
    let mut entry = json!({
        "type": token_type,
        "value": access_token,
        "http_header": { "key": "Authorization", "value": format!("Bearer {access_token}") },
    });
    if let Some(object) = entry.as_object_mut() {
        // The token service sends a number; the destination service passes it on as a string.
        if let Some(expires_in) = body.get("expires_in").and_then(Value::as_u64) {
            object.insert(
                "expires_in".to_owned(),
                Value::String(expires_in.to_string()),
            );
        }
        if let Some(scope) = body.get("scope").and_then(Value::as_str) {
            object.insert("scope".to_owned(), Value::String(scope.to_owned()));
        }
        if let Some(refresh) = body.get("refresh_token").and_then(Value::as_str) {
            object.insert(
                "refresh_token".to_owned(),
                Value::String(refresh.to_owned()),
            );
        }
    }
    entry
}

/// The SAML 2.0 bearer flow the service runs for `OAuth2SAMLBearerAssertion` destinations: an
/// assertion for the user, signed with the subaccount key, exchanged at `tokenServiceURL`.
async fn saml_bearer(app: &AppState, destination: &Destination, user_token: &str) -> Value {
    let Some(signer) = app.config.saml_signer.clone() else {
        return failed(
            "Retrieval of the access token failed: the stand-in has no SAML signing key configured",
        );
    };
    let Some(user) = user_of(user_token, destination.get("userIdSource")) else {
        return failed("Retrieval of the access token failed: the X-user-token names no user");
    };
    let Some(token_url) = destination.get("tokenServiceURL") else {
        return failed("Retrieval of the access token failed: tokenServiceURL is missing");
    };
    let recipient = destination.get("assertionRecipient").unwrap_or(token_url);
    let issuer = destination
        .get("assertionIssuer")
        .unwrap_or(signer.issuer.as_str());
    let mut assertion = SamlAssertion::new(
        issuer,
        &user,
        destination.get("audience").unwrap_or_default(),
        recipient,
    );
    if let Some(format) = destination.get("nameIdFormat") {
        assertion.name_id_format = format.to_owned();
    }
    if let Some(context) = destination.get("authnContextClassRef") {
        assertion.authn_context_class_ref = context.to_owned();
    }
    let signed = match tokio::task::spawn_blocking(move || {
        assertion.sign(&signer.key_path, &signer.cert_path)
    })
    .await
    {
        Ok(Ok(signed)) => signed,
        Ok(Err(error)) => {
            return failed(&format!(
                "Retrieval of the access token failed: signing: {error:#}"
            ));
        }
        Err(_) => return failed("Retrieval of the access token failed: the signing task failed"),
    };
    let form = vec![
        ("grant_type".to_owned(), GRANT_SAML2_BEARER.to_owned()),
        ("assertion".to_owned(), URL_SAFE_NO_PAD.encode(signed)),
        (
            "client_id".to_owned(),
            destination.get("clientKey").unwrap_or_default().to_owned(),
        ),
    ];
    let basic = destination.get("tokenServiceUser").map(|user| {
        (
            user.to_owned(),
            destination
                .get("tokenServicePassword")
                .unwrap_or_default()
                .to_owned(),
        )
    });
    fetch_token(app, destination, form, basic).await
}

/// The user a JWT names: the claim `userIdSource` picks, else `user_name`, else `sub`.
fn user_of(jwt: &str, claim: Option<&str>) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD_INDIFFERENT
        .decode(payload)
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    claim
        .and_then(text)
        .or_else(|| text("user_name"))
        .or_else(|| text("sub"))
}
