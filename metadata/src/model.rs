//! The version-independent CSDL model: what an OData v2 EDMX or v4 CSDL document declares.
//!
//! One shape serves both protocol versions: v2 associations are resolved into v4-style navigation
//! properties and navigation property bindings, and v2 function imports sit beside v4 operation
//! imports. Names of types are kept qualified by namespace (aliases are replaced by the resolver), so
//! `Metadata::entity_type("NS.Type")` finds a type whatever alias the document used.
//!
//! Strings are `Box<str>`: the model is built once and never grows, so there is no spare capacity to
//! pay for. Each element that a diagnostic can point at records its byte offset in the source.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::annotations::Annotations;

/// The OData protocol version of a document, from `edmx:Edmx/@Version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ODataVersion {
    /// OData v2 (and v1), EDMX `Version="1.0"`.
    #[serde(rename = "2.0")]
    V2,
    /// OData v4.0, EDMX `Version="4.0"`.
    #[serde(rename = "4.0")]
    V4,
    /// OData v4.01, EDMX `Version="4.01"`.
    #[serde(rename = "4.01")]
    V401,
}

impl ODataVersion {
    /// True for v4.0 and v4.01.
    pub fn is_v4(self) -> bool {
        !matches!(self, ODataVersion::V2)
    }

    /// The version as OData writes it in headers (`2.0`, `4.0`, `4.01`).
    pub fn as_str(self) -> &'static str {
        match self {
            ODataVersion::V2 => "2.0",
            ODataVersion::V4 => "4.0",
            ODataVersion::V401 => "4.01",
        }
    }
}

impl std::fmt::Display for ODataVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A whole `$metadata` document.
#[derive(Debug, Clone, Serialize)]
pub struct Metadata {
    /// Protocol version, from `edmx:Edmx/@Version`.
    pub version: ODataVersion,
    /// `m:DataServiceVersion` of v2 documents (informational: `1.0`, `2.0`, `3.0`).
    pub data_service_version: Option<Box<str>>,
    /// `edmx:Reference` elements: other documents whose namespaces this one uses.
    pub references: Vec<Reference>,
    /// The schemas, in document order.
    pub schemas: Vec<Schema>,
    /// Lookup tables by qualified name, built by the resolver.
    #[serde(skip)]
    pub(crate) index: Index,
}

/// An `edmx:Reference` to another CSDL document.
#[derive(Debug, Clone, Serialize)]
pub struct Reference {
    /// The document's URI, as written (often relative).
    pub uri: Box<str>,
    /// The namespaces taken from it, each with its optional alias.
    pub includes: Vec<Include>,
}

/// An `edmx:Include` inside a reference.
#[derive(Debug, Clone, Serialize)]
pub struct Include {
    /// Namespace of the referenced schema.
    pub namespace: Box<str>,
    /// Alias this document uses for it.
    pub alias: Option<Box<str>>,
}

/// One `Schema` element.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Schema {
    /// The schema's namespace.
    pub namespace: Box<str>,
    /// Its alias, if declared.
    pub alias: Option<Box<str>>,
    /// Entity types in document order.
    pub entity_types: Vec<EntityType>,
    /// Complex types in document order.
    pub complex_types: Vec<ComplexType>,
    /// Enumeration types.
    pub enum_types: Vec<EnumType>,
    /// Type definitions (v4).
    pub type_definitions: Vec<TypeDefinition>,
    /// v2 associations as declared; their navigation properties are already resolved on the types.
    pub associations: Vec<Association>,
    /// v4 functions and actions; overloads are separate entries with the same name.
    pub operations: Vec<Operation>,
    /// Entity containers (v4 allows one, v2 documents may have several).
    pub entity_containers: Vec<EntityContainer>,
    /// Names of the terms this schema defines (vocabulary documents and some SAP services).
    pub terms: Vec<Box<str>>,
    /// Out-of-line annotation blocks whose target is not an element of this document, or a path
    /// that names an element in a context (such as `Container/EntitySet/Property`).
    pub annotations: Vec<AnnotationBlock>,
    /// Annotations on the schema itself.
    pub own_annotations: Annotations,
}

/// A reference to a type: a qualified name, optionally wrapped in `Collection(...)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypeRef {
    /// Qualified type name (`Edm.String`, `NS.Product`), shared between all references to the
    /// same type: documents repeat a few type names tens of thousands of times.
    pub name: Arc<str>,
    /// True for `Collection(...)`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub collection: bool,
}

