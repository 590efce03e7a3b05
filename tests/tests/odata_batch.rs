//! `$batch` on the OData v4 endpoint, against the real CAP backends: multipart/mixed and JSON
//! batches whose inner requests answer exactly as they do alone, change sets that run in order
//! and stop at the first failure, and the caller's own rows throughout.
//!
//! Needs `npm ci --prefix tests/backends` (see tests/backends/README.md).

use bizgraph_tests::cap::{ALICE, BOB};
use bizgraph_tests::graph_env::{GraphEnv, GraphOptions};
use serde_json::{Value, json};

async fn single(env: &GraphEnv, path: &str, user: (&str, &str)) -> Value {
    reqwest::Client::new()
        .get(env.gateway.url(&format!("odata/v4/{path}")))
        .basic_auth(user.0, Some(user.1))
        .header("accept", "application/json;IEEE754Compatible=true")
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON")
}

#[tokio::test]
async fn batches_answer_like_single_requests_and_change_sets_stop_at_a_failure() {
    let env = GraphEnv::start("odata-batch", GraphOptions::both_protocols())
        .await
        .expect("backends and gateway start");
    let client = reqwest::Client::new();
    let reads = [
        "A_SalesOrder?$top=3&$orderby=SalesOrder&$select=SalesOrder,TotalNetAmount",
        "A_BusinessPartner?$filter=contains(BusinessPartnerFullName,'GmbH')&$orderby=BusinessPartner",
    ];

    // JSON batch (OData JSON Format 4.01 section 19), per user.
    for user in [ALICE, BOB] {
        let requests: Vec<Value> = reads
            .iter()
            .enumerate()
            .map(|(index, url)| {
                json!({
                    "id": index.to_string(),
                    "method": "GET",
                    "url": url,
                    "headers": { "accept": "application/json;IEEE754Compatible=true" },
                })
            })
            .collect();
        let answer: Value = client
            .post(env.gateway.url("odata/v4/s4v4/$batch"))
            .basic_auth(user.0, Some(user.1))
            .json(&json!({ "requests": requests }))
            .send()
            .await
            .expect("answers")
            .json()
            .await
            .expect("JSON");
        let responses = answer["responses"].as_array().expect("responses");
        assert_eq!(responses.len(), reads.len(), "{answer}");
        for (index, url) in reads.iter().enumerate() {
            let response = &responses[index];
            assert_eq!(response["id"], index.to_string());
            assert_eq!(response["status"], 200, "{response}");
            assert_eq!(
                response["body"],
                single(&env, &format!("s4v4/{url}"), user).await,
                "{url} as {}",
                user.0
            );
        }
    }

    // multipart/mixed (OData 4.01 part 1, section 11.7.7) over the v2 backend's namespace.
    let mut body = String::new();
    for url in reads {
        body.push_str(&format!(
            "--batch_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET {url} HTTP/1.1\r\nAccept: application/json;IEEE754Compatible=true\r\n\r\n\r\n"
        ));
    }
    body.push_str("--batch_1--\r\n");
    let answer = client
        .post(env.gateway.url("odata/v4/sap.s4/$batch"))
        .basic_auth(ALICE.0, Some(ALICE.1))
        .header("content-type", "multipart/mixed; boundary=batch_1")
        .body(body)
        .send()
        .await
        .expect("answers");
    assert_eq!(answer.status(), 200);
    let content_type = answer.headers()["content-type"]
        .to_str()
        .expect("text")
        .to_owned();
    assert!(
        content_type.starts_with("multipart/mixed; boundary="),
        "{content_type}"
    );
    let text = answer.text().await.expect("text");
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    for url in reads {
        let expected = single(&env, &format!("sap.s4/{url}"), ALICE).await;
        assert!(
            text.contains(&expected.to_string()),
            "{url}: the part holds the same JSON as the single request:\n{text}"
        );
    }

    // A change set whose second request fails (stale ETag): its answer stands for the change
    // set, the backend applied neither change (one change set of its own `$batch`), and, as the
    // client prefers continue-on-error, a later read still runs.
    let order: Value = single(&env, "s4v4/A_SalesOrder?$top=1&$orderby=SalesOrder", ALICE).await;
    let order = &order["value"][0];
    let key = order["SalesOrder"].as_str().expect("an order").to_owned();
    let etag = order["@odata.etag"].as_str().expect("an ETag").to_owned();
    let original = order["OverallSDProcessStatus"].clone();
    assert_ne!(original, "B", "the change below must be visible");
    env.clear_requests().await.expect("log cleared");
    let requests = json!({ "requests": [
        { "id": "a", "atomicityGroup": "g", "method": "PATCH", "url": format!("A_SalesOrder('{key}')"),
          "headers": { "if-match": etag, "content-type": "application/json" }, "body": { "OverallSDProcessStatus": "B" } },
        { "id": "b", "atomicityGroup": "g", "method": "PATCH", "url": format!("A_SalesOrder('{key}')"),
          "headers": { "if-match": "W/\"stale\"", "content-type": "application/json" }, "body": { "OverallSDProcessStatus": "C" } },
        { "id": "c", "method": "GET", "url": format!("A_SalesOrder('{key}')?$select=OverallSDProcessStatus") },
    ]});
    // Without the preference the batch stops at the failed change set (OData 4.01 part 1,
    // section 8.2.8.3): the read after it is not answered.
    let stopped = client
        .post(env.gateway.url("odata/v4/s4v4/$batch"))
        .basic_auth(ALICE.0, Some(ALICE.1))
        .json(&requests)
        .send()
        .await
        .expect("answers");
    assert_eq!(stopped.headers().get("preference-applied"), None);
    let stopped: Value = stopped.json().await.expect("JSON");
    let ids: Vec<&str> = stopped["responses"]
        .as_array()
        .expect("responses")
        .iter()
        .filter_map(|r| r["id"].as_str())
        .collect();
    assert_eq!(ids, ["b"], "the batch stops at the failure: {stopped}");
    let answer = client
        .post(env.gateway.url("odata/v4/s4v4/$batch"))
        .basic_auth(ALICE.0, Some(ALICE.1))
        .header("prefer", "odata.continue-on-error")
        .json(&requests)
        .send()
        .await
        .expect("answers");
    assert_eq!(
        answer.headers()["preference-applied"],
        "odata.continue-on-error"
    );
    let answer: Value = answer.json().await.expect("JSON");
    let responses = answer["responses"].as_array().expect("responses");
    let ids: Vec<&str> = responses.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(
        ids,
        ["b", "c"],
        "the failed request stands for its change set: {answer}"
    );
    assert_eq!(responses[0]["status"], 412, "{answer}");
    assert_eq!(responses[1]["status"], 200, "{answer}");
    assert_eq!(
        responses[1]["body"]["OverallSDProcessStatus"], original,
        "the first change was rolled back with the second: {answer}"
    );
    let (s4_log, _) = env.requests().await.expect("request log");
    let changes: Vec<String> = s4_log
        .iter()
        .filter(|entry| entry.method != "GET")
        .map(|entry| format!("{} {}", entry.method, entry.url))
        .collect();
    assert_eq!(
        changes,
        ["POST /odata/v4/sales/$batch", "POST /odata/v4/sales/$batch"],
        "both changes went to CAP in one batch, none alone, each time"
    );
}

