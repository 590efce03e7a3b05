//! Composition of parsed OData models into one graph model, and everything rendered from it.
//!
//! Invariant: no I/O. Inputs are [`bizgraph_metadata::Metadata`] values; outputs are data (the composed
//! model, diagnostics, query plans) that the gateway executes. It fills in with the composition issue.

pub use bizgraph_metadata as metadata;
