//! Writes and operation calls through the OData v4 endpoint, against the real CAP backends:
//! create, update (`PATCH`), replace (`PUT`) and delete of sales orders (with ETags) and items
//! (composite keys) through a namespace over CAP's v4 service and one over its v2 adapter (with
//! SAP Gateway's CSRF protocol), each result read back straight from CAP; ETag preconditions
//! (stale 412, missing 428); another region's rows refused with 403; function and action imports
//! answering what CAP answers to the same calls. Bad bodies are refused before any backend sees
//! them.
//!
//! Needs `npm ci --prefix tests/backends` (see tests/backends/README.md).

use bizgraph_tests::cap::{ALICE, BOB, LoggedRequest};
use bizgraph_tests::graph_env::{GraphEnv, GraphOptions, comparable};
use reqwest::Method;
use serde_json::{Map, Value, json};

/// What the gateway or CAP answered.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
    text: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    /// The answer's `@odata.etag`, or its `ETag` header.
    fn etag(&self) -> String {
        self.body["@odata.etag"]
            .as_str()
            .or_else(|| self.header("etag"))
            .unwrap_or_default()
            .to_owned()
    }
}

/// Sends `method` to `url` as `user` with JSON `body` and extra headers.
async fn send(
    http: &reqwest::Client,
    method: Method,
    url: &str,
    user: (&str, &str),
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Answer {
    let mut request = http
        .request(method.clone(), url)
        .basic_auth(user.0, Some(user.1))
        .header("accept", "application/json;IEEE754Compatible=true");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|error| panic!("{method} {url}: {error}"));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap_or_default();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

/// The gateway's endpoint for one namespace.
struct Endpoint<'e> {
    env: &'e GraphEnv,
    namespace: &'e str,
    http: reqwest::Client,
}

impl Endpoint<'_> {
    fn new<'e>(env: &'e GraphEnv, namespace: &'e str) -> Endpoint<'e> {
        Endpoint {
            env,
            namespace,
            http: reqwest::Client::new(),
        }
    }

    /// The path of a resource below the namespace's service root.
    fn path(&self, resource: &str) -> String {
        format!("/odata/v4/{}/{resource}", self.namespace)
    }

    async fn send(
        &self,
        method: Method,
        resource: &str,
        user: (&str, &str),
        headers: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Answer {
        let url = self.env.gateway.url(&self.path(resource)).to_string();
        send(&self.http, method, &url, user, headers, body).await
    }
}

/// CAP's own v4 answer to `method` on `path_and_query` of a backend.
async fn cap(
    base_url: &str,
    method: Method,
    path_and_query: &str,
    user: (&str, &str),
    body: Option<&Value>,
) -> Answer {
    let url = format!("{base_url}{path_and_query}");
    send(&reqwest::Client::new(), method, &url, user, &[], body).await
}

fn order_resource(key: &str) -> String {
    format!("A_SalesOrder('{key}')")
}

fn item_resource(order: &str, item: &str) -> String {
    format!("A_SalesOrderItem(SalesOrder='{order}',SalesOrderItem='{item}')")
}

/// A sales order as CAP stores it, read straight from CAP's v4 service; `None` when CAP answers
/// 404.
async fn stored(env: &GraphEnv, resource: &str) -> Option<Value> {
    match env
        .s4
        .get_json(&format!("/odata/v4/sales/{resource}"), ALICE)
        .await
    {
        Ok(value) => Some(value),
        Err(error) if error.to_string().contains("404") => None,
        Err(error) => panic!("CAP answers {resource}: {error:#}"),
    }
}

/// Asserts an OData error answer: status, `error.code`, a message, a trace id, and no
/// credential anywhere in it.
fn assert_odata_error(answer: &Answer, status: u16, code: &str, what: &str) {
    assert_eq!(answer.status, status, "{what}: {}", answer.text);
    let error = &answer.body["error"];
    assert_eq!(error["code"], code, "{what}: {}", answer.text);
    assert!(error["message"].is_string(), "{what}: {}", answer.text);
    assert!(
        error["innererror"]["traceId"].is_string(),
        "{what}: {}",
        answer.text
    );
    assert_eq!(answer.header("odata-version"), Some("4.0"), "{what}");
    for secret in ["alice-pw", "bob-pw", "admin-pw", "Basic "] {
        assert!(!answer.text.contains(secret), "{what}: {}", answer.text);
    }
}

