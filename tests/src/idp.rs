//! A test identity provider: mints RS256/ES256 JWTs and serves their JWKS.
//!
//! It stands in for XSUAA or IAS in suites that need signed bearer tokens:
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! let idp = bizgraph_tests::idp::Idp::new("https://tenant.authentication.example.com")?;
//! let token = idp.user_token("tenant-a", "alice", "bizgraph", 600);
//! let jwks = idp.serve_jwks().await?; // jwks.url is http://127.0.0.1:<port>/token_keys
//! # Ok(())
//! # }
//! ```
//!
//! Keys are made fresh by the real `openssl` command for every [`Idp`], so two providers never
//! share keys, and a token of one is a forgery for a verifier configured with the other.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
    RsaPublicKeyComponents,
};
use serde_json::{Value, json};

use crate::keys;

/// Tells apart the key folders of providers made in one test process.
static NEXT_IDP: AtomicUsize = AtomicUsize::new(0);

/// Seconds since 1970, the unit of `exp`, `nbf` and `iat`.
pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Base64url without padding, the encoding of every JWS part.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// An identity provider with one RSA and one P-256 signing key.
pub struct Idp {
    issuer: String,
    rng: SystemRandom,
    rsa: RsaKeyPair,
    rsa_kid: String,
    rsa_public_pem: String,
    rsa_certificate_pem: String,
    ec: EcdsaKeyPair,
    ec_kid: String,
    ec_public_pem: String,
}

impl fmt::Debug for Idp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Private keys stay out of test output.
        f.debug_struct("Idp")
            .field("issuer", &self.issuer)
            .field("rsa_kid", &self.rsa_kid)
            .field("ec_kid", &self.ec_kid)
            .finish_non_exhaustive()
    }
}

impl Idp {
    /// A provider whose tokens carry `iss` = `issuer`, with fresh keys made by openssl.
    pub fn new(issuer: &str) -> Result<Idp> {
        let number = NEXT_IDP.fetch_add(1, Ordering::Relaxed);
        let dir = keys::scratch_dir(&format!("idp-{number}"));
        let rsa_material = keys::rsa_with_certificate(&dir, "idp-signing")?;
        let ec_material = keys::p256(&dir, "idp-signing")?;
        let rng = SystemRandom::new();
        let rsa = RsaKeyPair::from_pkcs8(&rsa_material.key_pkcs8_der)
            .map_err(|e| anyhow::anyhow!("ring refuses the RSA key: {e}"))?;
        let ec = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &ec_material.key_pkcs8_der,
            &rng,
        )
        .map_err(|e| anyhow::anyhow!("ring refuses the P-256 key: {e}"))?;
        // Best effort: the keys are in memory now, and a leftover folder only costs disk space.
        let _ = std::fs::remove_dir_all(&dir);
        Ok(Idp {
            issuer: issuer.to_owned(),
            rng,
            rsa,
            rsa_kid: format!("idp-{number}-rsa"),
            rsa_public_pem: rsa_material.public_pem,
            rsa_certificate_pem: rsa_material.cert_pem,
            ec,
            ec_kid: format!("idp-{number}-ec"),
            ec_public_pem: ec_material.public_pem,
        })
    }

    /// The issuer put into [`Idp::user_token`] tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The RSA public key as SubjectPublicKeyInfo PEM (`BEGIN PUBLIC KEY`).
    pub fn rsa_public_pem(&self) -> &str {
        &self.rsa_public_pem
    }

    /// The self-signed certificate of the RSA key, PEM (`BEGIN CERTIFICATE`).
    pub fn rsa_certificate_pem(&self) -> &str {
        &self.rsa_certificate_pem
    }

    /// The P-256 public key as SubjectPublicKeyInfo PEM (`BEGIN PUBLIC KEY`).
    pub fn ec_public_pem(&self) -> &str {
        &self.ec_public_pem
    }

    /// The `kid` of the RSA key.
    pub fn rsa_kid(&self) -> &str {
        &self.rsa_kid
    }

    /// The `kid` of the P-256 key.
    pub fn ec_kid(&self) -> &str {
        &self.ec_kid
    }

    /// The JWK of the RSA key, with `kid`, `alg` RS256 and `use` sig.
    pub fn rsa_jwk(&self) -> Value {
        let public = RsaPublicKeyComponents::<Vec<u8>>::from(self.rsa.public());
        json!({
            "kty": "RSA",
            "kid": self.rsa_kid,
            "alg": "RS256",
            "use": "sig",
            "n": b64url(&public.n),
            "e": b64url(&public.e),
        })
    }

    /// The JWK of the P-256 key, with `kid`, `alg` ES256 and `use` sig.
    pub fn ec_jwk(&self) -> Value {
        // The public key is the uncompressed point 0x04 || x || y.
        let point = self.ec.public_key().as_ref();
        let (x, y) = point[1..].split_at(32);
        json!({
            "kty": "EC",
            "crv": "P-256",
            "kid": self.ec_kid,
            "alg": "ES256",
            "use": "sig",
            "x": b64url(x),
            "y": b64url(y),
        })
    }

    /// The JWKS with both keys, as XSUAA's `/token_keys` returns it.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.rsa_jwk(), self.ec_jwk()] })
    }

    /// Serves [`Idp::jwks`] at `GET /token_keys` on 127.0.0.1 until the server is dropped.
    pub async fn serve_jwks(&self) -> Result<JwksServer> {
        JwksServer::start(self.jwks()).await
    }

    /// An RS256 token with header `{alg, kid, typ: JWT}` and the given claims.
    pub fn token(&self, claims: Value) -> String {
        self.token_with_header(
            json!({ "alg": "RS256", "kid": self.rsa_kid, "typ": "JWT" }),
            claims,
        )
    }

    /// An ES256 token with header `{alg, kid, typ: JWT}` and the given claims.
    pub fn token_es256(&self, claims: Value) -> String {
        self.token_with_header(
            json!({ "alg": "ES256", "kid": self.ec_kid, "typ": "JWT" }),
            claims,
        )
    }

    /// A token with any header, for attacks on the verifier. The signature follows the header's
    /// `alg`: RS256 and ES256 sign with this provider's keys, HS256 signs with HMAC keyed by the
    /// RSA public key PEM (the classic algorithm-confusion forgery), and anything else, `none`
    /// included, gets an empty signature.
    pub fn token_with_header(&self, header: Value, claims: Value) -> String {
        let signing_input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let message = signing_input.as_bytes();
        let signature = match header.get("alg").and_then(Value::as_str) {
            Some("RS256") => {
                let mut signature = vec![0; self.rsa.public().modulus_len()];
                self.rsa
                    .sign(&RSA_PKCS1_SHA256, &self.rng, message, &mut signature)
                    .expect("signing with a valid RSA key and a right-sized buffer succeeds");
                signature
            }
            Some("ES256") => self
                .ec
                .sign(&self.rng, message)
                .expect("signing with a valid P-256 key succeeds")
                .as_ref()
                .to_vec(),
            Some("HS256") => {
                let key =
                    ring::hmac::Key::new(ring::hmac::HMAC_SHA256, self.rsa_public_pem.as_bytes());
                ring::hmac::sign(&key, message).as_ref().to_vec()
            }
            _ => Vec::new(),
        };
        format!("{signing_input}.{}", b64url(&signature))
    }

    /// An RS256 token with XSUAA-like claims for `user` of `tenant`: `iss`, `aud` [audience],
    /// `zid` tenant, `user_name` user, `email` user@example.com, `sub`, `iat` now, `exp` now +
    /// `ttl_secs` (negative for an expired token) and an empty `scope`.
    pub fn user_token(&self, tenant: &str, user: &str, audience: &str, ttl_secs: i64) -> String {
        let now = now_secs();
        self.token(json!({
            "iss": self.issuer,
            "aud": [audience],
            "zid": tenant,
            "user_name": user,
            "email": format!("{user}@example.com"),
            "sub": format!("sub-{user}"),
            "iat": now,
            "exp": now + ttl_secs,
            "scope": [],
        }))
    }
}

