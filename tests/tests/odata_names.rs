//! The OData v4 endpoint over small in-process backends whose names and keys make the
//! endpoint's own choices visible: a namespace `shop` of two v4 services whose `$metadata` renames
//! sets (a set of a secondary container, a set name both services use, an import named like a
//! set), and a namespace `devices` over a v2 service with an Int64 and Guid key and a configured
//! association into `shop`. Each backend row says which backend set it came from, and the
//! backends log what they were asked.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bizgraph_gateway::startup::Environment;
use bizgraph_tests::gateway::Gateway;
use serde_json::{Value, json};

const ALICE: (&str, &str) = ("alice", "alice-pw");

/// The Guid of every device.
const BATCH: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

const SHOP_A: &str = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
<edmx:DataServices><Schema Namespace="N" xmlns="http://docs.oasis-open.org/odata/ns/edm">
 <EntityType Name="Product"><Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/><Property Name="Name" Type="Edm.String"/>
 </EntityType>
 <EntityContainer Name="Main"><EntitySet Name="Products" EntityType="N.Product"/></EntityContainer>
 <EntityContainer Name="Other"><EntitySet Name="Products" EntityType="N.Product"/></EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>"#;

const SHOP_B: &str = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
<edmx:DataServices><Schema Namespace="M" xmlns="http://docs.oasis-open.org/odata/ns/edm">
 <EntityType Name="Product"><Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/><Property Name="Name" Type="Edm.String"/>
 </EntityType>
 <Function Name="Top"><ReturnType Type="Edm.Int32"/></Function>
 <EntityContainer Name="C"><EntitySet Name="Products" EntityType="M.Product"/>
  <FunctionImport Name="Products" Function="M.Top"/></EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>"#;

const DEVICES_V2: &str = r#"<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">
<edmx:DataServices m:DataServiceVersion="2.0">
<Schema Namespace="D" xmlns="http://schemas.microsoft.com/ado/2008/09/edm">
 <EntityType Name="Device"><Key><PropertyRef Name="Serial"/><PropertyRef Name="Batch"/></Key>
  <Property Name="Serial" Type="Edm.Int64" Nullable="false"/>
  <Property Name="Batch" Type="Edm.Guid" Nullable="false"/>
  <Property Name="Label" Type="Edm.String" ConcurrencyMode="Fixed"/>
  <Property Name="ProductId" Type="Edm.Int32"/>
 </EntityType>
 <EntityContainer Name="C" m:IsDefaultEntityContainer="true">
  <EntitySet Name="Devices" EntityType="D.Device"/>
 </EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>"#;

/// The backends: every request's path and query, as received.
#[derive(Debug, Clone, Default)]
struct Backends {
    log: Arc<Mutex<Vec<String>>>,
}

impl Backends {
    fn requests(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }
}

/// A query option's value (`$top` or its encoded form `%24top`).
fn option(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key.replace("%24", "$") == name).then(|| value.to_owned())
    })
}

/// Ten rows per v4 set, numbered from where the set's IDs start (`Products` of `/a` from 1,
/// `Other.Products` from 101, `Products` of `/b` from 201), paged by `$skip` and `$top`.
async fn backend(State(backends): State<Backends>, uri: Uri) -> Response {
    let query = uri.query().unwrap_or_default();
    backends
        .log
        .lock()
        .expect("log")
        .push(format!("{}?{query}", uri.path()));
    let path = uri.path();
    let (service, rest) = path[1..].split_once('/').unwrap_or((&path[1..], ""));
    if rest == "$metadata" {
        let document = match service {
            "a" => SHOP_A,
            "b" => SHOP_B,
            _ => DEVICES_V2,
        };
        return ([(header::CONTENT_TYPE, "application/xml")], document).into_response();
    }
    if service == "v2" {
        let device = |serial: u64| {
            json!({"__metadata": {"type": "D.Device", "etag": format!("W/\"'{serial}'\"")},
                   "Serial": serial.to_string(), "Batch": BATCH, "Label": format!("l{serial}"),
                   "ProductId": serial - 4})
        };
        if let Some(key) = rest.strip_prefix("Devices(") {
            let serial = key
                .trim_start_matches("Serial=")
                .split(|c: char| !c.is_ascii_digit())
                .next()
                .and_then(|digits| digits.parse().ok())
                .unwrap_or(0);
            return axum::Json(json!({"d": device(serial)})).into_response();
        }
        let rows: Vec<Value> = (5..8).map(device).collect();
        return axum::Json(json!({"d": {"results": rows, "__count": "3"}})).into_response();
    }
    let first = match (service, rest.split('(').next().unwrap_or_default()) {
        ("a", "Other.Products") => 101,
        ("a", _) => 1,
        _ => 201,
    };
    if rest.ends_with("()") {
        return axum::Json(json!({"value": 7})).into_response();
    }
    if let Some(key) = rest
        .split_once('(')
        .map(|(_, key)| key.trim_end_matches(')'))
    {
        let id: u64 = key.parse().unwrap_or(0);
        return axum::Json(json!({"ID": id, "Name": format!("n{id}")})).into_response();
    }
    if rest.ends_with("/$count") {
        return "10".into_response();
    }
    let skip: u64 = option(query, "$skip")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let top: u64 = option(query, "$top")
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let rows: Vec<Value> = (first..first + 10)
        .skip(skip as usize)
        .take(top as usize)
        .map(|id| json!({"ID": id, "Name": format!("n{id}")}))
        .collect();
    let mut body = json!({"value": rows});
    if option(query, "$count").as_deref() == Some("true") {
        body["@odata.count"] = json!(10);
    }
    axum::Json(body).into_response()
}

