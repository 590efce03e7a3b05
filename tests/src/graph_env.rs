//! The composed graph over the real SAP CAP backends, for the end-to-end GraphQL suites: both
//! CAP apps, a destinations file and settings in a scratch folder, the gateway in-process, and
//! helpers to query it as a user and to compare its answers with CAP's own.
//!
//! The destinations forward the caller's HTTP Basic credentials (`forwardAuthToken`), so CAP
//! sees `alice` or `bob` and applies its row-level restrictions; a technical destination per
//! backend (`S4_TECH`, `CRM_TECH`, user `admin`) is used only for `$metadata`.

use std::path::PathBuf;

use anyhow::{Context, bail};
use bizgraph_gateway::startup::Environment;
use serde_json::{Map, Value, json};

use crate::cap::{CapApp, CapBackend, LoggedRequest};
use crate::gateway::{Gateway, write_file};
use crate::keys::scratch_dir;
use crate::standins::http_client;

/// Which of the S/4 app's two protocol paths a namespace uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `/odata/v2/sales` through the v2 adapter (with SAP Gateway's CSRF protocol on writes).
    V2,
    /// `/odata/v4/sales`.
    V4,
}

impl Protocol {
    /// The service path on the S/4 app.
    pub fn s4_path(self) -> &'static str {
        match self {
            Protocol::V2 => "/odata/v2/sales",
            Protocol::V4 => "/odata/v4/sales",
        }
    }
}

/// How the graph is set up.
#[derive(Debug, Clone)]
pub struct GraphOptions {
    /// Namespaces over the S/4 app, each with the path it uses. The first one is the target of
    /// the cross-source associations.
    pub s4_namespaces: Vec<(String, Protocol)>,
    /// The two associations between `crm.Opportunities` and the first S/4 namespace's
    /// `A_BusinessPartner`: `partner` (to one) and `opportunities` (to many).
    pub associations: bool,
    /// Lines for `[graph.limits]`, e.g. `max_url_bytes = 300`.
    pub limits: Vec<String>,
    /// Reach both backends as `OnPremise` destinations through this HTTP proxy
    /// (`http://127.0.0.1:PORT`), configured as the connectivity proxy.
    pub proxy: Option<String>,
    /// Where the technical `$metadata` destination of the first S/4 namespace points instead of
    /// the S/4 app (a stand-in, a closed port).
    pub s4_metadata_url: Option<String>,
    /// Further data sources as TOML, appended to the settings.
    pub extra_sources: String,
    /// Further destinations (JSON objects) for the destinations file.
    pub extra_destinations: Vec<Value>,
    /// `[graph] metadata_timeout_seconds`.
    pub metadata_timeout_seconds: u64,
    /// Further settings sections as TOML (e.g. `[server]`, `[upstream]`), appended last.
    pub extra_settings: String,
}

impl Default for GraphOptions {
    fn default() -> Self {
        GraphOptions {
            s4_namespaces: vec![("sap.s4".to_owned(), Protocol::V2)],
            associations: true,
            limits: Vec::new(),
            proxy: None,
            s4_metadata_url: None,
            extra_sources: String::new(),
            extra_destinations: Vec::new(),
            metadata_timeout_seconds: 10,
            extra_settings: String::new(),
        }
    }
}

impl GraphOptions {
    /// Two namespaces over the same S/4 app: `sap.s4` over v2 and `s4v4` over v4.
    pub fn both_protocols() -> Self {
        GraphOptions {
            s4_namespaces: vec![
                ("sap.s4".to_owned(), Protocol::V2),
                ("s4v4".to_owned(), Protocol::V4),
            ],
            ..GraphOptions::default()
        }
    }
}

/// Both CAP backends and a gateway composing them.
#[derive(Debug)]
pub struct GraphEnv {
    /// The S/4 app.
    pub s4: CapBackend,
    /// The CRM app.
    pub crm: CapBackend,
    /// The gateway.
    pub gateway: Gateway,
    /// The scratch folder holding the settings and destinations.
    pub dir: PathBuf,
    http: reqwest::Client,
}

/// The GraphQL root field of a namespace (`sap.s4` → `sap_s4`).
pub fn root_field(namespace: &str) -> String {
    namespace.replace('.', "_")
}

impl GraphEnv {
    /// Starts both CAP apps (in parallel), then the gateway, which loads the graph before it
    /// answers. `test` names the scratch folder.
    pub async fn start(test: &str, options: GraphOptions) -> anyhow::Result<GraphEnv> {
        let (s4, crm) = tokio::join!(
            CapBackend::start(CapApp::S4),
            CapBackend::start(CapApp::Crm)
        );
        Self::start_on(test, s4?, crm?, options).await
    }