/// Shared between a [`JwksServer`] and its request handler.
struct Served {
    jwks: Mutex<Value>,
    hits: AtomicUsize,
    down: std::sync::atomic::AtomicBool,
}

/// A JWKS endpoint on 127.0.0.1: `GET /token_keys`. Dropping it stops the server.
pub struct JwksServer {
    /// The JWKS URL, `http://127.0.0.1:<port>/token_keys`.
    pub url: url::Url,
    served: Arc<Served>,
    task: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for JwksServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwksServer")
            .field("url", &self.url.as_str())
            .field("hits", &self.hits())
            .finish_non_exhaustive()
    }
}

async fn token_keys(State(served): State<Arc<Served>>) -> Response {
    served.hits.fetch_add(1, Ordering::SeqCst);
    if served.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "identity provider is down").into_response();
    }
    let jwks = served
        .jwks
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    Json(jwks).into_response()
}

impl JwksServer {
    /// Serves `jwks` on a free port of 127.0.0.1.
    pub async fn start(jwks: Value) -> Result<JwksServer> {
        let served = Arc::new(Served {
            jwks: Mutex::new(jwks),
            hits: AtomicUsize::new(0),
            down: std::sync::atomic::AtomicBool::new(false),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the JWKS server")?;
        let address = listener.local_addr()?;
        let url = url::Url::parse(&format!("http://{address}/token_keys"))?;
        let router = Router::new()
            .route("/token_keys", get(token_keys))
            .with_state(Arc::clone(&served));
        let task = tokio::spawn(async move {
            // The server runs until the task is aborted; an error here ends only this test server.
            let _ = axum::serve(listener, router).await;
        });
        Ok(JwksServer { url, served, task })
    }

    /// How many requests reached `/token_keys` so far, answered or refused.
    pub fn hits(&self) -> usize {
        self.served.hits.load(Ordering::SeqCst)
    }

    /// Replaces the JWKS served from now on, as a key rotation does.
    pub fn set_jwks(&self, jwks: Value) {
        *self
            .served
            .jwks
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = jwks;
    }

    /// While `down`, requests are counted and answered with 503 Service Unavailable.
    pub fn set_down(&self, down: bool) {
        self.served.down.store(down, Ordering::SeqCst);
    }
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
