//! The explorer's model document and its GraphQL-to-OData translation, on the demo's two
//! services composed as `bizgraph demo` composes them, and on Microsoft Graph's `$metadata`.

use std::sync::Arc;
use std::time::SystemTime;

use bizgraph_schema::compose::{CrossAssociation, compose};
use bizgraph_schema::graphql::{SchemaOptions, build};
use bizgraph_schema::model::{EntityKind, Graph};
use bizgraph_schema::odata_url::parse_request;
use bizgraph_schema::plan::{PlanLimits, plan};
use bizgraph_schema::query::{Read, Selection, Target};
use bizgraph_schema::{ServiceInput, SourceInput};
use serde_json::{Value, json};

use super::NameTable;
use super::model::{entity_names, model_json};
use super::plan::{explain, gateway_url, plan_requests, root_reads};
use crate::graph::{Generation, ServiceState, SourceHealth, SourceState};

const S4_PATH: &str = "/sap/opu/odata/sap/API_SALES_ORDER_SRV";
const CRM_PATH: &str = "/odata/v4/crm";

fn association(
    from: &str,
    property: &str,
    to: &str,
    key: &str,
    name: &str,
    many: bool,
) -> CrossAssociation {
    CrossAssociation {
        from: from.to_owned(),
        to: to.to_owned(),
        pairs: vec![(property.to_owned(), key.to_owned())],
        name: name.to_owned(),
        many,
    }
}

/// The demo graph (the embedded S/4 v2 and CRM v4 documents, the demo's associations), with a
/// third data source whose only service failed to load.
fn demo_generation() -> Generation {
    let s4 = bizgraph_metadata::parse(include_bytes!("../demo/s4_v2.edmx")).expect("S/4 parses");
    let crm = bizgraph_metadata::parse(include_bytes!("../demo/crm_v4.xml")).expect("CRM parses");
    let sources = [
        SourceInput {
            name: "sap.s4",
            services: vec![ServiceInput {
                destination: "S4",
                path: S4_PATH,
                metadata: &s4.metadata,
            }],
        },
        SourceInput {
            name: "crm",
            services: vec![ServiceInput {
                destination: "CRM",
                path: CRM_PATH,
                metadata: &crm.metadata,
            }],
        },
    ];
    let associations = [
        association(
            "crm.Opportunities",
            "accountBpId",
            "sap.s4.A_BusinessPartner",
            "BusinessPartner",
            "partner",
            false,
        ),
        association(
            "sap.s4.A_BusinessPartner",
            "BusinessPartner",
            "crm.Opportunities",
            "accountBpId",
            "opportunities",
            true,
        ),
    ];
    let composition = compose(&sources, &associations);
    let service = |destination: &str, path: &str, error: Option<&str>| ServiceState {
        destination: destination.to_owned(),
        path: path.to_owned(),
        url: None,
        ok: error.is_none(),
        version: error.is_none().then(|| "4.0".to_owned()),
        error: error.map(str::to_owned),
        entity_sets: 0,
        metadata_errors: 0,
    };
    let states = vec![
        SourceState {
            name: "sap.s4".to_owned(),
            state: SourceHealth::Ready,
            services: vec![service("S4", S4_PATH, None)],
        },
        SourceState {
            name: "hr".to_owned(),
            state: SourceHealth::Failed,
            services: vec![service("HR", "/odata/v4/hr", Some("connection refused"))],
        },
        SourceState {
            name: "crm".to_owned(),
            state: SourceHealth::Ready,
            services: vec![service("CRM", CRM_PATH, None)],
        },
    ];
    generation(composition.graph, states)
}

fn generation(graph: Graph, sources: Vec<SourceState>) -> Generation {
    let graph = Arc::new(graph);
    let options = SchemaOptions::default();
    Generation {
        schema: build(graph.clone(), options).expect("the schema builds"),
        graph,
        sources,
        findings: Vec::new(),
        loaded_at: SystemTime::now(),
        limits: options.plan,
        loaded: true,
    }
}

