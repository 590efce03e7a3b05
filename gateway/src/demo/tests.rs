//! Tests of the demo backends over HTTP (`tower::ServiceExt::oneshot`, no sockets): `$metadata`
//! through the project's own parser, every query option in both dialects, per-user rows,
//! authentication, CSRF, ETags and writes.
//!
//! Expected rows follow from the generator in `data.rs`: order `5000001 + i` belongs to partner
//! `i % 12` (even partner indexes are `EU`), was created on 2024-01-01 plus `3 i` days and has
//! `1 + i % 3` items; opportunity `i + 1` belongs to account `i % 12`, is in stage `i % 6` and
//! closes on 2024-02-01 plus `9 i` days. So alice (EU) sees the odd order numbers and the odd
//! opportunity ids.

use std::collections::BTreeSet;

use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use base64::Engine as _;
use bizgraph_metadata::{Multiplicity, Severity};
use serde_json::{Value as Json, json};
use tower::ServiceExt as _;

use super::model::{CRM, Kind, S4, Service};
use super::{CRM_SERVICE_PATH, S4_SERVICE_PATH, crm_router, s4_router, s4_router_paged};

/// An answer: status, headers, body.
#[derive(Debug)]
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "not JSON ({error}), status {}: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[track_caller]
    fn expect(self, status: StatusCode) -> Self {
        assert_eq!(self.status, status, "body: {}", self.text());
        self
    }
}

/// Percent-encodes what a request target cannot hold: spaces, quotes, `+` (a literal plus) and
/// non-ASCII characters.
fn encode(target: &str) -> String {
    let mut encoded = String::new();
    for c in target.chars() {
        match c {
            ' ' => encoded.push_str("%20"),
            '"' => encoded.push_str("%22"),
            '+' => encoded.push_str("%2B"),
            c if c.is_ascii() => encoded.push(c),
            c => {
                let mut buffer = [0u8; 4];
                for byte in c.encode_utf8(&mut buffer).bytes() {
                    encoded.push_str(&format!("%{byte:02X}"));
                }
            }
        }
    }
    encoded
}

fn basic(user: &str, password: &str) -> String {
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {credentials}")
}

/// Sends a request; `target` is below the service root unless it starts with `http` or `/`.
async fn send(
    router: &Router,
    method: &str,
    root: &str,
    target: &str,
    user: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&Json>,
) -> Answer {
    let uri = if let Some(rest) = target.strip_prefix("http://localhost") {
        rest.to_owned()
    } else if target.starts_with('/') {
        encode(target)
    } else {
        encode(&format!("{root}/{target}"))
    };
    let mut request = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("method"))
        .uri(uri);
    if let Some(user) = user {
        request = request.header("authorization", basic(user, user));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = body.map_or_else(Body::empty, |json| Body::from(json.to_string()));
    let response = router
        .clone()
        .oneshot(request.body(body).expect("request"))
        .await
        .expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    Answer {
        status,
        headers,
        body,
    }
}

async fn s4_get(router: &Router, user: &str, target: &str) -> Answer {
    send(
        router,
        "GET",
        S4_SERVICE_PATH,
        target,
        Some(user),
        &[],
        None,
    )
    .await
}

async fn crm_get(router: &Router, user: &str, target: &str) -> Answer {
    send(
        router,
        "GET",
        CRM_SERVICE_PATH,
        target,
        Some(user),
        &[],
        None,
    )
    .await
}

/// The `d.results` of a v2 collection answer.
fn results(answer: &Answer) -> Vec<Json> {
    answer.json()["d"]["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no d.results: {}", answer.text()))
        .clone()
}

/// The `value` of a v4 collection answer.
fn values(answer: &Answer) -> Vec<Json> {
    answer.json()["value"]
        .as_array()
        .unwrap_or_else(|| panic!("no value: {}", answer.text()))
        .clone()
}

fn strings(rows: &[Json], property: &str) -> Vec<String> {
    rows.iter()
        .map(|row| {
            row[property]
                .as_str()
                .unwrap_or_else(|| panic!("no {property} in {row}"))
                .to_owned()
        })
        .collect()
}

fn ids(rows: &[Json]) -> Vec<i64> {
    rows.iter()
        .map(|row| {
            row["ID"]
                .as_i64()
                .unwrap_or_else(|| panic!("no ID in {row}"))
        })
        .collect()
}

/// The CSRF token of `user`, fetched as SAP clients do.
async fn csrf(router: &Router, user: &str) -> String {
    let answer = send(
        router,
        "GET",
        S4_SERVICE_PATH,
        "",
        Some(user),
        &[("x-csrf-token", "Fetch")],
        None,
    )
    .await
    .expect(StatusCode::OK);
    answer.header("x-csrf-token").expect("token").to_owned()
}

fn account(index: usize) -> String {
    format!("a0000000-0000-4000-8000-{:012}", index + 1)
}

// ---------------------------------------------------------------------------------------------
// $metadata

fn parse(service: &Service) -> bizgraph_metadata::Parsed {
    let parsed = bizgraph_metadata::parse(service.metadata.as_bytes()).expect("document parses");
    let errors: Vec<String> = parsed
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .map(ToString::to_string)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    parsed
}

#[tokio::test]
async fn s4_metadata_is_served_and_parses_without_errors() {
    let router = s4_router();
    let answer = s4_get(&router, "alice", "$metadata")
        .await
        .expect(StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("application/xml"));
    assert_eq!(answer.header("dataserviceversion"), Some("2.0"));
    let parsed = bizgraph_metadata::parse(&answer.body).expect("served document parses");
    assert_eq!(parsed.errors().count(), 0);
    let parsed = parse(&S4);
    let model = &parsed.metadata;
    assert_eq!(model.data_service_version.as_deref(), Some("2.0"));
    let counts = model.counts();
    assert_eq!(
        (
            counts.entity_types,
            counts.entity_sets,
            counts.associations,
            counts.navigation_properties
        ),
        (4, 4, 3, 5)
    );
    assert_eq!(counts.keys_composite, 1);
    let container = model.entity_container().expect("container");
    assert_eq!(container.association_sets.len(), 3);
    let product = model
        .entity_type("API_SALES_ORDER_SRV.A_ProductType")
        .expect("product");
    let sap = |name: &str| {
        product
            .properties
            .iter()
            .find(|p| &*p.name == name)
            .expect("property")
            .annotations
            .sap
            .clone()
            .expect("sap")
    };
    assert_eq!(sap("NetWeight").filterable, Some(false));
    assert_eq!(sap("ProductDescription").sortable, Some(false));
    assert_eq!(sap("Price").unit.as_deref(), Some("Currency"));
    assert_eq!(sap("Currency").semantics.as_deref(), Some("currency-code"));
    let order = model
        .entity_type("API_SALES_ORDER_SRV.A_SalesOrderType")
        .expect("order");
    let property = |name: &str| {
        order
            .properties
            .iter()
            .find(|p| &*p.name == name)
            .expect("property")
    };
    assert!(property("LastChangeDateTime").concurrency_token);
    assert_eq!(
        property("CreationDate")
            .annotations
            .sap
            .as_ref()
            .and_then(|s| s.display_format.as_deref()),
        Some("Date")
    );
    assert_eq!(&*property("CreationDate").type_ref.name, "Edm.DateTime");
    let amount = property("TotalNetAmount");
    assert_eq!(
        (
            amount.facets.precision,
            amount
                .annotations
                .sap
                .as_ref()
                .and_then(|s| s.unit.as_deref())
        ),
        (Some(15), Some("TransactionCurrency"))
    );
    let to_item = order
        .navigation_properties
        .iter()
        .find(|n| &*n.name == "to_Item")
        .expect("to_Item");
    assert_eq!(to_item.multiplicity, Multiplicity::Many);
    let to_party = order
        .navigation_properties
        .iter()
        .find(|n| &*n.name == "to_SoldToParty")
        .expect("to_SoldToParty");
    assert_eq!(to_party.multiplicity, Multiplicity::One);
    assert_eq!(
        &*to_party.referential_constraints[0].property,
        "SoldToParty"
    );
    let products = container
        .entity_sets
        .iter()
        .find(|s| &*s.name == "A_Product")
        .expect("set");
    assert_eq!(
        products.annotations.sap.as_ref().and_then(|s| s.creatable),
        Some(false)
    );
}

