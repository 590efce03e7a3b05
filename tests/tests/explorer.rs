//! The schema explorer end to end, in a real browser: Debian's Chromium, headless, driven by
//! `playwright-core` from the Node scripts in `tests/explorer/`.
//!
//! The demo suite starts the embedded demo backends behind a recording forwarder (so the test
//! knows every URL the backends received), the gateway over them, and runs `explore.mjs`:
//! alice searches an entity, opens it, walks a cross-source relation into the other namespace,
//! builds and runs a query, and the script compares the table with the backend's own answer for
//! alice, the backend URL shown with the one the backend received, and the `/odata/v4` URL shown
//! with what it returns; then bob sees only his rows. The large-schema suite composes Microsoft
//! Graph's `$metadata` (over 1,000 entity types) with a source that cannot load, and runs
//! `large.mjs`. Screenshots go to `target/explorer-artifacts/`.
//!
//! Needs `npm ci --prefix tests/explorer` and `/usr/bin/chromium` (both installed by `.ci/run`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use bizgraph_gateway::demo;
use bizgraph_gateway::startup::Environment;
use bizgraph_tests::gateway::Gateway;
use bizgraph_tests::standins::{http_client, http_client_builder};
use serde_json::{Value, json};

const CHROMIUM: &str = "/usr/bin/chromium";

fn explorer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("explorer")
}

/// `target/explorer-artifacts/<suite>` (or below `CARGO_TARGET_DIR`).
fn artifacts(suite: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("explorer-artifacts").join(suite);
    std::fs::create_dir_all(&dir).expect("create the artifacts folder");
    dir
}

fn require_browser() {
    assert!(
        explorer_dir().join("node_modules/playwright-core").exists(),
        "playwright-core is not installed: run `npm ci --prefix tests/explorer`"
    );
    assert!(
        Path::new(CHROMIUM).exists(),
        "Debian's chromium is not installed at {CHROMIUM}: `apt-get install chromium` (.ci/run does)"
    );
}

/// Asserts that the browser session left its screenshots: PNG files, by the names it printed.
fn assert_screenshots(run: &NodeRun, suite: &str) {
    let printed: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("screenshot "))
        .collect();
    assert!(
        !printed.is_empty(),
        "no screenshots taken:\n{}",
        run.transcript()
    );
    let folder = std::fs::canonicalize(artifacts(suite)).expect("the artifacts folder");
    for path in printed {
        let path = Path::new(path);
        assert!(
            std::fs::canonicalize(path).is_ok_and(|path| path.starts_with(&folder)),
            "{} is not in the artifacts folder",
            path.display()
        );
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{} is not a PNG",
            path.display()
        );
    }
}

/// A finished `node` run.
struct NodeRun {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl NodeRun {
    fn transcript(&self) -> String {
        format!(
            "exit status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.status, self.stdout, self.stderr
        )
    }
}

/// Runs `node <script>` with `env` on the blocking pool (the gateway and backends keep serving
/// from this test's runtime meanwhile) and kills it after `limit`.
async fn node(script: &str, env: Vec<(&'static str, String)>, limit: Duration) -> NodeRun {
    let script = explorer_dir().join(script);
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new("node")
            .arg(&script)
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting `node` (Node.js 20 or newer must be on PATH)");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let mut stderr = child.stderr.take().expect("piped stderr");
        let out = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stdout.read_to_string(&mut text);
            text
        });
        let err = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting for node") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let status = child.wait().expect("waiting for the killed node");
                let stdout = out.join().unwrap_or_default();
                let stderr = err.join().unwrap_or_default();
                panic!(
                    "node {} ran longer than {limit:?}; killed ({status})\n{stdout}\n{stderr}",
                    script.display()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        NodeRun {
            status,
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        }
    })
    .await
    .expect("the node runner panicked")
}

// ----- a recording forwarder in front of a backend -----

/// Forwards every request to `origin` and records its method, path and query as received, so
/// that the test can tell which URLs the backend was sent. `GET /__requests` answers the log,
/// `DELETE /__requests` empties it.
struct Forwarder {
    origin: String,
    log: Mutex<Vec<Value>>,
    http: reqwest::Client,
}

