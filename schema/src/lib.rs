//! Composition of parsed OData models into one graph model, and everything rendered from it.
//!
//! Invariant: no I/O. Inputs are [`bizgraph_metadata::Metadata`] values; outputs are data (the composed
//! model, findings, the GraphQL schema and OData query plans) that the gateway executes.

pub mod call;
pub mod compose;
pub mod csdl;
pub mod edm;
pub mod execute;
pub mod graphql;
pub mod literal;
pub mod model;
pub mod names;
pub mod odata_url;
pub mod plan;
pub mod query;
pub mod temporal;

pub use bizgraph_metadata as metadata;
pub use compose::{Composition, CrossAssociation, Finding, ServiceInput, SourceInput, compose};
pub use model::Graph;