impl TypeRef {
    /// True for primitive and abstract types in the `Edm` namespace.
    pub fn is_edm(&self) -> bool {
        self.name.starts_with("Edm.")
    }
}

impl std::fmt::Display for TypeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.collection {
            write!(f, "Collection({})", self.name)
        } else {
            f.write_str(&self.name)
        }
    }
}

/// `MaxLength` facet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MaxLength {
    /// `max`: as long as the service allows.
    Max,
    /// v4.0 `variable`.
    Variable,
    /// A number of characters or bytes.
    #[serde(untagged)]
    Length(u64),
}

/// `Scale` facet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    /// `variable`: any scale up to the precision.
    Variable,
    /// `floating` (4.01): decimal floating point.
    Floating,
    /// A fixed number of decimal places.
    #[serde(untagged)]
    Fixed(u32),
}

/// Facets shared by properties, parameters, return types and type definitions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Facets {
    /// `MaxLength`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<MaxLength>,
    /// `Precision`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precision: Option<u32>,
    /// `Scale`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<Scale>,
    /// `SRID` of geo types, as written (a number or `variable`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub srid: Option<Box<str>>,
    /// `Unicode` (false for ASCII-only strings).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unicode: Option<bool>,
}

/// `PropertyRef` inside an entity type's `Key`.
#[derive(Debug, Clone, Serialize)]
pub struct PropertyRef {
    /// Property name (a path into complex properties in v4).
    pub name: Box<str>,
    /// Alias required by v4 when the name is a path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<Box<str>>,
}

/// An `EntityType`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EntityType {
    /// Simple name inside the schema.
    pub name: Box<str>,
    /// Key properties in order; empty for derived types, which inherit the key of their base.
    pub key: Vec<PropertyRef>,
    /// Qualified name of the base type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_type: Option<Box<str>>,
    /// `Abstract`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_abstract: bool,
    /// `OpenType`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub open: bool,
    /// `HasStream` (v4) or `m:HasStream` (v2): a media entity.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub has_stream: bool,
    /// Declared structural properties (not the inherited ones).
    pub properties: Vec<Property>,
    /// Declared navigation properties.
    pub navigation_properties: Vec<NavigationProperty>,
    /// Annotations targeting the type.
    pub annotations: Annotations,
    /// Byte offset of the element in the source document.
    #[serde(skip)]
    pub offset: u32,
}

/// A `ComplexType`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ComplexType {
    /// Simple name inside the schema.
    pub name: Box<str>,
    /// Qualified name of the base type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_type: Option<Box<str>>,
    /// `Abstract`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_abstract: bool,
    /// `OpenType`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub open: bool,
    /// Declared structural properties.
    pub properties: Vec<Property>,
    /// Declared navigation properties (v4 only).
    pub navigation_properties: Vec<NavigationProperty>,
    /// Annotations targeting the type.
    pub annotations: Annotations,
    /// Byte offset of the element in the source document.
    #[serde(skip)]
    pub offset: u32,
}

/// A structural `Property`.
#[derive(Debug, Clone, Serialize)]
pub struct Property {
    /// Property name.
    pub name: Box<str>,
    /// Its type.
    #[serde(rename = "type")]
    pub type_ref: TypeRef,
    /// `Nullable` (default true).
    pub nullable: bool,
    /// Facets.
    #[serde(flatten)]
    pub facets: Facets,
    /// `DefaultValue`, as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_value: Option<Box<str>>,
    /// v2 `ConcurrencyMode="Fixed"`: the property takes part in the ETag.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub concurrency_token: bool,
    /// Annotations targeting the property.
    pub annotations: Annotations,
    /// Byte offset of the element in the source document.
    #[serde(skip)]
    pub offset: u32,
}

/// How many entities a navigation property leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Multiplicity {
    /// Exactly one (`1`; v4: not a collection, `Nullable="false"`).
    #[serde(rename = "1")]
    One,
    /// Zero or one (`0..1`; v4: not a collection, nullable).
    #[serde(rename = "0..1")]
    ZeroOrOne,
    /// Any number (`*`; v4: `Collection(...)`).
    #[serde(rename = "*")]
    Many,
}

