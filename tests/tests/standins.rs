//! Self-tests of the stand-ins: the token endpoint, the Destination service, the echo backend and
//! tinyproxy behave as the real services do on the wire, so the gateway suites can rely on them.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use bizgraph_tests::keys;
use bizgraph_tests::standins::{
    self, Destination, DestinationService, DestinationServiceConfig, EchoBackend,
    GRANT_CLIENT_CREDENTIALS, GRANT_JWT_BEARER, GRANT_SAML2_BEARER, Mode, SamlAssertion,
    SamlSigner, SamlTrust, TokenEndpoint, TokenEndpointConfig,
};
use bizgraph_tests::tinyproxy::{Tinyproxy, TinyproxyOptions};
use reqwest::StatusCode;
use serde_json::Value;

const AUDIENCE: &str = "https://s4.example.com/sap/bc/sec/oauth2/token";

/// A user JWT in XSUAA's shape. The signature is a placeholder: the stand-ins read claims
/// without verifying, as documented on the token endpoint.
fn user_jwt(user: &str, zone: &str, expires_at: i64) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
    let claims = serde_json::json!({
        "user_name": user,
        "sub": format!("id-of-{user}"),
        "zid": zone,
        "exp": expires_at,
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.c2lnbmF0dXJl")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

/// Posts a token request and returns the status and the body as text.
/// A client-credentials access token for a registered client.
async fn client_credentials_token(
    client: &reqwest::Client,
    endpoint: &TokenEndpoint,
    client_id: &str,
    client_secret: &str,
) -> Result<String> {
    let (_, _, body) = post_token(
        client,
        endpoint,
        Some((client_id, client_secret)),
        &[("grant_type", GRANT_CLIENT_CREDENTIALS)],
    )
    .await?;
    Ok(json(&body)?["access_token"]
        .as_str()
        .context("access_token")?
        .to_owned())
}

async fn post_token(
    client: &reqwest::Client,
    endpoint: &TokenEndpoint,
    basic: Option<(&str, &str)>,
    form: &[(&str, &str)],
) -> Result<(StatusCode, reqwest::header::HeaderMap, String)> {
    let mut request = client.post(endpoint.token_url()).form(form);
    if let Some((user, password)) = basic {
        request = request.basic_auth(user, Some(password));
    }
    let response = request.send().await?;
    let status = response.status();
    let headers = response.headers().clone();
    Ok((status, headers, response.text().await?))
}

fn json(text: &str) -> Result<Value> {
    serde_json::from_str(text).with_context(|| format!("not JSON: {text}"))
}

fn text_of<'a>(value: &'a Value, pointer: &str) -> Result<&'a str> {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .with_context(|| format!("{pointer} is not a string in {value}"))
}

