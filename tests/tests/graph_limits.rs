//! The GraphQL side at its limits, next to the real CAP backends: a backend that accepts the
//! connection and never answers ends after its destination's `bizgraph.timeoutSeconds` with
//! `BACKEND_TIMEOUT` on its own field only; a `$metadata` that never answers leaves its source
//! out after `[graph] metadata_timeout_seconds`; a `POST /graphql` body above
//! `[server] body_limit_bytes` is refused with 413 before any backend is called; server-driven
//! paging (CAP with `cds.query.limit.max`) is followed until `top` rows are there; an expired
//! CSRF token (SAP's `403` with `X-CSRF-Token: Required`) is fetched again once and the write
//! retried with the new one.
//!
//! The slow and the CSRF-protected services are in-process stand-ins; everything else is CAP.
//! Needs `npm ci --prefix tests/backends` (see tests/backends/README.md).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bizgraph_tests::cap::{ALICE, CapApp, CapBackend};
use bizgraph_tests::graph_env::{
    GraphEnv, GraphOptions, Protocol, cap_rows, comparable, errors_of, like, post_graphql,
    readyz_source,
};
use bizgraph_tests::standins::{Server, http_client_builder};
use serde_json::{Map, Value, json};

/// A v4 service with one entity set, `Items`.
const SLOW_METADATA: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="Slow" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="Item">
        <Key><PropertyRef Name="ID"/></Key>
        <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
      </EntityType>
      <EntityContainer Name="Container">
        <EntitySet Name="Items" EntityType="Slow.Item"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"#;

/// Serves `router` on a free loopback port: its base URL (without the trailing `/`) and the
/// server, which stops when dropped.
async fn serve(router: Router) -> anyhow::Result<(String, Server)> {
    let server = Server::start(router).await?;
    Ok((server.origin(), server))
}

/// A stand-in that serves `/slow/$metadata` at once and keeps every other request (data of
/// `/slow`, and `/stuck/$metadata`) open without ever answering; counts the requests it holds.
async fn silent_backend() -> anyhow::Result<(String, Arc<AtomicUsize>, Server)> {
    let held = Arc::new(AtomicUsize::new(0));
    let hang = |State(held): State<Arc<AtomicUsize>>| async move {
        held.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<()>().await;
    };
    let router = Router::new()
        .route(
            "/slow/$metadata",
            get(|| async { ([(header::CONTENT_TYPE, "application/xml")], SLOW_METADATA) }),
        )
        .route("/slow/{*rest}", get(hang))
        .route("/stuck/$metadata", get(hang))
        .with_state(held.clone());
    let (url, server) = serve(router).await?;
    Ok((url, held, server))
}

/// A client whose own timeout is short: the gateway must answer before it, so a gateway that
/// waited for the settings' long upstream timeout instead of the destination's fails the test.
fn impatient_client() -> anyhow::Result<reqwest::Client> {
    Ok(http_client_builder()?
        .timeout(Duration::from_secs(15))
        .build()?)
}

#[tokio::test]
async fn a_backend_that_never_answers_times_out_after_its_destination_timeout_alone()
-> anyhow::Result<()> {
    let (slow_url, held, server) = silent_backend().await?;
    let env = GraphEnv::start(
        "graph-limits-timeout",
        GraphOptions {
            extra_destinations: vec![json!({
                "Name": "SLOW", "Type": "HTTP", "URL": slow_url, "ProxyType": "Internet",
                "Authentication": "NoAuthentication", "bizgraph.timeoutSeconds": "1"
            })],
            extra_sources: "\n[[graph.data_sources]]\nname = \"slow\"\nservices = [{ destination = \"SLOW\", path = \"/slow\" }]\n".to_owned(),
            // Long enough that only the destination's own timeout can end the wait in time.
            extra_settings: "\n[upstream]\ntimeout_seconds = 120\n".to_owned(),
            ..GraphOptions::default()
        },
    )
    .await?;
    let answer = post_graphql(
        &impatient_client()?,
        &env.gateway,
        ALICE,
        r#"{ slow { Items(top: 2) { nodes { ID } } }
             crm { Opportunities(top: 2, orderBy: {ID: asc}) { nodes { ID } } } }"#,
        Value::Null,
    )
    .await?;
    assert_eq!(
        held.load(Ordering::SeqCst),
        1,
        "the read reached the stand-in"
    );
    assert_eq!(
        answer["data"],
        json!({"slow": {"Items": null},
               "crm": {"Opportunities": {"nodes": [{"ID": 1}, {"ID": 3}]}}}),
        "{answer:#}"
    );
    let errors = errors_of(&answer);
    assert_eq!(errors.len(), 1, "{answer:#}");
    let error = &errors[0];
    assert_eq!(error["path"], json!(["slow", "Items"]), "{answer:#}");
    assert_eq!(error["extensions"]["code"], "BACKEND_TIMEOUT", "{answer:#}");
    assert_eq!(error["extensions"]["backend"], "slow", "{answer:#}");
    assert_eq!(error["extensions"]["status"], 504, "{answer:#}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("[slow]") && message.contains("destination 'SLOW'"),
        "the message names the namespace and the destination: {answer:#}"
    );
    drop(server);
    Ok(())
}

