//! End to end: callers with JWTs reach backends through `/api/<destination>/...`, each
//! authentication type puts the right credentials on the wire, tokens are per user, cached,
//! refreshed and retried as specified, and failures are clear. The SAP-only services are the
//! stand-ins of `bizgraph_tests::standins`; the proxy is Debian's tinyproxy; SAML assertions are
//! verified by Python signxml inside the token endpoint stand-in.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bizgraph_gateway::startup::Environment;
use bizgraph_tests::gateway::{Gateway, write_file};
use bizgraph_tests::idp::Idp;
use bizgraph_tests::keys;
use bizgraph_tests::standins::{
    EchoBackend, GRANT_CLIENT_CREDENTIALS, GRANT_JWT_BEARER, GRANT_SAML2_BEARER, Mode, SamlTrust,
    TokenEndpoint, TokenEndpointConfig, http_client,
};
use bizgraph_tests::tinyproxy::{Tinyproxy, TinyproxyOptions};
use serde_json::{Value, json};

const AUDIENCE: &str = "bizgraph";
const SAML_AUDIENCE: &str = "https://s4.example.com/sap/bc/sec/oauth2/token";

/// Everything one story needs: an identity provider, a token endpoint that trusts our SAML key,
/// an echo backend, tinyproxy, and the gateway wired to them.
struct World {
    idp: Idp,
    tokens: TokenEndpoint,
    backend: EchoBackend,
    open_backend: EchoBackend,
    _proxy: Tinyproxy,
    gateway: Gateway,
    http: reqwest::Client,
}

/// `open` accepts any request; `checked` only tokens the endpoint issued and has not revoked.
fn destinations(open: &str, checked: &str, token_url: &str) -> Value {
    let base = open.trim_end_matches('/');
    let checked = checked.trim_end_matches('/');
    json!([
        {"Name": "NONE", "Type": "HTTP", "URL": format!("{base}/sap/opu/odata/sap/API_NONE"),
         "Authentication": "NoAuthentication", "ProxyType": "Internet", "sap-client": "100",
         "URL.headers.X-Custom": "hello", "URL.queries.saml2": "disabled",
         "WebIDEEnabled": "true"},
        {"Name": "BASIC", "Type": "HTTP", "URL": format!("{base}/basic"),
         "Authentication": "BasicAuthentication", "ProxyType": "Internet",
         "User": "TECH_USER", "Password": "basic-password-1"},
        {"Name": "CC", "Type": "HTTP", "URL": format!("{checked}/cc"),
         "Authentication": "OAuth2ClientCredentials", "ProxyType": "Internet",
         "tokenServiceURL": token_url, "clientId": "cc-client", "clientSecret": "cc-secret-1",
         "scope": "API_READ"},
        {"Name": "JWTB", "Type": "HTTP", "URL": format!("{checked}/jwtb"),
         "Authentication": "OAuth2JWTBearer", "ProxyType": "Internet",
         "tokenServiceURL": token_url, "clientId": "jwt-client", "clientSecret": "jwt-secret-1"},
        {"Name": "UTE", "Type": "HTTP", "URL": format!("{checked}/ute"),
         "Authentication": "OAuth2UserTokenExchange", "ProxyType": "Internet",
         "tokenServiceURL": token_url, "clientId": "jwt-client", "clientSecret": "jwt-secret-1"},
        {"Name": "SAML", "Type": "HTTP", "URL": format!("{checked}/saml"),
         "Authentication": "OAuth2SAMLBearerAssertion", "ProxyType": "Internet",
         "tokenServiceURL": token_url, "tokenServiceUser": "saml-client",
         "tokenServicePassword": "saml-secret-1", "audience": SAML_AUDIENCE,
         "nameIdFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
         "authnContextClassRef": "urn:oasis:names:tc:SAML:2.0:ac:classes:PreviousSession"},
        {"Name": "SAML_EMAIL", "Type": "HTTP", "URL": format!("{checked}/saml-email"),
         "Authentication": "OAuth2SAMLBearerAssertion", "ProxyType": "Internet",
         "tokenServiceURL": token_url, "tokenServiceUser": "saml-client",
         "tokenServicePassword": "saml-secret-1", "audience": SAML_AUDIENCE,
         "nameIdFormat": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"},
        {"Name": "PP", "Type": "HTTP", "URL": format!("{base}/pp"),
         "Authentication": "PrincipalPropagation", "ProxyType": "OnPremise",
         "CloudConnectorLocationId": "LOC1"},
        {"Name": "ONPREM", "Type": "HTTP", "URL": format!("{base}/onprem"),
         "Authentication": "BasicAuthentication", "ProxyType": "OnPremise",
         "User": "ONPREM_USER", "Password": "onprem-password-1"}
    ])
}

/// Everything every test of this binary logs, at TRACE, for the secrets test to search.
static LOGS: std::sync::OnceLock<Arc<std::sync::Mutex<Vec<u8>>>> = std::sync::OnceLock::new();

#[derive(Clone)]
struct Capture(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> Arc<std::sync::Mutex<Vec<u8>>> {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(std::sync::Mutex::new(Vec::new()));
        let writer = Capture(Arc::clone(&buffer));
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        // Another test of this binary may have installed it first; either way all log here.
        let _ = tracing::subscriber::set_global_default(subscriber);
        buffer
    })
    .clone()
}

