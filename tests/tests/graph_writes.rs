//! Mutations of the composed graph against the real CAP backends, through OData v4 and through
//! OData v2 with SAP Gateway's CSRF protocol: create, update and delete of sales orders (with
//! ETags) and of items (composite keys), every result read back straight from CAP. An update or
//! delete with a stale ETag fails with `PRECONDITION_FAILED` (412) and changes nothing; writing
//! another region's row is refused. On v2 the token is fetched once per user and reused.
//!
//! Needs `npm ci --prefix tests/backends` (see tests/backends/README.md).

use bizgraph_tests::cap::{ALICE, BOB, LoggedRequest};
use bizgraph_tests::graph_env::{GraphEnv, GraphOptions, errors_of};
use serde_json::{Value, json};

/// The CAP v4 URL of a sales order.
fn order_path(key: &str) -> String {
    format!("/odata/v4/sales/A_SalesOrder('{key}')")
}

/// The CAP v4 URL of an item (composite key).
fn item_path(order: &str, item: &str) -> String {
    format!("/odata/v4/sales/A_SalesOrderItem(SalesOrder='{order}',SalesOrderItem='{item}')")
}

/// Asserts that an answer failed at `field` of `namespace` with `code` and backend `status`.
fn assert_failed(answer: &Value, namespace: &str, field: &str, code: &str, status: u16) {
    let errors = errors_of(answer);
    assert_eq!(errors.len(), 1, "{answer:#}");
    let error = &errors[0];
    assert_eq!(error["path"], json!([namespace, field]), "{answer:#}");
    assert_eq!(error["extensions"]["code"], code, "{answer:#}");
    assert_eq!(error["extensions"]["status"], status, "{answer:#}");
    assert!(error["extensions"]["traceId"].is_string(), "{answer:#}");
    assert!(answer["data"][namespace][field].is_null(), "{answer:#}");
}

