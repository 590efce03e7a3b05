//! Inbound identity: the gateway's JWT verifier against tokens of the test identity provider,
//! with keys from PEM and from a served JWKS, and against forged, stale and malformed tokens.

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use bizgraph_gateway::jwt::{JwtError, JwtSettings, JwtVerifier, MAX_TOKEN_BYTES};
use bizgraph_tests::idp::{Idp, JwksServer, b64url, now_secs};
use serde_json::{Value, json};

const ISSUER: &str = "https://acme.authentication.example.com/oauth/token";
const AUDIENCE: &str = "bizgraph";

fn settings() -> JwtSettings {
    JwtSettings {
        issuer: Some(ISSUER.to_owned()),
        audiences: vec![AUDIENCE.to_owned()],
        leeway: Duration::ZERO,
    }
}

fn idp() -> Result<Idp> {
    Idp::new(ISSUER)
}

fn http() -> Result<reqwest::Client> {
    Ok(bizgraph_gateway::upstream::client(Duration::from_secs(5))?)
}

fn jwks_verifier(server: &JwksServer, settings: JwtSettings) -> Result<JwtVerifier> {
    Ok(JwtVerifier::from_jwks_url(
        server.url.clone(),
        http()?,
        settings,
    ))
}

/// Claims that pass [`settings`], with `extra` merged over them.
fn claims(extra: Value) -> Value {
    let now = now_secs();
    let mut claims = json!({
        "iss": ISSUER,
        "aud": [AUDIENCE],
        "sub": "subject-1",
        "iat": now,
        "exp": now + 600,
    });
    if let (Some(base), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
        for (name, value) in extra {
            if value.is_null() {
                base.remove(name);
            } else {
                base.insert(name.clone(), value.clone());
            }
        }
    }
    claims
}

/// The error of a token the verifier must refuse.
async fn refused(verifier: &JwtVerifier, token: &str) -> JwtError {
    match verifier.verify(token).await {
        Ok(identity) => panic!("token was accepted as {identity:?}"),
        Err(error) => error,
    }
}

#[tokio::test]
async fn accepts_rs256_from_pem() -> Result<()> {
    let idp = idp()?;
    let verifier = JwtVerifier::from_pem(idp.rsa_public_pem(), settings())?;
    let token = idp.user_token("tenant-a", "alice", AUDIENCE, 600);
    let identity = verifier.verify(&token).await?;
    assert_eq!(identity.tenant.as_deref(), Some("tenant-a"));
    assert_eq!(identity.user, "alice");
    assert_eq!(identity.email.as_deref(), Some("alice@example.com"));
    assert_eq!(identity.subject, "sub-alice");
    assert_eq!(&*identity.token, token.as_str());
    assert_eq!(identity.claims["zid"], "tenant-a");
    let exp = identity.claims["exp"].as_u64().context("exp is a number")?;
    assert_eq!(
        identity.expires_at,
        std::time::UNIX_EPOCH + Duration::from_secs(exp)
    );
    Ok(())
}

#[tokio::test]
async fn accepts_rs256_from_certificate_pem() -> Result<()> {
    let idp = idp()?;
    let verifier = JwtVerifier::from_pem(idp.rsa_certificate_pem(), settings())?;
    let identity = verifier
        .verify(&idp.user_token("tenant-a", "alice", AUDIENCE, 600))
        .await?;
    assert_eq!(identity.user, "alice");
    Ok(())
}

#[tokio::test]
async fn accepts_es256_from_pem() -> Result<()> {
    let idp = idp()?;
    let verifier = JwtVerifier::from_pem(idp.ec_public_pem(), settings())?;
    let identity = verifier.verify(&idp.token_es256(claims(json!({})))).await?;
    assert_eq!(identity.subject, "subject-1");
    Ok(())
}

#[tokio::test]
async fn accepts_es256_from_jwks() -> Result<()> {
    let idp = idp()?;
    let server = idp.serve_jwks().await?;
    let verifier = jwks_verifier(&server, settings())?;
    assert_eq!(server.hits(), 0, "the JWKS is fetched lazily");
    let identity = verifier.verify(&idp.token_es256(claims(json!({})))).await?;
    assert_eq!(identity.subject, "subject-1");
    // The RSA key comes from the same cached set.
    verifier
        .verify(&idp.user_token("tenant-a", "alice", AUDIENCE, 600))
        .await?;
    verifier.verify(&idp.token_es256(claims(json!({})))).await?;
    assert_eq!(server.hits(), 1, "the key set is cached");
    Ok(())
}