/// PATCHes of two orders' status in one change set, through `namespace`.
fn status_change_set(namespace_orders: &[(String, String, &str)]) -> Value {
    let requests: Vec<Value> = namespace_orders
        .iter()
        .enumerate()
        .map(|(index, (key, etag, status))| {
            json!({ "id": index.to_string(), "atomicityGroup": "g", "method": "PATCH",
                    "url": format!("A_SalesOrder('{key}')"),
                    "headers": { "if-match": etag, "content-type": "application/json" },
                    "body": { "OverallSDProcessStatus": status } })
        })
        .collect();
    json!({ "requests": requests })
}

#[tokio::test]
async fn change_sets_are_all_or_nothing_at_the_backend_over_v4_and_v2() {
    let env = GraphEnv::start("odata-batch-atomic", GraphOptions::both_protocols())
        .await
        .expect("backends and gateway start");
    let client = reqwest::Client::new();
    for (namespace, batch_path) in [
        ("s4v4", "/odata/v4/sales/$batch"),
        ("sap.s4", "/odata/v2/sales/$batch"),
    ] {
        let orders = single(
            &env,
            &format!("{namespace}/A_SalesOrder?$top=2&$orderby=SalesOrder desc"),
            ALICE,
        )
        .await;
        let rows = orders["value"].as_array().expect("orders").clone();
        assert_eq!(rows.len(), 2, "{orders}");
        let keyed: Vec<(String, String)> = rows
            .iter()
            .map(|row| {
                (
                    row["SalesOrder"].as_str().expect("key").to_owned(),
                    row["@odata.etag"].as_str().expect("ETag").to_owned(),
                )
            })
            .collect();
        let status_of = |key: &str| {
            let env = &env;
            let key = key.to_owned();
            async move {
                single(
                    env,
                    &format!("{namespace}/A_SalesOrder('{key}')?$select=OverallSDProcessStatus"),
                    ALICE,
                )
                .await["OverallSDProcessStatus"]
                    .clone()
            }
        };
        let before = [status_of(&keyed[0].0).await, status_of(&keyed[1].0).await];

        // Second change refused by CAP (stale ETag): neither is kept.
        env.clear_requests().await.expect("log cleared");
        let failing = status_change_set(&[
            (keyed[0].0.clone(), keyed[0].1.clone(), "X"),
            (keyed[1].0.clone(), "W/\"stale\"".to_owned(), "X"),
        ]);
        let answer: Value = client
            .post(env.gateway.url(&format!("odata/v4/{namespace}/$batch")))
            .basic_auth(ALICE.0, Some(ALICE.1))
            .json(&failing)
            .send()
            .await
            .expect("answers")
            .json()
            .await
            .expect("JSON");
        let responses = answer["responses"].as_array().expect("responses");
        assert_eq!(responses.len(), 1, "{namespace}: {answer}");
        assert_eq!(responses[0]["status"], 412, "{namespace}: {answer}");
        assert_eq!(
            [status_of(&keyed[0].0).await, status_of(&keyed[1].0).await],
            before,
            "{namespace}: nothing changed"
        );
        let (s4_log, _) = env.requests().await.expect("request log");
        let posts: Vec<&str> = s4_log
            .iter()
            .filter(|entry| entry.method != "GET")
            .map(|entry| entry.url.as_str())
            .collect();
        assert_eq!(posts, [batch_path], "{namespace}: one backend batch");

        // Both valid: both kept, each answered with its row.
        let fresh: Vec<(String, String)> = {
            let mut fresh = Vec::new();
            for (key, _) in &keyed {
                let row = single(&env, &format!("{namespace}/A_SalesOrder('{key}')"), ALICE).await;
                fresh.push((
                    key.clone(),
                    row["@odata.etag"].as_str().expect("ETag").to_owned(),
                ));
            }
            fresh
        };
        let passing = status_change_set(&[
            (fresh[0].0.clone(), fresh[0].1.clone(), "B"),
            (fresh[1].0.clone(), fresh[1].1.clone(), "C"),
        ]);
        let answer: Value = client
            .post(env.gateway.url(&format!("odata/v4/{namespace}/$batch")))
            .basic_auth(ALICE.0, Some(ALICE.1))
            .json(&passing)
            .send()
            .await
            .expect("answers")
            .json()
            .await
            .expect("JSON");
        let responses = answer["responses"].as_array().expect("responses");
        assert_eq!(responses.len(), 2, "{namespace}: {answer}");
        for (index, status) in ["B", "C"].iter().enumerate() {
            // PATCH answers 204 unless the client prefers the representation (section 11.4.3).
            assert_eq!(responses[index]["status"], 204, "{namespace}: {answer}");
            assert!(
                responses[index]["headers"]["etag"].is_string(),
                "{namespace}: {answer}"
            );
            assert_eq!(status_of(&fresh[index].0).await, *status, "{namespace}");
        }

        // A change refused by the gateway itself (unknown property): nothing reaches CAP.
        env.clear_requests().await.expect("log cleared");
        let mut refused = status_change_set(&[
            (fresh[0].0.clone(), "*".to_owned(), "A"),
            (fresh[1].0.clone(), "*".to_owned(), "A"),
        ]);
        refused["requests"][1]["body"] = json!({ "NoSuchProperty": 1 });
        let answer: Value = client
            .post(env.gateway.url(&format!("odata/v4/{namespace}/$batch")))
            .basic_auth(ALICE.0, Some(ALICE.1))
            .json(&refused)
            .send()
            .await
            .expect("answers")
            .json()
            .await
            .expect("JSON");
        let responses = answer["responses"].as_array().expect("responses");
        assert_eq!(responses.len(), 1, "{namespace}: {answer}");
        assert_eq!(responses[0]["status"], 400, "{namespace}: {answer}");
        assert!(
            responses[0]["body"]["error"]["message"]
                .as_str()
                .is_some_and(|m| m.contains("NoSuchProperty")),
            "{namespace}: the gateway's own refusal stands for the change set: {answer}"
        );
        assert_eq!(
            status_of(&fresh[0].0).await,
            "B",
            "{namespace}: first not applied"
        );
        let (s4_log, _) = env.requests().await.expect("request log");
        assert!(
            s4_log.iter().all(|entry| entry.method == "GET"),
            "{namespace}: nothing sent: {s4_log:?}"
        );
    }
}

