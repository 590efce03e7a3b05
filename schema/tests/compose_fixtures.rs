//! Every real `$metadata` fixture composes, alone and all together in one graph, and the GraphQL
//! schema builds from the result.

mod common;

use std::sync::Arc;

use bizgraph_schema::compose::Level;
use bizgraph_schema::graphql::{SchemaOptions, build};
use bizgraph_schema::model::EntityKind;
use bizgraph_schema::{ServiceInput, SourceInput, compose};

use common::{fixtures, namespace_of};

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
        let count = |key: &str| {
            counts[key]
                .as_u64()
                .unwrap_or_else(|| panic!("{key} count")) as usize
        };
        let of_kind = |kind: EntityKind| graph.entities.iter().filter(|e| e.kind == kind).count();
        assert_eq!(
            of_kind(EntityKind::Set) + left_out,
            count("entity_sets"),
            "{file}: entity sets"
        );
        assert_eq!(
            of_kind(EntityKind::Singleton),
            count("singletons"),
            "{file}: singletons"
        );
        // Every entity type is in the graph: held by a set or singleton, or contained.
        let types: std::collections::HashSet<&str> = graph
            .entities
            .iter()
            .map(|e| e.type_name.as_str())
            .collect();
        let left_out_types = composition
            .findings
            .iter()
            .filter(|f| f.level == Level::Warning && f.message.starts_with("entity type "))
            .count();
        assert_eq!(
            types.len() + left_out_types,
            count("entity_types"),
            "{file}: entity types"
        );
        for entity in graph
            .entities
            .iter()
            .filter(|e| e.kind == EntityKind::Contained)
        {
            assert!(
                entity.set_name.is_empty() && entity.gql_field.is_empty(),
                "{file}"
            );
            assert!(
                graph
                    .entities
                    .iter()
                    .filter(|other| other.kind != EntityKind::Contained)
                    .all(|other| other.type_name != entity.type_name),
                "{file}: {} is held by a set and also contained",
                entity.type_name
            );
        }
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

#[test]
fn illegal_and_clashing_names_are_renamed_the_same_way_every_time_and_reported() {
    let text = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
<edmx:DataServices><Schema Namespace="N" xmlns="http://docs.oasis-open.org/odata/ns/edm">
 <EntityType Name="T"><Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
  <Property Name="__secret" Type="Edm.String"/>
  <Property Name="x_secret" Type="Edm.String"/>
  <NavigationProperty Name="ID" Type="N.T"/>
 </EntityType>
 <EntityContainer Name="C"><EntitySet Name="T" EntityType="N.T"><NavigationPropertyBinding Path="ID" Target="T"/></EntitySet><EntitySet Name="T_filter" EntityType="N.T"/></EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>"#;
    let metadata = bizgraph_schema::metadata::parse(text.as_bytes())
        .expect("parses")
        .metadata;
    let compose_once = || {
        compose(
            &[SourceInput {
                name: "my-ns",
                services: vec![ServiceInput {
                    destination: "D",
                    path: "/svc",
                    metadata: &metadata,
                }],
            }],
            &[],
        )
    };
    let first = compose_once();
    let second = compose_once();
    let names = |c: &bizgraph_schema::Composition| {
        c.graph
            .entities
            .iter()
            .map(|e| {
                let mut names: Vec<String> = e.fields.iter().map(|f| f.gql_name.clone()).collect();
                names.extend(e.relations.iter().map(|r| r.gql_name.clone()));
                (e.gql_type.clone(), names)
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&first), names(&second), "deterministic");
    let entities = names(&first);
    assert_eq!(entities[0].0, "my_ns_T");
    // `T_filter` would clash with the filter type generated for `T`.
    assert_eq!(entities[1].0, "my_ns_T_filter_2");
    assert_eq!(
        entities[0].1,
        ["ID", "x_secret_2", "x_secret", "ID_2"],
        "`__secret` is reserved in GraphQL and becomes `x_secret`, which the legal `x_secret` keeps; the navigation clashes with a property"
    );
    let findings: Vec<String> = first.findings.iter().map(|f| f.to_string()).collect();
    assert_eq!(first.graph.namespaces[0].gql_name, "my_ns");
    assert!(
        !findings.iter().any(|f| f.contains("property T.x_secret ")),
        "the legal name is kept: {findings:#?}"
    );
    for expected in [
        "property T.__secret is exposed as x_secret_2: the name is not a legal GraphQL name and x_secret belongs to another field",
        "navigation T.ID is exposed as ID_2: a property has that name",
    ] {
        assert!(
            findings.iter().any(|f| f.ends_with(expected)),
            "{expected:?} missing from {findings:#?}"
        );
    }
}
