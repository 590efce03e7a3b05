//! Self-test of the real SAP CAP test backends and their harness (`bizgraph_tests::cap`): both
//! apps start, `$metadata` answers in v4 and v2, users see only their region's rows in v4 and
//! v2, anonymous callers get 401, the request log counts each external v2 request once, and the
//! v2 path demands SAP Gateway's CSRF token for writes.
//!
//! Needs `npm ci --prefix tests/backends` (see tests/backends/README.md).

use bizgraph_tests::cap::{ADMIN, ALICE, BOB, CapApp, CapBackend, LoggedRequest};
use bizgraph_tests::standins::http_client;
use serde_json::{Value, json};

/// `@odata.count` of a v4 answer.
fn v4_count(body: &Value) -> u64 {
    body["@odata.count"]
        .as_u64()
        .unwrap_or_else(|| panic!("no @odata.count in {body}"))
}

/// `d.__count` of a v2 answer (a string, as OData v2 JSON writes it).
fn v2_count(body: &Value) -> u64 {
    body["d"]["__count"]
        .as_str()
        .and_then(|count| count.parse().ok())
        .unwrap_or_else(|| panic!("no d.__count in {body}"))
}

/// The `region` of every row of a v4 (`value`) or v2 (`d.results`) collection.
fn regions(body: &Value) -> Vec<String> {
    let rows = body["value"]
        .as_array()
        .or_else(|| body["d"]["results"].as_array())
        .unwrap_or_else(|| panic!("no collection in {body}"));
    rows.iter()
        .map(|row| row["region"].as_str().unwrap_or("<none>").to_owned())
        .collect()
}

async fn status_of(url: &str, user: Option<(&str, &str)>) -> anyhow::Result<u16> {
    let mut request = http_client()?.get(url);
    if let Some((name, password)) = user {
        request = request.basic_auth(name, Some(password));
    }
    Ok(request.send().await?.status().as_u16())
}

async fn text_of(url: &str, user: (&str, &str)) -> anyhow::Result<(u16, String)> {
    let response = http_client()?
        .get(url)
        .basic_auth(user.0, Some(user.1))
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.text().await?))
}

