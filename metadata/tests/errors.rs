//! Where broken documents are reported: errors that stop parsing and diagnostics of documents
//! that still parse, each with its exact line, column, element path and message.

use bizgraph_metadata::{Error, Multiplicity, Severity, parse};
use common::{fixture_bytes, v2, v4};

mod common;

fn fixture(name: &str) -> String {
    String::from_utf8(fixture_bytes(name)).expect("fixtures are UTF-8")
}

// ----- helpers -----

/// 1-based line and column (in characters) of a byte index, counted here independently.
fn position(text: &str, index: usize) -> (u32, u32) {
    let before = &text[..index];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line as u32, column as u32)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Xml,
    Structure,
}

/// One document that must fail to parse, and where and why.
struct Broken<'a> {
    name: &'a str,
    xml: String,
    kind: Kind,
    line: u32,
    column: u32,
    path: &'a str,
    message: &'a str,
}

fn check(case: &Broken<'_>) {
    let error = match parse(case.xml.as_bytes()) {
        Ok(_) => panic!("{}: parsed, expected an error", case.name),
        Err(error) => error,
    };
    let (kind, message) = match &error {
        Error::Xml { message, .. } => (Kind::Xml, message),
        Error::Structure { message, .. } => (Kind::Structure, message),
    };
    let at = error.location();
    assert_eq!(
        (kind, at.line, at.column, at.path.as_str(), message.as_str()),
        (case.kind, case.line, case.column, case.path, case.message),
        "{}",
        case.name
    );
}

type Expected<'a> = (Severity, u32, u32, &'a str, &'a str);

