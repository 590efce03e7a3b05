//! Cross-source joins below several expanded relations go out together: an order expands two
//! parts (`x`, `y`, one request to the shop), and each part's zone lives in another service. A
//! stand-in for that service holds every zone request until a second one arrives (or a few
//! seconds have passed), so the joins overlap only if the gateway sends them at once.
//!
//! The shop and the zone service are in-process stand-ins beside the CAP backends the test
//! environment starts. Needs `npm ci --prefix tests/backends` (see tests/backends/README.md).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::routing::get;
use bizgraph_tests::cap::ALICE;
use bizgraph_tests::graph_env::{GraphEnv, GraphOptions};
use bizgraph_tests::standins::Server;
use serde_json::json;
use tokio::sync::watch;

const SHOP_METADATA: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="Shop" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="Order">
        <Key><PropertyRef Name="ID"/></Key>
        <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
        <Property Name="xId" Type="Edm.Int32"/>
        <Property Name="yId" Type="Edm.Int32"/>
        <NavigationProperty Name="x" Type="Shop.Part"><ReferentialConstraint Property="xId" ReferencedProperty="ID"/></NavigationProperty>
        <NavigationProperty Name="y" Type="Shop.Part"><ReferentialConstraint Property="yId" ReferencedProperty="ID"/></NavigationProperty>
      </EntityType>
      <EntityType Name="Part">
        <Key><PropertyRef Name="ID"/></Key>
        <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
        <Property Name="zoneId" Type="Edm.String"/>
      </EntityType>
      <EntityContainer Name="Container">
        <EntitySet Name="Orders" EntityType="Shop.Order">
          <NavigationPropertyBinding Path="x" Target="Parts"/>
          <NavigationPropertyBinding Path="y" Target="Parts"/>
        </EntitySet>
        <EntitySet Name="Parts" EntityType="Shop.Part"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"#;

const ZONE_METADATA: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
  <edmx:DataServices>
    <Schema Namespace="Geo" xmlns="http://docs.oasis-open.org/odata/ns/edm">
      <EntityType Name="Zone">
        <Key><PropertyRef Name="id"/></Key>
        <Property Name="id" Type="Edm.String" Nullable="false"/>
        <Property Name="name" Type="Edm.String"/>
      </EntityType>
      <EntityContainer Name="Container">
        <EntitySet Name="Zones" EntityType="Geo.Zone"/>
      </EntityContainer>
    </Schema>
  </edmx:DataServices>
</edmx:Edmx>"#;

/// What the zone stand-in saw: requests arrived, in flight now, and the most in flight at once.
#[derive(Default)]
struct Zones {
    in_flight: AtomicUsize,
    most_at_once: AtomicUsize,
}

/// Serves `router` on a free loopback port: its base URL (without the trailing `/`) and the
/// server, which stops when dropped.
async fn serve(router: Router) -> anyhow::Result<(String, Server)> {
    let server = Server::start(router).await?;
    Ok((server.origin(), server))
}

#[tokio::test]
async fn joins_below_different_expansions_go_out_together() -> anyhow::Result<()> {
    let (shop, _shop_server) = serve(
        Router::new()
            .route(
                "/shop/$metadata",
                get(|| async { ([(header::CONTENT_TYPE, "application/xml")], SHOP_METADATA) }),
            )
            .route(
                "/shop/Orders",
                get(|| async {
                    axum::Json(json!({"value": [
                        {"ID": 1, "xId": 10, "yId": 20,
                         "x": {"ID": 10, "zoneId": "a"}, "y": {"ID": 20, "zoneId": "b"}}
                    ]}))
                }),
            ),
    )
    .await?;
    let zones = Arc::new(Zones::default());
    let (arrived, _) = watch::channel(0usize);
    let arrived = Arc::new(arrived);
    let zone_router = Router::new()
        .route(
            "/geo/$metadata",
            get(|| async { ([(header::CONTENT_TYPE, "application/xml")], ZONE_METADATA) }),
        )
        .route(
            "/geo/Zones",
            get(
                |State((zones, arrived)): State<(Arc<Zones>, Arc<watch::Sender<usize>>)>| async move {
                    let now = zones.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                    zones.most_at_once.fetch_max(now, Ordering::SeqCst);
                    arrived.send_modify(|count| *count += 1);
                    // Wait for a second request; a gateway that sends one after the other
                    // gets its answer after the wait, and the overlap stays at one.
                    let mut seen = arrived.subscribe();
                    let _ = tokio::time::timeout(
                        Duration::from_secs(5),
                        seen.wait_for(|count| *count >= 2),
                    )
                    .await;
                    zones.in_flight.fetch_sub(1, Ordering::SeqCst);
                    axum::Json(json!({"value": [
                        {"id": "a", "name": "Zone A"}, {"id": "b", "name": "Zone B"}
                    ]}))
                },
            ),
        )
        .with_state((zones.clone(), arrived.clone()));
    let (geo, _geo_server) = serve(zone_router).await?;

    let destination = |name: &str, url: &str| {
        json!({"Name": name, "Type": "HTTP", "URL": url, "ProxyType": "Internet",
               "Authentication": "NoAuthentication"})
    };
    let env = GraphEnv::start(
        "graph-parallel",
        GraphOptions {
            extra_destinations: vec![destination("SHOP", &shop), destination("GEO", &geo)],
            extra_sources: r#"
[[graph.data_sources]]
name = "shop"
services = [{ destination = "SHOP", path = "/shop" }]

[[graph.data_sources]]
name = "geo"
services = [{ destination = "GEO", path = "/geo" }]

[[graph.associations]]
from = "shop.Parts"
property = "zoneId"
to = "geo.Zones"
key = "id"
name = "zone"
multiplicity = "one"
"#
            .to_owned(),
            ..GraphOptions::default()
        },
    )
    .await?;
    let data = env
        .data(
            ALICE,
            "{ shop { Orders { nodes { ID x { ID zone { name } } y { ID zone { name } } } } } }",
        )
        .await?;
    assert_eq!(
        data["shop"]["Orders"]["nodes"],
        json!([{"ID": 1, "x": {"ID": 10, "zone": {"name": "Zone A"}},
                          "y": {"ID": 20, "zone": {"name": "Zone B"}}}]),
        "{data:#}"
    );
    assert_eq!(*arrived.borrow(), 2, "one zone request per expansion");
    assert_eq!(
        zones.most_at_once.load(Ordering::SeqCst),
        2,
        "the two expansions' joins were in flight together"
    );
    Ok(())
}
