//! Helpers shared by the schema suites: the real fixtures and a two-namespace graph (an S/4-like
//! v2 source and a CRM-like v4 source joined by configured associations both ways).

// Each suite uses a different part of this module.
#![allow(dead_code)]

use std::path::PathBuf;

use bizgraph_schema::metadata::{Metadata, parse};
use bizgraph_schema::model::Graph;
use bizgraph_schema::{CrossAssociation, ServiceInput, SourceInput, compose};

/// The real `$metadata` fixtures: `BIZGRAPH_FIXTURES`, else `../shared/fixtures/odata`.
pub fn fixtures_dir() -> PathBuf {
    match std::env::var_os("BIZGRAPH_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/odata"),
    }
}

/// Every fixture named in `counts.json`, sorted: file name, parsed model, its counts.
pub fn fixtures() -> Vec<(String, Metadata, serde_json::Value)> {
    let dir = fixtures_dir();
    let counts: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("counts.json")).expect("counts.json is readable"),
    )
    .expect("counts.json is JSON");
    let mut names: Vec<String> = counts
        .as_object()
        .expect("counts.json is an object")
        .keys()
        .cloned()
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let bytes = std::fs::read(dir.join(&name)).expect("fixture is readable");
            let parsed = parse(&bytes).expect("fixture parses");
            let file_counts = counts[&name].clone();
            (name, parsed.metadata, file_counts)
        })
        .collect()
}

/// A namespace name for a fixture file: its stem, lowercase.
pub fn namespace_of(file: &str) -> String {
    file.split('.').next().unwrap_or(file).to_lowercase()
}

/// An inline document's model.
pub fn metadata(text: &str) -> Metadata {
    parse(text.as_bytes())
        .expect("inline document parses")
        .metadata
}

/// `sap.s4` (the v2 document, destination S4) and `crm` (the v4 document, destination CRM),
/// with `crm.Opportunities.partner` (to one) and `sap.s4.A_BusinessPartner.opportunities` (to
/// many) joined on `accountBpId` = `BusinessPartner`.
pub fn two_namespaces(v2: &Metadata, v4: &Metadata) -> Graph {
    let sources = [
        SourceInput {
            name: "sap.s4",
            services: vec![ServiceInput {
                destination: "S4",
                path: "/sap/opu/odata/sap/API",
                metadata: v2,
            }],
        },
        SourceInput {
            name: "crm",
            services: vec![ServiceInput {
                destination: "CRM",
                path: "/odata/v4/crm",
                metadata: v4,
            }],
        },
    ];
    let associations = [
        CrossAssociation {
            from: "crm.Opportunities".into(),
            to: "sap.s4.A_BusinessPartner".into(),
            pairs: vec![("accountBpId".into(), "BusinessPartner".into())],
            name: "partner".into(),
            many: false,
        },
        CrossAssociation {
            from: "sap.s4.A_BusinessPartner".into(),
            to: "crm.Opportunities".into(),
            pairs: vec![("BusinessPartner".into(), "accountBpId".into())],
            name: "opportunities".into(),
            many: true,
        },
    ];
    compose(&sources, &associations).graph
}
