//! Two users querying the composed graph at the same time each get only their own rows: alice
//! (region EU) and bob (region US) send many interleaved requests over both backends, both S/4
//! protocols and the cross-source joins, and every answer holds only the caller's region, in
//! full, with every backend request made under the caller's own name.
//!
//! Needs `npm ci --prefix tests/backends` (see tests/backends/README.md).

use std::collections::BTreeSet;
use std::sync::Arc;

use bizgraph_tests::cap::{ALICE, BOB};
use bizgraph_tests::graph_env::{GraphEnv, GraphOptions};
use serde_json::Value;
use tokio::task::JoinSet;

/// Every namespace, and the joins both ways, in one query.
const EVERYTHING: &str = r#"{
    crm { Opportunities(orderBy: {ID: asc}) { totalCount nodes { ID region
        partner { BusinessPartner region to_SalesOrder { totalCount nodes { SalesOrder region } } } } } }
    sap_s4 {
        A_SalesOrder(orderBy: {SalesOrder: asc}) { totalCount nodes { SalesOrder region to_SoldToParty { region } } }
        A_BusinessPartner(orderBy: {BusinessPartner: asc}) { totalCount nodes { BusinessPartner region
            opportunities { totalCount nodes { ID region } } } }
    }
    s4v4 {
        A_SalesOrder(orderBy: {SalesOrder: asc}) { totalCount nodes { SalesOrder region
            to_Item(top: 1) { totalCount nodes { SalesOrderItem } } } }
    }
}"#;

/// Requests per user, sent concurrently with the other user's.
const ROUNDS: usize = 12;

/// Every `region` value anywhere in an answer.
fn regions(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(object) => {
            for (key, value) in object {
                if key == "region" {
                    found.insert(value.as_str().unwrap_or("<not a string>").to_owned());
                } else {
                    regions(value, found);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| regions(item, found)),
        _ => {}
    }
}

/// The ids of a connection's nodes.
fn ids(connection: &Value, key: &str) -> BTreeSet<String> {
    connection["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|node| node[key].to_string())
        .collect()
}

/// What one user must see: only `region`, and all of it.
fn check_answer(data: &Value, region: &str) {
    let mut found = BTreeSet::new();
    regions(data, &mut found);
    assert_eq!(found, BTreeSet::from([region.to_owned()]), "{data}");
    assert_eq!(data["crm"]["Opportunities"]["totalCount"], 120);
    assert_eq!(data["sap_s4"]["A_SalesOrder"]["totalCount"], 60);
    assert_eq!(data["s4v4"]["A_SalesOrder"]["totalCount"], 60);
    assert_eq!(data["sap_s4"]["A_BusinessPartner"]["totalCount"], 20);
    for opportunity in data["crm"]["Opportunities"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
    {
        assert!(opportunity["partner"].is_object(), "{opportunity}");
    }
    let joined: u64 = data["sap_s4"]["A_BusinessPartner"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|partner| partner["opportunities"]["totalCount"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(
        joined, 120,
        "the partners' opportunities are all of the user's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_users_at_once_see_only_their_rows() -> anyhow::Result<()> {
    let env = Arc::new(GraphEnv::start("graph-users", GraphOptions::both_protocols()).await?);
    // One answer each, alone, as the reference for the concurrent ones.
    let alice_alone = env.data(ALICE, EVERYTHING).await?;
    let bob_alone = env.data(BOB, EVERYTHING).await?;
    check_answer(&alice_alone, "EU");
    check_answer(&bob_alone, "US");
    let alice_orders = ids(&alice_alone["sap_s4"]["A_SalesOrder"], "SalesOrder");
    let bob_orders = ids(&bob_alone["sap_s4"]["A_SalesOrder"], "SalesOrder");
    assert!(alice_orders.is_disjoint(&bob_orders));
    assert_eq!(alice_orders.len() + bob_orders.len(), 120);

    env.clear_requests().await?;
    let mut running = JoinSet::new();
    for round in 0..ROUNDS {
        // Interleaved: alice, bob, alice, bob, ...
        for (user, region) in [(ALICE, "EU"), (BOB, "US")] {
            let env = Arc::clone(&env);
            running.spawn(async move {
                let data = env.data(user, EVERYTHING).await;
                (round, user.0, region, data)
            });
        }
    }
    let mut answers = 0;
    while let Some(joined) = running.join_next().await {
        let (round, user, region, data) = joined?;
        let data = data?;
        check_answer(&data, region);
        let alone = if user == "alice" {
            &alice_alone
        } else {
            &bob_alone
        };
        assert_eq!(&data, alone, "{user} in round {round} got another answer");
        answers += 1;
    }
    assert_eq!(answers, 2 * ROUNDS);

    // Every backend request ran under the name of the user it was for, and both users caused
    // the same number: each query is four requests to S/4 (orders over v2, partners over v2,
    // the opportunities' partners, orders over v4) and two to the CRM.
    let (s4, crm) = env.requests().await?;
    for (backend, log, per_query) in [("s4", &s4, 4), ("crm", &crm, 2)] {
        let by = |name: &str| {
            log.iter()
                .filter(|request| request.user.as_deref() == Some(name))
                .count()
        };
        assert_eq!(by("alice"), ROUNDS * per_query, "{backend}: {log:#?}");
        assert_eq!(by("bob"), ROUNDS * per_query, "{backend}: {log:#?}");
        assert_eq!(log.len(), 2 * ROUNDS * per_query, "{backend}: {log:#?}");
    }
    Ok(())
}
