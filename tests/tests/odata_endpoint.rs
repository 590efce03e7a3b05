//! The OData v4 endpoint over the composed graph, against the real CAP backends: for a table of
//! request URLs (every system query option, combined), the gateway's answer equals CAP's own
//! OData v4 answer for the same data and user — through a namespace over CAP's v4 service and
//! through one over the same service's v2 adapter, which the endpoint serves as v4. What a v2
//! backend cannot do is refused with 501 and an OData error naming it, never dropped.
//!
//! Needs `npm ci --prefix tests/backends` (see tests/backends/README.md).

use bizgraph_tests::cap::{ALICE, BOB};
use bizgraph_tests::graph_env::{GraphEnv, GraphOptions, comparable};
use serde_json::Value;

/// Request URLs below the service root, as a client writes them (spaces encoded as `%20`).
const URLS: &[&str] = &[
    "A_SalesOrder?$top=5&$orderby=SalesOrder",
    "A_SalesOrder?$select=SalesOrder,TotalNetAmount&$top=3&$orderby=TotalNetAmount%20desc",
    "A_SalesOrder?$filter=TotalNetAmount%20gt%205000&$orderby=SalesOrder&$count=true",
    "A_SalesOrder?$filter=TotalNetAmount%20ge%201000%20and%20TotalNetAmount%20le%202000&$orderby=SalesOrder",
    "A_SalesOrder?$filter=TransactionCurrency%20eq%20'EUR'%20or%20TransactionCurrency%20eq%20'USD'&$orderby=SalesOrder&$top=10",
    "A_SalesOrder?$filter=not%20(OverallSDProcessStatus%20eq%20'C')&$orderby=SalesOrder&$top=10",
    "A_SalesOrder?$filter=SalesOrder%20in%20('5000000001','5000000003','5000000005')&$orderby=SalesOrder",
    "A_SalesOrder?$filter=CreationDate%20ge%202024-01-01&$orderby=CreationDate,SalesOrder&$top=10",
    "A_SalesOrder?$filter=LastChangeDateTime%20lt%202025-01-01T00:00:00Z&$orderby=SalesOrder&$top=5",
    "A_SalesOrder?$skip=10&$top=5&$orderby=SalesOrder",
    "A_SalesOrder?$count=true&$top=0",
    "A_SalesOrder?$select=SalesOrder&$count=true&$top=2&$skip=3&$orderby=SalesOrder%20desc",
    "A_SalesOrder('5000000001')",
    "A_SalesOrder('5000000001')?$select=SalesOrder,SoldToParty",
    "A_SalesOrder('5000000001')?$expand=to_Item",
    "A_SalesOrder?$expand=to_Item($select=SalesOrderItem,NetAmount;$orderby=SalesOrderItem%20desc)&$top=3&$orderby=SalesOrder",
    "A_SalesOrder?$expand=to_Item($filter=NetAmount%20gt%201000;$count=true)&$top=3&$orderby=SalesOrder",
    "A_SalesOrder?$expand=to_SoldToParty&$top=3&$orderby=SalesOrder",
    "A_SalesOrder?$expand=to_SoldToParty($select=BusinessPartnerFullName),to_Item($top=1;$orderby=SalesOrderItem)&$top=3&$orderby=SalesOrder",
    "A_SalesOrder?$filter=to_SoldToParty/BusinessPartnerCategory%20eq%20'2'&$orderby=SalesOrder&$top=5",
    "A_SalesOrder?$filter=Rating%20ge%203.5&$orderby=SalesOrder&$top=5",
    "A_SalesOrder?$filter=DeliveryTime%20gt%2012:00:00&$orderby=SalesOrder&$top=5",
    "A_SalesOrder?$filter=year(CreationDate)%20eq%202024&$orderby=SalesOrder",
    "A_SalesOrder?$filter=to_Item/any(i:i/NetAmount%20gt%205000)&$orderby=SalesOrder",
    "A_SalesOrderItem(SalesOrder='5000000001',SalesOrderItem='10')",
    "A_SalesOrderItem?$filter=SalesOrder%20eq%20'5000000001'&$orderby=SalesOrderItem",
    "A_SalesOrderItem?$filter=RequestedQuantity%20gt%205.5&$orderby=SalesOrder,SalesOrderItem&$top=10",
    "A_SalesOrderItem?$expand=to_Product,to_SalesOrder($select=SalesOrder)&$top=5&$orderby=SalesOrder,SalesOrderItem",
    "A_BusinessPartner?$filter=contains(BusinessPartnerFullName,'GmbH')&$orderby=BusinessPartner",
    "A_BusinessPartner?$filter=startswith(BusinessPartnerFullName,'O''Neil')",
    "A_BusinessPartner?$filter=endswith(BusinessPartnerFullName,'Inc.')&$orderby=BusinessPartner",
    "A_BusinessPartner?$filter=tolower(BusinessPartnerFullName)%20eq%20'acme%20corporation'",
    "A_BusinessPartner?$filter=IsBlocked%20eq%20true&$orderby=BusinessPartner",
    "A_BusinessPartner?$filter=CreationDate%20eq%20null&$orderby=BusinessPartner",
    "A_BusinessPartner?$filter=CreationDate%20ne%20null%20and%20not%20(IsBlocked%20eq%20true)&$orderby=BusinessPartner&$top=5",
    "A_BusinessPartner?$expand=to_SalesOrder($select=SalesOrder;$orderby=SalesOrder)&$top=2&$orderby=BusinessPartner",
    "A_BusinessPartner('1000001')/to_SalesOrder?$orderby=SalesOrder",
    "A_BusinessPartner('1000001')/to_SalesOrder/$count",
    "A_SalesOrder('5000000001')/to_SoldToParty",
    "A_Product?$filter=Price%20gt%20100%20and%20Weight%20lt%2010&$orderby=Product",
    "A_Product?$filter=StockQuantity%20eq%209007199254740993",
    "A_Product?$orderby=Price%20desc,Product&$top=5",
    "A_Product?$select=Product,ProductUUID&$top=3&$orderby=Product",
    "A_Product?$filter=length(ProductDescription)%20gt%2010&$orderby=Product",
    "A_Product?$filter=Product%20in%20('HT-1000','HT-1001')%20or%20Price%20lt%2010&$orderby=Product",
    "A_SalesOrder/$count",
    "A_SalesOrder?$filter=to_Item/all(i:i/NetAmount%20gt%20100)&$orderby=SalesOrder",
    "A_SalesOrder?$filter=month(CreationDate)%20eq%203&$orderby=SalesOrder",
    "A_SalesOrder?$filter=day(CreationDate)%20lt%2010&$orderby=SalesOrder",
    "A_SalesOrder?$filter=hour(LastChangeDateTime)%20ge%2012&$orderby=SalesOrder",
    "A_SalesOrder?$filter=minute(LastChangeDateTime)%20eq%200&$orderby=SalesOrder",
    "A_SalesOrder?$filter=year(LastChangeDateTime)%20eq%202024&$orderby=SalesOrder",
    "A_SalesOrder?$filter=round(TotalNetAmount)%20gt%205000&$orderby=SalesOrder",
    "A_SalesOrder?$filter=ceiling(TotalNetAmount)%20gt%205000&$orderby=SalesOrder",
    "A_SalesOrder?$filter=trim(TransactionCurrency)%20eq%20'EUR'&$top=3&$orderby=SalesOrder",
    "A_SalesOrder?$filter=SalesOrder%20eq%20'5000000001'%20or%20(TotalNetAmount%20lt%20500%20and%20TransactionCurrency%20eq%20'EUR')&$orderby=SalesOrder",
    "A_SalesOrder?$filter=SalesOrder%20eq%20@so&@so='5000000001'",
    "A_SalesOrder?$expand=to_Item($expand=to_Product($select=Product))&$top=2&$orderby=SalesOrder",
    "A_SalesOrder?$expand=to_Item($count=true;$top=1)&$top=2&$orderby=SalesOrder",
    "A_SalesOrder('5000000001')/to_Item?$filter=NetAmount%20gt%20100&$count=true",
    "A_BusinessPartner?$filter=toupper(BusinessPartnerFullName)%20eq%20'ACME%20CORPORATION'",
    "A_BusinessPartner?$filter=indexof(BusinessPartnerFullName,'Corp')%20eq%205",
    "A_BusinessPartner?$filter=substring(BusinessPartnerFullName,1,3)%20eq%20'cme'",
    "A_BusinessPartner?$filter=concat(BusinessPartnerFullName,'!')%20eq%20'Acme%20Corporation!'",
    "A_BusinessPartner?$search=Acme&$orderby=BusinessPartner",
    "A_BusinessPartner?$search=Corporation%20Acme&$orderby=BusinessPartner",
    "A_Product?$filter=ProductUUID%20ne%20null&$top=2&$orderby=Product",
    // A key after a collection-valued navigation: the related entity, or 404 when the key names
    // an entity that is not related (or not this user's).
    "A_SalesOrder('5000000001')/to_Item(SalesOrder='5000000001',SalesOrderItem='10')",
    "A_SalesOrder('5000000001')/to_Item(SalesOrder='5000000001',SalesOrderItem='10')?$select=NetAmount&$expand=to_Product($select=Product)",
    "A_SalesOrder('5000000002')/to_Item(SalesOrder='5000000001',SalesOrderItem='10')",
    "A_BusinessPartner('1000001')/to_SalesOrder('5000000001')?$select=SalesOrder,TotalNetAmount",
];

