//! The upstream HTTP client: every backend call goes through [`Upstream::send`], which turns a
//! destination and a caller into URL, headers, proxy and token; plus a plain `$metadata` GET for
//! the `metadata inspect` command.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use bizgraph_config::{Authentication, ProxyType, SamlBearer, Secret};
use bytes::Bytes;
use reqwest::header::{HeaderName, HeaderValue};
use thiserror::Error;

use crate::destinations::{Destinations, Found, ResolveError};
use crate::identity::Caller;
use crate::oauth::{self, TokenError};
use crate::saml::{AssertionRequest, SigningKey, sign_assertion};
use crate::tokens::{CachedToken, Timed, TokenKey};

/// Largest `$metadata` document accepted, in bytes. Microsoft Graph's, among the largest public
/// ones, is 3.4 MB; a limit keeps a misbehaving backend from exhausting memory.
pub const MAX_METADATA_BYTES: usize = 64 * 1024 * 1024;

/// Why a fetch failed. Messages name the URL; they never carry credentials, since URLs given to
/// the fetcher hold none.
#[derive(Debug, Error)]
pub enum UpstreamError {
    /// The client could not be built (TLS set-up).
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// Connection, TLS or timeout failure.
    #[error("GET {url} failed: {source}")]
    Request {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The backend answered with a non-success status.
    #[error("GET {url} answered HTTP {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The body is larger than the limit.
    #[error("GET {url}: response larger than {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: usize,
    },
}

/// Builds the shared HTTP client (rustls with the ring provider, system roots).
pub fn client(timeout: Duration) -> Result<reqwest::Client, UpstreamError> {
    // Installing fails only when a provider is installed already, which is what we want anyway.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .user_agent(concat!("bizgraph/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(UpstreamError::Client)
}