fn entity_named<'a>(model: &'a Value, namespace: &str, name: &str) -> &'a Value {
    let namespaces = model["namespaces"].as_array().expect("namespaces");
    let ns = namespaces
        .iter()
        .find(|n| n["name"] == namespace)
        .unwrap_or_else(|| panic!("namespace {namespace}"));
    ns["entities"]
        .as_array()
        .expect("entity ids")
        .iter()
        .map(|id| &model["entities"][id.as_u64().expect("an id") as usize])
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("entity {namespace}/{name}"))
}

#[test]
fn the_model_lists_sources_with_their_state_and_entities_with_their_fields_and_relations() {
    let generation = demo_generation();
    let model = model_json(&generation);
    let namespaces: Vec<(&str, &str)> = model["namespaces"]
        .as_array()
        .expect("namespaces")
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap_or(""),
                n["state"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        namespaces,
        [("sap.s4", "ready"), ("hr", "failed"), ("crm", "ready")],
        "configuration order, the failed source in its place"
    );
    let hr = &model["namespaces"][1];
    assert_eq!(hr["id"], Value::Null, "not in the graph");
    assert_eq!(hr["sources"][0]["error"], "connection refused");
    assert_eq!(hr["sources"][0]["state"], "failed");
    assert_eq!(model["namespaces"][0]["sources"][0]["dialect"], "v2");
    assert_eq!(model["namespaces"][2]["sources"][0]["dialect"], "v4");
    assert_eq!(
        model["entities"].as_array().expect("entities").len(),
        generation.graph.entities.len()
    );

    let partner = entity_named(&model, "sap.s4", "A_BusinessPartner");
    assert_eq!(partner["label"], "Business Partner");
    assert_eq!(partner["kind"], "set");
    assert_eq!(partner["keys"], json!(["BusinessPartner"]));
    assert_eq!(partner["gqlField"], "A_BusinessPartner");
    assert_eq!(partner["gqlType"], "sap_s4_A_BusinessPartner");
    let category = &partner["properties"][2];
    assert_eq!(category["name"], "BusinessPartnerCategory");
    assert_eq!(category["label"], "BP Category");
    assert_eq!(
        category["description"],
        "Business Partner Category: 1 person, 2 organization"
    );
    assert_eq!(category["type"], "Edm.String");
    assert_eq!(category["maxLength"], 1);
    assert_eq!(category["filterable"], true);
    assert_eq!(partner["properties"][0]["key"], true);

    let product = entity_named(&model, "sap.s4", "A_Product");
    let price = product["properties"]
        .as_array()
        .expect("properties")
        .iter()
        .find(|p| p["name"] == "Price")
        .expect("Price");
    assert_eq!(price["unit"], "Currency");
    assert_eq!(
        price["unitKind"], "currency",
        "Currency is sap:semantics currency-code"
    );
    assert_eq!(price["type"], "Edm.Decimal");
    assert_eq!(price["gqlType"], "Decimal");
    let weight = product["properties"]
        .as_array()
        .expect("properties")
        .iter()
        .find(|p| p["name"] == "NetWeight")
        .expect("NetWeight");
    assert_eq!(weight.get("filterable"), None, "sap:filterable=false");
    assert_eq!(weight["sortable"], true);

    let opportunities = entity_named(&model, "crm", "Opportunities");
    let stage = &opportunities["properties"]
        .as_array()
        .expect("properties")
        .iter()
        .find(|p| p["name"] == "stage")
        .expect("stage")
        .clone();
    assert_eq!(stage["type"], "CrmService.OpportunityStage");
    assert_eq!(stage["members"][3], "Negotiation");
    let relation = opportunities["relations"]
        .as_array()
        .expect("relations")
        .iter()
        .find(|r| r["name"] == "partner")
        .expect("partner");
    assert_eq!(relation["cross"], true);
    assert_eq!(relation["many"], false);
    assert_eq!(relation["on"], json!([["accountBpId", "BusinessPartner"]]));
    let target = &model["entities"][relation["target"].as_u64().expect("id") as usize];
    assert_eq!(target["name"], "A_BusinessPartner");
    let account = opportunities["relations"]
        .as_array()
        .expect("relations")
        .iter()
        .find(|r| r["name"] == "account")
        .expect("account");
    assert_eq!(
        account.get("cross"),
        None,
        "a navigation of the same service"
    );
}

