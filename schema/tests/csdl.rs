//! The OData v4 `$metadata` rendered from the composed graph parses with our own CSDL parser and
//! composes back into the same graph, for every real fixture; v2 sources come out as v4 with their
//! `sap:` annotations as vocabulary terms; cross-source associations reference the other
//! namespace's document; the service document lists what the container offers.

mod common;

use bizgraph_schema::csdl::{metadata_document, names, namespace_schema_name, service_document};
use bizgraph_schema::edm::EdmType;
use bizgraph_schema::metadata::annotations::ValueOrPath;
use bizgraph_schema::metadata::{Metadata, Parsed, parse};
use bizgraph_schema::model::{EntityKind, FieldKind, Graph, OperationKind, RelationKind};
use bizgraph_schema::{CrossAssociation, ServiceInput, SourceInput, compose};
use serde_json::json;

use common::{fixtures, namespace_of};

fn source<'a>(name: &'a str, metadata: &'a Metadata) -> SourceInput<'a> {
    SourceInput {
        name,
        services: vec![ServiceInput {
            destination: "D",
            path: "/svc",
            metadata,
        }],
    }
}

fn parse_text(text: &str) -> Metadata {
    parse(text.as_bytes())
        .expect("test document parses")
        .metadata
}

/// Parses a rendered document and insists on no error diagnostics.
fn reparse(label: &str, document: &str) -> Parsed {
    reparse_allowing(label, document, 0)
}

/// Parses a rendered document and insists on no error diagnostics but `keyless` reports of an
/// entity set whose type has no key: the graph has no key for a set whose backend declared none
/// (API_TEST_SRV's `A_TestEntityWithNoKeys` is such a test case), and none is made up for it.
fn reparse_allowing(label: &str, document: &str, keyless: usize) -> Parsed {
    let parsed = parse(document.as_bytes())
        .unwrap_or_else(|error| panic!("{label}: rendered document does not parse: {error}"));
    let (no_key, errors): (Vec<String>, Vec<String>) = parsed
        .errors()
        .map(ToString::to_string)
        .partition(|e| e.ends_with("entity type has no key but is the type of an entity set"));
    assert!(errors.is_empty(), "{label}: {errors:#?}");
    assert_eq!(no_key.len(), keyless, "{label}: {no_key:#?}");
    parsed
}

/// The v4 name a field's primitive type must have after up-conversion.
fn v4_name(ty: EdmType) -> &'static str {
    match ty {
        EdmType::DateTime => "Edm.DateTimeOffset",
        EdmType::Time => "Edm.TimeOfDay",
        other => other.name(),
    }
}

fn upconverted(kind: FieldKind) -> FieldKind {
    match kind {
        FieldKind::Scalar(EdmType::DateTime) => FieldKind::Scalar(EdmType::DateTimeOffset),
        FieldKind::Scalar(EdmType::Time) => FieldKind::Scalar(EdmType::TimeOfDay),
        other => other,
    }
}

