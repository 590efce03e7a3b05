//! GraphQL queries compile into the expected OData requests, without a network: a recording
//! executor captures each plan, and the tests compare the URLs it would send.

mod common;

use std::sync::{Arc, Mutex};

use bizgraph_schema::call::{Call, CallMethod};
use bizgraph_schema::execute::{BoxFuture, ExecError, Execute, Write};
use bizgraph_schema::graphql::{Executor, SchemaOptions, build};
use bizgraph_schema::model::Graph;
use bizgraph_schema::plan::{Plan, PlanLimits};
use serde_json::{Value, json};

const V2: &str = r#"<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" xmlns:sap="http://www.sap.com/Protocols/SAPData">
<edmx:DataServices m:DataServiceVersion="2.0">
<Schema Namespace="S4" xmlns="http://schemas.microsoft.com/ado/2008/09/edm">
 <EntityType Name="Partner"><Key><PropertyRef Name="BusinessPartner"/></Key>
  <Property Name="BusinessPartner" Type="Edm.String" Nullable="false"/>
  <Property Name="Name" Type="Edm.String"/>
  <Property Name="Internal" Type="Edm.String" sap:filterable="false" sap:sortable="false"/>
  <NavigationProperty Name="to_Order" Relationship="S4.PartnerOrder" FromRole="P" ToRole="O"/>
 </EntityType>
 <EntityType Name="Order"><Key><PropertyRef Name="SalesOrder"/></Key>
  <Property Name="SalesOrder" Type="Edm.String" Nullable="false"/>
  <Property Name="SoldToParty" Type="Edm.String"/>
  <Property Name="Amount" Type="Edm.Decimal" Precision="15" Scale="2"/>
  <Property Name="Created" Type="Edm.DateTime" sap:display-format="Date"/>
  <Property Name="Changed" Type="Edm.DateTimeOffset" ConcurrencyMode="Fixed"/>
  <Property Name="Id" Type="Edm.Guid"/>
  <Property Name="Big" Type="Edm.Int64"/>
  <NavigationProperty Name="to_Item" Relationship="S4.OrderItem" FromRole="O" ToRole="I"/>
  <NavigationProperty Name="to_Partner" Relationship="S4.PartnerOrder" FromRole="O" ToRole="P"/>
 </EntityType>
 <EntityType Name="Item"><Key><PropertyRef Name="SalesOrder"/><PropertyRef Name="SalesOrderItem"/></Key>
  <Property Name="SalesOrder" Type="Edm.String" Nullable="false"/>
  <Property Name="SalesOrderItem" Type="Edm.String" Nullable="false"/>
  <Property Name="Quantity" Type="Edm.Decimal"/>
 </EntityType>
 <Association Name="PartnerOrder"><End Role="P" Type="S4.Partner" Multiplicity="0..1"/><End Role="O" Type="S4.Order" Multiplicity="*"/>
  <ReferentialConstraint><Principal Role="P"><PropertyRef Name="BusinessPartner"/></Principal><Dependent Role="O"><PropertyRef Name="SoldToParty"/></Dependent></ReferentialConstraint></Association>
 <Association Name="OrderItem"><End Role="O" Type="S4.Order" Multiplicity="1"/><End Role="I" Type="S4.Item" Multiplicity="*"/>
  <ReferentialConstraint><Principal Role="O"><PropertyRef Name="SalesOrder"/></Principal><Dependent Role="I"><PropertyRef Name="SalesOrder"/></Dependent></ReferentialConstraint></Association>
 <EntityContainer Name="C" m:IsDefaultEntityContainer="true">
  <EntitySet Name="A_BusinessPartner" EntityType="S4.Partner" sap:searchable="true"/>
  <EntitySet Name="A_SalesOrder" EntityType="S4.Order"/>
  <EntitySet Name="A_SalesOrderItem" EntityType="S4.Item"/>
  <AssociationSet Name="PO" Association="S4.PartnerOrder"><End Role="P" EntitySet="A_BusinessPartner"/><End Role="O" EntitySet="A_SalesOrder"/></AssociationSet>
  <AssociationSet Name="OI" Association="S4.OrderItem"><End Role="O" EntitySet="A_SalesOrder"/><End Role="I" EntitySet="A_SalesOrderItem"/></AssociationSet>
  <FunctionImport Name="orderCount" ReturnType="Edm.Int32" m:HttpMethod="GET"><Parameter Name="status" Type="Edm.String" Mode="In"/></FunctionImport>
  <FunctionImport Name="release" EntitySet="A_SalesOrder" ReturnType="S4.Order" m:HttpMethod="POST"><Parameter Name="SalesOrder" Type="Edm.String" Mode="In"/></FunctionImport>
 </EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>"#;