#[tokio::test]
async fn both_apps_start_and_answer_metadata_in_v4_and_v2() -> anyhow::Result<()> {
    let (s4, crm) = tokio::join!(
        CapBackend::start(CapApp::S4),
        CapBackend::start(CapApp::Crm)
    );
    let (s4, crm) = (s4?, crm?);
    assert_ne!(s4.port(), crm.port());

    let (status, v4) = text_of(&s4.url("/odata/v4/sales/$metadata"), ALICE).await?;
    assert_eq!(status, 200, "{v4}");
    assert!(v4.contains(r#"<edmx:Edmx Version="4.0""#), "{v4}");
    assert!(
        v4.contains(r#"<EntityType Name="A_SalesOrderItem">"#),
        "{v4}"
    );
    assert!(
        v4.contains(r#"Name="StockQuantity" Type="Edm.Int64""#),
        "{v4}"
    );

    let v2_path = s4.v2_path().expect("S4 serves OData v2");
    let (status, v2) = text_of(&s4.url(&format!("{v2_path}/$metadata")), BOB).await?;
    assert_eq!(status, 200, "{v2}");
    assert!(v2.contains(r#"<edmx:Edmx Version="1.0""#), "{v2}");
    assert!(v2.contains(r#"m:DataServiceVersion="2.0""#), "{v2}");
    // The composite key of the items and the ETag of the orders survive the v2 translation.
    assert!(
        v2.contains(r#"<PropertyRef Name="SalesOrder"/>"#)
            && v2.contains(r#"<PropertyRef Name="SalesOrderItem"/>"#),
        "{v2}"
    );
    assert!(v2.contains(r#"ConcurrencyMode="Fixed""#), "{v2}");

    let (status, crm_metadata) = text_of(&crm.url("/odata/v4/crm/$metadata"), ADMIN).await?;
    assert_eq!(status, 200, "{crm_metadata}");
    assert!(
        crm_metadata.contains(r#"<EntityType Name="Opportunities">"#),
        "{crm_metadata}"
    );
    assert_eq!(crm.v2_path(), None);
    Ok(())
}

#[tokio::test]
async fn users_see_only_their_region_in_v4_and_v2() -> anyhow::Result<()> {
    let s4 = CapBackend::start(CapApp::S4).await?;
    let v4 = "/odata/v4/sales/A_BusinessPartner?$count=true";
    let v2 = "/odata/v2/sales/A_BusinessPartner?$inlinecount=allpages";

    let alice_v4 = s4.get_json(v4, ALICE).await?;
    let bob_v4 = s4.get_json(v4, BOB).await?;
    let admin_v4 = s4.get_json(v4, ADMIN).await?;
    assert_eq!(v4_count(&alice_v4), 20);
    assert_eq!(v4_count(&bob_v4), 20);
    assert_eq!(v4_count(&admin_v4), 40);
    assert!(regions(&alice_v4).iter().all(|region| region == "EU"));
    assert!(regions(&bob_v4).iter().all(|region| region == "US"));

    let alice_v2 = s4.get_json(v2, ALICE).await?;
    let bob_v2 = s4.get_json(v2, BOB).await?;
    let admin_v2 = s4.get_json(v2, ADMIN).await?;
    assert_eq!(v2_count(&alice_v2), v4_count(&alice_v4));
    assert_eq!(v2_count(&bob_v2), v4_count(&bob_v4));
    assert_eq!(v2_count(&admin_v2), v4_count(&admin_v4));
    assert!(regions(&alice_v2).iter().all(|region| region == "EU"));
    assert!(regions(&bob_v2).iter().all(|region| region == "US"));

    // Orders follow the same rule, and a single row of the other region is not found.
    let orders = "/odata/v4/sales/A_SalesOrder?$count=true&$top=0";
    assert_eq!(v4_count(&s4.get_json(orders, ALICE).await?), 60);
    assert_eq!(v4_count(&s4.get_json(orders, ADMIN).await?), 120);
    let us_partner = s4
        .get_json("/odata/v4/sales/A_BusinessPartner('1000002')", ALICE)
        .await;
    assert!(us_partner.is_err(), "alice read a US partner");

    let crm = CapBackend::start(CapApp::Crm).await?;
    let opportunities = "/odata/v4/crm/Opportunities?$count=true&$top=0";
    let alice = v4_count(&crm.get_json(opportunities, ALICE).await?);
    let bob = v4_count(&crm.get_json(opportunities, BOB).await?);
    let admin = v4_count(&crm.get_json(opportunities, ADMIN).await?);
    assert!(alice >= 100 && bob >= 100, "alice {alice}, bob {bob}");
    assert_eq!(alice + bob, admin);
    let accounts = "/odata/v4/crm/Accounts?$count=true";
    assert_eq!(v4_count(&crm.get_json(accounts, ALICE).await?), 20);
    assert_eq!(v4_count(&crm.get_json(accounts, ADMIN).await?), 40);
    Ok(())
}

#[tokio::test]
async fn anonymous_and_wrong_passwords_get_401() -> anyhow::Result<()> {
    let s4 = CapBackend::start(CapApp::S4).await?;
    for path in [
        "/odata/v4/sales/A_Product",
        "/odata/v4/sales/$metadata",
        "/odata/v2/sales/A_Product",
        "/odata/v2/sales/$metadata",
    ] {
        assert_eq!(status_of(&s4.url(path), None).await?, 401, "{path}");
        assert_eq!(
            status_of(&s4.url(path), Some(("alice", "wrong"))).await?,
            401,
            "{path}"
        );
        assert_eq!(
            status_of(&s4.url(path), Some(("mallory", "x"))).await?,
            401,
            "{path}"
        );
    }
    assert_eq!(status_of(&s4.url("/__health"), None).await?, 200);

    let crm = CapBackend::start(CapApp::Crm).await?;
    assert_eq!(
        status_of(&crm.url("/odata/v4/crm/Accounts"), None).await?,
        401
    );
    Ok(())
}

#[tokio::test]
async fn request_log_records_each_external_request_once() -> anyhow::Result<()> {
    let s4 = CapBackend::start(CapApp::S4).await?;
    s4.clear_requests().await?;
    assert_eq!(s4.requests().await?, Vec::new());

    // Each of these v2 requests makes the adapter call the v4 path of the same process.
    s4.get_json("/odata/v2/sales/A_SalesOrder?$top=1", ALICE)
        .await?;
    s4.get_json(
        "/odata/v2/sales/A_SalesOrder('5000000001')?$expand=to_Item",
        ALICE,
    )
    .await?;
    let (status, _) = text_of(&s4.url("/odata/v2/sales/$metadata"), BOB).await?;
    assert_eq!(status, 200);
    s4.get_json("/odata/v4/sales/A_Product?$top=2", ADMIN)
        .await?;
    assert_eq!(
        status_of(&s4.url("/odata/v2/sales/A_Product"), None).await?,
        401
    );

    let logged = s4.requests().await?;
    let expected = [
        ("GET", "/odata/v2/sales/A_SalesOrder?$top=1", Some("alice")),
        (
            "GET",
            "/odata/v2/sales/A_SalesOrder('5000000001')?$expand=to_Item",
            Some("alice"),
        ),
        ("GET", "/odata/v2/sales/$metadata", Some("bob")),
        ("GET", "/odata/v4/sales/A_Product?$top=2", Some("admin")),
        ("GET", "/odata/v2/sales/A_Product", None),
    ]
    .map(|(method, url, user)| LoggedRequest {
        method: method.to_owned(),
        url: url.to_owned(),
        user: user.map(str::to_owned),
    });
    assert_eq!(logged, expected);

    s4.clear_requests().await?;
    assert_eq!(s4.requests().await?, Vec::new());
    Ok(())
}

#[tokio::test]
async fn v2_writes_need_the_users_csrf_token() -> anyhow::Result<()> {
    let s4 = CapBackend::start(CapApp::S4).await?;
    let http = http_client()?;
    let entity_set = s4.url("/odata/v2/sales/A_BusinessPartner");
    let partner = json!({
        "BusinessPartner": "9100001",
        "BusinessPartnerFullName": "CSRF GmbH",
        "BusinessPartnerCategory": "2",
        "region": "EU",
        "IsBlocked": false
    });

    // No token: 403 with `X-CSRF-Token: Required`, an OData v2 error body, nothing written.
    let refused = http
        .post(&entity_set)
        .basic_auth(ALICE.0, Some(ALICE.1))
        .json(&partner)
        .send()
        .await?;
    assert_eq!(refused.status().as_u16(), 403);
    assert_eq!(
        refused
            .headers()
            .get("x-csrf-token")
            .and_then(|value| value.to_str().ok()),
        Some("Required")
    );
    let error: Value = refused.json().await?;
    assert!(error["error"]["message"]["value"].is_string(), "{error}");

    // Fetch a token with a GET.
    let fetched = http
        .get(s4.url("/odata/v2/sales/"))
        .basic_auth(ALICE.0, Some(ALICE.1))
        .header("X-CSRF-Token", "Fetch")
        .send()
        .await?;
    assert_eq!(fetched.status().as_u16(), 200);
    let token = fetched
        .headers()
        .get("x-csrf-token")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned)
        .expect("a fetched CSRF token");
    assert_ne!(token, "Required");

    // The token is bound to alice: bob cannot use it.
    let foreign = http
        .post(&entity_set)
        .basic_auth(BOB.0, Some(BOB.1))
        .header("X-CSRF-Token", &token)
        .json(&json!({"BusinessPartner": "9100002", "region": "US"}))
        .send()
        .await?;
    assert_eq!(foreign.status().as_u16(), 403);

    // With the token the create succeeds, and the row reads back in v4.
    let created = http
        .post(&entity_set)
        .basic_auth(ALICE.0, Some(ALICE.1))
        .header("X-CSRF-Token", &token)
        .header("Accept", "application/json")
        .json(&partner)
        .send()
        .await?;
    let status = created.status().as_u16();
    let body = created.text().await?;
    assert_eq!(status, 201, "{body}");
    let row = s4
        .get_json("/odata/v4/sales/A_BusinessPartner('9100001')", ALICE)
        .await?;
    assert_eq!(row["BusinessPartnerFullName"], "CSRF GmbH");

    // DELETE is modifying too: refused without the token, done with it.
    let single = s4.url("/odata/v2/sales/A_BusinessPartner('9100001')");
    let refused = http
        .delete(&single)
        .basic_auth(ALICE.0, Some(ALICE.1))
        .send()
        .await?;
    assert_eq!(refused.status().as_u16(), 403);
    let deleted = http
        .delete(&single)
        .basic_auth(ALICE.0, Some(ALICE.1))
        .header("X-CSRF-Token", &token)
        .send()
        .await?;
    assert_eq!(deleted.status().as_u16(), 204);
    assert!(
        s4.get_json("/odata/v4/sales/A_BusinessPartner('9100001')", ADMIN)
            .await
            .is_err()
    );

    // The v4 path is CAP's own and needs no token.
    let v4 = http
        .post(s4.url("/odata/v4/sales/A_BusinessPartner"))
        .basic_auth(ALICE.0, Some(ALICE.1))
        .json(&json!({"BusinessPartner": "9100003", "region": "EU"}))
        .send()
        .await?;
    assert_eq!(v4.status().as_u16(), 201);
    Ok(())
}

#[tokio::test]
async fn int64_and_decimals_keep_every_digit() -> anyhow::Result<()> {
    let s4 = CapBackend::start(CapApp::S4).await?;
    let v4 = s4
        .get_json("/odata/v4/sales/A_Product('HT-1006')", ADMIN)
        .await?;
    assert_eq!(v4["StockQuantity"], "9007199254740993", "{v4}");
    let v2 = s4
        .get_json("/odata/v2/sales/A_Product('HT-1006')", ADMIN)
        .await?;
    assert_eq!(v2["d"]["StockQuantity"], "9007199254740993", "{v2}");
    let price = s4
        .get_json("/odata/v2/sales/A_Product('HT-1005')", ADMIN)
        .await?;
    assert_eq!(price["d"]["Price"], "12345678901.99", "{price}");
    Ok(())
}

#[tokio::test]
async fn stop_takes_the_backend_down() -> anyhow::Result<()> {
    let mut crm = CapBackend::start(CapApp::Crm).await?;
    let health = crm.url("/__health");
    assert_eq!(status_of(&health, None).await?, 200);
    crm.stop();
    assert!(!crm.is_running());
    assert!(status_of(&health, None).await.is_err());
    crm.stop();
    Ok(())
}
