//! OData types in the GraphQL schema: enumerations (plain and flags) as GraphQL enums, complex
//! types as object types, descriptions from `sap:label` and `Core.Description`, and the values
//! the executor's canonical JSON turns into, both ways.

mod common;

use std::sync::{Arc, Mutex};

use bizgraph_schema::call::Call;
use bizgraph_schema::execute::{BoxFuture, ExecError, Execute, Write};
use bizgraph_schema::graphql::{Executor, SchemaOptions, build};
use bizgraph_schema::model::Graph;
use bizgraph_schema::plan::Plan;
use bizgraph_schema::{ServiceInput, SourceInput, compose};
use serde_json::{Value, json};

const V4: &str = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
<edmx:DataServices><Schema Namespace="Shop" xmlns="http://docs.oasis-open.org/odata/ns/edm">
 <EnumType Name="Color" IsFlags="true"><Member Name="Red" Value="1"/><Member Name="Green" Value="2"/><Member Name="Blue" Value="4"/></EnumType>
 <EnumType Name="Size"><Member Name="S"/><Member Name="M"/><Member Name="L"/></EnumType>
 <ComplexType Name="Address">
  <Property Name="Street" Type="Edm.String"/>
  <Property Name="City" Type="Edm.String"/>
  <Property Name="Tags" Type="Collection(Edm.String)"/>
 </ComplexType>
 <EntityType Name="Product"><Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
  <Property Name="Name" Type="Edm.String">
   <Annotation Term="Org.OData.Core.V1.Description" String="What the product is called"/>
  </Property>
  <Property Name="Size" Type="Shop.Size"/>
  <Property Name="Colors" Type="Shop.Color"/>
  <Property Name="Palettes" Type="Collection(Shop.Color)"/>
  <Property Name="Address" Type="Shop.Address"/>
  <Property Name="Addresses" Type="Collection(Shop.Address)"/>
 </EntityType>
 <EntityContainer Name="C"><EntitySet Name="Products" EntityType="Shop.Product"/></EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>"#;

const V2: &str = r#"<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" xmlns:sap="http://www.sap.com/Protocols/SAPData">
<edmx:DataServices m:DataServiceVersion="2.0">
<Schema Namespace="S4" xmlns="http://schemas.microsoft.com/ado/2008/09/edm">
 <EntityType Name="Partner" sap:label="Business Partner"><Key><PropertyRef Name="BusinessPartner"/></Key>
  <Property Name="BusinessPartner" Type="Edm.String" Nullable="false" sap:label="Partner Number"/>
  <Property Name="Amount" Type="Edm.Decimal" Precision="15" Scale="2" sap:label="Credit Limit" sap:unit="Currency"/>
  <Property Name="Currency" Type="Edm.String" sap:label="Currency" sap:semantics="currency-code"/>
 </EntityType>
 <EntityContainer Name="C" m:IsDefaultEntityContainer="true"><EntitySet Name="A_BusinessPartner" EntityType="S4.Partner"/></EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>"#;

/// Answers every read with the rows it was given, and keeps the writes it receives.
struct Canned {
    rows: Value,
    writes: Mutex<Vec<Write>>,
}

impl Execute for Canned {
    fn read<'a>(&'a self, _: &'a Graph, _: &'a Plan) -> BoxFuture<'a, Result<Value, ExecError>> {
        let rows = self.rows.clone();
        Box::pin(async move { Ok(json!({"nodes": rows, "totalCount": null})) })
    }

    fn write<'a>(
        &'a self,
        _: &'a Graph,
        write: &'a Write,
    ) -> BoxFuture<'a, Result<Value, ExecError>> {
        if let Ok(mut writes) = self.writes.lock() {
            writes.push(write.clone());
        }
        Box::pin(async { Ok(json!({"ID": 2})) })
    }

    fn call<'a>(&'a self, _: &'a Graph, _: &'a Call) -> BoxFuture<'a, Result<Value, ExecError>> {
        Box::pin(async { Ok(Value::Null) })
    }
}

fn graph() -> Arc<Graph> {
    let (v2, v4) = (common::metadata(V2), common::metadata(V4));
    let sources = [
        SourceInput {
            name: "shop",
            services: vec![ServiceInput {
                destination: "SHOP",
                path: "/shop",
                metadata: &v4,
            }],
        },
        SourceInput {
            name: "s4",
            services: vec![ServiceInput {
                destination: "S4",
                path: "/s4",
                metadata: &v2,
            }],
        },
    ];
    Arc::new(compose(&sources, &[]).graph)
}