const V4: &str = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
<edmx:DataServices><Schema Namespace="Crm" xmlns="http://docs.oasis-open.org/odata/ns/edm">
 <EnumType Name="Stage"><Member Name="Open"/><Member Name="Won"/></EnumType>
 <EntityType Name="Opportunity"><Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
  <Property Name="title" Type="Edm.String"/>
  <Property Name="accountBpId" Type="Edm.String"/>
  <Property Name="amount" Type="Edm.Decimal"/>
  <Property Name="closeDate" Type="Edm.Date"/>
  <Property Name="stage" Type="Crm.Stage"/>
  <NavigationProperty Name="notes" Type="Collection(Crm.Note)"/>
 </EntityType>
 <EntityType Name="Note"><Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Guid" Nullable="false"/>
  <Property Name="text" Type="Edm.String"/>
 </EntityType>
 <Function Name="top"><Parameter Name="min" Type="Edm.Decimal"/><Parameter Name="count" Type="Edm.Int32"/><ReturnType Type="Collection(Crm.Opportunity)"/></Function>
 <Action Name="setStage"><Parameter Name="ID" Type="Edm.Int32"/><Parameter Name="stage" Type="Crm.Stage"/><ReturnType Type="Crm.Opportunity"/></Action>
 <EntityContainer Name="C">
  <FunctionImport Name="top" Function="Crm.top" EntitySet="Opportunities"/>
  <ActionImport Name="setStage" Action="Crm.setStage" EntitySet="Opportunities"/>
  <EntitySet Name="Opportunities" EntityType="Crm.Opportunity"><NavigationPropertyBinding Path="notes" Target="Notes"/></EntitySet>
  <EntitySet Name="Notes" EntityType="Crm.Note"/>
 </EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>"#;

#[derive(Default)]
struct Recorder {
    plans: Mutex<Vec<Plan>>,
    calls: Mutex<Vec<Call>>,
}

impl Execute for Recorder {
    fn read<'a>(&'a self, _: &'a Graph, plan: &'a Plan) -> BoxFuture<'a, Result<Value, ExecError>> {
        if let Ok(mut plans) = self.plans.lock() {
            plans.push(plan.clone());
        }
        let empty = if plan.single {
            Value::Null
        } else {
            json!({"nodes": [], "totalCount": null})
        };
        Box::pin(async move { Ok(empty) })
    }

    fn write<'a>(&'a self, _: &'a Graph, _: &'a Write) -> BoxFuture<'a, Result<Value, ExecError>> {
        Box::pin(async { Ok(Value::Null) })
    }

    fn call<'a>(&'a self, _: &'a Graph, call: &'a Call) -> BoxFuture<'a, Result<Value, ExecError>> {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call.clone());
        }
        Box::pin(async { Ok(Value::Null) })
    }
}

struct Fixture {
    graph: Arc<Graph>,
    schema: async_graphql::dynamic::Schema,
}

fn fixture(limits: PlanLimits) -> Fixture {
    let graph = Arc::new(common::two_namespaces(
        &common::metadata(V2),
        &common::metadata(V4),
    ));
    let options = SchemaOptions {
        plan: limits,
        ..SchemaOptions::default()
    };
    let schema = build(graph.clone(), options).expect("schema builds");
    Fixture { graph, schema }
}

/// Runs a query and returns the URLs of its plans (first request of each) and its errors.
async fn run(fixture: &Fixture, query: &str) -> (Vec<String>, Vec<Plan>, Vec<String>) {
    let recorder = Arc::new(Recorder::default());
    let executor: Executor = recorder.clone();
    let response = fixture
        .schema
        .execute(async_graphql::Request::new(query).data(executor))
        .await;
    let errors = response.errors.iter().map(|e| e.message.clone()).collect();
    let plans = recorder.plans.lock().expect("not poisoned").clone();
    let urls = plans.iter().map(|p| p.fetch.url(&fixture.graph)).collect();
    (urls, plans, errors)
}

async fn one_url(query: &str) -> String {
    let fixture = fixture(PlanLimits::default());
    let (urls, _, errors) = run(&fixture, query).await;
    assert!(errors.is_empty(), "{query}: {errors:?}");
    assert_eq!(urls.len(), 1, "{query}");
    urls.into_iter().next().expect("one plan")
}

