//! The resolved model: keys, v2 associations and v4 navigation, enums, annotation targets and
//! typed terms, 4.01 documents and schemas that share type names, on small inline documents and
//! on the real fixtures in `../shared/fixtures/odata/`.

use bizgraph_metadata::annotations::{
    ConstantKind, FilterRestriction, FilterRestrictions, PathKind, PropertyValue, Record,
    SearchRestrictions, ValueOrPath,
};
use bizgraph_metadata::{
    Annotation, Annotations, EntityType, Expr, Metadata, Multiplicity, NavigationProperty,
    NavigationPropertyBinding, ODataVersion, OnDeleteAction, ReferentialConstraint, SapAttributes,
    Scale, Terms, parse,
};
use common::{fixture_bytes as fixture, v2, v4};

mod common;

// ----- helpers -----

/// Parses a document that must yield a model without any diagnostic.
fn clean(xml: &str) -> Metadata {
    let parsed = parse(xml.as_bytes()).unwrap_or_else(|e| panic!("parse failed: {e}"));
    let shown: Vec<String> = parsed.diagnostics.iter().map(|d| d.to_string()).collect();
    assert!(
        shown.is_empty(),
        "unexpected diagnostics:\n{}",
        shown.join("\n")
    );
    parsed.metadata
}

/// Parses a fixture; the fixtures test already proves they have no error diagnostics.
fn fixture_model(name: &str) -> Metadata {
    parse(&fixture(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .metadata
}

fn entity<'m>(metadata: &'m Metadata, qualified: &str) -> &'m EntityType {
    metadata
        .entity_type(qualified)
        .unwrap_or_else(|| panic!("entity type {qualified} not found"))
}

fn navigation<'m>(metadata: &'m Metadata, qualified: &str, name: &str) -> &'m NavigationProperty {
    entity(metadata, qualified)
        .navigation_properties
        .iter()
        .find(|n| &*n.name == name)
        .unwrap_or_else(|| panic!("{qualified} has no navigation property {name}"))
}

fn property_annotations<'m>(
    metadata: &'m Metadata,
    qualified: &str,
    name: &str,
) -> &'m Annotations {
    &entity(metadata, qualified)
        .properties
        .iter()
        .find(|p| &*p.name == name)
        .unwrap_or_else(|| panic!("{qualified} has no property {name}"))
        .annotations
}

fn key_names(key: &[bizgraph_metadata::PropertyRef]) -> Vec<&str> {
    key.iter().map(|k| &*k.name).collect()
}

/// The typed terms of an element, or the empty set when nothing was typed.
fn terms(annotations: &Annotations) -> Terms {
    annotations.terms.as_deref().cloned().unwrap_or_default()
}

fn constraints(pairs: &[(&str, &str)]) -> Vec<ReferentialConstraint> {
    pairs
        .iter()
        .map(|(property, referenced)| ReferentialConstraint {
            property: (*property).into(),
            referenced_property: (*referenced).into(),
        })
        .collect()
}

fn bindings(pairs: &[(&str, &str)]) -> Vec<NavigationPropertyBinding> {
    pairs
        .iter()
        .map(|(path, target)| NavigationPropertyBinding {
            path: (*path).into(),
            target: (*target).into(),
        })
        .collect()
}

fn entity_set_bindings<'m>(metadata: &'m Metadata, set: &str) -> &'m [NavigationPropertyBinding] {
    &metadata
        .entity_container()
        .expect("a container")
        .entity_sets
        .iter()
        .find(|s| &*s.name == set)
        .unwrap_or_else(|| panic!("no entity set {set}"))
        .navigation_property_bindings
}

/// What a navigation property must look like after resolution.
struct Nav<'a> {
    owner: &'a str,
    name: &'a str,
    target: &'a str,
    collection: bool,
    multiplicity: Multiplicity,
    partner: Option<&'a str>,
    contains_target: bool,
    constraints: &'a [(&'a str, &'a str)],
    on_delete: Option<OnDeleteAction>,
}

fn check_navigation(metadata: &Metadata, want: &Nav<'_>) {
    let nav = navigation(metadata, want.owner, want.name);
    let at = format!("{}/{}", want.owner, want.name);
    assert_eq!(&*nav.target.name, want.target, "{at}: target");
    assert_eq!(nav.target.collection, want.collection, "{at}: collection");
    assert_eq!(nav.multiplicity, want.multiplicity, "{at}: multiplicity");
    assert_eq!(nav.partner.as_deref(), want.partner, "{at}: partner");
    assert_eq!(
        nav.contains_target, want.contains_target,
        "{at}: containment"
    );
    assert_eq!(
        nav.referential_constraints,
        constraints(want.constraints),
        "{at}: referential constraints"
    );
    assert_eq!(nav.on_delete, want.on_delete, "{at}: OnDelete");
}