#[tokio::test]
async fn client_credentials_with_basic_and_with_form_fields() -> Result<()> {
    let endpoint = TokenEndpoint::start(
        TokenEndpointConfig::default()
            .client("app", "s3cret")
            .client("sb-clone!b1|dest!b62", "p+w/d="),
    )
    .await?;
    let client = standins::http_client()?;

    let (status, headers, body) = post_token(
        &client,
        &endpoint,
        Some(("app", "s3cret")),
        &[("grant_type", GRANT_CLIENT_CREDENTIALS)],
    )
    .await?;
    ensure!(status == StatusCode::OK, "{status}: {body}");
    ensure!(
        headers
            .get("cache-control")
            .is_some_and(|v| v == "no-store")
    );
    let answer = json(&body)?;
    ensure!(text_of(&answer, "/token_type")? == "bearer");
    ensure!(answer["expires_in"].as_u64() == Some(3600), "{answer}");
    let token = text_of(&answer, "/access_token")?;
    let grant = endpoint
        .grant_of(token)
        .context("grant of the issued token")?;
    ensure!(grant.client_id == "app" && grant.grant_type == GRANT_CLIENT_CREDENTIALS);
    ensure!(grant.subject.is_none() && grant.is_active());

    let (status, _, body) = post_token(
        &client,
        &endpoint,
        None,
        &[
            ("grant_type", GRANT_CLIENT_CREDENTIALS),
            ("client_id", "app"),
            ("client_secret", "s3cret"),
            ("scope", "read write"),
        ],
    )
    .await?;
    ensure!(status == StatusCode::OK, "{status}: {body}");
    ensure!(text_of(&json(&body)?, "/scope")? == "read write");

    // A client id with XSUAA's `!` and `|`, and a secret with form-sensitive characters, sent
    // without the form-encoding RFC 6749 asks for, as most clients do.
    let (status, _, body) = post_token(
        &client,
        &endpoint,
        Some(("sb-clone!b1|dest!b62", "p+w/d=")),
        &[("grant_type", GRANT_CLIENT_CREDENTIALS)],
    )
    .await?;
    ensure!(status == StatusCode::OK, "{status}: {body}");

    let requests = endpoint.requests();
    ensure!(requests.len() == 3 && endpoint.request_count() == 3);
    ensure!(requests[0].headers.contains_key("authorization"));
    ensure!(requests[1].field("client_secret") == Some("s3cret"));
    ensure!(requests.iter().all(|request| request.status == Some(200)));
    Ok(())
}

#[tokio::test]
async fn bad_clients_and_bad_requests_are_refused() -> Result<()> {
    let endpoint =
        TokenEndpoint::start(TokenEndpointConfig::default().client("app", "s3cret")).await?;
    let client = standins::http_client()?;
    let grant = [("grant_type", GRANT_CLIENT_CREDENTIALS)];

    for basic in [Some(("app", "wrong")), Some(("nobody", "s3cret")), None] {
        let (status, headers, body) = post_token(&client, &endpoint, basic, &grant).await?;
        ensure!(status == StatusCode::UNAUTHORIZED, "{basic:?}: {status}");
        ensure!(text_of(&json(&body)?, "/error")? == "invalid_client");
        ensure!(headers.get("www-authenticate").is_some());
    }
    let (status, _, body) = post_token(
        &client,
        &endpoint,
        Some(("app", "s3cret")),
        &[("grant_type", "password")],
    )
    .await?;
    ensure!(status == StatusCode::BAD_REQUEST);
    ensure!(text_of(&json(&body)?, "/error")? == "unsupported_grant_type");

    let response = client
        .post(endpoint.token_url())
        .basic_auth("app", Some("s3cret"))
        .json(&serde_json::json!({ "grant_type": GRANT_CLIENT_CREDENTIALS }))
        .send()
        .await?;
    ensure!(response.status() == StatusCode::BAD_REQUEST);
    ensure!(text_of(&response.json::<Value>().await?, "/error")? == "invalid_request");
    ensure!(endpoint.issued().is_empty());
    Ok(())
}

#[tokio::test]
async fn jwt_bearer_takes_the_user_and_zone_from_the_assertion() -> Result<()> {
    let endpoint =
        TokenEndpoint::start(TokenEndpointConfig::default().client("app", "s3cret")).await?;
    let client = standins::http_client()?;
    let jwt = user_jwt("alice", "zone-1", now() + 600);
    let (status, _, body) = post_token(
        &client,
        &endpoint,
        Some(("app", "s3cret")),
        &[("grant_type", GRANT_JWT_BEARER), ("assertion", &jwt)],
    )
    .await?;
    ensure!(status == StatusCode::OK, "{status}: {body}");
    let token = json(&body)?["access_token"]
        .as_str()
        .context("access_token")?
        .to_owned();
    let grant = endpoint.grant_of(&token).context("grant")?;
    ensure!(grant.subject.as_deref() == Some("alice"), "{grant:?}");
    ensure!(grant.tenant.as_deref() == Some("zone-1"));
    ensure!(grant.grant_type == GRANT_JWT_BEARER);

    let expired = user_jwt("alice", "zone-1", now() - 10);
    let (status, _, body) = post_token(
        &client,
        &endpoint,
        Some(("app", "s3cret")),
        &[("grant_type", GRANT_JWT_BEARER), ("assertion", &expired)],
    )
    .await?;
    ensure!(status == StatusCode::BAD_REQUEST);
    ensure!(text_of(&json(&body)?, "/error")? == "invalid_grant");
    // Both requests were for alice, whether or not they succeeded.
    ensure!(endpoint.request_count_for("alice") == 2);
    ensure!(endpoint.request_count_of_grant(GRANT_JWT_BEARER) == 2);
    Ok(())
}