/// The backends and a gateway composing them.
struct Env {
    backends: Backends,
    gateway: Gateway,
    http: reqwest::Client,
    _server: tokio::task::JoinHandle<()>,
}

impl Drop for Env {
    fn drop(&mut self) {
        self._server.abort();
    }
}

async fn start() -> Env {
    let backends = Backends::default();
    let router = axum::Router::new()
        .fallback(backend)
        .with_state(backends.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a free port");
    let address = listener.local_addr().expect("bound");
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let destinations = json!([{"Name": "STUB", "URL": format!("http://{address}"),
        "Authentication": "NoAuthentication", "ProxyType": "Internet"}]);
    let settings = r#"
[destinations]
source = "environment"

[identity]
mode = "development"
[[identity.users]]
name = "alice"
password = "alice-pw"

[graph]
refresh_interval_seconds = 0

[[graph.data_sources]]
name = "shop"
services = [{ destination = "STUB", path = "/a" }, { destination = "STUB", path = "/b" }]

[[graph.data_sources]]
name = "devices"
services = [{ destination = "STUB", path = "/v2" }]

[[graph.associations]]
from = "devices.Devices"
property = "ProductId"
to = "shop.Products"
key = "ID"
name = "product"
multiplicity = "one"

[[graph.associations]]
from = "shop.Products"
property = "ID"
to = "devices.Devices"
key = "ProductId"
name = "devices"
multiplicity = "many"
"#;
    let environment = Environment {
        destinations: Some(destinations.to_string()),
        ..Environment::default()
    };
    let gateway = Gateway::start(settings, environment)
        .await
        .expect("the gateway starts");
    Env {
        backends,
        gateway,
        http: reqwest::Client::new(),
        _server: server,
    }
}

/// An answer: status, headers, body text.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.text))
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Env {
    /// GET of a path below `/odata/v4/` as alice, with extra headers.
    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = self
            .http
            .get(self.gateway.url(&format!("odata/v4/{path}")))
            .basic_auth(ALICE.0, Some(ALICE.1));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let answer = request.send().await.expect("the gateway answers");
        Answer {
            status: answer.status().as_u16(),
            headers: answer.headers().clone(),
            text: answer.text().await.unwrap_or_default(),
        }
    }

    /// Follows next links from `path` with `Prefer: odata.maxpagesize=<size>`: the IDs of each
    /// page. Every page must say it applied the preference.
    async fn pages(&self, path: &str, size: u32) -> Vec<Vec<u64>> {
        let prefer = format!("odata.maxpagesize={size}");
        let mut next = Some(format!("/odata/v4/{path}"));
        let mut pages = Vec::new();
        while let Some(link) = next.take() {
            assert!(pages.len() < 20, "paging ends");
            let path = link
                .strip_prefix("/odata/v4/")
                .expect("a link below the root");
            let answer = self.get(path, &[("prefer", &prefer)]).await;
            assert_eq!(answer.status, 200, "{link}: {}", answer.text);
            assert_eq!(
                answer.header("preference-applied"),
                Some(prefer.as_str()),
                "{link}"
            );
            let page = answer.json();
            pages.push(
                page["value"]
                    .as_array()
                    .expect("rows")
                    .iter()
                    .filter_map(|row| row["ID"].as_u64())
                    .collect(),
            );
            next = page["@odata.nextLink"].as_str().map(str::to_owned);
        }
        pages
    }

    /// GET that must answer 200 with JSON.
    async fn json(&self, path: &str, headers: &[(&str, &str)]) -> Value {
        let answer = self.get(path, headers).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text);
        answer.json()
    }
}