/// Requests CAP does not take as written, beside the form CAP does take that means the same:
/// system query options without `$` and in any case (OData 4.01, URL Conventions 5).
const SPELLINGS: &[(&str, &str)] = &[
    (
        "A_SalesOrder?top=2&orderby=SalesOrder",
        "A_SalesOrder?$top=2&$orderby=SalesOrder",
    ),
    (
        "A_SalesOrder?$TOP=2&$OrderBy=SalesOrder%20desc",
        "A_SalesOrder?$top=2&$orderby=SalesOrder%20desc",
    ),
    (
        "A_SalesOrder?select=SalesOrder&filter=TotalNetAmount%20gt%205000&orderby=SalesOrder",
        "A_SalesOrder?$select=SalesOrder&$filter=TotalNetAmount%20gt%205000&$orderby=SalesOrder",
    ),
];

/// What the v2 backend cannot be asked: lambda operators exist only in OData v4, and the v2
/// adapter's `$metadata` marks no set `sap:searchable`. Through the endpoint, the v2 backend's
/// namespace answers these with 501 and an error naming the returned word.
fn v2_cannot(url: &str) -> Option<&'static str> {
    ["any", "all"]
        .into_iter()
        .find(|operator| url.contains(&format!("/{operator}(")))
        .or(url.contains("$search=").then_some("search"))
}