    /// Starts the gateway on backends the caller started (e.g. with a CAP configuration of
    /// their own, see [`CapBackend::start_with_config`]).
    pub async fn start_on(
        test: &str,
        s4: CapBackend,
        crm: CapBackend,
        options: GraphOptions,
    ) -> anyhow::Result<GraphEnv> {
        let dir = scratch_dir(test);
        let gateway = start_gateway(&dir, &s4, &crm, &options).await?;
        Ok(GraphEnv {
            s4,
            crm,
            gateway,
            dir,
            http: http_client()?,
        })
    }

    /// Replaces the gateway by one with other options, on the same backends.
    pub async fn restart_gateway(&mut self, options: GraphOptions) -> anyhow::Result<()> {
        self.gateway = start_gateway(&self.dir, &self.s4, &self.crm, &options).await?;
        Ok(())
    }

    /// POSTs a GraphQL request as `user` and returns the whole response (`data`, `errors`).
    pub async fn query(
        &self,
        user: (&str, &str),
        query: &str,
        variables: Value,
    ) -> anyhow::Result<Value> {
        post_graphql(&self.http, &self.gateway, user, query, variables).await
    }

    /// Like [`GraphEnv::query`], but fails when the answer has errors; returns `data`.
    pub async fn data(&self, user: (&str, &str), query: &str) -> anyhow::Result<Value> {
        let answer = self.query(user, query, Value::Null).await?;
        data_of(answer, query)
    }

    /// Asserts that the cross-source association still answers: alice's first opportunity
    /// (CRM) with its partner (S/4).
    pub async fn assert_first_opportunity_has_its_partner(&self) -> anyhow::Result<()> {
        let data = self
            .data(
                crate::cap::ALICE,
                r#"{ crm { Opportunities(top: 1, orderBy: {ID: asc}) { nodes { ID partner { BusinessPartner } } } } }"#,
            )
            .await?;
        assert_eq!(
            data["crm"]["Opportunities"]["nodes"],
            serde_json::json!([{"ID": 1, "partner": {"BusinessPartner": "1000001"}}])
        );
        Ok(())
    }

    /// Like [`GraphEnv::data`], with variables.
    pub async fn data_with(
        &self,
        user: (&str, &str),
        query: &str,
        variables: Value,
    ) -> anyhow::Result<Value> {
        let answer = self.query(user, query, variables).await?;
        data_of(answer, query)
    }

    /// GET of a gateway path with Basic credentials: status and JSON body.
    pub async fn get(&self, path: &str, user: (&str, &str)) -> anyhow::Result<(u16, Value)> {
        let response = self
            .http
            .get(self.gateway.url(path))
            .basic_auth(user.0, Some(user.1))
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// POST of a gateway path without a body: status and JSON body.
    pub async fn post(&self, path: &str, user: (&str, &str)) -> anyhow::Result<(u16, Value)> {
        let response = self
            .http
            .post(self.gateway.url(path))
            .basic_auth(user.0, Some(user.1))
            .send()
            .await
            .with_context(|| format!("POST {path}"))?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.unwrap_or(Value::Null)))
    }

    /// Empties both backends' request logs.
    pub async fn clear_requests(&self) -> anyhow::Result<()> {
        self.s4.clear_requests().await?;
        self.crm.clear_requests().await
    }

    /// Both backends' request logs: (s4, crm).
    pub async fn requests(&self) -> anyhow::Result<(Vec<LoggedRequest>, Vec<LoggedRequest>)> {
        Ok((self.s4.requests().await?, self.crm.requests().await?))
    }
}

