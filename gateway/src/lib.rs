//! The bizgraph gateway: the only crate that knows HTTP, credentials and wire formats.
//!
//! It holds the upstream client, the destination resolution and token cache, inbound identity,
//! the HTTP server and the `metadata inspect` report; GraphQL and OData endpoints follow.

pub mod changeset;
pub mod demo;
pub mod destinations;
pub mod execute;
pub mod explorer;
pub mod graph;
pub mod graphql_http;
pub mod identity;
pub mod inspect;
pub mod jwt;
pub mod oauth;
pub mod odata_batch;
pub mod odata_http;
pub mod odata_write;
pub mod saml;
pub mod server;
pub mod startup;
pub mod tokens;
pub mod upstream;
pub mod wire;