async fn forward(
    State(forwarder): State<Arc<Forwarder>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    if uri.path() == "/__requests" {
        let mut log = forwarder.log.lock().expect("the log");
        if method == Method::DELETE {
            log.clear();
            return StatusCode::NO_CONTENT.into_response();
        }
        return axum::Json(Value::Array(log.clone())).into_response();
    }
    forwarder
        .log
        .lock()
        .expect("the log")
        .push(json!({"method": method.as_str(), "url": target}));
    let mut request = forwarder
        .http
        .request(method, format!("{}{target}", forwarder.origin))
        .body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(answer) => {
            let mut response = Response::builder().status(answer.status().as_u16());
            for (name, value) in answer.headers() {
                if name != "content-length" && name != "transfer-encoding" {
                    response = response.header(name, value);
                }
            }
            let bytes = answer.bytes().await.unwrap_or_default();
            response
                .body(Body::from(bytes))
                .unwrap_or_else(|_| StatusCode::BAD_GATEWAY.into_response())
        }
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}

/// Starts a forwarder to `origin` on a free loopback port; returns its origin.
async fn start_forwarder(origin: &str) -> String {
    let forwarder = Arc::new(Forwarder {
        origin: origin.trim_end_matches('/').to_owned(),
        log: Mutex::new(Vec::new()),
        http: http_client().expect("a client"),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("bound");
    let router = Router::new().fallback(forward).with_state(forwarder);
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{address}")
}

fn origin_of(url: &str) -> String {
    let parsed = url::Url::parse(url).expect("a URL");
    parsed.origin().ascii_serialization()
}

// ----- HTTP-level checks -----

/// The APIs ask for credentials like `/graphql` does; the model is cached by its ETag; assets
/// carry validators and versioned URLs are immutable.
async fn check_http(gateway: &Gateway) {
    let http = http_client_builder()
        .expect("a client")
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client");
    let root = http.get(gateway.url("/")).send().await.expect("/ answers");
    assert_eq!(root.status(), 307);
    assert_eq!(root.headers()["location"], "/explorer");

    let page = http
        .get(gateway.url("explorer"))
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .expect("text")
            .starts_with("text/html")
    );
    assert!(page.headers().contains_key("content-security-policy"));
    let html = page.text().await.expect("HTML");
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the page links its script");
    assert!(script.starts_with("explorer/app.js?v="), "{script}");
    let asset = http.get(gateway.url(script)).send().await.expect("script");
    assert_eq!(asset.status(), 200);
    assert!(
        asset.headers()["content-type"]
            .to_str()
            .expect("text")
            .starts_with("text/javascript")
    );
    assert!(
        asset.headers()["cache-control"]
            .to_str()
            .expect("text")
            .contains("immutable")
    );
    let etag = asset.headers()["etag"].clone();
    let again = http
        .get(gateway.url("explorer/app.js"))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("script");
    assert_eq!(again.status(), 304, "revalidated by its ETag");

    let graphql = http
        .post(gateway.url("graphql"))
        .json(&json!({"query": "{ __typename }"}))
        .send()
        .await
        .expect("graphql");
    assert_eq!(graphql.status(), 401);
    let challenge = graphql.headers()["www-authenticate"].clone();
    for (method, path) in [
        (Method::GET, "explorer/api/model"),
        (Method::POST, "explorer/api/plan"),
    ] {
        let answer = http
            .request(method, gateway.url(path))
            .body("{\"query\": \"{ __typename }\"}")
            .send()
            .await
            .expect("answers");
        assert_eq!(answer.status(), 401, "{path} needs a signed-in caller");
        assert_eq!(
            answer.headers()["www-authenticate"],
            challenge,
            "{path}: the same challenge as /graphql"
        );
    }
    let model = http
        .get(gateway.url("explorer/api/model"))
        .basic_auth("alice", Some("alice"))
        .send()
        .await
        .expect("model");
    assert_eq!(model.status(), 200);
    let etag = model.headers()["etag"].clone();
    let cached = http
        .get(gateway.url("explorer/api/model"))
        .basic_auth("alice", Some("alice"))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("model");
    assert_eq!(cached.status(), 304, "the model is revalidated by its ETag");
    let bad = http
        .post(gateway.url("explorer/api/plan"))
        .basic_auth("alice", Some("alice"))
        .json(&json!({"query": "{ crm { Opportunities { nodes { nosuchfield } } } }"}))
        .send()
        .await
        .expect("plan");
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "BAD_QUERY");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("nosuchfield"),
        "the error names the problem: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_explores_the_demo_graph_in_a_browser_and_sees_only_their_rows() {
    require_browser();
    let backends = demo::start().await.expect("demo backends start");
    let s4_origin = origin_of(&backends.s4_url);
    let crm_origin = origin_of(&backends.crm_url);
    let s4_forwarder = start_forwarder(&s4_origin).await;
    let crm_forwarder = start_forwarder(&crm_origin).await;
    let (settings, destinations) =
        demo::gateway_config(&backends, "127.0.0.1:0".parse().expect("an address"));
    // The gateway reaches each backend through its forwarder.
    let destinations = destinations
        .replace(&s4_origin, &s4_forwarder)
        .replace(&crm_origin, &crm_forwarder);
    let gateway = Gateway::start(
        &settings,
        Environment {
            destinations: Some(destinations),
            ..Environment::default()
        },
    )
    .await
    .expect("the gateway starts over the demo");
    check_http(&gateway).await;

    let run = node(
        "explore.mjs",
        vec![
            ("EXPLORER_URL", gateway.url("").to_string()),
            ("S4_BACKEND", backends.s4_url.clone()),
            ("CRM_BACKEND", backends.crm_url.clone()),
            ("S4_LOG", format!("{s4_forwarder}/__requests")),
            ("CRM_LOG", format!("{crm_forwarder}/__requests")),
            ("ARTIFACTS", artifacts("demo").display().to_string()),
            ("CHROMIUM", CHROMIUM.to_owned()),
        ],
        Duration::from_secs(240),
    )
    .await;
    println!("{}", run.transcript());
    assert!(
        run.status.success(),
        "the browser session failed:\n{}",
        run.transcript()
    );
    assert!(
        run.stdout.contains("all explorer checks passed"),
        "explore.mjs finished without its summary:\n{}",
        run.transcript()
    );
    assert_screenshots(&run, "demo");
}

