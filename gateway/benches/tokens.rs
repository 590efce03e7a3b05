//! The token cache: the cost of a cached lookup, and the memory one cached token takes with
//! 100,000 users cached.
//!
//! Run with `cargo bench -p bizgraph-gateway --bench tokens`. The memory figure is printed before
//! the timing runs; it is the live heap (counted by a counting global allocator) divided by the
//! number of entries, with realistic sizes: a 36-character tenant id, a user e-mail address, a
//! destination name and a 1,000-character access token (XSUAA JWTs are about that long).

use std::alloc::System;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bizgraph_config::Secret;
use bizgraph_gateway::oauth::Token;
use bizgraph_gateway::tokens::{Timed, TokenKey};
use criterion::{Criterion, criterion_group, criterion_main};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const USERS: usize = 100_000;
const TENANT: &str = "6b1e2c4a-0d7f-4b8e-9c3a-2f5d8e1b7a90";

/// Polls a future that completes without waiting (cache hits do); falls back to a runtime
/// otherwise, so a change in moka cannot make the bench hang.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(future),
    }
}

fn key(user: usize) -> TokenKey {
    TokenKey {
        tenant: Some(Arc::from(TENANT)),
        user: Some(Arc::from(format!("user{user:06}@example.com").as_str())),
        destination: Arc::from("S4_SALES_ORDERS"),
    }
}

fn token(user: usize) -> Token {
    let mut value = format!("eyJ{user:06}");
    value.extend(std::iter::repeat_n('x', 1000 - value.len()));
    Token {
        access_token: Secret::new(value),
        token_type: "bearer".into(),
        expires_in: Duration::from_secs(43_200),
    }
}

fn fill(cache: &Timed<TokenKey>, keys: &[TokenKey]) {
    for (user, key) in keys.iter().enumerate() {
        let fetched = ready(
            cache.get_or_fetch(key.clone(), Duration::from_secs(60), async move {
                Ok::<_, std::convert::Infallible>(token(user))
            }),
        );
        fetched.expect("infallible fetch");
    }
    ready(cache.run_pending_tasks());
}

fn tokens(c: &mut Criterion) {
    // Memory: build the keys outside the measured region (a request builds its key anyway from
    // the caller's already shared tenant and user), then count what the cache holds.
    let keys: Vec<TokenKey> = (0..USERS).map(key).collect();
    let region = Region::new(GLOBAL);
    let cache = Timed::new(200_000);
    fill(&cache, &keys);
    let stats = region.change();
    let live = stats
        .bytes_allocated
        .saturating_sub(stats.bytes_deallocated);
    println!(
        "{USERS} cached tokens: {live} bytes live, {} bytes per entry (including the 1,000-byte token; the key strings were built before counting)",
        live / USERS
    );
    assert_eq!(cache.len(), USERS as u64);

    let mut group = c.benchmark_group("token_cache");
    let mut user = 0usize;
    group.bench_function("cached_lookup_100k_users", |b| {
        b.iter(|| {
            user = (user + 7919) % USERS;
            let found = ready(cache.get(black_box(&keys[user])));
            black_box(found.expect("cached"));
        })
    });
    // The same lookups confined to 1,000 users, whose entries stay in the CPU caches: the
    // difference to the first figure is memory latency over a 145 MB working set.
    group.bench_function("cached_lookup_hot_1k_users", |b| {
        b.iter(|| {
            user = (user + 7919) % 1000;
            let found = ready(cache.get(black_box(&keys[user])));
            black_box(found.expect("cached"));
        })
    });
    group.bench_function("cached_lookup_with_key_build", |b| {
        let tenant: Arc<str> = Arc::from(TENANT);
        let users: Vec<Arc<str>> = keys.iter().filter_map(|k| k.user.clone()).collect();
        b.iter(|| {
            user = (user + 7919) % USERS;
            // What the upstream does per request: build the key from the caller's shared strings.
            let key = TokenKey {
                tenant: Some(Arc::clone(&tenant)),
                user: Some(Arc::clone(&users[user])),
                destination: Arc::from(black_box("S4_SALES_ORDERS")),
            };
            let found = ready(cache.get_or_fetch(key, Duration::from_secs(60), async {
                Err::<Token, _>("not reached: the token is cached")
            }));
            black_box(found.expect("cached").authorization());
        })
    });
    group.finish();
}

criterion_group!(benches, tokens);
criterion_main!(benches);
