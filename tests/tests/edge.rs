//! What callers get at the gateway's edge when something behind it is slow or away: a backend
//! that never answers ends with 504 after the destination's own timeout, and an identity provider
//! whose keys cannot be fetched gives 503 rather than a misleading 401.

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

#[tokio::test]
async fn an_unreachable_identity_provider_gives_503_not_401() -> anyhow::Result<()> {
    // A port that was free a moment ago: nothing answers there.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await?
        .local_addr()?;
    let dir = keys::scratch_dir("edge-jwks");
    let file = write_file(
        &dir,
        "destinations.json",
        r#"[{"Name": "ANY", "URL": "http://127.0.0.1:9/x"}]"#,
    )?;
    let settings = format!(
        "[destinations]\nfile = \"{file}\"\n[identity.jwt]\njwks_url = \"http://{closed}/token_keys\"\n"
    );
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
