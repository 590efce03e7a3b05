//! `bizgraph demo` end to end: the embedded backends, the gateway configured over them as the
//! binary does, and GraphQL queries as the two demo users.

use std::sync::Arc;

use bizgraph_config::Settings;
use bizgraph_gateway::demo;
use bizgraph_gateway::startup::Environment;
use serde_json::{Value, json};

struct Demo {
    url: String,
    _backends: demo::DemoBackends,
    _refresher: Option<bizgraph_gateway::startup::Refresher>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start() -> Demo {
    start_with(|settings| settings).await
}

/// Starts the demo with its settings changed by `adjust`.
async fn start_with(adjust: impl FnOnce(String) -> String) -> Demo {
    let backends = demo::start().await.expect("demo backends start");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("bound");
    let (settings, destinations) = demo::gateway_config(&backends, address);
    let settings =
        Settings::from_toml(&adjust(settings), "demo settings").expect("demo settings parse");
    let environment = Environment {
        destinations: Some(destinations),
        ..Environment::default()
    };
    let state = bizgraph_gateway::startup::start(&settings, &environment)
        .await
        .expect("the gateway starts");
    let state = Arc::new(state);
    let refresher = bizgraph_gateway::startup::spawn_refresher(&state);
    let router = bizgraph_gateway::server::app(state);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Demo {
        url: format!("http://{address}"),
        _backends: backends,
        _refresher: refresher,
        task,
    }
}

async fn query(demo: &Demo, user: &str, query: &str) -> Value {
    let answer = reqwest::Client::new()
        .post(format!("{}/graphql", demo.url))
        .basic_auth(user, Some(user))
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(answer.status(), 200);
    let body: Value = answer.json().await.expect("JSON");
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

#[tokio::test]
async fn the_demo_serves_both_systems_and_each_user_sees_their_region() {
    let demo = start().await;
    let ready = reqwest::get(format!("{}/readyz", demo.url))
        .await
        .expect("readyz answers");
    assert_eq!(ready.status(), 200, "both demo sources load");
    // A browser opening the GraphQL URL gets the query page, without signing in first.
    let page = reqwest::get(format!("{}/graphql", demo.url))
        .await
        .expect("the page answers");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("text");
    assert!(
        html.contains("<textarea id=\"query\"") && html.contains("fetch('graphql'"),
        "{html}"
    );

    // GraphQL over HTTP GET runs queries, never mutations, whatever the document's order.
    let client = reqwest::Client::new();
    let get = |query: &str, operation: Option<&str>| {
        let mut url = url::Url::parse(&format!("{}/graphql", demo.url)).expect("a URL");
        url.query_pairs_mut().append_pair("query", query);
        if let Some(name) = operation {
            url.query_pairs_mut().append_pair("operationName", name);
        }
        client.get(url).basic_auth("alice", Some("alice")).send()
    };
    let answer = get("{ crm { Opportunities { totalCount } } }", None)
        .await
        .expect("answers");
    assert_eq!(answer.status(), 200);
    let mutation = "query A { crm { Opportunities { totalCount } } } mutation B { sap_s4 { A_SalesOrder_delete(SalesOrder: \"5000001\") } }";
    let answer = get(mutation, Some("B")).await.expect("answers");
    assert_eq!(
        answer.status(),
        405,
        "a mutation named after a query is still refused"
    );
    let answer = get(mutation, Some("A")).await.expect("answers");
    assert_eq!(answer.status(), 200, "the query of the same document runs");

    // The query the binary prints: opportunities (v4) with their S/4 partner (v2) and the
    // partner's sales orders, for each user.
    for (user, region) in [("alice", "EU"), ("bob", "US")] {
        let data = query(
            &demo,
            user,
            "{ crm { Opportunities(orderBy: {ID: asc}) { totalCount nodes { ID region accountBpId partner { BusinessPartner Region to_SalesOrder { nodes { SoldToParty Region } } } } } } }",
        )
        .await;
        let connection = &data["crm"]["Opportunities"];
        assert_eq!(
            connection["totalCount"], 20,
            "{user}: 20 of the 40 opportunities"
        );
        let nodes = connection["nodes"].as_array().expect("nodes");
        assert_eq!(nodes.len(), 20);
        for node in nodes {
            assert_eq!(node["region"], region, "{user} sees only {region}: {node}");
            let partner = &node["partner"];
            assert_eq!(
                partner["BusinessPartner"], node["accountBpId"],
                "joined on the id"
            );
            assert_eq!(partner["Region"], region);
            for order in partner["to_SalesOrder"]["nodes"]
                .as_array()
                .expect("orders")
            {
                assert_eq!(order["SoldToParty"], partner["BusinessPartner"]);
                assert_eq!(order["Region"], region);
            }
        }
    }

    // The reverse association, to-many, with per-partner paging and counts.
    let data = query(
        &demo,
        "alice",
        "{ sap_s4 { A_BusinessPartner(orderBy: {BusinessPartner: asc}) { nodes { BusinessPartner opportunities(top: 1, orderBy: {ID: desc}) { totalCount nodes { ID accountBpId } } } } } }",
    )
    .await;
    let partners = data["sap_s4"]["A_BusinessPartner"]["nodes"]
        .as_array()
        .expect("partners");
    assert_eq!(partners.len(), 6);
    let mut total = 0;
    for partner in partners {
        let opportunities = &partner["opportunities"];
        let nodes = opportunities["nodes"].as_array().expect("nodes");
        assert!(nodes.len() <= 1, "top 1 per partner: {partner}");
        for node in nodes {
            assert_eq!(node["accountBpId"], partner["BusinessPartner"]);
        }
        total += opportunities["totalCount"]
            .as_u64()
            .expect("a count per partner");
    }
    assert_eq!(total, 20, "every EU opportunity belongs to one EU partner");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refreshing_the_graph_drops_no_request() {
    let demo = start().await;
    let client = reqwest::Client::new();
    let refreshes = {
        let client = client.clone();
        let url = format!("{}/admin/refresh", demo.url);
        tokio::spawn(async move {
            let mut done = 0;
            for _ in 0..10 {
                let answer = client
                    .post(&url)
                    .basic_auth("alice", Some("alice"))
                    .send()
                    .await
                    .expect("refresh answers");
                assert_eq!(answer.status(), 200);
                let report: Value = answer.json().await.expect("JSON");
                assert_eq!(report["ready"], true, "{report}");
                done += 1;
            }
            done
        })
    };
    let mut queries = Vec::new();
    for round in 0..40 {
        let client = client.clone();
        let url = format!("{}/graphql", demo.url);
        let user = if round % 2 == 0 { "alice" } else { "bob" };
        queries.push(tokio::spawn(async move {
            let body: Value = client
                .post(&url)
                .basic_auth(user, Some(user))
                .json(&json!({ "query": "{ crm { Opportunities { totalCount nodes { partner { BusinessPartner } } } } }" }))
                .send()
                .await
                .expect("the gateway answers")
                .json()
                .await
                .expect("JSON");
            assert!(body.get("errors").is_none(), "{body}");
            body["data"]["crm"]["Opportunities"]["totalCount"].as_u64()
        }));
    }
    for query in queries {
        assert_eq!(query.await.expect("no panic"), Some(20));
    }
    assert_eq!(refreshes.await.expect("no panic"), 10);
    let unauthenticated = client
        .post(format!("{}/admin/refresh", demo.url))
        .send()
        .await
        .expect("answers");
    assert_eq!(unauthenticated.status(), 401, "refresh needs a caller");
    let not_admin = client
        .post(format!("{}/admin/refresh", demo.url))
        .basic_auth("bob", Some("bob"))
        .send()
        .await
        .expect("answers");
    assert_eq!(not_admin.status(), 403, "refresh needs an administrator");
    let body: Value = not_admin.json().await.expect("JSON");
    assert_eq!(body["error"]["code"], "FORBIDDEN", "{body}");
}

#[tokio::test]
async fn the_graph_is_refreshed_on_its_interval() {
    let demo = start_with(|settings| {
        settings.replace(
            "refresh_interval_seconds = 0",
            "refresh_interval_seconds = 1",
        )
    })
    .await;
    let loaded_at = || async {
        let report: Value = reqwest::get(format!("{}/readyz", demo.url))
            .await
            .expect("readyz answers")
            .json()
            .await
            .expect("JSON");
        assert_eq!(report["ready"], true, "{report}");
        report["loadedAt"].as_u64().expect("a load time")
    };
    let first = loaded_at().await;
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let later = loaded_at().await;
    assert!(
        later >= first + 1_000,
        "reloaded within 2.5 s: {first} then {later}"
    );
    // Queries keep working across the swaps.
    let data = query(&demo, "bob", "{ crm { Opportunities { totalCount } } }").await;
    assert_eq!(data["crm"]["Opportunities"]["totalCount"], 20);
}
