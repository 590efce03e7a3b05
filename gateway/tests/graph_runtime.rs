//! The graph runtime over HTTP, in-process with `tower::ServiceExt::oneshot`: `/readyz` of a
//! gateway without a graph, who may refresh the graph, and refreshes that queue behind a running
//! one sharing a reload.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine as _;
use bizgraph_config::Settings;
use bizgraph_gateway::demo;
use bizgraph_gateway::server::AppState;
use bizgraph_gateway::startup::{Environment, start};
use serde_json::Value;
use tower::ServiceExt as _;

const USERS: &str = r#"
[identity]
mode = "development"
[[identity.users]]
name = "alice"
password = "alice-pw"
"#;

/// Sends `request` to a fresh router over `state` and returns status and JSON body.
async fn send(state: &Arc<AppState>, request: Request<Body>) -> (StatusCode, Value) {
    let response = bizgraph_gateway::server::app(state.clone())
        .oneshot(request)
        .await
        .expect("the router answers");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("a body");
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).expect("a request")
}

#[tokio::test]
async fn without_a_graph_section_readyz_is_ready_at_once() {
    // The default refresh interval is 15 minutes: readiness must not wait for it.
    let settings = Settings::from_toml(
        &format!("[destinations]\nsource = \"environment\"\n{USERS}"),
        "settings",
    )
    .expect("settings parse");
    let environment = Environment {
        destinations: Some("[]".to_owned()),
        ..Environment::default()
    };
    let state = Arc::new(start(&settings, &environment).await.expect("starts"));
    let (status, report) = send(&state, get("/readyz")).await;
    assert_eq!(status, StatusCode::OK, "{report:#}");
    assert_eq!(report["loaded"], true, "{report:#}");
    assert_eq!(report["ready"], true, "{report:#}");
    assert_eq!(report["sources"], serde_json::json!([]), "{report:#}");
}

/// A gateway over the embedded demo backends, as `bizgraph demo` configures it (alice is the
/// administrator, bob is not).
async fn demo() -> (demo::DemoBackends, Arc<AppState>) {
    let backends = demo::start().await.expect("demo backends start");
    let address = "127.0.0.1:0".parse().expect("an address");
    let (settings, destinations) = demo::gateway_config(&backends, address);
    let settings = Settings::from_toml(&settings, "demo settings").expect("demo settings parse");
    let environment = Environment {
        destinations: Some(destinations),
        ..Environment::default()
    };
    let state = Arc::new(start(&settings, &environment).await.expect("starts"));
    (backends, state)
}

fn refresh_as(user: &str) -> Request<Body> {
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{user}"));
    Request::post("/admin/refresh")
        .header("authorization", format!("Basic {credentials}"))
        .body(Body::empty())
        .expect("a request")
}

#[tokio::test]
async fn only_administrators_may_refresh_the_graph() {
    let (_backends, state) = demo().await;
    let loaded_at = state.graph.current().loaded_at;
    let (status, body) = send(&state, refresh_as("bob")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body:#}");
    assert_eq!(body["error"]["code"], "FORBIDDEN", "{body:#}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|message| message.contains("administrator")),
        "{body:#}"
    );
    assert!(body["error"]["trace_id"].is_string(), "{body:#}");
    assert_eq!(
        state.graph.current().loaded_at,
        loaded_at,
        "nothing was reloaded"
    );
    let (status, report) = send(&state, refresh_as("alice")).await;
    assert_eq!(status, StatusCode::OK, "{report:#}");
    assert_eq!(report["ready"], true, "{report:#}");
    assert!(state.graph.current().loaded_at > loaded_at, "reloaded");
}

/// A `$metadata` that takes its time, counting how often it was fetched.
const SLOW_METADATA: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="Slow" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="Thing"><Key><PropertyRef Name="ID"/></Key>
        <Property Name="ID" Type="Edm.Int32" Nullable="false"/></EntityType>
      <EntityContainer Name="Container"><EntitySet Name="Things" EntityType="Slow.Thing"/></EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshes_queued_behind_a_running_one_share_one_reload() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let backend = axum::Router::new().route(
        "/svc/$metadata",
        axum::routing::get(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(400)).await;
                ([("content-type", "application/xml")], SLOW_METADATA)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, backend).await;
    });
    let settings = Settings::from_toml(
        &format!(
            "[destinations]\nsource = \"environment\"\n{USERS}\n[graph]\nrefresh_interval_seconds = 0\n[[graph.data_sources]]\nname = \"slow\"\nservices = [{{ destination = \"SLOW\", path = \"/svc\" }}]\n"
        ),
        "settings",
    )
    .expect("settings parse");
    let environment = Environment {
        destinations: Some(
            serde_json::json!([{"Name": "SLOW", "URL": url, "Authentication": "NoAuthentication", "ProxyType": "Internet"}])
                .to_string(),
        ),
        ..Environment::default()
    };
    let state = Arc::new(start(&settings, &environment).await.expect("starts"));
    assert!(state.graph.current().is_ready(), "the start-up load");
    assert_eq!(fetches.load(Ordering::SeqCst), 1);

    let refresh = |state: Arc<AppState>| {
        tokio::spawn(async move { state.graph.refresh(&state.upstream).await })
    };
    // One refresh runs; three more ask while it runs. They need a load that starts after
    // they asked, and one such load serves all three.
    let running = refresh(state.clone());
    tokio::time::sleep(Duration::from_millis(150)).await;
    let queued: Vec<_> = (0..3).map(|_| refresh(state.clone())).collect();
    let first = running.await.expect("no panic");
    let mut later = Vec::new();
    for task in queued {
        later.push(task.await.expect("no panic"));
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        3,
        "start-up, the running refresh, one more"
    );
    assert!(
        later
            .iter()
            .all(|generation| Arc::ptr_eq(generation, &later[0]))
    );
    assert!(
        !Arc::ptr_eq(&first, &later[0]),
        "the queued ones got the newer load"
    );

    // A refresh asked after everything finished loads again.
    state.graph.refresh(&state.upstream).await;
    assert_eq!(fetches.load(Ordering::SeqCst), 4);
    server.abort();
}