/// 1-based line of a byte offset, counted independently of the crate's `Location`.
fn line_of(source: &[u8], offset: u32) -> usize {
    source[..offset as usize]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

// ----- keys -----

fn check_key(
    metadata: &Metadata,
    name: &str,
    declared: &[&str],
    effective: &[&str],
    aliases: &[Option<&str>],
) {
    let ty = entity(metadata, name);
    assert_eq!(key_names(&ty.key), declared, "{name}: declared key");
    let key = metadata.key_of(ty);
    assert_eq!(key_names(key), effective, "{name}: effective key");
    let got: Vec<Option<&str>> = key.iter().map(|k| k.alias.as_deref()).collect();
    assert_eq!(got, aliases, "{name}: key aliases");
}

#[test]
fn composite_key_keeps_declared_order_and_is_inherited() {
    let metadata = clean(&v4(r#"
<EntityType Name="OrderLine">
  <Key><PropertyRef Name="OrderNo"/><PropertyRef Name="LineNo"/></Key>
  <Property Name="LineNo" Type="Edm.Int32" Nullable="false"/>
  <Property Name="OrderNo" Type="Edm.String" Nullable="false"/>
</EntityType>
<EntityType Name="ServiceLine" BaseType="Shop.OrderLine">
  <Property Name="Hours" Type="Edm.Decimal"/>
</EntityType>
<EntityType Name="Stock">
  <Key><PropertyRef Name="Place/Bin" Alias="Bin"/><PropertyRef Name="Sku"/></Key>
  <Property Name="Place" Type="Shop.Location" Nullable="false"/>
  <Property Name="Sku" Type="Edm.String" Nullable="false"/>
</EntityType>
<ComplexType Name="Location"><Property Name="Bin" Type="Edm.String"/></ComplexType>"#));

    // The key as declared, as effective (inherited from the base) and the aliases.
    check_key(
        &metadata,
        "Shop.OrderLine",
        &["OrderNo", "LineNo"],
        &["OrderNo", "LineNo"],
        &[None, None],
    );
    check_key(
        &metadata,
        "Shop.ServiceLine",
        &[],
        &["OrderNo", "LineNo"],
        &[None, None],
    );
    check_key(
        &metadata,
        "Shop.Stock",
        &["Place/Bin", "Sku"],
        &["Place/Bin", "Sku"],
        &[Some("Bin"), None],
    );
    // The derived type declares no key of its own, so only two types count as composite.
    assert_eq!(metadata.counts().keys_composite, 2);
}

#[test]
fn composite_key_of_sales_order_item_follows_the_fixture() {
    // API_SALES_ORDER_SRV.v2.edmx lines 193-196: SalesOrder, then SalesOrderItem.
    let metadata = fixture_model("API_SALES_ORDER_SRV.v2.edmx");
    let cases: [(&str, &[&str]); 2] = [
        (
            "API_SALES_ORDER_SRV.A_SalesOrderItemType",
            &["SalesOrder", "SalesOrderItem"],
        ),
        ("API_SALES_ORDER_SRV.A_SalesOrderType", &["SalesOrder"]),
    ];
    for (name, key) in cases {
        assert_eq!(key_names(&entity(&metadata, name).key), key, "{name}");
    }
}

// ----- v2 associations -----

const V2_SALES: &str = r#"
<EntityType Name="Customer">
  <Key><PropertyRef Name="Company"/><PropertyRef Name="ID"/></Key>
  <Property Name="Company" Type="Edm.String" Nullable="false"/>
  <Property Name="ID" Type="Edm.String" Nullable="false"/>
  <NavigationProperty Name="Orders" Relationship="Shop.CustomerOrders" FromRole="Buyer" ToRole="Purchases"/>
</EntityType>
<EntityType Name="Order">
  <Key><PropertyRef Name="OrderNo"/></Key>
  <Property Name="OrderNo" Type="Edm.String" Nullable="false"/>
  <Property Name="BuyerCompany" Type="Edm.String"/>
  <Property Name="BuyerID" Type="Edm.String"/>
  <NavigationProperty Name="Buyer" Relationship="Shop.CustomerOrders" FromRole="Purchases" ToRole="Buyer"/>
  <NavigationProperty Name="Memo" Relationship="Shop.OrderMemo" FromRole="Order" ToRole="Memo"/>
</EntityType>
<EntityType Name="Memo">
  <Key><PropertyRef Name="MemoID"/></Key>
  <Property Name="MemoID" Type="Edm.Guid" Nullable="false"/>
</EntityType>
<Association Name="CustomerOrders">
  <End Type="Shop.Customer" Multiplicity="1" Role="Buyer"><OnDelete Action="Cascade"/></End>
  <End Type="Shop.Order" Multiplicity="*" Role="Purchases"/>
  <ReferentialConstraint>
    <Principal Role="Buyer"><PropertyRef Name="Company"/><PropertyRef Name="ID"/></Principal>
    <Dependent Role="Purchases"><PropertyRef Name="BuyerCompany"/><PropertyRef Name="BuyerID"/></Dependent>
  </ReferentialConstraint>
</Association>
<Association Name="OrderMemo">
  <End Type="Shop.Order" Multiplicity="1" Role="Order"/>
  <End Type="Shop.Memo" Multiplicity="0..1" Role="Memo"/>
</Association>
<EntityContainer Name="Entities" m:IsDefaultEntityContainer="true">
  <EntitySet Name="Customers" EntityType="Shop.Customer"/>
  <EntitySet Name="Orders" EntityType="Shop.Order"/>
  <EntitySet Name="Memos" EntityType="Shop.Memo"/>
  <AssociationSet Name="CustomerOrders_Set" Association="Shop.CustomerOrders">
    <End EntitySet="Customers" Role="Buyer"/>
    <End EntitySet="Orders" Role="Purchases"/>
  </AssociationSet>
  <AssociationSet Name="OrderMemo_Set" Association="Shop.OrderMemo">
    <End EntitySet="Orders" Role="Order"/>
    <End EntitySet="Memos" Role="Memo"/>
  </AssociationSet>
</EntityContainer>"#;

#[test]
fn v2_association_resolves_both_directions() {
    let metadata = clean(&v2(V2_SALES));
    assert_eq!(metadata.version, ODataVersion::V2);
    assert_eq!(metadata.data_service_version.as_deref(), Some("2.0"));

    let cases = [
        // To-many from the principal: its constraint reads principal -> dependent, and the
        // OnDelete of the declaring end applies.
        Nav {
            owner: "Shop.Customer",
            name: "Orders",
            target: "Shop.Order",
            collection: true,
            multiplicity: Multiplicity::Many,
            partner: Some("Buyer"),
            contains_target: false,
            constraints: &[("Company", "BuyerCompany"), ("ID", "BuyerID")],
            on_delete: Some(OnDeleteAction::Cascade),
        },
        // To-one back from the dependent: the same pairs, the other way round.
        Nav {
            owner: "Shop.Order",
            name: "Buyer",
            target: "Shop.Customer",
            collection: false,
            multiplicity: Multiplicity::One,
            partner: Some("Orders"),
            contains_target: false,
            constraints: &[("BuyerCompany", "Company"), ("BuyerID", "ID")],
            on_delete: None,
        },
        // Zero-or-one without constraint and without a navigation property back.
        Nav {
            owner: "Shop.Order",
            name: "Memo",
            target: "Shop.Memo",
            collection: false,
            multiplicity: Multiplicity::ZeroOrOne,
            partner: None,
            contains_target: false,
            constraints: &[],
            on_delete: None,
        },
    ];
    for want in &cases {
        check_navigation(&metadata, want);
    }

    let orders = navigation(&metadata, "Shop.Customer", "Orders");
    assert_eq!(orders.target.to_string(), "Collection(Shop.Order)");
    let link = orders.association.as_ref().expect("v2 link kept");
    assert_eq!(
        (&*link.association, &*link.from_role, &*link.to_role),
        ("Shop.CustomerOrders", "Buyer", "Purchases")
    );

    let association = metadata
        .association("Shop.CustomerOrders")
        .expect("declared");
    let ends: Vec<(&str, &str, Multiplicity, Option<OnDeleteAction>)> = association
        .ends
        .iter()
        .map(|e| (&*e.role, &*e.entity_type, e.multiplicity, e.on_delete))
        .collect();
    assert_eq!(
        ends,
        [
            (
                "Buyer",
                "Shop.Customer",
                Multiplicity::One,
                Some(OnDeleteAction::Cascade)
            ),
            ("Purchases", "Shop.Order", Multiplicity::Many, None),
        ]
    );

    // Bindings derived from the association sets, in both directions.
    let cases: [(&str, &[(&str, &str)]); 3] = [
        ("Customers", &[("Orders", "Orders")]),
        ("Orders", &[("Buyer", "Customers"), ("Memo", "Memos")]),
        ("Memos", &[]),
    ];
    for (set, expected) in cases {
        assert_eq!(
            entity_set_bindings(&metadata, set),
            bindings(expected),
            "{set}"
        );
    }
}

#[test]
fn v2_to_one_navigation_of_gwsample_takes_constraint_from_dependent_side() {
    // GWSAMPLE_BASIC.v2.xml lines 287-298: BusinessPartner (1, principal BusinessPartnerID) to
    // SalesOrder (*, dependent CustomerID); only SalesOrder navigates over it.
    let metadata = fixture_model("GWSAMPLE_BASIC.v2.xml");
    check_navigation(
        &metadata,
        &Nav {
            owner: "GWSAMPLE_BASIC.SalesOrder",
            name: "ToBusinessPartner",
            target: "GWSAMPLE_BASIC.BusinessPartner",
            collection: false,
            multiplicity: Multiplicity::One,
            partner: None,
            contains_target: false,
            constraints: &[("CustomerID", "BusinessPartnerID")],
            on_delete: None,
        },
    );
    check_navigation(
        &metadata,
        &Nav {
            owner: "GWSAMPLE_BASIC.BusinessPartner",
            name: "ToContacts",
            target: "GWSAMPLE_BASIC.Contact",
            collection: true,
            multiplicity: Multiplicity::Many,
            partner: Some("ToBusinessPartner"),
            contains_target: false,
            constraints: &[("BusinessPartnerID", "BusinessPartnerID")],
            on_delete: None,
        },
    );
    assert_eq!(
        entity_set_bindings(&metadata, "SalesOrderSet"),
        bindings(&[("ToBusinessPartner", "BusinessPartnerSet")])
    );
}

#[test]
fn v2_sales_order_navigation_over_separate_associations_has_no_partner() {
    // API_SALES_ORDER_SRV: to_Item (line 125) and the item's to_SalesOrder (line 190) use two
    // different associations, so neither is the other's partner.
    let metadata = fixture_model("API_SALES_ORDER_SRV.v2.edmx");
    let cases = [
        Nav {
            owner: "API_SALES_ORDER_SRV.A_SalesOrderType",
            name: "to_Item",
            target: "API_SALES_ORDER_SRV.A_SalesOrderItemType",
            collection: true,
            multiplicity: Multiplicity::Many,
            partner: None,
            contains_target: false,
            constraints: &[],
            on_delete: None,
        },
        Nav {
            owner: "API_SALES_ORDER_SRV.A_SalesOrderItemType",
            name: "to_SalesOrder",
            target: "API_SALES_ORDER_SRV.A_SalesOrderType",
            collection: false,
            multiplicity: Multiplicity::One,
            partner: None,
            contains_target: false,
            constraints: &[],
            on_delete: None,
        },
    ];
    for want in &cases {
        check_navigation(&metadata, want);
    }
    let to_item = bindings(&[("to_Item", "A_SalesOrderItem")]);
    assert!(
        entity_set_bindings(&metadata, "A_SalesOrder").contains(&to_item[0]),
        "A_SalesOrder binds to_Item"
    );
}

// ----- v4 navigation -----

#[test]
fn v4_partners_containment_constraints_and_on_delete() {
    let metadata = clean(&v4(r#"
<EntityType Name="Order">
  <Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
  <Property Name="CustomerID" Type="Edm.Int32"/>
  <NavigationProperty Name="Lines" Type="Collection(Shop.Line)" Partner="Order" ContainsTarget="true">
    <OnDelete Action="Cascade"/>
  </NavigationProperty>
  <NavigationProperty Name="Customer" Type="Shop.Customer" Partner="Orders">
    <ReferentialConstraint Property="CustomerID" ReferencedProperty="ID"/>
    <OnDelete Action="None"/>
  </NavigationProperty>
</EntityType>
<EntityType Name="Line">
  <Key><PropertyRef Name="No"/></Key>
  <Property Name="No" Type="Edm.Int32" Nullable="false"/>
  <Property Name="OrderID" Type="Edm.Int32" Nullable="false"/>
  <NavigationProperty Name="Order" Type="Shop.Order" Nullable="false" Partner="Lines">
    <ReferentialConstraint Property="OrderID" ReferencedProperty="ID"/>
  </NavigationProperty>
</EntityType>
<EntityType Name="Customer">
  <Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
  <NavigationProperty Name="Orders" Type="Collection(Shop.Order)" Partner="Customer"/>
</EntityType>
<EntityContainer Name="Default">
  <EntitySet Name="Orders" EntityType="Shop.Order">
    <NavigationPropertyBinding Path="Customer" Target="Customers"/>
  </EntitySet>
  <EntitySet Name="Customers" EntityType="Shop.Customer">
    <NavigationPropertyBinding Path="Orders" Target="Orders"/>
  </EntitySet>
</EntityContainer>"#));
    assert_eq!(metadata.version, ODataVersion::V4);
    let cases = [
        Nav {
            owner: "Shop.Order",
            name: "Lines",
            target: "Shop.Line",
            collection: true,
            multiplicity: Multiplicity::Many,
            partner: Some("Order"),
            contains_target: true,
            constraints: &[],
            on_delete: Some(OnDeleteAction::Cascade),
        },
        Nav {
            owner: "Shop.Order",
            name: "Customer",
            target: "Shop.Customer",
            collection: false,
            multiplicity: Multiplicity::ZeroOrOne,
            partner: Some("Orders"),
            contains_target: false,
            constraints: &[("CustomerID", "ID")],
            on_delete: Some(OnDeleteAction::None),
        },
        Nav {
            owner: "Shop.Line",
            name: "Order",
            target: "Shop.Order",
            collection: false,
            multiplicity: Multiplicity::One,
            partner: Some("Lines"),
            contains_target: false,
            constraints: &[("OrderID", "ID")],
            on_delete: None,
        },
        Nav {
            owner: "Shop.Customer",
            name: "Orders",
            target: "Shop.Order",
            collection: true,
            multiplicity: Multiplicity::Many,
            partner: Some("Customer"),
            contains_target: false,
            constraints: &[],
            on_delete: None,
        },
    ];
    for want in &cases {
        check_navigation(&metadata, want);
        let nav = navigation(&metadata, want.owner, want.name);
        assert!(nav.association.is_none(), "v4 has no association link");
    }
    assert_eq!(
        entity_set_bindings(&metadata, "Orders"),
        bindings(&[("Customer", "Customers")])
    );
    assert_eq!(
        entity_set_bindings(&metadata, "Customers"),
        bindings(&[("Orders", "Orders")])
    );
}

#[test]
fn v4_containment_in_trippin_fixture() {
    // TripPin.v4.xml lines 58-60.
    let metadata = fixture_model("TripPin.v4.xml");
    let person = "Microsoft.OData.SampleService.Models.TripPin.Person";
    let cases = [
        (
            "Friends",
            "Microsoft.OData.SampleService.Models.TripPin.Person",
            true,
            false,
        ),
        (
            "Trips",
            "Microsoft.OData.SampleService.Models.TripPin.Trip",
            true,
            true,
        ),
        (
            "Photo",
            "Microsoft.OData.SampleService.Models.TripPin.Photo",
            false,
            false,
        ),
    ];
    for (name, target, collection, contained) in cases {
        let nav = navigation(&metadata, person, name);
        assert_eq!(&*nav.target.name, target, "{name}");
        assert_eq!(nav.target.collection, collection, "{name}");
        assert_eq!(nav.contains_target, contained, "{name}");
    }
}

// ----- enums -----

fn check_enum(
    metadata: &Metadata,
    name: &str,
    underlying: &str,
    flags: bool,
    members: &[(&str, i64)],
) {
    let e = metadata.enum_type(name).unwrap_or_else(|| panic!("{name}"));
    assert_eq!(&*e.underlying_type, underlying, "{name}");
    assert_eq!(e.is_flags, flags, "{name}");
    let got: Vec<(&str, i64)> = e.members.iter().map(|m| (&*m.name, m.value)).collect();
    assert_eq!(got, members, "{name}");
    assert!(e.members.iter().all(|m| m.value_text.is_none()), "{name}");
}

#[test]
fn enum_flags_explicit_and_implicit_values() {
    let metadata = clean(&v4(r#"
<EnumType Name="Access" UnderlyingType="Edm.Byte" IsFlags="true">
  <Member Name="None" Value="0"/>
  <Member Name="Read" Value="1"/>
  <Member Name="Write" Value="2"/>
  <Member Name="Admin" Value="4"/>
</EnumType>
<EnumType Name="Colour">
  <Member Name="Red"/>
  <Member Name="Green"/>
  <Member Name="Blue"/>
</EnumType>
<EnumType Name="Priority" UnderlyingType="Edm.Int64" IsFlags="false">
  <Member Name="Low" Value="-1"/>
  <Member Name="High" Value="9000000000"/>
</EnumType>
<EntityType Name="Account">
  <Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
  <Property Name="Rights" Type="Shop.Access"/>
  <Property Name="Palette" Type="Collection(Shop.Colour)"/>
</EntityType>"#));

    check_enum(
        &metadata,
        "Shop.Access",
        "Edm.Byte",
        true,
        &[("None", 0), ("Read", 1), ("Write", 2), ("Admin", 4)],
    );
    check_enum(
        &metadata,
        "Shop.Colour",
        "Edm.Int32",
        false,
        &[("Red", 0), ("Green", 1), ("Blue", 2)],
    );
    check_enum(
        &metadata,
        "Shop.Priority",
        "Edm.Int64",
        false,
        &[("Low", -1), ("High", 9_000_000_000)],
    );
    // Enum types are not structured types and properties refer to them by name.
    assert!(metadata.structured_type("Shop.Access").is_none());
    let account = entity(&metadata, "Shop.Account");
    let types: Vec<String> = account
        .properties
        .iter()
        .map(|p| p.type_ref.to_string())
        .collect();
    assert_eq!(
        types,
        ["Edm.Int32", "Shop.Access", "Collection(Shop.Colour)"]
    );
}

#[test]
fn enum_flags_in_microsoft_graph_fixture() {
    // MicrosoftGraph_v1.0.v4.csdl.xml line 293.
    let metadata = fixture_model("MicrosoftGraph_v1.0.v4.csdl.xml");
    let e = metadata
        .enum_type("microsoft.graph.applicationDataType")
        .expect("declared");
    assert!(e.is_flags);
    assert_eq!(&*e.underlying_type, "Edm.Int32");
    let first: Vec<(&str, i64)> = e
        .members
        .iter()
        .take(4)
        .map(|m| (&*m.name, m.value))
        .collect();
    assert_eq!(
        first,
        [
            ("none", 0),
            ("codingFiles", 1),
            ("creditCards", 2),
            ("databaseFiles", 4)
        ]
    );
}

// ----- annotations -----

/// A v4 document with vocabulary aliases, the schema alias `SAP__self`, operation overloads and
/// out-of-line annotations on every kind of target.
const ANNOTATED: &str = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
<edmx:Reference Uri="https://vocabularies.example/Core.xml"><edmx:Include Namespace="Org.OData.Core.V1" Alias="Core"/></edmx:Reference>
<edmx:Reference Uri="https://vocabularies.example/Measures.xml"><edmx:Include Namespace="Org.OData.Measures.V1" Alias="Measures"/></edmx:Reference>
<edmx:Reference Uri="https://vocabularies.example/Capabilities.xml"><edmx:Include Namespace="Org.OData.Capabilities.V1" Alias="Capabilities"/></edmx:Reference>
<edmx:Reference Uri="https://vocabularies.example/Common.xml"><edmx:Include Namespace="com.sap.vocabularies.Common.v1" Alias="Common"/></edmx:Reference>
<edmx:Reference Uri="https://vocabularies.example/UI.xml"><edmx:Include Namespace="com.sap.vocabularies.UI.v1" Alias="UI"/></edmx:Reference>
<edmx:DataServices>
<Schema Namespace="com.example.shop" Alias="SAP__self" xmlns="http://docs.oasis-open.org/odata/ns/edm">
  <EntityType Name="Product">
    <Key><PropertyRef Name="ID"/></Key>
    <Property Name="ID" Type="Edm.Int32" Nullable="false">
      <Annotation Term="Core.Computed"/>
    </Property>
    <Property Name="Code" Type="Edm.String"/>
    <Property Name="CodeText" Type="Edm.String"/>
    <Property Name="Price" Type="Edm.Decimal" Precision="9" Scale="2"/>
    <Property Name="Currency" Type="Edm.String" MaxLength="3"/>
    <Property Name="Weight" Type="Edm.Decimal"/>
    <Annotation Term="Core.Description" String="Something for sale"/>
  </EntityType>
  <Function Name="Rate">
    <Parameter Name="text" Type="Edm.String"/>
    <ReturnType Type="Edm.Int32"/>
  </Function>
  <Function Name="Rate">
    <Parameter Name="text" Type="Edm.String"/>
    <Parameter Name="scale" Type="Edm.Int32"/>
    <ReturnType Type="Edm.Int32"/>
  </Function>
  <Action Name="Approve" IsBound="true">
    <Parameter Name="it" Type="SAP__self.Product"/>
  </Action>
  <Action Name="Approve" IsBound="true">
    <Parameter Name="them" Type="Collection(SAP__self.Product)"/>
    <Parameter Name="reason" Type="Edm.String"/>
  </Action>
  <EntityContainer Name="Shop">
    <EntitySet Name="Products" EntityType="SAP__self.Product"/>
    <FunctionImport Name="RateText" Function="SAP__self.Rate"/>
  </EntityContainer>
  <Annotations Target="SAP__self.Product/Price">
    <Annotation Term="Measures.ISOCurrency" Path="Currency"/>
    <Annotation Term="Common.Label" String="Price"/>
  </Annotations>
  <Annotations Target="SAP__self.Product/Weight">
    <Annotation Term="Measures.Unit" String="KG"/>
  </Annotations>
  <Annotations Target="SAP__self.Product/Code">
    <Annotation Term="Common.Text" Path="CodeText"/>
    <Annotation Term="Core.Immutable" Bool="true"/>
    <Annotation Term="Common.Label" Qualifier="Short" String="No."/>
  </Annotations>
  <Annotations Target="com.example.shop.Product">
    <Annotation Term="UI.LineItem" Qualifier="Compact">
      <Collection>
        <Record Type="com.sap.vocabularies.UI.v1.DataField">
          <PropertyValue Property="Value" Path="Code"/>
          <PropertyValue Property="Importance" EnumMember="com.sap.vocabularies.UI.v1.ImportanceType/High"/>
        </Record>
      </Collection>
    </Annotation>
  </Annotations>
  <Annotations Target="SAP__self.Shop/Products">
    <Annotation Term="Capabilities.FilterRestrictions">
      <Record>
        <PropertyValue Property="RequiresFilter" Bool="true"/>
        <PropertyValue Property="RequiredProperties">
          <Collection><PropertyPath>Code</PropertyPath></Collection>
        </PropertyValue>
        <PropertyValue Property="FilterExpressionRestrictions">
          <Collection>
            <Record>
              <PropertyValue Property="Property" PropertyPath="Price"/>
              <PropertyValue Property="AllowedExpressions" String="SingleRange"/>
            </Record>
          </Collection>
        </PropertyValue>
      </Record>
    </Annotation>
  </Annotations>
  <Annotations Target="SAP__self.Rate(Edm.String)">
    <Annotation Term="Core.Description" String="Rates a text"/>
  </Annotations>
  <Annotations Target="SAP__self.Rate">
    <Annotation Term="Common.Label" String="Rate"/>
  </Annotations>
  <Annotations Target="SAP__self.Rate(Edm.String,Edm.Int32)/scale">
    <Annotation Term="Common.Label" String="Scale"/>
  </Annotations>
  <Annotations Target="SAP__self.Rate/$ReturnType">
    <Annotation Term="Core.Description" String="Score"/>
  </Annotations>
  <Annotations Target="SAP__self.Approve(SAP__self.Product)">
    <Annotation Term="Core.Description" String="Approves one"/>
  </Annotations>
  <Annotations Target="SAP__self.Approve(Collection(SAP__self.Product))/reason" Qualifier="Long">
    <Annotation Term="Common.Label" String="Why"/>
  </Annotations>
  <Annotations Target="SAP__self.Shop/RateText">
    <Annotation Term="Core.Description" String="Import"/>
  </Annotations>
  <Annotations Target="SAP__self.Shop/Products/Price">
    <Annotation Term="Common.Label" String="Set price"/>
  </Annotations>
</Schema>
</edmx:DataServices>
</edmx:Edmx>
"#;

fn label(text: &str) -> Terms {
    Terms {
        label: Some(text.into()),
        ..Terms::default()
    }
}

fn description(text: &str) -> Terms {
    Terms {
        description: Some(text.into()),
        ..Terms::default()
    }
}

#[test]
fn annotation_targets_reach_properties_sets_overloads_parameters_and_return_types() {
    let metadata = clean(ANNOTATED);
    let product = "SAP__self.Product";
    let schema = metadata.schema("SAP__self").expect("schema by alias");
    assert_eq!(&*schema.namespace, "com.example.shop");
    let container = metadata.entity_container().expect("container");
    let rate: Vec<_> = metadata.operations("SAP__self.Rate").collect();
    let approve: Vec<_> = metadata.operations("com.example.shop.Approve").collect();
    assert_eq!((rate.len(), approve.len()), (2, 2));
    let return_type = |i: usize| &rate[i].return_type.as_ref().expect("returns").annotations;

    // (target as a test name, the element's annotations, its typed terms)
    let cases: Vec<(&str, &Annotations, Terms)> = vec![
        (
            "Product (inline)",
            &entity(&metadata, product).annotations,
            description("Something for sale"),
        ),
        (
            "Product/ID (inline tag)",
            property_annotations(&metadata, product, "ID"),
            Terms {
                computed: Some(true),
                ..Terms::default()
            },
        ),
        (
            "Product/Price",
            property_annotations(&metadata, product, "Price"),
            Terms {
                iso_currency: Some(ValueOrPath::Path("Currency".into())),
                label: Some("Price".into()),
                ..Terms::default()
            },
        ),
        (
            "Product/Weight",
            property_annotations(&metadata, product, "Weight"),
            Terms {
                unit: Some(ValueOrPath::Value("KG".into())),
                ..Terms::default()
            },
        ),
        (
            "Product/Code",
            property_annotations(&metadata, product, "Code"),
            Terms {
                text: Some("CodeText".into()),
                immutable: Some(true),
                ..Terms::default()
            },
        ),
        (
            "Product/Currency (not targeted)",
            property_annotations(&metadata, product, "Currency"),
            Terms::default(),
        ),
        (
            "Shop/Products",
            &container.entity_sets[0].annotations,
            Terms {
                filter_restrictions: Some(Box::new(FilterRestrictions {
                    requires_filter: Some(true),
                    required_properties: vec!["Code".into()],
                    filter_expression_restrictions: vec![("Price".into(), "SingleRange".into())],
                    ..FilterRestrictions::default()
                })),
                ..Terms::default()
            },
        ),
        (
            "Shop/RateText",
            &container.operation_imports[0].annotations,
            description("Import"),
        ),
        // `Rate(Edm.String)` names the first overload only; `Rate` names both.
        (
            "Rate(Edm.String)",
            &rate[0].annotations,
            Terms {
                description: Some("Rates a text".into()),
                label: Some("Rate".into()),
                ..Terms::default()
            },
        ),
        (
            "Rate(Edm.String,Edm.Int32)",
            &rate[1].annotations,
            label("Rate"),
        ),
        (
            "Rate(Edm.String)/text",
            &rate[0].parameters[0].annotations,
            Terms::default(),
        ),
        (
            "Rate(Edm.String,Edm.Int32)/text",
            &rate[1].parameters[0].annotations,
            Terms::default(),
        ),
        (
            "Rate(Edm.String,Edm.Int32)/scale",
            &rate[1].parameters[1].annotations,
            label("Scale"),
        ),
        (
            "Rate(Edm.String)/$ReturnType",
            return_type(0),
            description("Score"),
        ),
        (
            "Rate(Edm.String,Edm.Int32)/$ReturnType",
            return_type(1),
            description("Score"),
        ),
        // A bound action's signature is its binding parameter, written with the alias.
        (
            "Approve(Product)",
            &approve[0].annotations,
            description("Approves one"),
        ),
        (
            "Approve(Collection(Product))",
            &approve[1].annotations,
            Terms::default(),
        ),
    ];
    for (target, annotations, expected) in &cases {
        assert_eq!(&terms(annotations), expected, "{target}: typed terms");
    }

    // Completely typed annotations are not kept raw as well; qualified ones are raw only.
    let raw_counts: Vec<(&str, usize)> = cases.iter().map(|(t, a, _)| (*t, a.raw.len())).collect();
    let expected: Vec<(&str, usize)> = cases
        .iter()
        .map(|(t, _, _)| {
            (
                *t,
                usize::from(*t == "Product (inline)" || *t == "Product/Code"),
            )
        })
        .collect();
    assert_eq!(raw_counts, expected);

    let short = property_annotations(&metadata, product, "Code")
        .raw("com.sap.vocabularies.Common.v1.Label", Some("Short"))
        .expect("qualified label kept raw");
    assert_eq!(
        short.value,
        Some(Expr::Constant(ConstantKind::String, "No.".into()))
    );

    // The block's qualifier applies to its annotations, which are then raw.
    let reason = &approve[1].parameters[1].annotations;
    assert_eq!(
        reason.raw,
        [Annotation {
            term: "com.sap.vocabularies.Common.v1.Label".into(),
            qualifier: Some("Long".into()),
            value: Some(Expr::Constant(ConstantKind::String, "Why".into())),
            annotations: Vec::new(),
        }]
    );
    assert!(reason.terms.is_none());
    assert!(approve[0].parameters[0].annotations.is_empty());

    // A path through an entity set into a property is kept as a block, alias replaced.
    let blocks: Vec<(&str, Vec<&str>)> = schema
        .annotations
        .iter()
        .map(|b| (&*b.target, b.annotations.iter().map(|a| &*a.term).collect()))
        .collect();
    assert_eq!(
        blocks,
        [(
            "com.example.shop.Shop/Products/Price",
            vec!["com.sap.vocabularies.Common.v1.Label"]
        )]
    );
}

#[test]
fn unknown_terms_stay_raw_with_full_namespace_qualifier_and_expression_tree() {
    let metadata = clean(ANNOTATED);
    let product = entity(&metadata, "com.example.shop.Product");
    assert_eq!(product.annotations.raw.len(), 1);
    let line_item = product
        .annotations
        .raw("com.sap.vocabularies.UI.v1.LineItem", Some("Compact"))
        .expect("kept raw under the full term name");
    let record = Record {
        type_name: Some("com.sap.vocabularies.UI.v1.DataField".into()),
        properties: vec![
            PropertyValue {
                property: "Value".into(),
                value: Expr::Path(PathKind::Path, "Code".into()),
            },
            PropertyValue {
                property: "Importance".into(),
                value: Expr::Constant(
                    ConstantKind::EnumMember,
                    "com.sap.vocabularies.UI.v1.ImportanceType/High".into(),
                ),
            },
        ],
        annotations: Vec::new(),
    };
    assert_eq!(
        *line_item,
        Annotation {
            term: "com.sap.vocabularies.UI.v1.LineItem".into(),
            qualifier: Some("Compact".into()),
            value: Some(Expr::Collection(vec![Expr::Record(Box::new(record))])),
            annotations: Vec::new(),
        }
    );
    // The alias form is not what is stored.
    assert!(
        product
            .annotations
            .raw("UI.LineItem", Some("Compact"))
            .is_none()
    );
}

#[test]
fn sap_v2_attributes_land_in_sap_annotations() {
    let metadata = clean(&v2(r#"
<EntityType Name="Product" sap:label="Product" sap:content-version="1">
  <Key><PropertyRef Name="ID"/></Key>
  <Property Name="ID" Type="Edm.String" Nullable="false" sap:label="Product ID" sap:quickinfo="Identifier of the product" sap:creatable="false" sap:updatable="false" sap:filter-restriction="multi-value"/>
  <Property Name="Price" Type="Edm.Decimal" Precision="13" Scale="3" sap:unit="Currency" sap:filterable="false" sap:sortable="false"/>
  <Property Name="Currency" Type="Edm.String" MaxLength="5" sap:semantics="currency-code" sap:display-format="UpperCase" sap:value-list="standard"/>
  <Property Name="Created" Type="Edm.DateTime" sap:filter-restriction="interval" sap:required-in-filter="true" sap:heading="Created on"/>
  <Property Name="Name" Type="Edm.String" sap:text="NameText" sap:filterable="maybe"/>
  <Property Name="NameText" Type="Edm.String"/>
</EntityType>
<EntityContainer Name="Entities" m:IsDefaultEntityContainer="true" sap:supported-formats="atom json">
  <EntitySet Name="Products" EntityType="Shop.Product" sap:creatable="false" sap:deletable="false" sap:pageable="false" sap:requires-filter="true" sap:searchable="true" sap:addressable="false" sap:countable="false"/>
  <FunctionImport Name="Reprice" ReturnType="Shop.Product" EntitySet="Products" m:HttpMethod="POST" sap:action-for="Shop.Product">
    <Parameter Name="ID" Type="Edm.String" Mode="In" sap:label="Product"/>
  </FunctionImport>
</EntityContainer>"#));
    let product = entity(&metadata, "Shop.Product");
    let container = metadata.entity_container().expect("container");
    let import = &container.operation_imports[0];
    assert_eq!(import.http_method.as_deref(), Some("POST"));
    let none = SapAttributes::default;

    let cases: Vec<(&str, &Annotations, SapAttributes)> = vec![
        (
            "Product",
            &product.annotations,
            SapAttributes {
                label: Some("Product".into()),
                other: vec![("content-version".into(), "1".into())],
                ..none()
            },
        ),
        (
            "Product/ID",
            &product.properties[0].annotations,
            SapAttributes {
                label: Some("Product ID".into()),
                quickinfo: Some("Identifier of the product".into()),
                creatable: Some(false),
                updatable: Some(false),
                filter_restriction: Some(FilterRestriction::MultiValue),
                ..none()
            },
        ),
        (
            "Product/Price",
            &product.properties[1].annotations,
            SapAttributes {
                unit: Some("Currency".into()),
                filterable: Some(false),
                sortable: Some(false),
                ..none()
            },
        ),
        (
            "Product/Currency",
            &product.properties[2].annotations,
            SapAttributes {
                semantics: Some("currency-code".into()),
                display_format: Some("UpperCase".into()),
                value_list: Some("standard".into()),
                ..none()
            },
        ),
        (
            "Product/Created",
            &product.properties[3].annotations,
            SapAttributes {
                filter_restriction: Some(FilterRestriction::Interval),
                required_in_filter: Some(true),
                heading: Some("Created on".into()),
                ..none()
            },
        ),
        // A flag that is not a boolean is kept as written among the other attributes.
        (
            "Product/Name",
            &product.properties[4].annotations,
            SapAttributes {
                text: Some("NameText".into()),
                other: vec![("filterable".into(), "maybe".into())],
                ..none()
            },
        ),
        (
            "Entities",
            &container.annotations,
            SapAttributes {
                other: vec![("supported-formats".into(), "atom json".into())],
                ..none()
            },
        ),
        (
            "Entities/Products",
            &container.entity_sets[0].annotations,
            SapAttributes {
                creatable: Some(false),
                deletable: Some(false),
                pageable: Some(false),
                requires_filter: Some(true),
                searchable: Some(true),
                addressable: Some(false),
                countable: Some(false),
                ..none()
            },
        ),
        (
            "Entities/Reprice",
            &import.annotations,
            SapAttributes {
                other: vec![("action-for".into(), "Shop.Product".into())],
                ..none()
            },
        ),
        (
            "Entities/Reprice/ID",
            &import.parameters[0].annotations,
            SapAttributes {
                label: Some("Product".into()),
                ..none()
            },
        ),
    ];
    for (at, annotations, expected) in &cases {
        assert_eq!(annotations.sap.as_deref(), Some(expected), "{at}");
        assert!(
            annotations.terms.is_none() && annotations.raw.is_empty(),
            "{at}"
        );
    }
    assert!(product.properties[5].annotations.is_empty());
    // The label and description helpers fall back to sap:label and sap:quickinfo.
    let id = &product.properties[0].annotations;
    assert_eq!(id.label(), Some("Product ID"));
    assert_eq!(id.description(), Some("Identifier of the product"));
}

#[test]
fn sap_v2_attributes_of_gwsample_fixture() {
    // GWSAMPLE_BASIC.v2.xml line 47.
    let metadata = fixture_model("GWSAMPLE_BASIC.v2.xml");
    let web = property_annotations(&metadata, "GWSAMPLE_BASIC.BusinessPartner", "WebAddress");
    assert_eq!(
        web.sap.as_deref(),
        Some(&SapAttributes {
            label: Some("Web Address".into()),
            sortable: Some(false),
            filterable: Some(false),
            semantics: Some("url".into()),
            ..SapAttributes::default()
        })
    );
}

// ----- 4.01 -----

#[test]
fn v401_document_parses_with_version_v401() {
    let metadata = fixture_model("DMO_TEST_DTE_ROOT_O401.v401.xml");
    assert_eq!(metadata.version, ODataVersion::V401);
    assert_eq!(metadata.version.as_str(), "4.01");
    assert!(metadata.version.is_v4());
    let root = "com.sap.gateway.srvd.dmo.test_dte_root_o401.v0001.Root_V2Type";
    // The schema alias reaches the same type.
    assert!(std::ptr::eq(
        entity(&metadata, root),
        entity(&metadata, "SAP__self.Root_V2Type")
    ));
    assert_eq!(
        key_names(&entity(&metadata, root).key),
        ["root", "IsActiveEntity"]
    );

    // 4.01 facets: Scale="floating" (line 82) and Scale="variable" (line 76).
    let facets = |name: &str| {
        let ty = entity(&metadata, root);
        let p = ty.properties.iter().find(|p| &*p.name == name).expect(name);
        (p.facets.precision, p.facets.scale)
    };
    assert_eq!(facets("decfloat16"), (Some(16), Some(Scale::Floating)));
    assert_eq!(facets("curr_16_2"), (Some(16), Some(Scale::Variable)));
    assert_eq!(facets("dec_16_5"), (Some(16), Some(Scale::Fixed(5))));

    // Annotations through `SAP__self` targets (lines 1448-1474).
    let cases: [(&str, Terms); 3] = [
        (
            "root",
            Terms {
                computed: Some(true),
                label: Some("UUID".into()),
                ..Terms::default()
            },
        ),
        (
            "curr_16_2",
            Terms {
                iso_currency: Some(ValueOrPath::Path("cuky".into())),
                ..Terms::default()
            },
        ),
        (
            "quan",
            Terms {
                unit: Some(ValueOrPath::Path("unit_3".into())),
                ..Terms::default()
            },
        ),
    ];
    for (name, expected) in cases {
        assert_eq!(
            terms(property_annotations(&metadata, root, name)),
            expected,
            "{name}"
        );
    }
    let quick_info = property_annotations(&metadata, root, "root")
        .raw("com.sap.vocabularies.Common.v1.QuickInfo", None)
        .expect("unknown term kept raw");
    assert_eq!(
        quick_info.value,
        Some(Expr::Constant(
            ConstantKind::String,
            "16 Byte UUID in 16 Bytes (Raw Format)".into()
        ))
    );

    // A parameter of an overload named with its binding type (line 1627).
    let action: Vec<_> = metadata
        .operations("SAP__self.v2_o401_param_self")
        .collect();
    assert_eq!(action.len(), 1);
    let boolean = action[0]
        .parameters
        .iter()
        .find(|p| &*p.name == "boolean")
        .expect("boolean");
    assert_eq!(boolean.annotations.label(), Some("BOOLEAN"));

    // An entity set annotation (line 1552): the typed part, and the whole kept raw because
    // `SearchSyntax` is not a member we type.
    let root_v2 = metadata
        .entity_container()
        .expect("container")
        .entity_sets
        .iter()
        .find(|s| &*s.name == "Root_V2")
        .expect("Root_V2");
    let search = terms(&root_v2.annotations)
        .search_restrictions
        .expect("typed");
    assert_eq!(search.searchable, Some(true));
    assert!(matches!(
        *search,
        SearchRestrictions {
            unsupported_expressions: Some(_),
            ..
        }
    ));
    assert!(
        root_v2
            .annotations
            .raw("Org.OData.Capabilities.V1.SearchRestrictions", None)
            .is_some()
    );
}

// ----- schemas sharing type names -----

#[test]
fn two_schemas_with_the_same_type_names_resolve_to_distinct_types() {
    let xml = r#"<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
<edmx:DataServices>
<Schema Namespace="Sales" Alias="S" xmlns="http://docs.oasis-open.org/odata/ns/edm">
  <EntityType Name="Item">
    <Key><PropertyRef Name="ID"/></Key>
    <Property Name="ID" Type="Edm.Int32" Nullable="false"/>
    <Property Name="Amount" Type="Edm.Decimal"/>
    <Property Name="ShipTo" Type="S.Address"/>
    <NavigationProperty Name="Stock" Type="W.Item"/>
  </EntityType>
  <ComplexType Name="Address"><Property Name="City" Type="Edm.String"/></ComplexType>
</Schema>
<Schema Namespace="Warehouse" Alias="W" xmlns="http://docs.oasis-open.org/odata/ns/edm">
  <EntityType Name="Item">
    <Key><PropertyRef Name="Bin"/></Key>
    <Property Name="Bin" Type="Edm.String" Nullable="false"/>
    <Property Name="Dock" Type="W.Address"/>
    <NavigationProperty Name="Order" Type="S.Item"/>
  </EntityType>
  <ComplexType Name="Address"><Property Name="Gate" Type="Edm.String"/></ComplexType>
  <EntityContainer Name="Default">
    <EntitySet Name="SalesItems" EntityType="S.Item"/>
    <EntitySet Name="StockItems" EntityType="W.Item"/>
  </EntityContainer>
  <Annotations Target="S.Item/Amount">
    <Annotation Term="Org.OData.Core.V1.Description" String="Sales amount"/>
  </Annotations>
</Schema>
</edmx:DataServices>
</edmx:Edmx>
"#;
    let metadata = clean(xml);
    let sales = entity(&metadata, "Sales.Item");
    let stock = entity(&metadata, "Warehouse.Item");
    assert!(!std::ptr::eq(sales, stock));
    assert!(std::ptr::eq(sales, &metadata.schemas[0].entity_types[0]));
    assert!(std::ptr::eq(stock, &metadata.schemas[1].entity_types[0]));
    assert!(std::ptr::eq(sales, entity(&metadata, "S.Item")));
    assert!(std::ptr::eq(stock, entity(&metadata, "W.Item")));

    // (type, key, property types, navigation target) with aliases replaced.
    let cases = [
        (
            sales,
            "ID",
            vec!["Edm.Int32", "Edm.Decimal", "Sales.Address"],
            "Warehouse.Item",
        ),
        (
            stock,
            "Bin",
            vec!["Edm.String", "Warehouse.Address"],
            "Sales.Item",
        ),
    ];
    for (ty, key, types, target) in cases {
        assert_eq!(key_names(&ty.key), [key], "{}", ty.name);
        let got: Vec<&str> = ty.properties.iter().map(|p| &*p.type_ref.name).collect();
        assert_eq!(got, types, "{}", ty.name);
        assert_eq!(
            &*ty.navigation_properties[0].target.name, target,
            "{}",
            ty.name
        );
    }
    let members = |q: &str| -> Vec<String> {
        metadata
            .complex_type(q)
            .unwrap_or_else(|| panic!("{q}"))
            .properties
            .iter()
            .map(|p| p.name.to_string())
            .collect()
    };
    assert_eq!(members("Sales.Address"), ["City"]);
    assert_eq!(members("Warehouse.Address"), ["Gate"]);

    let sets: Vec<(&str, &str)> = metadata
        .entity_container()
        .expect("container")
        .entity_sets
        .iter()
        .map(|s| (&*s.name, &*s.entity_type))
        .collect();
    assert_eq!(
        sets,
        [
            ("SalesItems", "Sales.Item"),
            ("StockItems", "Warehouse.Item")
        ]
    );

    // The annotation in the second schema reaches the first schema's type only.
    assert_eq!(
        sales.properties[1].annotations.description(),
        Some("Sales amount")
    );
    assert!(stock.properties.iter().all(|p| p.annotations.is_empty()));
}

#[test]
fn multiple_schemas_fixture_keeps_both_copies_of_each_type() {
    // SEPMRA_PROD_MAN_multiple_schemas.v2.xml: schema SEPMRA_PROD_MAN (lines 13-2791) and a
    // copy named SEPMRA_PROD_MAN_1 (lines 2792-5570) that declare the same names.
    let source = fixture("SEPMRA_PROD_MAN_multiple_schemas.v2.xml");
    let metadata = parse(&source).expect("parses").metadata;
    let namespaces: Vec<&str> = metadata.schemas.iter().map(|s| &*s.namespace).collect();
    assert_eq!(namespaces, ["SEPMRA_PROD_MAN", "SEPMRA_PROD_MAN_1"]);

    // (type, line of its EntityType element in each schema)
    let cases = [
        ("SEPMRA_C_PD_ProductType", 276, 3055),
        ("I_CurrencyType", 18, 2797),
    ];
    for (name, first_line, second_line) in cases {
        let first = entity(&metadata, &format!("SEPMRA_PROD_MAN.{name}"));
        let second = entity(&metadata, &format!("SEPMRA_PROD_MAN_1.{name}"));
        assert!(!std::ptr::eq(first, second), "{name}");
        assert!(
            metadata.schemas[0]
                .entity_types
                .iter()
                .any(|t| std::ptr::eq(t, first))
        );
        assert!(
            metadata.schemas[1]
                .entity_types
                .iter()
                .any(|t| std::ptr::eq(t, second))
        );
        assert_eq!(line_of(&source, first.offset), first_line, "{name}");
        assert_eq!(line_of(&source, second.offset), second_line, "{name}");
        assert_eq!(key_names(&first.key), key_names(&second.key), "{name}");
    }
    let product = entity(&metadata, "SEPMRA_PROD_MAN_1.SEPMRA_C_PD_ProductType");
    assert_eq!(
        key_names(&product.key),
        ["ProductDraftUUID", "ActiveProduct"]
    );

    let first = metadata
        .entity_container_named("SEPMRA_PROD_MAN.SEPMRA_PROD_MAN_Entities")
        .expect("first container");
    let second = metadata
        .entity_container_named("SEPMRA_PROD_MAN_1.SEPMRA_PROD_MAN_Entities")
        .expect("second container");
    assert!(!std::ptr::eq(first, second));
    // Both are marked default; the service's container is the first one.
    assert!(std::ptr::eq(
        metadata.entity_container().expect("container"),
        first
    ));
}