impl World {
    async fn start(test: &str, margin: u64) -> anyhow::Result<World> {
        capture_logs();
        let dir = keys::scratch_dir(test);
        let idp = Idp::new("https://idp.example.com/oauth/token")?;
        let saml_key = keys::rsa_with_certificate(&dir, "bizgraph-saml")?;
        let tokens = TokenEndpoint::start(
            TokenEndpointConfig::default()
                .client("cc-client", "cc-secret-1")
                .client("jwt-client", "jwt-secret-1")
                .client("saml-client", "saml-secret-1")
                .client("connectivity-client", "connectivity-secret-1")
                .saml(SamlTrust::new(&saml_key.cert_path, SAML_AUDIENCE)),
        )
        .await?;
        let backend = EchoBackend::start_checking(&tokens).await?;
        let open_backend = EchoBackend::start().await?;
        let proxy = Tinyproxy::start(TinyproxyOptions::default())?;
        let token_url = tokens.token_url().to_string();
        let destinations_file = write_file(
            &dir,
            "destinations.json",
            &destinations(
                open_backend.base_url.as_str(),
                backend.base_url.as_str(),
                &token_url,
            )
            .to_string(),
        )?;
        let public_key = write_file(&dir, "idp.pem", idp.rsa_public_pem())?;
        let settings = format!(
            r#"
[destinations]
source = "file"
file = "{destinations_file}"

[connectivity]
proxy = "{proxy}"
token_service_url = "{token_url}"
client_id = "connectivity-client"
client_secret = "connectivity-secret-1"

[tokens]
expiry_margin_seconds = {margin}

[saml]
signing_key_file = "{key}"
certificate_file = "{cert}"
issuer = "bizgraph-test"

[identity]
mode = "jwt"
[identity.jwt]
public_key_file = "{public_key}"
issuer = "{issuer}"
audiences = ["{AUDIENCE}"]
"#,
            proxy = proxy.url(),
            key = saml_key.key_path.display(),
            cert = saml_key.cert_path.display(),
            issuer = idp.issuer(),
        );
        let gateway = Gateway::start(&settings, Environment::default()).await?;
        Ok(World {
            idp,
            tokens,
            backend,
            open_backend,
            _proxy: proxy,
            gateway,
            http: http_client()?,
        })
    }

    fn user_jwt(&self, tenant: &str, user: &str) -> String {
        self.idp.user_token(tenant, user, AUDIENCE, 600)
    }

    /// Calls `/api/<path>` as the holder of `jwt`; returns status and JSON body.
    async fn call(&self, jwt: &str, path: &str) -> anyhow::Result<(u16, Value)> {
        let response = self
            .http
            .get(self.gateway.url(&format!("api/{path}")))
            .bearer_auth(jwt)
            .send()
            .await?;
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, body))
    }
}