/// Fetches a `$metadata` document with a plain GET, reading at most [`MAX_METADATA_BYTES`].
pub async fn fetch_metadata(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, UpstreamError> {
    let request_error = |source| UpstreamError::Request {
        url: url.to_owned(),
        source,
    };
    let mut response = client
        .get(url)
        .header("Accept", "application/xml")
        .send()
        .await
        .map_err(request_error)?;
    let status = response.status();
    if !status.is_success() {
        return Err(UpstreamError::Status {
            url: url.to_owned(),
            status: status.as_u16(),
        });
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(request_error)? {
        if body.len() + chunk.len() > MAX_METADATA_BYTES {
            return Err(UpstreamError::TooLarge {
                url: url.to_owned(),
                limit: MAX_METADATA_BYTES,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// How the connectivity proxy is reached and authenticated.
#[derive(Debug, Clone)]
pub struct Connectivity {
    /// The proxy, `http://host:port`.
    pub proxy: url::Url,
    /// How the gateway authenticates to it.
    pub auth: ProxyAuth,
}

/// Authentication at the connectivity proxy.
#[derive(Debug, Clone)]
pub enum ProxyAuth {
    /// None (a self-hosted proxy that trusts the network).
    None,
    /// HTTP Basic, for self-hosted proxies configured with a user (`http://user:pass@host:port`).
    Basic(Secret),
    /// `Proxy-Authorization: Bearer <token>` with a client-credentials token of the connectivity
    /// binding, as SAP's connectivity proxy expects.
    Bearer {
        /// The token endpoint (full URL).
        token_url: String,
        /// `clientid`.
        client_id: String,
        /// `clientsecret`.
        client_secret: Secret,
    },
}

/// Tunables of [`Upstream`].
#[derive(Debug, Clone)]
pub struct Limits {
    /// Default timeout of a backend request; a destination's `bizgraph.timeoutSeconds` property
    /// overrides it.
    pub timeout: Duration,
    /// Timeout of a token request.
    pub token_timeout: Duration,
    /// Tokens are dropped this long before they expire.
    pub expiry_margin: Duration,
    /// Most tokens cached.
    pub max_tokens: u64,
    /// Largest backend response accepted.
    pub max_response_bytes: usize,
    /// Issuer of locally built SAML assertions when the destination names none.
    pub saml_issuer: String,
    /// Lifetime of a SAML assertion.
    pub saml_lifetime: Duration,
}

/// A request to a backend, relative to its destination's URL.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The method.
    pub method: reqwest::Method,
    /// Path and query after the destination's URL (`/A_SalesOrder?$top=1`).
    pub path: String,
    /// Headers to send (content negotiation, `If-Match`, ...). Credentials are added by
    /// [`Upstream`]; any `Authorization` given here is dropped.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The body.
    pub body: Bytes,
}

/// A backend's answer.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status.
    pub status: u16,
    /// The headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// Why a backend call failed. Messages name the destination and the cause, never a credential.
#[derive(Debug, Error)]
pub enum CallError {
    /// The destination could not be found.
    #[error(transparent)]
    Resolve(#[from] ResolveError),
    /// The destination needs a user and the call has none.
    #[error("destination '{destination}' ({authentication}) needs an identified user")]
    UserRequired {
        /// The destination.
        destination: String,
        /// Its authentication type.
        authentication: &'static str,
    },
    /// The destination needs the caller's JWT and the caller has none (development users).
    #[error(
        "destination '{destination}' ({authentication}) needs the caller's JWT; development users have none"
    )]
    JwtRequired {
        /// The destination.
        destination: String,
        /// Its authentication type.
        authentication: &'static str,
    },
    /// The user's token lacks the claim the NameID is taken from.
    #[error(
        "destination '{destination}': the user's token has no '{claim}' claim for the SAML NameID (property userIdSource)"
    )]
    MissingClaim {
        /// The destination.
        destination: String,
        /// The claim.
        claim: String,
    },
    /// Something the destination needs is not configured.
    #[error("destination '{destination}': {message}")]
    Setup {
        /// The destination.
        destination: String,
        /// What is missing.
        message: String,
    },
    /// The token could not be obtained.
    #[error("destination '{destination}': cannot obtain a token: {cause}")]
    Token {
        /// The destination.
        destination: String,
        /// The token service's failure.
        cause: String,
    },
    /// The Destination service brokered no usable token.
    #[error(
        "destination '{destination}': the destination service could not provide a token: {cause}"
    )]
    Brokered {
        /// The destination.
        destination: String,
        /// The service's `error` text.
        cause: String,
    },
    /// The connectivity proxy's token could not be obtained.
    #[error("destination '{destination}': cannot obtain the connectivity proxy token: {cause}")]
    ProxyToken {
        /// The destination.
        destination: String,
        /// Why.
        cause: String,
    },
    /// No answer from the backend.
    #[error("destination '{destination}': {method} {url} failed: {cause}")]
    Transport {
        /// The destination.
        destination: String,
        /// The method.
        method: String,
        /// The URL without its query.
        url: String,
        /// Why.
        cause: String,
        /// Whether it timed out.
        timeout: bool,
    },
    /// The proxy refused us.
    #[error("destination '{destination}': the connectivity proxy refused the request (HTTP 407)")]
    ProxyRejected {
        /// The destination.
        destination: String,
    },
    /// The backend refused the credentials, also after a fresh token.
    #[error("destination '{destination}': the backend refused the credentials (HTTP {status}){}", if *.retried { " also after a fresh token" } else { "" })]
    Unauthorized {
        /// The destination.
        destination: String,
        /// The status.
        status: u16,
        /// Whether a fresh token was tried.
        retried: bool,
    },
    /// The answer is larger than allowed.
    #[error("destination '{destination}': response larger than {limit} bytes")]
    TooLarge {
        /// The destination.
        destination: String,
        /// The limit.
        limit: usize,
    },
}

impl CallError {
    /// The HTTP status the gateway answers with when this error ends a request.
    pub fn status(&self) -> u16 {
        match self {
            CallError::Resolve(ResolveError::Unknown(_)) => 404,
            CallError::UserRequired { .. } | CallError::JwtRequired { .. } => 401,
            CallError::Transport { timeout: true, .. } => 504,
            _ => 502,
        }
    }
}

/// What authorizes one call: headers to add and, for cached tokens, what to drop when refused.
struct Grant {
    headers: Vec<(HeaderName, HeaderValue)>,
    evict: Evict,
}

enum Evict {
    /// Nothing fetched, nothing to drop (static credentials).
    Nothing,
    /// A cached token.
    Token(TokenKey),
    /// A brokered destination answer.
    Destination,
}

/// The one client every backend call goes through.
pub struct Upstream {
    direct: reqwest::Client,
    proxied: Option<(reqwest::Client, Connectivity)>,
    destinations: Destinations,
    tokens: Timed<TokenKey>,
    proxy_tokens: Timed<Option<Arc<str>>>,
    saml_key: Option<Arc<SigningKey>>,
    limits: Limits,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("destinations", &self.destinations)
            .field(
                "proxy",
                &self.proxied.as_ref().map(|(_, c)| c.proxy.as_str()),
            )
            .finish_non_exhaustive()
    }
}