#[tokio::test]
async fn crm_metadata_is_served_and_parses_without_errors() {
    let router = crm_router();
    let answer = crm_get(&router, "bob", "$metadata")
        .await
        .expect(StatusCode::OK);
    assert_eq!(answer.header("odata-version"), Some("4.0"));
    assert_eq!(
        bizgraph_metadata::parse(&answer.body)
            .expect("parses")
            .errors()
            .count(),
        0
    );
    let parsed = parse(&CRM);
    let model = &parsed.metadata;
    let counts = model.counts();
    assert_eq!(
        (
            counts.entity_types,
            counts.entity_sets,
            counts.enum_types,
            counts.navigation_properties
        ),
        (2, 2, 1, 2)
    );
    let stage = model
        .enum_type("CrmService.OpportunityStage")
        .expect("enum");
    assert_eq!(stage.members.len(), 6);
    let opportunity = model.entity_type("CrmService.Opportunities").expect("type");
    let account = opportunity
        .navigation_properties
        .iter()
        .find(|n| &*n.name == "account")
        .expect("account");
    assert_eq!(account.partner.as_deref(), Some("opportunities"));
    assert_eq!(&*account.referential_constraints[0].property, "account_ID");
    let container = model.entity_container().expect("container");
    let set = container
        .entity_sets
        .iter()
        .find(|s| &*s.name == "Opportunities")
        .expect("set");
    assert_eq!(&*set.navigation_property_bindings[0].target, "Accounts");
    let terms = set.annotations.terms.as_ref().expect("terms");
    let filter = terms
        .filter_restrictions
        .as_ref()
        .expect("filter restrictions");
    assert_eq!(
        filter.non_filterable_properties,
        vec![Box::<str>::from("probability")]
    );
    let sort = terms.sort_restrictions.as_ref().expect("sort restrictions");
    assert_eq!(
        sort.non_sortable_properties,
        vec![Box::<str>::from("title")]
    );
    let accounts = model.entity_type("CrmService.Accounts").expect("type");
    assert!(
        accounts
            .annotations
            .description()
            .is_some_and(|d| d.contains("business partner"))
    );
}

fn edm_name(kind: Kind) -> String {
    match kind {
        Kind::String => "Edm.String".into(),
        Kind::Int32 => "Edm.Int32".into(),
        Kind::Decimal { .. } => "Edm.Decimal".into(),
        Kind::Guid => "Edm.Guid".into(),
        Kind::Date => "Edm.Date".into(),
        Kind::DateTime => "Edm.DateTime".into(),
        Kind::DateTimeOffset => "Edm.DateTimeOffset".into(),
        Kind::Enum { type_name, .. } => type_name.into(),
    }
}