/// Create, update and delete of an order and one of its items through `namespace`, as alice,
/// each checked against CAP; `order` and `foreign` are keys no one has used.
async fn write_cycle(
    env: &GraphEnv,
    namespace: &str,
    order: &str,
    foreign: &str,
) -> anyhow::Result<()> {
    // Create, with variables, values of every kind the order has.
    let created = env
        .data_with(
            ALICE,
            &format!(
                "mutation($input: {namespace}_A_SalesOrder_input!) {{ {namespace} {{
                    A_SalesOrder_create(input: $input) {{
                        SalesOrder SoldToParty region TotalNetAmount CreationDate DeliveryTime Rating _etag
                    }} }} }}"
            ),
            json!({"input": {
                "SalesOrder": order, "SoldToParty": "1000001", "region": "EU",
                "TotalNetAmount": "12345678901.99", "TransactionCurrency": "EUR",
                "CreationDate": "2026-01-15", "DeliveryTime": "09:30:15",
                "OverallSDProcessStatus": "A", "Rating": 2.5
            }}),
        )
        .await?;
    let created = &created[namespace]["A_SalesOrder_create"];
    let first_etag = created["_etag"].as_str().unwrap_or_default().to_owned();
    assert!(!first_etag.is_empty(), "{created}");
    assert_eq!(
        json!({"SalesOrder": created["SalesOrder"], "SoldToParty": created["SoldToParty"],
               "region": created["region"], "TotalNetAmount": created["TotalNetAmount"],
               "CreationDate": created["CreationDate"], "DeliveryTime": created["DeliveryTime"],
               "Rating": created["Rating"]}),
        json!({"SalesOrder": order, "SoldToParty": "1000001", "region": "EU",
               "TotalNetAmount": "12345678901.99", "CreationDate": "2026-01-15",
               "DeliveryTime": "09:30:15", "Rating": 2.5}),
        "via {namespace}"
    );
    let stored = env.s4.get_json(&order_path(order), ALICE).await?;
    assert_eq!(stored["TotalNetAmount"], "12345678901.99", "{stored}");
    assert_eq!(stored["CreationDate"], "2026-01-15", "{stored}");
    assert_eq!(stored["DeliveryTime"], "09:30:15", "{stored}");
    assert_eq!(stored["TransactionCurrency"], "EUR", "{stored}");
    assert_eq!(stored["Rating"], 2.5, "{stored}");

    // An item: a composite key.
    let item = env
        .data(
            ALICE,
            &format!(
                r#"mutation {{ {namespace} {{ A_SalesOrderItem_create(input: {{
                    SalesOrder: "{order}", SalesOrderItem: "10", Material: "HT-1000",
                    RequestedQuantity: "2.500", NetAmount: "100.10", ItemPosition: 1 }}) {{
                    SalesOrder SalesOrderItem NetAmount }} }} }}"#
            ),
        )
        .await?;
    assert_eq!(
        item[namespace]["A_SalesOrderItem_create"],
        json!({"SalesOrder": order, "SalesOrderItem": "10", "NetAmount": "100.10"})
    );
    let stored = env.s4.get_json(&item_path(order, "10"), ALICE).await?;
    assert_eq!(stored["RequestedQuantity"], "2.500", "{stored}");
    assert_eq!(stored["Material"], "HT-1000", "{stored}");

    // Update with the current ETag: changed, with a new ETag.
    let update = |etag: &str| {
        format!(
            r#"mutation {{ {namespace} {{ A_SalesOrder_update(SalesOrder: "{order}",
                input: {{TotalNetAmount: "777.70", OverallSDProcessStatus: "B"}}, etag: {}) {{
                SalesOrder TotalNetAmount OverallSDProcessStatus _etag }} }} }}"#,
            Value::String(etag.to_owned())
        )
    };
    let updated = env.data(ALICE, &update(&first_etag)).await?;
    let updated = &updated[namespace]["A_SalesOrder_update"];
    assert_eq!(updated["TotalNetAmount"], "777.70", "{updated}");
    assert_eq!(updated["OverallSDProcessStatus"], "B", "{updated}");
    let second_etag = updated["_etag"].as_str().unwrap_or_default().to_owned();
    assert!(
        !second_etag.is_empty() && second_etag != first_etag,
        "{first_etag} then {second_etag}"
    );
    let stored = env.s4.get_json(&order_path(order), ALICE).await?;
    assert_eq!(stored["TotalNetAmount"], "777.70", "{stored}");
    assert_eq!(stored["OverallSDProcessStatus"], "B", "{stored}");

    // Update with the stale ETag: 412, nothing changes.
    let stale = env.query(ALICE, &update(&first_etag), Value::Null).await?;
    assert_failed(
        &stale,
        namespace,
        "A_SalesOrder_update",
        "PRECONDITION_FAILED",
        412,
    );
    let stale = env
        .query(
            ALICE,
            &format!(
                r#"mutation {{ {namespace} {{ A_SalesOrder_update(SalesOrder: "{order}",
                    input: {{TotalNetAmount: "1.00"}}, etag: {}) {{ SalesOrder }} }} }}"#,
                Value::String(first_etag.clone())
            ),
            Value::Null,
        )
        .await?;
    assert_failed(
        &stale,
        namespace,
        "A_SalesOrder_update",
        "PRECONDITION_FAILED",
        412,
    );
    let stored = env.s4.get_json(&order_path(order), ALICE).await?;
    assert_eq!(stored["TotalNetAmount"], "777.70", "{stored}");

    // The item by its composite key: update, then delete.
    let item_update = env
        .data(
            ALICE,
            &format!(
                r#"mutation {{ {namespace} {{ A_SalesOrderItem_update(SalesOrder: "{order}", SalesOrderItem: "10",
                    input: {{NetAmount: "55.55"}}) {{ SalesOrderItem NetAmount }} }} }}"#
            ),
        )
        .await?;
    assert_eq!(
        item_update[namespace]["A_SalesOrderItem_update"],
        json!({"SalesOrderItem": "10", "NetAmount": "55.55"})
    );
    let stored = env.s4.get_json(&item_path(order, "10"), ALICE).await?;
    assert_eq!(stored["NetAmount"], "55.55", "{stored}");
    let deleted = env
        .data(
            ALICE,
            &format!(
                r#"mutation {{ {namespace} {{ A_SalesOrderItem_delete(SalesOrder: "{order}", SalesOrderItem: "10") }} }}"#
            ),
        )
        .await?;
    assert_eq!(deleted[namespace]["A_SalesOrderItem_delete"], true);
    let gone = env.s4.get_json(&item_path(order, "10"), ALICE).await;
    assert!(
        gone.as_ref()
            .is_err_and(|error| error.to_string().contains("404")),
        "{gone:?}"
    );

    // Delete with the stale ETag fails; with the current one it deletes.
    let delete = |etag: &str| {
        format!(
            r#"mutation {{ {namespace} {{ A_SalesOrder_delete(SalesOrder: "{order}", etag: {}) }} }}"#,
            Value::String(etag.to_owned())
        )
    };
    let stale = env.query(ALICE, &delete(&first_etag), Value::Null).await?;
    let errors = errors_of(&stale);
    assert_eq!(errors.len(), 1, "{stale:#}");
    assert_eq!(errors[0]["extensions"]["code"], "PRECONDITION_FAILED");
    assert_eq!(errors[0]["extensions"]["status"], 412);
    assert!(env.s4.get_json(&order_path(order), ALICE).await.is_ok());
    let deleted = env.data(ALICE, &delete(&second_etag)).await?;
    assert_eq!(deleted[namespace]["A_SalesOrder_delete"], true);
    let gone = env.s4.get_json(&order_path(order), ALICE).await;
    assert!(
        gone.as_ref()
            .is_err_and(|error| error.to_string().contains("404")),
        "{gone:?}"
    );

    // Another region's order is refused by CAP, and the error says so.
    let refused = env
        .query(
            ALICE,
            &format!(
                r#"mutation {{ {namespace} {{ A_SalesOrder_create(input: {{
                    SalesOrder: "{foreign}", SoldToParty: "1000002", region: "US"}}) {{ SalesOrder }} }} }}"#
            ),
            Value::Null,
        )
        .await?;
    assert_failed(&refused, namespace, "A_SalesOrder_create", "FORBIDDEN", 403);
    // The error carries the backend's own message (tests/backends/server.js, `guardRegion`).
    assert_eq!(
        errors_of(&refused)[0]["extensions"]["backendMessage"],
        r#"region "US" is not one of the user's regions"#,
        "{refused:#}"
    );
    let absent = env.s4.get_json(&order_path(foreign), BOB).await;
    assert!(absent.is_err(), "{absent:?}");
    Ok(())
}

