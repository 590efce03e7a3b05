//! Finding destinations: a fixed list (file or `destinations` variable) or the BTP Destination
//! service's "find destination" API called with the caller's token, cached with tenant and user
//! isolation.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bizgraph_config::{ConfigError, Destination, DestinationServiceCredentials, Origin, Secret};
use serde::Deserialize;
use serde_json::Value;
use thiserror::Error;

use crate::identity::Caller;
use crate::oauth::{self, TokenError};
use crate::tokens::{Timed, TokenKey};

/// A token the Destination service obtained on the app's behalf (`authTokens[]`).
#[derive(Clone)]
pub struct AuthToken {
    /// `type` (`Bearer`, `Basic`, ...).
    pub kind: String,
    /// `http_header`: the header to send as is.
    pub header: Option<(String, Secret)>,
    /// `value`.
    pub value: Secret,
    /// `expires_in`.
    pub expires_in: Option<Duration>,
    /// `error`: why the service could not obtain the token.
    pub error: Option<String>,
}

impl std::fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthToken")
            .field("kind", &self.kind)
            .field("expires_in", &self.expires_in)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

/// A destination as found: its definition and, from the Destination service, its tokens.
#[derive(Debug, Clone)]
pub struct Found {
    /// The definition.
    pub destination: Arc<Destination>,
    /// `authTokens[]`; empty for local definitions.
    pub auth_tokens: Vec<AuthToken>,
    /// Whether the tokens were brokered by the Destination service.
    pub brokered: bool,
    /// When the cache stops handing it out: the configured TTL, shortened to the brokered
    /// tokens' lifetime minus the margin. Fixed definitions never expire.
    pub cache_until: Option<Instant>,
}

/// Why a destination could not be found.
#[derive(Debug, Error)]
pub enum ResolveError {
    /// No such destination.
    #[error("destination '{0}' is not defined")]
    Unknown(String),
    /// The service's definition is wrong.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
    /// The Destination service's own token.
    #[error("destination service: cannot get its access token: {0}")]
    ServiceToken(#[source] TokenError),
    /// The Destination service failed.
    #[error("destination service: find destination '{name}' failed: {cause}")]
    Service {
        /// The destination.
        name: String,
        /// Why.
        cause: String,
    },
}

/// Where destinations come from.
#[derive(Debug)]
pub enum Destinations {
    /// A fixed list.
    Fixed(HashMap<String, Arc<Found>>),
    /// The Destination service.
    Service(Box<DestinationService>),
}

impl Destinations {
    /// A fixed list (file or environment).
    pub fn fixed(list: Vec<Destination>) -> Self {
        Destinations::Fixed(
            list.into_iter()
                .map(|destination| {
                    let found = Found {
                        destination: Arc::new(destination),
                        auth_tokens: Vec::new(),
                        brokered: false,
                        cache_until: None,
                    };
                    (found.destination.name.clone(), Arc::new(found))
                })
                .collect(),
        )
    }

    /// Finds a destination for a caller.
    pub async fn find(
        &self,
        name: &str,
        caller: Option<&Caller>,
    ) -> Result<Arc<Found>, ResolveError> {
        match self {
            Destinations::Fixed(list) => list
                .get(name)
                .cloned()
                .ok_or_else(|| ResolveError::Unknown(name.to_owned())),
            Destinations::Service(service) => service.find(name, caller).await,
        }
    }

