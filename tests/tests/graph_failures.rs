//! Failures in the composed graph stay where they happen: a backend stopped mid-suite nulls only
//! its own fields (with a GraphQL error carrying the path, a code, the namespace and a trace id)
//! while the other namespace still answers in the same query, and a join to it nulls the joined
//! field of every parent, each with its error; a `$metadata` that does not parse or cannot be
//! fetched leaves its source out (`/readyz` names source, URL and cause) while the rest of the
//! graph serves, and `POST /admin/refresh` brings it back once repaired; query limits answer
//! `LIMIT_EXCEEDED`.
//!
//! Needs `npm ci --prefix tests/backends` (see tests/backends/README.md).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use bizgraph_tests::cap::{ADMIN, ALICE};
use bizgraph_tests::graph_env::{GraphEnv, GraphOptions, errors_of, readyz_source};
use serde_json::{Value, json};

/// Asserts the one error of an answer: at `path`, with `code`, from `backend`, with a trace id.
fn assert_backend_error(answer: &Value, path: Value, code: &str, backend: &str) {
    let errors = errors_of(answer);
    assert_eq!(errors.len(), 1, "one error: {answer:#}");
    let error = &errors[0];
    assert_eq!(error["path"], path, "{answer:#}");
    assert_eq!(error["extensions"]["code"], code, "{answer:#}");
    assert_eq!(error["extensions"]["backend"], backend, "{answer:#}");
    let trace = error["extensions"]["traceId"].as_str().unwrap_or_default();
    assert!(
        trace.len() == 32 && trace.bytes().all(|b| b.is_ascii_hexdigit()),
        "{answer:#}"
    );
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|message| message.contains(&format!("[{backend}]"))),
        "the message names the backend: {answer:#}"
    );
}