#[tokio::test]
async fn a_metadata_that_never_answers_is_left_out_after_the_metadata_timeout() -> anyhow::Result<()>
{
    let (stuck_url, held, server) = silent_backend().await?;
    let options = GraphOptions {
        // The v4 paths, whose $metadata CAP has compiled already while starting.
        s4_namespaces: vec![("sap.s4".to_owned(), Protocol::V4)],
        extra_destinations: vec![json!({
            "Name": "STUCK", "Type": "HTTP", "URL": stuck_url, "ProxyType": "Internet",
            "Authentication": "NoAuthentication"
        })],
        extra_sources: "\n[[graph.data_sources]]\nname = \"stuck\"\nservices = [{ destination = \"STUCK\", path = \"/stuck\" }]\n".to_owned(),
        metadata_timeout_seconds: 2,
        // The upstream timeout alone would keep the start waiting far longer than the guard.
        extra_settings: "\n[upstream]\ntimeout_seconds = 120\n".to_owned(),
        ..GraphOptions::default()
    };
    let env = tokio::time::timeout(
        Duration::from_secs(20),
        GraphEnv::start("graph-limits-metadata-timeout", options),
    )
    .await
    .map_err(|_| anyhow::anyhow!("the gateway did not start within 20 s"))??;
    assert_eq!(
        held.load(Ordering::SeqCst),
        1,
        "the $metadata request arrived"
    );

    let (status, ready) = env.get("readyz", ALICE).await?;
    assert_eq!(status, 503, "{ready:#}");
    let source = |name: &str| readyz_source(&ready, name);
    let stuck = source("stuck");
    assert_eq!(stuck["state"], "failed", "{ready:#}");
    let service = &stuck["services"][0];
    assert_eq!(
        service["url"],
        format!("{stuck_url}/stuck/$metadata"),
        "{ready:#}"
    );
    assert_eq!(service["error"], "no answer within 2 s", "{ready:#}");
    assert_eq!(source("sap.s4")["state"], "ready", "{ready:#}");
    assert_eq!(source("crm")["state"], "ready", "{ready:#}");

    env.assert_first_opportunity_has_its_partner().await?;
    let answer = env
        .query(ALICE, "{ stuck { Items { nodes { ID } } } }", Value::Null)
        .await?;
    assert!(
        errors_of(&answer)[0]["message"]
            .as_str()
            .is_some_and(|message| message.contains("stuck")),
        "the namespace is not in the schema: {answer:#}"
    );
    drop(server);
    Ok(())
}

