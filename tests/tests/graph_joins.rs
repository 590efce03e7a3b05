//! Cross-source associations of the composed graph against the real CAP backends: opportunities
//! (CRM, OData v4) to their business partner (S/4) and partners to their opportunities, with the
//! same data as the backends give directly, exactly one request per backend per level (counted
//! in each backend's own request log), per-parent paging and counts, joins split below the URL
//! limit without losing a row, and the whole graph reached through a real HTTP proxy (tinyproxy)
//! as `OnPremise` destinations.
//!
//! Needs `npm ci --prefix tests/backends` (see tests/backends/README.md) and tinyproxy.

use std::collections::HashMap;

use bizgraph_tests::cap::{ALICE, LoggedRequest};
use bizgraph_tests::graph_env::{GraphEnv, GraphOptions, Protocol, assert_same_data, cap_rows};
use bizgraph_tests::tinyproxy::{Tinyproxy, TinyproxyOptions};
use serde_json::{Map, Value, json};

/// A hundred of alice's 120 opportunities, each with its partner from S/4 and the partner's
/// sales orders.
const OPPORTUNITIES_WITH_PARTNERS: &str = r#"{ crm { Opportunities(top: 100, orderBy: {ID: asc}) {
    totalCount
    nodes {
        ID title amount closeDate accountBpId
        partner {
            BusinessPartner BusinessPartnerFullName region
            to_SalesOrder { totalCount nodes { SalesOrder TotalNetAmount CreationDate } }
        }
    } } } }"#;

/// Alice's partners from S/4 by id, with their sales orders, as CAP's v4 path gives them.
async fn partners_by_id(env: &GraphEnv) -> anyhow::Result<HashMap<String, Map<String, Value>>> {
    let partners = env
        .s4
        .get_json(
            "/odata/v4/sales/A_BusinessPartner?$expand=to_SalesOrder($count=true)",
            ALICE,
        )
        .await?;
    let mut by_id = HashMap::new();
    for partner in partners["value"].as_array().into_iter().flatten() {
        let Some(partner) = partner.as_object() else {
            continue;
        };
        let id = partner["BusinessPartner"]
            .as_str()
            .expect("partners have string ids")
            .to_owned();
        by_id.insert(id, partner.clone());
    }
    Ok(by_id)
}

/// What [`OPPORTUNITIES_WITH_PARTNERS`] must answer, joined by the test from direct reads.
async fn expected_opportunities(env: &GraphEnv) -> anyhow::Result<Value> {
    let opportunities = env
        .crm
        .get_json(
            "/odata/v4/crm/Opportunities?$top=100&$orderby=ID&$count=true",
            ALICE,
        )
        .await?;
    let partners = partners_by_id(env).await?;
    let nodes: Vec<Value> = cap_rows(&opportunities)
        .into_iter()
        .map(|mut opportunity| {
            let partner = opportunity["accountBpId"]
                .as_str()
                .and_then(|id| partners.get(id))
                .map_or(Value::Null, |p| Value::Object(p.clone()));
            opportunity.insert("partner".to_owned(), partner);
            Value::Object(opportunity)
        })
        .collect();
    Ok(json!({"totalCount": opportunities["@odata.count"], "nodes": nodes}))
}

/// Requests of a log that went to `set` (the path after the service root starts with it).
fn to_set<'a>(log: &'a [LoggedRequest], set: &str) -> Vec<&'a LoggedRequest> {
    log.iter()
        .filter(|request| {
            request
                .url
                .split('/')
                .nth(4)
                .is_some_and(|rest| rest.starts_with(set))
        })
        .collect()
}