/// The CSRF token fetches in a log: `GET <service root>/` (what the gateway sends with
/// `X-CSRF-Token: Fetch`) by `user`.
fn token_fetches(log: &[LoggedRequest], root: &str, user: &str) -> usize {
    log.iter()
        .filter(|request| {
            request.method == "GET"
                && request.url == format!("{root}/")
                && request.user.as_deref() == Some(user)
        })
        .count()
}

#[tokio::test]
async fn creates_updates_and_deletes_through_odata_v4() -> anyhow::Result<()> {
    let env = GraphEnv::start("graph-writes-v4", GraphOptions::both_protocols()).await?;
    env.clear_requests().await?;
    write_cycle(&env, "s4v4", "5900000001", "5900000011").await?;
    let (s4, _) = env.requests().await?;
    // v4 needs no CSRF token: no fetch, and the writes were PATCH and DELETE.
    assert_eq!(token_fetches(&s4, "/odata/v4/sales", "alice"), 0, "{s4:#?}");
    let methods: Vec<&str> = s4
        .iter()
        .filter(|request| request.method != "GET")
        .map(|request| request.method.as_str())
        .collect();
    assert_eq!(
        methods,
        [
            "POST", "POST", "PATCH", "PATCH", "PATCH", "PATCH", "DELETE", "DELETE", "DELETE",
            "POST"
        ],
        "{s4:#?}"
    );
    Ok(())
}