#[tokio::test]
async fn a_graphql_body_above_the_limit_is_refused_with_413_before_any_backend()
-> anyhow::Result<()> {
    let limit = 2048;
    let env = GraphEnv::start(
        "graph-limits-body",
        GraphOptions {
            extra_settings: format!("\n[server]\nbody_limit_bytes = {limit}\n"),
            ..GraphOptions::default()
        },
    )
    .await?;
    // The same query, padded with a GraphQL comment to a body of `size` bytes.
    let body = |size: usize| {
        let query = "{ crm { Opportunities(top: 1, orderBy: {ID: asc}) { nodes { ID } } } }\n#";
        let empty = json!({ "query": query }).to_string().len();
        let padded = format!("{query}{}", "x".repeat(size - empty));
        let body = json!({ "query": padded }).to_string();
        assert_eq!(body.len(), size);
        body
    };
    let client = http_client_builder()?.build()?;
    let send = |body: String| {
        client
            .post(env.gateway.url("graphql"))
            .basic_auth(ALICE.0, Some(ALICE.1))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
    };
    env.clear_requests().await?;

    let refused = send(body(limit + 1)).await?;
    assert_eq!(refused.status().as_u16(), 413);
    let (s4, crm) = env.requests().await?;
    assert!(s4.is_empty() && crm.is_empty(), "{s4:#?} {crm:#?}");

    // At the limit, the same query runs.
    let accepted = send(body(limit)).await?;
    assert_eq!(accepted.status().as_u16(), 200);
    let answer: Value = accepted.json().await?;
    assert_eq!(
        answer,
        json!({"data": {"crm": {"Opportunities": {"nodes": [{"ID": 1}]}}}})
    );
    let (_, crm) = env.requests().await?;
    assert_eq!(crm.len(), 1, "{crm:#?}");
    Ok(())
}

/// Rows of a CAP collection read as alice, following its server-driven paging (v4
/// `@odata.nextLink`, v2 `__next`, both relative to the service root or absolute) until `top`
/// rows are there: CAP's own full answer.
async fn cap_pages(
    backend: &CapBackend,
    root: &str,
    first: &str,
    top: usize,
) -> anyhow::Result<Vec<Map<String, Value>>> {
    let mut rows = Vec::new();
    let mut next = Some(format!("{root}/{first}"));
    while let Some(path) = next.take() {
        let body = backend.get_json(&path, ALICE).await?;
        rows.extend(cap_rows(&body));
        if rows.len() >= top {
            break;
        }
        let link = body["@odata.nextLink"]
            .as_str()
            .or_else(|| body["d"]["__next"].as_str());
        next = link.map(|link| match link.find(root) {
            Some(at) => link[at..].to_owned(),
            None => format!("{root}/{link}"),
        });
    }
    rows.truncate(top);
    Ok(rows)
}