impl Multiplicity {
    /// Parses the v2 `Multiplicity` attribute.
    pub fn from_v2(text: &str) -> Option<Multiplicity> {
        match text {
            "1" => Some(Multiplicity::One),
            "0..1" => Some(Multiplicity::ZeroOrOne),
            "*" => Some(Multiplicity::Many),
            _ => None,
        }
    }
}

/// One `Property`/`ReferencedProperty` pair: the declaring type's property equals the target's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReferentialConstraint {
    /// Property of the type that declares the navigation property.
    pub property: Box<str>,
    /// Property of the navigation target.
    pub referenced_property: Box<str>,
}

/// `OnDelete` action of a navigation property or association end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OnDeleteAction {
    /// `Cascade`.
    Cascade,
    /// `None`.
    None,
    /// `SetNull`.
    SetNull,
    /// `SetDefault`.
    SetDefault,
}

impl OnDeleteAction {
    pub(crate) fn parse(text: &str) -> Option<OnDeleteAction> {
        match text {
            "Cascade" => Some(OnDeleteAction::Cascade),
            "None" => Some(OnDeleteAction::None),
            "SetNull" => Some(OnDeleteAction::SetNull),
            "SetDefault" => Some(OnDeleteAction::SetDefault),
            _ => None,
        }
    }
}

/// Where a v2 navigation property came from.
#[derive(Debug, Clone, Serialize)]
pub struct AssociationLink {
    /// Qualified name of the association (`Relationship`).
    pub association: Box<str>,
    /// Role of the declaring type.
    pub from_role: Box<str>,
    /// Role of the target.
    pub to_role: Box<str>,
}

/// A `NavigationProperty`, in the v4 shape whatever the document's version.
#[derive(Debug, Clone, Serialize)]
pub struct NavigationProperty {
    /// Property name.
    pub name: Box<str>,
    /// Target type; `collection` is set for to-many. For v2 it is filled from the association end.
    #[serde(rename = "type")]
    pub target: TypeRef,
    /// Multiplicity of the target end.
    pub multiplicity: Multiplicity,
    /// Partner navigation property on the target type, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partner: Option<Box<str>>,
    /// `ContainsTarget`: the targets are contained in (and only reachable through) this entity.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub contains_target: bool,
    /// Key equalities between this type and the target. For v2 they are filled from the
    /// association's constraint in both directions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub referential_constraints: Vec<ReferentialConstraint>,
    /// `OnDelete` action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_delete: Option<OnDeleteAction>,
    /// For v2: the association, roles as written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub association: Option<AssociationLink>,
    /// Annotations targeting the navigation property.
    pub annotations: Annotations,
    /// Byte offset of the element in the source document.
    #[serde(skip)]
    pub offset: u32,
}

/// An `EnumType`.
#[derive(Debug, Clone, Serialize)]
pub struct EnumType {
    /// Simple name.
    pub name: Box<str>,
    /// `UnderlyingType` (default `Edm.Int32`).
    pub underlying_type: Box<str>,
    /// `IsFlags`: members combine as bit flags.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_flags: bool,
    /// Members in order.
    pub members: Vec<EnumMember>,
    /// Annotations targeting the type.
    pub annotations: Annotations,
    /// Byte offset of the element in the source document.
    #[serde(skip)]
    pub offset: u32,
}

/// An enumeration `Member`.
#[derive(Debug, Clone, Serialize)]
pub struct EnumMember {
    /// Member name.
    pub name: Box<str>,
    /// Its value; when the document leaves values out they count up from 0 (CSDL 10.2.2).
    pub value: i64,
    /// The `Value` as written when it is not a 64-bit integer (then `value` is its position).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_text: Option<Box<str>>,
    /// Annotations targeting the member.
    pub annotations: Annotations,
}

/// A `TypeDefinition`.
#[derive(Debug, Clone, Serialize)]
pub struct TypeDefinition {
    /// Simple name.
    pub name: Box<str>,
    /// The primitive type it is based on.
    pub underlying_type: Box<str>,
    /// Facets.
    #[serde(flatten)]
    pub facets: Facets,
    /// Annotations.
    pub annotations: Annotations,
    /// Byte offset of the element in the source document.
    #[serde(skip)]
    pub offset: u32,
}