/// Checks that `again` (composed from the rendered document of namespace 0 of `graph`) has the
/// same entities, fields, keys, relations, capabilities and operations, under their CSDL names.
fn assert_round_trip(label: &str, graph: &Graph, again: &Graph) {
    let names = names(graph, 0);
    let qualified =
        |simple: Option<&str>| format!("{}.{}", names.namespace(), simple.unwrap_or("?"));
    assert_eq!(
        again.entities.len(),
        graph.entities.len(),
        "{label}: entities"
    );
    for (id, (first, second)) in graph.entities.iter().zip(&again.entities).enumerate() {
        let at = format!("{label}: {}", first.shown_name());
        assert_eq!(second.kind, first.kind, "{at}: kind");
        assert_eq!(
            Some(second.set_name.as_str()).filter(|name| !name.is_empty()),
            names.entity_set(id),
            "{at}"
        );
        assert_eq!(second.type_name, qualified(names.entity_type(id)), "{at}");
        assert_eq!(second.label, first.label, "{at}: label");
        assert_eq!(second.description, first.description, "{at}: description");
        assert_eq!(second.etag, first.etag, "{at}: etag");
        let (mut c1, c2) = (first.capabilities.clone(), second.capabilities.clone());
        // `sap:addressable="false"` is rendered as Capabilities.ReadRestrictions, which the
        // composition does not read back.
        c1.addressable = c2.addressable;
        assert_eq!(
            serde_json::to_value(&c1).expect("serializes"),
            serde_json::to_value(&c2).expect("serializes"),
            "{at}: capabilities"
        );
        let field_names = |e: &bizgraph_schema::model::Entity| {
            e.fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>()
        };
        assert_eq!(field_names(second), field_names(first), "{at}: fields");
        assert_eq!(second.key, first.key, "{at}: key");
        for (f1, f2) in first.fields.iter().zip(&second.fields) {
            let at = format!("{at}.{}", f1.name);
            match (upconverted(f1.kind), f2.kind) {
                (FieldKind::Enum(a), FieldKind::Enum(b)) => {
                    assert_eq!(again.enums[b].name, qualified(names.enum_type(a)), "{at}")
                }
                (FieldKind::Complex(a), FieldKind::Complex(b)) => assert_eq!(
                    again.complex_types[b].name,
                    qualified(names.complex_type(a)),
                    "{at}"
                ),
                (a, b) => assert_eq!(a, b, "{at}: kind"),
            }
            assert_eq!(f2.collection, f1.collection, "{at}: collection");
            let key = first.key.iter().any(|&k| first.fields[k].name == f1.name);
            assert_eq!(f2.nullable, f1.nullable && !key, "{at}: nullable");
            // Property restrictions ride on the set's Capabilities annotations; a contained
            // entity has no set to carry them.
            if first.kind != EntityKind::Contained {
                assert_eq!(
                    (f2.filterable, f2.sortable, f2.insertable, f2.updatable),
                    (f1.filterable, f1.sortable, f1.insertable, f1.updatable),
                    "{at}: capabilities"
                );
            }
            assert_eq!(
                (&f2.label, &f2.description),
                (&f1.label, &f1.description),
                "{at}"
            );
            if f1
                .unit
                .as_deref()
                .is_some_and(|u| u.starts_with('\'') || first.field(u).is_some())
            {
                assert_eq!(f2.unit, f1.unit, "{at}: unit");
            }
            // `MaxLength` only applies to strings, binaries and streams (section 3.4.1).
            let lengthy = matches!(
                f1.kind,
                FieldKind::Scalar(EdmType::String | EdmType::Binary | EdmType::Stream)
            );
            let max_length = f1.max_length.filter(|&l| l > 0 && lengthy);
            assert_eq!(f2.max_length, max_length, "{at}: max length");
            assert_eq!(
                f2.precision.is_some(),
                f1.precision.is_some()
                    && f2.edm_type().is_some_and(|t| matches!(
                        t,
                        EdmType::Decimal
                            | EdmType::DateTimeOffset
                            | EdmType::TimeOfDay
                            | EdmType::Duration
                    )),
                "{at}: precision"
            );
        }
        assert_eq!(
            second.relations.len(),
            first.relations.len(),
            "{at}: relations"
        );
        for (index, (r1, r2)) in first.relations.iter().zip(&second.relations).enumerate() {
            let at = format!("{at}/{}", r1.name);
            assert_eq!(Some(r2.name.as_str()), names.relation(id, index), "{at}");
            assert_eq!(r2.target, r1.target, "{at}: target");
            assert_eq!((r2.many, r2.nullable), (r1.many, r1.nullable), "{at}");
            assert_eq!(r2.kind, RelationKind::Navigation, "{at}");
            // Section 8.5: only single-valued navigation properties carry constraints; the
            // to-many side takes them back from its partner where there is one.
            if !r1.many {
                assert_eq!(r2.constraints, r1.constraints, "{at}: constraints");
            }
        }
    }
    assert_eq!(
        again.operations.len(),
        graph.operations.len(),
        "{label}: operations"
    );
    for (id, (o1, o2)) in graph.operations.iter().zip(&again.operations).enumerate() {
        match (&o1.binding, &o2.binding) {
            (None, None) => assert_eq!(
                Some(o2.name.as_str()),
                names.operation_import(id),
                "{label}"
            ),
            (Some(b1), Some(b2)) => {
                assert_eq!(Some(o2.name.as_str()), names.operation(id), "{label}");
                assert_eq!(
                    (b2.entity, b2.collection),
                    (b1.entity, b1.collection),
                    "{label}: {} binding",
                    o1.name
                );
                assert_eq!(
                    b2.qualified,
                    format!("{}.{}", names.namespace(), o2.name),
                    "{label}"
                );
            }
            _ => panic!("{label}: {} bound on one side only", o1.name),
        }
        let kind = if o1.returns.is_none() {
            OperationKind::Action
        } else {
            o1.kind
        };
        assert_eq!(o2.kind, kind, "{label}: {}", o1.name);
        assert_eq!(o2.parameters.len(), o1.parameters.len(), "{label}");
        assert_eq!(
            o2.returns.as_ref().map(|r| r.collection),
            o1.returns.as_ref().map(|r| r.collection),
            "{label}: {}",
            o1.name
        );
    }
}