/// The backend's message carried in `error.details`.
fn backend_message(answer: &Answer) -> String {
    answer.body["error"]["details"][0]["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Create, update, replace and delete of an order and one of its items through `namespace`,
/// as alice, each checked against CAP; `order` and `foreign` are keys no one has used.
async fn write_cycle(env: &GraphEnv, namespace: &str, order: &str, foreign: &str) {
    let odata = Endpoint::new(env, namespace);
    let what = |step: &str| format!("{namespace}: {step}");

    // POST: 201, the entity as OData JSON, its address in Location, exact decimals as strings.
    let created = odata
        .send(
            Method::POST,
            "A_SalesOrder",
            ALICE,
            &[],
            Some(&json!({
                "SalesOrder": order, "SoldToParty": "1000001", "region": "EU",
                "TotalNetAmount": "12345678901.99", "TransactionCurrency": "EUR",
                "CreationDate": "2026-01-15", "DeliveryTime": "09:30:15",
                "OverallSDProcessStatus": "A", "Rating": 2.5,
                "@odata.type": "#ignored.Annotation"
            })),
        )
        .await;
    assert_eq!(created.status, 201, "{}: {}", what("create"), created.text);
    assert_eq!(created.header("odata-version"), Some("4.0"));
    let location = odata.path(&order_resource(order));
    assert_eq!(created.header("location"), Some(location.as_str()));
    assert_eq!(
        created.body["@odata.context"],
        format!("/odata/v4/{namespace}/$metadata#A_SalesOrder/$entity")
    );
    let first_etag = created.etag();
    assert!(!first_etag.is_empty(), "{}", created.text);
    assert_eq!(created.header("etag"), Some(first_etag.as_str()));
    assert_eq!(
        comparable(&json!({
            "SalesOrder": created.body["SalesOrder"], "region": created.body["region"],
            "TotalNetAmount": created.body["TotalNetAmount"],
            "CreationDate": created.body["CreationDate"],
            "DeliveryTime": created.body["DeliveryTime"], "Rating": created.body["Rating"],
        })),
        comparable(&json!({
            "SalesOrder": order, "region": "EU", "TotalNetAmount": "12345678901.99",
            "CreationDate": "2026-01-15", "DeliveryTime": "09:30:15", "Rating": 2.5,
        })),
        "{}",
        created.text
    );
    let row = stored(env, &order_resource(order))
        .await
        .expect("the order is stored");
    assert_eq!(row["TotalNetAmount"], "12345678901.99", "{row}");
    assert_eq!(row["CreationDate"], "2026-01-15", "{row}");
    assert_eq!(row["DeliveryTime"], "09:30:15", "{row}");
    assert_eq!(row["TransactionCurrency"], "EUR", "{row}");
    assert_eq!(row["Rating"], 2.5, "{row}");
    // The Location is an address the endpoint reads.
    let read = odata
        .send(Method::GET, &order_resource(order), ALICE, &[], None)
        .await;
    assert_eq!(read.status, 200, "{}", read.text);
    assert_eq!(read.body["SalesOrder"], order);

    // An item: a composite key, decimals as JSON numbers (no IEEE754Compatible needed).
    let item = odata
        .send(
            Method::POST,
            "A_SalesOrderItem",
            ALICE,
            &[],
            Some(&json!({
                "SalesOrder": order, "SalesOrderItem": "10", "Material": "HT-1000",
                "RequestedQuantity": 2.5, "NetAmount": 100.1, "ItemPosition": 1
            })),
        )
        .await;
    assert_eq!(item.status, 201, "{}: {}", what("create item"), item.text);
    assert_eq!(
        item.header("location"),
        Some(odata.path(&item_resource(order, "10")).as_str())
    );
    let row = stored(env, &item_resource(order, "10"))
        .await
        .expect("the item is stored");
    assert_eq!(row["RequestedQuantity"], "2.500", "{row}");
    assert_eq!(row["NetAmount"], "100.10", "{row}");
    assert_eq!(row["Material"], "HT-1000", "{row}");

    // PATCH without If-Match: CAP requires one for orders, and its 428 comes back.
    let change = json!({"TotalNetAmount": "777.70", "OverallSDProcessStatus": "B"});
    let missing = odata
        .send(
            Method::PATCH,
            &order_resource(order),
            ALICE,
            &[],
            Some(&change),
        )
        .await;
    assert_odata_error(
        &missing,
        428,
        "PRECONDITION_REQUIRED",
        &what("PATCH without If-Match"),
    );
    assert!(!backend_message(&missing).is_empty(), "{}", missing.text);

    // PATCH with the current ETag, asking for the entity: 200, changed, a new ETag.
    let patched = odata
        .send(
            Method::PATCH,
            &order_resource(order),
            ALICE,
            &[
                ("if-match", &first_etag),
                ("prefer", "return=representation"),
            ],
            Some(&change),
        )
        .await;
    assert_eq!(patched.status, 200, "{}: {}", what("PATCH"), patched.text);
    assert_eq!(
        patched.header("preference-applied"),
        Some("return=representation")
    );
    assert_eq!(patched.body["TotalNetAmount"], "777.70", "{}", patched.text);
    assert_eq!(patched.body["OverallSDProcessStatus"], "B");
    assert_eq!(patched.body["CreationDate"], "2026-01-15", "the rest stays");
    let second_etag = patched.etag();
    assert!(!second_etag.is_empty() && second_etag != first_etag);
    let row = stored(env, &order_resource(order)).await.expect("stored");
    assert_eq!(row["TotalNetAmount"], "777.70", "{row}");
    assert_eq!(row["OverallSDProcessStatus"], "B", "{row}");
    assert_eq!(
        row["DeliveryTime"], "09:30:15",
        "PATCH keeps the rest: {row}"
    );

    // PATCH with the stale ETag: 412, nothing changes.
    let stale = odata
        .send(
            Method::PATCH,
            &order_resource(order),
            ALICE,
            &[("if-match", &first_etag)],
            Some(&json!({"TotalNetAmount": "1.00"})),
        )
        .await;
    assert_odata_error(
        &stale,
        412,
        "PRECONDITION_FAILED",
        &what("PATCH with a stale ETag"),
    );
    let row = stored(env, &order_resource(order)).await.expect("stored");
    assert_eq!(row["TotalNetAmount"], "777.70", "{row}");

    // PUT with the current ETag replaces the order: what it leaves out is reset. 204 without a
    // preference, with the new ETag in the header.
    let replaced = odata
        .send(
            Method::PUT,
            &order_resource(order),
            ALICE,
            &[("if-match", &second_etag)],
            Some(&json!({
                "SalesOrder": order, "SoldToParty": "1000001", "region": "EU",
                "TotalNetAmount": "5.00", "TransactionCurrency": "USD",
                "CreationDate": "2026-02-01", "OverallSDProcessStatus": "C"
            })),
        )
        .await;
    assert_eq!(replaced.status, 204, "{}: {}", what("PUT"), replaced.text);
    let third_etag = replaced.header("etag").unwrap_or_default().to_owned();
    assert!(
        !third_etag.is_empty() && third_etag != second_etag,
        "{:?}",
        replaced.headers
    );
    let row = stored(env, &order_resource(order)).await.expect("stored");
    assert_eq!(row["TotalNetAmount"], "5.00", "{row}");
    assert_eq!(row["TransactionCurrency"], "USD", "{row}");
    assert_eq!(row["CreationDate"], "2026-02-01", "{row}");
    assert_eq!(row["OverallSDProcessStatus"], "C", "{row}");
    assert_eq!(
        row["DeliveryTime"],
        Value::Null,
        "PUT resets the rest: {row}"
    );
    assert_eq!(row["Rating"], Value::Null, "PUT resets the rest: {row}");
    assert_eq!(row["@odata.etag"], third_etag.as_str(), "{row}");

    // The item by its composite key: PATCH, PUT, DELETE.
    let item_patch = odata
        .send(
            Method::PATCH,
            &item_resource(order, "10"),
            ALICE,
            &[],
            Some(&json!({"NetAmount": "55.55"})),
        )
        .await;
    assert_eq!(item_patch.status, 204, "{}", item_patch.text);
    let row = stored(env, &item_resource(order, "10"))
        .await
        .expect("item");
    assert_eq!(row["NetAmount"], "55.55", "{row}");
    assert_eq!(row["Material"], "HT-1000", "{row}");
    let item_put = odata
        .send(
            Method::PUT,
            &item_resource(order, "10"),
            ALICE,
            &[("prefer", "return=representation")],
            Some(&json!({"Material": "HT-1001", "NetAmount": "60.00", "ItemPosition": 2})),
        )
        .await;
    assert_eq!(item_put.status, 200, "{}", item_put.text);
    assert_eq!(item_put.body["Material"], "HT-1001", "{}", item_put.text);
    assert_eq!(item_put.body["SalesOrderItem"], "10", "{}", item_put.text);
    let row = stored(env, &item_resource(order, "10"))
        .await
        .expect("item");
    assert_eq!(row["Material"], "HT-1001", "{row}");
    assert_eq!(row["NetAmount"], "60.00", "{row}");
    assert_eq!(row["ItemPosition"], 2, "{row}");
    assert_eq!(row["RequestedQuantity"], Value::Null, "PUT resets: {row}");
    let item_delete = odata
        .send(
            Method::DELETE,
            &item_resource(order, "10"),
            ALICE,
            &[],
            None,
        )
        .await;
    assert_eq!(item_delete.status, 204, "{}", item_delete.text);
    assert!(stored(env, &item_resource(order, "10")).await.is_none());

    // DELETE: without If-Match 428, stale 412, current 204.
    let missing = odata
        .send(Method::DELETE, &order_resource(order), ALICE, &[], None)
        .await;
    assert_odata_error(
        &missing,
        428,
        "PRECONDITION_REQUIRED",
        &what("DELETE without If-Match"),
    );
    let stale = odata
        .send(
            Method::DELETE,
            &order_resource(order),
            ALICE,
            &[("if-match", &second_etag)],
            None,
        )
        .await;
    assert_odata_error(
        &stale,
        412,
        "PRECONDITION_FAILED",
        &what("DELETE with a stale ETag"),
    );
    assert!(stored(env, &order_resource(order)).await.is_some());
    let deleted = odata
        .send(
            Method::DELETE,
            &order_resource(order),
            ALICE,
            &[("if-match", &third_etag)],
            None,
        )
        .await;
    assert_eq!(deleted.status, 204, "{}: {}", what("DELETE"), deleted.text);
    assert_eq!(deleted.text, "");
    assert!(stored(env, &order_resource(order)).await.is_none());

    // Another region's order: creating one is refused by CAP with 403, and so is changing one
    // of bob's.
    let refused = odata
        .send(
            Method::POST,
            "A_SalesOrder",
            ALICE,
            &[],
            Some(&json!({"SalesOrder": foreign, "SoldToParty": "1000002", "region": "US"})),
        )
        .await;
    assert_odata_error(&refused, 403, "FORBIDDEN", &what("create a US order"));
    assert!(
        backend_message(&refused).contains("region"),
        "{}",
        refused.text
    );
    let bobs = first_order_of(env, BOB).await;
    let refused = odata
        .send(
            Method::PATCH,
            &order_resource(&bobs),
            ALICE,
            &[("if-match", "*")],
            Some(&json!({"TotalNetAmount": "1.00"})),
        )
        .await;
    assert_odata_error(&refused, 403, "FORBIDDEN", &what("PATCH bob's order"));
    let row = env
        .s4
        .get_json(&format!("/odata/v4/sales/{}", order_resource(&bobs)), BOB)
        .await
        .expect("bob's order");
    assert_ne!(row["TotalNetAmount"], "1.00", "{row}");
}

/// The CSRF token fetches in a log: `GET <service root>/` by `user`.
fn token_fetches(log: &[LoggedRequest], root: &str, user: &str) -> usize {
    log.iter()
        .filter(|request| {
            request.method == "GET"
                && request.url == format!("{root}/")
                && request.user.as_deref() == Some(user)
        })
        .count()
}

/// The modifying requests CAP received, as (method, URL).
fn writes(log: &[LoggedRequest]) -> Vec<(String, String)> {
    log.iter()
        .filter(|request| request.method != "GET")
        .map(|request| (request.method.clone(), request.url.clone()))
        .collect()
}

#[tokio::test]
async fn creates_updates_replaces_and_deletes_through_a_v4_backend() {
    let env = GraphEnv::start("odata-writes-v4", GraphOptions::both_protocols())
        .await
        .expect("backends and gateway start");
    env.clear_requests().await.expect("logs cleared");
    write_cycle(&env, "s4v4", "5910000001", "5910000011").await;
    let (s4, _) = env.requests().await.expect("logs");
    assert_eq!(token_fetches(&s4, "/odata/v4/sales", "alice"), 0, "{s4:#?}");
    let methods: Vec<String> = writes(&s4).into_iter().map(|(method, _)| method).collect();
    assert_eq!(
        methods,
        [
            "POST", "POST", "PATCH", "PATCH", "PATCH", "PUT", "PATCH", "PUT", "DELETE", "DELETE",
            "DELETE", "DELETE", "POST", "PATCH"
        ],
        "{s4:#?}"
    );
}

#[tokio::test]
async fn v2_backend_writes_fetch_one_csrf_token_per_user() {
    let env = GraphEnv::start("odata-writes-v2", GraphOptions::both_protocols())
        .await
        .expect("backends and gateway start");
    env.clear_requests().await.expect("logs cleared");
    write_cycle(&env, "sap.s4", "5910000002", "5910000012").await;
    let (s4, _) = env.requests().await.expect("logs");
    let methods: Vec<String> = writes(&s4).into_iter().map(|(method, _)| method).collect();
    assert_eq!(
        methods,
        [
            "POST", "POST", "MERGE", "MERGE", "MERGE", "PUT", "MERGE", "PUT", "DELETE", "DELETE",
            "DELETE", "DELETE", "POST", "MERGE"
        ],
        "{s4:#?}"
    );
    assert!(
        writes(&s4)
            .iter()
            .all(|(_, url)| url.starts_with("/odata/v2/sales/")),
        "{s4:#?}"
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

    // Bob gets his own token, once; alice's is not fetched again.
    env.clear_requests().await.expect("logs cleared");
    let odata = Endpoint::new(&env, "sap.s4");
    for (index, order) in ["5910000003", "5910000004"].iter().enumerate() {
        let created = odata
            .send(
                Method::POST,
                "A_SalesOrder",
                BOB,
                &[("prefer", "return=minimal")],
                Some(
                    &json!({"SalesOrder": order, "SoldToParty": "1000002", "region": "US",
                             "TotalNetAmount": format!("{index}.50")}),
                ),
            )
            .await;
        assert_eq!(created.status, 204, "{}", created.text);
        assert_eq!(created.header("preference-applied"), Some("return=minimal"));
        let location = odata.path(&order_resource(order));
        assert_eq!(created.header("location"), Some(location.as_str()));
        assert_eq!(created.header("odata-entityid"), Some(location.as_str()));
        let row = env
            .s4
            .get_json(&format!("/odata/v4/sales/{}", order_resource(order)), BOB)
            .await
            .expect("stored");
        assert_eq!(row["TotalNetAmount"], format!("{index}.50"), "{row}");
    }
    let (s4, _) = env.requests().await.expect("logs");
    assert_eq!(token_fetches(&s4, "/odata/v2/sales", "bob"), 1, "{s4:#?}");
    assert_eq!(token_fetches(&s4, "/odata/v2/sales", "alice"), 0, "{s4:#?}");
}

/// An answer without what legitimately differs between the gateway and CAP: context URLs
/// (ours name the composed namespace) and the representation of numbers.
fn normalized(value: &Value) -> Value {
    fn strip(value: &Value) -> Value {
        match value {
            Value::Object(object) => Value::Object(
                object
                    .iter()
                    .filter(|(key, _)| !key.ends_with("@odata.context"))
                    .map(|(key, value)| (key.clone(), strip(value)))
                    .collect::<Map<String, Value>>(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    comparable(&strip(value))
}

/// `value` without the keys named, recursively.
fn without(value: &Value, keys: &[&str]) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .filter(|(key, _)| !keys.contains(&key.as_str()))
                .map(|(key, value)| (key.clone(), without(value, keys)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| without(v, keys)).collect()),
        other => other.clone(),
    }
}

#[tokio::test]
async fn crm_functions_and_actions_answer_what_cap_answers() {
    let env = GraphEnv::start("odata-operations-crm", GraphOptions::both_protocols())
        .await
        .expect("backends and gateway start");
    let odata = Endpoint::new(&env, "crm");
    let crm = env.crm.base_url();

    // A function returning entities: parameters as literals, and as aliases.
    let direct = cap(
        &crm,
        Method::GET,
        "/odata/v4/crm/topOpportunities(minAmount=100000,count=3)",
        ALICE,
        None,
    )
    .await;
    assert_eq!(direct.status, 200, "{}", direct.text);
    assert_eq!(direct.body["value"].as_array().map(Vec::len), Some(3));
    for url in [
        "topOpportunities(minAmount=100000,count=3)",
        "topOpportunities(minAmount=@m,count=@c)?@m=100000&@c=3",
    ] {
        let ours = odata.send(Method::GET, url, ALICE, &[], None).await;
        assert_eq!(ours.status, 200, "{url}: {}", ours.text);
        assert_eq!(
            ours.body["@odata.context"], "/odata/v4/crm/$metadata#Opportunities",
            "{url}"
        );
        assert_eq!(normalized(&ours.body), normalized(&direct.body), "{url}");
    }

    // A function returning a primitive, per user.
    for user in [ALICE, BOB] {
        let resource = "opportunityCount(stage='Negotiation')";
        let ours = odata.send(Method::GET, resource, user, &[], None).await;
        let direct = cap(
            &crm,
            Method::GET,
            &format!("/odata/v4/crm/{resource}"),
            user,
            None,
        )
        .await;
        assert_eq!(ours.status, 200, "{}", ours.text);
        assert!(direct.body["value"].as_u64().is_some_and(|n| n > 0));
        assert_eq!(
            normalized(&ours.body),
            normalized(&direct.body),
            "{}",
            user.0
        );
        assert_eq!(
            ours.body["@odata.context"],
            "/odata/v4/crm/$metadata#Edm.Int32"
        );
    }

    // An action with its parameters in the body changes a row and returns it.
    let rows = env
        .crm
        .get_json(
            "/odata/v4/crm/Opportunities?$top=1&$orderby=ID&$filter=stage ne 'ClosedWon'",
            ALICE,
        )
        .await
        .expect("CAP answers");
    let id = rows["value"][0]["ID"].as_i64().expect("an opportunity");
    let parameters = json!({"ID": id, "stage": "ClosedWon"});
    let ours = odata
        .send(Method::POST, "setStage", ALICE, &[], Some(&parameters))
        .await;
    assert_eq!(ours.status, 200, "{}", ours.text);
    assert_eq!(
        ours.body["@odata.context"],
        "/odata/v4/crm/$metadata#Opportunities/$entity"
    );
    let row = env
        .crm
        .get_json(&format!("/odata/v4/crm/Opportunities({id})"), ALICE)
        .await
        .expect("CAP answers");
    assert_eq!(row["stage"], "ClosedWon", "the action changed CAP's row");
    let direct = cap(
        &crm,
        Method::POST,
        "/odata/v4/crm/setStage",
        ALICE,
        Some(&parameters),
    )
    .await;
    assert_eq!(direct.status, 200, "{}", direct.text);
    assert_eq!(normalized(&ours.body), normalized(&direct.body));

    // Another region's opportunity: CAP's refusal comes back with its status and message.
    let rows = env
        .crm
        .get_json("/odata/v4/crm/Opportunities?$top=1&$orderby=ID", BOB)
        .await
        .expect("CAP answers");
    let bobs = rows["value"][0]["ID"].as_i64().expect("an opportunity");
    let parameters = json!({"ID": bobs, "stage": "ClosedLost"});
    let ours = odata
        .send(Method::POST, "setStage", ALICE, &[], Some(&parameters))
        .await;
    let direct = cap(
        &crm,
        Method::POST,
        "/odata/v4/crm/setStage",
        ALICE,
        Some(&parameters),
    )
    .await;
    assert!(direct.status >= 400, "{}", direct.text);
    assert_eq!(ours.status, direct.status, "{}", ours.text);
    assert!(
        backend_message(&ours).contains(&bobs.to_string()),
        "{}",
        ours.text
    );
}

#[tokio::test]
async fn s4_function_and_action_answer_alike_over_v4_and_v2_backends() {
    let env = GraphEnv::start("odata-operations-s4", GraphOptions::both_protocols())
        .await
        .expect("backends and gateway start");
    let s4 = env.s4.base_url();
    let direct = cap(
        &s4,
        Method::GET,
        "/odata/v4/sales/orderCount(status='C')",
        ALICE,
        None,
    )
    .await;
    assert_eq!(direct.status, 200, "{}", direct.text);
    for namespace in ["s4v4", "sap.s4"] {
        let odata = Endpoint::new(&env, namespace);
        let ours = odata
            .send(Method::GET, "orderCount(status='C')", ALICE, &[], None)
            .await;
        assert_eq!(ours.status, 200, "{namespace}: {}", ours.text);
        assert_eq!(
            normalized(&ours.body),
            normalized(&direct.body),
            "{namespace}"
        );
    }

    // The action through both; on v2 behind the CSRF handshake.
    env.clear_requests().await.expect("logs cleared");
    for (namespace, status) in [("s4v4", "B"), ("sap.s4", "C")] {
        let order = first_order_of(&env, ALICE).await;
        let odata = Endpoint::new(&env, namespace);
        let parameters = json!({"SalesOrder": order, "status": status});
        let ours = odata
            .send(
                Method::POST,
                "setOrderStatus",
                ALICE,
                &[],
                Some(&parameters),
            )
            .await;
        assert_eq!(ours.status, 200, "{namespace}: {}", ours.text);
        assert_eq!(
            ours.body["@odata.context"],
            format!("/odata/v4/{namespace}/$metadata#A_SalesOrder/$entity")
        );
        // What CAP stores now, ETag and timestamp included.
        let row = env
            .s4
            .get_json(
                &format!("/odata/v4/sales/{}", order_resource(&order)),
                ALICE,
            )
            .await
            .expect("CAP answers");
        assert_eq!(row["OverallSDProcessStatus"], status, "{row}");
        assert_eq!(
            normalized(&without(&ours.body, &["@odata.etag"])),
            normalized(&without(&row, &["@odata.etag"])),
            "{namespace}"
        );
        // CAP's own answer to the same call (which stamps the order again).
        let direct = cap(
            &s4,
            Method::POST,
            "/odata/v4/sales/setOrderStatus",
            ALICE,
            Some(&parameters),
        )
        .await;
        assert_eq!(direct.status, 200, "{}", direct.text);
        let volatile = ["@odata.etag", "LastChangeDateTime"];
        assert_eq!(
            normalized(&without(&ours.body, &volatile)),
            normalized(&without(&direct.body, &volatile)),
            "{namespace}"
        );
    }
    let (log, _) = env.requests().await.expect("logs");
    assert_eq!(
        token_fetches(&log, "/odata/v2/sales", "alice"),
        1,
        "{log:#?}"
    );
    assert!(
        writes(&log).iter().any(|(method, url)| method == "POST"
            && url.starts_with("/odata/v2/sales/setOrderStatus?SalesOrder=")),
        "{log:#?}"
    );
}

#[tokio::test]
async fn bad_writes_and_calls_are_refused_before_any_backend_sees_them() {
    let env = GraphEnv::start("odata-writes-refused", GraphOptions::both_protocols())
        .await
        .expect("backends and gateway start");
    env.clear_requests().await.expect("logs cleared");
    let odata = Endpoint::new(&env, "s4v4");
    let post = |body: Value| {
        let odata = &odata;
        async move {
            odata
                .send(Method::POST, "A_SalesOrder", ALICE, &[], Some(&body))
                .await
        }
    };

    let unknown = post(json!({"SalesOrder": "5910000099", "Bogus": 1, "Other": "x"})).await;
    assert_odata_error(&unknown, 400, "UNKNOWN_PROPERTY", "unknown properties");
    let message = unknown.body["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message.contains("Bogus") && message.contains("Other"),
        "{message}"
    );

    // A deep insert is checked to its leaves before anything is sent.
    let deep = post(json!({"SalesOrder": "5910000099", "to_Item": [{"SalesOrderItem": "10", "NetAmount": "ten"}]})).await;
    assert_odata_error(
        &deep,
        400,
        "INVALID_VALUE",
        "a bad value in a nested entity",
    );
    assert!(deep.text.contains("NetAmount"), "{}", deep.text);
    let deep = post(json!({"SalesOrder": "5910000099", "to_Item": {"SalesOrderItem": "10"}})).await;
    assert_odata_error(
        &deep,
        400,
        "INVALID_VALUE",
        "a to-many navigation given an object",
    );

    let bound = post(json!({"SalesOrder": "5910000099", "to_SoldToParty@odata.bind": "A_BusinessPartner('1000001')"})).await;
    assert_odata_error(&bound, 501, "NOT_IMPLEMENTED", "@odata.bind");

    let bad = post(
        json!({"SalesOrder": "5910000099", "TotalNetAmount": "12,5", "CreationDate": "2026-13-01"}),
    )
    .await;
    assert_odata_error(&bad, 400, "INVALID_VALUE", "bad values");
    assert!(
        bad.text.contains("TotalNetAmount") && bad.text.contains("CreationDate"),
        "{}",
        bad.text
    );

    let not_json = odata
        .send(
            Method::POST,
            "A_SalesOrder",
            ALICE,
            &[],
            Some(&json!([1, 2])),
        )
        .await;
    assert_odata_error(&not_json, 400, "BAD_REQUEST", "an array body");

    let http = reqwest::Client::new();
    let url = env.gateway.url("/odata/v4/s4v4/A_SalesOrder");
    let xml = http
        .post(url.clone())
        .basic_auth(ALICE.0, Some(ALICE.1))
        .header("content-type", "application/xml")
        .body("<entry/>")
        .send()
        .await
        .expect("answers");
    assert_eq!(xml.status().as_u16(), 415);
    let huge = http
        .post(url)
        .basic_auth(ALICE.0, Some(ALICE.1))
        .header("content-type", "application/json")
        .body(format!("{{\"SalesOrder\": \"{}\"}}", "x".repeat(2 << 20)))
        .send()
        .await
        .expect("answers");
    assert_eq!(huge.status().as_u16(), 413);
    let huge: Value = huge.json().await.unwrap_or(Value::Null);
    assert_eq!(huge["error"]["code"], "PAYLOAD_TOO_LARGE", "{huge}");

    let collection = odata
        .send(Method::PATCH, "A_SalesOrder", ALICE, &[], Some(&json!({})))
        .await;
    assert_odata_error(&collection, 405, "METHOD_NOT_ALLOWED", "PATCH a collection");
    let keyed = odata
        .send(
            Method::POST,
            &order_resource("5000000001"),
            ALICE,
            &[],
            Some(&json!({})),
        )
        .await;
    assert_odata_error(&keyed, 405, "METHOD_NOT_ALLOWED", "POST to an entity");
    let anonymous = send(
        &http,
        Method::DELETE,
        env.gateway
            .url("/odata/v4/s4v4/A_SalesOrder('5000000001')")
            .as_str(),
        ("nobody", "wrong"),
        &[],
        None,
    )
    .await;
    assert_eq!(anonymous.status, 401, "{}", anonymous.text);

    // Operations: the method must fit the kind, parameters must exist and fit their type.
    let crm = Endpoint::new(&env, "crm");
    let action_by_get = crm.send(Method::GET, "setStage", ALICE, &[], None).await;
    assert_odata_error(&action_by_get, 405, "METHOD_NOT_ALLOWED", "GET an action");
    let function_by_post = crm
        .send(
            Method::POST,
            "opportunityCount",
            ALICE,
            &[],
            Some(&json!({"stage": "Negotiation"})),
        )
        .await;
    assert_odata_error(
        &function_by_post,
        405,
        "METHOD_NOT_ALLOWED",
        "POST a function",
    );
    let unknown = crm
        .send(Method::GET, "opportunityCount(phase='x')", ALICE, &[], None)
        .await;
    assert_odata_error(&unknown, 400, "UNKNOWN_PROPERTY", "unknown parameter");
    assert!(unknown.text.contains("phase"), "{}", unknown.text);
    let literal = crm
        .send(
            Method::GET,
            "topOpportunities(minAmount='many',count=3)",
            ALICE,
            &[],
            None,
        )
        .await;
    assert_odata_error(&literal, 400, "INVALID_LITERAL", "a string for a Decimal");
    assert!(literal.text.contains("'many'"), "{}", literal.text);
    let body = crm
        .send(
            Method::POST,
            "setStage",
            ALICE,
            &[],
            Some(&json!({"ID": "one", "color": "red"})),
        )
        .await;
    assert_odata_error(&body, 400, "UNKNOWN_PARAMETER", "unknown action parameter");
    let composed = crm
        .send(
            Method::GET,
            "topOpportunities(minAmount=1,count=3)/$count",
            ALICE,
            &[],
            None,
        )
        .await;
    assert_odata_error(&composed, 501, "NOT_IMPLEMENTED", "composing on a function");
    let delete = crm.send(Method::DELETE, "setStage", ALICE, &[], None).await;
    assert_odata_error(&delete, 405, "METHOD_NOT_ALLOWED", "DELETE an action");

    let (s4, crm_log) = env.requests().await.expect("logs");
    assert_eq!(writes(&s4), Vec::<(String, String)>::new(), "{s4:#?}");
    assert!(crm_log.is_empty(), "{crm_log:#?}");
}

async fn first_order_of(env: &GraphEnv, user: (&str, &str)) -> String {
    let rows = env
        .s4
        .get_json(
            "/odata/v4/sales/A_SalesOrder?$top=1&$orderby=SalesOrder&$filter=OverallSDProcessStatus ne 'B' and SalesOrder lt '5900000000'",
            user,
        )
        .await
        .expect("CAP answers");
    rows["value"][0]["SalesOrder"]
        .as_str()
        .expect("an order")
        .to_owned()
}

#[tokio::test]
async fn deep_insert_creates_an_order_with_its_items_in_one_request_over_v4_and_v2() {
    let env = GraphEnv::start("odata-deep-insert", GraphOptions::both_protocols())
        .await
        .expect("backends and gateway start");
    for (namespace, order) in [("s4v4", "5920000001"), ("sap.s4", "5920000002")] {
        env.clear_requests().await.expect("logs cleared");
        let odata = Endpoint::new(&env, namespace);
        let created = odata
            .send(
                Method::POST,
                "A_SalesOrder",
                ALICE,
                &[],
                Some(&json!({
                    "SalesOrder": order, "SoldToParty": "1000001", "region": "EU",
                    "TransactionCurrency": "EUR", "OverallSDProcessStatus": "A",
                    "to_Item": [
                        {"SalesOrderItem": "10", "Material": "HT-1000", "RequestedQuantity": "2.000", "NetAmount": "100.50", "ItemPosition": 1},
                        {"SalesOrderItem": "20", "Material": "HT-1001", "RequestedQuantity": "1.000", "NetAmount": "7.25", "ItemPosition": 2}
                    ]
                })),
            )
            .await;
        assert_eq!(created.status, 201, "{namespace}: {}", created.text);
        let (s4_log, _) = env.requests().await.expect("logs");
        let posts: Vec<&str> = s4_log
            .iter()
            .filter(|r| r.method == "POST")
            .map(|r| r.url.as_str())
            .collect();
        assert_eq!(
            posts.len(),
            1,
            "one request for the order and its items: {posts:?}"
        );
        for (item, amount) in [("10", "100.50"), ("20", "7.25")] {
            let stored = stored(&env, &item_resource(order, item))
                .await
                .unwrap_or_else(|| panic!("{namespace}: item {item} was created"));
            assert_eq!(stored["NetAmount"], amount, "{namespace}: {stored}");
        }
        let read = odata
            .send(
                Method::GET,
                &format!(
                    "{}?$expand=to_Item($orderby=SalesOrderItem)",
                    order_resource(order)
                ),
                ALICE,
                &[],
                None,
            )
            .await;
        assert_eq!(read.status, 200, "{}", read.text);
        let items: Vec<&str> = read.body["to_Item"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|i| i["SalesOrderItem"].as_str())
            .collect();
        assert_eq!(items, ["10", "20"], "{namespace}");

        // POST through the navigation (section 11.4.2.1): the item is tied to its order by
        // the order's key, whatever the body says.
        let added = odata
            .send(
                Method::POST,
                &format!("{}/to_Item", order_resource(order)),
                ALICE,
                &[],
                Some(&json!({"SalesOrder": "9999999999", "SalesOrderItem": "30", "Material": "HT-1002", "RequestedQuantity": "3.000", "NetAmount": "1.00", "ItemPosition": 3})),
            )
            .await;
        assert_eq!(added.status, 201, "{namespace}: {}", added.text);
        assert_eq!(
            added.body["SalesOrder"], order,
            "{namespace}: {}",
            added.text
        );
        assert!(
            stored(&env, &item_resource(order, "30")).await.is_some(),
            "{namespace}: the item was created under its order"
        );
    }
}

#[tokio::test]
async fn singletons_and_bound_operations_answer_what_cap_answers() {
    let env = GraphEnv::start("odata-bound-crm", GraphOptions::both_protocols())
        .await
        .expect("backends and gateway start");
    let odata = Endpoint::new(&env, "crm");
    let crm = env.crm.base_url();

    // $metadata declares the singleton and the bound operations, bound to the entity type.
    let metadata = reqwest::Client::new()
        .get(env.gateway.url("/odata/v4/crm/$metadata"))
        .basic_auth(ALICE.0, Some(ALICE.1))
        .send()
        .await
        .expect("metadata")
        .text()
        .await
        .expect("text");
    assert!(
        metadata.contains(r#"<Singleton Name="Settings" Type="crm.Settings""#),
        "{metadata}"
    );
    assert!(
        metadata.contains(r#"<Function Name="weightedAmount" IsBound="true">"#)
            && metadata.contains(r#"<Action Name="close" IsBound="true">"#)
            && metadata
                .contains(r#"<Parameter Name="in" Type="crm.Opportunities" Nullable="false"/>"#),
        "{metadata}"
    );
    let service = odata.send(Method::GET, "", ALICE, &[], None).await;
    assert!(
        service.body["value"].as_array().is_some_and(|items| items
            .iter()
            .any(|item| item["name"] == "Settings" && item["kind"] == "Singleton")),
        "{}",
        service.text
    );

    // The singleton: read, with $select, and a navigation-free error for a key.
    let direct = cap(&crm, Method::GET, "/odata/v4/crm/Settings", ALICE, None).await;
    assert_eq!(direct.status, 200, "{}", direct.text);
    let ours = odata.send(Method::GET, "Settings", ALICE, &[], None).await;
    assert_eq!(ours.status, 200, "{}", ours.text);
    assert_eq!(
        ours.body["@odata.context"],
        "/odata/v4/crm/$metadata#Settings"
    );
    assert_eq!(normalized(&ours.body), normalized(&direct.body));
    let ours = odata
        .send(
            Method::GET,
            "Settings?$select=companyName",
            ALICE,
            &[],
            None,
        )
        .await;
    assert_eq!(ours.status, 200, "{}", ours.text);
    assert_eq!(ours.body["companyName"], direct.body["companyName"]);
    assert!(ours.body.get("defaultCurrency").is_none(), "{}", ours.text);
    let keyed = odata
        .send(Method::GET, "Settings(1)", ALICE, &[], None)
        .await;
    assert_odata_error(&keyed, 400, "SYNTAX_ERROR", "singleton");
    let count = odata
        .send(Method::GET, "Settings/$count", ALICE, &[], None)
        .await;
    assert_eq!(count.status, 400, "{}", count.text);

    // A bound function on one opportunity, per user: the caller's own row answers, the other
    // region's is refused by CAP.
    let rows = env
        .crm
        .get_json("/odata/v4/crm/Opportunities?$top=1&$orderby=ID", ALICE)
        .await
        .expect("CAP answers");
    let alices = rows["value"][0]["ID"].as_i64().expect("an opportunity");
    let rows = env
        .crm
        .get_json("/odata/v4/crm/Opportunities?$top=1&$orderby=ID", BOB)
        .await
        .expect("CAP answers");
    let bobs = rows["value"][0]["ID"].as_i64().expect("an opportunity");
    let resource = format!("Opportunities({alices})/crm.weightedAmount()");
    let ours = odata.send(Method::GET, &resource, ALICE, &[], None).await;
    let direct = cap(
        &crm,
        Method::GET,
        &format!("/odata/v4/crm/Opportunities({alices})/CrmService.weightedAmount()"),
        ALICE,
        None,
    )
    .await;
    assert_eq!(direct.status, 200, "{}", direct.text);
    assert_eq!(ours.status, 200, "{}", ours.text);
    // Asked for IEEE754Compatible, the gateway sends the Decimal as a string (JSON format
    // 4.01, section 4.5.1); CAP sends a number for operation results regardless.
    let decimal = |value: &Value| match value {
        Value::String(text) => text.parse::<f64>().ok(),
        other => other.as_f64(),
    };
    assert!(ours.body["value"].is_string(), "{}", ours.text);
    assert_eq!(
        decimal(&ours.body["value"]),
        decimal(&direct.body["value"]),
        "{}",
        ours.text
    );
    let foreign = format!("Opportunities({bobs})/crm.weightedAmount()");
    let ours = odata.send(Method::GET, &foreign, ALICE, &[], None).await;
    let direct = cap(
        &crm,
        Method::GET,
        &format!("/odata/v4/crm/Opportunities({bobs})/CrmService.weightedAmount()"),
        ALICE,
        None,
    )
    .await;
    assert!(direct.status >= 400, "{}", direct.text);
    assert_eq!(ours.status, direct.status, "{}", ours.text);
    // The backend saw its own qualified name, on the entity the client named.
    let log = env.crm.requests().await.expect("request log");
    assert!(
        log.iter().any(|entry| entry.url.contains(&format!(
            "/odata/v4/crm/Opportunities({alices})/CrmService.weightedAmount()"
        ))),
        "{log:?}"
    );

    // Unknown bound operation and a function called with POST.
    let unknown = odata
        .send(
            Method::GET,
            &format!("Opportunities({alices})/crm.nothing()"),
            ALICE,
            &[],
            None,
        )
        .await;
    assert_odata_error(&unknown, 404, "NOT_FOUND", "crm.nothing");
    let wrong = odata
        .send(Method::POST, &resource, ALICE, &[], Some(&json!({})))
        .await;
    assert_eq!(wrong.status, 405, "{}", wrong.text);

    // A bound action changes the row and returns it, as CAP's own answer shows.
    let before = env
        .crm
        .get_json(&format!("/odata/v4/crm/Opportunities({alices})"), ALICE)
        .await
        .expect("CAP answers");
    let ours = odata
        .send(
            Method::POST,
            &format!("Opportunities({alices})/crm.close"),
            ALICE,
            &[],
            Some(&json!({"won": false})),
        )
        .await;
    assert_eq!(ours.status, 200, "{}", ours.text);
    let after = env
        .crm
        .get_json(&format!("/odata/v4/crm/Opportunities({alices})"), ALICE)
        .await
        .expect("CAP answers");
    assert_eq!(after["stage"], "ClosedLost", "before: {before}");
    assert_eq!(after["probability"], 0);
    assert_eq!(ours.body["stage"], "ClosedLost", "{}", ours.text);
    assert_eq!(ours.body["ID"], alices);

    // The same through GraphQL: the singleton as a root field, the bound function with the
    // key as arguments, the bound action as a mutation.
    let answer = env
        .query(
            ALICE,
            &format!(
                "{{ crm {{ Settings {{ companyName defaultCurrency }} \
                 Opportunities_weightedAmount(ID: {alices}) }} }}"
            ),
            Value::Null,
        )
        .await
        .expect("GraphQL answers");
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(
        answer["data"]["crm"]["Settings"]["companyName"],
        direct_settings(&env).await["companyName"]
    );
    assert_eq!(
        answer["data"]["crm"]["Opportunities_weightedAmount"]
            .as_str()
            .map(|v| v.parse::<f64>().ok()),
        Some(Some(0.0)),
        "closed lost: probability 0, {answer}"
    );
    let answer = env
        .query(
            ALICE,
            &format!("mutation {{ crm {{ Opportunities_close(ID: {alices}, won: true) {{ ID stage }} }} }}"),
            Value::Null,
        )
        .await
        .expect("GraphQL answers");
    assert!(answer.get("errors").is_none(), "{answer}");
    assert_eq!(
        answer["data"]["crm"]["Opportunities_close"]["stage"],
        "ClosedWon"
    );
    let after = env
        .crm
        .get_json(&format!("/odata/v4/crm/Opportunities({alices})"), ALICE)
        .await
        .expect("CAP answers");
    assert_eq!(after["stage"], "ClosedWon");
}

async fn direct_settings(env: &GraphEnv) -> Value {
    env.crm
        .get_json("/odata/v4/crm/Settings", ALICE)
        .await
        .expect("CAP answers")
}