/// An answer without what legitimately differs: context URLs (ours name the composed
/// namespace), the representation of numbers and zero fractions, and ETags of expanded entities
/// (CAP leaves them out when the expansion selects no ETag source; a v2 backend always sends
/// them). Top-level ETags are compared.
fn normalized(value: &Value) -> Value {
    fn strip(value: &Value, nested: bool) -> Value {
        match value {
            Value::Object(object) => Value::Object(
                object
                    .iter()
                    .filter(|(key, _)| {
                        let dropped = key.ends_with("@odata.context")
                            || (nested && key.as_str() == "@odata.etag");
                        !dropped
                    })
                    .map(|(key, value)| {
                        let inner = nested || !key.starts_with('@') && key.as_str() != "value";
                        (key.clone(), strip(value, inner))
                    })
                    .collect(),
            ),
            Value::Array(items) => {
                Value::Array(items.iter().map(|item| strip(item, nested)).collect())
            }
            other => other.clone(),
        }
    }
    comparable(&strip(value, false))
}

/// CAP adds an entity's ETag source (`LastChangeDateTime` of sales orders) to every `$select`;
/// OData returns only what was selected (4.01 part 2, section 5.1.3), as the gateway does.
fn without_unselected_etag_source(url: &str, cap: &Value) -> Value {
    fn strip(value: &Value) -> Value {
        match value {
            Value::Object(object) => Value::Object(
                object
                    .iter()
                    .filter(|(key, _)| key.as_str() != "LastChangeDateTime")
                    .map(|(key, value)| (key.clone(), strip(value)))
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let selects = query
        .split('&')
        .any(|option| option.starts_with("$select=") && !option.contains("LastChangeDateTime"));
    if selects { strip(cap) } else { cap.clone() }
}

async fn get(client: &reqwest::Client, url: String, user: (&str, &str)) -> (u16, Value, String) {
    let answer = client
        .get(&url)
        .basic_auth(user.0, Some(user.1))
        .header("accept", "application/json;IEEE754Compatible=true")
        .send()
        .await
        .unwrap_or_else(|error| panic!("{url}: {error}"));
    let status = answer.status().as_u16();
    let text = answer.text().await.unwrap_or_default();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    (status, json, text)
}

#[tokio::test]
async fn answers_equal_caps_own_odata_v4_answers_over_v4_and_v2_backends() {
    let env = GraphEnv::start("odata-endpoint", GraphOptions::both_protocols())
        .await
        .expect("backends and gateway start");
    let client = reqwest::Client::new();
    let mut compared = 0;
    let pairs = URLS
        .iter()
        .map(|url| (*url, *url))
        .chain(SPELLINGS.iter().copied());
    let pairs: Vec<(&str, &str)> = pairs.collect();
    for user in [ALICE, BOB] {
        for &(url, cap_url) in &pairs {
            let direct = format!("{}/odata/v4/sales/{cap_url}", env.s4.base_url());
            let (cap_status, cap, cap_text) = get(&client, direct, user).await;
            // Keys of the other region's rows are 404 for this user at CAP: the gateway must
            // answer the same.
            assert!(
                [200, 204, 404].contains(&cap_status),
                "CAP itself must answer {url}: {cap_status} {cap_text}"
            );
            for namespace in ["s4v4", "sap.s4"] {
                let ours = env.gateway.url(&format!("odata/v4/{namespace}/{url}"));
                let (status, body, text) = get(&client, ours.to_string(), user).await;
                if let Some(operator) = v2_cannot(url).filter(|_| namespace == "sap.s4") {
                    assert_eq!(status, 501, "{namespace} {url}: {text}");
                    let message = body["error"]["message"].as_str().unwrap_or_default();
                    assert!(message.contains(operator), "names the operator: {text}");
                    continue;
                }
                if cap_status == 204 {
                    // CAP answers a navigation from an entity this user cannot see as a null
                    // navigation; the gateway reads the parent first and says it is not there.
                    assert!(
                        [204, 404].contains(&status),
                        "{namespace} {url}: {status} {text}"
                    );
                    compared += 1;
                    continue;
                }
                assert_eq!(status, cap_status, "{namespace} {url}: {text}");
                if status == 404 {
                    assert!(
                        body["error"]["message"].is_string(),
                        "an OData error: {text}"
                    );
                    compared += 1;
                    continue;
                }
                if url.ends_with("$count") {
                    assert_eq!(text.trim(), cap_text.trim(), "{namespace} {url}");
                } else {
                    assert_eq!(
                        normalized(&body),
                        normalized(&without_unselected_etag_source(cap_url, &cap)),
                        "{namespace} {url} as {}",
                        user.0
                    );
                }
                compared += 1;
            }
        }
    }
    let v2_refused = URLS.iter().filter(|url| v2_cannot(url).is_some()).count();
    assert_eq!(
        compared,
        2 * (2 * pairs.len() - v2_refused),
        "every URL compared for both users and both namespaces"
    );
}

#[tokio::test]
async fn metadata_paging_errors_and_cross_source_expands() {
    let env = GraphEnv::start("odata-endpoint-more", GraphOptions::both_protocols())
        .await
        .expect("backends and gateway start");
    let client = reqwest::Client::new();
    let url = |path: &str| env.gateway.url(&format!("odata/v4/{path}")).to_string();

    // $metadata of each namespace parses with the project's parser and composes again; the v2
    // backend appears as v4 with up-converted types; the cross-source association is a
    // navigation property whose type lives in the other namespace's document.
    for namespace in ["sap.s4", "s4v4", "crm"] {
        let answer = client
            .get(url(&format!("{namespace}/$metadata")))
            .basic_auth(ALICE.0, Some(ALICE.1))
            .send()
            .await
            .expect("answers");
        assert_eq!(answer.status(), 200, "{namespace}");
        assert_eq!(answer.headers()["odata-version"], "4.0");
        let document = answer.text().await.expect("text");
        let parsed = bizgraph_metadata::parse(document.as_bytes())
            .unwrap_or_else(|error| panic!("{namespace}: {error}"));
        assert!(parsed.metadata.version.is_v4(), "{namespace}");
        let errors: Vec<_> = parsed
            .diagnostics
            .iter()
            .filter(|d| d.severity == bizgraph_metadata::Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{namespace}: {errors:?}");
        if namespace == "sap.s4" {
            assert!(!document.contains("Edm.DateTime\""), "no v2 types left");
            assert!(document.contains("Edm.DateTimeOffset"), "{document}");
            assert!(
                document.contains("Name=\"opportunities\""),
                "the association: {document}"
            );
            assert!(
                document.contains("<edmx:Include Namespace=\"crm\""),
                "{document}"
            );
        }
    }

    // Server-driven paging: Prefer odata.maxpagesize, next links followed to the end give
    // exactly the rows CAP has, each once.
    let mut next = Some(url(
        "s4v4/A_SalesOrder?$select=SalesOrder&$orderby=SalesOrder",
    ));
    let mut seen = Vec::new();
    let mut pages = 0;
    while let Some(link) = next.take() {
        let link = if link.starts_with("http") {
            link
        } else {
            env.gateway.url(&link).to_string()
        };
        let page: Value = client
            .get(&link)
            .basic_auth(ALICE.0, Some(ALICE.1))
            .header("prefer", "odata.maxpagesize=25")
            .send()
            .await
            .expect("answers")
            .json()
            .await
            .expect("JSON");
        let rows = page["value"].as_array().expect("a page");
        assert!(rows.len() <= 25, "{page}");
        seen.extend(
            rows.iter()
                .map(|r| r["SalesOrder"].as_str().unwrap_or_default().to_owned()),
        );
        next = page["@odata.nextLink"].as_str().map(str::to_owned);
        pages += 1;
        assert!(pages < 10, "paging ends");
    }
    assert_eq!(pages, 3, "60 EU orders in pages of 25");
    let direct = env
        .s4
        .get_json(
            "/odata/v4/sales/A_SalesOrder?$select=SalesOrder&$orderby=SalesOrder",
            ALICE,
        )
        .await
        .expect("CAP answers");
    let expected: Vec<String> = direct["value"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["SalesOrder"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(seen, expected);

    // A cross-source $expand: opportunities with their S/4 partner.
    let body: Value = client
        .get(url("crm/Opportunities?$select=ID,accountBpId&$top=5&$orderby=ID&$expand=partner($select=BusinessPartnerFullName,region)"))
        .basic_auth(BOB.0, Some(BOB.1))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    let rows = body["value"].as_array().expect("rows");
    assert_eq!(rows.len(), 5, "{body}");
    for row in rows {
        assert_eq!(
            row["partner"]["BusinessPartner"], row["accountBpId"],
            "{row}"
        );
        assert_eq!(row["partner"]["region"], "US");
    }

    // Errors: the token and its position, OData error bodies, the right status.
    for (path, status, fragment) in [
        (
            "s4v4/A_SalesOrder?$filter=TotalNetAmount%20gt",
            400,
            "position",
        ),
        ("s4v4/A_SalesOrder?$filter=Nope%20eq%201", 400, "Nope"),
        (
            "s4v4/A_SalesOrder?$filter=TotalNetAmount%20eq%20'x'",
            400,
            "'x'",
        ),
        (
            "s4v4/A_SalesOrder?$filter=frobnicate(SalesOrder)",
            400,
            "frobnicate",
        ),
        ("s4v4/A_SalesOrder?$top=100000", 400, "limit"),
        ("s4v4/Nope", 404, "Nope"),
        (
            "sap.s4/A_SalesOrder?$filter=to_Item/any(i:i/NetAmount%20gt%201)",
            501,
            "any",
        ),
        ("nowhere/A_SalesOrder", 404, "nowhere"),
    ] {
        let answer = client
            .get(url(path))
            .basic_auth(ALICE.0, Some(ALICE.1))
            .send()
            .await
            .expect("answers");
        assert_eq!(answer.status().as_u16(), status, "{path}");
        let body: Value = answer.json().await.expect("an OData error body");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(fragment), "{path}: {body}");
        assert!(body["error"]["code"].is_string(), "{path}: {body}");
    }
    let anonymous = client
        .get(url("s4v4/A_SalesOrder"))
        .send()
        .await
        .expect("answers");
    assert_eq!(anonymous.status(), 401);

    // odata.metadata=full adds each entity's type, id and edit link; the id addresses it.
    let full: Value = client
        .get(url(
            "s4v4/A_SalesOrderItem?$top=2&$orderby=SalesOrder,SalesOrderItem",
        ))
        .basic_auth(ALICE.0, Some(ALICE.1))
        .header("accept", "application/json;odata.metadata=full")
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    let first = &full["value"][0];
    assert_eq!(first["@odata.type"], "#s4v4.A_SalesOrderItem", "{full}");
    let id = first["@odata.id"].as_str().expect("an id");
    assert!(id.starts_with("A_SalesOrderItem(SalesOrder="), "{id}");
    assert_eq!(first["@odata.editLink"], id);
    let by_id: Value = client
        .get(url(&format!("s4v4/{id}")))
        .basic_auth(ALICE.0, Some(ALICE.1))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(by_id["SalesOrderItem"], first["SalesOrderItem"], "{by_id}");
    assert_eq!(by_id["SalesOrder"], first["SalesOrder"]);

    // A client that accepts OData 4.01 gets 4.01's short control names.
    let answer = client
        .get(url(
            "s4v4/A_SalesOrder?$top=1&$count=true&$orderby=SalesOrder&$expand=to_Item($count=true)",
        ))
        .basic_auth(ALICE.0, Some(ALICE.1))
        .header("odata-maxversion", "4.01")
        .send()
        .await
        .expect("answers");
    assert_eq!(answer.headers()["odata-version"], "4.01");
    let short: Value = answer.json().await.expect("JSON");
    assert_eq!(short["@count"], 60, "{short}");
    assert!(
        short["@context"].is_string() && short.get("@odata.count").is_none(),
        "{short}"
    );
    assert!(short["value"][0]["to_Item@count"].is_u64(), "{short}");
    assert!(short["value"][0]["@etag"].is_string(), "{short}");

    // The service document lists the entity sets.
    let document: Value = client
        .get(url("crm/"))
        .basic_auth(ALICE.0, Some(ALICE.1))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    let names: Vec<&str> = document["value"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    assert!(
        names.contains(&"Opportunities") && names.contains(&"Accounts"),
        "{document}"
    );
}