#[test]
fn every_fixture_renders_a_v4_document_that_parses_and_composes_back_into_the_same_graph() {
    for (file, metadata, _) in fixtures() {
        let namespace = namespace_of(&file);
        let graph = compose(&[source(&namespace, &metadata)], &[]).graph;
        let root = format!("/odata/v4/{namespace}/");
        let document = metadata_document(&graph, 0, &root);
        assert_eq!(
            document,
            metadata_document(&graph, 0, &root),
            "{file}: deterministic"
        );
        let keyless = graph
            .entities
            .iter()
            .filter(|e| e.key.is_empty() && e.kind == EntityKind::Set)
            .count();
        let parsed = reparse_allowing(&file, &document, keyless);
        let reparsed = &parsed.metadata;

        let counts = reparsed.counts();
        let relations: usize = graph.entities.iter().map(|e| e.relations.len()).sum();
        let of_kind = |kind: EntityKind| graph.entities.iter().filter(|e| e.kind == kind).count();
        assert_eq!(counts.entity_sets, of_kind(EntityKind::Set), "{file}: sets");
        assert_eq!(
            counts.singletons,
            of_kind(EntityKind::Singleton),
            "{file}: singletons"
        );
        assert_eq!(counts.entity_types, graph.entities.len(), "{file}: types");
        assert_eq!(
            counts.navigation_properties, relations,
            "{file}: navigations"
        );
        assert_eq!(counts.schemas, 1, "{file}: schemas");

        let names = names(&graph, 0);
        let container = reparsed.entity_container().expect("a container");
        for (id, entity) in graph.entities.iter().enumerate() {
            let at = format!("{file}: {}", entity.shown_name());
            let type_name = match entity.kind {
                EntityKind::Set => {
                    let set_name = names.entity_set(id).expect("named");
                    let set = container
                        .entity_sets
                        .iter()
                        .find(|s| &*s.name == set_name)
                        .unwrap_or_else(|| panic!("{at}: set {set_name} missing"));
                    set.entity_type.to_string()
                }
                EntityKind::Singleton => {
                    let name = names.entity_set(id).expect("named");
                    let singleton = container
                        .singletons
                        .iter()
                        .find(|s| &*s.name == name)
                        .unwrap_or_else(|| panic!("{at}: singleton {name} missing"));
                    singleton.entity_type.to_string()
                }
                EntityKind::Contained => {
                    assert!(names.entity_set(id).is_none(), "{at}: contained has no set");
                    format!(
                        "{}.{}",
                        names.namespace(),
                        names.entity_type(id).expect("typed")
                    )
                }
            };
            let entity_type = reparsed
                .entity_type(&type_name)
                .unwrap_or_else(|| panic!("{at}: type {type_name} missing"));
            let key: Vec<&str> = entity_type.key.iter().map(|k| &*k.name).collect();
            let expected: Vec<&str> = entity
                .key
                .iter()
                .map(|&k| entity.fields[k].name.as_str())
                .collect();
            assert_eq!(key, expected, "{at}: key");
            assert_eq!(entity_type.properties.len(), entity.fields.len(), "{at}");
            for (index, field) in entity.fields.iter().enumerate() {
                let property = &entity_type.properties[index];
                assert_eq!(&*property.name, field.name, "{at}");
                let type_name = match field.kind {
                    FieldKind::Scalar(ty) => v4_name(ty).to_owned(),
                    FieldKind::Enum(e) => {
                        format!(
                            "{}.{}",
                            names.namespace(),
                            names.enum_type(e).unwrap_or("?")
                        )
                    }
                    FieldKind::Complex(c) => format!(
                        "{}.{}",
                        names.namespace(),
                        names.complex_type(c).unwrap_or("?")
                    ),
                };
                assert_eq!(&*property.type_ref.name, type_name, "{at}.{}", field.name);
                assert_eq!(property.type_ref.collection, field.collection, "{at}");
                let is_key = entity.key.contains(&index);
                assert_eq!(
                    property.nullable,
                    field.nullable && !is_key,
                    "{at}.{}: nullable",
                    field.name
                );
            }
            assert_eq!(
                entity_type.navigation_properties.len(),
                entity.relations.len(),
                "{at}"
            );
        }

        let again = compose(&[source(&namespace, reparsed)], &[]).graph;
        assert_round_trip(&file, &graph, &again);
        // Rendering the round-tripped graph gives the same document again.
        assert_eq!(
            metadata_document(&again, 0, &root),
            document,
            "{file}: fixed point"
        );
    }
}

const S4_V2: &str = r#"<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" xmlns:sap="http://www.sap.com/Protocols/SAPData">
<edmx:DataServices m:DataServiceVersion="2.0">
<Schema Namespace="S4" xmlns="http://schemas.microsoft.com/ado/2008/09/edm">
 <EntityType Name="Partner" sap:label="Business Partner"><Key><PropertyRef Name="BusinessPartner"/></Key>
  <Property Name="BusinessPartner" Type="Edm.String" Nullable="false" MaxLength="10" sap:label="BP &lt;&amp;&quot;&apos;&gt;" sap:creatable="false" sap:updatable="false"/>
  <Property Name="Name" Type="Edm.String" MaxLength="80" sap:quickinfo="The partner's full name"/>
  <Property Name="Internal" Type="Edm.String" sap:filterable="false" sap:sortable="false"/>
  <Property Name="Founded" Type="Edm.DateTime" Precision="0" sap:display-format="Date"/>
  <Property Name="LastChange" Type="Edm.DateTime" Precision="7" sap:creatable="false"/>
  <Property Name="OpensAt" Type="Edm.Time" Precision="0"/>
  <Property Name="Category" Type="Edm.String" sap:updatable="false"/>
  <NavigationProperty Name="to_Order" Relationship="S4.PartnerOrder" FromRole="P" ToRole="O"/>
 </EntityType>
 <EntityType Name="Order"><Key><PropertyRef Name="SalesOrder"/></Key>
  <Property Name="SalesOrder" Type="Edm.String" Nullable="false"/>
  <Property Name="SoldToParty" Type="Edm.String"/>
  <Property Name="Amount" Type="Edm.Decimal" Precision="15" Scale="2" sap:unit="Currency"/>
  <Property Name="Currency" Type="Edm.String" MaxLength="5"/>
  <Property Name="Weight" Type="Edm.Decimal" Precision="13" Scale="3" sap:unit="WeightUnit"/>
  <Property Name="WeightUnit" Type="Edm.String" MaxLength="3"/>
  <Property Name="Changed" Type="Edm.DateTimeOffset" ConcurrencyMode="Fixed"/>
  <NavigationProperty Name="to_Partner" Relationship="S4.PartnerOrder" FromRole="O" ToRole="P"/>
 </EntityType>
 <Association Name="PartnerOrder"><End Role="P" Type="S4.Partner" Multiplicity="1"/><End Role="O" Type="S4.Order" Multiplicity="*"/>
  <ReferentialConstraint><Principal Role="P"><PropertyRef Name="BusinessPartner"/></Principal><Dependent Role="O"><PropertyRef Name="SoldToParty"/></Dependent></ReferentialConstraint></Association>
 <EntityContainer Name="C" m:IsDefaultEntityContainer="true">
  <EntitySet Name="A_BusinessPartner" EntityType="S4.Partner" sap:creatable="false" sap:updatable="false" sap:deletable="false" sap:pageable="false" sap:countable="false" sap:requires-filter="true"/>
  <EntitySet Name="A_SalesOrder" EntityType="S4.Order" sap:searchable="true"/>
  <AssociationSet Name="PO" Association="S4.PartnerOrder"><End Role="P" EntitySet="A_BusinessPartner"/><End Role="O" EntitySet="A_SalesOrder"/></AssociationSet>
  <FunctionImport Name="orderCount" ReturnType="Edm.Int32" m:HttpMethod="GET" sap:label="Count"><Parameter Name="status" Type="Edm.String" Mode="In" Nullable="false"/></FunctionImport>
  <FunctionImport Name="release" EntitySet="A_SalesOrder" ReturnType="S4.Order" m:HttpMethod="POST"><Parameter Name="SalesOrder" Type="Edm.String" Mode="In"/></FunctionImport>
  <FunctionImport Name="recentOrders" EntitySet="A_SalesOrder" ReturnType="Collection(S4.Order)" m:HttpMethod="GET"/>
  <FunctionImport Name="ping" m:HttpMethod="GET"/>
 </EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>"#;

