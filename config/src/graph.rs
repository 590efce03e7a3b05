//! The graph configuration: which OData services make up the business graph, under which
//! namespaces, how entities of different sources relate, and the limits every query runs under.
//!
//! Modelled on SAP Graph's business data graph: a data source is a namespace (`sap.s4`) backed by
//! one or more services, each reached through a destination plus a service path.

use serde::Deserialize;

/// The `[graph]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Graph {
    /// The data sources; each becomes one namespace of the graph.
    pub data_sources: Vec<DataSource>,
    /// Relations between entities of different data sources.
    pub associations: Vec<Association>,
    /// How long fetching one service's `$metadata` may take, in seconds.
    pub metadata_timeout_seconds: u64,
    /// How often every `$metadata` is fetched again, in seconds; `0` fetches only at start-up and
    /// on `POST /admin/refresh`.
    pub refresh_interval_seconds: u64,
    /// Query limits.
    pub limits: Limits,
}

impl Default for Graph {
    fn default() -> Self {
        Self {
            data_sources: Vec::new(),
            associations: Vec::new(),
            metadata_timeout_seconds: 30,
            refresh_interval_seconds: 900,
            limits: Limits::default(),
        }
    }
}

/// One data source (namespace).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataSource {
    /// The namespace, dot-separated (`sap.s4`); the GraphQL root field replaces dots by `_`.
    pub name: String,
    /// The services whose entities the namespace holds.
    pub services: Vec<Service>,
}

/// One OData service of a data source.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Service {
    /// The destination that reaches the system.
    pub destination: String,
    /// The service root below the destination's URL (`/sap/opu/odata/sap/API_SALES_ORDER_SRV`).
    pub path: String,
    /// The destination used to fetch `$metadata`, when `destination` needs a user (principal
    /// propagation, forwarded tokens) and none is there at start-up: usually a technical user.
    pub metadata_destination: Option<String>,
}

/// How many target entities a configured association leads to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssociationMultiplicity {
    /// At most one target (`to_one`); the field is an object.
    #[default]
    One,
    /// Any number of targets; the field is a connection.
    Many,
}

/// A relation between entities of (usually) different data sources, joined on property values.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Association {
    /// The source entity as `<namespace>.<EntitySet>` (`crm.Opportunities`).
    pub from: String,
    /// The source entity's property holding the target's key (for one-property joins).
    pub property: Option<String>,
    /// The source properties, for joins over several properties (pairs with `keys`).
    pub properties: Vec<String>,
    /// The target entity as `<namespace>.<EntitySet>` (`sap.s4.A_BusinessPartner`).
    pub to: String,
    /// The target property that `property` equals (usually its key).
    pub key: Option<String>,
    /// The target properties, for joins over several properties (pairs with `properties`).
    pub keys: Vec<String>,
    /// The field name on the source entity (`account`).
    pub name: String,
    /// `one` (an object field) or `many` (a connection).
    pub multiplicity: AssociationMultiplicity,
}

impl Association {
    /// The joined property pairs (source property, target property), whichever way they were
    /// written.
    pub fn pairs(&self) -> Vec<(&str, &str)> {
        let sources = self
            .property
            .as_deref()
            .into_iter()
            .chain(self.properties.iter().map(String::as_str));
        let targets = self
            .key
            .as_deref()
            .into_iter()
            .chain(self.keys.iter().map(String::as_str));
        sources.zip(targets).collect()
    }
}

/// Limits applied to every GraphQL query; all on by default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Deepest nesting of selections.
    pub max_depth: usize,
    /// Most fields selected in one query, counted over the whole document.
    pub max_nodes: usize,
    /// Largest `top` a client may ask for; also the page size when it asks for none.
    pub max_top: u32,
    /// Most rows one cross-source join level may have (over all parents and requests); a level
    /// with more answers its field with a `LIMIT_EXCEEDED` error rather than cutting rows off.
    pub max_join_rows: u32,
    /// Longest URL sent to a backend; batched joins are split into requests below it.
    pub max_url_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_nodes: 2_000,
            max_top: 1_000,
            max_join_rows: 10_000,
            max_url_bytes: 6_000,
        }
    }
}
