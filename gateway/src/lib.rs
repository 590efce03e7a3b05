//! The bizgraph gateway: the only crate that knows HTTP, credentials and wire formats.
//!
//! Today it holds the upstream client (a plain `$metadata` GET) and the `metadata inspect`
//! report; the server, destinations, token cache, GraphQL and OData endpoints follow.

pub mod inspect;
pub mod upstream;