const CRM_V4: &str = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
<edmx:DataServices><Schema Namespace="Crm" xmlns="http://docs.oasis-open.org/odata/ns/edm">
 <EnumType Name="Stage"><Member Name="Open"/><Member Name="Won"/></EnumType>
 <ComplexType Name="Money"><Property Name="amount" Type="Edm.Decimal"/><Property Name="code" Type="Edm.String"/></ComplexType>
 <EntityType Name="Opportunity"><Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
  <Property Name="customer" Type="Edm.String"/>
  <Property Name="stage" Type="Crm.Stage"/>
  <Property Name="value" Type="Crm.Money"/>
  <Property Name="tags" Type="Collection(Edm.String)"/>
 </EntityType>
 <EntityContainer Name="C"><EntitySet Name="Opportunities" EntityType="Crm.Opportunity"/></EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>"#;

fn two_namespaces(s4: &Metadata, crm: &Metadata) -> Graph {
    let composition = compose(
        &[source("sap.s4", s4), source("crm", crm)],
        &[
            CrossAssociation {
                from: "sap.s4.A_BusinessPartner".into(),
                to: "crm.Opportunities".into(),
                pairs: vec![("BusinessPartner".into(), "customer".into())],
                name: "opportunities".into(),
                many: true,
            },
            CrossAssociation {
                from: "crm.Opportunities".into(),
                to: "sap.s4.A_BusinessPartner".into(),
                pairs: vec![("customer".into(), "BusinessPartner".into())],
                name: "partner".into(),
                many: false,
            },
            CrossAssociation {
                from: "sap.s4.A_SalesOrder".into(),
                to: "sap.s4.A_BusinessPartner".into(),
                pairs: vec![("SoldToParty".into(), "BusinessPartner".into())],
                name: "sold-to".into(),
                many: false,
            },
        ],
    );
    let warnings: Vec<String> = composition
        .findings
        .iter()
        .filter(|f| f.level == bizgraph_schema::compose::Level::Warning)
        .map(ToString::to_string)
        .collect();
    assert!(warnings.is_empty(), "{warnings:#?}");
    composition.graph
}