/// Writes the destinations and settings for `options` into `dir` and starts a gateway on them.
pub async fn start_gateway(
    dir: &std::path::Path,
    s4: &CapBackend,
    crm: &CapBackend,
    options: &GraphOptions,
) -> anyhow::Result<Gateway> {
    let proxy_type = if options.proxy.is_some() {
        "OnPremise"
    } else {
        "Internet"
    };
    let forwarding = |name: &str, url: String| {
        json!({"Name": name, "Type": "HTTP", "URL": url, "Authentication": "NoAuthentication",
               "ProxyType": proxy_type, "forwardAuthToken": "true"})
    };
    let technical = |name: &str, url: String| {
        json!({"Name": name, "Type": "HTTP", "URL": url, "Authentication": "BasicAuthentication",
               "User": "admin", "Password": "admin-pw", "ProxyType": proxy_type})
    };
    let s4_metadata_url = options
        .s4_metadata_url
        .clone()
        .unwrap_or_else(|| s4.base_url());
    let mut destinations = vec![
        forwarding("S4", s4.base_url()),
        technical("S4_TECH", s4.base_url()),
        technical("S4_META", s4_metadata_url),
        forwarding("CRM", crm.base_url()),
        technical("CRM_TECH", crm.base_url()),
    ];
    destinations.extend(options.extra_destinations.iter().cloned());
    let file = write_file(
        dir,
        "destinations.json",
        &Value::Array(destinations).to_string(),
    )?;

    let mut settings = format!(
        r#"
[destinations]
source = "file"
file = "{file}"

[identity]
mode = "development"
[[identity.users]]
name = "alice"
password = "alice-pw"
[[identity.users]]
name = "bob"
password = "bob-pw"
[[identity.users]]
name = "admin"
password = "admin-pw"
admin = true
"#
    );
    if let Some(proxy) = &options.proxy {
        settings.push_str(&format!("\n[connectivity]\nproxy = \"{proxy}\"\n"));
    }
    settings.push_str(&format!(
        "\n[graph]\nrefresh_interval_seconds = 0\nmetadata_timeout_seconds = {}\n",
        options.metadata_timeout_seconds
    ));
    if !options.limits.is_empty() {
        settings.push_str("\n[graph.limits]\n");
        for line in &options.limits {
            settings.push_str(line);
            settings.push('\n');
        }
    }
    for (index, (namespace, protocol)) in options.s4_namespaces.iter().enumerate() {
        let metadata = if index == 0 { "S4_META" } else { "S4_TECH" };
        settings.push_str(&format!(
            "\n[[graph.data_sources]]\nname = \"{namespace}\"\nservices = [{{ destination = \"S4\", path = \"{}\", metadata_destination = \"{metadata}\" }}]\n",
            protocol.s4_path()
        ));
    }
    settings.push_str(
        "\n[[graph.data_sources]]\nname = \"crm\"\nservices = [{ destination = \"CRM\", path = \"/odata/v4/crm\", metadata_destination = \"CRM_TECH\" }]\n",
    );
    settings.push_str(&options.extra_sources);
    if options.associations
        && let Some((namespace, _)) = options.s4_namespaces.first()
    {
        settings.push_str(&format!(
            r#"
[[graph.associations]]
from = "crm.Opportunities"
property = "accountBpId"
to = "{namespace}.A_BusinessPartner"
key = "BusinessPartner"
name = "partner"
multiplicity = "one"

[[graph.associations]]
from = "{namespace}.A_BusinessPartner"
property = "BusinessPartner"
to = "crm.Opportunities"
key = "accountBpId"
name = "opportunities"
multiplicity = "many"
"#
        ));
    }
    settings.push_str(&options.extra_settings);
    write_file(dir, "settings.toml", &settings)?;
    let environment = Environment::default();
    Gateway::start(&settings, environment)
        .await
        .with_context(|| format!("starting the gateway with settings:\n{settings}"))
}

/// POSTs `{query, variables}` to `/graphql` with Basic credentials; the answer must be JSON.
pub async fn post_graphql(
    http: &reqwest::Client,
    gateway: &Gateway,
    user: (&str, &str),
    query: &str,
    variables: Value,
) -> anyhow::Result<Value> {
    let response = http
        .post(gateway.url("graphql"))
        .basic_auth(user.0, Some(user.1))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .context("POST /graphql")?;
    let status = response.status().as_u16();
    let text = response.text().await.context("reading /graphql")?;
    if status != 200 {
        bail!("POST /graphql as {}: HTTP {status}: {text}", user.0);
    }
    serde_json::from_str(&text).with_context(|| format!("/graphql answered no JSON: {text}"))
}

/// `data` of an answer without errors.
pub fn data_of(answer: Value, query: &str) -> anyhow::Result<Value> {
    if let Some(errors) = answer.get("errors")
        && !errors.as_array().is_none_or(Vec::is_empty)
    {
        bail!("errors for {query}:\n{errors:#}");
    }
    Ok(answer.get("data").cloned().unwrap_or(Value::Null))
}

