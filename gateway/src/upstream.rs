//! The upstream HTTP client: how the gateway talks to backends. For now a plain GET of `$metadata`
//! with a timeout and a size limit; destinations, proxies and tokens come with the destinations issue.

use std::time::Duration;

use thiserror::Error;

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