    /// Forgets what is cached for a caller's destination (after the backend refused its token).
    pub async fn forget(&self, name: &str, caller: Option<&Caller>) {
        if let Destinations::Service(service) = self {
            service.forget(name, caller).await;
        }
    }
}

/// The Destination service client.
pub struct DestinationService {
    credentials: DestinationServiceCredentials,
    http: reqwest::Client,
    /// The service's own client-credentials token, one per tenant.
    service_tokens: Timed<Option<Arc<str>>>,
    /// `{url}/oauth/token` of the binding, computed once.
    token_endpoint: String,
    /// Found destinations by tenant, user (only for user-dependent ones) and name.
    found: moka::future::Cache<TokenKey, Arc<Found>>,
    ttl: Duration,
    margin: Duration,
    timeout: Duration,
}

impl std::fmt::Debug for DestinationService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DestinationService")
            .field("uri", &self.credentials.uri)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct FindResponse {
    #[serde(rename = "destinationConfiguration")]
    destination_configuration: Option<Value>,
    #[serde(rename = "authTokens", default)]
    auth_tokens: Vec<RawAuthToken>,
}

#[derive(Deserialize)]
struct RawAuthToken {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    value: String,
    http_header: Option<RawHeader>,
    expires_in: Option<Value>,
    error: Option<String>,
}

#[derive(Deserialize)]
struct RawHeader {
    key: String,
    value: String,
}

struct FoundExpiry;

impl moka::Expiry<TokenKey, Arc<Found>> for FoundExpiry {
    fn expire_after_create(
        &self,
        _: &TokenKey,
        found: &Arc<Found>,
        _: Instant,
    ) -> Option<Duration> {
        found
            .cache_until
            .map(|until| until.saturating_duration_since(Instant::now()))
    }
}

impl DestinationService {
    /// A client for the service bound with these credentials.
    pub fn new(
        credentials: DestinationServiceCredentials,
        http: reqwest::Client,
        ttl: Duration,
        margin: Duration,
        max_entries: u64,
        timeout: Duration,
    ) -> Self {
        Self {
            token_endpoint: oauth::token_endpoint(&credentials.token_url),
            credentials,
            http,
            service_tokens: Timed::new(64),
            found: moka::future::Cache::builder()
                .max_capacity(max_entries)
                .expire_after(FoundExpiry)
                .build(),
            ttl,
            margin,
            timeout,
        }
    }

    fn keys(name: &str, caller: Option<&Caller>) -> (TokenKey, Option<TokenKey>) {
        let tenant = caller.and_then(|c| c.tenant.clone());
        let shared = TokenKey {
            tenant: tenant.clone(),
            user: None,
            destination: Arc::from(name),
        };
        let personal = caller.map(|caller| TokenKey {
            tenant,
            user: Some(caller.user.clone()),
            destination: Arc::from(name),
        });
        (shared, personal)
    }

    async fn find(&self, name: &str, caller: Option<&Caller>) -> Result<Arc<Found>, ResolveError> {
        let (shared, personal) = Self::keys(name, caller);
        if let Some(found) = self.found.get(&shared).await {
            return Ok(found);
        }
        // User-dependent answers are cached under the user; everything else is also put under the
        // shared key so other users of the tenant reuse it.
        let key = personal.unwrap_or_else(|| shared.clone());
        let found = self
            .found
            .try_get_with(key, self.fetch(name, caller))
            .await
            .map_err(|error| match Arc::try_unwrap(error) {
                Ok(error) => error,
                // Callers that waited on another's fetch share its error; keep "unknown" a 404.
                Err(shared) => match &*shared {
                    ResolveError::Unknown(name) => ResolveError::Unknown(name.clone()),
                    other => ResolveError::Service {
                        name: name.to_owned(),
                        cause: other.to_string(),
                    },
                },
            })?;
        if !found.destination.is_user_dependent() {
            self.found.insert(shared, found.clone()).await;
        }
        Ok(found)
    }

    async fn forget(&self, name: &str, caller: Option<&Caller>) {
        let (shared, personal) = Self::keys(name, caller);
        self.found.invalidate(&shared).await;
        if let Some(personal) = personal {
            self.found.invalidate(&personal).await;
        }
    }