/// A v2 `Association`.
#[derive(Debug, Clone, Serialize)]
pub struct Association {
    /// Simple name.
    pub name: Box<str>,
    /// The two ends.
    pub ends: Vec<AssociationEnd>,
    /// `ReferentialConstraint`, if declared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraint: Option<AssociationConstraint>,
    /// Annotations (`sap:` attributes).
    pub annotations: Annotations,
    /// Byte offset of the element in the source document.
    #[serde(skip)]
    pub offset: u32,
}

/// One `End` of a v2 association.
#[derive(Debug, Clone, Serialize)]
pub struct AssociationEnd {
    /// `Role`.
    pub role: Box<str>,
    /// Qualified entity type name.
    #[serde(rename = "type")]
    pub entity_type: Box<str>,
    /// `Multiplicity`.
    pub multiplicity: Multiplicity,
    /// `OnDelete` action of this end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_delete: Option<OnDeleteAction>,
}

/// A v2 `ReferentialConstraint`: dependent properties equal principal properties, pairwise.
#[derive(Debug, Clone, Serialize)]
pub struct AssociationConstraint {
    /// Role of the principal end.
    pub principal_role: Box<str>,
    /// Principal properties.
    pub principal_properties: Vec<Box<str>>,
    /// Role of the dependent end.
    pub dependent_role: Box<str>,
    /// Dependent properties, in the same order.
    pub dependent_properties: Vec<Box<str>>,
}

/// Whether an operation is a function (no side effects) or an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OperationKind {
    /// `Function`.
    Function,
    /// `Action`.
    Action,
}

/// A v4 `Function` or `Action` (one overload).
#[derive(Debug, Clone, Serialize)]
pub struct Operation {
    /// Function or action.
    pub kind: OperationKind,
    /// Simple name; overloads share it.
    pub name: Box<str>,
    /// `IsBound`: the first parameter is the binding parameter.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_bound: bool,
    /// `IsComposable` (functions only).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_composable: bool,
    /// `EntitySetPath`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_set_path: Option<Box<str>>,
    /// Parameters in order.
    pub parameters: Vec<Parameter>,
    /// `ReturnType`, absent for actions without a result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_type: Option<ReturnType>,
    /// Annotations targeting this overload (or all overloads).
    pub annotations: Annotations,
    /// Byte offset of the element in the source document.
    #[serde(skip)]
    pub offset: u32,
}

/// Direction of a v2 function import parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ParameterMode {
    /// `In`.
    In,
    /// `Out`.
    Out,
    /// `InOut`.
    InOut,
}

/// A `Parameter` of an operation or v2 function import.
#[derive(Debug, Clone, Serialize)]
pub struct Parameter {
    /// Name.
    pub name: Box<str>,
    /// Type.
    #[serde(rename = "type")]
    pub type_ref: TypeRef,
    /// `Nullable` (default true).
    pub nullable: bool,
    /// Facets.
    #[serde(flatten)]
    pub facets: Facets,
    /// v2 `Mode`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<ParameterMode>,
    /// Annotations.
    pub annotations: Annotations,
    /// Byte offset of the element in the source document.
    #[serde(skip)]
    pub offset: u32,
}

/// A v4 `ReturnType`.
#[derive(Debug, Clone, Serialize)]
pub struct ReturnType {
    /// Type.
    #[serde(rename = "type")]
    pub type_ref: TypeRef,
    /// `Nullable` (default true).
    pub nullable: bool,
    /// Facets.
    #[serde(flatten)]
    pub facets: Facets,
    /// Annotations (target `Operation/$ReturnType`).
    pub annotations: Annotations,
}

/// An `EntityContainer`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EntityContainer {
    /// Simple name.
    pub name: Box<str>,
    /// v2 `m:IsDefaultEntityContainer`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_default: bool,
    /// Entity sets.
    pub entity_sets: Vec<EntitySet>,
    /// Singletons (v4).
    pub singletons: Vec<Singleton>,
    /// v2 association sets as declared; bindings derived from them are on the entity sets.
    pub association_sets: Vec<AssociationSet>,
    /// Function imports (v2 and v4) and action imports.
    pub operation_imports: Vec<OperationImport>,
    /// Annotations targeting the container.
    pub annotations: Annotations,
    /// Byte offset of the element in the source document.
    #[serde(skip)]
    pub offset: u32,
}