/// The SDL block that declares `head` (`type shop_Products {`), up to its closing brace.
fn block<'a>(sdl: &'a str, head: &str) -> &'a str {
    let start = sdl
        .find(head)
        .unwrap_or_else(|| panic!("SDL lacks {head:?}:\n{sdl}"));
    let end = sdl[start..]
        .find("\n}")
        .map_or(sdl.len(), |end| start + end + 2);
    &sdl[start..end]
}

/// The block's lines without indentation or blank lines.
fn lines(block: &str) -> Vec<&str> {
    block
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect()
}

#[test]
fn enums_complex_types_and_descriptions_appear_in_the_sdl() {
    let schema = build(graph(), SchemaOptions::default()).expect("schema builds");
    let sdl = schema.sdl();
    let product = lines(block(&sdl, "type shop_Products {"));
    for field in [
        "Size: shop_Size",
        "Colors: [shop_Color!]",
        "Palettes: [[shop_Color!]]",
        "Address: shop_Address",
        "Addresses: [shop_Address]",
    ] {
        assert!(product.contains(&field), "{field:?} in {product:#?}");
    }
    let name = product
        .iter()
        .position(|line| *line == "Name: String")
        .expect("Name");
    assert_eq!(product[name - 1], "\"\"\"");
    assert_eq!(product[name - 2], "What the product is called");

    let size = lines(block(&sdl, "enum shop_Size {"));
    assert_eq!(&size[size.len() - 4..], ["S", "M", "L", "}"]);
    let color = lines(block(&sdl, "enum shop_Color {"));
    assert_eq!(&color[color.len() - 4..], ["Red", "Green", "Blue", "}"]);
    let address = lines(block(&sdl, "type shop_Address {"));
    assert_eq!(
        address,
        [
            "type shop_Address {",
            "Street: String",
            "City: String",
            "Tags: [String]",
            "}"
        ]
    );

    // v2: sap:label describes the type and its fields; sap:unit names the unit's property.
    let partner = block(&sdl, "type s4_A_BusinessPartner {");
    assert!(sdl.contains("Business Partner"), "{sdl}");
    for expected in ["Partner Number", "Credit Limit (unit: Currency)"] {
        assert!(partner.contains(expected), "{expected:?} in {partner}");
    }
}

#[tokio::test]
async fn enum_flags_and_complex_values_are_read_and_written_as_typed() {
    let graph = graph();
    let schema = build(graph.clone(), SchemaOptions::default()).expect("schema builds");
    let canned = Arc::new(Canned {
        rows: json!([{
            "ID": 1,
            "Name": "lamp",
            "Size": "M",
            "Colors": "Red,Blue",
            "Palettes": ["Green", "Red,Green,Blue", ""],
            "Address": {"Street": "Main 1", "City": "Walldorf", "Tags": ["hq"]},
            "Addresses": [{"Street": "A", "City": "B", "Tags": []}],
        }]),
        writes: Mutex::default(),
    });
    let executor: Executor = canned.clone();
    let query = "{ shop { Products { nodes { ID Size Colors Palettes Address { Street City Tags } Addresses { City } } } } }";
    let response = schema
        .execute(async_graphql::Request::new(query).data(executor.clone()))
        .await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().expect("JSON");
    assert_eq!(
        data["shop"]["Products"]["nodes"][0],
        json!({
            "ID": 1,
            "Size": "M",
            "Colors": ["Red", "Blue"],
            "Palettes": [["Green"], ["Red", "Green", "Blue"], []],
            "Address": {"Street": "Main 1", "City": "Walldorf", "Tags": ["hq"]},
            "Addresses": [{"City": "B"}],
        })
    );

    // A set of flags given as a list goes to the executor as OData writes it: joined by commas.
    let mutation = "mutation { shop { Products_create(input: {ID: 2, Size: L, Colors: [Green, Blue]}) { ID } } }";
    let response = schema
        .execute(async_graphql::Request::new(mutation).data(executor))
        .await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let writes = canned.writes.lock().expect("not poisoned");
    let entity = &graph.entities[writes[0].entity];
    let values: Vec<(&str, &Value)> = writes[0]
        .values
        .iter()
        .map(|(index, value)| (entity.fields[*index].name.as_str(), value))
        .collect();
    assert_eq!(
        values,
        [
            ("ID", &json!(2)),
            ("Size", &json!("L")),
            ("Colors", &json!("Green,Blue"))
        ]
    );
}
