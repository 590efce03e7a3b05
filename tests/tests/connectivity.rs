//! End to end through a real HTTP forward proxy (Debian's tinyproxy) standing in for the
//! connectivity proxy: the proxy from the connectivity binding in `VCAP_SERVICES` with a
//! client-credentials bearer token, a proxy that demands credentials (407 without them), and the
//! development identity mode (HTTP Basic users from the settings).

use bizgraph_gateway::startup::Environment;
use bizgraph_tests::gateway::{Gateway, write_file};
use bizgraph_tests::keys;
use bizgraph_tests::standins::{
    EchoBackend, GRANT_CLIENT_CREDENTIALS, TokenEndpoint, TokenEndpointConfig, http_client,
};
use bizgraph_tests::tinyproxy::{Tinyproxy, TinyproxyOptions};
use serde_json::{Value, json};

fn on_premise(backend: &EchoBackend) -> String {
    let base = backend.base_url.as_str().trim_end_matches('/');
    json!([
        {"Name": "ERP", "Type": "HTTP", "URL": format!("{base}/sap/opu/odata/sap/API_BP"),
         "Authentication": "BasicAuthentication", "ProxyType": "OnPremise",
         "CloudConnectorLocationId": "FRANKFURT", "User": "ERP_USER", "Password": "erp-pw",
         "sap-client": "400"},
        {"Name": "PP", "Type": "HTTP", "URL": format!("{base}/pp"),
         "Authentication": "PrincipalPropagation", "ProxyType": "OnPremise"}
    ])
    .to_string()
}

/// Development mode: users and passwords in the settings, HTTP Basic.
fn development_identity() -> &'static str {
    r#"
[identity]
mode = "development"
[[identity.users]]
name = "alice"
password = "alice-pw"
tenant = "dev"
"#
}

async fn get(
    http: &reqwest::Client,
    gateway: &Gateway,
    path: &str,
    user: &str,
    password: &str,
) -> anyhow::Result<(u16, Value)> {
    let response = http
        .get(gateway.url(path))
        .basic_auth(user, Some(password))
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

#[tokio::test]
async fn connectivity_binding_routes_through_the_proxy_with_a_bearer_token() -> anyhow::Result<()> {
    let dir = keys::scratch_dir("connectivity-binding");
    let tokens =
        TokenEndpoint::start(TokenEndpointConfig::default().client("conn-client", "conn-secret"))
            .await?;
    let backend = EchoBackend::start().await?;
    let proxy = Tinyproxy::start(TinyproxyOptions::default())?;
    let vcap = json!({
        "connectivity": [{
            "name": "bizgraph-connectivity", "label": "connectivity", "plan": "connectivity_proxy",
            "credentials": {
                "clientid": "conn-client", "clientsecret": "conn-secret",
                "url": tokens.base_url.as_str().trim_end_matches('/'),
                "token_service_url": tokens.base_url.as_str().trim_end_matches('/'),
                "onpremise_proxy_host": "127.0.0.1",
                "onpremise_proxy_http_port": proxy.port().to_string(),
                "onpremise_proxy_port": proxy.port().to_string()
            }
        }]
    })
    .to_string();
    let file = write_file(&dir, "destinations.json", &on_premise(&backend))?;
    let settings = format!(
        "[destinations]\nfile = \"{file}\"\n{}",
        development_identity()
    );
    let gateway = Gateway::start(
        &settings,
        Environment {
            vcap_services: Some(vcap),
            ..Environment::default()
        },
    )
    .await?;
    let http = http_client()?;
    let (status, body) = get(
        &http,
        &gateway,
        "api/ERP/A_BusinessPartner",
        "alice",
        "alice-pw",
    )
    .await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["path"], "/sap/opu/odata/sap/API_BP/A_BusinessPartner");
    assert!(
        body["query"]
            .as_str()
            .is_some_and(|q| q.contains("sap-client=400"))
    );
    assert_eq!(
        body["headers"]["sap-connectivity-scc-location_id"],
        "FRANKFURT"
    );
    assert_eq!(
        body["headers"]["authorization"],
        "Basic RVJQX1VTRVI6ZXJwLXB3"
    );
    // tinyproxy without its own authentication forwards Proxy-Authorization, which lets the
    // test see the token the gateway presented: a connectivity client-credentials token.
    let proxy_token = body["headers"]["proxy-authorization"]
        .as_str()
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .to_owned();
    let grant = tokens
        .grant_of(&proxy_token)
        .expect("issued by the token endpoint");
    assert_eq!(grant.client_id, "conn-client");
    assert_eq!(grant.grant_type, GRANT_CLIENT_CREDENTIALS);
    // The proxy token is cached: a second call asks for none.
    let (status, _) = get(&http, &gateway, "api/ERP/x", "alice", "alice-pw").await?;
    assert_eq!(status, 200);
    assert_eq!(tokens.request_count(), 1);
    // The request really went through tinyproxy.
    assert!(proxy.log().contains("127.0.0.1"), "{}", proxy.log());

    // Development users have no JWT, so principal propagation is refused clearly.
    let (status, body) = get(&http, &gateway, "api/PP/x", "alice", "alice-pw").await?;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("needs the caller's JWT")),
        "{body}"
    );
    // Wrong password: 401 with a Basic challenge; nothing reaches the backend.
    let before = backend.count();
    let response = http
        .get(gateway.url("api/ERP/x"))
        .basic_auth("alice", Some("wrong"))
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 401);
    assert!(
        response
            .headers()
            .get("www-authenticate")
            .is_some_and(|v| v.to_str().unwrap_or_default().starts_with("Basic"))
    );
    assert_eq!(backend.count(), before);
    Ok(())
}

