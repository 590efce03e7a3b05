//! OAuth 2.0 token requests: client credentials (RFC 6749 section 4.4), JWT bearer (RFC 7523)
//! and SAML 2.0 bearer (RFC 7522), as XSUAA and SAP systems' token endpoints expect them.
//!
//! Errors name the token service and the cause but never carry a secret: request bodies are not
//! echoed, and of an error response only the standard `error` and `error_description` fields are
//! kept (RFC 6749 section 5.2).

use std::time::Duration;

use bizgraph_config::Secret;
use serde::Deserialize;
use thiserror::Error;

/// The grant types the gateway uses.
pub const GRANT_CLIENT_CREDENTIALS: &str = "client_credentials";
/// RFC 7523 section 2.1.
pub const GRANT_JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// RFC 7522 section 2.1.
pub const GRANT_SAML2_BEARER: &str = "urn:ietf:params:oauth:grant-type:saml2-bearer";

/// Longest error text kept from a token service's answer.
const MAX_ERROR_TEXT: usize = 200;

/// An access token and its lifetime.
#[derive(Clone)]
pub struct Token {
    /// The token.
    pub access_token: Secret,
    /// `token_type`, usually `bearer`.
    pub token_type: String,
    /// `expires_in`; tokens without one are taken to live for an hour, XSUAA's default.
    pub expires_in: Duration,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// The OAuth client and where it asks.
#[derive(Debug, Clone)]
pub struct Client<'a> {
    /// The token endpoint (the full URL).
    pub token_url: &'a str,
    /// Client id.
    pub client_id: Option<&'a str>,
    /// Client secret; with an id, sent as HTTP Basic (RFC 6749 section 2.3.1).
    pub client_secret: Option<&'a Secret>,
    /// Extra headers (`tokenServiceURL.headers.*`).
    pub headers: &'a [(String, String)],
    /// Extra query parameters (`tokenServiceURL.queries.*`).
    pub queries: &'a [(String, String)],
}

/// Why a token could not be obtained.
#[derive(Debug, Error)]
pub enum TokenError {
    /// No answer (connection refused, timeout, TLS).
    #[error("token service {url} unreachable: {cause}")]
    Unreachable {
        /// The token endpoint.
        url: String,
        /// The transport error.
        cause: String,
    },
    /// An error status.
    #[error("token service {url} answered HTTP {status}{}", describe(.error))]
    Rejected {
        /// The token endpoint.
        url: String,
        /// The status.
        status: u16,
        /// `error` and `error_description`, when the body had them.
        error: Option<String>,
    },
    /// A success status with a body that is no token response.
    #[error("token service {url} answered with no usable token: {cause}")]
    Malformed {
        /// The token endpoint.
        url: String,
        /// What was wrong.
        cause: String,
    },
    /// The configured URL is not usable.
    #[error("token service URL '{url}' is invalid: {cause}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        cause: String,
    },
}

fn describe(error: &Option<String>) -> String {
    error
        .as_ref()
        .map(|text| format!(": {text}"))
        .unwrap_or_default()
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ErrorResponse {
    error: Option<String>,
    error_description: Option<String>,
}

/// The token endpoint below a binding's token service URL: bindings name the service's base, and
/// the endpoint is `/oauth/token` under it (a URL that already ends so is taken as it is).
pub fn token_endpoint(base: &str) -> String {
    let base = base.trim_end_matches('/');
    if base.ends_with("/oauth/token") {
        base.to_owned()
    } else {
        format!("{base}/oauth/token")
    }
}

/// Requests a token with the given grant fields.
pub async fn request_token(
    http: &reqwest::Client,
    client: &Client<'_>,
    form: &[(&str, &str)],
    timeout: Duration,
) -> Result<Token, TokenError> {
    let mut url = url::Url::parse(client.token_url).map_err(|error| TokenError::BadUrl {
        url: client.token_url.to_owned(),
        cause: error.to_string(),
    })?;
    if !client.queries.is_empty() {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in client.queries {
            pairs.append_pair(name, value);
        }
    }
    // Errors report the URL without its query: a query parameter may be a tenant key or similar.
    let shown = {
        let mut shown = url.clone();
        shown.set_query(None);
        shown.to_string()
    };
    let mut fields: Vec<(&str, &str)> = form.to_vec();
    let mut request = http
        .post(url)
        .timeout(timeout)
        .header(reqwest::header::ACCEPT, "application/json");
    match (client.client_id, client.client_secret) {
        (Some(id), Some(secret)) => {
            request = request.basic_auth(id, Some(secret.expose()));
        }
        // A public client (no secret) identifies itself in the body (RFC 6749 section 2.3.1 does
        // not apply without a secret).
        (Some(id), None) => fields.push(("client_id", id)),
        _ => {}
    }
    for (name, value) in client.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    let response = request
        .form(&fields)
        .send()
        .await
        .map_err(|error| TokenError::Unreachable {
            url: shown.clone(),
            cause: transport_cause(&error),
        })?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|error| TokenError::Unreachable {
            url: shown.clone(),
            cause: transport_cause(&error),
        })?;
    if !status.is_success() {
        let error = serde_json::from_slice::<ErrorResponse>(&body)
            .ok()
            .and_then(|parsed| match (parsed.error, parsed.error_description) {
                (Some(error), Some(description)) => Some(format!("{error}: {description}")),
                (Some(error), None) => Some(error),
                (None, Some(description)) => Some(description),
                (None, None) => None,
            })
            .map(|text| truncate(&text));
        return Err(TokenError::Rejected {
            url: shown,
            status: status.as_u16(),
            error,
        });
    }
    let parsed: TokenResponse =
        serde_json::from_slice(&body).map_err(|error| TokenError::Malformed {
            url: shown.clone(),
            cause: format!("body is not a JSON token response ({error})"),
        })?;
    let access_token = parsed
        .access_token
        .filter(|token| !token.is_empty())
        .ok_or_else(|| TokenError::Malformed {
            url: shown.clone(),
            cause: "access_token missing".into(),
        })?;
    // RFC 6749 says a number; some services send a string. Both are taken.
    let expires_in = match parsed.expires_in {
        None => 3600,
        Some(serde_json::Value::Number(number)) => number.as_u64().unwrap_or(0),
        Some(serde_json::Value::String(text)) => {
            text.trim().parse().map_err(|_| TokenError::Malformed {
                url: shown.clone(),
                cause: format!("expires_in '{}' is not a number", truncate(&text)),
            })?
        }
        Some(_) => {
            return Err(TokenError::Malformed {
                url: shown,
                cause: "expires_in is not a number".into(),
            });
        }
    };
    Ok(Token {
        access_token: Secret::new(access_token),
        token_type: parsed.token_type.unwrap_or_else(|| "bearer".into()),
        expires_in: Duration::from_secs(expires_in),
    })
}

/// The transport error's cause chain without the URL, which callers report themselves (a URL's
/// query may hold a key).
pub(crate) fn transport_cause(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

pub(crate) fn truncate(text: &str) -> String {
    if text.len() <= MAX_ERROR_TEXT {
        return text.to_owned();
    }
    let mut end = MAX_ERROR_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}
