//! Helpers shared by the metadata test suites: the fixture folder and small inline documents.

// Each suite uses a different part of this module.
#![allow(dead_code)]

use std::path::PathBuf;

/// The real `$metadata` fixtures: `BIZGRAPH_FIXTURES`, else `../shared/fixtures/odata`.
pub fn fixtures_dir() -> PathBuf {
    match std::env::var_os("BIZGRAPH_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/odata"),
    }
}

/// The bytes of one fixture.
pub fn fixture_bytes(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The first lines of a v4 document: the schema `Shop` opens on line 3, so the first line of
/// `body` (after its leading newline) is line 4.
pub const V4_HEAD: &str = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
<edmx:DataServices>
<Schema Namespace="Shop" xmlns="http://docs.oasis-open.org/odata/ns/edm">"#;

/// The same for v2, with the `m:` and `sap:` namespaces declared.
pub const V2_HEAD: &str = r#"<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" xmlns:sap="http://www.sap.com/Protocols/SAPData">
<edmx:DataServices m:DataServiceVersion="2.0">
<Schema Namespace="Shop" xmlns="http://schemas.microsoft.com/ado/2008/09/edm">"#;

/// Closes what the heads open.
pub const TAIL: &str = "\n</Schema>\n</edmx:DataServices>\n</edmx:Edmx>\n";

/// A v4 document around `body`.
pub fn v4(body: &str) -> String {
    format!("{V4_HEAD}{body}{TAIL}")
}

/// A v2 document around `body`.
pub fn v2(body: &str) -> String {
    format!("{V2_HEAD}{body}{TAIL}")
}