/// A `NavigationPropertyBinding`: where the entities reached by a navigation property live.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NavigationPropertyBinding {
    /// Path of the navigation property (possibly through type casts and complex properties).
    pub path: Box<str>,
    /// Target entity set or singleton: a simple name in the same container, or `NS.Container/Set`.
    pub target: Box<str>,
}

/// An `EntitySet`.
#[derive(Debug, Clone, Serialize)]
pub struct EntitySet {
    /// Name.
    pub name: Box<str>,
    /// Qualified entity type name.
    pub entity_type: Box<str>,
    /// Navigation property bindings (v4 declared, or derived from v2 association sets).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub navigation_property_bindings: Vec<NavigationPropertyBinding>,
    /// `IncludeInServiceDocument` (default true).
    pub include_in_service_document: bool,
    /// Annotations targeting the entity set.
    pub annotations: Annotations,
    /// Byte offset of the element in the source document.
    #[serde(skip)]
    pub offset: u32,
}

/// A v4 `Singleton`.
#[derive(Debug, Clone, Serialize)]
pub struct Singleton {
    /// Name.
    pub name: Box<str>,
    /// Qualified entity type name.
    #[serde(rename = "type")]
    pub entity_type: Box<str>,
    /// Navigation property bindings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub navigation_property_bindings: Vec<NavigationPropertyBinding>,
    /// Annotations.
    pub annotations: Annotations,
    /// Byte offset of the element in the source document.
    #[serde(skip)]
    pub offset: u32,
}

/// A v2 `AssociationSet`.
#[derive(Debug, Clone, Serialize)]
pub struct AssociationSet {
    /// Name.
    pub name: Box<str>,
    /// Qualified association name.
    pub association: Box<str>,
    /// Ends: role and entity set.
    pub ends: Vec<AssociationSetEnd>,
    /// Annotations (`sap:` attributes).
    pub annotations: Annotations,
    /// Byte offset of the element in the source document.
    #[serde(skip)]
    pub offset: u32,
}

/// One `End` of an association set.
#[derive(Debug, Clone, Serialize)]
pub struct AssociationSetEnd {
    /// `Role`.
    pub role: Box<str>,
    /// `EntitySet`.
    pub entity_set: Box<str>,
}

/// Kind of an operation import.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OperationImportKind {
    /// `FunctionImport` (v2 and v4).
    FunctionImport,
    /// `ActionImport` (v4).
    ActionImport,
}

/// A `FunctionImport` or `ActionImport`.
///
/// In v4 it names a `Function`/`Action` of the schema (`operation`), which carries parameters and
/// return type. In v2 the import itself carries them (`parameters`, `return_type`, `http_method`).
#[derive(Debug, Clone, Serialize)]
pub struct OperationImport {
    /// Function or action import.
    pub kind: OperationImportKind,
    /// Name.
    pub name: Box<str>,
    /// v4: qualified name of the imported function or action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<Box<str>>,
    /// Entity set of the returned entities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_set: Option<Box<str>>,
    /// `IncludeInServiceDocument` (v4 function imports, default false).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub include_in_service_document: bool,
    /// v2 `m:HttpMethod` (`GET` or `POST`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_method: Option<Box<str>>,
    /// v2 return type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_type: Option<TypeRef>,
    /// v2 parameters.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    /// Annotations.
    pub annotations: Annotations,
    /// Byte offset of the element in the source document.
    #[serde(skip)]
    pub offset: u32,
}

/// An out-of-line `Annotations` block kept as written.
#[derive(Debug, Clone, Serialize)]
pub struct AnnotationBlock {
    /// `Target` path, with aliases replaced by namespaces.
    pub target: Box<str>,
    /// The annotations (a block's `Qualifier` is copied onto each).
    pub annotations: Vec<crate::annotations::Annotation>,
}

/// Where a qualified name points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TypeId {
    Entity(u32, u32),
    Complex(u32, u32),
    Enum(u32, u32),
    Definition(u32, u32),
}

/// Lookup tables by qualified name.
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    pub(crate) types: HashMap<Arc<str>, TypeId>,
    /// Overloads of each operation as (schema, index) pairs, in document order.
    pub(crate) operations: HashMap<Arc<str>, Vec<(u32, u32)>>,
    pub(crate) containers: HashMap<Arc<str>, (u32, u32)>,
    pub(crate) associations: HashMap<Arc<str>, (u32, u32)>,
    /// Alias -> namespace, from schemas and references.
    pub(crate) aliases: HashMap<Box<str>, Box<str>>,
}