fn header(name: &'static str, value: &str) -> Option<(HeaderName, HeaderValue)> {
    let mut value = HeaderValue::from_str(value).ok()?;
    value.set_sensitive(true);
    Some((HeaderName::from_static(name), value))
}

impl Upstream {
    /// Builds the client. `connectivity` is needed for `OnPremise` destinations; `saml_key` for
    /// local `OAuth2SAMLBearerAssertion`.
    pub fn new(
        destinations: Destinations,
        connectivity: Option<Connectivity>,
        saml_key: Option<Arc<SigningKey>>,
        limits: Limits,
    ) -> Result<Self, UpstreamError> {
        let direct = client(limits.timeout)?;
        let proxied = match connectivity {
            Some(connectivity) => {
                // Only plain-HTTP targets go through the proxy: the Cloud Connector terminates
                // the tunnel and speaks to the backend in whatever protocol its mapping says.
                let proxy = reqwest::Proxy::http(connectivity.proxy.as_str())
                    .map_err(UpstreamError::Client)?;
                let _ = rustls::crypto::ring::default_provider().install_default();
                let client = reqwest::Client::builder()
                    .proxy(proxy)
                    .timeout(limits.timeout)
                    .user_agent(concat!("bizgraph/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(UpstreamError::Client)?;
                Some((client, connectivity))
            }
            None => None,
        };
        Ok(Self {
            direct,
            proxied,
            destinations,
            tokens: Timed::new(limits.max_tokens),
            proxy_tokens: Timed::new(1024),
            saml_key,
            limits,
        })
    }

    /// The URL of a destination from a fixed list, without credentials, for reports; `None` for
    /// destinations that only the Destination service knows.
    pub async fn destination_url(&self, name: &str) -> Option<String> {
        let Destinations::Fixed(list) = &self.destinations else {
            return None;
        };
        let mut url = url::Url::parse(list.get(name)?.destination.url.as_str()).ok()?;
        let _ = url.set_username("");
        let _ = url.set_password(None);
        Some(url.to_string())
    }

    /// Sends a request to a destination as a caller. A 401 from the backend drops the token used
    /// and retries once with a fresh one.
    pub async fn send(
        &self,
        destination: &str,
        caller: Option<&Caller>,
        request: &Request,
    ) -> Result<Response, CallError> {
        let mut retried = false;
        loop {
            let found = self.destinations.find(destination, caller).await?;
            let grant = self.authorize(&found, caller).await?;
            let response = self.transmit(&found, caller, &grant, request).await?;
            if response.status != 401 {
                return Ok(response);
            }
            let refreshable = !matches!(grant.evict, Evict::Nothing);
            tracing::debug!(destination, retried, refreshable, "backend answered 401");
            if retried || !refreshable {
                return Err(CallError::Unauthorized {
                    destination: destination.to_owned(),
                    status: response.status,
                    retried,
                });
            }
            match &grant.evict {
                Evict::Token(key) => self.tokens.invalidate(key).await,
                Evict::Destination => self.destinations.forget(destination, caller).await,
                Evict::Nothing => {}
            }
            retried = true;
        }
    }

    async fn authorize(&self, found: &Found, caller: Option<&Caller>) -> Result<Grant, CallError> {
        let destination = &found.destination;
        let name = destination.name.as_str();
        let authentication = &destination.authentication;
        if authentication.is_user_dependent() && caller.is_none() {
            // Without a user there is no key to isolate the token under, so none is fetched.
            return Err(CallError::UserRequired {
                destination: name.to_owned(),
                authentication: authentication.name(),
            });
        }
        let jwt = || {
            caller
                .and_then(|c| c.jwt.clone())
                .ok_or(CallError::JwtRequired {
                    destination: name.to_owned(),
                    authentication: authentication.name(),
                })
        };
        let mut headers = Vec::new();
        if matches!(authentication, Authentication::NoAuthentication)
            && destination.property("forwardAuthToken") == Some("true")
        {
            // BTP's `forwardAuthToken`: the backend trusts the same identity provider, so the
            // caller's own credential goes along unchanged; without a caller there is none.
            let credential =
                caller
                    .and_then(|c| c.credential.as_ref())
                    .ok_or(CallError::UserRequired {
                        destination: name.to_owned(),
                        authentication: "NoAuthentication with forwardAuthToken",
                    })?;
            headers.extend(header("authorization", credential.expose()));
            return Ok(Grant {
                headers,
                evict: Evict::Nothing,
            });
        }
        if let Authentication::PrincipalPropagation = authentication {
            // The Cloud Connector maps the user's token to a backend identity; the backend sees
            // no Authorization header from us.
            headers.extend(header(
                "sap-connectivity-authentication",
                &format!("Bearer {}", jwt()?),
            ));
            return Ok(Grant {
                headers,
                evict: Evict::Nothing,
            });
        }
        if found.brokered {
            return self.brokered(found, headers);
        }
        let key = |personal: bool| TokenKey {
            tenant: caller.and_then(|c| c.tenant.clone()),
            user: if personal {
                caller.map(|c| c.user.clone())
            } else {
                None
            },
            destination: Arc::from(name),
        };
        let token_error = |error: Arc<TokenError>| CallError::Token {
            destination: name.to_owned(),
            cause: error.to_string(),
        };
        let timeout = self.limits.token_timeout;
        let margin = self.limits.expiry_margin;
        let (service, key, grant_type, assertion) = match authentication {
            Authentication::NoAuthentication | Authentication::PrincipalPropagation => {
                return Ok(Grant {
                    headers,
                    evict: Evict::Nothing,
                });
            }
            Authentication::BasicAuthentication { user, password } => {
                let encoded = base64::engine::general_purpose::STANDARD
                    .encode(format!("{user}:{}", password.expose()));
                headers.extend(header("authorization", &format!("Basic {encoded}")));
                return Ok(Grant {
                    headers,
                    evict: Evict::Nothing,
                });
            }
            Authentication::OAuth2ClientCredentials(service) => {
                (service, key(false), oauth::GRANT_CLIENT_CREDENTIALS, None)
            }
            Authentication::OAuth2JWTBearer(service)
            | Authentication::OAuth2UserTokenExchange(service) => {
                (service, key(true), oauth::GRANT_JWT_BEARER, Some(jwt()?))
            }
            Authentication::OAuth2SAMLBearerAssertion(saml, service) => {
                let token = self
                    .saml_token(found, saml, service.as_ref(), caller, key(true))
                    .await?;
                headers.extend(header("authorization", &token.authorization()));
                return Ok(Grant {
                    headers,
                    evict: Evict::Token(key(true)),
                });
            }
        };
        let service = service.as_ref().ok_or_else(|| CallError::Setup {
            destination: name.to_owned(),
            message: "tokenServiceURL is missing".into(),
        })?;
        let client = oauth::Client {
            token_url: &service.url,
            client_id: service.client_id.as_deref(),
            client_secret: service.client_secret.as_ref(),
            headers: &service.headers,
            queries: &service.queries,
        };
        let token = self
            .tokens
            .get_or_fetch(key.clone(), margin, async {
                let mut form = vec![("grant_type", grant_type)];
                if let Some(assertion) = assertion.as_deref() {
                    form.push(("assertion", assertion));
                }
                if let Some(scope) = service.scope.as_deref() {
                    form.push(("scope", scope));
                }
                tracing::debug!(destination = name, grant_type, "requesting token");
                oauth::request_token(&self.direct, &client, &form, timeout).await
            })
            .await
            .map_err(token_error)?;
        headers.extend(header("authorization", &token.authorization()));
        Ok(Grant {
            headers,
            evict: Evict::Token(key),
        })
    }

    fn brokered(
        &self,
        found: &Found,
        mut headers: Vec<(HeaderName, HeaderValue)>,
    ) -> Result<Grant, CallError> {
        let name = &found.destination.name;
        if let Some(error) = found.auth_tokens.iter().find_map(|t| t.error.as_ref()) {
            return Err(CallError::Brokered {
                destination: name.clone(),
                cause: error.clone(),
            });
        }
        for token in &found.auth_tokens {
            let (key, value) = match &token.header {
                Some((key, value)) => (key.clone(), value.expose().to_owned()),
                None => (
                    "Authorization".to_owned(),
                    format!("{} {}", token.kind, token.value.expose()),
                ),
            };
            let (Ok(key), Ok(mut value)) = (
                HeaderName::try_from(key.as_str()),
                HeaderValue::from_str(&value),
            ) else {
                return Err(CallError::Brokered {
                    destination: name.clone(),
                    cause: format!("authTokens header '{key}' is not a valid HTTP header"),
                });
            };
            value.set_sensitive(true);
            headers.push((key, value));
        }
        let evict = if found.auth_tokens.is_empty() {
            Evict::Nothing
        } else {
            Evict::Destination
        };
        Ok(Grant { headers, evict })
    }

    async fn saml_token(
        &self,
        found: &Found,
        saml: &SamlBearer,
        service: Option<&bizgraph_config::TokenService>,
        caller: Option<&Caller>,
        key: TokenKey,
    ) -> Result<Arc<CachedToken>, CallError> {
        let destination = &found.destination;
        let name = destination.name.as_str();
        let setup = |message: &str| CallError::Setup {
            destination: name.to_owned(),
            message: message.to_owned(),
        };
        let service = service.ok_or_else(|| setup("tokenServiceURL is missing"))?;
        let signing_key = self
            .saml_key
            .as_ref()
            .ok_or_else(|| setup("local SAML assertions need saml.signing_key_file and saml.certificate_file in the settings"))?;
        let caller = caller.ok_or_else(|| CallError::UserRequired {
            destination: name.to_owned(),
            authentication: "OAuth2SAMLBearerAssertion",
        })?;
        let name_id_format = saml
            .name_id_format
            .as_deref()
            .unwrap_or("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified");
        // BTP's rule: userIdSource names the claim; without it an e-mail NameID format takes the
        // e-mail address and every other format the user name.
        let claim = match &saml.user_id_source {
            Some(claim) => claim.clone(),
            None if name_id_format.ends_with(":emailAddress") => "email".to_owned(),
            None => "user_name".to_owned(),
        };
        let name_id = caller
            .claim(&claim)
            .or_else(|| (claim == "user_name").then(|| caller.user.to_string()))
            .ok_or_else(|| CallError::MissingClaim {
                destination: name.to_owned(),
                claim: claim.clone(),
            })?;
        let audience = saml.audience.clone().unwrap_or_default();
        let recipient = saml
            .assertion_recipient
            .clone()
            .unwrap_or_else(|| service.url.clone());
        let issuer = saml
            .assertion_issuer
            .clone()
            .unwrap_or_else(|| self.limits.saml_issuer.clone());
        let authn = saml
            .authn_context_class_ref
            .clone()
            .unwrap_or_else(|| "urn:oasis:names:tc:SAML:2.0:ac:classes:PreviousSession".into());
        // For the SAML grant, tokenServiceUser/tokenServicePassword authenticate at the token
        // service and clientKey names the OAuth client the token is for.
        let basic_user = destination
            .property("tokenServiceUser")
            .or(saml.client_key.as_deref())
            .or(service.client_id.as_deref());
        let client = oauth::Client {
            token_url: &service.url,
            client_id: basic_user,
            client_secret: service.client_secret.as_ref(),
            headers: &service.headers,
            queries: &service.queries,
        };
        let timeout = self.limits.token_timeout;
        let lifetime = self.limits.saml_lifetime;
        let margin = self.limits.expiry_margin;
        self.tokens
            .get_or_fetch(key, margin, async {
                // A fresh assertion for every exchange: token services reject a replayed ID.
                let request = AssertionRequest {
                    issuer: &issuer,
                    name_id: &name_id,
                    name_id_format,
                    name_qualifier: saml.name_qualifier.as_deref(),
                    audience: &audience,
                    recipient: &recipient,
                    authn_context_class_ref: &authn,
                    attributes: &[],
                    now: SystemTime::now(),
                    lifetime,
                };
                let assertion = sign_assertion(&request, signing_key).map_err(|error| {
                    TokenError::Malformed {
                        url: service.url.clone(),
                        cause: format!("cannot sign the SAML assertion: {error}"),
                    }
                })?;
                let encoded = assertion.to_base64url();
                let mut form = vec![
                    ("grant_type", oauth::GRANT_SAML2_BEARER),
                    ("assertion", encoded.as_str()),
                ];
                if let Some(client_key) = saml.client_key.as_deref() {
                    form.push(("client_id", client_key));
                }
                if let Some(scope) = service.scope.as_deref() {
                    form.push(("scope", scope));
                }
                tracing::debug!(destination = name, "requesting token with a SAML assertion");
                oauth::request_token(&self.direct, &client, &form, timeout).await
            })
            .await
            .map_err(|error| CallError::Token {
                destination: name.to_owned(),
                cause: error.to_string(),
            })
    }

    async fn proxy_headers(
        &self,
        destination: &bizgraph_config::Destination,
        caller: Option<&Caller>,
        connectivity: &Connectivity,
    ) -> Result<Vec<(HeaderName, HeaderValue)>, CallError> {
        let mut headers = Vec::new();
        match &connectivity.auth {
            ProxyAuth::None => {}
            ProxyAuth::Basic(value) => {
                headers.extend(header("proxy-authorization", value.expose()));
            }
            ProxyAuth::Bearer {
                token_url,
                client_id,
                client_secret,
            } => {
                let client = oauth::Client {
                    token_url,
                    client_id: Some(client_id),
                    client_secret: Some(client_secret),
                    headers: &[],
                    queries: &[],
                };
                let tenant = caller.and_then(|c| c.tenant.clone());
                let token = self
                    .proxy_tokens
                    .get_or_fetch(tenant, self.limits.expiry_margin, async {
                        oauth::request_token(
                            &self.direct,
                            &client,
                            &[("grant_type", oauth::GRANT_CLIENT_CREDENTIALS)],
                            self.limits.token_timeout,
                        )
                        .await
                    })
                    .await
                    .map_err(|error| CallError::ProxyToken {
                        destination: destination.name.clone(),
                        cause: error.to_string(),
                    })?;
                headers.extend(header("proxy-authorization", &token.authorization()));
            }
        }
        if let Some(location) = &destination.cloud_connector_location_id
            && let Ok(value) = HeaderValue::from_str(location)
        {
            headers.push((
                HeaderName::from_static("sap-connectivity-scc-location_id"),
                value,
            ));
        }
        Ok(headers)
    }

    async fn transmit(
        &self,
        found: &Found,
        caller: Option<&Caller>,
        grant: &Grant,
        request: &Request,
    ) -> Result<Response, CallError> {
        let destination = &found.destination;
        let name = destination.name.as_str();
        let mut url =
            join_url(&destination.url, &request.path).map_err(|cause| CallError::Setup {
                destination: name.to_owned(),
                message: cause,
            })?;
        // Most destinations add nothing to the query; only those that do pay for the scan.
        if destination.sap_client.is_some() || !destination.queries.is_empty() {
            let present: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
            let mut extra: Vec<(&str, &str)> = Vec::new();
            if let Some(client) = &destination.sap_client
                && !present.iter().any(|k| k == "sap-client")
            {
                extra.push(("sap-client", client));
            }
            for (key, value) in &destination.queries {
                if !present.iter().any(|k| k == key) {
                    extra.push((key, value));
                }
            }
            if !extra.is_empty() {
                url.query_pairs_mut().extend_pairs(extra);
            }
        }
        let (http, proxy_headers) = match destination.proxy_type {
            ProxyType::Internet => (&self.direct, Vec::new()),
            ProxyType::OnPremise => {
                let (http, connectivity) = self.proxied.as_ref().ok_or_else(|| CallError::Setup {
                    destination: name.to_owned(),
                    message: "ProxyType OnPremise needs a connectivity proxy (settings [connectivity] or a connectivity binding)".into(),
                })?;
                (
                    http,
                    self.proxy_headers(destination, caller, connectivity)
                        .await?,
                )
            }
        };
        let shown_url = {
            let mut shown = url.clone();
            shown.set_query(None);
            shown.to_string()
        };
        let timeout = destination
            .property("bizgraph.timeoutSeconds")
            .and_then(|t| t.parse().ok())
            .map_or(self.limits.timeout, Duration::from_secs);
        let mut builder = http.request(request.method.clone(), url).timeout(timeout);
        for (name, value) in &request.headers {
            if name == reqwest::header::AUTHORIZATION
                || name == reqwest::header::PROXY_AUTHORIZATION
                || name == reqwest::header::HOST
            {
                continue;
            }
            builder = builder.header(name, value);
        }
        for (key, value) in &destination.headers {
            builder = builder.header(key.as_str(), value.as_str());
        }
        for (key, value) in grant.headers.iter().chain(&proxy_headers) {
            builder = builder.header(key, value);
        }
        if !request.body.is_empty() {
            builder = builder.body(request.body.clone());
        }
        let transport = |error: reqwest::Error| CallError::Transport {
            destination: name.to_owned(),
            method: request.method.to_string(),
            url: shown_url.clone(),
            timeout: error.is_timeout(),
            cause: oauth::transport_cause(&error),
        };
        tracing::debug!(destination = name, method = %request.method, url = %shown_url, "upstream request");
        // A safe request that fails before any answer is sent once more: a pooled connection the
        // proxy or backend closed after its last answer (tinyproxy does, without saying so) fails
        // the next request written to it, although the peer never saw that request.
        let safe =
            request.method == reqwest::Method::GET || request.method == reqwest::Method::HEAD;
        let again = if safe { builder.try_clone() } else { None };
        let mut response = match (builder.send().await, again) {
            (Ok(response), _) => response,
            (Err(error), Some(again)) if !error.is_timeout() && !error.is_connect() => {
                tracing::debug!(destination = name, url = %shown_url, cause = %oauth::transport_cause(&error), "upstream request failed before an answer; sending it once more");
                again.send().await.map_err(transport)?
            }
            (Err(error), _) => return Err(transport(error)),
        };
        let status = response.status().as_u16();
        if status == 407 && destination.proxy_type == ProxyType::OnPremise {
            return Err(CallError::ProxyRejected {
                destination: name.to_owned(),
            });
        }
        let headers = std::mem::take(response.headers_mut());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > self.limits.max_response_bytes {
                return Err(CallError::TooLarge {
                    destination: name.to_owned(),
                    limit: self.limits.max_response_bytes,
                });
            }
            body.extend_from_slice(&chunk);
        }
        tracing::debug!(
            destination = name,
            status,
            bytes = body.len(),
            "upstream response"
        );
        Ok(Response {
            status,
            headers,
            body: Bytes::from(body),
        })
    }
}

/// Appends a relative path (with query) to a destination URL, keeping the destination's own path.
fn join_url(base: &str, path: &str) -> Result<url::Url, String> {
    let joined = match (base.ends_with('/'), path.starts_with('/')) {
        (true, true) => format!("{base}{}", &path[1..]),
        (false, false) if !path.is_empty() && !path.starts_with('?') => format!("{base}/{path}"),
        _ => format!("{base}{path}"),
    };
    url::Url::parse(&joined).map_err(|error| format!("'{path}' does not make a valid URL: {error}"))
}