#[tokio::test]
async fn server_driven_pages_are_followed_until_top_rows_are_there() -> anyhow::Result<()> {
    // CAP answers at most 3 rows per request and links the next page.
    let paged = Some(r#"{"query":{"limit":{"max":3}}}"#);
    let (s4, crm) = tokio::join!(
        CapBackend::start_with_config(CapApp::S4, paged),
        CapBackend::start_with_config(CapApp::Crm, paged)
    );
    let env = GraphEnv::start_on(
        "graph-limits-paging",
        s4?,
        crm?,
        GraphOptions::both_protocols(),
    )
    .await?;

    let cases = [
        (
            "crm",
            "Opportunities(top: 7, orderBy: {ID: asc}) { nodes { ID title } }",
            &env.crm,
            "/odata/v4/crm",
            "Opportunities?$top=7&$orderby=ID&$select=ID,title",
            "/odata/v4/crm/Opportunities?",
        ),
        (
            "s4v4",
            "A_SalesOrder(top: 8, orderBy: {SalesOrder: asc}) { nodes { SalesOrder SoldToParty } }",
            &env.s4,
            "/odata/v4/sales",
            "A_SalesOrder?$top=8&$orderby=SalesOrder&$select=SalesOrder,SoldToParty",
            "/odata/v4/sales/A_SalesOrder?",
        ),
        (
            "sap_s4",
            "A_SalesOrder(top: 8, orderBy: {SalesOrder: asc}) { nodes { SalesOrder SoldToParty } }",
            &env.s4,
            "/odata/v2/sales",
            "A_SalesOrder?$top=8&$orderby=SalesOrder&$select=SalesOrder,SoldToParty",
            "/odata/v2/sales/A_SalesOrder?",
        ),
    ];
    for (namespace, field, backend, root, first, logged) in cases {
        let top = if namespace == "crm" { 7 } else { 8 };
        let expected = cap_pages(backend, root, first, top).await?;
        assert_eq!(expected.len(), top, "{namespace}: CAP has enough rows");
        env.clear_requests().await?;

        let data = env
            .data(ALICE, &format!("{{ {namespace} {{ {field} }} }}"))
            .await?;
        let (_, connection) = data[namespace]
            .as_object()
            .and_then(|fields| fields.iter().next())
            .expect("one field");
        let nodes = &connection["nodes"];
        let expected = Value::Array(expected.into_iter().map(Value::Object).collect());
        // CAP's rows reduced to the selected fields (it adds ETag properties of its own).
        assert_eq!(
            comparable(nodes),
            comparable(&like(nodes, &expected)),
            "{namespace}"
        );

        // The first page and one request per further page of 3, each following the link.
        let log = backend.requests().await?;
        let reads: Vec<&str> = log
            .iter()
            .map(|request| request.url.as_str())
            .filter(|url| url.starts_with(logged))
            .collect();
        assert_eq!(reads.len(), top.div_ceil(3), "{namespace}: {log:#?}");
        assert!(!reads[0].contains("skiptoken"), "{namespace}: {log:#?}");
        for follow_up in &reads[1..] {
            assert!(
                follow_up.contains("skiptoken"),
                "{namespace}: a follow-up request uses the next link: {log:#?}"
            );
        }
    }
    Ok(())
}

/// A v2 service with one entity set, `Notes`, as SAP Gateway describes it.
const NOTES_METADATA: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx"
    xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"
    xmlns:sap="http://www.sap.com/Protocols/SAPData">
  <edmx:DataServices m:DataServiceVersion="2.0">
    <Schema Namespace="ZNOTES_SRV" xml:lang="en" sap:schema-version="1"
        xmlns="http://schemas.microsoft.com/ado/2008/09/edm">
      <EntityType Name="Note" sap:content-version="1">
        <Key><PropertyRef Name="NoteId"/></Key>
        <Property Name="NoteId" Type="Edm.String" Nullable="false" MaxLength="10"/>
        <Property Name="Text" Type="Edm.String" MaxLength="80"/>
      </EntityType>
      <EntityContainer Name="ZNOTES_SRV_Entities" m:IsDefaultEntityContainer="true">
        <EntitySet Name="Notes" EntityType="ZNOTES_SRV.Note" sap:content-version="1"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"#;

/// The name of the session cookie the stand-in sets with a token.
const SESSION_COOKIE: &str = "SAP_SESSIONID_NTS_100";

/// One write the CSRF stand-in received.
#[derive(Debug, Clone)]
struct SeenWrite {
    token: Option<String>,
    cookie: Option<String>,
    status: u16,
}

/// SAP Gateway's CSRF protocol: a GET of the service root with `X-CSRF-Token: Fetch` issues a
/// token bound to a new session (`Set-Cookie`); a write is accepted only with the current token
/// and its session cookie, else answered `403` with `X-CSRF-Token: Required`. The test can end
/// the session (as SAP does after inactivity) to expire the token.
#[derive(Debug, Clone, Default)]
struct CsrfService {
    fetches: Arc<AtomicUsize>,
    /// The current token and the session it belongs to.
    current: Arc<Mutex<Option<(String, String)>>>,
    writes: Arc<Mutex<Vec<SeenWrite>>>,
}

async fn notes_root(State(service): State<CsrfService>, headers: HeaderMap) -> Response {
    let fetch = headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("fetch"));
    let body = json!({"d": {"EntitySets": ["Notes"]}}).to_string();
    if !fetch {
        return ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    let number = service.fetches.fetch_add(1, Ordering::SeqCst) + 1;
    let (token, session) = (format!("token-{number}"), format!("session-{number}"));
    *service.current.lock().expect("lock") = Some((token.clone(), session.clone()));
    let mut response = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
    let headers = response.headers_mut();
    headers.insert("x-csrf-token", token.parse().expect("a header value"));
    headers.append(
        header::SET_COOKIE,
        format!("{SESSION_COOKIE}={session}; path=/; HttpOnly")
            .parse()
            .expect("a header value"),
    );
    headers.append(
        header::SET_COOKIE,
        "sap-usercontext=sap-client=100; path=/"
            .parse()
            .expect("a header value"),
    );
    response
}

async fn notes_create(
    State(service): State<CsrfService>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let text = |name: header::HeaderName| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let token = text(header::HeaderName::from_static("x-csrf-token"));
    let cookie = text(header::COOKIE);
    let valid = service
        .current
        .lock()
        .expect("lock")
        .as_ref()
        .is_some_and(|(current, session)| {
            token.as_deref() == Some(current.as_str())
                && cookie.as_deref().is_some_and(|cookie| {
                    cookie
                        .split(';')
                        .any(|pair| pair.trim() == format!("{SESSION_COOKIE}={session}"))
                })
        });
    let response = if valid {
        let mut entity: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        entity["__metadata"] = json!({"type": "ZNOTES_SRV.Note"});
        (
            StatusCode::CREATED,
            [(header::CONTENT_TYPE, "application/json")],
            json!({ "d": entity }).to_string(),
        )
            .into_response()
    } else {
        (
            StatusCode::FORBIDDEN,
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::HeaderName::from_static("x-csrf-token"), "Required"),
            ],
            json!({"error": {"code": "/IWFND/CM_COS/055",
                             "message": {"lang": "en", "value": "CSRF token validation failed"}}})
            .to_string(),
        )
            .into_response()
    };
    service.writes.lock().expect("lock").push(SeenWrite {
        token,
        cookie,
        status: response.status().as_u16(),
    });
    response
}