/// A structured type as seen by lookups: entity and complex types share properties.
#[derive(Debug, Clone, Copy)]
pub enum StructuredType<'a> {
    /// An entity type.
    Entity(&'a EntityType),
    /// A complex type.
    Complex(&'a ComplexType),
}

impl<'a> StructuredType<'a> {
    /// Declared properties.
    pub fn properties(self) -> &'a [Property] {
        match self {
            StructuredType::Entity(t) => &t.properties,
            StructuredType::Complex(t) => &t.properties,
        }
    }

    /// Declared navigation properties.
    pub fn navigation_properties(self) -> &'a [NavigationProperty] {
        match self {
            StructuredType::Entity(t) => &t.navigation_properties,
            StructuredType::Complex(t) => &t.navigation_properties,
        }
    }

    /// Qualified base type name.
    pub fn base_type(self) -> Option<&'a str> {
        match self {
            StructuredType::Entity(t) => t.base_type.as_deref(),
            StructuredType::Complex(t) => t.base_type.as_deref(),
        }
    }

    /// Simple name.
    pub fn name(self) -> &'a str {
        match self {
            StructuredType::Entity(t) => &t.name,
            StructuredType::Complex(t) => &t.name,
        }
    }
}

/// Element counts of a document, as defined by the fixtures' `counts.json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Schemas.
    pub schemas: usize,
    /// Entity types.
    pub entity_types: usize,
    /// Complex types.
    pub complex_types: usize,
    /// Enum types.
    pub enum_types: usize,
    /// Properties declared in entity and complex types.
    pub properties: usize,
    /// Navigation properties declared in entity and complex types.
    pub navigation_properties: usize,
    /// Entity types whose key has more than one property.
    pub keys_composite: usize,
    /// Entity sets in all containers.
    pub entity_sets: usize,
    /// Singletons in all containers.
    pub singletons: usize,
    /// v2 associations.
    pub associations: usize,
    /// v4 functions and actions, each overload counted.
    pub operations: usize,
    /// Function and action imports.
    pub operation_imports: usize,
}

impl Metadata {
    /// Counts the document's elements.
    pub fn counts(&self) -> Counts {
        let mut counts = Counts {
            schemas: self.schemas.len(),
            ..Counts::default()
        };
        for schema in &self.schemas {
            counts.entity_types += schema.entity_types.len();
            counts.complex_types += schema.complex_types.len();
            counts.enum_types += schema.enum_types.len();
            counts.associations += schema.associations.len();
            counts.operations += schema.operations.len();
            for entity_type in &schema.entity_types {
                counts.properties += entity_type.properties.len();
                counts.navigation_properties += entity_type.navigation_properties.len();
                counts.keys_composite += usize::from(entity_type.key.len() > 1);
            }
            for complex_type in &schema.complex_types {
                counts.properties += complex_type.properties.len();
                counts.navigation_properties += complex_type.navigation_properties.len();
            }
            for container in &schema.entity_containers {
                counts.entity_sets += container.entity_sets.len();
                counts.singletons += container.singletons.len();
                counts.operation_imports += container.operation_imports.len();
            }
        }
        counts
    }