#[test]
fn served_rows_match_the_declared_metadata() {
    for service in [&S4, &CRM] {
        let parsed = parse(service);
        let model = &parsed.metadata;
        for def in service.sets {
            let qualified = format!("{}.{}", service.namespace, def.type_name);
            let ty = model.entity_type(&qualified).expect("declared type");
            let declared: Vec<(String, String)> = ty
                .properties
                .iter()
                .map(|p| (p.name.to_string(), p.type_ref.name.to_string()))
                .collect();
            let served: Vec<(String, String)> = def
                .properties
                .iter()
                .map(|p| (p.name.to_owned(), edm_name(p.kind)))
                .collect();
            assert_eq!(declared, served, "{qualified}");
            for (property, declared) in def.properties.iter().zip(&ty.properties) {
                if let Kind::Decimal { scale } = property.kind {
                    assert_eq!(
                        declared.facets.scale,
                        Some(bizgraph_metadata::Scale::Fixed(scale)),
                        "{}",
                        property.name
                    );
                }
                let length = property
                    .max_length
                    .map(|m| bizgraph_metadata::MaxLength::Length(m as u64));
                assert_eq!(declared.facets.max_length, length, "{}", property.name);
                assert_eq!(declared.nullable, property.nullable, "{}", property.name);
            }
            let keys: Vec<&str> = ty.key.iter().map(|k| &*k.name).collect();
            assert_eq!(keys, def.keys, "{qualified}");
            let navigations: Vec<(&str, bool)> = ty
                .navigation_properties
                .iter()
                .map(|n| (&*n.name, n.multiplicity == Multiplicity::Many))
                .collect();
            let served: Vec<(&str, bool)> =
                def.navigations.iter().map(|n| (n.name, n.many)).collect();
            assert_eq!(navigations, served, "{qualified}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Authentication and service documents

#[tokio::test]
async fn missing_or_wrong_credentials_get_401_with_a_basic_challenge() {
    let s4 = s4_router();
    let crm = crm_router();
    for target in ["A_SalesOrder", "$metadata", ""] {
        let answer = send(&s4, "GET", S4_SERVICE_PATH, target, None, &[], None)
            .await
            .expect(StatusCode::UNAUTHORIZED);
        assert_eq!(
            answer.header("www-authenticate"),
            Some("Basic realm=\"demo\"")
        );
        assert_eq!(answer.json()["error"]["message"]["lang"], "en");
        let answer = send(&crm, "GET", CRM_SERVICE_PATH, target, None, &[], None)
            .await
            .expect(StatusCode::UNAUTHORIZED);
        assert_eq!(
            answer.header("www-authenticate"),
            Some("Basic realm=\"demo\"")
        );
        assert!(answer.json()["error"]["message"].is_string());
    }
    let wrong = basic("alice", "bob");
    for (router, root) in [(&s4, S4_SERVICE_PATH), (&crm, CRM_SERVICE_PATH)] {
        send(
            router,
            "GET",
            root,
            "$metadata",
            None,
            &[("authorization", &wrong)],
            None,
        )
        .await
        .expect(StatusCode::UNAUTHORIZED);
        send(
            router,
            "GET",
            root,
            "$metadata",
            None,
            &[("authorization", "Bearer alice")],
            None,
        )
        .await
        .expect(StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn service_documents_list_the_entity_sets() {
    let answer = s4_get(&s4_router(), "alice", "")
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        answer.json(),
        json!({"d": {"EntitySets": ["A_BusinessPartner", "A_Product", "A_SalesOrder", "A_SalesOrderItem"]}})
    );
    let answer = crm_get(&crm_router(), "alice", "")
        .await
        .expect(StatusCode::OK);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(
        answer.json(),
        json!({"@odata.context": "$metadata", "value": [
            {"name": "Accounts", "kind": "EntitySet", "url": "Accounts"},
            {"name": "Opportunities", "kind": "EntitySet", "url": "Opportunities"},
        ]})
    );
}

// ---------------------------------------------------------------------------------------------
// OData v2 reads

#[tokio::test]
async fn v2_entity_has_sap_wire_formats() {
    let router = s4_router();
    let answer = s4_get(&router, "alice", "A_SalesOrder('5000011')")
        .await
        .expect(StatusCode::OK);
    let d = &answer.json()["d"];
    let uri = "http://localhost/sap/opu/odata/sap/API_SALES_ORDER_SRV/A_SalesOrder('5000011')";
    assert_eq!(d["__metadata"]["uri"], uri);
    assert_eq!(d["__metadata"]["id"], uri);
    assert_eq!(
        d["__metadata"]["type"],
        "API_SALES_ORDER_SRV.A_SalesOrderType"
    );
    assert_eq!(
        d["__metadata"]["etag"],
        "W/\"datetimeoffset'2024-01-31T10%3A10%3A00.0000000Z'\""
    );
    assert_eq!(answer.header("etag"), d["__metadata"]["etag"].as_str());
    assert_eq!(d["SoldToParty"], "10100011");
    assert_eq!(d["TotalNetAmount"], "3554.00");
    assert_eq!(d["CreationDate"], "/Date(1706659200000)/");
    assert_eq!(d["LastChangeDateTime"], "/Date(1706695800000+0000)/");
    assert_eq!(d["to_Item"]["__deferred"]["uri"], format!("{uri}/to_Item"));
    assert_eq!(
        d["to_SoldToParty"]["__deferred"]["uri"],
        format!("{uri}/to_SoldToParty")
    );
    let product = s4_get(&router, "bob", "A_Product('HT-1070')")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        (&product["d"]["NetWeight"], &product["d"]["Price"]),
        (&json!("0.550"), &json!("469.50"))
    );
    let partner = s4_get(&router, "alice", "A_BusinessPartner('10100001')")
        .await
        .expect(StatusCode::OK)
        .json();
    // 2023-01-15 at midnight UTC.
    assert_eq!(partner["d"]["CreationDate"], "/Date(1673740800000)/");
}

#[tokio::test]
async fn v2_composite_keys_navigation_and_property_paths() {
    let router = s4_router();
    let item = s4_get(
        &router,
        "alice",
        "A_SalesOrderItem(SalesOrder='5000011',SalesOrderItem='20')",
    )
    .await
    .expect(StatusCode::OK)
    .json();
    assert_eq!(
        (
            &item["d"]["Material"],
            &item["d"]["RequestedQuantity"],
            &item["d"]["NetAmount"]
        ),
        (&json!("HT-1050"), &json!("2.000"), &json!("2598.00"))
    );
    assert_eq!(
        item["d"]["__metadata"]["uri"],
        "http://localhost/sap/opu/odata/sap/API_SALES_ORDER_SRV/A_SalesOrderItem(SalesOrder='5000011',SalesOrderItem='20')"
    );
    let orders = s4_get(
        &router,
        "alice",
        "A_BusinessPartner('10100011')/to_SalesOrder",
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        strings(&results(&orders), "SalesOrder"),
        ["5000011", "5000023"]
    );
    let party = s4_get(&router, "alice", "A_SalesOrder('5000011')/to_SoldToParty")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        party["d"]["BusinessPartnerFullName"],
        "Rossi Alimentari S.p.A."
    );
    let product = s4_get(
        &router,
        "alice",
        "A_SalesOrder('5000011')/to_Item(SalesOrder='5000011',SalesOrderItem='10')/to_Product",
    )
    .await
    .expect(StatusCode::OK)
    .json();
    assert_eq!(product["d"]["Product"], "HT-1000");
    let amount = s4_get(&router, "alice", "A_SalesOrder('5000011')/TotalNetAmount")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(amount, json!({"d": {"TotalNetAmount": "3554.00"}}));
    let raw = s4_get(
        &router,
        "alice",
        "A_SalesOrder('5000011')/TotalNetAmount/$value",
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(raw.text(), "3554.00");
    s4_get(&router, "alice", "A_SalesOrderItem('5000011')")
        .await
        .expect(StatusCode::BAD_REQUEST);
    s4_get(&router, "alice", "A_Nothing")
        .await
        .expect(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn v2_select_keeps_metadata_and_selected_navigation_paths() {
    let router = s4_router();
    let answer = s4_get(
        &router,
        "alice",
        "A_SalesOrder?$select=SalesOrder,to_Item/Material&$expand=to_Item&$top=1",
    )
    .await
    .expect(StatusCode::OK);
    let rows = results(&answer);
    let order = rows[0].as_object().expect("object");
    let keys: BTreeSet<&str> = order.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["__metadata", "SalesOrder", "to_Item"])
    );
    let item = order["to_Item"]["results"][0].as_object().expect("item");
    let keys: BTreeSet<&str> = item.keys().map(String::as_str).collect();
    assert_eq!(keys, BTreeSet::from(["__metadata", "Material"]));
    let deferred = s4_get(
        &router,
        "alice",
        "A_SalesOrder('5000001')?$select=SalesOrder,to_SoldToParty",
    )
    .await
    .json();
    assert!(deferred["d"]["to_SoldToParty"]["__deferred"].is_object());
    assert!(deferred["d"].get("to_Item").is_none() && deferred["d"].get("Region").is_none());
    s4_get(&router, "alice", "A_SalesOrder?$select=to_Item/Material")
        .await
        .expect(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn v2_expand_follows_nested_paths() {
    let router = s4_router();
    let answer = s4_get(
        &router,
        "alice",
        "A_SalesOrder('5000011')?$expand=to_Item/to_Product,to_SoldToParty",
    )
    .await
    .expect(StatusCode::OK);
    let d = &answer.json()["d"];
    let items = d["to_Item"]["results"].as_array().expect("results");
    assert_eq!(strings(items, "SalesOrderItem"), ["10", "20"]);
    assert_eq!(items[1]["to_Product"]["Price"], "1299.00");
    assert!(items[1]["to_SalesOrder"]["__deferred"].is_object());
    assert_eq!(
        d["to_SoldToParty"]["BusinessPartnerFullName"],
        "Rossi Alimentari S.p.A."
    );
    assert_eq!(
        d["to_SoldToParty"]["to_SalesOrder"]["__deferred"]["uri"],
        "http://localhost/sap/opu/odata/sap/API_SALES_ORDER_SRV/A_BusinessPartner('10100011')/to_SalesOrder"
    );
    s4_get(&router, "alice", "A_SalesOrder?$expand=to_Nothing")
        .await
        .expect(StatusCode::BAD_REQUEST);
}

/// `(filter, expected sales orders)` for alice.
const V2_FILTERS: &[(&str, &[&str])] = &[
    (
        "SoldToParty eq '10100001'",
        &["5000001", "5000013", "5000025"],
    ),
    (
        "CreationDate ge datetime'2024-03-01T00:00:00'",
        &["5000021", "5000023", "5000025", "5000027", "5000029"],
    ),
    (
        "CreationDate lt datetime'2024-01-10T00:00:00'",
        &["5000001", "5000003"],
    ),
    (
        "CreationDate gt datetime'2024-01-31T00:00:00' and CreationDate le datetime'2024-02-06T00:00:00'",
        &["5000013"],
    ),
    ("TotalNetAmount eq 3554M", &["5000011"]),
    (
        "TotalNetAmount eq 3554.00M and TotalNetAmount ge 3553.99M and TotalNetAmount lt 3554.01",
        &["5000011"],
    ),
    (
        "LastChangeDateTime ge datetimeoffset'2024-01-31T10:10:00Z' and LastChangeDateTime le datetimeoffset'2024-01-31T11:10:00+01:00'",
        &["5000011"],
    ),
    (
        "to_SoldToParty/BusinessPartnerCategory eq '1'",
        &["5000007", "5000019"],
    ),
    (
        "substringof('Rossi',to_SoldToParty/BusinessPartnerFullName)",
        &["5000011", "5000023"],
    ),
    (
        "substringof('Rossi',to_SoldToParty/BusinessPartnerFullName) eq true",
        &["5000011", "5000023"],
    ),
    (
        "startswith(SalesOrder,'500002')",
        &["5000021", "5000023", "5000025", "5000027", "5000029"],
    ),
    (
        "endswith(SalesOrder,'9')",
        &["5000009", "5000019", "5000029"],
    ),
    (
        "tolower(to_SoldToParty/BusinessPartnerFullName) eq 'anna schmidt'",
        &["5000007", "5000019"],
    ),
    (
        "toupper(to_SoldToParty/BusinessPartnerFullName) eq 'ANNA SCHMIDT'",
        &["5000007", "5000019"],
    ),
    (
        "SalesOrder eq '5000001' or SalesOrder eq '5000003' and Region eq 'US'",
        &["5000001"],
    ),
    (
        "(SalesOrder eq '5000001' or SalesOrder eq '5000003') and Region eq 'EU'",
        &["5000001", "5000003"],
    ),
    ("not (Region eq 'EU')", &[]),
    (
        "not startswith(SalesOrder,'500000') and SalesOrder ne '5000021' and SalesOrder lt '5000026'",
        &[
            "5000011", "5000013", "5000015", "5000017", "5000019", "5000023", "5000025",
        ],
    ),
    ("Region eq 'US'", &[]),
    ("SoldToParty eq null", &[]),
];

#[tokio::test]
async fn v2_filter_supports_every_operator_function_and_literal() {
    let router = s4_router();
    for (filter, expected) in V2_FILTERS {
        let answer = s4_get(
            &router,
            "alice",
            &format!("A_SalesOrder?$filter={filter}&$select=SalesOrder"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{filter}: {}", answer.text());
        assert_eq!(
            strings(&results(&answer), "SalesOrder"),
            *expected,
            "{filter}"
        );
    }
}

#[tokio::test]
async fn v2_filter_reads_escaped_quotes() {
    let router = s4_router();
    let answer = s4_get(
        &router,
        "alice",
        "A_BusinessPartner?$filter=BusinessPartnerFullName eq 'O''Neil %26 Partners Ltd'",
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(strings(&results(&answer), "BusinessPartner"), ["10100003"]);
    let answer = s4_get(
        &router,
        "alice",
        "A_BusinessPartner?$filter=startswith(BusinessPartnerFullName,'O''N')",
    )
    .await;
    assert_eq!(strings(&results(&answer), "BusinessPartner"), ["10100003"]);
}

#[tokio::test]
async fn v2_orderby_top_skip_and_counts() {
    let router = s4_router();
    let answer = s4_get(
        &router,
        "alice",
        "A_SalesOrder?$orderby=SoldToParty desc,CreationDate desc&$top=4&$select=SalesOrder",
    )
    .await;
    assert_eq!(
        strings(&results(&answer), "SalesOrder"),
        ["5000023", "5000011", "5000021", "5000009"]
    );
    let answer = s4_get(
        &router,
        "alice",
        "A_SalesOrder?$orderby=to_SoldToParty/BusinessPartnerFullName,SalesOrder desc&$top=3",
    )
    .await;
    assert_eq!(
        strings(&results(&answer), "SalesOrder"),
        ["5000019", "5000007", "5000029"]
    );
    let answer = s4_get(
        &router,
        "alice",
        "A_SalesOrder?$top=3&$skip=2&$inlinecount=allpages",
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        strings(&results(&answer), "SalesOrder"),
        ["5000005", "5000007", "5000009"]
    );
    assert_eq!(answer.json()["d"]["__count"], "15");
    assert!(answer.json()["d"].get("__next").is_none());
    let answer = s4_get(&router, "alice", "A_SalesOrder/$count")
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        (answer.text().as_str(), answer.header("content-type")),
        ("15", Some("text/plain"))
    );
    let answer = s4_get(
        &router,
        "alice",
        "A_SalesOrder/$count?$filter=SoldToParty eq '10100001'",
    )
    .await;
    assert_eq!(answer.text(), "3");
    assert_eq!(
        s4_get(&router, "alice", "A_SalesOrder('5000011')/to_Item/$count")
            .await
            .text(),
        "2"
    );
    assert_eq!(
        s4_get(&router, "bob", "A_SalesOrderItem/$count")
            .await
            .text(),
        "30"
    );
    s4_get(&router, "alice", "A_Product?$orderby=ProductDescription")
        .await
        .expect(StatusCode::BAD_REQUEST);
    s4_get(&router, "alice", "A_SalesOrder?$top=-1")
        .await
        .expect(StatusCode::BAD_REQUEST);
    s4_get(&router, "alice", "A_SalesOrder?$count=true")
        .await
        .expect(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn v2_search_matches_string_properties_case_insensitively() {
    let router = s4_router();
    let answer = s4_get(&router, "bob", "A_Product?search=NOTEBOOK")
        .await
        .expect(StatusCode::OK);
    assert_eq!(
        strings(&results(&answer), "Product"),
        ["HT-1000", "HT-1001", "HT-1002", "HT-1010"]
    );
    let answer = s4_get(&router, "alice", "A_BusinessPartner?search=müller").await;
    assert_eq!(strings(&results(&answer), "BusinessPartner"), ["10100001"]);
    let answer = s4_get(&router, "bob", "A_BusinessPartner?search=müller").await;
    assert!(results(&answer).is_empty());
}

#[tokio::test]
async fn v2_paging_follows_next_links_to_the_end() {
    let router = s4_router_paged(4);
    let mut target =
        "A_SalesOrderItem?$inlinecount=allpages&$select=SalesOrder,SalesOrderItem".to_owned();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let answer = s4_get(&router, "alice", &target)
            .await
            .expect(StatusCode::OK);
        let d = answer.json()["d"].clone();
        assert_eq!(d["__count"], "30");
        let rows = d["results"].as_array().expect("results").clone();
        assert!(rows.len() <= 4);
        seen.extend(rows.iter().map(|row| {
            format!(
                "{}/{}",
                row["SalesOrder"].as_str().expect("s"),
                row["SalesOrderItem"].as_str().expect("i")
            )
        }));
        pages += 1;
        match d["__next"].as_str() {
            Some(next) => {
                assert!(
                    next.starts_with(
                        "http://localhost/sap/opu/odata/sap/API_SALES_ORDER_SRV/A_SalesOrderItem?"
                    ),
                    "{next}"
                );
                assert!(
                    next.contains(&format!("$skiptoken={}", seen.len())),
                    "{next}"
                );
                target = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!((pages, seen.len()), (8, 30));
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 30);
    assert!(
        seen.iter()
            .all(|key| key[..7].parse::<u32>().expect("number") % 2 == 1),
        "{seen:?}"
    );
    // $top limits the whole result, across pages.
    let first = s4_get(&router, "alice", "A_SalesOrder?$top=6").await.json();
    let next = first["d"]["__next"].as_str().expect("next").to_owned();
    let second = s4_get(&router, "alice", &next).await.expect(StatusCode::OK);
    assert_eq!(
        strings(&results(&second), "SalesOrder"),
        ["5000009", "5000011"]
    );
    assert!(second.json()["d"].get("__next").is_none());
}

// ---------------------------------------------------------------------------------------------
// Per-user rows

#[tokio::test]
async fn each_user_sees_only_rows_of_their_region_in_lists() {
    let s4 = s4_router();
    let crm = crm_router();
    for (user, region) in [("alice", "EU"), ("bob", "US")] {
        let partners = results(&s4_get(&s4, user, "A_BusinessPartner").await);
        assert_eq!(partners.len(), 6);
        assert!(partners.iter().all(|p| p["Region"] == region));
        let orders = results(&s4_get(&s4, user, "A_SalesOrder").await);
        assert_eq!(orders.len(), 15);
        assert!(orders.iter().all(|o| o["Region"] == region));
        let own: BTreeSet<String> = strings(&orders, "SalesOrder").into_iter().collect();
        let items = results(&s4_get(&s4, user, "A_SalesOrderItem").await);
        assert_eq!(items.len(), 30);
        assert!(
            items
                .iter()
                .all(|i| own.contains(i["SalesOrder"].as_str().expect("order")))
        );
        assert_eq!(results(&s4_get(&s4, user, "A_Product").await).len(), 10);
        let accounts = values(&crm_get(&crm, user, "Accounts").await);
        assert_eq!(accounts.len(), 6);
        assert!(accounts.iter().all(|a| a["region"] == region));
        let opportunities = values(&crm_get(&crm, user, "Opportunities?$expand=account").await);
        assert_eq!(opportunities.len(), 20);
        assert!(
            opportunities
                .iter()
                .all(|o| o["region"] == region && o["account"]["region"] == region)
        );
    }
}

#[tokio::test]
async fn other_regions_rows_are_not_found_by_key_or_navigation() {
    let s4 = s4_router();
    let crm = crm_router();
    for target in [
        "A_SalesOrder('5000002')",
        "A_BusinessPartner('10100002')",
        "A_BusinessPartner('10100002')/to_SalesOrder",
        "A_SalesOrderItem(SalesOrder='5000002',SalesOrderItem='10')",
        "A_SalesOrderItem(SalesOrder='5000002',SalesOrderItem='10')/to_Product",
        "A_SalesOrder('5000001')/to_Item(SalesOrder='5000002',SalesOrderItem='10')",
    ] {
        let answer = s4_get(&s4, "alice", target).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{target}");
        assert_eq!(answer.json()["error"]["code"], "NOT_FOUND");
    }
    s4_get(&s4, "bob", "A_SalesOrder('5000002')")
        .await
        .expect(StatusCode::OK);
    for target in [
        format!("Accounts({})", account(1)),
        "Opportunities(2)".into(),
        format!("Accounts({})/opportunities", account(1)),
    ] {
        crm_get(&crm, "alice", &target)
            .await
            .expect(StatusCode::NOT_FOUND);
    }
    crm_get(&crm, "bob", "Opportunities(2)")
        .await
        .expect(StatusCode::OK);
    // Filters cannot reach the other region either.
    let answer = s4_get(
        &s4,
        "alice",
        "A_SalesOrderItem?$filter=to_SalesOrder/Region eq 'US'",
    )
    .await;
    assert!(results(&answer).is_empty());
    let answer = crm_get(
        &crm,
        "alice",
        "Accounts?$expand=opportunities&$filter=region eq 'US'",
    )
    .await;
    assert!(values(&answer).is_empty());
}

// ---------------------------------------------------------------------------------------------
// OData v4 reads

#[tokio::test]
async fn v4_entity_has_odata_json_formats() {
    let router = crm_router();
    let answer = crm_get(&router, "alice", "Opportunities(3)")
        .await
        .expect(StatusCode::OK);
    let body = answer.json();
    assert_eq!(body["@odata.context"], "$metadata#Opportunities/$entity");
    assert_eq!(body["@odata.etag"], "W/\"2024-01-15T10:00:00.000Z\"");
    assert_eq!(
        answer.header("etag"),
        Some("W/\"2024-01-15T10:00:00.000Z\"")
    );
    assert_eq!(body["amount"], json!(7500.5));
    assert_eq!(body["closeDate"], "2024-02-19");
    assert_eq!(body["modifiedAt"], "2024-01-15T10:00:00Z");
    assert_eq!(body["stage"], "Proposal");
    assert_eq!(body["account_ID"], account(2));
    assert_eq!(body["accountBpId"], "10100003");
    assert_eq!(body["probability"], 50);
    assert!(
        body.get("account").is_none(),
        "v4 writes no deferred navigation"
    );
    let whole = crm_get(&router, "alice", "Opportunities(1)").await.json();
    assert_eq!(whole["amount"], json!(5000));
    let account = crm_get(&router, "alice", "Opportunities(1)/account")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        (&account["name"], &account["@odata.context"]),
        (
            &json!("Müller Maschinenbau GmbH"),
            &json!("$metadata#Accounts/$entity")
        )
    );
    let name = crm_get(&router, "alice", "Opportunities(1)/account/name")
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(name["value"], "Müller Maschinenbau GmbH");
    crm_get(&router, "alice", "Opportunities('1')")
        .await
        .expect(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn v4_select_keeps_keys_and_names_the_context() {
    let router = crm_router();
    let answer = crm_get(&router, "alice", "Accounts?$select=name&$top=2")
        .await
        .expect(StatusCode::OK);
    assert_eq!(answer.json()["@odata.context"], "$metadata#Accounts(name)");
    assert_eq!(
        values(&answer),
        vec![
            json!({"ID": account(0), "name": "Müller Maschinenbau GmbH"}),
            json!({"ID": account(2), "name": "O'Neil & Partners Ltd"}),
        ]
    );
    crm_get(&router, "alice", "Accounts?$select=nope")
        .await
        .expect(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn v4_expand_takes_nested_options() {
    let router = crm_router();
    let target = format!(
        "Accounts({})?$expand=opportunities($select=title,amount;$filter=amount gt 10000;$orderby=amount desc;$top=2;$skip=0;$count=true;$expand=account($select=name))",
        account(0)
    );
    let body = crm_get(&router, "alice", &target)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(body["opportunities@odata.count"], 3);
    let opportunities = body["opportunities"].as_array().expect("array");
    assert_eq!(ids(opportunities), [37, 25]);
    assert_eq!(opportunities[0]["amount"], json!(50009));
    assert_eq!(
        opportunities[0]["account"],
        json!({"ID": account(0), "name": "Müller Maschinenbau GmbH"})
    );
    assert!(opportunities[0].get("stage").is_none());
    let answer = crm_get(
        &router,
        "alice",
        "Opportunities?$expand=account($expand=opportunities($top=1;$select=ID))&$top=1",
    )
    .await;
    let first = &values(&answer)[0];
    assert_eq!(
        first["account"]["opportunities"],
        json!([{"ID": 1, "@odata.etag": "W/\"2024-01-15T08:00:00.000Z\""}])
    );
    crm_get(
        &router,
        "alice",
        "Accounts?$expand=opportunities($frobnicate=1)",
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    crm_get(&router, "alice", "Accounts?$expand=opportunities($top=1")
        .await
        .expect(StatusCode::BAD_REQUEST);
}

/// `(filter, expected opportunity ids)` for alice.
const V4_FILTERS: &[(&str, &[i64])] = &[
    ("ID eq 5", &[5]),
    ("ID ne 1 and ID lt 6", &[3, 5]),
    ("ID gt 35", &[37, 39]),
    ("ID ge 37", &[37, 39]),
    ("ID le 3", &[1, 3]),
    ("ID in (1,3,4)", &[1, 3]),
    ("contains(title,'Rossi')", &[11, 23, 35]),
    ("startswith(title,'Printer')", &[7, 17, 27, 37]),
    ("endswith(title,'GmbH')", &[1, 13, 25, 37]),
    (
        "tolower(title) eq 'notebook refresh müller maschinenbau gmbh'",
        &[1],
    ),
    ("toupper(currency) eq 'EUR' and ID lt 4", &[1, 3]),
    ("closeDate ge 2024-03-01 and closeDate lt 2024-03-20", &[5]),
    ("year(closeDate) eq 2025", &[39]),
    (
        "modifiedAt gt 2024-01-15T10:30:00Z and modifiedAt le 2024-01-15T13:00:00+01:00",
        &[5],
    ),
    (
        "account_ID eq a0000000-0000-4000-8000-000000000003",
        &[3, 15, 27, 39],
    ),
    (
        "stage eq CrmService.OpportunityStage'Proposal'",
        &[3, 9, 15, 21, 27, 33, 39],
    ),
    ("stage eq 'ClosedWon'", &[5, 11, 17, 23, 29, 35]),
    (
        "stage in ('ClosedWon', CrmService.OpportunityStage'Prospecting') and ID lt 12",
        &[1, 5, 7, 11],
    ),
    ("account/name eq 'Anna Schmidt'", &[7, 19, 31]),
    ("amount eq 7500.5", &[3]),
    ("amount gt 50008.99 and amount lt 50009.01", &[37]),
    ("not ID lt 39", &[39]),
    ("not (ID lt 39)", &[39]),
    ("ID eq 1 or ID eq 3 and region eq 'US'", &[1]),
    ("(ID eq 1 or ID eq 3) and region eq 'EU'", &[1, 3]),
    ("accountBpId eq '10100003'", &[3, 15, 27, 39]),
    ("region eq null", &[]),
    ("length(currency) eq 3 and ID gt 36", &[37, 39]),
];

#[tokio::test]
async fn v4_filter_supports_every_operator_function_and_literal() {
    let router = crm_router();
    for (filter, expected) in V4_FILTERS {
        let answer = crm_get(
            &router,
            "alice",
            &format!("Opportunities?$filter={filter}&$select=ID"),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{filter}: {}", answer.text());
        assert_eq!(ids(&values(&answer)), *expected, "{filter}");
    }
}

#[tokio::test]
async fn v4_filter_reads_escaped_quotes_and_guids() {
    let router = crm_router();
    let answer = crm_get(
        &router,
        "alice",
        "Accounts?$filter=name eq 'O''Neil %26 Partners Ltd'",
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(strings(&values(&answer), "bpId"), ["10100003"]);
    let answer = crm_get(
        &router,
        "alice",
        &format!("Accounts?$filter=ID eq {}", account(4).to_uppercase()),
    )
    .await;
    assert_eq!(strings(&values(&answer), "bpId"), ["10100005"]);
}

#[tokio::test]
async fn v4_orderby_top_skip_and_counts() {
    let router = crm_router();
    // Enumeration members sort by value: ClosedWon (4) before Proposal (2) before Prospecting (0).
    let answer = crm_get(
        &router,
        "alice",
        "Opportunities?$orderby=stage desc,amount desc&$top=4&$select=ID",
    )
    .await;
    assert_eq!(ids(&values(&answer)), [35, 29, 23, 17]);
    let answer = crm_get(
        &router,
        "alice",
        "Opportunities?$orderby=region,closeDate desc&$top=2&$select=ID",
    )
    .await;
    assert_eq!(ids(&values(&answer)), [39, 37]);
    let answer = crm_get(
        &router,
        "alice",
        "Opportunities?$count=true&$top=5&$skip=5&$select=ID",
    )
    .await;
    assert_eq!(answer.json()["@odata.count"], 20);
    assert_eq!(ids(&values(&answer)), [11, 13, 15, 17, 19]);
    assert_eq!(
        crm_get(&router, "alice", "Opportunities/$count")
            .await
            .text(),
        "20"
    );
    assert_eq!(
        crm_get(
            &router,
            "alice",
            "Opportunities/$count?$filter=stage eq 'Proposal'"
        )
        .await
        .text(),
        "7"
    );
    assert_eq!(
        crm_get(
            &router,
            "bob",
            &format!("Accounts({})/opportunities/$count", account(1))
        )
        .await
        .text(),
        "4"
    );
    crm_get(&router, "alice", "Opportunities?$orderby=title")
        .await
        .expect(StatusCode::BAD_REQUEST);
    crm_get(&router, "alice", "Opportunities?$filter=probability gt 10")
        .await
        .expect(StatusCode::BAD_REQUEST);
    crm_get(&router, "alice", "Opportunities?$inlinecount=allpages")
        .await
        .expect(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn v4_search_matches_string_properties_case_insensitively() {
    let router = crm_router();
    let answer = crm_get(&router, "alice", "Accounts?$search=SCHMIDT")
        .await
        .expect(StatusCode::OK);
    assert_eq!(strings(&values(&answer), "bpId"), ["10100007"]);
    let answer = crm_get(
        &router,
        "alice",
        "Opportunities?$search=\"printer fleet\"&$select=ID&$count=true",
    )
    .await;
    assert_eq!(ids(&values(&answer)), [7, 17, 27, 37]);
    assert_eq!(answer.json()["@odata.count"], 4);
}

#[tokio::test]
async fn v4_paging_follows_next_links_with_maxpagesize() {
    let router = crm_router();
    let mut target = "Opportunities?$count=true&$select=ID".to_owned();
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let answer = send(
            &router,
            "GET",
            CRM_SERVICE_PATH,
            &target,
            Some("alice"),
            &[("prefer", "odata.maxpagesize=7")],
            None,
        )
        .await
        .expect(StatusCode::OK);
        assert_eq!(
            answer.header("preference-applied"),
            Some("odata.maxpagesize=7")
        );
        let body = answer.json();
        assert_eq!(body["@odata.count"], 20);
        let rows = values(&answer);
        sizes.push(rows.len());
        seen.extend(ids(&rows));
        match body["@odata.nextLink"].as_str() {
            Some(next) => target = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(sizes, [7, 7, 6]);
    assert_eq!(seen, (1..40).step_by(2).collect::<Vec<i64>>());
}

#[tokio::test]
async fn v4_server_pages_hold_at_most_100_rows() {
    let router = crm_router();
    for index in 0..90 {
        let body = json!({"title": format!("Bulk {index}"), "amount": 100, "currency": "EUR", "stage": "Prospecting"});
        send(
            &router,
            "POST",
            CRM_SERVICE_PATH,
            "Opportunities",
            Some("alice"),
            &[],
            Some(&body),
        )
        .await
        .expect(StatusCode::CREATED);
    }
    let first = crm_get(&router, "alice", "Opportunities?$select=ID")
        .await
        .expect(StatusCode::OK);
    assert_eq!(values(&first).len(), 100);
    let next = first.json()["@odata.nextLink"]
        .as_str()
        .expect("next link")
        .to_owned();
    assert_eq!(
        next,
        "http://localhost/odata/v4/crm/Opportunities?$select=ID&$skiptoken=100"
    );
    let second = crm_get(&router, "alice", &next)
        .await
        .expect(StatusCode::OK);
    assert_eq!(ids(&values(&second)), (121..=130).collect::<Vec<i64>>());
    assert!(second.json().get("@odata.nextLink").is_none());
    assert_eq!(
        values(&crm_get(&router, "bob", "Opportunities").await).len(),
        20
    );
}

// ---------------------------------------------------------------------------------------------
// Errors

#[tokio::test]
async fn malformed_filter_is_400_naming_the_position() {
    let s4 = s4_router();
    let answer = s4_get(&s4, "alice", "A_SalesOrder?$filter=Region eq 'EU' and")
        .await
        .expect(StatusCode::BAD_REQUEST);
    let message = answer.json()["error"]["message"]["value"]
        .as_str()
        .expect("v2 message")
        .to_owned();
    assert!(message.contains("position 19"), "{message}");
    let answer = s4_get(&s4, "alice", "A_SalesOrder?$filter=Region eq 'EU")
        .await
        .expect(StatusCode::BAD_REQUEST);
    assert!(
        answer
            .text()
            .contains("unterminated string literal at position 11"),
        "{}",
        answer.text()
    );
    let crm = crm_router();
    let answer = crm_get(&crm, "alice", "Opportunities?$filter=ID eq (1")
        .await
        .expect(StatusCode::BAD_REQUEST);
    let message = answer.json()["error"]["message"]
        .as_str()
        .expect("v4 message")
        .to_owned();
    assert!(message.contains("expected ')' at position 9"), "{message}");
    let answer = crm_get(&crm, "alice", "Opportunities?$filter=ID eq 1 xor ID eq 2")
        .await
        .expect(StatusCode::BAD_REQUEST);
    assert!(answer.text().contains("position 9"), "{}", answer.text());
    for bad in [
        "amount gt 12.5M",
        "substringof('a',title)",
        "ID eq",
        "ID eq 1)",
        "title eq 'a' and 5",
    ] {
        crm_get(&crm, "alice", &format!("Opportunities?$filter={bad}"))
            .await
            .expect(StatusCode::BAD_REQUEST);
    }
    s4_get(&s4, "alice", "A_SalesOrder?$foo=1")
        .await
        .expect(StatusCode::BAD_REQUEST);
    s4_get(&s4, "alice", "A_SalesOrder?$format=xml")
        .await
        .expect(StatusCode::NOT_ACCEPTABLE);
}

// ---------------------------------------------------------------------------------------------
// Writes

#[tokio::test]
async fn v2_writes_need_the_users_csrf_token() {
    let router = s4_router();
    let partner =
        json!({"BusinessPartnerFullName": "Neue Kunde GmbH", "BusinessPartnerCategory": "2"});
    let refused = send(
        &router,
        "POST",
        S4_SERVICE_PATH,
        "A_BusinessPartner",
        Some("alice"),
        &[],
        Some(&partner),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    assert_eq!(refused.header("x-csrf-token"), Some("Required"));
    let bobs = csrf(&router, "bob").await;
    send(
        &router,
        "POST",
        S4_SERVICE_PATH,
        "A_BusinessPartner",
        Some("alice"),
        &[("x-csrf-token", &bobs)],
        Some(&partner),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    let token = csrf(&router, "alice").await;
    assert_ne!(token, bobs);
    assert_eq!(csrf(&router, "alice").await, token, "the token lasts");
    let created = send(
        &router,
        "POST",
        S4_SERVICE_PATH,
        "A_BusinessPartner",
        Some("alice"),
        &[("x-csrf-token", &token)],
        Some(&partner),
    )
    .await
    .expect(StatusCode::CREATED);
    let d = created.json()["d"].clone();
    assert_eq!(
        (&d["BusinessPartner"], &d["Region"]),
        (&json!("10100013"), &json!("EU"))
    );
    assert_eq!(
        created.header("location"),
        Some(
            "http://localhost/sap/opu/odata/sap/API_SALES_ORDER_SRV/A_BusinessPartner('10100013')"
        )
    );
    s4_get(&router, "alice", "A_BusinessPartner('10100013')")
        .await
        .expect(StatusCode::OK);
    s4_get(&router, "bob", "A_BusinessPartner('10100013')")
        .await
        .expect(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn v2_merge_checks_the_etag() {
    let router = s4_router();
    let token = csrf(&router, "alice").await;
    let before = s4_get(&router, "alice", "A_SalesOrder('5000011')").await;
    let etag = before.header("etag").expect("etag").to_owned();
    let change = json!({"SoldToParty": "10100001"});
    let stale = "W/\"datetimeoffset'2020-01-01T00%3A00%3A00.0000000Z'\"";
    let answer = send(
        &router,
        "MERGE",
        S4_SERVICE_PATH,
        "A_SalesOrder('5000011')",
        Some("alice"),
        &[("x-csrf-token", &token), ("if-match", stale)],
        Some(&change),
    )
    .await
    .expect(StatusCode::PRECONDITION_FAILED);
    assert_eq!(answer.json()["error"]["code"], "PRECONDITION_FAILED");
    send(
        &router,
        "MERGE",
        S4_SERVICE_PATH,
        "A_SalesOrder('5000011')",
        Some("alice"),
        &[("x-csrf-token", &token)],
        Some(&change),
    )
    .await
    .expect(StatusCode::PRECONDITION_REQUIRED);
    let merged = send(
        &router,
        "POST",
        S4_SERVICE_PATH,
        "A_SalesOrder('5000011')",
        Some("alice"),
        &[
            ("x-csrf-token", &token),
            ("if-match", &etag),
            ("x-http-method", "MERGE"),
        ],
        Some(&change),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let new_etag = merged.header("etag").expect("new etag").to_owned();
    assert_ne!(new_etag, etag);
    let party = s4_get(&router, "alice", "A_SalesOrder('5000011')/to_SoldToParty")
        .await
        .json();
    assert_eq!(party["d"]["BusinessPartner"], "10100001");
    // The old ETag no longer matches; `*` matches any.
    send(
        &router,
        "PATCH",
        S4_SERVICE_PATH,
        "A_SalesOrder('5000011')",
        Some("alice"),
        &[("x-csrf-token", &token), ("if-match", &etag)],
        Some(&change),
    )
    .await
    .expect(StatusCode::PRECONDITION_FAILED);
    send(
        &router,
        "PATCH",
        S4_SERVICE_PATH,
        "A_SalesOrder('5000011')",
        Some("alice"),
        &[("x-csrf-token", &token), ("if-match", "*")],
        Some(&json!({"TransactionCurrency": "CHF"})),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let order = s4_get(&router, "alice", "A_SalesOrder('5000011')")
        .await
        .json();
    assert_eq!(
        (
            &order["d"]["TransactionCurrency"],
            &order["d"]["SoldToParty"]
        ),
        (&json!("CHF"), &json!("10100001"))
    );
    send(
        &router,
        "PATCH",
        S4_SERVICE_PATH,
        "A_SalesOrder('5000011')",
        Some("alice"),
        &[("x-csrf-token", &token), ("if-match", "*")],
        Some(&json!({"SalesOrder": "1"})),
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn v2_items_created_through_navigation_derive_amounts_and_delete_cascades() {
    let router = s4_router();
    let token = csrf(&router, "alice").await;
    let headers = [("x-csrf-token", token.as_str())];
    let item = json!({"Material": "HT-1060", "RequestedQuantity": "3", "NetAmount": "1.00"});
    let created = send(
        &router,
        "POST",
        S4_SERVICE_PATH,
        "A_SalesOrder('5000011')/to_Item",
        Some("alice"),
        &headers,
        Some(&item),
    )
    .await
    .expect(StatusCode::CREATED);
    let d = created.json()["d"].clone();
    assert_eq!(
        (
            &d["SalesOrder"],
            &d["SalesOrderItem"],
            &d["RequestedQuantity"],
            &d["NetAmount"]
        ),
        (
            &json!("5000011"),
            &json!("30"),
            &json!("3.000"),
            &json!("27.00")
        )
    );
    let order = s4_get(&router, "alice", "A_SalesOrder('5000011')")
        .await
        .json();
    assert_eq!(order["d"]["TotalNetAmount"], "3581.00");
    send(
        &router,
        "POST",
        S4_SERVICE_PATH,
        "A_SalesOrderItem",
        Some("alice"),
        &headers,
        Some(&json!({"SalesOrder": "5000011", "RequestedQuantity": "1.2345"})),
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    send(
        &router,
        "DELETE",
        S4_SERVICE_PATH,
        "A_SalesOrder('5000011')",
        Some("alice"),
        &[("x-csrf-token", &token), ("if-match", "*")],
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    s4_get(&router, "alice", "A_SalesOrder('5000011')")
        .await
        .expect(StatusCode::NOT_FOUND);
    assert_eq!(
        s4_get(
            &router,
            "alice",
            "A_SalesOrderItem/$count?$filter=SalesOrder eq '5000011'"
        )
        .await
        .text(),
        "0"
    );
    assert_eq!(
        s4_get(&router, "alice", "A_SalesOrderItem/$count")
            .await
            .text(),
        "28"
    );
    send(
        &router,
        "DELETE",
        S4_SERVICE_PATH,
        "A_Product('HT-1000')",
        Some("alice"),
        &headers,
        None,
    )
    .await
    .expect(StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn v2_head_fetches_a_token_and_put_replaces_the_entity() {
    let router = s4_router();
    let head = send(
        &router,
        "HEAD",
        S4_SERVICE_PATH,
        "",
        Some("alice"),
        &[("x-csrf-token", "Fetch")],
        None,
    )
    .await
    .expect(StatusCode::OK);
    let token = head.header("x-csrf-token").expect("token").to_owned();
    let headers = [("x-csrf-token", token.as_str())];
    let replacement = json!({
        "__metadata": {"type": "API_SALES_ORDER_SRV.A_BusinessPartnerType"},
        "BusinessPartner": "10100001",
        "BusinessPartnerFullName": "Müller Maschinenbau AG",
        "CreationDate": "/Date(1706659200000)/",
    });
    send(
        &router,
        "PUT",
        S4_SERVICE_PATH,
        "A_BusinessPartner('10100001')",
        Some("alice"),
        &headers,
        Some(&replacement),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let partner = s4_get(&router, "alice", "A_BusinessPartner('10100001')")
        .await
        .json();
    assert_eq!(
        (
            &partner["d"]["BusinessPartnerFullName"],
            &partner["d"]["BusinessPartnerCategory"],
            &partner["d"]["Region"],
            &partner["d"]["CreationDate"]
        ),
        (
            &json!("Müller Maschinenbau AG"),
            &Json::Null,
            &json!("EU"),
            &json!("/Date(1706659200000)/")
        )
    );
    send(
        &router,
        "PUT",
        S4_SERVICE_PATH,
        "A_BusinessPartner('10100001')",
        Some("alice"),
        &headers,
        Some(&json!({"to_SalesOrder": []})),
    )
    .await
    .expect(StatusCode::NOT_IMPLEMENTED);
    send(
        &router,
        "PUT",
        S4_SERVICE_PATH,
        "A_BusinessPartner('10100001')",
        Some("alice"),
        &headers,
        Some(&json!({"Nope": 1})),
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    send(
        &router,
        "POST",
        S4_SERVICE_PATH,
        "$batch",
        Some("alice"),
        &headers,
        None,
    )
    .await
    .expect(StatusCode::NOT_IMPLEMENTED);
    send(
        &router,
        "DELETE",
        S4_SERVICE_PATH,
        "A_BusinessPartner('10100001')",
        Some("alice"),
        &headers,
        None,
    )
    .await
    .expect(StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn v4_to_one_navigation_without_target_is_no_content() {
    let router = crm_router();
    let created = send(
        &router,
        "POST",
        CRM_SERVICE_PATH,
        "Opportunities",
        Some("bob"),
        &[],
        Some(&json!({"title": "Unassigned"})),
    )
    .await
    .expect(StatusCode::CREATED)
    .json();
    assert_eq!(
        (&created["ID"], &created["region"], &created["account_ID"]),
        (&json!(41), &json!("US"), &Json::Null)
    );
    let answer = crm_get(&router, "bob", "Opportunities(41)/account")
        .await
        .expect(StatusCode::NO_CONTENT);
    assert!(answer.body.is_empty());
    let expanded = crm_get(&router, "bob", "Opportunities(41)?$expand=account")
        .await
        .json();
    assert_eq!(expanded["account"], Json::Null);
}

#[tokio::test]
async fn writes_stay_in_the_users_region() {
    let s4 = s4_router();
    let token = csrf(&s4, "alice").await;
    let headers = [("x-csrf-token", token.as_str())];
    let order = json!({"SoldToParty": "10100002", "Region": "US", "TransactionCurrency": "USD"});
    let refused = send(
        &s4,
        "POST",
        S4_SERVICE_PATH,
        "A_SalesOrder",
        Some("alice"),
        &headers,
        Some(&order),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    assert!(refused.text().contains("region EU"), "{}", refused.text());
    send(
        &s4,
        "POST",
        S4_SERVICE_PATH,
        "A_SalesOrderItem",
        Some("alice"),
        &headers,
        Some(&json!({"SalesOrder": "5000002", "Material": "HT-1000", "RequestedQuantity": "1"})),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    send(
        &s4,
        "MERGE",
        S4_SERVICE_PATH,
        "A_SalesOrder('5000002')",
        Some("alice"),
        &[("x-csrf-token", &token), ("if-match", "*")],
        Some(&json!({"TransactionCurrency": "EUR"})),
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    send(
        &s4,
        "MERGE",
        S4_SERVICE_PATH,
        "A_SalesOrder('5000001')",
        Some("alice"),
        &[("x-csrf-token", &token), ("if-match", "*")],
        Some(&json!({"Region": "US"})),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    let crm = crm_router();
    send(
        &crm,
        "POST",
        CRM_SERVICE_PATH,
        "Opportunities",
        Some("alice"),
        &[],
        Some(&json!({"title": "x", "region": "US"})),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    send(
        &crm,
        "PATCH",
        CRM_SERVICE_PATH,
        "Opportunities(1)",
        Some("alice"),
        &[],
        Some(&json!({"region": "US"})),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    send(
        &crm,
        "DELETE",
        CRM_SERVICE_PATH,
        "Opportunities(2)",
        Some("alice"),
        &[],
        None,
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    assert_eq!(
        crm_get(&crm, "bob", "Opportunities/$count").await.text(),
        "20"
    );
}

#[tokio::test]
async fn v4_create_update_and_delete_with_etags() {
    let router = crm_router();
    let body = json!({
        "@odata.type": "#CrmService.Opportunities",
        "title": "Fleet renewal",
        "account_ID": account(0),
        "accountBpId": "10100001",
        "amount": 1234.5,
        "currency": "EUR",
        "closeDate": "2024-12-31",
        "stage": "Negotiation",
        "probability": 75,
    });
    let created = send(
        &router,
        "POST",
        CRM_SERVICE_PATH,
        "Opportunities",
        Some("alice"),
        &[],
        Some(&body),
    )
    .await
    .expect(StatusCode::CREATED);
    let entity = created.json();
    assert_eq!(
        (&entity["ID"], &entity["region"], &entity["amount"]),
        (&json!(41), &json!("EU"), &json!(1234.5))
    );
    assert_eq!(entity["@odata.context"], "$metadata#Opportunities/$entity");
    assert_eq!(
        created.header("location"),
        Some("http://localhost/odata/v4/crm/Opportunities(41)")
    );
    let etag = created.header("etag").expect("etag").to_owned();
    assert_eq!(entity["@odata.etag"], etag.as_str());
    send(
        &router,
        "PATCH",
        CRM_SERVICE_PATH,
        "Opportunities(41)",
        Some("alice"),
        &[("if-match", "W/\"2000-01-01T00:00:00.000Z\"")],
        Some(&json!({"stage": "ClosedWon"})),
    )
    .await
    .expect(StatusCode::PRECONDITION_FAILED);
    let patched = send(
        &router,
        "PATCH",
        CRM_SERVICE_PATH,
        "Opportunities(41)",
        Some("alice"),
        &[("if-match", &etag), ("prefer", "return=representation")],
        Some(&json!({"stage": "ClosedWon", "amount": "99.99"})),
    )
    .await
    .expect(StatusCode::OK);
    assert_eq!(
        (&patched.json()["stage"], &patched.json()["amount"]),
        (&json!("ClosedWon"), &json!(99.99))
    );
    assert_ne!(patched.header("etag"), Some(etag.as_str()));
    send(
        &router,
        "PUT",
        CRM_SERVICE_PATH,
        "Opportunities(41)",
        Some("alice"),
        &[],
        Some(&json!({"title": "Replaced"})),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    let replaced = crm_get(&router, "alice", "Opportunities(41)").await.json();
    assert_eq!(
        (&replaced["title"], &replaced["amount"], &replaced["region"]),
        (&json!("Replaced"), &Json::Null, &json!("EU"))
    );
    send(
        &router,
        "PATCH",
        CRM_SERVICE_PATH,
        "Opportunities(41)",
        Some("alice"),
        &[],
        Some(&json!({"stage": "Won"})),
    )
    .await
    .expect(StatusCode::BAD_REQUEST);
    send(
        &router,
        "POST",
        CRM_SERVICE_PATH,
        "Opportunities",
        Some("alice"),
        &[],
        Some(&json!({"ID": 41})),
    )
    .await
    .expect(StatusCode::CONFLICT);
    send(
        &router,
        "DELETE",
        CRM_SERVICE_PATH,
        "Opportunities(41)",
        Some("alice"),
        &[("if-match", "W/\"x\"")],
        None,
    )
    .await
    .expect(StatusCode::PRECONDITION_FAILED);
    send(
        &router,
        "DELETE",
        CRM_SERVICE_PATH,
        "Opportunities(41)",
        Some("alice"),
        &[],
        None,
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    crm_get(&router, "alice", "Opportunities(41)")
        .await
        .expect(StatusCode::NOT_FOUND);
    let account = send(
        &router,
        "POST",
        CRM_SERVICE_PATH,
        "Accounts",
        Some("bob"),
        &[],
        Some(&json!({"name": "New Co", "bpId": "10100014"})),
    )
    .await
    .expect(StatusCode::CREATED)
    .json();
    assert!(
        account["ID"].as_str().is_some_and(|id| id.len() == 36),
        "{account}"
    );
    assert_eq!(account["region"], "US");
}

// ---------------------------------------------------------------------------------------------
// Real sockets

#[tokio::test]
async fn start_serves_both_services_on_loopback_ports() {
    let backends = super::start().await.expect("start");
    assert!(
        backends.s4_url.starts_with("http://127.0.0.1:")
            && backends.s4_url.ends_with(S4_SERVICE_PATH)
    );
    assert!(
        backends.crm_url.starts_with("http://127.0.0.1:")
            && backends.crm_url.ends_with(CRM_SERVICE_PATH)
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let answer = client
        .get(format!("{}/A_SalesOrder?$top=1", backends.s4_url))
        .basic_auth("alice", Some("alice"))
        .send()
        .await
        .expect("s4 answers");
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Json = answer.json().await.expect("json");
    let uri = body["d"]["results"][0]["__metadata"]["uri"]
        .as_str()
        .expect("uri")
        .to_owned();
    assert!(uri.starts_with(&backends.s4_url), "{uri}");
    let answer = client
        .get(format!("{}/Accounts/$count", backends.crm_url))
        .basic_auth("bob", Some("bob"))
        .send()
        .await
        .expect("crm answers");
    assert_eq!(answer.text().await.expect("text"), "6");
}

#[tokio::test]
async fn v4_decimals_are_strings_when_the_client_asks_for_ieee754_compatibility() {
    let router = crm_router();
    let target = "Opportunities?$select=ID,amount&$top=1&$orderby=ID";
    let plain = crm_get(&router, "alice", target)
        .await
        .expect(StatusCode::OK);
    assert!(
        plain.json()["value"][0]["amount"].is_number(),
        "{}",
        plain.text()
    );
    let exact = send(
        &router,
        "GET",
        CRM_SERVICE_PATH,
        target,
        Some("alice"),
        &[("accept", "application/json;IEEE754Compatible=true")],
        None,
    )
    .await
    .expect(StatusCode::OK);
    let amount = &exact.json()["value"][0]["amount"];
    let text = amount
        .as_str()
        .unwrap_or_else(|| panic!("a string: {}", exact.text()));
    assert!(text.contains('.'), "keeps the scale: {text}");
}