#[tokio::test]
async fn accepts_token_without_kid_from_jwks() -> Result<()> {
    let idp = idp()?;
    let server = idp.serve_jwks().await?;
    let verifier = jwks_verifier(&server, settings())?;
    let token = idp.token_with_header(json!({ "alg": "ES256" }), claims(json!({})));
    verifier.verify(&token).await?;
    Ok(())
}

#[tokio::test]
async fn rejects_expired_token_and_honours_leeway() -> Result<()> {
    let idp = idp()?;
    let token = idp.user_token("tenant-a", "alice", AUDIENCE, -30);
    let strict = JwtVerifier::from_pem(idp.rsa_public_pem(), settings())?;
    let error = refused(&strict, &token).await;
    assert!(matches!(error, JwtError::Expired(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.starts_with("token expired at "), "{message}");
    assert!(message.ends_with('Z'), "an RFC 3339 time: {message}");

    let lenient = JwtVerifier::from_pem(
        idp.rsa_public_pem(),
        JwtSettings {
            leeway: Duration::from_secs(60),
            ..settings()
        },
    )?;
    lenient.verify(&token).await?;
    Ok(())
}

#[tokio::test]
async fn rejects_token_without_exp() -> Result<()> {
    let idp = idp()?;
    let verifier = JwtVerifier::from_pem(idp.rsa_public_pem(), settings())?;
    let error = refused(&verifier, &idp.token(claims(json!({ "exp": null })))).await;
    assert_eq!(error.to_string(), "token has no 'exp' claim");
    let error = refused(&verifier, &idp.token(claims(json!({ "exp": "tomorrow" })))).await;
    assert!(matches!(error, JwtError::Malformed(_)), "{error:?}");
    Ok(())
}

#[tokio::test]
async fn rejects_not_yet_valid() -> Result<()> {
    let idp = idp()?;
    let verifier = JwtVerifier::from_pem(idp.rsa_public_pem(), settings())?;
    let later = now_secs() + 120;
    let error = refused(&verifier, &idp.token(claims(json!({ "nbf": later })))).await;
    assert!(matches!(error, JwtError::NotYetValid(_)), "{error:?}");
    assert!(error.to_string().starts_with("token is not valid before "));

    let error = refused(&verifier, &idp.token(claims(json!({ "iat": later })))).await;
    assert!(matches!(error, JwtError::IssuedInFuture(_)), "{error:?}");

    let lenient = JwtVerifier::from_pem(
        idp.rsa_public_pem(),
        JwtSettings {
            leeway: Duration::from_secs(300),
            ..settings()
        },
    )?;
    lenient
        .verify(&idp.token(claims(json!({ "nbf": later, "iat": later }))))
        .await?;
    Ok(())
}

#[tokio::test]
async fn rejects_wrong_issuer() -> Result<()> {
    let idp = Idp::new("https://evil.example.com")?;
    let verifier = JwtVerifier::from_pem(idp.rsa_public_pem(), settings())?;
    let error = refused(&verifier, &idp.user_token("t", "alice", AUDIENCE, 600)).await;
    assert_eq!(
        error.to_string(),
        "token issuer 'https://evil.example.com' is not the configured issuer"
    );
    let error = refused(&verifier, &idp.token(claims(json!({ "iss": null })))).await;
    assert_eq!(error.to_string(), "token has no 'iss' claim");

    // Without a configured issuer any issuer is fine.
    let any_issuer = JwtVerifier::from_pem(
        idp.rsa_public_pem(),
        JwtSettings {
            issuer: None,
            ..settings()
        },
    )?;
    any_issuer
        .verify(&idp.user_token("t", "alice", AUDIENCE, 600))
        .await?;
    Ok(())
}

#[tokio::test]
async fn rejects_wrong_audience() -> Result<()> {
    let idp = idp()?;
    let verifier = JwtVerifier::from_pem(idp.rsa_public_pem(), settings())?;

    let error = refused(&verifier, &idp.token(claims(json!({ "aud": "other-app" })))).await;
    assert_eq!(
        error.to_string(),
        "token audience ['other-app'] does not include an accepted audience"
    );
    let error = refused(
        &verifier,
        &idp.token(claims(json!({ "aud": ["one", "two"] }))),
    )
    .await;
    assert!(matches!(error, JwtError::Audience(_)), "{error:?}");
    let error = refused(&verifier, &idp.token(claims(json!({ "aud": null })))).await;
    assert_eq!(error.to_string(), "token has no 'aud' claim");

    // Both forms pass when they hold an accepted audience.
    verifier
        .verify(&idp.token(claims(json!({ "aud": AUDIENCE }))))
        .await?;
    verifier
        .verify(&idp.token(claims(json!({ "aud": ["one", AUDIENCE] }))))
        .await?;
    // Several configured audiences: one match is enough.
    let several = JwtVerifier::from_pem(
        idp.rsa_public_pem(),
        JwtSettings {
            audiences: vec!["first".to_owned(), "second".to_owned()],
            ..settings()
        },
    )?;
    several
        .verify(&idp.token(claims(json!({ "aud": ["x", "second"] }))))
        .await?;
    Ok(())
}

#[tokio::test]
async fn rejects_alg_none_and_hs256() -> Result<()> {
    let idp = idp()?;
    let pem = JwtVerifier::from_pem(idp.rsa_public_pem(), settings())?;
    let server = idp.serve_jwks().await?;
    let jwks = jwks_verifier(&server, settings())?;
    for alg in ["none", "HS256", "RS512", "PS256"] {
        let token = idp.token_with_header(
            json!({ "alg": alg, "kid": idp.rsa_kid(), "typ": "JWT" }),
            claims(json!({})),
        );
        for verifier in [&pem, &jwks] {
            let error = refused(verifier, &token).await;
            assert_eq!(
                error.to_string(),
                format!("token algorithm '{alg}' is not accepted; only RS256 and ES256 are")
            );
        }
    }
    assert_eq!(server.hits(), 0, "refused algorithms never reach the JWKS");
    Ok(())
}

#[tokio::test]
async fn rejects_alg_key_mismatch() -> Result<()> {
    let idp = idp()?;
    // An ES256 token for a verifier holding the RSA key.
    let rsa = JwtVerifier::from_pem(idp.rsa_public_pem(), settings())?;
    let error = refused(&rsa, &idp.token_es256(claims(json!({})))).await;
    assert!(
        matches!(error, JwtError::AlgorithmMismatch { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "token algorithm ES256 does not match the verification key, which is an RSA key of 2048 bits"
    );
    // And the other way round.
    let ec = JwtVerifier::from_pem(idp.ec_public_pem(), settings())?;
    let error = refused(&ec, &idp.user_token("t", "alice", AUDIENCE, 600)).await;
    assert!(
        matches!(error, JwtError::AlgorithmMismatch { .. }),
        "{error:?}"
    );

    // In a JWKS, a kid naming the RSA key on an ES256 token.
    let server = idp.serve_jwks().await?;
    let jwks = jwks_verifier(&server, settings())?;
    let token = idp.token_with_header(
        json!({ "alg": "ES256", "kid": idp.rsa_kid() }),
        claims(json!({})),
    );
    let error = refused(&jwks, &token).await;
    assert!(
        matches!(error, JwtError::AlgorithmMismatch { .. }),
        "{error:?}"
    );
    Ok(())
}

#[tokio::test]
async fn rejects_tampered_payload() -> Result<()> {
    let idp = idp()?;
    let verifier = JwtVerifier::from_pem(idp.rsa_public_pem(), settings())?;
    let token = idp.user_token("tenant-a", "alice", AUDIENCE, 600);
    let parts: Vec<&str> = token.split('.').collect();
    let mut forged_claims = claims(json!({ "user_name": "admin", "zid": "tenant-a" }));
    forged_claims["sub"] = json!("sub-alice");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64url(forged_claims.to_string().as_bytes()),
        parts[2]
    );
    let error = refused(&verifier, &forged).await;
    assert!(matches!(error, JwtError::Signature), "{error:?}");
    assert_eq!(error.to_string(), "token signature invalid");

    // A signature of another provider's key fails the same way.
    let stranger = Idp::new(ISSUER)?;
    let error = refused(
        &verifier,
        &stranger.user_token("tenant-a", "alice", AUDIENCE, 600),
    )
    .await;
    assert!(matches!(error, JwtError::Signature), "{error:?}");

    // So does an ES256 signature with one flipped bit.
    let ec = JwtVerifier::from_pem(idp.ec_public_pem(), settings())?;
    let token = idp.token_es256(claims(json!({})));
    let (signed, signature) = token.rsplit_once('.').context("three parts")?;
    let mut bytes = base64_decode(signature)?;
    bytes[10] ^= 1;
    let error = refused(&ec, &format!("{signed}.{}", b64url(&bytes))).await;
    assert!(matches!(error, JwtError::Signature), "{error:?}");
    Ok(())
}

fn base64_decode(part: &str) -> Result<Vec<u8>> {
    use base64::Engine as _;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part)?)
}

#[tokio::test]
async fn rejects_malformed_tokens() -> Result<()> {
    let idp = idp()?;
    let server = idp.serve_jwks().await?;
    let verifier = jwks_verifier(&server, settings())?;
    let good = idp.user_token("tenant-a", "alice", AUDIENCE, 600);
    let parts: Vec<&str> = good.split('.').collect();
    let oversized = format!("{good}{}", "A".repeat(MAX_TOKEN_BYTES));
    let header_not_json = format!("{}.{}.{}", b64url(b"not json"), parts[1], parts[2]);
    let cases: [(&str, &str); 7] = [
        ("", "malformed token: token is empty"),
        (
            "abc",
            "malformed token: expected 3 parts separated by '.', found 1",
        ),
        (
            "a.b.c.d.e",
            "unsupported token: encrypted tokens (JWE) are not supported",
        ),
        (
            &format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
            "malformed token: header is not base64url without padding",
        ),
        (
            &format!("{}.{}.{}==", parts[0], parts[1], parts[2]),
            "malformed token: signature is not base64url without padding",
        ),
        (
            &header_not_json,
            "malformed token: header is not a JSON object",
        ),
        (
            &format!("{}.{}.{}", parts[0], b64url(b"[1,2]"), parts[2]),
            "malformed token: payload is not a JSON object",
        ),
    ];
    for (token, expected) in cases {
        assert_eq!(refused(&verifier, token).await.to_string(), expected);
    }
    let error = refused(&verifier, &oversized).await;
    assert!(
        error.to_string().contains("more than the limit of 16384"),
        "{error}"
    );
    let critical = idp.token_with_header(
        json!({ "alg": "RS256", "kid": idp.rsa_kid(), "crit": ["exp"] }),
        claims(json!({})),
    );
    assert!(matches!(
        refused(&verifier, &critical).await,
        JwtError::Unsupported(_)
    ));
    assert_eq!(server.hits(), 0, "malformed tokens never reach the JWKS");
    Ok(())
}

#[tokio::test]
async fn unknown_kid_refetches_jwks_once() -> Result<()> {
    let idp = idp()?;
    // The provider publishes only its EC key at first.
    let server = JwksServer::start(json!({ "keys": [idp.ec_jwk()] })).await?;
    let verifier = jwks_verifier(&server, settings())?;
    verifier.verify(&idp.token_es256(claims(json!({})))).await?;
    assert_eq!(server.hits(), 1);

    // Then it rotates in the RSA key; the unknown kid makes the verifier fetch again.
    server.set_jwks(idp.jwks());
    verifier
        .verify(&idp.user_token("tenant-a", "alice", AUDIENCE, 600))
        .await?;
    assert_eq!(server.hits(), 2);

    // A flood of made-up kids right after that fetch costs no further requests.
    for n in 0..20 {
        let kid = format!("bogus-{n}");
        let token = idp.token_with_header(json!({ "alg": "RS256", "kid": kid }), claims(json!({})));
        let error = refused(&verifier, &token).await;
        assert_eq!(
            error.to_string(),
            format!("no key with kid '{kid}' in JWKS {}", server.url)
        );
    }
    assert_eq!(server.hits(), 2, "refetches are throttled");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_first_use_fetches_once() -> Result<()> {
    let idp = idp()?;
    let server = idp.serve_jwks().await?;
    let verifier = std::sync::Arc::new(jwks_verifier(&server, settings())?);
    let token = idp.user_token("tenant-a", "alice", AUDIENCE, 600);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let verifier = std::sync::Arc::clone(&verifier);
            let token = token.clone();
            tokio::spawn(async move { verifier.verify(&token).await.map(|_| ()) })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    assert_eq!(server.hits(), 1);
    Ok(())
}

#[tokio::test]
async fn jwks_down_gives_clear_error() -> Result<()> {
    let idp = idp()?;
    let token = idp.user_token("tenant-a", "alice", AUDIENCE, 600);

    // Nobody listens on the port.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?
    };
    let url = url::Url::parse(&format!("http://{closed}/token_keys"))?;
    let verifier = JwtVerifier::from_jwks_url(url.clone(), http()?, settings());
    let error = refused(&verifier, &token).await;
    assert!(error.is_unavailable(), "{error:?}");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("cannot fetch JWKS {url}: ")),
        "{message}"
    );
    assert!(message.to_lowercase().contains("connect"), "{message}");

    // A provider answering 503: the error says so, and retries are throttled.
    let server = idp.serve_jwks().await?;
    server.set_down(true);
    let verifier = jwks_verifier(&server, settings())?;
    for _ in 0..3 {
        let error = refused(&verifier, &token).await;
        assert_eq!(
            error.to_string(),
            format!(
                "cannot fetch JWKS {}: the server answered HTTP 503",
                server.url
            )
        );
    }
    assert_eq!(server.hits(), 1);
    Ok(())
}