// ----- large schemas -----

/// Serves one `$metadata` document for every path ending in `$metadata`.
async fn serve_metadata(document: Vec<u8>) -> String {
    let document = Bytes::from(document);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("bound");
    let router = Router::new().fallback(move |uri: Uri| {
        let document = document.clone();
        async move {
            if uri.path().ends_with("/$metadata") {
                ([("content-type", "application/xml")], document).into_response()
            } else {
                (StatusCode::NOT_FOUND, "not found").into_response()
            }
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{address}")
}

/// The real `$metadata` fixtures: `BIZGRAPH_FIXTURES`, else `../shared/fixtures/odata`.
fn fixture(name: &str) -> Vec<u8> {
    let dir = match std::env::var_os("BIZGRAPH_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/odata"),
    };
    let path = dir.join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_lists_and_searches_a_graph_of_more_than_a_thousand_entities() {
    require_browser();
    let origin = serve_metadata(fixture("MicrosoftGraph_v1.0.v4.csdl.xml")).await;
    // A closed port: the data source that cannot load.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        listener.local_addr().expect("bound").port()
    };
    let destinations = json!([
        {"Name": "MSGRAPH", "URL": origin, "Authentication": "NoAuthentication", "ProxyType": "Internet"},
        {"Name": "HR", "URL": format!("http://127.0.0.1:{closed}"), "Authentication": "NoAuthentication", "ProxyType": "Internet"},
    ]);
    let settings = r#"
[destinations]
source = "environment"

[identity]
mode = "development"
[[identity.users]]
name = "alice"
password = "alice"

[graph]
refresh_interval_seconds = 0
metadata_timeout_seconds = 10

[[graph.data_sources]]
name = "msgraph"
services = [{ destination = "MSGRAPH", path = "/v1.0" }]

[[graph.data_sources]]
name = "hr"
services = [{ destination = "HR", path = "/odata/v4/hr" }]
"#;
    let gateway = Gateway::start(
        settings,
        Environment {
            destinations: Some(destinations.to_string()),
            ..Environment::default()
        },
    )
    .await
    .expect("the gateway starts");
    let generation = gateway.state().graph.current();
    let entities = generation.graph.entities.len();
    assert!(
        entities >= 1_000,
        "Microsoft Graph composes into {entities} entities"
    );

    let run = node(
        "large.mjs",
        vec![
            ("EXPLORER_URL", gateway.url("").to_string()),
            ("EXPECTED_ENTITIES", entities.to_string()),
            ("ARTIFACTS", artifacts("large").display().to_string()),
            ("CHROMIUM", CHROMIUM.to_owned()),
        ],
        Duration::from_secs(240),
    )
    .await;
    println!("{}", run.transcript());
    assert!(
        run.status.success(),
        "the browser session failed:\n{}",
        run.transcript()
    );
    assert!(
        run.stdout.contains("all large-schema checks passed"),
        "large.mjs finished without its summary:\n{}",
        run.transcript()
    );
    assert_screenshots(&run, "large");
}