#[tokio::test]
async fn failure_modes_and_lifetime() -> Result<()> {
    let endpoint = TokenEndpoint::start(
        TokenEndpointConfig::default()
            .client("app", "s3cret")
            .expires_in(120),
    )
    .await?;
    let client = standins::http_client()?;
    let basic = Some(("app", "s3cret"));
    let grant = [("grant_type", GRANT_CLIENT_CREDENTIALS)];

    endpoint.set_mode(Mode::Down);
    let (status, _, _) = post_token(&client, &endpoint, basic, &grant).await?;
    ensure!(status == StatusCode::SERVICE_UNAVAILABLE);

    endpoint.set_mode(Mode::Garbage);
    let (status, _, body) = post_token(&client, &endpoint, basic, &grant).await?;
    ensure!(status == StatusCode::OK);
    ensure!(serde_json::from_str::<Value>(&body).is_err(), "{body}");

    endpoint.set_mode(Mode::Error(429, r#"{"error":"slow_down"}"#.to_owned()));
    let (status, _, body) = post_token(&client, &endpoint, basic, &grant).await?;
    ensure!(status == StatusCode::TOO_MANY_REQUESTS && body.contains("slow_down"));
    ensure!(endpoint.issued().is_empty());

    endpoint.set_mode(Mode::Normal);
    let (status, _, body) = post_token(&client, &endpoint, basic, &grant).await?;
    ensure!(status == StatusCode::OK);
    ensure!(json(&body)?["expires_in"].as_u64() == Some(120));
    let statuses: Vec<Option<u16>> = endpoint.requests().iter().map(|r| r.status).collect();
    ensure!(
        statuses == [Some(503), Some(200), Some(429), Some(200)],
        "{statuses:?}"
    );
    Ok(())
}

#[tokio::test]
async fn delay_holds_every_answer_back() -> Result<()> {
    let endpoint =
        TokenEndpoint::start(TokenEndpointConfig::default().client("app", "s3cret")).await?;
    let client = standins::http_client()?;
    let delay = Duration::from_millis(400);
    endpoint.set_delay(delay);
    let started = Instant::now();
    let grant = [("grant_type", GRANT_CLIENT_CREDENTIALS)];
    let (first, second, third) = tokio::join!(
        post_token(&client, &endpoint, Some(("app", "s3cret")), &grant),
        post_token(&client, &endpoint, Some(("app", "s3cret")), &grant),
        post_token(&client, &endpoint, Some(("app", "s3cret")), &grant),
    );
    let elapsed = started.elapsed();
    for result in [first, second, third] {
        ensure!(result?.0 == StatusCode::OK);
    }
    // Each answer waited for the delay, and the three waited side by side, which is what lets
    // a test observe concurrent callers overlapping.
    ensure!(elapsed >= delay, "{elapsed:?}");
    ensure!(elapsed < delay * 3, "{elapsed:?}");
    ensure!(endpoint.request_count() == 3);
    Ok(())
}

#[tokio::test]
async fn echo_backend_echoes_and_records() -> Result<()> {
    let backend = EchoBackend::start().await?;
    let client = standins::http_client()?;
    let url = backend
        .base_url
        .join("sap/opu/odata/sap/API_X/Items?$top=2&$skip=1")?;
    let response = client
        .post(url)
        .header("SAP-Connectivity-SCC-Location_ID", "loc-1")
        .header("X-Custom", "one")
        .body("payload")
        .send()
        .await?;
    ensure!(response.status() == StatusCode::OK);
    let echo: Value = response.json().await?;
    ensure!(text_of(&echo, "/method")? == "POST");
    ensure!(text_of(&echo, "/path")? == "/sap/opu/odata/sap/API_X/Items");
    ensure!(text_of(&echo, "/query")? == "$top=2&$skip=1");
    ensure!(text_of(&echo, "/headers/sap-connectivity-scc-location_id")? == "loc-1");
    let requests = backend.requests();
    ensure!(backend.count() == 1 && requests[0].body == b"payload");
    ensure!(requests[0].header("X-Custom") == Some("one"));
    Ok(())
}

#[tokio::test]
async fn echo_backend_refuses_unknown_and_revoked_tokens() -> Result<()> {
    let endpoint =
        TokenEndpoint::start(TokenEndpointConfig::default().client("app", "s3cret")).await?;
    let backend = EchoBackend::start_checking(&endpoint).await?;
    let client = standins::http_client()?;
    let token = client_credentials_token(&client, &endpoint, "app", "s3cret").await?;
    let url = backend.base_url.join("data")?;
    let get = |bearer: Option<String>| {
        let mut request = client.get(url.clone());
        if let Some(bearer) = bearer {
            request = request.bearer_auth(bearer);
        }
        request.send()
    };

    ensure!(get(None).await?.status() == StatusCode::UNAUTHORIZED);
    ensure!(get(Some("made-up".to_owned())).await?.status() == StatusCode::UNAUTHORIZED);
    let accepted = get(Some(token.clone())).await?;
    ensure!(accepted.status() == StatusCode::OK);
    let echo: Value = accepted.json().await?;
    ensure!(text_of(&echo, "/headers/authorization")? == format!("Bearer {token}"));

    ensure!(endpoint.revoke(&token));
    let refused = get(Some(token.clone())).await?;
    ensure!(refused.status() == StatusCode::UNAUTHORIZED);
    ensure!(refused.headers().get("www-authenticate").is_some());

    let fresh = client_credentials_token(&client, &endpoint, "app", "s3cret").await?;
    backend.set_always_unauthorized(true);
    ensure!(get(Some(fresh.clone())).await?.status() == StatusCode::UNAUTHORIZED);
    backend.set_always_unauthorized(false);
    ensure!(get(Some(fresh)).await?.status() == StatusCode::OK);

    let statuses: Vec<u16> = backend.requests().iter().map(|r| r.status).collect();
    ensure!(statuses == [401, 401, 200, 401, 401, 200], "{statuses:?}");
    Ok(())
}

/// Signing material for the SAML tests, made by openssl.
fn saml_keys(name: &str) -> Result<(keys::RsaMaterial, PathBuf)> {
    let dir = std::env::temp_dir().join(format!("bizgraph-standins-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let material = keys::rsa_with_certificate(&dir, name)?;
    Ok((material, dir))
}

fn verifier_present() -> Result<()> {
    let verifier = standins::default_verifier();
    ensure!(
        verifier.exists(),
        "the SAML verifier {} is missing; these tests need it",
        verifier.display()
    );
    Ok(())
}

#[tokio::test]
async fn saml_bearer_grant_verifies_signature_audience_recipient_expiry_and_replay() -> Result<()> {
    verifier_present()?;
    let (idp, dir) = saml_keys("saml-idp")?;
    let (stranger, stranger_dir) = saml_keys("saml-stranger")?;
    let endpoint = TokenEndpoint::start(
        TokenEndpointConfig::default()
            .client("saml-client", "s3cret")
            .saml(SamlTrust::new(&idp.cert_path, AUDIENCE)),
    )
    .await?;
    let client = standins::http_client()?;
    let token_url = endpoint.token_url().to_string();
    let exchange = |xml: String| {
        let encoded = URL_SAFE_NO_PAD.encode(xml);
        let client = client.clone();
        let url = endpoint.token_url();
        async move {
            let response = client
                .post(url)
                .basic_auth("saml-client", Some("s3cret"))
                .form(&[
                    ("grant_type", GRANT_SAML2_BEARER),
                    ("assertion", encoded.as_str()),
                    ("client_id", "saml-client"),
                ])
                .send()
                .await?;
            let status = response.status();
            anyhow::Ok((status, response.json::<Value>().await?))
        }
    };

    let assertion = SamlAssertion::new("idp.example", "alice", AUDIENCE, &token_url);
    let signed = assertion.sign(&idp.key_path, &idp.cert_path)?;
    let (status, body) = exchange(signed.clone()).await?;
    ensure!(status == StatusCode::OK, "{status}: {body}");
    let grant = endpoint
        .grant_of(text_of(&body, "/access_token")?)
        .context("grant")?;
    ensure!(grant.subject.as_deref() == Some("alice") && grant.grant_type == GRANT_SAML2_BEARER);

    let (status, body) = exchange(signed).await?;
    ensure!(status == StatusCode::BAD_REQUEST, "replay: {status}");
    ensure!(text_of(&body, "/error")? == "invalid_grant");

    let mut expired = SamlAssertion::new("idp.example", "bob", AUDIENCE, &token_url);
    expired.not_before = now() - 900;
    expired.not_on_or_after = now() - 300;
    let refused = vec![
        (
            "unsigned",
            SamlAssertion::new("idp.example", "bob", AUDIENCE, &token_url).to_xml(),
        ),
        (
            "another key",
            SamlAssertion::new("idp.example", "bob", AUDIENCE, &token_url)
                .sign(&stranger.key_path, &stranger.cert_path)?,
        ),
        (
            "another audience",
            SamlAssertion::new("idp.example", "bob", "https://elsewhere", &token_url)
                .sign(&idp.key_path, &idp.cert_path)?,
        ),
        (
            "another recipient",
            SamlAssertion::new(
                "idp.example",
                "bob",
                AUDIENCE,
                "https://elsewhere/oauth/token",
            )
            .sign(&idp.key_path, &idp.cert_path)?,
        ),
        ("expired", expired.sign(&idp.key_path, &idp.cert_path)?),
    ];
    for (case, xml) in refused {
        let (status, body) = exchange(xml).await?;
        ensure!(status == StatusCode::BAD_REQUEST, "{case}: {status} {body}");
        ensure!(
            text_of(&body, "/error")? == "invalid_grant",
            "{case}: {body}"
        );
    }
    ensure!(endpoint.issued().len() == 1);
    ensure!(endpoint.request_count_for("bob") == 5);
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(stranger_dir);
    Ok(())
}

/// A destination service with its token endpoint and a service token fetched the way an
/// application does: from `{url}/oauth/token` of the binding, with the binding's client.
async fn destination_setup(
    config: DestinationServiceConfig,
    tokens: TokenEndpointConfig,
) -> Result<(TokenEndpoint, DestinationService, String)> {
    let endpoint = TokenEndpoint::start(tokens.client("backend-client", "backend-secret")).await?;
    let service = DestinationService::start(config, &endpoint).await?;
    let binding = service.binding_credentials();
    let response = standins::http_client()?
        .post(format!("{}/oauth/token", text_of(&binding, "/url")?))
        .basic_auth(
            text_of(&binding, "/clientid")?,
            Some(text_of(&binding, "/clientsecret")?),
        )
        .form(&[("grant_type", GRANT_CLIENT_CREDENTIALS)])
        .send()
        .await?;
    ensure!(response.status() == StatusCode::OK);
    let token = text_of(&response.json::<Value>().await?, "/access_token")?.to_owned();
    Ok((endpoint, service, token))
}

async fn find(
    service: &DestinationService,
    token: Option<&str>,
    name: &str,
    headers: &[(&str, &str)],
) -> Result<(StatusCode, Value)> {
    let client = standins::http_client()?;
    let binding = service.binding_credentials();
    let url = format!(
        "{}/destination-configuration/v1/destinations/{name}",
        text_of(&binding, "/uri")?
    );
    let mut request = client.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (key, value) in headers {
        request = request.header(*key, *value);
    }
    let response = request.send().await?;
    let status = response.status();
    Ok((status, response.json().await?))
}

#[tokio::test]
async fn destination_service_finds_destinations_and_fetches_tokens() -> Result<()> {
    let (endpoint, service, token) = destination_setup(
        DestinationServiceConfig::default(),
        TokenEndpointConfig::default(),
    )
    .await?;
    let token_url = endpoint.token_url().to_string();
    service.add_destination(Destination::new("plain", "https://plain.example"));
    service.add_destination(Destination::basic(
        "basic",
        "https://basic.example",
        "test",
        "pass12345",
    ));
    service.add_destination(Destination::oauth2(
        "OAuth2ClientCredentials",
        "technical",
        "https://cc.example",
        &token_url,
        "backend-client",
        "backend-secret",
    ));
    service.add_destination(
        Destination::oauth2(
            "OAuth2JWTBearer",
            "user",
            "http://onprem.virtual:44300",
            &token_url,
            "backend-client",
            "backend-secret",
        )
        .on_premise(Some("loc-1")),
    );

    let (status, _) = find(&service, None, "plain", &[]).await?;
    ensure!(status == StatusCode::UNAUTHORIZED);
    let (status, _) = find(&service, Some("not-a-token"), "plain", &[]).await?;
    ensure!(status == StatusCode::UNAUTHORIZED);
    let (status, body) = find(&service, Some(&token), "missing", &[]).await?;
    ensure!(status == StatusCode::NOT_FOUND);
    ensure!(body["ErrorMessage"].is_string(), "{body}");

    let (status, plain) = find(&service, Some(&token), "plain", &[]).await?;
    ensure!(status == StatusCode::OK);
    ensure!(text_of(&plain, "/owner/SubaccountId")? == service.config().subaccount_id);
    ensure!(plain["owner"]["InstanceId"].is_null());
    ensure!(text_of(&plain, "/destinationConfiguration/URL")? == "https://plain.example");
    ensure!(plain.get("authTokens").is_none(), "{plain}");

    let (_, basic) = find(&service, Some(&token), "basic", &[]).await?;
    let entry = &basic["authTokens"][0];
    ensure!(text_of(entry, "/type")? == "Basic");
    ensure!(text_of(entry, "/value")? == STANDARD.encode("test:pass12345"));
    ensure!(text_of(entry, "/http_header/key")? == "Authorization");
    ensure!(
        text_of(entry, "/http_header/value")?
            == format!("Basic {}", STANDARD.encode("test:pass12345"))
    );

    let (_, technical) = find(&service, Some(&token), "technical", &[]).await?;
    let entry = &technical["authTokens"][0];
    ensure!(text_of(entry, "/type")? == "bearer", "{entry}");
    ensure!(
        text_of(entry, "/expires_in")? == "3600",
        "expires_in must be a string: {entry}"
    );
    let value = text_of(entry, "/value")?;
    ensure!(text_of(entry, "/http_header/value")? == format!("Bearer {value}"));
    let grant = endpoint
        .grant_of(value)
        .context("grant of the destination token")?;
    ensure!(grant.client_id == "backend-client" && grant.subject.is_none());

    let (_, without_user) = find(&service, Some(&token), "user", &[]).await?;
    let entry = &without_user["authTokens"][0];
    ensure!(
        text_of(entry, "/error")?.contains("X-user-token"),
        "{entry}"
    );
    ensure!(text_of(entry, "/type")?.is_empty() && text_of(entry, "/value")?.is_empty());
    ensure!(entry.get("http_header").is_none());

    let jwt = user_jwt("alice", "zone-1", now() + 600);
    let (_, with_user) = find(
        &service,
        Some(&token),
        "user",
        &[("X-user-token", &jwt), ("X-tenant", "subscriber-1")],
    )
    .await?;
    let entry = &with_user["authTokens"][0];
    let grant = endpoint
        .grant_of(text_of(entry, "/value")?)
        .with_context(|| format!("grant of {entry}"))?;
    ensure!(grant.subject.as_deref() == Some("alice") && grant.grant_type == GRANT_JWT_BEARER);
    ensure!(text_of(&with_user, "/destinationConfiguration/ProxyType")? == "OnPremise");
    ensure!(
        text_of(
            &with_user,
            "/destinationConfiguration/CloudConnectorLocationId"
        )? == "loc-1"
    );

    let calls = service.calls();
    ensure!(service.call_count() == 8 && service.call_count_for("user") == 2);
    let last = calls.last().context("last call")?;
    ensure!(last.user_token.as_deref() == Some(jwt.as_str()));
    ensure!(last.tenant.as_deref() == Some("subscriber-1") && last.status == Some(200));

    // The token endpoint went down: the destination still answers, with the failure reported
    // in the entry, as the real service does.
    endpoint.set_mode(Mode::Down);
    let (status, down) = find(&service, Some(&token), "technical", &[]).await?;
    ensure!(status == StatusCode::OK);
    ensure!(
        text_of(&down, "/authTokens/0/error")?.contains("503"),
        "{down}"
    );
    Ok(())
}

#[tokio::test]
async fn destination_service_runs_the_saml_bearer_flow() -> Result<()> {
    verifier_present()?;
    let (subaccount, dir) = saml_keys("subaccount")?;
    let config = DestinationServiceConfig {
        saml_signer: Some(SamlSigner {
            key_path: subaccount.key_path.clone(),
            cert_path: subaccount.cert_path.clone(),
            issuer: "standin-subaccount".to_owned(),
        }),
        ..DestinationServiceConfig::default()
    };
    let tokens = TokenEndpointConfig::default()
        .client("SAMLUSER", "saml-password")
        .saml(SamlTrust::new(&subaccount.cert_path, AUDIENCE));
    let (endpoint, service, token) = destination_setup(config, tokens).await?;
    service.add_destination(Destination::oauth2_saml_bearer(
        "s4",
        "https://s4.example.com",
        endpoint.token_url().as_str(),
        AUDIENCE,
        "SAMLUSER",
        "SAMLUSER",
        "saml-password",
    ));
    let jwt = user_jwt("alice", "zone-1", now() + 600);
    let (status, body) = find(&service, Some(&token), "s4", &[("X-user-token", &jwt)]).await?;
    ensure!(status == StatusCode::OK);
    let entry = &body["authTokens"][0];
    let grant = endpoint
        .grant_of(text_of(entry, "/value")?)
        .with_context(|| format!("grant of {entry}"))?;
    ensure!(grant.subject.as_deref() == Some("alice") && grant.grant_type == GRANT_SAML2_BEARER);
    ensure!(grant.client_id == "SAMLUSER");
    let _ = std::fs::remove_dir_all(dir);
    Ok(())
}

#[tokio::test]
async fn vcap_services_has_the_btp_shape() -> Result<()> {
    let (endpoint, service, _) = destination_setup(
        DestinationServiceConfig::default(),
        TokenEndpointConfig::default(),
    )
    .await?;
    let vcap = json(&service.vcap_services())?;
    let instance = &vcap["destination"][0];
    ensure!(text_of(instance, "/label")? == "destination");
    ensure!(text_of(instance, "/plan")? == "lite");
    ensure!(instance["tags"] == serde_json::json!(["destination", "conn", "connsvc"]));
    let credentials = &instance["credentials"];
    ensure!(text_of(credentials, "/url")? == endpoint.base_url.as_str().trim_end_matches('/'));
    ensure!(text_of(credentials, "/uri")? == service.base_url.as_str().trim_end_matches('/'));
    for key in [
        "clientid",
        "clientsecret",
        "xsappname",
        "identityzone",
        "tenantid",
    ] {
        ensure!(
            credentials[key].is_string(),
            "{key} missing in {credentials}"
        );
    }
    Ok(())
}

async fn through_proxy(
    proxy: &Tinyproxy,
    credentials: Option<(&str, &str)>,
    url: url::Url,
    headers: &[(&str, &str)],
) -> Result<reqwest::Response> {
    let mut settings = reqwest::Proxy::http(proxy.url())?;
    if let Some((user, password)) = credentials {
        settings = settings.basic_auth(user, password);
    }
    let client = standins::http_client_builder()?.proxy(settings).build()?;
    let mut request = client.get(url);
    for (key, value) in headers {
        request = request.header(*key, *value);
    }
    Ok(request.send().await?)
}

#[tokio::test]
async fn tinyproxy_forwards_custom_headers_and_leaks_proxy_authorization_without_basic_auth()
-> Result<()> {
    let backend = EchoBackend::start().await?;
    let proxy = Tinyproxy::start(TinyproxyOptions::default())?;
    let url = backend
        .base_url
        .join("sap/opu/odata/sap/API_X/$metadata?sap-client=100")?;
    let response = through_proxy(
        &proxy,
        None,
        url,
        &[
            ("SAP-Connectivity-SCC-Location_ID", "loc-1"),
            ("SAP-Connectivity-Authentication", "Bearer user-token"),
            ("Authorization", "Bearer backend-token"),
            ("Proxy-Authorization", "Bearer connectivity-token"),
        ],
    )
    .await?;
    ensure!(response.status() == StatusCode::OK, "{}", proxy.log());
    let requests = backend.requests();
    let seen = requests.first().context("the backend saw nothing")?;
    ensure!(seen.path == "/sap/opu/odata/sap/API_X/$metadata");
    ensure!(seen.query.as_deref() == Some("sap-client=100"));
    ensure!(seen.header("SAP-Connectivity-SCC-Location_ID") == Some("loc-1"));
    ensure!(seen.header("SAP-Connectivity-Authentication") == Some("Bearer user-token"));
    ensure!(seen.header("Authorization") == Some("Bearer backend-token"));
    ensure!(seen.header("Via").is_none());
    // tinyproxy without BasicAuth passes Proxy-Authorization on to the backend.
    ensure!(seen.header("Proxy-Authorization") == Some("Bearer connectivity-token"));
    ensure!(proxy.log().contains("Request"), "{}", proxy.log());
    Ok(())
}

#[tokio::test]
async fn tinyproxy_with_basic_auth_demands_and_strips_proxy_credentials() -> Result<()> {
    let backend = EchoBackend::start().await?;
    let proxy = Tinyproxy::start(TinyproxyOptions::default().basic_auth("alice", "s3cret"))?;
    let url = backend.base_url.join("ping")?;

    let missing = through_proxy(&proxy, None, url.clone(), &[]).await?;
    ensure!(missing.status() == StatusCode::PROXY_AUTHENTICATION_REQUIRED);
    ensure!(missing.headers().get("proxy-authenticate").is_some());

    // tinyproxy answers wrong credentials with 401, not 407.
    let wrong = through_proxy(&proxy, Some(("alice", "nope")), url.clone(), &[]).await?;
    ensure!(wrong.status() == StatusCode::UNAUTHORIZED);
    ensure!(backend.count() == 0);

    let right = through_proxy(
        &proxy,
        Some(("alice", "s3cret")),
        url,
        &[("SAP-Connectivity-SCC-Location_ID", "loc-2")],
    )
    .await?;
    ensure!(right.status() == StatusCode::OK, "{}", proxy.log());
    let requests = backend.requests();
    let seen = requests.first().context("the backend saw nothing")?;
    ensure!(seen.header("Proxy-Authorization").is_none(), "{seen:?}");
    ensure!(seen.header("SAP-Connectivity-SCC-Location_ID") == Some("loc-2"));
    Ok(())
}