#[tokio::test]
async fn cached_keys_survive_an_outage() -> Result<()> {
    let idp = idp()?;
    let server = idp.serve_jwks().await?;
    let verifier = jwks_verifier(&server, settings())?;
    let token = idp.user_token("tenant-a", "alice", AUDIENCE, 600);
    verifier.verify(&token).await?;
    server.set_down(true);
    verifier.verify(&token).await?;
    assert_eq!(server.hits(), 1);
    Ok(())
}

#[tokio::test]
async fn jwks_skips_unusable_keys() -> Result<()> {
    let idp = idp()?;
    let mut encryption_key = idp.rsa_jwk();
    encryption_key["use"] = json!("enc");
    let mut p384 = idp.ec_jwk();
    p384["crv"] = json!("P-384");
    let jwks = json!({ "keys": [
        encryption_key,
        p384,
        { "kty": "oct", "kid": "secret", "k": "c2VjcmV0" },
        { "kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "AAAA" },
        { "kty": "RSA", "kid": "broken", "n": "not base64!", "e": "AQAB" },
        "not an object",
    ]});
    let server = JwksServer::start(jwks).await?;
    let verifier = jwks_verifier(&server, settings())?;
    // The RSA key is only published for encryption, so it must not verify signatures.
    let error = refused(&verifier, &idp.user_token("t", "alice", AUDIENCE, 600)).await;
    assert!(matches!(error, JwtError::UnknownKid { .. }), "{error:?}");
    let error = refused(&verifier, &idp.token_es256(claims(json!({})))).await;
    assert!(matches!(error, JwtError::UnknownKid { .. }), "{error:?}");
    Ok(())
}

#[tokio::test]
async fn picks_user_name_then_email_then_sub() -> Result<()> {
    let idp = idp()?;
    let verifier = JwtVerifier::from_pem(idp.rsa_public_pem(), settings())?;
    let both = claims(json!({ "user_name": "alice", "email": "alice@example.com" }));
    assert_eq!(verifier.verify(&idp.token(both)).await?.user, "alice");

    let email_only = claims(json!({ "email": "bob@example.com" }));
    let identity = verifier.verify(&idp.token(email_only)).await?;
    assert_eq!(identity.user, "bob@example.com");
    assert_eq!(identity.email.as_deref(), Some("bob@example.com"));

    let identity = verifier.verify(&idp.token(claims(json!({})))).await?;
    assert_eq!(identity.user, "subject-1");
    assert_eq!(identity.email, None);

    let error = refused(&verifier, &idp.token(claims(json!({ "sub": null })))).await;
    assert_eq!(error.to_string(), "token has no 'sub' claim");
    Ok(())
}

#[tokio::test]
async fn tenant_from_zid() -> Result<()> {
    let idp = idp()?;
    let verifier = JwtVerifier::from_pem(idp.rsa_public_pem(), settings())?;
    let identity = verifier
        .verify(&idp.token(claims(json!({ "zid": "zone-42" }))))
        .await?;
    assert_eq!(identity.tenant.as_deref(), Some("zone-42"));
    // Other tenant-like claims are not used.
    let identity = verifier
        .verify(&idp.token(claims(json!({ "ext_attr": { "zdn": "acme" } }))))
        .await?;
    assert_eq!(identity.tenant, None);
    Ok(())
}

#[tokio::test]
async fn errors_never_contain_token() -> Result<()> {
    let idp = idp()?;
    let stranger = Idp::new(ISSUER)?;
    let server = idp.serve_jwks().await?;
    let jwks = jwks_verifier(&server, settings())?;
    let pem = JwtVerifier::from_pem(idp.rsa_public_pem(), settings())?;
    let tokens = [
        idp.user_token("t", "alice", AUDIENCE, -600),
        idp.user_token("t", "alice", "other", 600),
        stranger.user_token("t", "alice", AUDIENCE, 600),
        idp.token_es256(claims(json!({ "nbf": now_secs() + 600 }))),
        idp.token_with_header(json!({ "alg": "none" }), claims(json!({}))),
        idp.token_with_header(json!({ "alg": "HS256" }), claims(json!({}))),
        // An unknown kid for the JWKS verifier, an expired token for the PEM one.
        idp.token_with_header(
            json!({ "alg": "RS256", "kid": "nobody" }),
            claims(json!({ "exp": now_secs() - 600 })),
        ),
        format!("{}.", idp.user_token("t", "alice", AUDIENCE, 600)),
    ];
    for token in &tokens {
        for verifier in [&jwks, &pem] {
            let error = refused(verifier, token).await;
            let shown = format!("{error} {error:?}");
            assert!(!shown.contains(token.as_str()), "{shown}");
            for part in token.split('.').filter(|part| part.len() >= 8) {
                assert!(!shown.contains(part), "error shows a token part: {shown}");
            }
        }
    }

    // Nor does an accepted identity print it.
    let token = idp.user_token("t", "alice", AUDIENCE, 600);
    let identity = pem.verify(&token).await?;
    let shown = format!("{identity:?}");
    assert!(shown.contains("<redacted>"), "{shown}");
    let signature = token.rsplit('.').next().context("a signature part")?;
    assert!(!shown.contains(signature), "{shown}");
    Ok(())
}

/// Runs openssl with `input` on standard input and returns its output.
fn openssl(args: &[&str], input: &[u8]) -> Result<String> {
    use std::io::Write as _;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running openssl")?;
    child
        .stdin
        .take()
        .context("openssl standard input")?
        .write_all(input)?;
    let output = child.wait_with_output()?;
    anyhow::ensure!(
        output.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8(output.stdout)?)
}

#[test]
fn from_pem_refuses_unfit_keys() -> Result<()> {
    let small_rsa = openssl(
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:1024",
        ],
        b"",
    )?;
    let small_rsa = openssl(&["pkey", "-pubout"], small_rsa.as_bytes())?;
    let error =
        JwtVerifier::from_pem(&small_rsa, settings()).expect_err("a 1024-bit RSA key is too weak");
    assert_eq!(
        error.to_string(),
        "invalid verification key: RSA key has 1024 bits; 2048 to 8192 are accepted"
    );

    let p384 = openssl(
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
        ],
        b"",
    )?;
    let p384 = openssl(&["pkey", "-pubout"], p384.as_bytes())?;
    let error = JwtVerifier::from_pem(&p384, settings()).expect_err("P-384 is not used by ES256");
    assert!(error.to_string().contains("P-256"), "{error}");

    for garbage in [
        "",
        "-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n",
        "-----BEGIN PUBLIC KEY-----\nMAMCAQA=\n",
        "-----BEGIN PRIVATE KEY-----\nMAMCAQA=\n-----END PRIVATE KEY-----\n",
        "-----BEGIN PUBLIC KEY-----\nMAMCAQA=\n-----END PUBLIC KEY-----\n",
    ] {
        let error = JwtVerifier::from_pem(garbage, settings()).expect_err("garbage is no key");
        assert!(matches!(error, JwtError::Key(_)), "{error:?}");
    }
    Ok(())
}
