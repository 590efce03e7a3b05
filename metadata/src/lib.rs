//! OData `$metadata` documents parsed into one typed, version-independent CSDL model.
//!
//! [`parse`] reads EDMX v2 (with SAP annotations), CSDL XML v4 and v4.01 from bytes in one streaming
//! pass, then resolves the model: aliases replaced by namespaces, v2 associations turned into
//! navigation properties and bindings, out-of-line annotations attached to their targets, and
//! every dangling reference reported as a [`Diagnostic`].
//!
//! Invariants: no I/O, no async, no HTTP and no GraphQL here; a document that parses always yields
//! a usable model, and problems in one element never hide the rest.
//!
//! ```
//! let xml = br#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
//!   <edmx:DataServices><Schema Namespace="Demo" xmlns="http://docs.oasis-open.org/odata/ns/edm">
//!     <EntityType Name="Item"><Key><PropertyRef Name="ID"/></Key>
//!       <Property Name="ID" Type="Edm.Int32" Nullable="false"/></EntityType>
//!   </Schema></edmx:DataServices></edmx:Edmx>"#;
//! let parsed = bizgraph_metadata::parse(xml).expect("valid document");
//! let item = parsed.metadata.entity_type("Demo.Item").expect("declared");
//! assert_eq!(&*item.key[0].name, "ID");
//! assert!(parsed.diagnostics.is_empty());
//! ```

pub mod annotations;
mod error;
mod model;
mod parse;
mod resolve;

pub use annotations::{Annotation, Annotations, Expr, SapAttributes, Terms};
pub use error::{Diagnostic, Error, Location, Severity};
pub use model::*;
pub use parse::{Parsed, parse};
