//! Who is calling: the [`Caller`] every upstream request runs as, and the [`Authenticator`] that
//! derives it from an inbound `Authorization` header (a verified JWT, or HTTP Basic against the
//! settings' users in development mode).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bizgraph_config::Secret;
use bizgraph_config::settings::{Identity as IdentitySettings, IdentityMode};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::jwt::{JwtError, JwtSettings, JwtVerifier};

/// The identified caller.
#[derive(Clone)]
pub struct Caller {
    /// The tenant (identity zone id, `zid`), when known.
    pub tenant: Option<Arc<str>>,
    /// The user (`user_name`, else `email`, else `sub`).
    pub user: Arc<str>,
    /// The e-mail address, when known.
    pub email: Option<Arc<str>>,
    /// The caller's JWT, for token exchange and principal propagation; `None` for development
    /// users, who have none.
    pub jwt: Option<Arc<str>>,
    /// All claims of the JWT (for `userIdSource`).
    pub claims: Arc<Map<String, Value>>,
    /// The caller's own `Authorization` header, for destinations with `forwardAuthToken`.
    pub credential: Option<Secret>,
    /// An administrator (JWT with the admin scope, or a development user marked `admin`),
    /// allowed `POST /admin/refresh`.
    pub admin: bool,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("tenant", &self.tenant)
            .field("user", &self.user)
            .field("admin", &self.admin)
            .field("jwt", &self.jwt.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

impl Caller {
    /// A caller without a JWT (development users, tests).
    pub fn new(tenant: Option<&str>, user: &str, email: Option<&str>) -> Self {
        let mut claims = Map::new();
        claims.insert("user_name".into(), Value::String(user.to_owned()));
        if let Some(email) = email {
            claims.insert("email".into(), Value::String(email.to_owned()));
        }
        if let Some(tenant) = tenant {
            claims.insert("zid".into(), Value::String(tenant.to_owned()));
        }
        Self {
            tenant: tenant.map(Arc::from),
            user: Arc::from(user),
            email: email.map(Arc::from),
            jwt: None,
            claims: Arc::new(claims),
            credential: None,
            admin: false,
        }
    }

    /// A claim as text (strings as they are, numbers and booleans printed).
    pub fn claim(&self, name: &str) -> Option<String> {
        match self.claims.get(name)? {
            Value::String(text) => Some(text.clone()),
            Value::Number(number) => Some(number.to_string()),
            Value::Bool(flag) => Some(flag.to_string()),
            _ => None,
        }
    }
}

impl From<crate::jwt::Identity> for Caller {
    fn from(identity: crate::jwt::Identity) -> Self {
        Self {
            tenant: identity.tenant.map(Arc::from),
            user: Arc::from(identity.user),
            email: identity.email.map(Arc::from),
            credential: Some(Secret::new(format!("Bearer {}", identity.token))),
            jwt: Some(identity.token),
            claims: Arc::new(identity.claims),
            admin: false,
        }
    }
}

/// True when the token's `scope` claim grants `wanted`: a scope equal to it, or ending in `.`
/// and it, since XSUAA prefixes each scope with its application's name (`app!t42.admin`). The
/// claim is an array of strings (XSUAA) or one space-separated string (RFC 8693 section 4.2).
pub fn has_scope(claims: &Map<String, Value>, wanted: &str) -> bool {
    if wanted.is_empty() {
        return false;
    }
    let suffix = format!(".{wanted}");
    let grants = |scope: &str| scope == wanted || scope.ends_with(&suffix);
    match claims.get("scope") {
        Some(Value::Array(scopes)) => scopes.iter().filter_map(Value::as_str).any(grants),
        Some(Value::String(scopes)) => scopes.split_ascii_whitespace().any(grants),
        _ => false,
    }
}

/// Why a caller was not accepted. The messages go to the client: they say what is wrong with the
/// credentials but never repeat them.
#[derive(Debug, Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("missing Authorization header: send 'Authorization: Bearer <JWT>'")]
    Missing,
    /// A scheme other than the one configured.
    #[error("unsupported Authorization scheme: expected {expected}")]
    Scheme {
        /// The scheme expected.
        expected: &'static str,
    },
    /// The JWT did not verify.
    #[error("invalid token: {0}")]
    Jwt(#[from] JwtError),
    /// Development mode: unknown user or wrong password.
    #[error("unknown user or wrong password")]
    BadPassword,
}

/// Turns `Authorization` headers into callers.
#[derive(Debug)]
pub enum Authenticator {
    /// Verified JWTs.
    Jwt {
        /// Verifies signature and claims.
        verifier: JwtVerifier,
        /// The scope that makes a caller an administrator.
        admin_scope: String,
    },
    /// DEVELOPMENT ONLY: HTTP Basic against users from the settings.
    Development(HashMap<String, DevelopmentUser>),
}

/// A development user as the authenticator keeps it.
#[derive(Debug, Clone)]
pub struct DevelopmentUser {
    password: Secret,
    caller: Caller,
}

/// Why the authenticator could not be built.
#[derive(Debug, Error)]
pub enum AuthSetupError {
    /// Neither a JWKS URL nor a key file.
    #[error("identity.jwt: set jwks_url or public_key_file")]
    NoKeys,
    /// The key file.
    #[error("identity.jwt.public_key_file {path}: {cause}")]
    KeyFile {
        /// The file.
        path: String,
        /// Why.
        cause: String,
    },
    /// The JWKS URL.
    #[error("identity.jwt.jwks_url '{url}' is not a URL: {cause}")]
    JwksUrl {
        /// The URL.
        url: String,
        /// Why.
        cause: String,
    },
    /// Development mode without users.
    #[error("identity.users: development mode needs at least one user")]
    NoUsers,
}

impl Authenticator {
    /// Builds the authenticator the settings describe.
    pub fn from_settings(
        settings: &IdentitySettings,
        http: reqwest::Client,
    ) -> Result<Self, AuthSetupError> {
        match settings.mode {
            IdentityMode::Jwt => {
                let jwt = &settings.jwt;
                let verify = JwtSettings {
                    issuer: jwt.issuer.clone(),
                    audiences: jwt.audiences.clone(),
                    leeway: Duration::from_secs(jwt.leeway_seconds),
                };
                if let Some(path) = &jwt.public_key_file {
                    let key_file = |cause: String| AuthSetupError::KeyFile {
                        path: path.display().to_string(),
                        cause,
                    };
                    let pem = std::fs::read_to_string(path).map_err(|e| key_file(e.to_string()))?;
                    let verifier =
                        JwtVerifier::from_pem(&pem, verify).map_err(|e| key_file(e.to_string()))?;
                    return Ok(Authenticator::Jwt {
                        verifier,
                        admin_scope: settings.admin_scope.clone(),
                    });
                }
                let Some(url) = &jwt.jwks_url else {
                    return Err(AuthSetupError::NoKeys);
                };
                let url = url::Url::parse(url).map_err(|error| AuthSetupError::JwksUrl {
                    url: url.clone(),
                    cause: error.to_string(),
                })?;
                Ok(Authenticator::Jwt {
                    verifier: JwtVerifier::from_jwks_url(url, http, verify),
                    admin_scope: settings.admin_scope.clone(),
                })
            }
            IdentityMode::Development => {
                if settings.users.is_empty() {
                    return Err(AuthSetupError::NoUsers);
                }
                let users = settings
                    .users
                    .iter()
                    .map(|user| {
                        let email = user
                            .email
                            .clone()
                            .unwrap_or_else(|| format!("{}@example.com", user.name));
                        let mut caller =
                            Caller::new(user.tenant.as_deref(), &user.name, Some(&email));
                        caller.admin = user.admin;
                        let entry = DevelopmentUser {
                            password: user.password.clone(),
                            caller,
                        };
                        (user.name.clone(), entry)
                    })
                    .collect();
                Ok(Authenticator::Development(users))
            }
        }
    }

    /// The `WWW-Authenticate` challenge for 401 answers (RFC 6750 section 3, RFC 7617).
    pub fn challenge(&self) -> &'static str {
        match self {
            Authenticator::Jwt { .. } => "Bearer realm=\"bizgraph\"",
            Authenticator::Development(_) => "Basic realm=\"bizgraph (development users)\"",
        }
    }

    /// Identifies the caller from the `Authorization` header's value.
    pub async fn authenticate(&self, authorization: Option<&str>) -> Result<Caller, AuthError> {
        let authorization = authorization.ok_or(AuthError::Missing)?;
        let (scheme, credentials) = authorization
            .split_once(' ')
            .map(|(scheme, rest)| (scheme, rest.trim()))
            .unwrap_or((authorization, ""));
        match self {
            Authenticator::Jwt {
                verifier,
                admin_scope,
            } => {
                if !scheme.eq_ignore_ascii_case("bearer") {
                    return Err(AuthError::Scheme { expected: "Bearer" });
                }
                let mut caller = Caller::from(verifier.verify(credentials).await?);
                caller.admin = has_scope(&caller.claims, admin_scope);
                Ok(caller)
            }
            Authenticator::Development(users) => {
                if !scheme.eq_ignore_ascii_case("basic") {
                    return Err(AuthError::Scheme { expected: "Basic" });
                }
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(credentials)
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or(AuthError::BadPassword)?;
                let (name, password) = decoded.split_once(':').ok_or(AuthError::BadPassword)?;
                let user = users.get(name).ok_or(AuthError::BadPassword)?;
                if !constant_time_eq(user.password.expose().as_bytes(), password.as_bytes()) {
                    return Err(AuthError::BadPassword);
                }
                let mut caller = user.caller.clone();
                caller.credential = Some(Secret::new(authorization));
                Ok(caller)
            }
        }
    }
}

/// Compares without an early exit, so response time does not leak how much of a password matched.
fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    left.iter()
        .zip(right)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(scope: Value) -> Map<String, Value> {
        let mut claims = Map::new();
        claims.insert("scope".into(), scope);
        claims
    }

    #[test]
    fn admin_scope_matches_exactly_or_behind_the_application_prefix() {
        let check = |scope: Value, wanted: &str| has_scope(&claims(scope), wanted);
        let xsuaa = serde_json::json!(["openid", "bizgraph!t42.bizgraph.admin"]);
        assert!(check(xsuaa.clone(), "bizgraph.admin"));
        assert!(check(xsuaa.clone(), "bizgraph!t42.bizgraph.admin"));
        assert!(check(
            Value::from("openid bizgraph.admin"),
            "bizgraph.admin"
        ));
        // A scope that merely ends in the same letters is another scope.
        assert!(!check(Value::from("notbizgraph.admin"), "bizgraph.admin"));
        assert!(!check(xsuaa, "admin.other"));
        assert!(!check(serde_json::json!(["openid"]), "bizgraph.admin"));
        assert!(!check(Value::from("bizgraph.admin"), ""));
        assert!(!has_scope(&Map::new(), "bizgraph.admin"));
    }
}