#[tokio::test]
async fn v2_writes_fetch_a_csrf_token_once_per_user_and_reuse_it() -> anyhow::Result<()> {
    let env = GraphEnv::start("graph-writes-v2", GraphOptions::both_protocols()).await?;
    env.clear_requests().await?;
    write_cycle(&env, "sap_s4", "5900000002", "5900000012").await?;
    let (s4, _) = env.requests().await?;
    let writes: Vec<&LoggedRequest> = s4
        .iter()
        .filter(|request| request.method != "GET")
        .collect();
    // Every write reached CAP with a valid token (server.js refuses others with 403 before
    // CAP sees them, which would have failed the cycle), all from one fetch.
    assert_eq!(
        writes
            .iter()
            .map(|request| request.method.as_str())
            .collect::<Vec<_>>(),
        [
            "POST", "POST", "MERGE", "MERGE", "MERGE", "MERGE", "DELETE", "DELETE", "DELETE",
            "POST"
        ],
        "{s4:#?}"
    );
    assert!(
        writes
            .iter()
            .all(|request| request.user.as_deref() == Some("alice"))
    );
    assert_eq!(token_fetches(&s4, "/odata/v2/sales", "alice"), 1, "{s4:#?}");
    let first_fetch = s4
        .iter()
        .position(|request| request.method == "GET" && request.url == "/odata/v2/sales/")
        .expect("a token fetch");
    let first_write = s4
        .iter()
        .position(|request| request.method != "GET")
        .expect("a write");
    assert!(first_fetch < first_write, "the token comes first: {s4:#?}");

    // Bob's token is his own: one fetch for him, none more for alice.
    env.clear_requests().await?;
    let created = env
        .data(
            BOB,
            r#"mutation { sap_s4 { A_SalesOrder_create(input: {
                SalesOrder: "5900000003", SoldToParty: "1000002", region: "US", TotalNetAmount: "10.00"}) {
                SalesOrder region } } }"#,
        )
        .await?;
    assert_eq!(
        created["sap_s4"]["A_SalesOrder_create"],
        json!({"SalesOrder": "5900000003", "region": "US"})
    );
    let removed = env
        .data(
            BOB,
            r#"mutation { sap_s4 { A_SalesOrderItem_create(input: {
                SalesOrder: "5900000003", SalesOrderItem: "10", NetAmount: "1.00"}) { SalesOrderItem } } }"#,
        )
        .await?;
    assert_eq!(
        removed["sap_s4"]["A_SalesOrderItem_create"]["SalesOrderItem"],
        "10"
    );
    let stored = env.s4.get_json(&order_path("5900000003"), BOB).await?;
    assert_eq!(stored["TotalNetAmount"], "10.00", "{stored}");
    let (s4, _) = env.requests().await?;
    assert_eq!(token_fetches(&s4, "/odata/v2/sales", "bob"), 1, "{s4:#?}");
    assert_eq!(token_fetches(&s4, "/odata/v2/sales", "alice"), 0, "{s4:#?}");
    Ok(())
}

#[tokio::test]
async fn an_etag_that_cannot_be_a_header_is_refused_before_anything_is_sent() -> anyhow::Result<()>
{
    let env = GraphEnv::start("graph-writes-bad-etag", GraphOptions::both_protocols()).await?;
    let order = "5000000001";
    let before = env.s4.get_json(&order_path(order), ALICE).await?;
    env.clear_requests().await?;
    // A line break cannot be part of an `If-Match` header; sent without it, the write would
    // no longer be guarded.
    let etag = Value::String("W/\"1\"\r\nX-Injected: 1".to_owned());
    for (namespace, mutation) in [
        (
            "sap_s4",
            format!(
                r#"mutation {{ sap_s4 {{ A_SalesOrder_update(SalesOrder: "{order}",
                    input: {{TotalNetAmount: "1.00"}}, etag: {etag}) {{ SalesOrder }} }} }}"#
            ),
        ),
        (
            "s4v4",
            format!(
                r#"mutation {{ s4v4 {{ A_SalesOrder_delete(SalesOrder: "{order}", etag: {etag}) }} }}"#
            ),
        ),
    ] {
        let answer = env.query(ALICE, &mutation, Value::Null).await?;
        let errors = errors_of(&answer);
        assert_eq!(errors.len(), 1, "{answer:#}");
        assert_eq!(
            errors[0]["extensions"]["code"], "BAD_USER_INPUT",
            "{answer:#}"
        );
        assert!(
            errors[0]["message"]
                .as_str()
                .is_some_and(|message| message.contains("etag")),
            "{answer:#}"
        );
        assert!(
            answer["data"][namespace].is_null()
                || answer["data"][namespace]
                    .as_object()
                    .is_some_and(|fields| fields.values().all(Value::is_null)),
            "{answer:#}"
        );
    }
    let (s4, _) = env.requests().await?;
    assert!(
        s4.is_empty(),
        "no request, not even a CSRF token fetch: {s4:#?}"
    );
    let after = env.s4.get_json(&order_path(order), ALICE).await?;
    assert_eq!(after["TotalNetAmount"], before["TotalNetAmount"], "{after}");
    Ok(())
}