    /// Replaces a leading alias in a qualified name by its namespace (`SAP__self.T` -> `NS.T`).
    pub fn normalize<'n>(&self, qualified: &'n str) -> std::borrow::Cow<'n, str> {
        match qualified.rsplit_once('.') {
            Some((prefix, name)) => match self.index.aliases.get(prefix) {
                Some(namespace) => format!("{namespace}.{name}").into(),
                None => qualified.into(),
            },
            None => qualified.into(),
        }
    }

    /// The schema with this namespace or alias.
    pub fn schema(&self, namespace: &str) -> Option<&Schema> {
        let namespace = self
            .index
            .aliases
            .get(namespace)
            .map_or(namespace, |n| n.as_ref());
        self.schemas.iter().find(|s| &*s.namespace == namespace)
    }

    /// An entity type by qualified name (namespace or alias).
    pub fn entity_type(&self, qualified: &str) -> Option<&EntityType> {
        match self.index.types.get(&*self.normalize(qualified))? {
            TypeId::Entity(s, i) => Some(&self.schemas[*s as usize].entity_types[*i as usize]),
            _ => None,
        }
    }

    /// A complex type by qualified name.
    pub fn complex_type(&self, qualified: &str) -> Option<&ComplexType> {
        match self.index.types.get(&*self.normalize(qualified))? {
            TypeId::Complex(s, i) => Some(&self.schemas[*s as usize].complex_types[*i as usize]),
            _ => None,
        }
    }

    /// An entity or complex type by qualified name.
    pub fn structured_type(&self, qualified: &str) -> Option<StructuredType<'_>> {
        match self.index.types.get(&*self.normalize(qualified))? {
            TypeId::Entity(s, i) => Some(StructuredType::Entity(
                &self.schemas[*s as usize].entity_types[*i as usize],
            )),
            TypeId::Complex(s, i) => Some(StructuredType::Complex(
                &self.schemas[*s as usize].complex_types[*i as usize],
            )),
            _ => None,
        }
    }

    /// An enum type by qualified name.
    pub fn enum_type(&self, qualified: &str) -> Option<&EnumType> {
        match self.index.types.get(&*self.normalize(qualified))? {
            TypeId::Enum(s, i) => Some(&self.schemas[*s as usize].enum_types[*i as usize]),
            _ => None,
        }
    }

    /// A type definition by qualified name.
    pub fn type_definition(&self, qualified: &str) -> Option<&TypeDefinition> {
        match self.index.types.get(&*self.normalize(qualified))? {
            TypeId::Definition(s, i) => {
                Some(&self.schemas[*s as usize].type_definitions[*i as usize])
            }
            _ => None,
        }
    }

    /// All overloads of a function or action by qualified name.
    pub fn operations(&self, qualified: &str) -> impl Iterator<Item = &Operation> + '_ {
        self.index
            .operations
            .get(&*self.normalize(qualified))
            .into_iter()
            .flatten()
            .map(|(s, i)| &self.schemas[*s as usize].operations[*i as usize])
    }

    /// A v2 association by qualified name.
    pub fn association(&self, qualified: &str) -> Option<&Association> {
        let (s, i) = self.index.associations.get(&*self.normalize(qualified))?;
        Some(&self.schemas[*s as usize].associations[*i as usize])
    }

    /// An entity container by qualified name.
    pub fn entity_container_named(&self, qualified: &str) -> Option<&EntityContainer> {
        let (s, i) = self.index.containers.get(&*self.normalize(qualified))?;
        Some(&self.schemas[*s as usize].entity_containers[*i as usize])
    }

    /// The service's entity container: the v2 default one, or else the first one.
    pub fn entity_container(&self) -> Option<&EntityContainer> {
        let mut containers = self.schemas.iter().flat_map(|s| &s.entity_containers);
        let first = containers.clone().next();
        containers.find(|c| c.is_default).or(first)
    }

    /// All properties of a structured type, inherited ones first.
    pub fn all_properties<'a>(&'a self, ty: StructuredType<'a>) -> Vec<&'a Property> {
        let mut chain = self.type_chain(ty);
        chain.reverse();
        chain.iter().flat_map(|t| t.properties()).collect()
    }

    /// All navigation properties of a structured type, inherited ones first.
    pub fn all_navigation_properties<'a>(
        &'a self,
        ty: StructuredType<'a>,
    ) -> Vec<&'a NavigationProperty> {
        let mut chain = self.type_chain(ty);
        chain.reverse();
        chain
            .iter()
            .flat_map(|t| t.navigation_properties())
            .collect()
    }

    /// The key of an entity type, taken from the nearest base type that declares one.
    pub fn key_of<'a>(&'a self, entity_type: &'a EntityType) -> &'a [PropertyRef] {
        for ty in self.type_chain(StructuredType::Entity(entity_type)) {
            if let StructuredType::Entity(t) = ty
                && !t.key.is_empty()
            {
                return &t.key;
            }
        }
        &[]
    }

    /// The type and its base types, nearest first; stops on cycles and unknown bases.
    pub fn type_chain<'a>(&'a self, ty: StructuredType<'a>) -> Vec<StructuredType<'a>> {
        let mut chain = vec![ty];
        let mut current = ty;
        while let Some(base) = current.base_type() {
            match self.structured_type(base) {
                Some(next) if chain.len() < 64 => {
                    chain.push(next);
                    current = next;
                }
                _ => break,
            }
        }
        chain
    }
}