#[test]
fn cross_source_associations_reference_the_other_namespace_document() {
    let (s4, crm) = (parse_text(S4_V2), parse_text(CRM_V4));
    let graph = two_namespaces(&s4, &crm);
    let s4_id = graph.namespace("sap.s4").expect("s4");
    let crm_id = graph.namespace("crm").expect("crm");

    let s4_doc = metadata_document(&graph, s4_id, "/odata/v4/sap.s4/");
    let crm_doc = metadata_document(&graph, crm_id, "/odata/v4/crm/");
    for expected in [
        "<edmx:Reference Uri=\"../crm/$metadata\">\n    <edmx:Include Namespace=\"crm\"/>\n  </edmx:Reference>",
        "<NavigationProperty Name=\"opportunities\" Type=\"Collection(crm.Opportunity)\"/>",
        // A configured name that is no identifier is rewritten; a to-one join's pairs are
        // referential constraints, and its binding stays in the container.
        "<NavigationProperty Name=\"sold_to\" Type=\"sap.s4.Partner\">\n          <ReferentialConstraint Property=\"SoldToParty\" ReferencedProperty=\"BusinessPartner\"/>",
        "<NavigationPropertyBinding Path=\"sold_to\" Target=\"A_BusinessPartner\"/>",
    ] {
        assert!(s4_doc.contains(expected), "{expected}\nnot in\n{s4_doc}");
    }
    for expected in [
        "<edmx:Reference Uri=\"../sap.s4/$metadata\">\n    <edmx:Include Namespace=\"sap.s4\"/>",
        "<NavigationProperty Name=\"partner\" Type=\"sap.s4.Partner\">\n          <ReferentialConstraint Property=\"customer\" ReferencedProperty=\"BusinessPartner\"/>",
    ] {
        assert!(crm_doc.contains(expected), "{expected}\nnot in\n{crm_doc}");
    }
    // Bindings into another document's container are left out (SAP's client generator fails
    // on them); the navigation property's qualified type says where it leads.
    assert!(
        !s4_doc.contains("Target=\"crm.EntityContainer/"),
        "{s4_doc}"
    );
    assert!(
        !crm_doc.contains("Target=\"sap.s4.EntityContainer/"),
        "{crm_doc}"
    );
    // Only the vocabularies in use are referenced: crm has no labels, units or restrictions
    // beyond its filter and sort restrictions on non-filterable properties.
    assert!(!crm_doc.contains("Measures"));
    assert!(crm_doc.contains("Org.OData.Capabilities.V1"));

    let s4_parsed = reparse("sap.s4", &s4_doc);
    let crm_parsed = reparse("crm", &crm_doc);
    let partner_type = s4_parsed
        .metadata
        .entity_type("sap.s4.Partner")
        .expect("type");
    let navigation = partner_type
        .navigation_properties
        .iter()
        .find(|n| &*n.name == "opportunities")
        .expect("navigation");
    assert_eq!(&*navigation.target.name, "crm.Opportunity");
    assert!(navigation.target.collection);
    assert!(s4_parsed.metadata.references.iter().any(
        |r| &*r.uri == "../crm/$metadata" && r.includes.iter().any(|i| &*i.namespace == "crm")
    ));
    assert!(crm_parsed.metadata.entity_type("crm.Opportunity").is_some());

    // A service root at the top of the server has no siblings: references go below it.
    assert!(
        metadata_document(&graph, s4_id, "/").contains("<edmx:Reference Uri=\"crm/$metadata\">")
    );
}

