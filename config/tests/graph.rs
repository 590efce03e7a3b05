//! The `[graph]` section: data sources, services, cross-source associations and limits, with
//! errors that name the key at fault.

use bizgraph_config::Settings;
use bizgraph_config::graph::AssociationMultiplicity;

const FULL: &str = r#"
[graph]
metadata_timeout_seconds = 5
refresh_interval_seconds = 0

[[graph.data_sources]]
name = "sap.s4"
services = [
  { destination = "S4", path = "/sap/opu/odata/sap/API_SALES_ORDER_SRV" },
  { destination = "S4", path = "/sap/opu/odata/sap/API_BUSINESS_PARTNER", metadata_destination = "S4_TECH" },
]

[[graph.data_sources]]
name = "crm"
services = [{ destination = "CRM", path = "/odata/v4/crm" }]

[[graph.associations]]
from = "crm.Opportunities"
property = "accountId"
to = "sap.s4.A_BusinessPartner"
key = "BusinessPartner"
name = "account"

[[graph.associations]]
from = "sap.s4.A_SalesOrderItem"
properties = ["SalesOrder", "SalesOrderItem"]
to = "crm.ItemNotes"
keys = ["order", "item"]
name = "notes"
multiplicity = "many"

[graph.limits]
max_top = 200
"#;

#[test]
fn a_full_graph_section_parses() {
    let settings = Settings::from_toml(FULL, "bizgraph.toml").expect("accepted");
    let graph = &settings.graph;
    assert_eq!(graph.metadata_timeout_seconds, 5);
    assert_eq!(graph.refresh_interval_seconds, 0);
    assert_eq!(graph.data_sources.len(), 2);
    assert_eq!(graph.data_sources[0].name, "sap.s4");
    assert_eq!(graph.data_sources[0].services.len(), 2);
    assert_eq!(
        graph.data_sources[0].services[1]
            .metadata_destination
            .as_deref(),
        Some("S4_TECH")
    );
    assert_eq!(graph.data_sources[0].services[0].metadata_destination, None);
    let account = &graph.associations[0];
    assert_eq!(
        account.multiplicity,
        AssociationMultiplicity::One,
        "one is the default"
    );
    assert_eq!(account.pairs(), [("accountId", "BusinessPartner")]);
    let notes = &graph.associations[1];
    assert_eq!(notes.multiplicity, AssociationMultiplicity::Many);
    assert_eq!(
        notes.pairs(),
        [("SalesOrder", "order"), ("SalesOrderItem", "item")]
    );
    assert_eq!(graph.limits.max_top, 200);
    assert_eq!(
        graph.limits.max_depth, 12,
        "the other limits keep their defaults"
    );
    assert_eq!(graph.limits.max_nodes, 2_000);
}

#[test]
fn limits_are_on_without_a_graph_section() {
    let settings = Settings::from_toml("", "bizgraph.toml").expect("accepted");
    let limits = &settings.graph.limits;
    assert!(limits.max_depth > 0 && limits.max_nodes > 0 && limits.max_top > 0);
    assert!(limits.max_url_bytes > 0 && limits.max_join_rows > 0);
    assert_eq!(settings.graph.metadata_timeout_seconds, 30);
}

fn rejected(text: &str) -> String {
    match Settings::from_toml(text, "bizgraph.toml") {
        Ok(_) => panic!("should be rejected:\n{text}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn mistakes_are_named_by_key() {
    let cases = [
        (
            "[[graph.data_sources]]\nname = \"a\"\nservicez = []\n",
            &["bizgraph.toml", "line 3", "servicez"][..],
        ),
        (
            "[[graph.data_sources]]\nname = \"a b\"\nservices = [{ destination = \"D\", path = \"/\" }]\n",
            &["graph.data_sources[0].name", "letters, digits"][..],
        ),
        (
            "[[graph.data_sources]]\nname = \"a\"\nservices = [{ destination = \"D\", path = \"/\" }]\n[[graph.data_sources]]\nname = \"a\"\nservices = [{ destination = \"D\", path = \"/\" }]\n",
            &["graph.data_sources[1].name", "'a' is defined twice"][..],
        ),
        (
            "[[graph.data_sources]]\nname = \"a\"\n",
            &["graph.data_sources[0].services", "needs a service"][..],
        ),
        (
            "[[graph.data_sources]]\nname = \"a\"\nservices = [{ path = \"/\" }]\n",
            &["graph.data_sources[0].services[0].destination"][..],
        ),
        (
            "[[graph.associations]]\nfrom = \"a.X\"\nto = \"b.Y\"\nname = \"y\"\nproperty = \"p\"\n",
            &["graph.associations[0]", "as many target keys"][..],
        ),
        (
            "[[graph.associations]]\nfrom = \"a.X\"\nto = \"b.Y\"\nproperty = \"p\"\nkey = \"k\"\n",
            &["graph.associations[0].name", "missing"][..],
        ),
        (
            "[[graph.associations]]\nfrom = \"a.X\"\nto = \"b.Y\"\nname = \"y\"\nproperty = \"p\"\nkey = \"k\"\nmultiplicity = \"several\"\n",
            &["line 7", "several"][..],
        ),
        (
            "[graph.limits]\nmax_top = 0\n",
            &["graph.limits", "above 0"][..],
        ),
    ];
    for (text, fragments) in cases {
        let message = rejected(text);
        for fragment in fragments {
            assert!(
                message.contains(fragment),
                "{message:?} should name {fragment:?}"
            );
        }
    }
}
