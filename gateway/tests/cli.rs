//! The `bizgraph` commands that load a graph (`check`, `schema`, `plan`), run as the binary
//! against the embedded demo backends started by the test.

use std::process::{Command, Output};

use bizgraph_gateway::demo;

/// Writes the demo's settings and destinations into a folder and returns the settings path.
fn write_config(backends: &demo::DemoBackends, extra: &str, name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("bizgraph-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    let (settings, destinations) =
        demo::gateway_config(backends, "127.0.0.1:0".parse().expect("an address"));
    // The binary reads destinations from a file here, as a deployment would.
    let settings = settings.replace(
        "source = \"environment\"",
        "source = \"file\"\nfile = \"destinations.json\"",
    );
    std::fs::write(dir.join("destinations.json"), destinations).expect("destinations written");
    let path = dir.join("bizgraph.toml");
    std::fs::write(&path, format!("{settings}{extra}")).expect("settings written");
    path
}

async fn bizgraph(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_bizgraph"))
            .args(&args)
            .output()
            .expect("the binary runs")
    })
    .await
    .expect("the command finishes")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_each_source_and_fails_when_one_is_left_out() {
    let backends = demo::start().await.expect("demo backends");
    let good = write_config(&backends, "", "good");
    let output = bizgraph(vec![
        "check".into(),
        "--config".into(),
        good.display().to_string(),
    ])
    .await;
    let report = text(&output);
    assert!(output.status.success(), "{report}");
    assert!(report.contains("sap.s4 Ready"), "{report}");
    assert!(report.contains("crm Ready"), "{report}");
    assert!(report.contains("OData 2.0, 4 entity sets"), "{report}");
    assert!(report.contains("OData 4.0, 2 entity sets"), "{report}");
    assert!(
        report.contains("graph: 2 namespaces, 2 services, 6 entities"),
        "{report}"
    );

    // A third data source on a port where nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = closed.local_addr().expect("bound").port();
    drop(closed);
    let broken = write_config(
        &backends,
        "\n[[graph.data_sources]]\nname = \"hr\"\nservices = [{ destination = \"HR\", path = \"/odata/v4/hr\" }]\n",
        "broken",
    );
    let destinations = broken.with_file_name("destinations.json");
    let mut list: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&destinations).expect("read")).expect("JSON");
    list.as_array_mut()
        .expect("an array")
        .push(serde_json::json!({
            "Name": "HR", "URL": format!("http://127.0.0.1:{port}"),
            "Authentication": "NoAuthentication", "ProxyType": "Internet"
        }));
    std::fs::write(&destinations, list.to_string()).expect("written");
    let output = bizgraph(vec![
        "check".into(),
        "--config".into(),
        broken.display().to_string(),
    ])
    .await;
    let report = text(&output);
    assert_eq!(output.status.code(), Some(1), "{report}");
    assert!(report.contains("hr Failed"), "{report}");
    assert!(
        report.contains(&format!(
            "FAILED  HR http://127.0.0.1:{port}/odata/v4/hr/$metadata"
        )),
        "names the URL: {report}"
    );
    assert!(
        report.contains("sap.s4 Ready"),
        "the others still load: {report}"
    );
    assert!(report.contains("graph: 2 namespaces"), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_prints_sdl_and_plan_prints_one_request_per_backend_per_level() {
    let backends = demo::start().await.expect("demo backends");
    let config = write_config(&backends, "", "plan").display().to_string();
    let output = bizgraph(vec!["schema".into(), "--config".into(), config.clone()]).await;
    let sdl = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{}", text(&output));
    for expected in [
        "type Query",
        "sap_s4: sap_s4_Query!",
        "type crm_Opportunities {",
        "partner: sap_s4_A_BusinessPartner",
        "input crm_Opportunities_filter",
        "scalar Decimal",
    ] {
        assert!(sdl.contains(expected), "SDL lacks {expected:?}");
    }

    let output = bizgraph(vec![
        "plan".into(),
        "--config".into(),
        config,
        "--query".into(),
        "{ crm { Opportunities(top: 5, filter: {title: {contains: \"x' or 1 eq 1\"}}) { nodes { title partner { BusinessPartnerFullName to_SalesOrder { nodes { SalesOrder } } } } } } }".into(),
    ])
    .await;
    let plan = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{}", text(&output));
    let requests: Vec<&str> = plan.lines().filter(|l| l.contains(": GET ")).collect();
    assert_eq!(requests.len(), 2, "one per backend and level: {plan}");
    assert!(
        requests[0].contains("[crm] CRM (v4): GET /odata/v4/crm/Opportunities?"),
        "{plan}"
    );
    assert!(
        requests[0].contains("contains(title,'x''%20or%201%20eq%201')"),
        "{plan}"
    );
    assert!(
        requests[1].contains(
            "[sap.s4] S4 (v2): GET /sap/opu/odata/sap/API_SALES_ORDER_SRV/A_BusinessPartner?"
        ),
        "{plan}"
    );
    assert!(requests[1].contains("$expand=to_SalesOrder"), "{plan}");
}