#[test]
fn v2_sources_come_out_as_v4_with_vocabulary_annotations() {
    let s4 = parse_text(S4_V2);
    let graph = compose(&[source("sap.s4", &s4)], &[]).graph;
    let document = metadata_document(&graph, 0, "/odata/v4/sap.s4/");
    for expected in [
        "<edmx:Edmx Version=\"4.0\" xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\">",
        "<edmx:Include Namespace=\"com.sap.vocabularies.Common.v1\" Alias=\"Common\"/>",
        "<Property Name=\"Founded\" Type=\"Edm.Date\"/>",
        "<Property Name=\"LastChange\" Type=\"Edm.DateTimeOffset\" Precision=\"7\"/>",
        "<Property Name=\"OpensAt\" Type=\"Edm.TimeOfDay\" Precision=\"0\"/>",
        "<Property Name=\"Amount\" Type=\"Edm.Decimal\" Precision=\"15\" Scale=\"2\">",
        "<Annotation Term=\"Measures.ISOCurrency\" Path=\"Currency\"/>",
        "<Annotation Term=\"Measures.Unit\" Path=\"WeightUnit\"/>",
        "<Annotation Term=\"Common.Label\" String=\"Business Partner\"/>",
        "<Annotation Term=\"Core.Description\" String=\"The partner&apos;s full name\"/>",
        "<Annotation Term=\"Capabilities.TopSupported\" Bool=\"false\"/>",
        "<Annotation Term=\"Core.OptimisticConcurrency\">\n            <Collection/>",
        // to_Order (to-many) and to_Partner (to-one) are each other's partners; the constraint
        // sits on the single-valued side.
        "<NavigationProperty Name=\"to_Order\" Type=\"Collection(sap.s4.Order)\" Partner=\"to_Partner\"/>",
        "<NavigationProperty Name=\"to_Partner\" Type=\"sap.s4.Partner\" Nullable=\"false\" Partner=\"to_Order\">",
        "<Function Name=\"orderCount\">",
        "<Action Name=\"release\">",
        "<ReturnType Type=\"Collection(sap.s4.Order)\"/>",
        "<FunctionImport Name=\"recentOrders\" Function=\"sap.s4.recentOrders\" EntitySet=\"A_SalesOrder\" IncludeInServiceDocument=\"true\"/>",
        "<ActionImport Name=\"release\" Action=\"sap.s4.release\" EntitySet=\"A_SalesOrder\"/>",
        // A v2 GET import without a result cannot be a v4 function.
        "<ActionImport Name=\"ping\" Action=\"sap.s4.ping\"/>",
    ] {
        assert!(
            document.contains(expected),
            "{expected}\nnot in\n{document}"
        );
    }
    assert!(
        !document.contains("Edm.DateTime\""),
        "no v2-only types left"
    );
    assert!(!document.contains("Edm.Time\""), "no v2-only types left");

    let parsed = reparse("sap.s4", &document);
    let metadata = &parsed.metadata;
    let container = metadata.entity_container().expect("container");
    let set = |name: &str| {
        container
            .entity_sets
            .iter()
            .find(|s| &*s.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let partners = set("A_BusinessPartner")
        .annotations
        .terms
        .as_deref()
        .expect("capability terms");
    let filter = partners.filter_restrictions.as_deref().expect("filter");
    assert_eq!(filter.requires_filter, Some(true));
    assert_eq!(filter.filterable, None, "filterable is the default");
    assert_eq!(&*filter.non_filterable_properties, [Box::from("Internal")]);
    let sort = partners.sort_restrictions.as_deref().expect("sort");
    assert_eq!(&*sort.non_sortable_properties, [Box::from("Internal")]);
    let insert = partners.insert_restrictions.as_deref().expect("insert");
    assert_eq!(insert.allowed, Some(false));
    assert_eq!(
        &*insert.non_modifiable_properties,
        [Box::from("LastChange")],
        "insert only is forbidden for LastChange; BusinessPartner is Core.Computed"
    );
    assert_eq!(
        partners.update_restrictions.as_deref().map(|r| r.allowed),
        Some(Some(false))
    );
    assert_eq!(
        partners.delete_restrictions.as_deref().map(|r| r.allowed),
        Some(Some(false))
    );
    assert_eq!(
        partners.count_restrictions.as_deref().map(|r| r.countable),
        Some(Some(false))
    );
    assert_eq!(
        partners
            .search_restrictions
            .as_deref()
            .map(|r| r.searchable),
        Some(Some(false)),
        "v2 sets are only searchable with sap:searchable"
    );
    assert_eq!(partners.top_supported, Some(false));
    assert_eq!(partners.skip_supported, Some(false));
    let orders = set("A_SalesOrder").annotations.terms.as_deref();
    assert!(
        orders.is_none_or(|t| t.search_restrictions.is_none() && t.insert_restrictions.is_none()),
        "A_SalesOrder allows what the vocabulary allows by default"
    );
    assert!(
        set("A_SalesOrder")
            .annotations
            .raw("Org.OData.Core.V1.OptimisticConcurrency", None)
            .is_some()
    );

    let partner = metadata.entity_type("sap.s4.Partner").expect("type");
    assert_eq!(partner.annotations.label(), Some("Business Partner"));
    let property = |ty: &bizgraph_schema::metadata::EntityType, name: &str| {
        ty.properties
            .iter()
            .find(|p| &*p.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
            .clone()
    };
    let key = property(partner, "BusinessPartner");
    assert_eq!(key.annotations.label(), Some("BP <&\"'>"));
    let key_terms = key.annotations.terms.as_deref().expect("terms");
    assert_eq!(key_terms.computed, Some(true));
    let category = property(partner, "Category");
    assert_eq!(
        category
            .annotations
            .terms
            .as_deref()
            .and_then(|t| t.immutable),
        Some(true)
    );
    assert_eq!(
        property(partner, "Name").annotations.description(),
        Some("The partner's full name")
    );
    let order = metadata.entity_type("sap.s4.Order").expect("type");
    let amount = property(order, "Amount");
    assert_eq!(
        amount
            .annotations
            .terms
            .as_deref()
            .and_then(|t| t.iso_currency.clone()),
        Some(ValueOrPath::Path("Currency".into()))
    );
    let to_partner = order
        .navigation_properties
        .iter()
        .find(|n| &*n.name == "to_Partner")
        .expect("navigation");
    assert_eq!(to_partner.partner.as_deref(), Some("to_Order"));
    assert_eq!(to_partner.referential_constraints.len(), 1);

    let again = compose(&[source("sap.s4", metadata)], &[]).graph;
    assert_round_trip("sap.s4", &graph, &again);
}

#[test]
fn labels_and_descriptions_with_markup_survive_the_round_trip() {
    let s4 = parse_text(S4_V2);
    let mut graph = compose(&[source("sap.s4", &s4)], &[]).graph;
    let awkward = "a <b> & \"c\" 'd' ]]> --> \t tab\nline\r\nend &amp; ünï 😀";
    graph.entities[0].label = Some(awkward.to_owned());
    graph.entities[0].fields[1].description = Some(awkward.to_owned());
    graph.entities[1].fields[2].unit = Some("'E<U>R'".to_owned());
    graph.operations[0].description = Some(awkward.to_owned());
    let document = metadata_document(&graph, 0, "/odata/v4/sap.s4/");
    let parsed = reparse("escaping", &document);
    let again = compose(&[source("sap.s4", &parsed.metadata)], &[]).graph;
    assert_eq!(again.entities[0].label.as_deref(), Some(awkward));
    assert_eq!(
        again.entities[0].fields[1].description.as_deref(),
        Some(awkward)
    );
    assert_eq!(again.entities[1].fields[2].unit.as_deref(), Some("'E<U>R'"));
    assert_eq!(again.operations[0].description.as_deref(), Some(awkward));
    // The BP label of the fixture already carries every markup character.
    assert_eq!(
        again.entities[0].fields[0].label.as_deref(),
        Some("BP <&\"'>")
    );
}

#[test]
fn service_document_lists_every_entity_set_and_function_import() {
    let (s4, crm) = (parse_text(S4_V2), parse_text(CRM_V4));
    let graph = two_namespaces(&s4, &crm);
    let document = service_document(&graph, 0);
    assert_eq!(
        document,
        json!({
            "@odata.context": "$metadata",
            "value": [
                {"name": "A_BusinessPartner", "kind": "EntitySet", "url": "A_BusinessPartner", "title": "Business Partner"},
                {"name": "A_SalesOrder", "kind": "EntitySet", "url": "A_SalesOrder"},
                {"name": "orderCount", "kind": "FunctionImport", "url": "orderCount"},
                {"name": "recentOrders", "kind": "FunctionImport", "url": "recentOrders"},
            ]
        })
    );
    assert_eq!(
        service_document(&graph, 1)["value"],
        json!([{"name": "Opportunities", "kind": "EntitySet", "url": "Opportunities"}])
    );
    // Every function import of every fixture is listed, and every entity set.
    for (file, metadata, _) in fixtures() {
        let namespace = namespace_of(&file);
        let graph = compose(&[source(&namespace, &metadata)], &[]).graph;
        let listed = service_document(&graph, 0)["value"]
            .as_array()
            .expect("array")
            .len();
        let functions = graph
            .operations
            .iter()
            .filter(|o| {
                o.kind == OperationKind::Function && o.returns.is_some() && o.binding.is_none()
            })
            .count();
        let addressable = graph
            .entities
            .iter()
            .filter(|e| e.kind != EntityKind::Contained)
            .count();
        assert_eq!(listed, addressable + functions, "{file}");
    }
}

#[test]
fn names_are_legal_unique_and_the_same_every_time() {
    let first = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
<edmx:DataServices><Schema Namespace="N" xmlns="http://docs.oasis-open.org/odata/ns/edm">
 <EntityType Name="Product"><Key><PropertyRef Name="Product"/></Key>
  <Property Name="Product" Type="Edm.String" Nullable="false"/>
 </EntityType>
 <EntityType Name="Item"><Key><PropertyRef Name="ID"/></Key><Property Name="ID" Type="Edm.Int32" Nullable="false"/></EntityType>
 <EntityContainer Name="Main">
  <EntitySet Name="Products" EntityType="N.Product"/>
  <EntitySet Name="Items" EntityType="N.Item"/>
  <EntitySet Name="MoreItems" EntityType="N.Item"/>
 </EntityContainer>
 <EntityContainer Name="Other"><EntitySet Name="Products" EntityType="N.Product"/></EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>"#;
    let second = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
<edmx:DataServices><Schema Namespace="M" xmlns="http://docs.oasis-open.org/odata/ns/edm">
 <EntityType Name="Product"><Key><PropertyRef Name="Product"/></Key><Property Name="Product" Type="Edm.Int32" Nullable="false"/></EntityType>
 <EntityContainer Name="C"><EntitySet Name="Products" EntityType="M.Product"/></EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>"#;
    let (first, second) = (parse_text(first), parse_text(second));
    let render = || {
        let graph = compose(
            &[
                SourceInput {
                    name: "my-ns.Core",
                    services: vec![
                        ServiceInput {
                            destination: "A",
                            path: "/a",
                            metadata: &first,
                        },
                        ServiceInput {
                            destination: "B",
                            path: "/b",
                            metadata: &second,
                        },
                    ],
                },
                source("Core", &second),
            ],
            &[],
        )
        .graph;
        let document = metadata_document(&graph, 0, "/odata/v4/my-ns.Core/");
        (graph, document)
    };
    let (graph, document) = render();
    assert_eq!(render().1, document, "deterministic");
    assert_eq!(namespace_schema_name(&graph, 0), "my_ns.Core");
    assert_eq!(
        namespace_schema_name(&graph, 1),
        "Core_ns",
        "a vocabulary alias is no namespace"
    );
    let names = names(&graph, 0);
    let sets: Vec<&str> = (0..5).map(|e| names.entity_set(e).unwrap_or("?")).collect();
    assert_eq!(
        sets,
        [
            "Products",
            "Items",
            "MoreItems",
            "Other_Products",
            "Products_2"
        ]
    );
    let types: Vec<&str> = (0..5)
        .map(|e| names.entity_type(e).unwrap_or("?"))
        .collect();
    assert_eq!(
        types,
        [
            // Sets that shared a backend type each get a type named like the set.
            "Products",
            "Items",
            "MoreItems",
            "Other_Products",
            // Named like the backend type, which is also the name of its key property.
            "ProductType",
        ]
    );
    assert_eq!(names.entity_by_set("Other_Products"), Some(3));
    let parsed = reparse("names", &document);
    let again = compose(&[source("my-ns.Core", &parsed.metadata)], &[]).graph;
    let again_sets: Vec<&str> = again.entities.iter().map(|e| e.set_name.as_str()).collect();
    assert_eq!(again_sets, sets);
}

#[test]
fn v2_associations_without_constraints_still_name_their_partners() {
    // SAP services often declare associations without a referential constraint; the two ends of
    // the association are still each other's inverse, and v4 clients learn it from `Partner`.
    let text = r#"<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">
<edmx:DataServices m:DataServiceVersion="2.0">
<Schema Namespace="S" xmlns="http://schemas.microsoft.com/ado/2008/09/edm">
 <EntityType Name="Header"><Key><PropertyRef Name="Id"/></Key>
  <Property Name="Id" Type="Edm.String" Nullable="false"/>
  <NavigationProperty Name="to_Items" Relationship="S.HeaderItems" FromRole="H" ToRole="I"/>
 </EntityType>
 <EntityType Name="Item"><Key><PropertyRef Name="Id"/><PropertyRef Name="Pos"/></Key>
  <Property Name="Id" Type="Edm.String" Nullable="false"/>
  <Property Name="Pos" Type="Edm.String" Nullable="false"/>
  <NavigationProperty Name="to_Header" Relationship="S.HeaderItems" FromRole="I" ToRole="H"/>
  <NavigationProperty Name="to_Alone" Relationship="S.ItemAlone" FromRole="I" ToRole="A"/>
 </EntityType>
 <Association Name="HeaderItems"><End Role="H" Type="S.Header" Multiplicity="1"/><End Role="I" Type="S.Item" Multiplicity="*"/></Association>
 <Association Name="ItemAlone"><End Role="I" Type="S.Item" Multiplicity="*"/><End Role="A" Type="S.Header" Multiplicity="0..1"/></Association>
 <EntityContainer Name="C" m:IsDefaultEntityContainer="true">
  <EntitySet Name="Headers" EntityType="S.Header"/>
  <EntitySet Name="Items" EntityType="S.Item"/>
  <AssociationSet Name="HI" Association="S.HeaderItems"><End Role="H" EntitySet="Headers"/><End Role="I" EntitySet="Items"/></AssociationSet>
  <AssociationSet Name="IA" Association="S.ItemAlone"><End Role="I" EntitySet="Items"/><End Role="A" EntitySet="Headers"/></AssociationSet>
 </EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>"#;
    let metadata = parse_text(text);
    let graph = compose(&[source("s", &metadata)], &[]).graph;
    let document = metadata_document(&graph, 0, "/odata/v4/s/");
    for expected in [
        "<NavigationProperty Name=\"to_Items\" Type=\"Collection(s.Item)\" Partner=\"to_Header\"/>",
        "<NavigationProperty Name=\"to_Header\" Type=\"s.Header\" Nullable=\"false\" Partner=\"to_Items\"/>",
        // An association navigable from one end only has no partner to name.
        "<NavigationProperty Name=\"to_Alone\" Type=\"s.Header\"/>",
    ] {
        assert!(
            document.contains(expected),
            "{expected}\nnot in\n{document}"
        );
    }
    reparse("s", &document);
}

#[test]
fn currencies_and_units_follow_what_the_service_says() {
    // `Waehrung` is no currency by name, but the service marks it `currency-code`; v4's own
    // term decides for `Code`, whatever its name.
    let v2 = r#"<edmx:Edmx Version="1.0" xmlns:edmx="http://schemas.microsoft.com/ado/2007/06/edmx" xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata" xmlns:sap="http://www.sap.com/Protocols/SAPData">
<edmx:DataServices m:DataServiceVersion="2.0">
<Schema Namespace="S" xmlns="http://schemas.microsoft.com/ado/2008/09/edm">
 <EntityType Name="Order"><Key><PropertyRef Name="Id"/></Key>
  <Property Name="Id" Type="Edm.String" Nullable="false"/>
  <Property Name="Betrag" Type="Edm.Decimal" Precision="15" Scale="2" sap:unit="Waehrung"/>
  <Property Name="Waehrung" Type="Edm.String" sap:semantics="currency-code"/>
  <Property Name="Menge" Type="Edm.Decimal" Precision="13" Scale="3" sap:unit="CurrUnit"/>
  <Property Name="CurrUnit" Type="Edm.String" sap:semantics="unit-of-measure"/>
 </EntityType>
 <EntityContainer Name="C" m:IsDefaultEntityContainer="true"><EntitySet Name="Orders" EntityType="S.Order"/></EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>"#;
    let v4 = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
<edmx:DataServices><Schema Namespace="P" xmlns="http://docs.oasis-open.org/odata/ns/edm">
 <EntityType Name="Price"><Key><PropertyRef Name="Id"/></Key>
  <Property Name="Id" Type="Edm.Int32" Nullable="false"/>
  <Property Name="Value" Type="Edm.Decimal" Scale="2"><Annotation Term="Org.OData.Measures.V1.ISOCurrency" Path="Code"/></Property>
  <Property Name="Code" Type="Edm.String"/>
 </EntityType>
 <EntityContainer Name="C"><EntitySet Name="Prices" EntityType="P.Price"/></EntityContainer>
</Schema></edmx:DataServices></edmx:Edmx>"#;
    let (v2, v4) = (parse_text(v2), parse_text(v4));
    let graph = compose(&[source("s", &v2), source("p", &v4)], &[]).graph;
    let s = metadata_document(&graph, 0, "/odata/v4/s/");
    let p = metadata_document(&graph, 1, "/odata/v4/p/");
    for (document, expected) in [
        (
            &s,
            "<Annotation Term=\"Measures.ISOCurrency\" Path=\"Waehrung\"/>",
        ),
        (&s, "<Annotation Term=\"Measures.Unit\" Path=\"CurrUnit\"/>"),
        (
            &p,
            "<Annotation Term=\"Measures.ISOCurrency\" Path=\"Code\"/>",
        ),
    ] {
        assert!(
            document.contains(expected),
            "{expected}\nnot in\n{document}"
        );
    }
}