/// Percent-decodes a URL for readable expectations.
fn decoded(url: &str) -> String {
    let bytes = url.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && index + 2 < bytes.len()
            && let Ok(byte) = u8::from_str_radix(&url[index + 1..index + 3], 16)
        {
            out.push(byte);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8(out).expect("UTF-8")
}

/// The one read of `query` and its gateway URL, decoded.
fn only_read(generation: &Generation, query: &str, variables: Value) -> (Read, String) {
    let reads = reads_of(generation, query, variables);
    assert_eq!(reads.len(), 1, "{query}");
    let names = NameTable::new(&generation.graph);
    let url = gateway_url(&generation.graph, &names, &reads[0].1).expect("a URL");
    (reads[0].1.clone(), url)
}

/// The root reads the schema's resolvers build for `query`, with their response paths.
fn reads_of(generation: &Generation, query: &str, variables: Value) -> Vec<(String, Read)> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(root_reads(generation, query, variables))
}

/// Queries and the gateway URLs (decoded) that read the same.
fn cases() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        (
            "{ crm { Opportunities(top: 2, orderBy: [{amount: desc}], filter: {stage: {eq: Negotiation}}) { totalCount nodes { title amount partner { BusinessPartnerFullName } } } } }",
            Value::Null,
            "odata/v4/crm/Opportunities?$select=title,amount&$expand=partner($select=BusinessPartnerFullName)&$filter=stage eq crm.OpportunityStage'Negotiation'&$orderby=amount desc&$top=2&$count=true",
        ),
        (
            "{ sap_s4 { A_SalesOrder(filter: {TotalNetAmount: {gt: \"100.50\"}, CreationDate: {ge: \"2024-01-01\"}}, skip: 5) { nodes { SalesOrder to_Item(top: 2, orderBy: {SalesOrderItem: asc}) { totalCount nodes { Material NetAmount } } } } } }",
            Value::Null,
            "odata/v4/sap.s4/A_SalesOrder?$select=SalesOrder&$expand=to_Item($select=Material,NetAmount;$orderby=SalesOrderItem asc;$top=2;$count=true)&$filter=(TotalNetAmount gt 100.50 and CreationDate ge 2024-01-01)&$skip=5",
        ),
        (
            "{ sap_s4 { A_SalesOrder(filter: [{SalesOrder: {in: [\"5000001\", \"5000002\"]}}, {SoldToParty: {startswith: \"101\"}}, {to_SoldToParty: {Region: {eq: \"O'Neil\"}}}]) { nodes { SalesOrder } } } }",
            Value::Null,
            "odata/v4/sap.s4/A_SalesOrder?$select=SalesOrder&$filter=(SalesOrder in ('5000001','5000002') or startswith(SoldToParty,'101') or to_SoldToParty/Region eq 'O''Neil')",
        ),
        (
            "{ sap_s4 { A_SalesOrderItemByKey(SalesOrder: \"5000001\", SalesOrderItem: \"10\") { Material to_SalesOrder { SalesOrder } } } }",
            Value::Null,
            "odata/v4/sap.s4/A_SalesOrderItem(SalesOrder='5000001',SalesOrderItem='10')?$select=Material&$expand=to_SalesOrder($select=SalesOrder)",
        ),
        (
            "{ sap_s4 { A_SalesOrder(filter: {Region: {eq: \"EU\"}}) { totalCount } } }",
            Value::Null,
            "odata/v4/sap.s4/A_SalesOrder?$select=SalesOrder&$filter=Region eq 'EU'&$top=0&$count=true",
        ),
        (
            "query Q($top: Int = 3, $region: String, $items: Boolean!) { sap_s4 { orders: A_SalesOrder(top: $top, filter: {Region: {eq: $region}}) { nodes { ...F to_Item @include(if: $items) { nodes { Material } } } } } } fragment F on sap_s4_A_SalesOrder { SalesOrder ... on sap_s4_A_SalesOrder { TotalNetAmount } }",
            json!({"region": "US", "items": false}),
            "odata/v4/sap.s4/A_SalesOrder?$select=SalesOrder,TotalNetAmount&$filter=Region eq 'US'&$top=3",
        ),
        (
            "{ sap_s4 { A_BusinessPartner(search: \"Müller & \\\"Sons\\\"\", top: 1) { nodes { BusinessPartner opportunities(filter: {amount: {ge: \"1000\"}}) { nodes { title } } } } } }",
            Value::Null,
            "odata/v4/sap.s4/A_BusinessPartner?$select=BusinessPartner&$expand=opportunities($select=title;$filter=amount ge 1000)&$top=1&$search=\"Müller & \\\"Sons\\\"\"",
        ),
    ]
}

