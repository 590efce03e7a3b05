//! Embedded demo backends: an S/4HANA-like OData v2 service and a CAP-like CRM OData v4 service,
//! in memory, so that `bizgraph demo` needs no other process and no network.
//!
//! Both are small but speak their protocol as the real servers do: `$metadata` with SAP
//! annotations (v2) and vocabulary annotations (v4); `$select`, `$expand`, `$filter`,
//! `$orderby`, `$top`, `$skip`, counts, search and server-driven paging; SAP's wire JSON
//! (`__metadata`, `__deferred`, `/Date(..)/`, decimals as strings) and OData JSON 4.0; writes
//! with ETags, and SAP's CSRF token protocol on the v2 service. Callers authenticate with HTTP
//! Basic as one of [`USERS`], and each user sees only the rows of their region.
//!
//! | service | path |
//! |---|---|
//! | S/4 `API_SALES_ORDER_SRV` (v2) | [`S4_SERVICE_PATH`]: `A_BusinessPartner`, `A_Product`, `A_SalesOrder`, `A_SalesOrderItem` |
//! | CRM `CrmService` (v4) | [`CRM_SERVICE_PATH`]: `Accounts`, `Opportunities` |
//!
//! The data (see `data.rs`) links the two: each CRM account carries its S/4 business partner id
//! in `bpId`, each opportunity in `accountBpId`.

mod data;
mod error;
mod filter;
mod model;
mod query;
mod server;
mod value;
mod wire;

#[cfg(test)]
mod tests;

use axum::Router;
use tokio::task::JoinHandle;

/// Path of the S/4-like OData v2 service below its origin.
pub const S4_SERVICE_PATH: &str = model::S4_ROOT;

/// Path of the CRM-like OData v4 service below its origin.
pub const CRM_SERVICE_PATH: &str = model::CRM_ROOT;

/// Most rows in one answer; more come with a next link (`__next` / `@odata.nextLink`).
pub const PAGE_SIZE: usize = 100;

/// A user of the demo backends: HTTP Basic credentials and the sales region whose rows they see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoUser {
    /// User name.
    pub name: &'static str,
    /// Password (the demo's, not a secret).
    pub password: &'static str,
    /// Region (`EU` or `US`) of the partners, orders, accounts and opportunities they see.
    pub region: &'static str,
}

/// The demo users: `alice` sees region `EU`, `bob` region `US`; products are visible to both.
/// In the gateway's settings `alice` is the administrator (`POST /admin/refresh`).
pub const USERS: &[DemoUser] = &[
    DemoUser {
        name: "alice",
        password: "alice",
        region: "EU",
    },
    DemoUser {
        name: "bob",
        password: "bob",
        region: "US",
    },
];

/// The two demo services, running on loopback ports until this value is dropped.
#[derive(Debug)]
pub struct DemoBackends {
    /// Root URL of the S/4-like v2 service, such as
    /// `http://127.0.0.1:41234/sap/opu/odata/sap/API_SALES_ORDER_SRV`.
    pub s4_url: String,
    /// Root URL of the CRM-like v4 service, such as `http://127.0.0.1:41235/odata/v4/crm`.
    pub crm_url: String,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for DemoBackends {
    /// Stops both servers.
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts both services on `127.0.0.1`, each on a port the OS chooses. Keep the returned value
/// alive as long as the services are needed: dropping it stops them.
pub async fn start() -> std::io::Result<DemoBackends> {
    let s4 = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let crm = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let s4_url = format!("http://{}{S4_SERVICE_PATH}", s4.local_addr()?);
    let crm_url = format!("http://{}{CRM_SERVICE_PATH}", crm.local_addr()?);
    let tasks = [(s4, s4_router(), "s4"), (crm, crm_router(), "crm")]
        .into_iter()
        .map(|(listener, router, name)| {
            tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, router).await {
                    tracing::error!(service = name, error = %error, "demo backend stopped");
                }
            })
        })
        .collect();
    Ok(DemoBackends {
        s4_url,
        crm_url,
        tasks,
    })
}