const FULL: (&str, &str) = ("accept", "application/json;odata.metadata=full");

#[tokio::test]
async fn sets_and_imports_are_addressed_by_the_names_metadata_advertises() {
    let env = start().await;
    let metadata = env.get("shop/$metadata", &[]).await;
    assert_eq!(metadata.status, StatusCode::OK.as_u16());
    assert_eq!(metadata.header("content-type"), Some("application/xml"));
    for declared in [
        r#"EntitySet Name="Products""#,
        r#"EntitySet Name="Other_Products""#,
        r#"EntitySet Name="Products_2""#,
        r#"FunctionImport Name="Products_3""#,
    ] {
        assert!(
            metadata.text.contains(declared),
            "{declared}: {}",
            metadata.text
        );
    }
    let document = env.json("shop/", &[]).await;
    let listed: Vec<&str> = document["value"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|item| item["url"].as_str())
        .collect();
    assert_eq!(
        listed,
        ["Products", "Other_Products", "Products_2", "Products_3"]
    );
    // Each set the service document lists answers with its own backend set's rows, under a
    // context URL naming it as listed.
    for (set, first_id, backend) in [
        ("Products", 1, "/a/Products?"),
        ("Other_Products", 101, "/a/Other.Products?"),
        ("Products_2", 201, "/b/Products?"),
    ] {
        let page = env.json(&format!("shop/{set}?$top=2"), &[]).await;
        assert_eq!(page["value"][0]["ID"], first_id, "{set}: {page}");
        assert_eq!(
            page["@odata.context"],
            format!("/odata/v4/shop/$metadata#{set}")
        );
        assert!(
            env.backends
                .requests()
                .iter()
                .any(|r| r.starts_with(backend)),
            "{set} reads {backend}: {:?}",
            env.backends.requests()
        );
    }
    // With full metadata the id and edit link name the advertised set, and address the entity.
    let full = env.json("shop/Products_2?$top=1", &[FULL]).await;
    assert_eq!(full["value"][0]["@odata.id"], "Products_2(201)", "{full}");
    assert_eq!(full["value"][0]["@odata.editLink"], "Products_2(201)");
    let one = env.json("shop/Products_2(201)", &[]).await;
    assert_eq!(one["ID"], 201);
    assert_eq!(
        one["@odata.context"],
        "/odata/v4/shop/$metadata#Products_2/$entity"
    );
    // The import yields its name to the sets: it is called as `Products_3`.
    let called = env.json("shop/Products_3()", &[]).await;
    assert_eq!(called["value"], 7, "{called}");
    // The backend's own names of renamed sets are not ours.
    assert_eq!(env.get("shop/Other.Products", &[]).await.status, 404);
}

#[tokio::test]
async fn full_metadata_ids_are_v4_urls_under_the_owning_namespace() {
    let env = start().await;
    // A v2-backed entity: its id takes v4 literals (not `5L`, `guid'…'`).
    let page = env
        .json("devices/Devices?$top=1&$expand=product", &[FULL])
        .await;
    let device = &page["value"][0];
    let id = format!("Devices(Serial=5,Batch={BATCH})");
    assert_eq!(device["@odata.id"], id, "{page}");
    assert_eq!(device["@odata.editLink"], id);
    let by_id = env.json(&format!("devices/{id}"), &[]).await;
    assert_eq!(by_id["Label"], "l5", "{by_id}");
    // An entity of another namespace, reached by a configured association: its id is the path
    // below its own namespace's root, and it addresses the entity.
    let product = &device["product"];
    assert_eq!(product["@odata.id"], "/odata/v4/shop/Products(1)", "{page}");
    // Both shop services have a `Product` type: each set got a type named like it.
    assert_eq!(product["@odata.type"], "#shop.Products", "{page}");
    let again = env.json("shop/Products(1)", &[]).await;
    assert_eq!(again["ID"], 1);
    // Navigating across: the context is the other namespace's document, the ids are below its
    // root.
    let navigated = env.json("shop/Products(1)/devices", &[FULL]).await;
    assert_eq!(
        navigated["@odata.context"], "/odata/v4/devices/$metadata#Devices",
        "{navigated}"
    );
    assert_eq!(
        navigated["value"][0]["@odata.id"],
        format!("/odata/v4/devices/{id}"),
        "{navigated}"
    );
}

