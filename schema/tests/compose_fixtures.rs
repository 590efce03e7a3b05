//! Every real `$metadata` fixture composes, alone and all together in one graph, and the GraphQL
//! schema builds from the result.

use std::path::PathBuf;
use std::sync::Arc;

use bizgraph_schema::compose::Level;
use bizgraph_schema::graphql::{SchemaOptions, build};
use bizgraph_schema::{ServiceInput, SourceInput, compose};

fn fixtures_dir() -> PathBuf {
    match std::env::var_os("BIZGRAPH_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/odata"),
    }
}

fn fixtures() -> Vec<(
    String,
    bizgraph_schema::metadata::Metadata,
    serde_json::Value,
)> {
    let dir = fixtures_dir();
    let counts: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.join("counts.json")).expect("counts.json is readable"),
    )
    .expect("counts.json is JSON");
    let mut out = Vec::new();
    let mut names: Vec<String> = counts
        .as_object()
        .expect("counts.json is an object")
        .keys()
        .cloned()
        .collect();
    names.sort();
    for name in names {
        let bytes = std::fs::read(dir.join(&name)).expect("fixture is readable");
        let parsed = bizgraph_schema::metadata::parse(&bytes).expect("fixture parses");
        out.push((name.clone(), parsed.metadata, counts[&name].clone()));
    }
    out
}

fn namespace_of(file: &str) -> String {
    file.split('.').next().unwrap_or(file).to_lowercase()
}

#[test]
fn each_fixture_composes_with_every_entity_set_accounted_for() {
    for (file, metadata, counts) in fixtures() {
        let namespace = namespace_of(&file);
        let sources = [SourceInput {
            name: &namespace,
            services: vec![ServiceInput {
                destination: "D",
                path: "/svc",
                metadata: &metadata,
            }],
        }];
        let composition = compose(&sources, &[]);
        let graph = &composition.graph;
        let left_out = composition
            .findings
            .iter()
            .filter(|f| f.level == Level::Warning && f.message.starts_with("entity set "))
            .count();
        let sets = counts["entity_sets"].as_u64().expect("entity_sets count") as usize;
        assert_eq!(graph.entities.len() + left_out, sets, "{file}: entity sets");
        for entity in &graph.entities {
            for relation in &entity.relations {
                assert!(
                    relation.target < graph.entities.len(),
                    "{file}: relation target"
                );
            }
            for &key in &entity.key {
                assert!(key < entity.fields.len(), "{file}: key index");
            }
        }
        let schema = build(Arc::new(graph.clone()), SchemaOptions::default())
            .unwrap_or_else(|error| panic!("{file}: schema does not build: {error}"));
        let sdl = schema.sdl();
        assert!(
            sdl.contains(&format!("{}: ", graph.namespaces[0].gql_name)),
            "{file}: root field"
        );
    }
}

#[test]
fn all_fixtures_compose_into_one_graph_with_unique_type_names() {
    let fixtures = fixtures();
    let names: Vec<String> = fixtures
        .iter()
        .map(|(file, _, _)| namespace_of(file))
        .collect();
    let sources: Vec<SourceInput<'_>> = fixtures
        .iter()
        .zip(&names)
        .map(|((_, metadata, _), name)| SourceInput {
            name,
            services: vec![ServiceInput {
                destination: "D",
                path: "/svc",
                metadata,
            }],
        })
        .collect();
    let composition = compose(&sources, &[]);
    let graph = composition.graph;
    // Two fixtures map to the same lowercase stem (API_TEST_SRV v2 and v4, Northwind v2 and
    // v4): their root fields must still be distinct.
    let mut roots: Vec<&str> = graph
        .namespaces
        .iter()
        .map(|n| n.gql_name.as_str())
        .collect();
    roots.sort();
    roots.dedup();
    assert_eq!(roots.len(), graph.namespaces.len());
    let mut types: Vec<&str> = graph.entities.iter().map(|e| e.gql_type.as_str()).collect();
    types.extend(graph.complex_types.iter().map(|c| c.gql_type.as_str()));
    types.extend(graph.enums.iter().map(|e| e.gql_type.as_str()));
    let total = types.len();
    types.sort();
    types.dedup();
    assert_eq!(types.len(), total, "type names are unique");
    let schema = build(Arc::new(graph), SchemaOptions::default()).expect("schema builds");
    assert!(schema.sdl().len() > 100_000);
}