/// The S/4-like OData v2 service (fresh data), routed at [`S4_SERVICE_PATH`].
pub fn s4_router() -> Router {
    s4_router_paged(PAGE_SIZE)
}

/// The CRM-like OData v4 service (fresh data), routed at [`CRM_SERVICE_PATH`].
pub fn crm_router() -> Router {
    crm_router_paged(PAGE_SIZE)
}

/// The S/4 service with another page size (tests).
pub(crate) fn s4_router_paged(page_size: usize) -> Router {
    let service = &model::S4;
    server::router(
        service,
        data::s4_store(service),
        page_size,
        Some(data::derive_s4),
    )
}

/// The CRM service with another page size (tests).
pub(crate) fn crm_router_paged(page_size: usize) -> Router {
    let service = &model::CRM;
    server::router(service, data::crm_store(service), page_size, None)
}

/// Settings (TOML) and destinations (the `destinations` variable's JSON) for a gateway over the
/// demo backends: one data source per service, the partner links in both directions, and the
/// demo users as development users whose credentials the destinations forward.
pub fn gateway_config(backends: &DemoBackends, listen: std::net::SocketAddr) -> (String, String) {
    let origin = |url: &str, path: &str| url.strip_suffix(path).unwrap_or(url).to_owned();
    let s4 = origin(&backends.s4_url, S4_SERVICE_PATH);
    let crm = origin(&backends.crm_url, CRM_SERVICE_PATH);
    let technical = USERS[0];
    let destinations = serde_json::json!([
        { "Name": "S4", "URL": s4, "Authentication": "NoAuthentication", "ProxyType": "Internet", "forwardAuthToken": "true" },
        { "Name": "CRM", "URL": crm, "Authentication": "NoAuthentication", "ProxyType": "Internet", "forwardAuthToken": "true" },
        { "Name": "S4_METADATA", "URL": s4, "Authentication": "BasicAuthentication", "User": technical.name, "Password": technical.password, "ProxyType": "Internet" },
        { "Name": "CRM_METADATA", "URL": crm, "Authentication": "BasicAuthentication", "User": technical.name, "Password": technical.password, "ProxyType": "Internet" },
    ]);
    // The first user (alice) is also the administrator, so that the demo can show
    // `POST /admin/refresh`; the others may not refresh.
    let users: String = USERS
        .iter()
        .enumerate()
        .map(|(index, user)| {
            format!(
                "[[identity.users]]\nname = \"{}\"\npassword = \"{}\"\nadmin = {}\n",
                user.name,
                user.password,
                index == 0
            )
        })
        .collect();
    let settings = format!(
        r#"[server]
listen = "{listen}"

[destinations]
source = "environment"

[identity]
mode = "development"
{users}
[graph]
refresh_interval_seconds = 0

[[graph.data_sources]]
name = "sap.s4"
services = [{{ destination = "S4", path = "{S4_SERVICE_PATH}", metadata_destination = "S4_METADATA" }}]

[[graph.data_sources]]
name = "crm"
services = [{{ destination = "CRM", path = "{CRM_SERVICE_PATH}", metadata_destination = "CRM_METADATA" }}]

[[graph.associations]]
from = "crm.Opportunities"
property = "accountBpId"
to = "sap.s4.A_BusinessPartner"
key = "BusinessPartner"
name = "partner"

[[graph.associations]]
from = "crm.Accounts"
property = "bpId"
to = "sap.s4.A_BusinessPartner"
key = "BusinessPartner"
name = "partner"

[[graph.associations]]
from = "sap.s4.A_BusinessPartner"
property = "BusinessPartner"
to = "crm.Opportunities"
key = "accountBpId"
name = "opportunities"
multiplicity = "many"
"#
    );
    (settings, destinations.to_string())
}

/// A query to try on the demo graph: opportunities from the CRM with their S/4 partner and the
/// partner's sales orders, three requests' worth of data in one round trip.
pub const TRY_QUERY: &str = "{ crm { Opportunities(top: 3, orderBy: {amount: desc}) { totalCount nodes { title amount stage partner { BusinessPartnerFullName to_SalesOrder { nodes { SalesOrder TotalNetAmount CreationDate } } } } } } }";