#[tokio::test]
async fn a_hundred_opportunities_with_partners_and_their_orders_take_one_request_per_backend()
-> anyhow::Result<()> {
    let mut env = GraphEnv::start("graph-joins-count", GraphOptions::default()).await?;
    let expected = expected_opportunities(&env).await?;
    assert_eq!(expected["nodes"].as_array().map(Vec::len), Some(100));
    assert_eq!(expected["totalCount"], 120);

    for protocol in [Protocol::V2, Protocol::V4] {
        env.restart_gateway(GraphOptions {
            s4_namespaces: vec![("sap.s4".to_owned(), protocol)],
            ..GraphOptions::default()
        })
        .await?;
        env.clear_requests().await?;
        let data = env.data(ALICE, OPPORTUNITIES_WITH_PARTNERS).await?;
        let (s4, crm) = env.requests().await?;

        let opportunities = &data["crm"]["Opportunities"];
        assert_same_data(opportunities, &expected, &format!("S/4 over {protocol:?}"));
        let nodes = opportunities["nodes"].as_array().expect("a node list");
        assert_eq!(nodes.len(), 100);
        assert!(
            nodes
                .iter()
                .all(|node| node["partner"]["to_SalesOrder"]["totalCount"] == 3),
            "every partner of alice has three orders"
        );

        // Level 1: the opportunities, one CRM request. Level 2: the partners of all hundred
        // with their orders inline, one S/4 request.
        assert_eq!(crm.len(), 1, "{crm:#?}");
        assert_eq!(s4.len(), 1, "S/4 over {protocol:?}: {s4:#?}");
        assert!(crm[0].url.starts_with("/odata/v4/crm/Opportunities?"));
        assert_eq!(to_set(&s4, "A_BusinessPartner").len(), 1, "{s4:#?}");
        assert!(s4[0].url.contains("$expand=to_SalesOrder"), "{s4:#?}");
        assert_eq!(s4[0].user.as_deref(), Some("alice"));
        assert_eq!(crm[0].user.as_deref(), Some("alice"));
        eprintln!(
            "100 opportunities with partners and orders, S/4 over {protocol:?}: crm {} request(s), s4 {} request(s)\n  {}\n  {}",
            crm.len(),
            s4.len(),
            crm[0].url,
            s4[0].url
        );
    }

    // One level more: back from each partner to the CRM. Still one request per backend and
    // level: the opportunities, their partners, the partners' opportunities.
    env.clear_requests().await?;
    let data = env
        .data(
            ALICE,
            r#"{ crm { Opportunities(top: 100, orderBy: {ID: asc}) { nodes { ID accountBpId
                partner { BusinessPartner opportunities(orderBy: {ID: asc}) { totalCount nodes { ID accountBpId } } } } } } }"#,
        )
        .await?;
    let (s4, crm) = env.requests().await?;
    assert_eq!((crm.len(), s4.len()), (2, 1), "{crm:#?}\n{s4:#?}");
    let all = env
        .crm
        .get_json("/odata/v4/crm/Opportunities?$orderby=ID", ALICE)
        .await?;
    for node in data["crm"]["Opportunities"]["nodes"]
        .as_array()
        .expect("a node list")
    {
        let partner = &node["partner"];
        let expected: Vec<Value> = cap_rows(&all)
            .into_iter()
            .filter(|row| row["accountBpId"] == node["accountBpId"])
            .map(|row| json!({"ID": row["ID"], "accountBpId": row["accountBpId"]}))
            .collect();
        assert_eq!(partner["opportunities"]["nodes"], json!(expected), "{node}");
        assert_eq!(partner["opportunities"]["totalCount"], expected.len());
        assert!(expected.iter().any(|row| row["ID"] == node["ID"]), "{node}");
    }
    Ok(())
}

#[tokio::test]
async fn partners_list_their_opportunities_with_paging_and_counts_per_partner() -> anyhow::Result<()>
{
    let env = GraphEnv::start("graph-joins-reverse", GraphOptions::default()).await?;
    env.clear_requests().await?;
    let data = env
        .data(
            ALICE,
            r#"{ sap_s4 { A_BusinessPartner(orderBy: {BusinessPartner: asc}) { nodes {
                BusinessPartner
                opportunities(orderBy: [{amount: desc}, {ID: asc}], top: 2, skip: 1) {
                    totalCount nodes { ID amount stage accountBpId } }
                won: opportunities(filter: {stage: {eq: "ClosedWon"}}, orderBy: {ID: asc}) {
                    totalCount nodes { ID } }
            } } } }"#,
        )
        .await?;
    let (s4, crm) = env.requests().await?;
    // The partners, then one CRM request per join field for all twenty partners.
    assert_eq!(s4.len(), 1, "{s4:#?}");
    assert_eq!(crm.len(), 2, "{crm:#?}");

    let partners = data["sap_s4"]["A_BusinessPartner"]["nodes"]
        .as_array()
        .expect("a node list");
    assert_eq!(partners.len(), 20, "alice's partners");
    let mut won_total = 0;
    let mut all_total = 0;
    for partner in partners {
        let id = partner["BusinessPartner"].as_str().expect("an id");
        let page = env
            .crm
            .get_json(
                &format!(
                    "/odata/v4/crm/Opportunities?$filter=accountBpId eq '{id}'&$orderby=amount desc,ID&$top=2&$skip=1&$count=true"
                ),
                ALICE,
            )
            .await?;
        all_total += page["@odata.count"].as_u64().expect("a count");
        let expected = json!({"totalCount": page["@odata.count"], "nodes": page["value"]});
        assert_same_data(&partner["opportunities"], &expected, id);
        assert_eq!(
            partner["opportunities"]["nodes"].as_array().map(Vec::len),
            Some(2)
        );

        let won = env
            .crm
            .get_json(
                &format!(
                    "/odata/v4/crm/Opportunities?$filter=accountBpId eq '{id}' and stage eq 'ClosedWon'&$orderby=ID&$count=true"
                ),
                ALICE,
            )
            .await?;
        let expected = json!({"totalCount": won["@odata.count"], "nodes": won["value"]});
        assert_same_data(&partner["won"], &expected, id);
        won_total += partner["won"]["totalCount"].as_u64().unwrap_or(0);
    }
    assert_eq!(
        all_total, 120,
        "the counts cover all of alice's opportunities"
    );
    assert!(won_total > 0, "some opportunities were won");
    Ok(())
}