/// The backend's echo of a header.
fn echoed<'a>(body: &'a Value, header: &str) -> Option<&'a str> {
    body["headers"][header].as_str()
}

fn bearer(body: &Value) -> String {
    echoed(body, "authorization")
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn each_authentication_type_puts_exactly_the_right_headers() -> anyhow::Result<()> {
    let world = World::start("auth-types", 60).await?;
    let jwt = world.user_jwt("tenant-a", "alice");

    // NoAuthentication: no Authorization, sap-client and URL.* properties applied.
    let (status, body) = world.call(&jwt, "NONE/A_Items?$top=2").await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(echoed(&body, "authorization"), None);
    assert_eq!(echoed(&body, "x-custom"), Some("hello"));
    assert_eq!(body["path"], "/sap/opu/odata/sap/API_NONE/A_Items");
    let query = body["query"].as_str().unwrap_or_default();
    assert!(query.contains("sap-client=100"), "{query}");
    assert!(query.contains("saml2=disabled"), "{query}");
    assert!(
        query.contains("%24top=2") || query.contains("$top=2"),
        "{query}"
    );

    // BasicAuthentication.
    let (status, body) = world.call(&jwt, "BASIC/x").await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        echoed(&body, "authorization"),
        Some("Basic VEVDSF9VU0VSOmJhc2ljLXBhc3N3b3JkLTE=") // TECH_USER:basic-password-1
    );

    // OAuth2ClientCredentials: a technical token, scope sent.
    let (status, body) = world.call(&jwt, "CC/x").await?;
    assert_eq!(status, 200, "{body}");
    let grant = world
        .tokens
        .grant_of(&bearer(&body))
        .expect("token issued by the endpoint");
    assert_eq!(grant.grant_type, GRANT_CLIENT_CREDENTIALS);
    assert_eq!(grant.client_id, "cc-client");
    assert_eq!(grant.subject, None);
    let request = world
        .tokens
        .requests()
        .into_iter()
        .find(|r| r.field("grant_type") == Some(GRANT_CLIENT_CREDENTIALS))
        .expect("a client credentials request");
    assert_eq!(request.field("scope"), Some("API_READ"));

    // OAuth2JWTBearer and OAuth2UserTokenExchange: the user's JWT is exchanged.
    for name in ["JWTB", "UTE"] {
        let (status, body) = world.call(&jwt, &format!("{name}/x")).await?;
        assert_eq!(status, 200, "{name}: {body}");
        let grant = world.tokens.grant_of(&bearer(&body)).expect("token issued");
        assert_eq!(grant.grant_type, GRANT_JWT_BEARER, "{name}");
        assert_eq!(grant.subject.as_deref(), Some("alice"), "{name}");
    }
    let exchanged = world
        .tokens
        .requests()
        .into_iter()
        .filter(|r| r.field("grant_type") == Some(GRANT_JWT_BEARER))
        .collect::<Vec<_>>();
    assert!(
        exchanged
            .iter()
            .all(|r| r.field("assertion") == Some(jwt.as_str()))
    );

    // OAuth2SAMLBearerAssertion (local): the stand-in verified the assertion with signxml.
    let (status, body) = world.call(&jwt, "SAML/x").await?;
    assert_eq!(status, 200, "{body}");
    let grant = world.tokens.grant_of(&bearer(&body)).expect("token issued");
    assert_eq!(grant.grant_type, GRANT_SAML2_BEARER);
    assert_eq!(grant.subject.as_deref(), Some("alice"));
    assert_eq!(grant.client_id, "saml-client");
    // nameIdFormat emailAddress takes the e-mail claim as NameID.
    let (status, body) = world.call(&jwt, "SAML_EMAIL/x").await?;
    assert_eq!(status, 200, "{body}");
    let grant = world.tokens.grant_of(&bearer(&body)).expect("token issued");
    assert_eq!(grant.subject.as_deref(), Some("alice@example.com"));

    // PrincipalPropagation through the proxy: the user's JWT in SAP-Connectivity-Authentication,
    // the location id, and no Authorization header at all.
    let (status, body) = world.call(&jwt, "PP/x").await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(echoed(&body, "authorization"), None);
    assert_eq!(
        echoed(&body, "sap-connectivity-authentication"),
        Some(format!("Bearer {jwt}").as_str())
    );
    assert_eq!(
        echoed(&body, "sap-connectivity-scc-location_id"),
        Some("LOC1")
    );
    // The proxy token came from the connectivity client.
    assert!(world.tokens.issued().iter().any(|(_, grant)| {
        grant.client_id == "connectivity-client" && grant.grant_type == GRANT_CLIENT_CREDENTIALS
    }));
    Ok(())
}