#[test]
fn graphql_queries_become_the_gateway_urls_that_read_the_same() {
    let generation = demo_generation();
    for (query, variables, expected) in cases() {
        let (_, url) = only_read(&generation, query, variables);
        assert_eq!(decoded(&url), expected, "{query}");
        assert!(!url.contains(' ') && !url.contains('"'), "encoded: {url}");
    }
}

/// The proof that the URL says the same: the gateway's own OData front end reads it back into a
/// read that plans into exactly the backend requests the GraphQL query plans into.
#[test]
fn the_odata_endpoint_plans_the_gateway_url_like_the_graphql_query() {
    let generation = demo_generation();
    let graph = &generation.graph;
    let limits = PlanLimits::default();
    for (query, variables, _) in cases() {
        let (read, url) = only_read(&generation, query, variables);
        let rest = url
            .strip_prefix("odata/v4/")
            .expect("the endpoint's prefix");
        let (namespace, rest) = rest.split_once('/').expect("a namespace");
        let namespace = graph
            .namespace(&decoded(namespace))
            .expect("a namespace of the graph");
        let (path, options) = rest.split_once('?').unwrap_or((rest, ""));
        let parsed = parse_request(graph, namespace, path, options, &limits)
            .unwrap_or_else(|error| panic!("{url}: {error}"));
        let from_graphql = plan(graph, &read, &limits).expect("plans");
        let from_odata = plan(graph, &parsed.read, &limits).expect("plans");
        let urls = |planned| {
            plan_requests(graph, planned)
                .into_iter()
                .map(|request| request.url)
                .collect::<Vec<_>>()
        };
        assert_eq!(urls(&from_odata), urls(&from_graphql), "{query}\n{url}");
    }
}

#[test]
fn reads_are_read_as_the_graphql_schema_reads_them() {
    // Each query's one root read, as the schema's own resolvers built it, is shown with its
    // backend requests and the equivalent OData URL, and with no note.
    let generation = demo_generation();
    let names = NameTable::new(&generation.graph);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    for (query, variables, expected) in cases() {
        let explanation = runtime.block_on(explain(&generation, &names, query, variables, None));
        assert!(
            explanation.errors.is_empty(),
            "{query}: {:?}",
            explanation.errors
        );
        assert_eq!(explanation.reads.len(), 1, "{query}");
        let read = &explanation.reads[0];
        assert_eq!(read.note, None, "{query}");
        assert_eq!(
            read.odata.as_deref().map(decoded).as_deref(),
            Some(expected)
        );
    }
}