#[tokio::test]
async fn a_change_set_spanning_two_services_reaches_neither() {
    // One namespace over two services (the S/4 app's v4 service and the CRM service).
    let options = GraphOptions {
        extra_sources: "\n[[graph.data_sources]]\nname = \"mixed\"\nservices = [\
            { destination = \"S4\", path = \"/odata/v4/sales\", metadata_destination = \"S4_TECH\" }, \
            { destination = \"CRM\", path = \"/odata/v4/crm\", metadata_destination = \"CRM_TECH\" }]\n"
            .to_owned(),
        ..GraphOptions::default()
    };
    let env = GraphEnv::start("odata-batch-span", options)
        .await
        .expect("backends and gateway start");
    let order = single(&env, "mixed/A_SalesOrder?$top=1&$orderby=SalesOrder", ALICE).await;
    let order_key = order["value"][0]["SalesOrder"]
        .as_str()
        .expect("an order")
        .to_owned();
    let order_status = order["value"][0]["OverallSDProcessStatus"].clone();
    let opportunity = single(&env, "mixed/Opportunities?$top=1&$orderby=ID", ALICE).await;
    let opportunity_id = opportunity["value"][0]["ID"]
        .as_i64()
        .expect("an opportunity");
    let title = opportunity["value"][0]["title"].clone();
    env.clear_requests().await.expect("log cleared");
    let requests = json!({ "requests": [
        { "id": "1", "atomicityGroup": "g", "method": "PATCH", "url": format!("A_SalesOrder('{order_key}')"),
          "headers": { "if-match": "*", "content-type": "application/json" }, "body": { "OverallSDProcessStatus": "Z" } },
        { "id": "2", "atomicityGroup": "g", "method": "PATCH", "url": format!("Opportunities({opportunity_id})"),
          "headers": { "if-match": "*", "content-type": "application/json" }, "body": { "title": "changed" } },
    ]});
    let answer: Value = reqwest::Client::new()
        .post(env.gateway.url("odata/v4/mixed/$batch"))
        .basic_auth(ALICE.0, Some(ALICE.1))
        .json(&requests)
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    let responses = answer["responses"].as_array().expect("responses");
    assert_eq!(responses.len(), 1, "{answer}");
    assert_eq!(responses[0]["status"], 501, "{answer}");
    let message = responses[0]["body"]["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("/odata/v4/sales") && message.contains("/odata/v4/crm"),
        "the refusal names both services: {answer}"
    );
    let (s4_log, crm_log) = env.requests().await.expect("request log");
    assert!(
        s4_log
            .iter()
            .chain(&crm_log)
            .all(|entry| entry.method == "GET"),
        "no change reached a backend: {s4_log:?} {crm_log:?}"
    );
    let order = single(
        &env,
        &format!("mixed/A_SalesOrder('{order_key}')?$select=OverallSDProcessStatus"),
        ALICE,
    )
    .await;
    assert_eq!(order["OverallSDProcessStatus"], order_status);
    let opportunity = single(
        &env,
        &format!("mixed/Opportunities({opportunity_id})?$select=title"),
        ALICE,
    )
    .await;
    assert_eq!(opportunity["title"], title);
}