#[tokio::test]
async fn cross_user_tokens_never_mix_under_concurrency() -> anyhow::Result<()> {
    let world = World::start("cross-user", 60).await?;
    // A slow token service makes the 10 requests of each user overlap their token fetch.
    world.tokens.set_delay(Duration::from_millis(300));
    let users: Vec<(String, String)> = (0..20)
        .map(|n| {
            let user = format!("user{n:02}");
            let jwt = world.user_jwt(if n % 2 == 0 { "tenant-a" } else { "tenant-b" }, &user);
            (user, jwt)
        })
        .collect();
    let world = Arc::new(world);
    let mut calls = tokio::task::JoinSet::new();
    for round in 0..10 {
        for (user, jwt) in &users {
            let (world, user, jwt) = (Arc::clone(&world), user.clone(), jwt.clone());
            calls.spawn(async move {
                let (status, body) = world.call(&jwt, &format!("SAML/r{round}")).await?;
                anyhow::Ok((user, status, body))
            });
        }
    }
    let results = calls.join_all().await;
    assert_eq!(results.len(), 200);
    let mut per_user_tokens: BTreeMap<String, HashSet<String>> = BTreeMap::new();
    for result in results {
        let (user, status, body) = result?;
        assert_eq!(status, 200, "{user}: {body}");
        let token = bearer(&body);
        let grant = world
            .tokens
            .grant_of(&token)
            .expect("token issued by the endpoint");
        assert_eq!(
            grant.subject.as_deref(),
            Some(user.as_str()),
            "another user's token"
        );
        per_user_tokens.entry(user).or_default().insert(token);
    }
    assert_eq!(per_user_tokens.len(), 20);
    assert!(per_user_tokens.values().all(|tokens| tokens.len() == 1));
    assert_eq!(world.tokens.request_count_of_grant(GRANT_SAML2_BEARER), 20);
    assert_eq!(world.backend.count(), 200);
    Ok(())
}

#[tokio::test]
async fn interleaved_users_on_one_connection_keep_their_own_tokens() -> anyhow::Result<()> {
    let world = World::start("interleaved", 60).await?;
    // One keep-alive connection to the gateway, users alternating on it; the gateway's upstream
    // pool is shared as well.
    let http = bizgraph_tests::standins::http_client_builder()?
        .pool_max_idle_per_host(1)
        .build()?;
    let alice = world.user_jwt("tenant-a", "alice");
    let bob = world.user_jwt("tenant-a", "bob");
    for round in 0..20 {
        for (user, jwt) in [("alice", &alice), ("bob", &bob)] {
            let destination = if round % 2 == 0 { "SAML" } else { "JWTB" };
            let body: Value = http
                .get(world.gateway.url(&format!("api/{destination}/x{round}")))
                .bearer_auth(jwt)
                .send()
                .await?
                .json()
                .await?;
            let grant = world.tokens.grant_of(&bearer(&body)).expect("token issued");
            assert_eq!(grant.subject.as_deref(), Some(user), "round {round}");
        }
    }
    // Two users, two destinations: four token requests in all.
    assert_eq!(world.tokens.request_count(), 4);
    Ok(())
}

