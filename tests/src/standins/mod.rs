//! Protocol-faithful stand-ins for SAP-only services: the Destination service, an OAuth2 token
//! endpoint (client credentials, JWT bearer, SAML 2.0 bearer) and an echo backend.
//!
//! These services have no open-source implementation, so the stand-ins reproduce their wire
//! protocol from the published documentation. The sources relied on:
//!
//! - SAP BTP Connectivity docs (github.com/SAP-docs/btp-connectivity): "\"Find Destination\"
//!   Response Structure" (`owner`, `destinationConfiguration`, `authTokens` with `type`, `value`,
//!   `http_header`, `expires_in` as a string, `error` with empty `type` and `value` on failure),
//!   "Consuming the Destination Service" (path `/destination-configuration/v1/destinations/{name}`,
//!   response codes 200/401/403/404/500), "Calling the Destination Service REST API" (binding
//!   `clientid`, `clientsecret`, `url` for `{url}/oauth/token`, `uri` for the REST API, plan
//!   `lite`), "Exchanging User JWTs via OAuth2UserTokenExchange Destinations" (the `X-user-token`
//!   header) and "OAuth JWT Bearer Authentication" (`tokenService.addClientCredentialsInBody`
//!   defaults to true).
//! - SAP Cloud SDK for JavaScript API reference (sap.github.io/cloud-sdk): `DestinationAuthToken`
//!   (`error`, `expiresIn` typed as a string, `http_header`, `type`, `value`) and
//!   `ClientCredentialsResponse` (`access_token`, `expires_in` as a number, `scope`, `token_type`).
//! - RFC 6749 (client authentication 2.3.1, token response 5.1, error response 5.2), RFC 7523
//!   (JWT bearer grant) and RFC 7522 (SAML 2.0 bearer grant, base64url `assertion`, audience,
//!   recipient, expiry and replay checks).
//!
//! Every server binds `127.0.0.1:0` on the current tokio runtime, exposes `base_url`, records what
//! it received and stops when dropped.

mod destination;
mod echo;
mod saml;
mod server;
mod token_endpoint;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use ring::rand::{SecureRandom, SystemRandom};

pub use destination::{
    Destination, DestinationCall, DestinationService, DestinationServiceConfig, SamlSigner,
};
pub use echo::{EchoBackend, EchoRequest};
pub use saml::{
    SamlAssertion, VerifiedAssertion, default_verifier, format_instant, parse_instant, sign_xml,
    verify_assertion,
};
pub use server::Server;
pub use token_endpoint::{
    GRANT_CLIENT_CREDENTIALS, GRANT_JWT_BEARER, GRANT_SAML2_BEARER, Mode, SamlTrust, TokenEndpoint,
    TokenEndpointConfig, TokenGrant, TokenRequest,
};

/// A client builder for talking to the stand-ins: no system proxy (so a proxy set in the
/// environment never intercepts loopback traffic) and a 30 second timeout. Tests add an explicit
/// proxy to it when they go through tinyproxy.
pub fn http_client_builder() -> anyhow::Result<reqwest::ClientBuilder> {
    // reqwest is built with `rustls-no-provider` and refuses to build a client before a rustls
    // crypto provider is installed, even for plain http. The gateway's client constructor
    // installs ring's provider process-wide, so calling it once makes every later build work.
    bizgraph_gateway::upstream::client(Duration::from_secs(30))?;
    Ok(reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30)))
}

/// A client from [`http_client_builder`].
pub fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(http_client_builder()?.build()?)
}

/// Locks a mutex, carrying on with the data when another thread panicked while holding it: the
/// recorded state is still the best evidence a failing test can print.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `count` random bytes from the operating system, as lowercase hex.
pub(crate) fn random_hex(count: usize) -> String {
    let mut bytes = vec![0u8; count];
    if SystemRandom::new().fill(&mut bytes).is_err() {
        // The OS generator only fails without any entropy source. Test tokens then need to be
        // unique, not unpredictable, so a process-wide counter mixed with the clock drives a
        // xorshift generator instead.
        static COUNTER: AtomicU64 = AtomicU64::new(1);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.subsec_nanos())
            .unwrap_or(0);
        let mut state = (COUNTER.fetch_add(1, Ordering::Relaxed) << 32) ^ u64::from(nanos) | 1;
        for byte in &mut bytes {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = state.to_le_bytes()[0];
        }
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A random version-4-shaped UUID, as the identifiers in BTP bindings look.
pub(crate) fn random_uuid() -> String {
    let hex = random_hex(16);
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Request headers as lowercase name to value; repeated headers are joined with ", " as HTTP
/// allows for list-valued fields.
pub(crate) fn header_map(headers: &HeaderMap) -> BTreeMap<String, String> {
    let mut map: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        map.entry(name.as_str().to_ascii_lowercase())
            .and_modify(|existing| {
                existing.push_str(", ");
                existing.push_str(&value);
            })
            .or_insert(value);
    }
    map
}

/// The token of an `Authorization: Bearer ...` header, if there is one.
pub(crate) fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// The URL as a string without the trailing slash that `Url` puts after a bare host, the way BTP
/// writes base URLs in bindings.
pub(crate) fn without_trailing_slash(url: &url::Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}