/// Parses a document that must yield a model, and compares all its diagnostics.
fn check_diagnostics(
    name: &str,
    xml: &str,
    expected: &[Expected<'_>],
) -> bizgraph_metadata::Metadata {
    let parsed = parse(xml.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let got: Vec<Expected<'_>> = parsed
        .diagnostics
        .iter()
        .map(|d| {
            (
                d.severity,
                d.at.line,
                d.at.column,
                d.at.path.as_str(),
                d.message.as_str(),
            )
        })
        .collect();
    assert_eq!(got, expected, "{name}");
    parsed.metadata
}

// ----- documents that cannot be read -----

#[test]
fn document_level_errors_point_at_the_root() {
    let cases = [
        Broken {
            name: "empty input",
            xml: String::new(),
            kind: Kind::Structure,
            line: 1,
            column: 1,
            path: "Edmx",
            message: "empty document: no edmx:Edmx root element",
        },
        Broken {
            name: "a fragment instead of a document",
            xml: "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<edmx:DataServices \
                  xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\"/>\n"
                .into(),
            kind: Kind::Structure,
            line: 2,
            column: 1,
            path: "Edmx",
            message: "expected root element edmx:Edmx, found edmx:DataServices",
        },
        Broken {
            name: "no Version",
            xml: "<edmx:Edmx xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\">\
                  <edmx:DataServices/></edmx:Edmx>"
                .into(),
            kind: Kind::Structure,
            line: 1,
            column: 1,
            path: "Edmx",
            message: "missing attribute Version",
        },
        Broken {
            name: "unknown Version",
            xml: "\n  <edmx:Edmx Version=\"3.0\" xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\">\
                  <edmx:DataServices/></edmx:Edmx>"
                .into(),
            kind: Kind::Structure,
            line: 2,
            column: 3,
            path: "Edmx",
            message: "unsupported edmx:Edmx Version `3.0` (expected 1.0, 4.0 or 4.01)",
        },
        Broken {
            name: "no DataServices",
            xml: "<!-- empty service -->\n<edmx:Edmx Version=\"4.0\" \
                  xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\"/>"
                .into(),
            kind: Kind::Structure,
            line: 2,
            column: 1,
            path: "Edmx",
            message: "edmx:Edmx has no edmx:DataServices element",
        },
        Broken {
            name: "a second root element",
            // TAIL ends with a newline, so the extra element starts line 9.
            xml: format!("{}<extra/>", v4("\n<ComplexType Name=\"Empty\"/>\n")),
            kind: Kind::Structure,
            line: 9,
            column: 1,
            path: "Edmx",
            message: "element extra after the root element",
        },
    ];
    for case in &cases {
        check(case);
    }
}

#[test]
fn element_errors_name_line_column_and_path() {
    let cases = [
        Broken {
            name: "Property without Type",
            xml: v4(r#"
<EntityType Name="Basket">
  <Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
  <Property Name="Note" MaxLength="40"/>
</EntityType>"#),
            kind: Kind::Structure,
            line: 7,
            column: 3,
            path: "Schema[Shop]/EntityType[Basket]/Property[Note]",
            message: "missing attribute Type",
        },
        Broken {
            name: "Collection( without closing parenthesis",
            xml: v4(r#"
<ComplexType Name="Label">
    <Property Name="Tags" Type="Collection(Edm.String" Nullable="false"/>
</ComplexType>"#),
            kind: Kind::Structure,
            line: 5,
            column: 5,
            path: "Schema[Shop]/ComplexType[Label]/Property[Tags]",
            message: "bad type `Collection(Edm.String`: `Collection(` without closing `)`",
        },
        Broken {
            name: "empty Collection()",
            xml: v4(r#"
<ComplexType Name="Label"><Property Name="Tags" Type="Collection()"/></ComplexType>"#),
            kind: Kind::Structure,
            line: 4,
            column: 27,
            path: "Schema[Shop]/ComplexType[Label]/Property[Tags]",
            message: "bad type `Collection()`: empty type name",
        },
        Broken {
            name: "type without namespace",
            xml: v4(r#"
<ComplexType Name="Label">
  <Property Name="Text" Type="String"/>
</ComplexType>"#),
            kind: Kind::Structure,
            line: 5,
            column: 3,
            path: "Schema[Shop]/ComplexType[Label]/Property[Text]",
            message: "bad type `String`: `String` is not qualified by a namespace",
        },
        Broken {
            name: "v4 NavigationProperty without Type",
            xml: v4(r#"
<EntityType Name="Basket">
  <Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
  <NavigationProperty Name="Owner"/>
</EntityType>"#),
            kind: Kind::Structure,
            line: 7,
            column: 3,
            path: "Schema[Shop]/EntityType[Basket]/NavigationProperty[Owner]",
            message: "missing attribute Type",
        },
        Broken {
            name: "v2 NavigationProperty without ToRole",
            xml: v2(r#"
<EntityType Name="Basket">
  <Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
  <NavigationProperty Name="Owner" Relationship="Shop.BasketOwner" FromRole="Basket"/>
</EntityType>"#),
            kind: Kind::Structure,
            line: 7,
            column: 3,
            path: "Schema[Shop]/EntityType[Basket]/NavigationProperty[Owner]",
            message: "missing attribute ToRole",
        },
        Broken {
            name: "association with one end",
            xml: v2(r#"
  <Association Name="Lonely">
    <End Type="Shop.Basket" Multiplicity="1" Role="Basket"/>
  </Association>"#),
            kind: Kind::Structure,
            line: 4,
            column: 3,
            path: "Schema[Shop]/Association[Lonely]",
            message: "association has 1 ends, expected 2",
        },
        Broken {
            name: "association end with a bad multiplicity",
            xml: v2(r#"
<Association Name="BasketItems">
  <End Type="Shop.Basket" Multiplicity="1" Role="Basket"/>
  <End Type="Shop.Item" Multiplicity="many" Role="Items"/>
</Association>"#),
            kind: Kind::Structure,
            line: 6,
            column: 3,
            path: "Schema[Shop]/Association[BasketItems]/End[Items]",
            message: "bad Multiplicity `many`",
        },
        Broken {
            name: "referential constraint without dependent",
            xml: v2(r#"
<Association Name="BasketItems">
  <End Type="Shop.Basket" Multiplicity="1" Role="Basket"/>
  <End Type="Shop.Item" Multiplicity="*" Role="Items"/>
  <ReferentialConstraint>
    <Principal Role="Basket"><PropertyRef Name="ID"/></Principal>
  </ReferentialConstraint>
</Association>"#),
            kind: Kind::Structure,
            line: 7,
            column: 3,
            path: "Schema[Shop]/Association[BasketItems]/ReferentialConstraint",
            message: "ReferentialConstraint needs Principal and Dependent",
        },
        Broken {
            name: "referential constraint with unequal property lists",
            xml: v2(r#"
<Association Name="BasketItems">
  <End Type="Shop.Basket" Multiplicity="1" Role="Basket"/>
  <End Type="Shop.Item" Multiplicity="*" Role="Items"/>
  <ReferentialConstraint>
    <Principal Role="Basket"><PropertyRef Name="Shop"/><PropertyRef Name="ID"/></Principal>
    <Dependent Role="Items"><PropertyRef Name="BasketID"/></Dependent>
  </ReferentialConstraint>
</Association>"#),
            kind: Kind::Structure,
            line: 7,
            column: 3,
            path: "Schema[Shop]/Association[BasketItems]/ReferentialConstraint",
            message: "ReferentialConstraint: 2 principal properties but 1 dependent properties",
        },
        Broken {
            name: "association set with one end",
            xml: v2(r#"
<EntityContainer Name="Entities">
  <AssociationSet Name="BasketItems_Set" Association="Shop.BasketItems">
    <End EntitySet="Baskets" Role="Basket"/>
  </AssociationSet>
</EntityContainer>"#),
            kind: Kind::Structure,
            line: 5,
            column: 3,
            path: "Schema[Shop]/EntityContainer[Entities]/AssociationSet[BasketItems_Set]",
            message: "association set has 1 ends, expected 2",
        },
        Broken {
            name: "annotation without Term",
            xml: v4(r#"
<EntityType Name="Basket">
  <Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
  <Annotation String="no term"/>
</EntityType>"#),
            kind: Kind::Structure,
            line: 7,
            column: 3,
            path: "Schema[Shop]/EntityType[Basket]/Annotation",
            message: "missing attribute Term",
        },
        Broken {
            name: "columns count characters, not bytes",
            xml: v4("\n<ComplexType Name=\"Maße\"><Property Name=\"Länge\"/></ComplexType>"),
            kind: Kind::Structure,
            line: 4,
            column: 26,
            path: "Schema[Shop]/ComplexType[Maße]/Property[Länge]",
            message: "missing attribute Type",
        },
        Broken {
            name: "bound action without parameters",
            xml: v4(r#"
<Action Name="Checkout" IsBound="true">
  <ReturnType Type="Edm.Boolean"/>
</Action>"#),
            kind: Kind::Structure,
            line: 4,
            column: 1,
            path: "Schema[Shop]/Action[Checkout]",
            message: "bound operation without a binding parameter",
        },
    ];
    for case in &cases {
        check(case);
    }
}

#[test]
fn malformed_xml_is_reported_where_it_is() {
    let cases = [
        Broken {
            name: "mismatched end tag",
            xml: v4(r#"
<ComplexType Name="Label">
  <Property Name="Text" Type="Edm.String"/>
</EntityType>"#),
            kind: Kind::Xml,
            line: 6,
            column: 1,
            path: "Schema[Shop]/ComplexType[Label]",
            message: "ill-formed document: expected `</ComplexType>`, but `</EntityType>` was found",
        },
        Broken {
            name: "unknown entity in element text",
            xml: v4(r#"
<ComplexType Name="Label">
  <Annotation Term="Org.OData.Core.V1.Description"><String>a &nbsp; b</String></Annotation>
</ComplexType>"#),
            kind: Kind::Structure,
            line: 5,
            column: 62,
            path: "Schema[Shop]/ComplexType[Label]/Annotation[Org.OData.Core.V1.Description]",
            message: "unknown entity `&nbsp;`",
        },
        // quick-xml reports positions inside an attribute value relative to the value; the error
        // must still point into the document, at the element.
        Broken {
            name: "unknown entity in an attribute",
            xml: v4(r#"
<ComplexType Name="Label">
  <Property Name="Text" Type="Edm.String" DefaultValue="a &bogus; b"/>
</ComplexType>"#),
            kind: Kind::Xml,
            line: 5,
            column: 3,
            path: "Schema[Shop]/ComplexType[Label]",
            message: "at 3..8: unrecognized entity `bogus`",
        },
        Broken {
            name: "unquoted attribute value",
            xml: v4(r#"
<ComplexType Name="Label">
    <Property Name=Text Type="Edm.String"/>
</ComplexType>"#),
            kind: Kind::Xml,
            line: 5,
            column: 5,
            path: "Schema[Shop]/ComplexType[Label]",
            message: "error while parsing attribute: position 14: attribute value must be \
                      enclosed in `\"` or `'`",
        },
        Broken {
            name: "bad character reference in an annotation value",
            xml: v4(r#"
<ComplexType Name="Label">
  <Annotation Term="Org.OData.Core.V1.Description"><String>a &#xZZ; b</String></Annotation>
</ComplexType>"#),
            kind: Kind::Xml,
            line: 5,
            column: 62,
            path: "Schema[Shop]/ComplexType[Label]/Annotation[Org.OData.Core.V1.Description]",
            message: "invalid character reference: invalid digit found in string",
        },
        Broken {
            name: "unknown entity in a record member",
            xml: v4(r#"
<ComplexType Name="Label">
  <Annotation Term="Shop.Note"><Record><PropertyValue Property="Text" String="x &q; y"/></Record></Annotation>
</ComplexType>"#),
            kind: Kind::Xml,
            line: 5,
            column: 40,
            path: "Schema[Shop]/ComplexType[Label]/Annotation[Shop.Note]",
            message: "at 3..4: unrecognized entity `q`",
        },
    ];
    for case in &cases {
        check(case);
    }
}

#[test]
fn error_display_names_line_column_path_and_message() {
    let xml = v4(r#"
<ComplexType Name="Label">
  <Property Name="Text"/>
</ComplexType>"#);
    let error = parse(xml.as_bytes()).expect_err("no Type");
    assert_eq!(
        error.to_string(),
        "line 5, column 3: Schema[Shop]/ComplexType[Label]/Property[Text]: missing attribute Type"
    );
    let xml = v4("\n<ComplexType Name=\"Label\"></EntityType>");
    let error = parse(xml.as_bytes()).expect_err("mismatched");
    assert_eq!(
        error.to_string(),
        "line 4, column 27: Schema[Shop]/ComplexType[Label]: malformed XML: ill-formed document: \
         expected `</ComplexType>`, but `</EntityType>` was found"
    );
}

#[test]
fn byte_order_mark_does_not_shift_positions() {
    // The mark is three bytes before the first `<`; an element at the start of a line must
    // stay on its line, in parse errors and in the resolver's diagnostics alike.
    let body = "\n<ComplexType Name=\"Label\">\n<Property Name=\"Text\"/>\n</ComplexType>";
    check(&Broken {
        name: "parse error after a byte order mark",
        xml: format!("\u{feff}{}", v4(body)),
        kind: Kind::Structure,
        line: 5,
        column: 1,
        path: "Schema[Shop]/ComplexType[Label]/Property[Text]",
        message: "missing attribute Type",
    });
    let body = "\n<ComplexType Name=\"Label\">\n<Property Name=\"Text\" Type=\"Shop.Nope\"/>\n</ComplexType>";
    check_diagnostics(
        "diagnostic after a byte order mark",
        &format!("\u{feff}{}", v4(body)),
        &[(
            Severity::Error,
            5,
            1,
            "Schema[Shop]/ComplexType[Label]/Property[Text]",
            "unknown type Shop.Nope",
        )],
    );
}

// ----- broken copies of real fixtures -----

#[test]
fn truncated_fixture_reports_where_the_document_ends() {
    let text = fixture("GWSAMPLE_BASIC.v2.xml");
    // Cut after line 45, the FullName property of BusinessPartner (lines 38-62): the document
    // ends between two elements, with the entity type still open.
    let kept: usize = text.split_inclusive('\n').take(45).map(str::len).sum();
    let cut = &text[..kept];
    assert!(cut.trim_end().ends_with("sap:filterable=\"false\"/>"));
    assert!(
        cut.lines()
            .last()
            .is_some_and(|l| l.contains("Name=\"FullName\""))
    );
    check(&Broken {
        name: "cut between elements",
        xml: cut.to_owned(),
        kind: Kind::Xml,
        line: 46,
        column: 1,
        path: "Schema[GWSAMPLE_BASIC]/EntityType[BusinessPartner]",
        message: "document ends early: element not closed",
    });

    // Cut inside the start tag of CreatedAt (line 54): the unfinished tag is the place.
    let tag = text
        .find("<Property Name=\"CreatedAt\"")
        .expect("CreatedAt in the fixture");
    let inside = tag + text[tag..].find("sap:label").expect("attribute in the tag");
    let (line, column) = position(&text, tag);
    assert_eq!((line, column), (54, 13));
    check(&Broken {
        name: "cut inside a tag",
        xml: text[..inside].to_owned(),
        kind: Kind::Xml,
        line,
        column,
        path: "Schema[GWSAMPLE_BASIC]/EntityType[BusinessPartner]",
        message: "syntax error: tag not closed: `>` not found before end of input",
    });
}

#[test]
fn fixture_property_without_type_is_reported_at_its_line() {
    // (fixture, schema, entity type, property, line of the property in the fixture)
    let cases = [
        (
            "API_SALES_ORDER_SRV.v2.edmx",
            "API_SALES_ORDER_SRV",
            "A_SalesOrderItemType",
            "SalesOrderItem",
            198,
        ),
        (
            "GWSAMPLE_BASIC.v2.xml",
            "GWSAMPLE_BASIC",
            "BusinessPartner",
            "CompanyName",
            44,
        ),
        (
            "TripPin.v4.xml",
            "Microsoft.OData.SampleService.Models.TripPin",
            "Person",
            "FirstName",
            50,
        ),
        (
            "DMO_TEST_DTE_ROOT_O401.v401.xml",
            "com.sap.gateway.srvd.dmo.test_dte_root_o401.v0001",
            "Root_V2Type",
            "description",
            69,
        ),
    ];
    for (file, schema, entity_type, property, fixture_line) in cases {
        let text = fixture(file);
        let type_start = text
            .find(&format!("<EntityType Name=\"{entity_type}\""))
            .unwrap_or_else(|| panic!("{file}: {entity_type}"));
        // The first Property element of the type with this name (PropertyRef does not count).
        let name = format!(" Name=\"{property}\"");
        let tag = text[type_start..]
            .match_indices("<Property ")
            .map(|(i, _)| type_start + i)
            .find(|&i| text[i..i + text[i..].find('>').expect("tag end")].contains(&name))
            .unwrap_or_else(|| panic!("{file}: {property}"));
        let tag_end = tag + text[tag..].find('>').expect("tag end");
        let type_at = tag + text[tag..tag_end].find(" Type=\"").expect("Type attribute");
        let value_start = type_at + " Type=\"".len();
        let type_end = value_start + text[value_start..].find('"').expect("closing quote") + 1;
        let broken = format!("{}{}", &text[..type_at], &text[type_end..]);
        assert_eq!(broken.len(), text.len() - (type_end - type_at));

        let (line, column) = position(&text, tag);
        assert_eq!(line, fixture_line, "{file}: line of {property}");
        let path = format!("Schema[{schema}]/EntityType[{entity_type}]/Property[{property}]");
        check(&Broken {
            name: file,
            xml: broken,
            kind: Kind::Structure,
            line,
            column,
            path: &path,
            message: "missing attribute Type",
        });
    }
}

// ----- documents that parse with diagnostics -----

#[test]
fn dangling_association_is_an_error_diagnostic_and_the_rest_resolves() {
    let metadata = check_diagnostics(
        "dangling association",
        &v2(r#"
<EntityType Name="Order">
  <Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
  <NavigationProperty Name="Owner" Relationship="Shop.OrderOwner" FromRole="Order" ToRole="Owner"/>
  <NavigationProperty Name="Lines" Relationship="Shop.OrderLines" FromRole="Order" ToRole="Lines"/>
</EntityType>
<EntityType Name="Line">
  <Key><PropertyRef Name="No"/></Key>
  <Property Name="No" Type="Edm.Int32" Nullable="false"/>
</EntityType>
<Association Name="OrderLines">
  <End Type="Shop.Order" Multiplicity="1" Role="Order"/>
  <End Type="Shop.Line" Multiplicity="*" Role="Lines"/>
</Association>
<EntityContainer Name="Entities" m:IsDefaultEntityContainer="true">
  <EntitySet Name="Orders" EntityType="Shop.Order"/>
  <EntitySet Name="Lines" EntityType="Shop.Line"/>
  <AssociationSet Name="OrderLines_Set" Association="Shop.OrderLines">
    <End EntitySet="Orders" Role="Order"/>
    <End EntitySet="Lines" Role="Lines"/>
  </AssociationSet>
</EntityContainer>"#),
        &[(
            Severity::Error,
            7,
            3,
            "Schema[Shop]/EntityType[Order]/NavigationProperty[Owner]",
            "association Shop.OrderOwner not found",
        )],
    );
    let order = metadata.entity_type("Shop.Order").expect("Order kept");
    let names: Vec<&str> = order.properties.iter().map(|p| &*p.name).collect();
    assert_eq!(names, ["ID"]);
    assert_eq!(&*order.key[0].name, "ID");
    let navs: Vec<&str> = order
        .navigation_properties
        .iter()
        .map(|n| &*n.name)
        .collect();
    assert_eq!(navs, ["Owner", "Lines"]);
    let lines = &order.navigation_properties[1];
    assert_eq!(lines.target.to_string(), "Collection(Shop.Line)");
    assert_eq!(lines.multiplicity, Multiplicity::Many);
    assert!(metadata.entity_type("Shop.Line").is_some());
    let set = &metadata.entity_container().expect("container").entity_sets[0];
    let bindings: Vec<(&str, &str)> = set
        .navigation_property_bindings
        .iter()
        .map(|b| (&*b.path, &*b.target))
        .collect();
    assert_eq!(bindings, [("Lines", "Lines")]);
}

#[test]
fn unknown_type_references_are_error_diagnostics() {
    check_diagnostics(
        "unknown types",
        &v4(r#"
<EntityType Name="Order" BaseType="Shop.Document">
  <Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
  <Property Name="Status" Type="Shop.Status"/>
  <Property Name="Notes" Type="Collection(Shop.Note)"/>
  <NavigationProperty Name="Owner" Type="Shop.Person"/>
</EntityType>
<Function Name="Find">
  <Parameter Name="by" Type="Shop.Query"/>
  <ReturnType Type="Collection(Shop.Order)"/>
</Function>
<EntityContainer Name="Default">
  <EntitySet Name="Orders" EntityType="Shop.Order"/>
  <EntitySet Name="People" EntityType="Shop.Person"/>
</EntityContainer>"#),
        &[
            (
                Severity::Error,
                4,
                1,
                "Schema[Shop]/EntityType[Order]",
                "unknown type Shop.Document",
            ),
            (
                Severity::Error,
                7,
                3,
                "Schema[Shop]/EntityType[Order]/Property[Status]",
                "unknown type Shop.Status",
            ),
            (
                Severity::Error,
                8,
                3,
                "Schema[Shop]/EntityType[Order]/Property[Notes]",
                "unknown type Shop.Note",
            ),
            (
                Severity::Error,
                9,
                3,
                "Schema[Shop]/EntityType[Order]/NavigationProperty[Owner]",
                "unknown type Shop.Person",
            ),
            (
                Severity::Error,
                12,
                3,
                "Schema[Shop]/Function[Find]/Parameter[by]",
                "unknown type Shop.Query",
            ),
            (
                Severity::Error,
                17,
                3,
                "Schema[Shop]/EntityContainer[Default]/EntitySet[People]",
                "unknown type Shop.Person",
            ),
        ],
    );
}

#[test]
fn model_inconsistencies_are_diagnostics_at_the_element() {
    // (name, document, every diagnostic in order)
    let cases: Vec<(&str, String, Vec<Expected<'_>>)> = vec![
        (
            "wrong kind of type",
            v4(r#"
<ComplexType Name="Address"><Property Name="City" Type="Edm.String"/></ComplexType>
<EntityType Name="Parcel" BaseType="Shop.Address">
  <Key><PropertyRef Name="City"/></Key>
  <NavigationProperty Name="From" Type="Shop.Address"/>
</EntityType>"#),
            vec![
                (
                    Severity::Error,
                    5,
                    1,
                    "Schema[Shop]/EntityType[Parcel]",
                    "Shop.Address is not an entity type",
                ),
                (
                    Severity::Error,
                    7,
                    3,
                    "Schema[Shop]/EntityType[Parcel]/NavigationProperty[From]",
                    "Shop.Address is not an entity type",
                ),
            ],
        ),
        (
            "key and constraint properties that do not exist",
            v4(r#"
<EntityType Name="Parcel">
  <Key><PropertyRef Name="ParcelID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
  <NavigationProperty Name="Depot" Type="Shop.Depot" Partner="Parcels">
    <ReferentialConstraint Property="DepotID" ReferencedProperty="Code"/>
  </NavigationProperty>
</EntityType>
<EntityType Name="Depot">
  <Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
</EntityType>"#),
            vec![
                (
                    Severity::Error,
                    4,
                    1,
                    "Schema[Shop]/EntityType[Parcel]/Key/PropertyRef[ParcelID]",
                    "key property ParcelID is not a property of the type",
                ),
                (
                    Severity::Warning,
                    7,
                    3,
                    "Schema[Shop]/EntityType[Parcel]/NavigationProperty[Depot]",
                    "partner Parcels is not a navigation property of Shop.Depot",
                ),
                (
                    Severity::Error,
                    7,
                    3,
                    "Schema[Shop]/EntityType[Parcel]/NavigationProperty[Depot]",
                    "referential constraint property DepotID is not a property of Parcel",
                ),
                (
                    Severity::Error,
                    7,
                    3,
                    "Schema[Shop]/EntityType[Parcel]/NavigationProperty[Depot]",
                    "referenced property Code is not a property of Shop.Depot",
                ),
            ],
        ),
        (
            "v2 navigation over a role the association lacks",
            v2(r#"
<EntityType Name="Parcel">
  <Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
  <NavigationProperty Name="Depot" Relationship="Shop.ParcelDepot" FromRole="Parcel" ToRole="Store"/>
</EntityType>
<EntityType Name="Depot">
  <Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
</EntityType>
<Association Name="ParcelDepot">
  <End Type="Shop.Parcel" Multiplicity="*" Role="Parcel"/>
  <End Type="Shop.Depot" Multiplicity="1" Role="Depot"/>
</Association>"#),
            vec![(
                Severity::Error,
                7,
                3,
                "Schema[Shop]/EntityType[Parcel]/NavigationProperty[Depot]",
                "association Shop.ParcelDepot has no role Store",
            )],
        ),
        (
            "bindings and imports that point nowhere",
            v4(r#"
<EntityType Name="Parcel">
  <Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
  <NavigationProperty Name="Next" Type="Shop.Parcel"/>
</EntityType>
<EntityContainer Name="Default">
  <EntitySet Name="Parcels" EntityType="Shop.Parcel">
    <NavigationPropertyBinding Path="Next" Target="Elsewhere"/>
    <NavigationPropertyBinding Path="Previous" Target="Parcels"/>
  </EntitySet>
  <FunctionImport Name="Track" Function="Shop.Track"/>
</EntityContainer>"#),
            vec![
                (
                    Severity::Error,
                    10,
                    3,
                    "Schema[Shop]/EntityContainer[Default]/EntitySet[Parcels]/NavigationPropertyBinding[Next]",
                    "binding target Elsewhere not found",
                ),
                (
                    Severity::Error,
                    10,
                    3,
                    "Schema[Shop]/EntityContainer[Default]/EntitySet[Parcels]/NavigationPropertyBinding[Previous]",
                    "Previous is not a navigation property of Shop.Parcel",
                ),
                (
                    Severity::Error,
                    14,
                    3,
                    "Schema[Shop]/EntityContainer[Default]/FunctionImport[Track]",
                    "imported operation Shop.Track not found",
                ),
            ],
        ),
        (
            "annotation target that does not exist",
            v4(r#"
<EntityType Name="Parcel">
  <Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
</EntityType>
<Annotations Target="Shop.Parcel/Weight">
  <Annotation Term="Org.OData.Core.V1.Description" String="kg"/>
</Annotations>"#),
            vec![(
                Severity::Warning,
                8,
                1,
                "Schema[Shop]/Annotations[Shop.Parcel/Weight]",
                "annotation target not found: Shop.Parcel/Weight: no property Weight",
            )],
        ),
        (
            "facets and flags that cannot be read",
            v4(r#"
<ComplexType Name="Label">
  <Property Name="Text" Type="Edm.String" Nullable="yes" MaxLength="lots"/>
  <Property Name="Size" Type="Edm.Decimal" Precision="wide" Scale="-1"/>
  <Property Name="Code" Type="Edm.Text"/>
</ComplexType>"#),
            vec![
                (
                    Severity::Warning,
                    5,
                    3,
                    "Schema[Shop]/ComplexType[Label]/Property[Text]",
                    "attribute Nullable: `yes` is not a boolean, taken as true",
                ),
                (
                    Severity::Warning,
                    5,
                    3,
                    "Schema[Shop]/ComplexType[Label]/Property[Text]",
                    "attribute MaxLength: `lots` ignored",
                ),
                (
                    Severity::Warning,
                    6,
                    3,
                    "Schema[Shop]/ComplexType[Label]/Property[Size]",
                    "attribute Precision: `wide` ignored",
                ),
                (
                    Severity::Warning,
                    6,
                    3,
                    "Schema[Shop]/ComplexType[Label]/Property[Size]",
                    "attribute Scale: `-1` ignored",
                ),
                (
                    Severity::Warning,
                    7,
                    3,
                    "Schema[Shop]/ComplexType[Label]/Property[Code]",
                    "unknown primitive type Edm.Text; its values are passed through as they come",
                ),
            ],
        ),
        (
            "duplicate type names",
            v4(r#"
<ComplexType Name="Label"><Property Name="Text" Type="Edm.String"/></ComplexType>
<EnumType Name="Label"><Member Name="Plain"/></EnumType>"#),
            vec![(
                Severity::Error,
                5,
                1,
                "Schema[Shop]/EnumType[Label]",
                "duplicate type name Shop.Label",
            )],
        ),
    ];
    for (name, xml, expected) in &cases {
        check_diagnostics(name, xml, expected);
    }
}

#[test]
fn enum_member_value_that_is_not_an_integer_is_kept_as_written() {
    let metadata = check_diagnostics(
        "enum member value",
        &v4(r#"
<EnumType Name="Size">
  <Member Name="Small" Value="0"/>
  <Member Name="Big" Value="0x10"/>
  <Member Name="Huge"/>
</EnumType>"#),
        &[(
            Severity::Warning,
            6,
            3,
            "Schema[Shop]/EnumType[Size]/Member[Big]",
            "member Value `0x10` is not a 64-bit integer; kept as written, numbered 1",
        )],
    );
    let size = metadata.enum_type("Shop.Size").expect("Size");
    let members: Vec<(&str, i64, Option<&str>)> = size
        .members
        .iter()
        .map(|m| (&*m.name, m.value, m.value_text.as_deref()))
        .collect();
    assert_eq!(
        members,
        [
            ("Small", 0, None),
            ("Big", 1, Some("0x10")),
            ("Huge", 2, None)
        ]
    );
}