#[tokio::test]
async fn same_user_in_two_tenants_gets_two_tokens() -> anyhow::Result<()> {
    let world = World::start("tenants", 60).await?;
    let (_, in_a) = world
        .call(&world.user_jwt("tenant-a", "carol"), "JWTB/x")
        .await?;
    let (_, in_b) = world
        .call(&world.user_jwt("tenant-b", "carol"), "JWTB/x")
        .await?;
    assert_ne!(bearer(&in_a), bearer(&in_b));
    assert_eq!(world.tokens.request_count(), 2);
    Ok(())
}

#[tokio::test]
async fn expired_tokens_are_refreshed_before_use() -> anyhow::Result<()> {
    // Tokens live 62 s and the margin is 60 s: each is handed out for about 2 s.
    let world = World::start("expiry", 60).await?;
    world.tokens.set_expires_in(62);
    let jwt = world.user_jwt("tenant-a", "dave");
    let (_, first) = world.call(&jwt, "JWTB/x").await?;
    let (_, second) = world.call(&jwt, "JWTB/x").await?;
    assert_eq!(bearer(&first), bearer(&second), "a fresh token is reused");
    assert_eq!(world.tokens.request_count(), 1);
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (_, third) = world.call(&jwt, "JWTB/x").await?;
    assert_ne!(
        bearer(&first),
        bearer(&third),
        "a token inside the margin is replaced"
    );
    assert_eq!(world.tokens.request_count(), 2);
    // The token used is still valid at the endpoint, so the backend accepted it.
    assert!(
        world
            .tokens
            .grant_of(&bearer(&third))
            .is_some_and(|g| g.is_active())
    );
    Ok(())
}

#[tokio::test]
async fn backend_401_evicts_the_token_and_retries_once() -> anyhow::Result<()> {
    let world = World::start("retry", 60).await?;
    let jwt = world.user_jwt("tenant-a", "erin");
    let (status, first) = world.call(&jwt, "SAML/x").await?;
    assert_eq!(status, 200);
    // The backend stops trusting the token (revoked at the identity provider).
    assert!(world.tokens.revoke(&bearer(&first)));
    let before = world.backend.count();
    let (status, second) = world.call(&jwt, "SAML/x").await?;
    assert_eq!(status, 200, "{second}");
    assert_ne!(bearer(&first), bearer(&second));
    assert_eq!(
        world.backend.count() - before,
        2,
        "one refused call, one retry"
    );
    assert_eq!(world.tokens.request_count_of_grant(GRANT_SAML2_BEARER), 2);

    // A backend that refuses everything: one retry, then a clear error.
    world.backend.set_always_unauthorized(true);
    let before = world.backend.count();
    let (status, body) = world.call(&jwt, "SAML/x").await?;
    assert_eq!(status, 502, "{body}");
    assert_eq!(world.backend.count() - before, 2);
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("'SAML'"), "{message}");
    assert!(message.contains("also after a fresh token"), "{message}");
    assert_eq!(body["error"]["code"], "BACKEND_UNAUTHORIZED");
    Ok(())
}

#[tokio::test]
async fn token_service_failures_are_clear_and_contained() -> anyhow::Result<()> {
    let world = World::start("token-down", 60).await?;
    let jwt = world.user_jwt("tenant-a", "frank");
    world.tokens.set_mode(Mode::Down);
    let (status, body) = world.call(&jwt, "CC/x").await?;
    assert_eq!(status, 502, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("destination 'CC'"), "{message}");
    assert!(message.contains("HTTP 503"), "{message}");
    assert_eq!(body["error"]["code"], "TOKEN_UNAVAILABLE");
    assert!(
        body["error"]["trace_id"]
            .as_str()
            .is_some_and(|id| id.len() == 32)
    );

    world.tokens.set_mode(Mode::Garbage);
    let (status, body) = world.call(&jwt, "JWTB/x").await?;
    assert_eq!(status, 502, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("destination 'JWTB'"), "{message}");
    assert!(message.contains("no usable token"), "{message}");

    // Destinations that need no token still work meanwhile.
    let (status, _) = world.call(&jwt, "NONE/x").await?;
    assert_eq!(status, 200);
    let (status, _) = world.call(&jwt, "BASIC/x").await?;
    assert_eq!(status, 200);

    // Failures are not cached: once the service is back, the next call succeeds.
    world.tokens.set_mode(Mode::Normal);
    let (status, _) = world.call(&jwt, "CC/x").await?;
    assert_eq!(status, 200);
    Ok(())
}