#[tokio::test]
async fn filters_render_in_each_dialect() {
    let cases = [
        (
            r#"{ crm { Opportunities(filter: {title: {eq: "a"}}) { nodes { ID } } } }"#,
            "Opportunities?$select=ID&$filter=title%20eq%20'a'&$top=1000",
        ),
        (
            r#"{ crm { Opportunities(filter: {title: {contains: "a"}, amount: {gt: "10.5"}}) { nodes { ID } } } }"#,
            "Opportunities?$select=ID&$filter=(contains(title,'a')%20and%20amount%20gt%2010.5)&$top=1000",
        ),
        (
            r#"{ sap_s4 { A_SalesOrder(filter: {SalesOrder: {contains: "5"}, Amount: {ge: "10.50"}}) { nodes { SalesOrder } } } }"#,
            "A_SalesOrder?$select=SalesOrder&$filter=(substringof('5',SalesOrder)%20and%20Amount%20ge%2010.50M)&$top=1000",
        ),
        (
            r#"{ sap_s4 { A_SalesOrder(filter: {Created: {lt: "2024-02-01"}}) { nodes { SalesOrder } } } }"#,
            "A_SalesOrder?$select=SalesOrder&$filter=Created%20lt%20datetime'2024-02-01T00:00:00'&$top=1000",
        ),
        (
            r#"{ crm { Opportunities(filter: {closeDate: {lt: "2024-02-01"}}) { nodes { ID } } } }"#,
            "Opportunities?$select=ID&$filter=closeDate%20lt%202024-02-01&$top=1000",
        ),
        (
            r#"{ sap_s4 { A_SalesOrder(filter: {SalesOrder: {in: ["1", "2"]}}) { nodes { SalesOrder } } } }"#,
            "A_SalesOrder?$select=SalesOrder&$filter=(SalesOrder%20eq%20'1'%20or%20SalesOrder%20eq%20'2')&$top=1000",
        ),
        (
            r#"{ crm { Opportunities(filter: {ID: {in: [1, 2]}}) { nodes { ID } } } }"#,
            "Opportunities?$select=ID&$filter=ID%20in%20(1,2)&$top=1000",
        ),
        (
            r#"{ crm { Opportunities(filter: [{ID: {eq: 1}}, {ID: {eq: 2}, title: {startswith: "x"}}]) { nodes { ID } } } }"#,
            "Opportunities?$select=ID&$filter=(ID%20eq%201%20or%20(ID%20eq%202%20and%20startswith(title,'x')))&$top=1000",
        ),
        (
            r#"{ crm { Opportunities(filter: {stage: {eq: Won}}) { nodes { ID } } } }"#,
            "Opportunities?$select=ID&$filter=stage%20eq%20Crm.Stage'Won'&$top=1000",
        ),
        (
            r#"{ sap_s4 { A_SalesOrder(filter: {to_Partner: {Name: {endswith: "AG"}}}) { nodes { SalesOrder } } } }"#,
            "A_SalesOrder?$select=SalesOrder&$filter=endswith(to_Partner%2FName,'AG')&$top=1000",
        ),
        (
            r#"{ sap_s4 { A_SalesOrder(filter: {Big: {eq: "9007199254740993"}, Id: {eq: "0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0"}}) { nodes { SalesOrder } } } }"#,
            "A_SalesOrder?$select=SalesOrder&$filter=(Big%20eq%209007199254740993L%20and%20Id%20eq%20guid'0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0')&$top=1000",
        ),
    ];
    for (query, expected) in cases {
        assert_eq!(one_url(query).await, expected, "{query}");
    }
}

