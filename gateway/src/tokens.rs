//! The token cache: access tokens by tenant, user and destination, dropped a margin before they
//! expire, fetched once however many requests ask at the same time (single flight).
//!
//! Isolation is in the key: a user-dependent destination's token is stored under the user, and
//! such a token is never looked up without one (see `upstream`). SAML assertions are not cached at
//! all: only the access token obtained with one is, and every fetch builds a fresh assertion.

use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::oauth::Token;

/// Whose token it is: tenant, user (for user-dependent destinations only) and destination.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TokenKey {
    /// The tenant (`zid`); `None` for the provider tenant.
    pub tenant: Option<Arc<str>>,
    /// The user, for user-dependent destinations.
    pub user: Option<Arc<str>>,
    /// The destination's name.
    pub destination: Arc<str>,
}

/// A cached access token.
pub struct CachedToken {
    /// The access token.
    pub secret: Arc<str>,
    /// `token_type` as the token service gave it.
    pub token_type: Arc<str>,
    /// When the token service says it expires.
    pub expires_at: Instant,
    /// When the cache stops handing it out: `expires_at` minus the margin.
    pub refresh_at: Instant,
}

impl std::fmt::Debug for CachedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedToken")
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

impl CachedToken {
    /// The `Authorization` header value: `Bearer <token>`.
    pub fn authorization(&self) -> String {
        format!("Bearer {}", self.secret)
    }
}

struct RefreshAt;

impl<K> moka::Expiry<K, Arc<CachedToken>> for RefreshAt {
    fn expire_after_create(&self, _: &K, token: &Arc<CachedToken>, _: Instant) -> Option<Duration> {
        Some(token.refresh_at.saturating_duration_since(Instant::now()))
    }
}

/// A bounded cache of tokens that expire on their own schedule.
pub struct Timed<K> {
    cache: moka::future::Cache<K, Arc<CachedToken>>,
}

impl<K> std::fmt::Debug for Timed<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timed").finish_non_exhaustive()
    }
}

impl<K> Timed<K>
where
    K: Hash + Eq + Clone + Send + Sync + 'static,
{
    /// A cache holding at most `max_entries` tokens; the least recently used go first.
    pub fn new(max_entries: u64) -> Self {
        Self {
            cache: moka::future::Cache::builder()
                .max_capacity(max_entries)
                .expire_after(RefreshAt)
                .build(),
        }
    }

    /// The cached token, or the one `fetch` obtains. Concurrent callers with the same key wait
    /// for one fetch; a failed fetch is not cached, so the next caller tries again.
    pub async fn get_or_fetch<E, F>(
        &self,
        key: K,
        margin: Duration,
        fetch: F,
    ) -> Result<Arc<CachedToken>, Arc<E>>
    where
        E: Send + Sync + 'static,
        F: Future<Output = Result<Token, E>>,
    {
        self.cache
            .try_get_with(key, async move {
                let started = Instant::now();
                let token = fetch.await?;
                // The lifetime counts from the request, not the answer, so a slow token service
                // cannot make us keep a token past its real expiry.
                let expires_at = started + token.expires_in;
                Ok(Arc::new(CachedToken {
                    secret: Arc::from(token.access_token.expose()),
                    token_type: Arc::from(token.token_type.as_str()),
                    expires_at,
                    refresh_at: expires_at.checked_sub(margin).unwrap_or(started),
                }))
            })
            .await
    }

    /// The cached token, if any.
    pub async fn get(&self, key: &K) -> Option<Arc<CachedToken>> {
        self.cache.get(key).await
    }

    /// Drops a token (the backend refused it).
    pub async fn invalidate(&self, key: &K) {
        self.cache.invalidate(key).await;
    }

    /// Number of tokens held (approximate until pending maintenance ran).
    pub fn len(&self) -> u64 {
        self.cache.entry_count()
    }

    /// Whether no token is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs pending evictions now (for tests and measurements).
    pub async fn run_pending_tasks(&self) {
        self.cache.run_pending_tasks().await;
    }
}