#[tokio::test]
async fn callers_without_a_valid_token_get_401() -> anyhow::Result<()> {
    let world = World::start("inbound", 60).await?;
    let response = world
        .http
        .get(world.gateway.url("api/NONE/x"))
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 401);
    assert!(
        response
            .headers()
            .get("www-authenticate")
            .is_some_and(|v| v.to_str().unwrap_or_default().starts_with("Bearer"))
    );
    let body: Value = response.json().await?;
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("missing Authorization header")),
        "{body}"
    );
    // Expired, wrong audience, and forged tokens.
    let expired = world.idp.user_token("tenant-a", "gina", AUDIENCE, -120);
    let (status, body) = world.call(&expired, "NONE/x").await?;
    assert_eq!(status, 401);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("expired")),
        "{body}"
    );
    let foreign = world
        .idp
        .user_token("tenant-a", "gina", "someone-else", 600);
    let (status, _) = world.call(&foreign, "NONE/x").await?;
    assert_eq!(status, 401);
    let other_idp = Idp::new(world.idp.issuer())?;
    let forged = other_idp.user_token("tenant-a", "gina", AUDIENCE, 600);
    let (status, _) = world.call(&forged, "NONE/x").await?;
    assert_eq!(status, 401);
    assert_eq!(world.open_backend.count(), 0, "nothing reached the backend");
    // Unknown destinations are 404 for an authenticated caller.
    let (status, body) = world
        .call(&world.user_jwt("tenant-a", "gina"), "NOPE/x")
        .await?;
    assert_eq!(status, 404, "{body}");
    Ok(())
}

#[tokio::test]
async fn no_secret_ever_appears_in_logs() -> anyhow::Result<()> {
    let logs = capture_logs();
    let world = World::start("secrets", 60).await?;
    let jwt = world.user_jwt("tenant-a", "harry");
    for destination in [
        "NONE",
        "BASIC",
        "CC",
        "JWTB",
        "UTE",
        "SAML",
        "SAML_EMAIL",
        "PP",
        "ONPREM",
    ] {
        let (status, body) = world.call(&jwt, &format!("{destination}/x")).await?;
        assert_eq!(status, 200, "{destination}: {body}");
    }
    // Failures log too: a refused token, a token service answering garbage, a bad caller token.
    world.backend.set_always_unauthorized(true);
    world.call(&jwt, "SAML/again").await?;
    world.backend.set_always_unauthorized(false);
    world.tokens.set_mode(Mode::Garbage);
    world
        .call(&world.user_jwt("tenant-a", "ivy"), "JWTB/x")
        .await?;
    world.call(&format!("{jwt}x"), "NONE/x").await?;

    let mut secrets: Vec<String> = vec![
        "basic-password-1".into(),
        "cc-secret-1".into(),
        "jwt-secret-1".into(),
        "saml-secret-1".into(),
        "connectivity-secret-1".into(),
        "onprem-password-1".into(),
        // Basic credentials as they travel.
        "VEVDSF9VU0VSOmJhc2ljLXBhc3N3b3JkLTE=".into(),
        jwt.clone(),
    ];
    // The JWT's signature part alone, too.
    secrets.extend(jwt.rsplit('.').next().map(str::to_owned));
    secrets.extend(world.tokens.issued().into_iter().map(|(token, _)| token));
    // SAML assertions as sent to the token endpoint.
    secrets.extend(
        world
            .tokens
            .requests()
            .into_iter()
            .filter_map(|r| r.field("assertion").map(str::to_owned)),
    );
    assert!(secrets.len() > 10, "the run produced tokens and assertions");
    let text = String::from_utf8_lossy(
        &logs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone(),
    )
    .into_owned();
    assert!(text.contains("upstream request"), "logging was captured");
    for secret in &secrets {
        assert!(
            !text.contains(secret.as_str()),
            "a secret leaked into the logs"
        );
    }
    Ok(())
}