#[tokio::test]
async fn a_proxy_demanding_credentials_refuses_calls_without_them() -> anyhow::Result<()> {
    let dir = keys::scratch_dir("connectivity-407");
    let backend = EchoBackend::start().await?;
    let proxy = Tinyproxy::start(TinyproxyOptions::default().basic_auth("proxyuser", "proxy-pw"))?;
    let file = write_file(&dir, "destinations.json", &on_premise(&backend))?;
    let http = http_client()?;

    // With the proxy's credentials in the proxy URL: forwarded, credentials consumed by the proxy.
    let with = proxy
        .url()
        .replacen("http://", "http://proxyuser:proxy-pw@", 1);
    let settings = format!(
        "[destinations]\nfile = \"{file}\"\n[connectivity]\nproxy = \"{with}\"\n{}",
        development_identity()
    );
    let gateway = Gateway::start(&settings, Environment::default()).await?;
    let (status, body) = get(&http, &gateway, "api/ERP/x", "alice", "alice-pw").await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["headers"]["sap-connectivity-scc-location_id"],
        "FRANKFURT"
    );
    assert!(body["headers"]["proxy-authorization"].is_null());

    // Without them: the proxy answers 407 and the gateway says so, naming the destination.
    let settings = format!(
        "[destinations]\nfile = \"{file}\"\n[connectivity]\nproxy = \"{}\"\n{}",
        proxy.url(),
        development_identity()
    );
    let gateway = Gateway::start(&settings, Environment::default()).await?;
    let before = backend.count();
    let (status, body) = get(&http, &gateway, "api/ERP/x", "alice", "alice-pw").await?;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "PROXY_UNAVAILABLE");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("destination 'ERP'") && message.contains("407"),
        "{message}"
    );
    assert_eq!(backend.count(), before, "nothing passed the proxy");
    Ok(())
}

#[tokio::test]
async fn on_premise_destinations_without_a_proxy_fail_at_start_up() -> anyhow::Result<()> {
    let dir = keys::scratch_dir("connectivity-missing");
    let backend = EchoBackend::start().await?;
    let file = write_file(&dir, "destinations.json", &on_premise(&backend))?;
    let settings = format!(
        "[destinations]\nfile = \"{file}\"\n{}",
        development_identity()
    );
    let error = Gateway::start(&settings, Environment::default())
        .await
        .expect_err("no connectivity proxy configured");
    let text = format!("{error:#}");
    assert!(text.contains("destination 'ERP'"), "{text}");
    assert!(text.contains("property ProxyType"), "{text}");
    Ok(())
}