#[test]
fn explain_shows_each_backend_request_the_planner_makes() {
    let generation = demo_generation();
    let names = NameTable::new(&generation.graph);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let query = "{ crm { Opportunities(top: 3) { nodes { title partner { BusinessPartnerFullName to_SalesOrder { nodes { SalesOrder } } } } } } sap_s4 { A_Product(top: 1) { nodes { Product } } } }";
    let explanation = runtime.block_on(explain(&generation, &names, query, Value::Null, None));
    assert!(explanation.errors.is_empty(), "{:?}", explanation.errors);
    let paths: Vec<_> = explanation
        .reads
        .iter()
        .map(|r| r.path.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        paths,
        ["crm.Opportunities", "sap_s4.A_Product"],
        "document order"
    );
    let opportunities = &explanation.reads[0];
    let requests: Vec<(&str, &str, usize, Option<&str>, String)> = opportunities
        .requests
        .iter()
        .map(|r| {
            (
                r.destination.as_str(),
                r.dialect,
                r.depth,
                r.join.as_deref(),
                decoded(&r.url),
            )
        })
        .collect();
    assert_eq!(
        requests,
        [
            (
                "CRM",
                "v4",
                0,
                None,
                "/odata/v4/crm/Opportunities?$select=ID,title,accountBpId&$top=3".to_owned()
            ),
            (
                "S4",
                "v2",
                1,
                Some("partner"),
                format!(
                    "{S4_PATH}/A_BusinessPartner?$select=BusinessPartner,BusinessPartnerFullName,to_SalesOrder/SalesOrder&$expand=to_SalesOrder&$filter=(BusinessPartner eq <parent key> or ...)"
                ),
            ),
        ],
        "the first request as sent, the join as `bizgraph plan` prints it"
    );
    // The backend request is the one the executor sends: its service path and the fetch's URL.
    let reads = reads_of(&generation, query, Value::Null);
    assert_eq!(reads[0].0, "crm.Opportunities", "the response path");
    let planned = plan(&generation.graph, &reads[0].1, &generation.limits).expect("plans");
    assert_eq!(
        opportunities.requests[0].url,
        format!("{CRM_PATH}/{}", planned.fetch.url(&generation.graph))
    );
    assert_eq!(
        opportunities.odata.as_deref().map(decoded).as_deref(),
        Some(
            "odata/v4/crm/Opportunities?$select=title&$expand=partner($select=BusinessPartnerFullName;$expand=to_SalesOrder($select=SalesOrder))&$top=3"
        )
    );
}

#[test]
fn explain_names_what_is_wrong_with_a_query() {
    let generation = demo_generation();
    let names = NameTable::new(&generation.graph);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let unknown = runtime.block_on(explain(
        &generation,
        &names,
        "{ crm { Opportunities { nodes { nosuchfield } } } }",
        Value::Null,
        None,
    ));
    assert!(unknown.reads.is_empty());
    assert!(
        unknown.errors.iter().any(|e| e.contains("nosuchfield")),
        "{:?}",
        unknown.errors
    );
    let syntax = runtime.block_on(explain(&generation, &names, "{ crm {", Value::Null, None));
    assert!(syntax.reads.is_empty() && !syntax.errors.is_empty());
    let limit = runtime.block_on(explain(
        &generation,
        &names,
        "{ crm { Opportunities(top: 5000) { nodes { ID } } } }",
        Value::Null,
        None,
    ));
    assert!(
        limit.errors.iter().any(|e| e.contains("above the limit")),
        "{:?}",
        limit.errors
    );
    // A root field the planner refuses is shown with the reason and no requests; the other
    // root fields of the query are still explained, in document order.
    let mixed = runtime.block_on(explain(
        &generation,
        &names,
        "{ sap_s4 { A_Product(top: 1) { nodes { Product } } } crm { Opportunities(top: 5000) { nodes { ID } } } }",
        Value::Null,
        None,
    ));
    let shown: Vec<_> = mixed
        .reads
        .iter()
        .map(|r| {
            (
                r.path.as_deref().unwrap_or_default(),
                r.requests.len(),
                r.note
                    .as_deref()
                    .is_some_and(|n| n.contains("above the limit")),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("sap_s4.A_Product", 1, false),
            ("crm.Opportunities", 0, true)
        ],
        "{mixed:?}"
    );
    // Mutations are explained by what they would send, never sent.
    let mutation = runtime.block_on(explain(
        &generation,
        &names,
        "mutation { sap_s4 { A_SalesOrder_delete(SalesOrder: \"5000001\") } }",
        Value::Null,
        None,
    ));
    assert_eq!(mutation.reads.len(), 1, "{mutation:?}");
    assert_eq!(mutation.reads[0].requests[0].method, "DELETE");
    assert_eq!(
        decoded(&mutation.reads[0].requests[0].url),
        format!("{S4_PATH}/A_SalesOrder('5000001')")
    );
}

/// The fixture folder (`BIZGRAPH_FIXTURES`, else `../shared/fixtures/odata`).
fn fixture(name: &str) -> Option<Vec<u8>> {
    let dir = match std::env::var_os("BIZGRAPH_FIXTURES") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/odata")
        }
    };
    std::fs::read(dir.join(name)).ok()
}

