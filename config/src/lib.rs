//! Settings, destinations and graph configuration for bizgraph: plain serde data plus loading and checking.
//!
//! This crate knows nothing of HTTP serving, OData parsing or GraphQL; the gateway feeds its checked
//! values to the other crates. It fills in with the destinations issue.