#[tokio::test]
async fn an_expired_csrf_token_is_fetched_again_once_and_the_write_retried() -> anyhow::Result<()> {
    let service = CsrfService::default();
    let router = Router::new()
        .route(
            "/sap/opu/odata/sap/ZNOTES_SRV/$metadata",
            get(|| async { ([(header::CONTENT_TYPE, "application/xml")], NOTES_METADATA) }),
        )
        .route("/sap/opu/odata/sap/ZNOTES_SRV/", get(notes_root))
        .route("/sap/opu/odata/sap/ZNOTES_SRV/Notes", post(notes_create))
        .with_state(service.clone());
    let (url, server) = serve(router).await?;
    let env = GraphEnv::start(
        "graph-limits-csrf",
        GraphOptions {
            extra_destinations: vec![json!({
                "Name": "NOTES", "Type": "HTTP", "URL": url, "ProxyType": "Internet",
                "Authentication": "NoAuthentication"
            })],
            extra_sources: "\n[[graph.data_sources]]\nname = \"notes\"\nservices = [{ destination = \"NOTES\", path = \"/sap/opu/odata/sap/ZNOTES_SRV\" }]\n".to_owned(),
            ..GraphOptions::default()
        },
    )
    .await?;
    let create = |id: &str| {
        format!(
            r#"mutation {{ notes {{ Notes_create(input: {{NoteId: "{id}", Text: "note {id}"}}) {{ NoteId Text }} }} }}"#
        )
    };

    // The first write fetches a token and uses it.
    let data = env.data(ALICE, &create("N1")).await?;
    assert_eq!(
        data,
        json!({"notes": {"Notes_create": {"NoteId": "N1", "Text": "note N1"}}})
    );
    assert_eq!(service.fetches.load(Ordering::SeqCst), 1);

    // The session ends on the backend: the cached token is refused, a new one is fetched once,
    // and the write is sent again with it and its session cookie.
    *service.current.lock().expect("lock") = None;
    let data = env.data(ALICE, &create("N2")).await?;
    assert_eq!(
        data,
        json!({"notes": {"Notes_create": {"NoteId": "N2", "Text": "note N2"}}})
    );
    assert_eq!(
        service.fetches.load(Ordering::SeqCst),
        2,
        "exactly one refetch"
    );
    let writes = service.writes.lock().expect("lock").clone();
    let seen: Vec<(Option<&str>, u16)> = writes
        .iter()
        .map(|write| (write.token.as_deref(), write.status))
        .collect();
    assert_eq!(
        seen,
        [
            (Some("token-1"), 201),
            (Some("token-1"), 403),
            (Some("token-2"), 201)
        ],
        "{writes:#?}"
    );
    let retried = writes[2].cookie.as_deref().unwrap_or_default();
    assert!(
        retried.contains(&format!("{SESSION_COOKIE}=session-2")) && !retried.contains("session-1"),
        "the retry carries the new session: {writes:#?}"
    );
    drop(server);
    Ok(())
}