#[tokio::test]
async fn client_values_stay_literals() {
    let url = one_url(
        r#"{ crm { Opportunities(filter: {title: {eq: "x' or 1 eq 1"}}) { nodes { ID } } } }"#,
    )
    .await;
    assert_eq!(
        url,
        "Opportunities?$select=ID&$filter=title%20eq%20'x''%20or%201%20eq%201'&$top=1000"
    );
    let url =
        one_url(r#"{ crm { Opportunities(filter: {title: {eq: "&$top=1#"}}) { nodes { ID } } } }"#)
            .await;
    assert!(url.contains("'%26$top=1%23'"), "{url}");
    assert_eq!(
        url.matches("$top=").count(),
        2,
        "only the planner's own $top: {url}"
    );
    let url =
        one_url(r#"{ sap_s4 { A_SalesOrderByKey(SalesOrder: "1')/x?(") { SalesOrder } } }"#).await;
    assert_eq!(url, "A_SalesOrder('1'')%2Fx%3F(')?$select=SalesOrder");
}

#[tokio::test]
async fn paging_order_count_and_search() {
    assert_eq!(
        one_url(r#"{ sap_s4 { A_SalesOrder(top: 5, skip: 10, orderBy: [{Amount: desc}, {SalesOrder: asc}]) { totalCount nodes { SalesOrder } } } }"#).await,
        "A_SalesOrder?$select=SalesOrder&$orderby=Amount%20desc,SalesOrder%20asc&$top=5&$skip=10&$inlinecount=allpages"
    );
    assert_eq!(
        one_url(r#"{ crm { Opportunities(top: 5, search: "big \"deal\"") { totalCount nodes { ID } } } }"#).await,
        r#"Opportunities?$select=ID&$top=5&$count=true&$search=%22big%20%5C%22deal%5C%22%22"#
    );
    assert_eq!(
        one_url(r#"{ sap_s4 { A_BusinessPartner(search: "Acme") { nodes { Name } } } }"#).await,
        "A_BusinessPartner?$select=BusinessPartner,Name&$top=1000&search=Acme"
    );
    // Only totalCount: no rows are fetched.
    assert_eq!(
        one_url(r#"{ crm { Opportunities { totalCount } } }"#).await,
        "Opportunities?$select=ID&$top=0&$count=true"
    );
}

#[tokio::test]
async fn same_service_navigation_becomes_expand() {
    assert_eq!(
        one_url(r#"{ crm { Opportunities(top: 2) { nodes { title notes(top: 3, orderBy: {text: asc}, filter: {text: {ne: "x"}}) { totalCount nodes { text } } } } } }"#).await,
        "Opportunities?$select=ID,title&$expand=notes($select=ID,text%3B$filter=text%20ne%20'x'%3B$orderby=text%20asc%3B$top=3%3B$count=true)&$top=2"
    );
    assert_eq!(
        one_url(r#"{ sap_s4 { A_SalesOrder(top: 1) { nodes { to_Partner { Name } to_Item { nodes { Quantity } } } } } }"#).await,
        "A_SalesOrder?$select=SalesOrder,to_Partner%2FBusinessPartner,to_Partner%2FName,to_Item%2FSalesOrder,to_Item%2FSalesOrderItem,to_Item%2FQuantity&$expand=to_Partner,to_Item&$top=1"
    );
}

#[tokio::test]
async fn v2_collections_with_arguments_become_batched_joins() {
    let fixture = fixture(PlanLimits::default());
    let (urls, plans, errors) = run(
        &fixture,
        r#"{ sap_s4 { A_SalesOrder(top: 2) { nodes { to_Item(top: 1, orderBy: {SalesOrderItem: desc}) { nodes { Quantity } } } } } }"#,
    )
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(urls, ["A_SalesOrder?$select=SalesOrder&$top=2"]);
    let join = &plans[0].fetch.shape.joins[0];
    assert_eq!((join.top, join.skip, join.many), (Some(1), 0, true));
    let batch = join.urls(
        &fixture.graph,
        &[vec![json!("1")], vec![json!("2")]],
        &PlanLimits::default(),
    );
    assert_eq!(
        batch,
        [
            "A_SalesOrderItem?$select=SalesOrder,SalesOrderItem,Quantity&$filter=(SalesOrder%20eq%20'1'%20or%20SalesOrder%20eq%20'2')&$orderby=SalesOrderItem%20desc&$top=10001"
        ]
    );
}

#[tokio::test]
async fn cross_source_joins_batch_all_parents_and_split_long_urls() {
    let limits = PlanLimits {
        max_url_bytes: 200,
        ..PlanLimits::default()
    };
    let fixture = fixture(limits);
    let (urls, plans, errors) = run(
        &fixture,
        r#"{ crm { Opportunities(top: 100) { nodes { title partner { Name to_Order { nodes { Amount } } } } } } }"#,
    )
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        urls,
        ["Opportunities?$select=ID,title,accountBpId&$top=100"]
    );
    let join = &plans[0].fetch.shape.joins[0];
    let keys: Vec<Vec<Value>> = (0..40)
        .map(|n| vec![json!(format!("10000{n:02}"))])
        .collect();
    let batch = join.urls(&fixture.graph, &keys, &limits);
    assert!(batch.len() > 1, "split below 200 bytes: {batch:?}");
    for url in &batch {
        assert!(
            url.len() <= 200 || url.matches("%20eq%20").count() == 1,
            "{url}"
        );
        assert!(
            url.contains("$expand=to_Order"),
            "the next level rides along: {url}"
        );
    }
    let all: usize = batch
        .iter()
        .map(|u| u.matches("BusinessPartner%20eq%20").count())
        .sum();
    assert_eq!(all, 40, "every key is asked for exactly once");
    // v4 targets take `in`.
    let (_, plans, _) = run(
        &fixture,
        r#"{ sap_s4 { A_BusinessPartner { nodes { opportunities(top: 2) { totalCount nodes { title } } } } } }"#,
    )
    .await;
    let join = &plans[0].fetch.shape.joins[0];
    let batch = join.urls(
        &fixture.graph,
        &[vec![json!("1")], vec![json!("2'")]],
        &limits,
    );
    assert_eq!(
        batch,
        [
            "Opportunities?$select=ID,title,accountBpId&$filter=accountBpId%20in%20('1','2''')&$top=10001"
        ]
    );
}

#[tokio::test]
async fn limits_and_capabilities_are_enforced() {
    let fixture = fixture(PlanLimits {
        max_top: 50,
        ..PlanLimits::default()
    });
    let (urls, _, errors) = run(
        &fixture,
        r#"{ crm { Opportunities(top: 51) { nodes { ID } } } }"#,
    )
    .await;
    assert!(urls.is_empty());
    assert_eq!(errors, ["top 51 on Opportunities is above the limit of 50"]);
    // A property annotated sap:filterable="false" has no filter field at all.
    let (_, _, errors) = run(
        &fixture,
        r#"{ sap_s4 { A_BusinessPartner(filter: {Internal: {eq: "x"}}) { nodes { Name } } } }"#,
    )
    .await;
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("Internal"), "{errors:?}");
}

#[tokio::test]
async fn composite_keys_address_one_entity() {
    assert_eq!(
        one_url(r#"{ sap_s4 { A_SalesOrderItemByKey(SalesOrder: "1", SalesOrderItem: "10") { Quantity } } }"#).await,
        "A_SalesOrderItem(SalesOrder='1',SalesOrderItem='10')?$select=SalesOrder,SalesOrderItem,Quantity"
    );
}

/// Runs a document and returns the calls it made.
async fn run_calls(fixture: &Fixture, query: &str) -> (Vec<Call>, Vec<String>) {
    let recorder = Arc::new(Recorder::default());
    let executor: Executor = recorder.clone();
    let response = fixture
        .schema
        .execute(async_graphql::Request::new(query).data(executor))
        .await;
    let errors = response.errors.iter().map(|e| e.message.clone()).collect();
    let calls = recorder.calls.lock().expect("not poisoned").clone();
    (calls, errors)
}

#[tokio::test]
async fn operations_become_fields_and_calls_in_each_dialect() {
    let fixture = fixture(PlanLimits::default());
    let sdl = fixture.schema.sdl();
    assert!(
        sdl.contains("top(min: Decimal, count: Int): [crm_Opportunities!]"),
        "{sdl}"
    );
    assert!(sdl.contains("orderCount(status: String): Int"), "{sdl}");
    assert!(
        sdl.contains("setStage(ID: Int, stage: crm_Stage): crm_Opportunities"),
        "{sdl}"
    );
    assert!(
        sdl.contains("release(SalesOrder: String): sap_s4_A_SalesOrder"),
        "{sdl}"
    );

    let (calls, errors) = run_calls(
        &fixture,
        r#"{ crm { top(min: "10.5", count: 2) { title } } sap_s4 { orderCount(status: "it's") } }"#,
    )
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    let mut paths: Vec<(CallMethod, String)> =
        calls.iter().map(|c| (c.method, c.path.clone())).collect();
    paths.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        paths,
        [
            (CallMethod::Get, "orderCount?status='it''s'".to_owned()),
            (CallMethod::Get, "top(min=10.5,count=2)".to_owned()),
        ]
    );
    let top = calls
        .iter()
        .find(|c| c.path.starts_with("top"))
        .expect("the function call");
    let shape = top.shape.as_ref().expect("entity results are shaped");
    assert_eq!(shape.fields.len(), 2, "the key and the selected title");

    let (calls, errors) = run_calls(
        &fixture,
        r#"mutation { crm { setStage(ID: 7, stage: Won) { ID } } sap_s4 { release(SalesOrder: "1/2") { SalesOrder } } }"#,
    )
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(calls.len(), 2);
    assert_eq!(
        (calls[0].method, calls[0].path.as_str()),
        (CallMethod::Post, "setStage")
    );
    assert_eq!(
        calls[0].body,
        Some(vec![(0, json!(7)), (1, json!("Won"))]),
        "v4 actions carry parameters in the body"
    );
    assert_eq!(
        (
            calls[1].method,
            calls[1].path.as_str(),
            calls[1].body.is_none()
        ),
        (CallMethod::Post, "release?SalesOrder='1%2F2'", true),
        "v2 imports carry them in the URL, whatever the method"
    );
}
