//! The graph runtime over HTTP, in-process with `tower::ServiceExt::oneshot`: `/readyz` of a
//! gateway without a graph.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use bizgraph_config::Settings;
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
async fn send(
    state: &Arc<bizgraph_gateway::server::AppState>,
    request: Request<Body>,
) -> (StatusCode, Value) {
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