#[tokio::test]
async fn a_stopped_crm_nulls_only_its_fields_and_its_joins() -> anyhow::Result<()> {
    let mut env = GraphEnv::start("graph-failures-crm", GraphOptions::default()).await?;
    let both = r#"{
        crm { Opportunities(top: 2, orderBy: {ID: asc}) { nodes { ID } } }
        sap_s4 { A_SalesOrder(top: 2, orderBy: {SalesOrder: asc}) { nodes { SalesOrder } } } }"#;
    let before = env.data(ALICE, both).await?;
    assert_eq!(
        before,
        json!({"crm": {"Opportunities": {"nodes": [{"ID": 1}, {"ID": 3}]}},
               "sap_s4": {"A_SalesOrder": {"nodes": [{"SalesOrder": "5000000001"}, {"SalesOrder": "5000000003"}]}}})
    );

    env.crm.stop();
    let answer = env.query(ALICE, both, Value::Null).await?;
    assert_eq!(
        answer["data"],
        json!({"crm": {"Opportunities": null},
               "sap_s4": {"A_SalesOrder": {"nodes": [{"SalesOrder": "5000000001"}, {"SalesOrder": "5000000003"}]}}}),
        "{answer:#}"
    );
    assert_backend_error(
        &answer,
        json!(["crm", "Opportunities"]),
        "BACKEND_UNAVAILABLE",
        "crm",
    );

    // A join into the stopped CRM: the partners arrive, and every partner's opportunities are
    // null with the error at its own path; an empty list would claim "no opportunities".
    let answer = env
        .query(
            ALICE,
            r#"{ sap_s4 { A_BusinessPartner(top: 3, orderBy: {BusinessPartner: asc}) { nodes {
                BusinessPartner BusinessPartnerFullName opportunities { totalCount nodes { ID } } } } } }"#,
            Value::Null,
        )
        .await?;
    let nodes = answer["data"]["sap_s4"]["A_BusinessPartner"]["nodes"]
        .as_array()
        .expect("the partners still arrive");
    let names: Vec<&str> = nodes
        .iter()
        .map(|node| node["BusinessPartnerFullName"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        ["O'Neil & Sons", "Acme Corporation", "Initech LLC"],
        "{answer:#}"
    );
    for node in nodes {
        assert!(node["opportunities"].is_null(), "{answer:#}");
    }
    let errors = errors_of(&answer);
    assert_eq!(errors.len(), 3, "one error per null field: {answer:#}");
    for (index, error) in errors.iter().enumerate() {
        let one = json!({ "errors": [error] });
        assert_backend_error(
            &one,
            json!([
                "sap_s4",
                "A_BusinessPartner",
                "nodes",
                index,
                "opportunities"
            ]),
            "BACKEND_UNAVAILABLE",
            "crm",
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_stopped_s4_nulls_the_partners_of_opportunities_that_still_arrive() -> anyhow::Result<()>
{
    let mut env = GraphEnv::start("graph-failures-s4", GraphOptions::both_protocols()).await?;
    env.s4.stop();
    let answer = env
        .query(
            ALICE,
            r#"{ crm { Opportunities(top: 3, orderBy: {ID: asc}) { nodes { ID partner { BusinessPartner } } } }
                 s4v4 { A_ProductByKey(Product: "HT-1000") { Product } } }"#,
            Value::Null,
        )
        .await?;
    assert_eq!(
        answer["data"],
        json!({"crm": {"Opportunities": {"nodes": [
                {"ID": 1, "partner": null}, {"ID": 3, "partner": null}, {"ID": 5, "partner": null}]}},
               "s4v4": {"A_ProductByKey": null}}),
        "{answer:#}"
    );
    let errors = errors_of(&answer);
    assert_eq!(
        errors.len(),
        4,
        "one per null partner and the read by key: {answer:#}"
    );
    let at = |path: Value| {
        errors
            .iter()
            .find(|error| error["path"] == path)
            .unwrap_or_else(|| panic!("no error at {path}: {answer:#}"))
    };
    for index in 0..3 {
        let join = at(json!(["crm", "Opportunities", "nodes", index, "partner"]));
        assert_eq!(join["extensions"]["code"], "BACKEND_UNAVAILABLE");
        assert_eq!(join["extensions"]["backend"], "sap.s4");
    }
    let by_key = at(json!(["s4v4", "A_ProductByKey"]));
    assert_eq!(by_key["extensions"]["code"], "BACKEND_UNAVAILABLE");
    assert_eq!(by_key["extensions"]["backend"], "s4v4");
    assert!(by_key["extensions"]["traceId"].is_string());
    Ok(())
}

/// A stand-in for the S/4 system's `$metadata` endpoint: invalid XML while `broken`, else the
/// real document (fetched from CAP once at start).
#[derive(Debug, Clone)]
struct MetadataStandIn {
    broken: Arc<AtomicBool>,
    document: Arc<String>,
}

async fn metadata(State(standin): State<MetadataStandIn>) -> impl IntoResponse {
    let body = if standin.broken.load(Ordering::SeqCst) {
        r#"<?xml version="1.0"?><edmx:Edmx Version="1.0"><edmx:DataServices><Schema"#.to_owned()
    } else {
        standin.document.as_str().to_owned()
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/xml")],
        body,
    )
}

#[tokio::test]
async fn a_broken_metadata_leaves_its_source_out_until_a_refresh_after_the_repair()
-> anyhow::Result<()> {
    // The CAP backends first, for the real document; the gateway later, on the stand-in.
    let mut env = GraphEnv::start(
        "graph-failures-metadata",
        GraphOptions {
            associations: false,
            ..GraphOptions::default()
        },
    )
    .await?;
    let document = reqwest::Client::new()
        .get(env.s4.url("/odata/v2/sales/$metadata"))
        .basic_auth(ADMIN.0, Some(ADMIN.1))
        .send()
        .await?
        .text()
        .await?;
    assert!(document.contains("A_SalesOrder"), "{document}");
    let standin = MetadataStandIn {
        broken: Arc::new(AtomicBool::new(true)),
        document: Arc::new(document),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let standin_url = format!("http://{}", listener.local_addr()?);
    let router = Router::new()
        .route("/odata/v2/sales/$metadata", get(metadata))
        .with_state(standin.clone());
    let server = tokio::spawn(async move {
        // The server ends with the test.
        let _ = axum::serve(listener, router).await;
    });

    env.restart_gateway(GraphOptions {
        s4_metadata_url: Some(standin_url.clone()),
        ..GraphOptions::default()
    })
    .await?;

    let (status, ready) = env.get("readyz", ALICE).await?;
    assert_eq!(status, 503, "{ready:#}");
    let sources = ready["sources"].as_array().expect("sources");
    let s4 = sources
        .iter()
        .find(|source| source["name"] == "sap.s4")
        .expect("sap.s4 is reported");
    assert_eq!(s4["state"], "failed", "{ready:#}");
    let service = &s4["services"][0];
    assert_eq!(
        service["url"],
        format!("{standin_url}/odata/v2/sales/$metadata"),
        "{ready:#}"
    );
    assert!(
        service["error"]
            .as_str()
            .is_some_and(|error| error.contains("does not parse")),
        "{ready:#}"
    );
    let crm = sources
        .iter()
        .find(|source| source["name"] == "crm")
        .expect("crm is reported");
    assert_eq!(crm["state"], "ready", "{ready:#}");

    // The rest of the graph serves; the missing namespace is not in the schema, and neither
    // are the associations into it.
    let data = env
        .data(
            ALICE,
            "{ crm { Opportunities(top: 1, orderBy: {ID: asc}) { nodes { ID title } } } }",
        )
        .await?;
    assert_eq!(
        data["crm"]["Opportunities"]["nodes"],
        json!([{"ID": 1, "title": "O'Neil & Sons – Müller joint bid"}])
    );
    let answer = env
        .query(
            ALICE,
            "{ sap_s4 { A_SalesOrder { nodes { SalesOrder } } } }",
            Value::Null,
        )
        .await?;
    assert!(
        errors_of(&answer)[0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("sap_s4")),
        "{answer:#}"
    );
    let answer = env
        .query(
            ALICE,
            "{ crm { Opportunities(top: 1) { nodes { partner { BusinessPartner } } } } }",
            Value::Null,
        )
        .await?;
    assert!(!errors_of(&answer).is_empty(), "{answer:#}");

    // Repaired and refreshed: the source is back, with its joins.
    standin.broken.store(false, Ordering::SeqCst);
    let (status, report) = env.post("admin/refresh", ADMIN).await?;
    assert_eq!(status, 200, "{report:#}");
    assert_eq!(report["ready"], true, "{report:#}");
    let (status, ready) = env.get("readyz", ALICE).await?;
    assert_eq!(status, 200, "{ready:#}");
    let data = env
        .data(
            ALICE,
            r#"{ crm { Opportunities(top: 1, orderBy: {ID: asc}) { nodes { ID partner { BusinessPartnerFullName } } } }
                 sap_s4 { A_SalesOrderByKey(SalesOrder: "5000000001") { SoldToParty } } }"#,
        )
        .await?;
    assert_eq!(
        data,
        json!({"crm": {"Opportunities": {"nodes": [{"ID": 1, "partner": {"BusinessPartnerFullName": "O'Neil & Sons"}}]}},
               "sap_s4": {"A_SalesOrderByKey": {"SoldToParty": "1000001"}}})
    );
    server.abort();
    Ok(())
}

#[tokio::test]
async fn a_source_behind_a_closed_port_is_reported_and_the_rest_serves() -> anyhow::Result<()> {
    // A port that was free a moment ago and has no listener now.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.port()
    };
    let erp_url = format!("http://127.0.0.1:{closed}");
    let env = GraphEnv::start(
        "graph-failures-closed-port",
        GraphOptions {
            extra_destinations: vec![json!({
                "Name": "ERP", "Type": "HTTP", "URL": erp_url, "ProxyType": "Internet",
                "Authentication": "BasicAuthentication", "User": "admin", "Password": "admin-pw"
            })],
            extra_sources: "\n[[graph.data_sources]]\nname = \"erp\"\nservices = [{ destination = \"ERP\", path = \"/sap/opu/odata/sap/API_BUSINESS_PARTNER\" }]\n".to_owned(),
            ..GraphOptions::default()
        },
    )
    .await?;
    let (status, ready) = env.get("readyz", ALICE).await?;
    assert_eq!(status, 503, "{ready:#}");
    let erp = ready["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|source| source["name"] == "erp")
        .expect("erp is reported");
    assert_eq!(erp["state"], "failed", "{ready:#}");
    assert_eq!(
        erp["services"][0]["url"],
        format!("{erp_url}/sap/opu/odata/sap/API_BUSINESS_PARTNER/$metadata"),
        "{ready:#}"
    );
    let cause = erp["services"][0]["error"].as_str().unwrap_or_default();
    assert!(
        cause.contains("ERP") && cause.to_lowercase().contains("connect"),
        "the cause names the destination and the connection failure: {ready:#}"
    );
    for name in ["sap.s4", "crm"] {
        assert_eq!(readyz_source(&ready, name)["state"], "ready", "{ready:#}");
    }
    env.assert_first_opportunity_has_its_partner().await?;
    Ok(())
}

#[tokio::test]
async fn limits_answer_limit_exceeded() -> anyhow::Result<()> {
    let mut env = GraphEnv::start(
        "graph-failures-limits",
        GraphOptions {
            limits: vec!["max_top = 50".to_owned(), "max_depth = 6".to_owned()],
            ..GraphOptions::default()
        },
    )
    .await?;
    env.clear_requests().await?;

    // `top` above the ceiling, at the top level and on a nested collection: nothing is sent.
    let answer = env
        .query(
            ALICE,
            r#"{ crm { big: Opportunities(top: 51) { nodes { ID } } ok: Opportunities(top: 1, orderBy: {ID: asc}) { nodes { ID } } } }"#,
            Value::Null,
        )
        .await?;
    let errors = errors_of(&answer);
    assert_eq!(errors.len(), 1, "{answer:#}");
    assert_eq!(
        errors[0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{answer:#}"
    );
    assert_eq!(errors[0]["path"], json!(["crm", "big"]), "{answer:#}");
    assert!(answer["data"]["crm"]["big"].is_null(), "{answer:#}");
    assert_eq!(
        answer["data"]["crm"]["ok"]["nodes"],
        json!([{"ID": 1}]),
        "{answer:#}"
    );
    let answer = env
        .query(
            ALICE,
            r#"{ sap_s4 { A_BusinessPartner(top: 1) { nodes { to_SalesOrder(top: 500) { nodes { SalesOrder } } } } } }"#,
            Value::Null,
        )
        .await?;
    let errors = errors_of(&answer);
    assert_eq!(errors.len(), 1, "{answer:#}");
    assert_eq!(
        errors[0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{answer:#}"
    );
    let (s4, crm) = env.requests().await?;
    assert_eq!(s4.len(), 0, "{s4:#?}");
    assert_eq!(crm.len(), 1, "only the allowed read: {crm:#?}");

    // Too deep: refused before anything runs.
    let answer = env
        .query(
            ALICE,
            r#"{ crm { Opportunities(top: 1) { nodes { partner { to_SalesOrder { nodes { to_Item { nodes { to_Product { Product } } } } } } } } } }"#,
            Value::Null,
        )
        .await?;
    let errors = errors_of(&answer);
    assert_eq!(errors.len(), 1, "{answer:#}");
    assert_eq!(
        errors[0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{answer:#}"
    );
    assert!(answer["data"].is_null(), "{answer:#}");
    let (s4, crm) = env.requests().await?;
    assert_eq!((s4.len(), crm.len()), (0, 1), "nothing more was sent");

    // Too many fields selected.
    env.restart_gateway(GraphOptions {
        limits: vec!["max_nodes = 5".to_owned()],
        ..GraphOptions::default()
    })
    .await?;
    env.clear_requests().await?;
    let answer = env
        .query(
            ALICE,
            "{ crm { Opportunities(top: 1) { nodes { ID title amount closeDate stage } } } }",
            Value::Null,
        )
        .await?;
    let errors = errors_of(&answer);
    assert_eq!(errors.len(), 1, "{answer:#}");
    assert_eq!(
        errors[0]["extensions"]["code"], "LIMIT_EXCEEDED",
        "{answer:#}"
    );
    let (_, crm) = env.requests().await?;
    assert!(crm.is_empty(), "nothing was sent: {crm:#?}");
    Ok(())
}

#[tokio::test]
async fn a_join_level_above_max_join_rows_answers_limit_exceeded_instead_of_cutting_rows()
-> anyhow::Result<()> {
    let query = r#"{ sap_s4 { A_BusinessPartner(top: 3, orderBy: {BusinessPartner: asc}) { nodes {
        BusinessPartner opportunities { nodes { ID } } } } } }"#;
    let mut env = GraphEnv::start("graph-failures-join-rows", GraphOptions::default()).await?;
    let data = env.data(ALICE, query).await?;
    let counts: Vec<usize> = data["sap_s4"]["A_BusinessPartner"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|node| {
            node["opportunities"]["nodes"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .collect();
    let total: usize = counts.iter().sum();
    assert!(
        counts.iter().filter(|&&count| count > 0).count() >= 2,
        "the level spans several parents with rows: {data:#}"
    );

    // Exactly at the limit: every row arrives. One key per request (a tiny URL limit), so the
    // rows of the level come from several requests, none of them above the limit on its own.
    let limits = |rows: usize| GraphOptions {
        limits: vec![
            format!("max_join_rows = {rows}"),
            "max_url_bytes = 60".to_owned(),
        ],
        ..GraphOptions::default()
    };
    env.restart_gateway(limits(total)).await?;
    assert_eq!(env.data(ALICE, query).await?, data);

    // One row fewer allowed: the field is null with LIMIT_EXCEEDED naming the limit and the
    // relation, never a shorter list that looks complete.
    env.restart_gateway(limits(total - 1)).await?;
    let answer = env.query(ALICE, query, Value::Null).await?;
    let nodes = answer["data"]["sap_s4"]["A_BusinessPartner"]["nodes"]
        .as_array()
        .expect("the partners still arrive");
    assert_eq!(nodes.len(), 3, "{answer:#}");
    let errors = errors_of(&answer);
    assert!(!errors.is_empty(), "{answer:#}");
    for (node, count) in nodes.iter().zip(&counts) {
        if *count > 0 {
            assert!(node["opportunities"].is_null(), "{answer:#}");
        }
    }
    for error in &errors {
        assert_eq!(error["extensions"]["code"], "LIMIT_EXCEEDED", "{answer:#}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("max_join_rows")
                && message.contains(&(total - 1).to_string())
                && message.contains("A_BusinessPartner.opportunities"),
            "names the limit and the relation: {answer:#}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_refresh_that_cannot_reach_a_working_source_keeps_it_with_its_last_metadata()
-> anyhow::Result<()> {
    let mut env = GraphEnv::start("graph-failures-stale", GraphOptions::default()).await?;
    let (status, ready) = env.get("readyz", ALICE).await?;
    assert_eq!(status, 200, "{ready:#}");

    // The CRM goes away, then the graph is refreshed.
    env.crm.stop();
    let (status, report) = env.post("admin/refresh", ADMIN).await?;
    assert_eq!(status, 200, "{report:#}");
    assert_eq!(report["ready"], false, "{report:#}");

    // /readyz says the source is degraded, its service stale, and why.
    let (status, ready) = env.get("readyz", ALICE).await?;
    assert_eq!(status, 503, "{ready:#}");
    let source = |name: &str| readyz_source(&ready, name);
    let crm = source("crm");
    assert_eq!(crm["state"], "degraded", "{ready:#}");
    let service = &crm["services"][0];
    assert_eq!(service["state"], "stale", "{ready:#}");
    assert_eq!(service["ok"], true, "{ready:#}");
    assert_eq!(service["version"], "4.0", "{ready:#}");
    assert!(
        service["entity_sets"].as_u64().is_some_and(|sets| sets > 0),
        "{ready:#}"
    );
    let cause = service["error"].as_str().unwrap_or_default();
    assert!(
        cause.contains("stale")
            && cause.contains("CRM_TECH")
            && cause.to_lowercase().contains("connect"),
        "the cause names the destination and the connection failure: {ready:#}"
    );
    assert_eq!(source("sap.s4")["state"], "ready", "{ready:#}");

    // The namespace and the associations into it are still in the schema: its fields fail
    // because the backend is down, not because the schema forgot them.
    let answer = env
        .query(
            ALICE,
            "{ crm { Opportunities(top: 1) { nodes { ID } } } }",
            Value::Null,
        )
        .await?;
    assert_backend_error(
        &answer,
        json!(["crm", "Opportunities"]),
        "BACKEND_UNAVAILABLE",
        "crm",
    );
    let answer = env
        .query(
            ALICE,
            r#"{ sap_s4 { A_BusinessPartner(top: 1, orderBy: {BusinessPartner: asc}) { nodes {
                BusinessPartner opportunities { nodes { ID } } } } } }"#,
            Value::Null,
        )
        .await?;
    assert_eq!(
        answer["data"]["sap_s4"]["A_BusinessPartner"]["nodes"],
        json!([{"BusinessPartner": "1000001", "opportunities": null}]),
        "{answer:#}"
    );
    assert_backend_error(
        &answer,
        json!(["sap_s4", "A_BusinessPartner", "nodes", 0, "opportunities"]),
        "BACKEND_UNAVAILABLE",
        "crm",
    );
    Ok(())
}
