//! What callers get at the gateway's edge when something behind it is slow or away: a backend
//! that never answers ends with 504 after the destination's own timeout, and an identity provider
//! whose keys cannot be fetched gives 503 rather than a misleading 401, and the administrative
//! refresh is for callers whose JWT carries the admin scope.

use std::time::{Duration, Instant};

use bizgraph_gateway::startup::Environment;
use bizgraph_tests::gateway::{Gateway, write_file};
use bizgraph_tests::idp::Idp;
use bizgraph_tests::keys;
use bizgraph_tests::standins::http_client;
use serde_json::{Value, json};

#[tokio::test]
async fn a_silent_backend_times_out_after_the_destination_timeout_with_504() -> anyhow::Result<()> {
    // Accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = silent.local_addr()?;
    let holder = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let dir = keys::scratch_dir("edge-timeout");
    let destinations = json!([
        {"Name": "SLOW", "URL": format!("http://{address}/odata"),
         "Authentication": "NoAuthentication", "bizgraph.timeoutSeconds": "1"}
    ]);
    let file = write_file(&dir, "destinations.json", &destinations.to_string())?;
    // The settings' default timeout is long; only the destination's property can end it soon.
    let settings = format!(
        "[destinations]\nfile = \"{file}\"\n[upstream]\ntimeout_seconds = 60\n\
         [identity]\nmode = \"development\"\n[[identity.users]]\nname = \"alice\"\npassword = \"pw\"\n"
    );
    let gateway = Gateway::start(&settings, Environment::default()).await?;
    let started = Instant::now();
    let response = http_client()?
        .get(gateway.url("api/SLOW/Items"))
        .basic_auth("alice", Some("pw"))
        .send()
        .await?;
    let waited = started.elapsed();
    assert_eq!(response.status().as_u16(), 504);
    let body: Value = response.json().await?;
    assert_eq!(body["error"]["code"], "BACKEND_TIMEOUT", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("destination 'SLOW'") && message.contains("timed out"),
        "{message}"
    );
    assert!(
        waited < Duration::from_secs(30),
        "the destination's 1 s applied, not 60 s"
    );
    holder.abort();
    Ok(())
}

/// Settings with one destination that goes nowhere and callers verified against `jwks_url`
/// (audience `bizgraph`).
fn jwt_settings(scratch: &str, jwks_url: &str) -> anyhow::Result<String> {
    let file = write_file(
        &keys::scratch_dir(scratch),
        "destinations.json",
        r#"[{"Name": "ANY", "URL": "http://127.0.0.1:9/x"}]"#,
    )?;
    Ok(format!(
        "[destinations]\nfile = \"{file}\"\n[identity.jwt]\njwks_url = \"{jwks_url}\"\naudiences = [\"bizgraph\"]\n"
    ))
}

#[tokio::test]
async fn an_unreachable_identity_provider_gives_503_not_401() -> anyhow::Result<()> {
    // A port that was free a moment ago: nothing answers there.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await?
        .local_addr()?;
    let settings = jwt_settings("edge-jwks", &format!("http://{closed}/token_keys"))?;
    let gateway = Gateway::start(&settings, Environment::default()).await?;
    let jwt = Idp::new("https://idp.example.com")?.user_token("t", "alice", "bizgraph", 600);
    let response = http_client()?
        .get(gateway.url("api/ANY/x"))
        .bearer_auth(&jwt)
        .send()
        .await?;
    assert_eq!(response.status().as_u16(), 503);
    let body: Value = response.json().await?;
    assert_eq!(
        body["error"]["code"], "IDENTITY_PROVIDER_UNAVAILABLE",
        "{body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("JWKS")),
        "{body}"
    );
    Ok(())
}

#[tokio::test]
async fn a_read_on_a_connection_the_backend_dropped_is_sent_again_once() -> anyhow::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Answers the first request on each connection as HTTP/1.1 keep-alive, then closes the
    // connection without answering when a second request arrives on it: what a proxy that drops
    // connections after each answer (tinyproxy) looks like to a pooling client that wrote its
    // next request before the close arrived.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 8192];
                let mut seen = Vec::new();
                let mut answered = false;
                loop {
                    let Ok(read) = socket.read(&mut buffer).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buffer[..read]);
                    if !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        continue;
                    }
                    if answered {
                        // The second request on this connection: drop it unanswered.
                        return;
                    }
                    answered = true;
                    seen.clear();
                    let body = br#"{"value":[]}"#;
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    );
                    if socket.write_all(head.as_bytes()).await.is_err()
                        || socket.write_all(body).await.is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    let dir = keys::scratch_dir("edge-dropped");
    let destinations = json!([
        {"Name": "DROP", "URL": format!("http://{address}/odata"), "Authentication": "NoAuthentication"}
    ]);
    let file = write_file(&dir, "destinations.json", &destinations.to_string())?;
    let settings = format!(
        "[destinations]\nfile = \"{file}\"\n\
         [identity]\nmode = \"development\"\n[[identity.users]]\nname = \"alice\"\npassword = \"pw\"\n"
    );
    let gateway = Gateway::start(&settings, Environment::default()).await?;
    let http = http_client()?;
    for round in 0..3 {
        let response = http
            .get(gateway.url("api/DROP/Items"))
            .basic_auth("alice", Some("pw"))
            .send()
            .await?;
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 200, "round {round}: {body}");
        assert_eq!(body, json!({"value": []}), "round {round}");
    }
    // Each round after the first found its pooled connection dropped and opened a new one.
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        3,
        "one connection per answered request"
    );
    Ok(())
}

#[tokio::test]
async fn only_callers_with_the_admin_scope_may_refresh_the_graph() -> anyhow::Result<()> {
    // Signed JWTs from the test identity provider, verified through its JWKS: XSUAA writes a
    // scope with the application's name in front, so `bizgraph!t1.bizgraph.admin` is the admin
    // scope, while a look-alike (`bizgraph.administrator`) and other scopes are not.
    let idp = Idp::new("https://idp.example.com")?;
    let jwks = idp.serve_jwks().await?;
    let settings = jwt_settings("edge-admin", jwks.url.as_str())?;
    let gateway = Gateway::start(&settings, Environment::default()).await?;
    let token = |scopes: &[&str]| {
        let now = bizgraph_tests::idp::now_secs();
        idp.token(json!({
            "iss": idp.issuer(), "aud": ["bizgraph"], "zid": "t1", "user_name": "carol",
            "sub": "sub-carol", "iat": now, "exp": now + 600, "scope": scopes,
        }))
    };
    let http = http_client()?;
    let refresh = |token: Option<String>| {
        let mut request = http.post(gateway.url("admin/refresh"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    for (scopes, expected) in [
        (vec!["bizgraph!t1.bizgraph.admin", "openid"], 200),
        (vec!["bizgraph.admin"], 200),
        (vec!["bizgraph!t1.bizgraph.administrator"], 403),
        (vec!["openid", "bizgraph!t1.Display"], 403),
        (vec![], 403),
    ] {
        let response = refresh(Some(token(&scopes))).await?;
        let status = response.status().as_u16();
        let body: Value = response.json().await?;
        assert_eq!(status, expected, "{scopes:?}: {body}");
        if expected == 403 {
            assert!(body["error"]["code"].is_string(), "{body}");
        }
    }
    assert_eq!(refresh(None).await?.status().as_u16(), 401);
    Ok(())
}