#[test]
fn a_large_graph_gives_every_entity_a_unique_name_and_singletons_their_own_url() {
    let bytes = fixture("MicrosoftGraph_v1.0.v4.csdl.xml").expect("the Microsoft Graph fixture");
    let parsed = bizgraph_metadata::parse(&bytes).expect("parses");
    let sources = [SourceInput {
        name: "msgraph",
        services: vec![ServiceInput {
            destination: "MSGRAPH",
            path: "/v1.0",
            metadata: &parsed.metadata,
        }],
    }];
    let composition = compose(&sources, &[]);
    let graph = &composition.graph;
    let names = entity_names(graph);
    let mut seen = std::collections::HashSet::new();
    for name in &names {
        assert!(!name.is_empty());
        assert!(seen.insert(name.as_str()), "{name} twice");
    }
    let generation = generation(composition.graph.clone(), Vec::new());
    let model = model_json(&generation);
    assert_eq!(
        model["entities"].as_array().expect("entities").len(),
        graph.entities.len()
    );
    assert_eq!(model["namespaces"][0]["state"], "ready");
    // Bound operations are listed with the entity they are bound to, and point back to it.
    let mut bound = 0;
    for (id, entity) in model["entities"]
        .as_array()
        .expect("entities")
        .iter()
        .enumerate()
    {
        for operation in entity["operations"].as_array().into_iter().flatten() {
            let operation = &model["operations"][operation.as_u64().expect("an index") as usize];
            assert_eq!(operation["bound"]["entity"], id, "{operation}");
            bound += 1;
        }
    }
    let declared = graph
        .operations
        .iter()
        .filter(|o| o.binding.is_some())
        .count();
    assert!(
        declared > 0,
        "Microsoft Graph binds operations to its entities"
    );
    assert_eq!(
        bound, declared,
        "every bound operation is listed at its entity"
    );
    let table = NameTable::new(graph);
    let kinds: Vec<EntityKind> = graph.entities.iter().map(|e| e.kind).collect();
    if let Some(singleton) = (0..kinds.len())
        .find(|&id| kinds[id] == EntityKind::Singleton && !graph.entities[id].fields.is_empty())
    {
        let entity = &graph.entities[singleton];
        let read = Read {
            entity: singleton,
            target: Target::Key(Vec::new()),
            selection: Selection {
                fields: vec![0],
                ..Selection::default()
            },
        };
        let url = gateway_url(graph, &table, &read).expect("a URL");
        assert_eq!(
            decoded(&url),
            format!(
                "odata/v4/msgraph/{}?$select={}",
                entity.set_name, entity.fields[0].name
            )
        );
    }
    if let Some(contained) = kinds.iter().position(|&k| k == EntityKind::Contained) {
        let read = Read {
            entity: contained,
            target: Target::Key(Vec::new()),
            selection: Selection::default(),
        };
        assert!(
            gateway_url(graph, &table, &read).is_err(),
            "no URL of its own"
        );
    }
}