#[tokio::test]
async fn pages_honour_maxpagesize_with_top_and_skip_tokens_in_any_spelling() {
    let env = start().await;
    // With $top: pages of the preferred size until the $top rows are delivered.
    assert_eq!(
        env.pages("shop/Products?$top=7", 3).await,
        [vec![1, 2, 3], vec![4, 5, 6], vec![7]]
    );
    assert_eq!(
        env.pages("shop/Products?$skip=2&$top=5", 2).await,
        [vec![3, 4], vec![5, 6], vec![7]]
    );
    // A $top within the page size is one page; the preference still applies.
    assert_eq!(
        env.pages("shop/Products?$top=4", 5).await,
        [vec![1, 2, 3, 4]]
    );
    // Without $top: the whole set.
    assert_eq!(
        env.pages("shop/Products", 4).await,
        [vec![1, 2, 3, 4], vec![5, 6, 7, 8], vec![9, 10]]
    );
    // A skip token spelled without `$` (OData 4.01 allows it) is replaced in the next link, not
    // repeated beside it.
    assert_eq!(
        env.pages("shop/Products?skiptoken=6", 2).await,
        [vec![7, 8], vec![9, 10]]
    );
    assert_eq!(
        env.pages("shop/Products?%24SkipToken=8", 5).await,
        [vec![9, 10]]
    );
    // A skip token with $top and no preference continues within the $top rows.
    let rest = env.json("shop/Products?$top=5&$skiptoken=2", &[]).await;
    let ids: Vec<u64> = rest["value"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|row| row["ID"].as_u64())
        .collect();
    assert_eq!(ids, [3, 4, 5], "{rest}");
    assert!(rest.get("@odata.nextLink").is_none(), "{rest}");
}

#[tokio::test]
async fn counts_etags_and_errors_answer_as_the_protocol_says() {
    let env = start().await;
    // A count is text/plain, and a client may accept only that.
    let count = env
        .get("shop/Products/$count", &[("accept", "text/plain")])
        .await;
    assert_eq!((count.status, count.text.as_str()), (200, "10"));
    assert_eq!(count.header("content-type"), Some("text/plain"));
    // A single entity's ETag is a header as well as `@odata.etag`.
    let device = env
        .get(&format!("devices/Devices(Serial=5,Batch={BATCH})"), &[])
        .await;
    assert_eq!(device.status, 200, "{}", device.text);
    assert_eq!(device.header("etag"), Some(r#"W/"'5'""#));
    assert_eq!(device.json()["@odata.etag"], r#"W/"'5'""#);
    // A 4.01 client gets 4.01 in every answer: counts and errors too.
    let v401 = ("odata-maxversion", "4.01");
    let count = env.get("shop/Products/$count", &[v401]).await;
    assert_eq!(count.status, 200, "{}", count.text);
    assert_eq!(count.header("odata-version"), Some("4.01"));
    let missing = env.get("shop/Nope", &[v401]).await;
    assert_eq!(missing.status, 404);
    assert_eq!(missing.header("odata-version"), Some("4.01"));
    assert_eq!(
        env.get("shop/Nope", &[]).await.header("odata-version"),
        Some("4.0")
    );
    let refused = env
        .http
        .post(env.gateway.url("odata/v4/shop/Nope"))
        .basic_auth(ALICE.0, Some(ALICE.1))
        .header(v401.0, v401.1)
        .json(&json!({}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(refused.status(), 404);
    assert_eq!(refused.headers()["odata-version"], "4.01");
    // So do the service document, `$metadata` and `$batch`: one layer sets it for the endpoint.
    for path in ["shop/", "shop/$metadata"] {
        let answer = env.get(path, &[v401]).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.text);
        assert_eq!(answer.header("odata-version"), Some("4.01"), "{path}");
    }
    let batch = env
        .http
        .post(env.gateway.url("odata/v4/shop/$batch"))
        .basic_auth(ALICE.0, Some(ALICE.1))
        .header(v401.0, v401.1)
        .json(&json!({"requests": [{"id": "1", "method": "GET", "url": "Products/$count"}]}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(batch.status(), 200);
    assert_eq!(batch.headers()["odata-version"], "4.01");
}
