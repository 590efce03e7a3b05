//! Every real `$metadata` document in `../shared/fixtures/odata/` parses without errors and its
//! element counts match the independent counts in `counts.json`.

use bizgraph_metadata::{Counts, Severity, parse};
use common::fixtures_dir;

mod common;

fn expected_counts(entry: &serde_json::Value) -> (String, Counts) {
    let n = |key: &str| {
        entry[key]
            .as_u64()
            .unwrap_or_else(|| panic!("counts.json lacks {key}")) as usize
    };
    let counts = Counts {
        schemas: n("schemas"),
        entity_types: n("entity_types"),
        complex_types: n("complex_types"),
        enum_types: n("enum_types"),
        properties: n("properties"),
        navigation_properties: n("navigation_properties"),
        keys_composite: n("keys_composite"),
        entity_sets: n("entity_sets"),
        singletons: n("singletons"),
        associations: n("associations"),
        operations: n("operations"),
        operation_imports: n("operation_imports"),
    };
    (
        entry["version"].as_str().expect("version").to_owned(),
        counts,
    )
}

/// Dangling references that really are in a fixture, by line and message part. Only the SAP
/// Cloud SDK's test service carries them, on purpose: it tests how clients cope with broken
/// metadata (an entity set type without key, operations bound to an entity set name instead of a
/// type, imports of bound or missing operations). Every other fixture must resolve completely.
fn known_defects(file: &str) -> &'static [(u32, &'static str)] {
    match file {
        "API_TEST_SRV.v4.edmx" => &[
            (
                62,
                "entity type has no key but is the type of an entity set",
            ),
            (278, "unknown type API_TEST_SRV.A_TestEntity"),
            (282, "unknown type API_TEST_SRV.A_TestEntity"),
            (288, "unknown type API_TEST_SRV.A_TestEntity"),
            (
                355,
                "imported operation API_TEST_SRV.TestActionImportNoActionDefined not found",
            ),
            (
                402,
                "imported operation boundFunctionWithoutArguments not found",
            ),
            (
                403,
                "imported operation boundFunctionWithArguments not found",
            ),
            (
                404,
                "imported operation boundActionWithoutArguments not found",
            ),
        ],
        _ => &[],
    }
}

#[test]
fn every_fixture_parses_without_errors_and_matches_independent_counts() {
    let dir = fixtures_dir();
    let counts: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("counts.json")).expect("counts.json next to the fixtures"),
    )
    .expect("counts.json is JSON");
    let counts = counts.as_object().expect("counts.json is an object");
    assert!(
        counts.len() >= 16,
        "expected the full fixture set, found {}",
        counts.len()
    );
    let mut failures = Vec::new();
    for (file, entry) in counts {
        let bytes = std::fs::read(dir.join(file)).expect("fixture listed in counts.json exists");
        let parsed = match parse(&bytes) {
            Ok(parsed) => parsed,
            Err(error) => {
                failures.push(format!("{file}: {error}"));
                continue;
            }
        };
        let (version, expected) = expected_counts(entry);
        if parsed.metadata.version.as_str() != version
            && !(version == "1.0" && parsed.metadata.version.as_str() == "2.0")
        {
            failures.push(format!(
                "{file}: version {} != {version}",
                parsed.metadata.version
            ));
        }
        let actual = parsed.metadata.counts();
        if actual != expected {
            failures.push(format!(
                "{file}: counts differ\n  ours:     {actual:?}\n  expected: {expected:?}"
            ));
        }
        let errors: Vec<(u32, &str)> = parsed
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .map(|d| (d.at.line, d.message.as_str()))
            .collect();
        let known = known_defects(file);
        if errors.len() != known.len()
            || !errors
                .iter()
                .zip(known)
                .all(|((line, message), (known_line, part))| {
                    line == known_line && message.contains(part)
                })
        {
            failures.push(format!(
                "{file}: error diagnostics {errors:#?}\n  expected {known:#?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