    async fn service_token(&self, tenant: Option<&Arc<str>>) -> Result<Arc<str>, ResolveError> {
        let client = oauth::Client {
            token_url: &self.token_endpoint,
            client_id: Some(&self.credentials.client_id),
            client_secret: Some(&self.credentials.client_secret),
            headers: &[],
            queries: &[],
        };
        let token = self
            .service_tokens
            .get_or_fetch(tenant.cloned(), self.margin, async {
                oauth::request_token(
                    &self.http,
                    &client,
                    &[("grant_type", oauth::GRANT_CLIENT_CREDENTIALS)],
                    self.timeout,
                )
                .await
            })
            .await
            .map_err(|error| match Arc::try_unwrap(error) {
                Ok(error) => ResolveError::ServiceToken(error),
                Err(shared) => ResolveError::Service {
                    name: String::new(),
                    cause: shared.to_string(),
                },
            })?;
        Ok(token.secret.clone())
    }

    async fn fetch(&self, name: &str, caller: Option<&Caller>) -> Result<Arc<Found>, ResolveError> {
        let tenant = caller.and_then(|c| c.tenant.as_ref());
        let fail = |cause: String| ResolveError::Service {
            name: name.to_owned(),
            cause,
        };
        let mut url = url::Url::parse(&self.credentials.uri)
            .map_err(|error| fail(format!("binding uri is not a URL: {error}")))?;
        url.path_segments_mut()
            .map_err(|()| fail("binding uri cannot take a path".into()))?
            .pop_if_empty()
            .extend(["destination-configuration", "v1", "destinations", name]);
        let mut retried = false;
        let response = loop {
            let token = self.service_token(tenant).await?;
            let mut request = self
                .http
                .get(url.clone())
                .timeout(self.timeout)
                .bearer_auth(&*token);
            if let Some(jwt) = caller.and_then(|c| c.jwt.as_ref()) {
                request = request.header("X-user-token", &**jwt);
            }
            if let Some(tenant) = tenant {
                request = request.header("X-tenant", &**tenant);
            }
            let response = request
                .send()
                .await
                .map_err(|error| fail(format!("request failed: {error}")))?;
            if response.status() == reqwest::StatusCode::UNAUTHORIZED && !retried {
                // The service token was revoked or expired early: fetch a new one once.
                self.service_tokens.invalidate(&tenant.cloned()).await;
                retried = true;
                continue;
            }
            break response;
        };
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(ResolveError::Unknown(name.to_owned()));
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| fail(format!("reading the answer failed: {error}")))?;
        if !status.is_success() {
            let text = oauth::truncate(String::from_utf8_lossy(&body).trim());
            return Err(fail(format!("HTTP {}: {text}", status.as_u16())));
        }
        let parsed: FindResponse = serde_json::from_slice(&body).map_err(|error| {
            fail(format!(
                "answer is not a find-destination response: {error}"
            ))
        })?;
        let configuration = parsed
            .destination_configuration
            .ok_or_else(|| fail("answer has no destinationConfiguration".into()))?;
        let destination = Destination::from_json(
            &configuration,
            Origin::Service,
            &format!("destination service ({})", self.credentials.uri),
        )?;
        let auth_tokens: Vec<AuthToken> = parsed
            .auth_tokens
            .into_iter()
            .map(|raw| AuthToken {
                header: raw.http_header.map(|h| (h.key, Secret::new(h.value))),
                expires_in: raw
                    .expires_in
                    .and_then(|value| match value {
                        Value::Number(n) => n.as_u64(),
                        Value::String(s) => s.trim().parse().ok(),
                        _ => None,
                    })
                    .map(Duration::from_secs),
                kind: raw.kind,
                value: Secret::new(raw.value),
                error: raw.error,
            })
            .collect();
        let mut lifetime = self.ttl;
        if let Some(tokens) = auth_tokens.iter().filter_map(|t| t.expires_in).min() {
            lifetime = lifetime.min(tokens.saturating_sub(self.margin));
        }
        // An answer whose tokens failed is not cached: the next call asks again.
        if auth_tokens.iter().any(|t| t.error.is_some()) {
            lifetime = Duration::ZERO;
        }
        Ok(Arc::new(Found {
            destination: Arc::new(destination),
            auth_tokens,
            brokered: true,
            cache_until: Some(Instant::now() + lifetime),
        }))
    }
}