/// The errors of an answer (empty when there are none).
pub fn errors_of(answer: &Value) -> Vec<Value> {
    answer
        .get("errors")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The rows of a CAP answer: v4 `value`, v2 `d.results`; each without OData control keys
/// (`@odata.*`, `__metadata`, `__deferred` navigations).
pub fn cap_rows(body: &Value) -> Vec<Map<String, Value>> {
    let rows = body["value"]
        .as_array()
        .or_else(|| body["d"]["results"].as_array())
        .unwrap_or_else(|| panic!("no collection in {body}"));
    rows.iter()
        .filter_map(Value::as_object)
        .map(strip_control)
        .collect()
}

/// An entity without OData control keys, expanded relations stripped the same way.
pub fn strip_control(row: &Map<String, Value>) -> Map<String, Value> {
    row.iter()
        .filter(|(key, value)| {
            !key.starts_with('@')
                && !key.contains("@odata")
                && key.as_str() != "__metadata"
                && value.get("__deferred").is_none()
        })
        .map(|(key, value)| {
            let value = match value {
                Value::Object(object) if object.contains_key("results") => Value::Array(
                    object["results"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_object)
                        .map(|o| Value::Object(strip_control(o)))
                        .collect(),
                ),
                Value::Object(object) => Value::Object(strip_control(object)),
                Value::Array(items) => Value::Array(
                    items
                        .iter()
                        .map(|item| match item {
                            Value::Object(object) => Value::Object(strip_control(object)),
                            other => other.clone(),
                        })
                        .collect(),
                ),
                other => other.clone(),
            };
            (key.clone(), value)
        })
        .collect()
}

/// The data source `name` as a `/readyz` answer reports it.
pub fn readyz_source(ready: &Value, name: &str) -> Value {
    ready["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|source| source["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} is reported: {ready:#}"))
}

/// A value in a form both sides share: JSON numbers as their decimal text, timestamps without
/// a zero fraction (`…:43.000Z` and `…:43Z` are the same instant), recursively.
pub fn comparable(value: &Value) -> Value {
    match value {
        // JSON numbers compare by value: `5.0` (a v2 Edm.Double) is `5`.
        Value::Number(number) => Value::String(match number.as_f64() {
            Some(float) if number.is_f64() && float.fract() == 0.0 && float.abs() < 9e15 => {
                format!("{}", float as i64)
            }
            _ => number.to_string(),
        }),
        Value::String(text) => Value::String(
            match text.strip_suffix('Z').and_then(|t| t.split_once('.')) {
                Some((head, fraction))
                    if head.contains('T') && fraction.bytes().all(|b| b == b'0') =>
                {
                    format!("{head}Z")
                }
                _ => text.clone(),
            },
        ),
        Value::Array(items) => Value::Array(items.iter().map(comparable).collect()),
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(key, value)| (key.clone(), comparable(value)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A GraphQL answer in CAP's shape: a connection `{nodes, totalCount}` under `field` becomes the
/// node list under `field` and the count under `field@count`, recursively.
pub fn flatten_connections(value: &Value) -> Value {
    match value {
        Value::Object(object) => {
            let mut out = Map::new();
            for (key, value) in object {
                match value {
                    Value::Object(inner) if inner.contains_key("nodes") => {
                        out.insert(key.clone(), flatten_connections(&inner["nodes"]));
                        if let Some(count) = inner.get("totalCount") {
                            out.insert(format!("{key}@count"), count.clone());
                        }
                    }
                    other => {
                        out.insert(key.clone(), flatten_connections(other));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(flatten_connections).collect()),
        other => other.clone(),
    }
}

/// CAP's v4 `field@odata.count` renamed to `field@count`, recursively, so that it lines up with
/// [`flatten_connections`].
pub fn cap_counts(value: &Value) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(key, value)| {
                    let key = match key.strip_suffix("@odata.count") {
                        Some(field) if !field.is_empty() => format!("{field}@count"),
                        _ => key.clone(),
                    };
                    (key, cap_counts(value))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(cap_counts).collect()),
        other => other.clone(),
    }
}

/// `value` reduced to the keys `template` has, recursively (arrays pairwise; extra items of
/// `value` kept whole so that a length difference still shows).
pub fn like(template: &Value, value: &Value) -> Value {
    match (template, value) {
        (Value::Object(template), Value::Object(object)) => Value::Object(
            template
                .iter()
                .map(|(key, inner)| {
                    let found = object.get(key).unwrap_or(&Value::Null);
                    (key.clone(), like(inner, found))
                })
                .collect(),
        ),
        (Value::Array(template), Value::Array(items)) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(index, item)| match template.get(index) {
                    Some(inner) => like(inner, item),
                    None => item.clone(),
                })
                .collect(),
        ),
        _ => value.clone(),
    }
}

/// Asserts that a GraphQL answer holds the same data as CAP's answer: connections flattened,
/// CAP reduced to the fields the query selected, values in a shared form.
pub fn assert_same_data(graphql: &Value, cap: &Value, what: &str) {
    let ours = comparable(&flatten_connections(graphql));
    let theirs = comparable(&like(&ours, &cap_counts(cap)));
    assert_eq!(ours, theirs, "{what}");
}
