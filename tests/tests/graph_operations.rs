//! Function and action imports of the real CAP backends through the composed graph: functions
//! under the namespace in `Query`, actions in `Mutation`, over OData v4 (parameters in the URL
//! or the body) and OData v2 through the adapter (parameters as query options, the action with
//! SAP's CSRF handshake). Results are compared with CAP's own answers to the same calls.
//!
//! Needs `npm ci --prefix tests/backends` (see tests/backends/README.md).

use bizgraph_tests::cap::{ALICE, BOB};
use bizgraph_tests::graph_env::{GraphEnv, GraphOptions, errors_of};
use serde_json::{Value, json};

#[tokio::test]
async fn functions_and_actions_answer_what_cap_answers_in_v4_and_v2() {
    let env = GraphEnv::start("graph-operations", GraphOptions::both_protocols())
        .await
        .expect("backends and gateway start");

    // A v4 function returning entities, with a Decimal and an Int32 parameter in the URL.
    let data = env
        .data(
            ALICE,
            r#"{ crm { topOpportunities(minAmount: "100000", count: 3) { ID amount region } } }"#,
        )
        .await
        .expect("the function answers");
    let direct = env
        .crm
        .get_json(
            "/odata/v4/crm/topOpportunities(minAmount=100000,count=3)",
            ALICE,
        )
        .await
        .expect("CAP answers");
    let expected: Vec<Value> = direct["value"]
        .as_array()
        .expect("a collection")
        .iter()
        .map(|row| json!({ "ID": row["ID"], "amount": row["amount"], "region": row["region"] }))
        .collect();
    assert_eq!(expected.len(), 3);
    assert_eq!(data["crm"]["topOpportunities"], json!(expected));

    // A v4 function returning a primitive, per user: CAP applies each user's rows.
    for user in [ALICE, BOB] {
        let data = env
            .data(
                user,
                r#"{ crm { opportunityCount(stage: "Negotiation") } }"#,
            )
            .await
            .expect("the function answers");
        let direct = env
            .crm
            .get_json("/odata/v4/crm/opportunityCount(stage='Negotiation')", user)
            .await
            .expect("CAP answers");
        assert_eq!(
            data["crm"]["opportunityCount"], direct["value"],
            "{}",
            user.0
        );
        assert!(direct["value"].as_u64().is_some_and(|n| n > 0));
    }

    // The same S/4 function through v2 (query options) and v4 (URL parameters).
    let data = env
        .data(
            ALICE,
            r#"{ sap_s4 { orderCount(status: "C") } s4v4 { orderCount(status: "C") } }"#,
        )
        .await
        .expect("both answer");
    let direct = env
        .s4
        .get_json("/odata/v4/sales/orderCount(status='C')", ALICE)
        .await
        .expect("CAP answers");
    assert_eq!(data["sap_s4"]["orderCount"], direct["value"]);
    assert_eq!(data["s4v4"]["orderCount"], direct["value"]);

    // A v4 action (parameters in the body) changes a row and returns it.
    let opportunity = direct_first_opportunity(&env).await;
    let data = env
        .data(
            ALICE,
            &format!(
                r#"mutation {{ crm {{ setStage(ID: {opportunity}, stage: "ClosedWon") {{ ID stage }} }} }}"#
            ),
        )
        .await
        .expect("the action answers");
    assert_eq!(
        data["crm"]["setStage"],
        json!({ "ID": opportunity, "stage": "ClosedWon" })
    );
    let stored = env
        .crm
        .get_json(
            &format!("/odata/v4/crm/Opportunities({opportunity})"),
            ALICE,
        )
        .await
        .expect("CAP answers");
    assert_eq!(stored["stage"], "ClosedWon", "the action changed CAP's row");

    // A v2 action (POST with the key as a query option, behind the CSRF handshake).
    env.clear_requests().await.expect("logs cleared");
    let order = first_order(&env).await;
    let data = env
        .data(
            ALICE,
            &format!(
                r#"mutation {{ sap_s4 {{ setOrderStatus(SalesOrder: "{order}", status: "B") {{ SalesOrder OverallSDProcessStatus }} }} }}"#
            ),
        )
        .await
        .expect("the v2 action answers");
    assert_eq!(
        data["sap_s4"]["setOrderStatus"],
        json!({ "SalesOrder": order, "OverallSDProcessStatus": "B" })
    );
    let stored = env
        .s4
        .get_json(&format!("/odata/v4/sales/A_SalesOrder('{order}')"), ALICE)
        .await
        .expect("CAP answers");
    assert_eq!(stored["OverallSDProcessStatus"], "B");
    let (s4_log, _) = env.requests().await.expect("logs");
    let methods: Vec<(&str, &str)> = s4_log
        .iter()
        .map(|r| (r.method.as_str(), r.url.as_str()))
        .collect();
    assert!(
        methods.contains(&("GET", "/odata/v2/sales/")),
        "the CSRF token was fetched first: {methods:?}"
    );
    assert!(
        methods
            .iter()
            .any(|(m, u)| *m == "POST"
                && u.starts_with("/odata/v2/sales/setOrderStatus?SalesOrder=")),
        "{methods:?}"
    );

    // Another region's order: CAP refuses, the field errors with CAP's status.
    let foreign = first_order_of(&env, BOB).await;
    let answer = env
        .query(
            ALICE,
            &format!(
                r#"mutation {{ s4v4 {{ setOrderStatus(SalesOrder: "{foreign}", status: "B") {{ SalesOrder }} }} }}"#
            ),
            Value::Null,
        )
        .await
        .expect("answers");
    let errors = errors_of(&answer);
    assert_eq!(errors.len(), 1, "{answer}");
    assert_eq!(
        errors[0]["path"],
        json!(["s4v4", "setOrderStatus"]),
        "{answer}"
    );
    assert_eq!(errors[0]["extensions"]["backend"], "s4v4");
    assert!(
        errors[0]["extensions"]["status"]
            .as_u64()
            .is_some_and(|s| s >= 400)
    );
}

async fn direct_first_opportunity(env: &GraphEnv) -> i64 {
    let rows = env
        .crm
        .get_json(
            "/odata/v4/crm/Opportunities?$top=1&$orderby=ID&$filter=stage ne 'ClosedWon'",
            ALICE,
        )
        .await
        .expect("CAP answers");
    rows["value"][0]["ID"].as_i64().expect("an opportunity")
}

async fn first_order(env: &GraphEnv) -> String {
    first_order_of(env, ALICE).await
}

async fn first_order_of(env: &GraphEnv, user: (&str, &str)) -> String {
    let rows = env
        .s4
        .get_json(
            "/odata/v4/sales/A_SalesOrder?$top=1&$orderby=SalesOrder&$filter=OverallSDProcessStatus ne 'B'",
            user,
        )
        .await
        .expect("CAP answers");
    rows["value"][0]["SalesOrder"]
        .as_str()
        .expect("an order")
        .to_owned()
}