#[tokio::test]
async fn a_join_beyond_the_url_limit_is_split_and_keeps_every_row() -> anyhow::Result<()> {
    const MAX_URL_BYTES: usize = 300;
    let env = GraphEnv::start(
        "graph-joins-url-limit",
        GraphOptions {
            limits: vec![format!("max_url_bytes = {MAX_URL_BYTES}")],
            ..GraphOptions::default()
        },
    )
    .await?;
    let expected = expected_opportunities(&env).await?;

    env.clear_requests().await?;
    let data = env.data(ALICE, OPPORTUNITIES_WITH_PARTNERS).await?;
    let (s4, crm) = env.requests().await?;
    assert_same_data(&data["crm"]["Opportunities"], &expected, "split join");
    let nodes = data["crm"]["Opportunities"]["nodes"]
        .as_array()
        .expect("a node list");
    assert!(nodes.iter().all(|node| node["partner"].is_object()));
    assert_eq!(crm.len(), 1);
    assert!(
        s4.len() > 1,
        "twenty partner keys do not fit into {MAX_URL_BYTES} bytes: {s4:#?}"
    );
    for request in &s4 {
        let below_root = request.url.len() - "/odata/v2/sales/".len();
        assert!(below_root <= MAX_URL_BYTES, "{} is too long", request.url);
    }
    eprintln!(
        "partners of 100 opportunities below {MAX_URL_BYTES} URL bytes: {} S/4 requests",
        s4.len()
    );

    // The other direction: twenty partners' opportunities in v4 `in (...)` chunks.
    env.clear_requests().await?;
    let data = env
        .data(
            ALICE,
            r#"{ sap_s4 { A_BusinessPartner(orderBy: {BusinessPartner: asc}) { nodes {
                BusinessPartner opportunities(orderBy: {ID: asc}) { totalCount nodes { ID accountBpId } } } } } }"#,
        )
        .await?;
    let (s4, crm) = env.requests().await?;
    assert_eq!(s4.len(), 1);
    assert!(crm.len() > 1, "{crm:#?}");
    for request in &crm {
        let below_root = request.url.len() - "/odata/v4/crm/".len();
        assert!(below_root <= MAX_URL_BYTES, "{} is too long", request.url);
    }
    let partners = data["sap_s4"]["A_BusinessPartner"]["nodes"]
        .as_array()
        .expect("a node list");
    let mut seen = 0;
    for partner in partners {
        let opportunities = &partner["opportunities"];
        let nodes = opportunities["nodes"].as_array().map_or(0, Vec::len);
        assert_eq!(opportunities["totalCount"], nodes, "{partner}");
        for node in opportunities["nodes"].as_array().into_iter().flatten() {
            assert_eq!(node["accountBpId"], partner["BusinessPartner"]);
            seen += 1;
        }
    }
    assert_eq!(seen, 120, "every one of alice's opportunities, once");
    Ok(())
}

#[tokio::test]
async fn the_graph_reaches_cap_through_tinyproxy_as_on_premise_destinations() -> anyhow::Result<()>
{
    let proxy = Tinyproxy::start(TinyproxyOptions::default().basic_auth("proxyuser", "proxy-pw"))?;
    let proxy_url = proxy
        .url()
        .replacen("http://", "http://proxyuser:proxy-pw@", 1);
    let env = GraphEnv::start(
        "graph-joins-proxy",
        GraphOptions {
            proxy: Some(proxy_url),
            ..GraphOptions::default()
        },
    )
    .await?;
    let (status, ready) = env.get("readyz", ALICE).await?;
    assert_eq!(status, 200, "{ready:#}");

    env.clear_requests().await?;
    let data = env
        .data(
            ALICE,
            r#"{ crm { Opportunities(top: 3, orderBy: {ID: asc}) { nodes {
                ID partner { BusinessPartner BusinessPartnerFullName } } } } }"#,
        )
        .await?;
    assert_eq!(
        data,
        json!({"crm": {"Opportunities": {"nodes": [
            {"ID": 1, "partner": {"BusinessPartner": "1000001", "BusinessPartnerFullName": "O'Neil & Sons"}},
            {"ID": 3, "partner": {"BusinessPartner": "1000003", "BusinessPartnerFullName": "Acme Corporation"}},
            {"ID": 5, "partner": {"BusinessPartner": "1000005", "BusinessPartnerFullName": "Initech LLC"}}
        ]}}})
    );
    let (s4, crm) = env.requests().await?;
    assert_eq!((s4.len(), crm.len()), (1, 1));
    assert_eq!(
        s4[0].user.as_deref(),
        Some("alice"),
        "the caller's own credentials"
    );

    // Both backends and their $metadata were reached through the proxy.
    let log = proxy.log();
    for port in [env.s4.port(), env.crm.port()] {
        assert!(
            log.contains(&format!("127.0.0.1:{port}/")),
            "no request to port {port} in the proxy's log:\n{log}"
        );
    }
    assert!(log.contains("$metadata"), "{log}");
    Ok(())
}
