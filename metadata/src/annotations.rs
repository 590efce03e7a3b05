//! Annotations: SAP v2 `sap:` attributes and v4 vocabulary terms, typed where a gateway needs them,
//! every other annotation kept raw as a small expression tree.
//!
//! A v4 annotation of a typed term (without qualifier) is converted into a field of [`Terms`]. When
//! the conversion cannot take all of it (a dynamic expression, a record member we do not type), the
//! annotation is also kept raw, so nothing the document says is lost.

use std::sync::Arc;

use serde::Serialize;

/// Vocabulary namespaces of the typed terms.
pub mod vocabulary {
    /// OASIS Core vocabulary.
    pub const CORE: &str = "Org.OData.Core.V1";
    /// OASIS Capabilities vocabulary.
    pub const CAPABILITIES: &str = "Org.OData.Capabilities.V1";
    /// OASIS Measures vocabulary.
    pub const MEASURES: &str = "Org.OData.Measures.V1";
    /// SAP Common vocabulary.
    pub const COMMON: &str = "com.sap.vocabularies.Common.v1";
    /// SAP UI vocabulary.
    pub const UI: &str = "com.sap.vocabularies.UI.v1";
}

/// Everything annotated on one model element.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Annotations {
    /// SAP v2 `sap:` attributes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sap: Option<Box<SapAttributes>>,
    /// Typed v4 vocabulary terms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub terms: Option<Box<Terms>>,
    /// All other annotations, as written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub raw: Vec<Annotation>,
}

impl Annotations {
    /// True when nothing is annotated.
    pub fn is_empty(&self) -> bool {
        self.sap.is_none() && self.terms.is_none() && self.raw.is_empty()
    }

    /// Typed terms, creating them on first use.
    pub fn terms_mut(&mut self) -> &mut Terms {
        self.terms.get_or_insert_with(Box::default)
    }

    /// SAP attributes, creating them on first use.
    pub fn sap_mut(&mut self) -> &mut SapAttributes {
        self.sap.get_or_insert_with(Box::default)
    }

    /// A human-readable label: `Common.Label`, else `sap:label`.
    pub fn label(&self) -> Option<&str> {
        self.terms
            .as_ref()
            .and_then(|t| t.label.as_deref())
            .or_else(|| self.sap.as_ref().and_then(|s| s.label.as_deref()))
    }

    /// A description: `Core.Description`, else `sap:quickinfo`.
    pub fn description(&self) -> Option<&str> {
        self.terms
            .as_ref()
            .and_then(|t| t.description.as_deref())
            .or_else(|| self.sap.as_ref().and_then(|s| s.quickinfo.as_deref()))
    }

    /// The first raw annotation of a term (full namespace-qualified name) and qualifier.
    pub fn raw(&self, term: &str, qualifier: Option<&str>) -> Option<&Annotation> {
        self.raw
            .iter()
            .find(|a| &*a.term == term && a.qualifier.as_deref() == qualifier)
    }

    /// Adds one v4 annotation: typed when its term is one we type, raw otherwise.
    pub fn add(&mut self, annotation: Annotation) {
        if annotation.qualifier.is_none() && type_term(self, &annotation) {
            return;
        }
        self.raw.push(annotation);
    }
}

/// One v4 annotation as written (term, qualifier, value).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Annotation {
    /// Term, namespace-qualified with the alias replaced by the namespace when it was declared
    /// (`com.sap.vocabularies.UI.v1.LineItem`).
    pub term: Arc<str>,
    /// `Qualifier`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qualifier: Option<Box<str>>,
    /// The value; `None` when the annotation gives none (the term's default applies, for example
    /// `true` for tagging terms).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Expr>,
    /// Annotations of the annotation.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
}

/// Kinds of constant expressions (CSDL 4.0 section 14.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ConstantKind {
    /// `Binary`.
    Binary,
    /// `Bool`.
    Bool,
    /// `Date`.
    Date,
    /// `DateTimeOffset`.
    DateTimeOffset,
    /// `Decimal`.
    Decimal,
    /// `Duration`.
    Duration,
    /// `EnumMember`.
    EnumMember,
    /// `Float`.
    Float,
    /// `Guid`.
    Guid,
    /// `Int`.
    Int,
    /// `String`.
    String,
    /// `TimeOfDay`.
    TimeOfDay,
}

impl ConstantKind {
    /// The kind named by an attribute or element name.
    pub fn from_name(name: &str) -> Option<ConstantKind> {
        Some(match name {
            "Binary" => ConstantKind::Binary,
            "Bool" => ConstantKind::Bool,
            "Date" => ConstantKind::Date,
            "DateTimeOffset" => ConstantKind::DateTimeOffset,
            "Decimal" => ConstantKind::Decimal,
            "Duration" => ConstantKind::Duration,
            "EnumMember" => ConstantKind::EnumMember,
            "Float" => ConstantKind::Float,
            "Guid" => ConstantKind::Guid,
            "Int" => ConstantKind::Int,
            "String" => ConstantKind::String,
            "TimeOfDay" => ConstantKind::TimeOfDay,
            _ => return None,
        })
    }
}

/// Kinds of path expressions (CSDL 4.0 section 14.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PathKind {
    /// `Path`: a value path.
    Path,
    /// `PropertyPath`.
    PropertyPath,
    /// `NavigationPropertyPath`.
    NavigationPropertyPath,
    /// `AnnotationPath`.
    AnnotationPath,
    /// `ModelElementPath`.
    ModelElementPath,
    /// `AnyPropertyPath` (SAP's extension of property paths).
    AnyPropertyPath,
}

impl PathKind {
    /// The kind named by an attribute or element name.
    pub fn from_name(name: &str) -> Option<PathKind> {
        Some(match name {
            "Path" => PathKind::Path,
            "PropertyPath" => PathKind::PropertyPath,
            "NavigationPropertyPath" => PathKind::NavigationPropertyPath,
            "AnnotationPath" => PathKind::AnnotationPath,
            "ModelElementPath" => PathKind::ModelElementPath,
            "AnyPropertyPath" => PathKind::AnyPropertyPath,
            _ => return None,
        })
    }
}

/// An annotation value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Expr {
    /// A constant, kept as its text so decimals and dates stay exact.
    Constant(ConstantKind, Box<str>),
    /// A path.
    Path(PathKind, Box<str>),
    /// `Null`.
    Null,
    /// `Collection`.
    Collection(Vec<Expr>),
    /// `Record`.
    Record(Box<Record>),
    /// `Apply` of a client-side function.
    Apply {
        /// Function name (`odata.concat`, ...).
        function: Box<str>,
        /// Arguments.
        arguments: Vec<Expr>,
    },
    /// Any other dynamic expression (`If`, `Eq`, `Not`, `Cast`, `LabeledElement`, `UrlRef`, ...):
    /// the element name, its attributes and its child expressions.
    Element {
        /// Element name.
        name: Box<str>,
        /// Attributes as written.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        attributes: Vec<(Box<str>, Box<str>)>,
        /// Child expressions.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        children: Vec<Expr>,
    },
}

impl Expr {
    /// The boolean value of a `Bool` constant.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Expr::Constant(ConstantKind::Bool, text) => match &**text {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            _ => None,
        }
    }

    /// The text of a `String` constant.
    pub fn as_string(&self) -> Option<&str> {
        match self {
            Expr::Constant(ConstantKind::String, text) => Some(text),
            _ => None,
        }
    }

    /// The value of an `Int` constant.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Expr::Constant(ConstantKind::Int, text) => text.parse().ok(),
            _ => None,
        }
    }

    /// The path of any path expression.
    pub fn as_path(&self) -> Option<&str> {
        match self {
            Expr::Path(_, path) => Some(path),
            _ => None,
        }
    }
}

/// A `Record` expression.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    /// `Type` of the record, if given.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_name: Option<Box<str>>,
    /// `PropertyValue` members in order.
    pub properties: Vec<PropertyValue>,
    /// Annotations of the record.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub annotations: Vec<Annotation>,
}

impl Record {
    /// The value of a member by name.
    pub fn get(&self, property: &str) -> Option<&Expr> {
        self.properties
            .iter()
            .find(|p| &*p.property == property)
            .map(|p| &p.value)
    }
}

/// One `PropertyValue` of a record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PropertyValue {
    /// Member name.
    pub property: Box<str>,
    /// Its value.
    pub value: Expr,
}

/// SAP v2 `sap:` attributes (SAP Annotations for OData Version 2.0).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SapAttributes {
    /// `sap:label`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<Box<str>>,
    /// `sap:quickinfo`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quickinfo: Option<Box<str>>,
    /// `sap:heading`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heading: Option<Box<str>>,
    /// `sap:filterable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filterable: Option<bool>,
    /// `sap:sortable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sortable: Option<bool>,
    /// `sap:creatable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creatable: Option<bool>,
    /// `sap:updatable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updatable: Option<bool>,
    /// `sap:deletable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deletable: Option<bool>,
    /// `sap:pageable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pageable: Option<bool>,
    /// `sap:searchable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub searchable: Option<bool>,
    /// `sap:addressable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addressable: Option<bool>,
    /// `sap:countable`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub countable: Option<bool>,
    /// `sap:requires-filter`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requires_filter: Option<bool>,
    /// `sap:required-in-filter`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_in_filter: Option<bool>,
    /// `sap:filter-restriction`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_restriction: Option<FilterRestriction>,
    /// `sap:semantics` (`email`, `currency-code`, `unit-of-measure`, `aggregate`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub semantics: Option<Box<str>>,
    /// `sap:unit`: the property holding this amount's unit or currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<Box<str>>,
    /// `sap:text`: the property holding this code's description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<Box<str>>,
    /// `sap:display-format` (`Date`, `NonNegative`, `UpperCase`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_format: Option<Box<str>>,
    /// `sap:value-list` (`standard`, `fixed-values`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_list: Option<Box<str>>,
    /// Every other `sap:` attribute, name without prefix and value.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub other: Vec<(Box<str>, Box<str>)>,
}

/// Values of `sap:filter-restriction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FilterRestriction {
    /// Only one `eq` value.
    SingleValue,
    /// Several `eq` values.
    MultiValue,
    /// One `ge`/`le` interval.
    Interval,
}

impl SapAttributes {
    /// Sets one attribute from its local name (without `sap:`) and value.
    pub(crate) fn set(&mut self, name: &str, value: &str) {
        let flag = || match value {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        };
        let text = || Some(Box::<str>::from(value));
        let slot_bool = match name {
            "filterable" => &mut self.filterable,
            "sortable" => &mut self.sortable,
            "creatable" => &mut self.creatable,
            "updatable" => &mut self.updatable,
            "deletable" => &mut self.deletable,
            "pageable" => &mut self.pageable,
            "searchable" => &mut self.searchable,
            "addressable" => &mut self.addressable,
            "countable" => &mut self.countable,
            "requires-filter" => &mut self.requires_filter,
            "required-in-filter" => &mut self.required_in_filter,
            _ => {
                let slot_text = match name {
                    "label" => &mut self.label,
                    "quickinfo" => &mut self.quickinfo,
                    "heading" => &mut self.heading,
                    "semantics" => &mut self.semantics,
                    "unit" => &mut self.unit,
                    "text" => &mut self.text,
                    "display-format" => &mut self.display_format,
                    "value-list" => &mut self.value_list,
                    "filter-restriction" => {
                        self.filter_restriction = match value {
                            "single-value" => Some(FilterRestriction::SingleValue),
                            "multi-value" => Some(FilterRestriction::MultiValue),
                            "interval" => Some(FilterRestriction::Interval),
                            _ => {
                                self.other.push((name.into(), value.into()));
                                None
                            }
                        };
                        return;
                    }
                    _ => {
                        self.other.push((name.into(), value.into()));
                        return;
                    }
                };
                *slot_text = text();
                return;
            }
        };
        match flag() {
            Some(v) => *slot_bool = Some(v),
            None => self.other.push((name.into(), value.into())),
        }
    }
}

/// Typed v4 vocabulary terms. Capability records are boxed: most elements carry only a
/// description or a label, and the records would otherwise make every `Terms` large.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Terms {
    /// `Core.Description`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Box<str>>,
    /// `Core.Immutable`: set on create, never changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
    /// `Core.Computed`: set by the service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub computed: Option<bool>,
    /// `Common.Label`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<Box<str>>,
    /// `Common.Text`: path to the descriptive text of a code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<Box<str>>,
    /// `Measures.ISOCurrency`: currency code, a path or a constant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iso_currency: Option<ValueOrPath>,
    /// `Measures.Unit`: unit of measure, a path or a constant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<ValueOrPath>,
    /// `Capabilities.FilterRestrictions`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_restrictions: Option<Box<FilterRestrictions>>,
    /// `Capabilities.SortRestrictions`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_restrictions: Option<Box<SortRestrictions>>,
    /// `Capabilities.InsertRestrictions`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insert_restrictions: Option<Box<ModifyRestrictions>>,
    /// `Capabilities.UpdateRestrictions`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_restrictions: Option<Box<ModifyRestrictions>>,
    /// `Capabilities.DeleteRestrictions`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_restrictions: Option<Box<ModifyRestrictions>>,
    /// `Capabilities.CountRestrictions`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count_restrictions: Option<Box<CountRestrictions>>,
    /// `Capabilities.SearchRestrictions`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_restrictions: Option<Box<SearchRestrictions>>,
    /// `Capabilities.TopSupported`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_supported: Option<bool>,
    /// `Capabilities.SkipSupported`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_supported: Option<bool>,
    /// `Capabilities.ExpandRestrictions`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expand_restrictions: Option<Box<ExpandRestrictions>>,
    /// `Capabilities.NavigationRestrictions`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub navigation_restrictions: Option<Box<NavigationRestrictions>>,
}

/// A measure's unit or currency: the property that holds it, or a fixed code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueOrPath {
    /// A path to the property holding the code.
    Path(Box<str>),
    /// A constant code.
    Value(Box<str>),
}

/// `Capabilities.FilterRestrictionsType`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FilterRestrictions {
    /// `Filterable` (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filterable: Option<bool>,
    /// `RequiresFilter`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requires_filter: Option<bool>,
    /// `RequiredProperties`: properties that every filter must mention.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required_properties: Vec<Box<str>>,
    /// `NonFilterableProperties`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub non_filterable_properties: Vec<Box<str>>,
    /// `FilterExpressionRestrictions`: property path and allowed expressions
    /// (`SingleValue`, `MultiValue`, `SingleRange`, `MultiRange`, `SearchExpression`, ...).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filter_expression_restrictions: Vec<(Box<str>, Box<str>)>,
}

/// `Capabilities.SortRestrictionsType`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SortRestrictions {
    /// `Sortable` (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sortable: Option<bool>,
    /// `AscendingOnlyProperties`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ascending_only_properties: Vec<Box<str>>,
    /// `DescendingOnlyProperties`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub descending_only_properties: Vec<Box<str>>,
    /// `NonSortableProperties`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub non_sortable_properties: Vec<Box<str>>,
}

/// Insert, update and delete restrictions share their typed part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModifyRestrictions {
    /// `Insertable` / `Updatable` / `Deletable` (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<bool>,
    /// Path to a boolean property deciding per entity (`Updatable`/`Deletable` given as `Path`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_path: Option<Box<str>>,
    /// `NonInsertableProperties` / `NonUpdatableProperties`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub non_modifiable_properties: Vec<Box<str>>,
    /// `NonInsertableNavigationProperties` / `NonUpdatableNavigationProperties` /
    /// `NonDeletableNavigationProperties`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub non_modifiable_navigation_properties: Vec<Box<str>>,
    /// `RequiredProperties` (insert and update).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required_properties: Vec<Box<str>>,
    /// `Description`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Box<str>>,
}

/// `Capabilities.CountRestrictionsType`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CountRestrictions {
    /// `Countable` (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub countable: Option<bool>,
    /// `NonCountableProperties`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub non_countable_properties: Vec<Box<str>>,
    /// `NonCountableNavigationProperties`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub non_countable_navigation_properties: Vec<Box<str>>,
}

/// `Capabilities.SearchRestrictionsType`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SearchRestrictions {
    /// `Searchable` (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub searchable: Option<bool>,
    /// `UnsupportedExpressions` (flags as written, e.g. `Capabilities.SearchExpressions/AND`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsupported_expressions: Option<Box<str>>,
}

/// `Capabilities.ExpandRestrictionsType`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExpandRestrictions {
    /// `Expandable` (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expandable: Option<bool>,
    /// `NonExpandableProperties`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub non_expandable_properties: Vec<Box<str>>,
    /// `MaxLevels` (-1: unlimited).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_levels: Option<i64>,
}

/// `Capabilities.NavigationRestrictionsType`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NavigationRestrictions {
    /// `Navigability`: `Recursive`, `Single` or `None` (enum member as written).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub navigability: Option<Box<str>>,
    /// `RestrictedProperties`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restricted_properties: Vec<NavigationPropertyRestriction>,
}

/// One entry of `NavigationRestrictions/RestrictedProperties`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct NavigationPropertyRestriction {
    /// `NavigationProperty` path.
    pub navigation_property: Box<str>,
    /// `Navigability`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub navigability: Option<Box<str>>,
    /// `FilterRestrictions` through this navigation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter_restrictions: Option<FilterRestrictions>,
    /// `SortRestrictions` through this navigation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort_restrictions: Option<SortRestrictions>,
    /// `InsertRestrictions` through this navigation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insert_restrictions: Option<ModifyRestrictions>,
    /// `UpdateRestrictions` through this navigation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_restrictions: Option<ModifyRestrictions>,
    /// `DeleteRestrictions` through this navigation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delete_restrictions: Option<ModifyRestrictions>,
    /// `CountRestrictions` through this navigation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count_restrictions: Option<CountRestrictions>,
    /// `SearchRestrictions` through this navigation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_restrictions: Option<SearchRestrictions>,
    /// `TopSupported` through this navigation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub top_supported: Option<bool>,
    /// `SkipSupported` through this navigation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_supported: Option<bool>,
}

/// Tries to store a typed term; returns true when the annotation was taken completely.
fn type_term(target: &mut Annotations, annotation: &Annotation) -> bool {
    let Some((namespace, name)) = annotation.term.rsplit_once('.') else {
        return false;
    };
    // Annotations of annotations (such as `UI.TextArrangement` under `Common.Text`) are not
    // typed; keep the whole annotation raw so they survive.
    let nested_ok = annotation.annotations.is_empty();
    let value = annotation.value.as_ref();
    let mut typed = Typer { complete: true };
    match (namespace, name) {
        (vocabulary::CORE, "Description") => {
            let Some(text) = value.and_then(Expr::as_string) else {
                return false;
            };
            target.terms_mut().description = Some(text.into());
        }
        (vocabulary::CORE, "Immutable") => {
            let Some(flag) = tag(value) else { return false };
            target.terms_mut().immutable = Some(flag);
        }
        (vocabulary::CORE, "Computed") => {
            let Some(flag) = tag(value) else { return false };
            target.terms_mut().computed = Some(flag);
        }
        (vocabulary::COMMON, "Label") => {
            let Some(text) = value.and_then(Expr::as_string) else {
                return false;
            };
            target.terms_mut().label = Some(text.into());
        }
        (vocabulary::COMMON, "Text") => {
            let Some(path) = value.and_then(Expr::as_path) else {
                return false;
            };
            target.terms_mut().text = Some(path.into());
        }
        (vocabulary::MEASURES, "ISOCurrency" | "Unit") => {
            let code = match value {
                Some(Expr::Path(_, path)) => ValueOrPath::Path(path.clone()),
                Some(Expr::Constant(ConstantKind::String, text)) => {
                    ValueOrPath::Value(text.clone())
                }
                _ => return false,
            };
            if name == "Unit" {
                target.terms_mut().unit = Some(code);
            } else {
                target.terms_mut().iso_currency = Some(code);
            }
        }
        (vocabulary::CAPABILITIES, _) => {
            let Some(record) = value.and_then(as_record) else {
                // TopSupported and SkipSupported are tags, every other typed term a record.
                if let "TopSupported" | "SkipSupported" = name {
                    let Some(flag) = tag(value) else { return false };
                    let terms = target.terms_mut();
                    if name == "TopSupported" {
                        terms.top_supported = Some(flag);
                    } else {
                        terms.skip_supported = Some(flag);
                    }
                    return nested_ok;
                }
                return false;
            };
            const RECORDS: [&str; 9] = [
                "FilterRestrictions",
                "SortRestrictions",
                "InsertRestrictions",
                "UpdateRestrictions",
                "DeleteRestrictions",
                "CountRestrictions",
                "SearchRestrictions",
                "ExpandRestrictions",
                "NavigationRestrictions",
            ];
            if !RECORDS.contains(&name) {
                return false;
            }
            let terms = target.terms_mut();
            match name {
                "FilterRestrictions" => {
                    terms.filter_restrictions = Some(Box::new(typed.filter_restrictions(record)))
                }
                "SortRestrictions" => {
                    terms.sort_restrictions = Some(Box::new(typed.sort_restrictions(record)))
                }
                "InsertRestrictions" => {
                    terms.insert_restrictions =
                        Some(Box::new(typed.modify_restrictions(record, "Insertable")))
                }
                "UpdateRestrictions" => {
                    terms.update_restrictions =
                        Some(Box::new(typed.modify_restrictions(record, "Updatable")))
                }
                "DeleteRestrictions" => {
                    terms.delete_restrictions =
                        Some(Box::new(typed.modify_restrictions(record, "Deletable")))
                }
                "CountRestrictions" => {
                    terms.count_restrictions = Some(Box::new(typed.count_restrictions(record)))
                }
                "SearchRestrictions" => {
                    terms.search_restrictions = Some(Box::new(typed.search_restrictions(record)))
                }
                "ExpandRestrictions" => {
                    terms.expand_restrictions = Some(Box::new(typed.expand_restrictions(record)))
                }
                "NavigationRestrictions" => {
                    terms.navigation_restrictions =
                        Some(Box::new(typed.navigation_restrictions(record)))
                }
                _ => return false,
            }
        }
        _ => return false,
    }
    typed.complete && nested_ok
}

/// A tagging term's value: no value means true.
fn tag(value: Option<&Expr>) -> Option<bool> {
    match value {
        None => Some(true),
        Some(expr) => expr.as_bool(),
    }
}

fn as_record(expr: &Expr) -> Option<&Record> {
    match expr {
        Expr::Record(record) => Some(record),
        _ => None,
    }
}

/// Converts capability records, noting whether every member was understood.
struct Typer {
    complete: bool,
}

impl Typer {
    fn flag(&mut self, value: &Expr) -> Option<bool> {
        let flag = value.as_bool();
        self.complete &= flag.is_some();
        flag
    }

    fn paths(&mut self, value: &Expr) -> Vec<Box<str>> {
        match value {
            Expr::Collection(items) => items
                .iter()
                .filter_map(|item| {
                    let path = item.as_path().map(Box::from);
                    self.complete &= path.is_some();
                    path
                })
                .collect(),
            _ => {
                self.complete = false;
                Vec::new()
            }
        }
    }

    fn text(&mut self, value: &Expr) -> Option<Box<str>> {
        match value {
            Expr::Constant(ConstantKind::String | ConstantKind::EnumMember, text) => {
                Some(text.clone())
            }
            _ => {
                self.complete = false;
                None
            }
        }
    }

    fn unknown(&mut self) {
        self.complete = false;
    }

    fn filter_restrictions(&mut self, record: &Record) -> FilterRestrictions {
        let mut out = FilterRestrictions::default();
        for member in &record.properties {
            match &*member.property {
                "Filterable" => out.filterable = self.flag(&member.value),
                "RequiresFilter" => out.requires_filter = self.flag(&member.value),
                "RequiredProperties" => out.required_properties = self.paths(&member.value),
                "NonFilterableProperties" => {
                    out.non_filterable_properties = self.paths(&member.value)
                }
                "FilterExpressionRestrictions" => {
                    let Expr::Collection(items) = &member.value else {
                        self.unknown();
                        continue;
                    };
                    for item in items {
                        let restriction = as_record(item).and_then(|r| {
                            let property = r.get("Property")?.as_path()?;
                            let allowed = match r.get("AllowedExpressions")? {
                                Expr::Constant(_, text) => text,
                                _ => return None,
                            };
                            Some((property.into(), allowed.clone()))
                        });
                        match restriction {
                            Some(pair) => out.filter_expression_restrictions.push(pair),
                            None => self.unknown(),
                        }
                    }
                }
                _ => self.unknown(),
            }
        }
        out
    }

    fn sort_restrictions(&mut self, record: &Record) -> SortRestrictions {
        let mut out = SortRestrictions::default();
        for member in &record.properties {
            match &*member.property {
                "Sortable" => out.sortable = self.flag(&member.value),
                "AscendingOnlyProperties" => {
                    out.ascending_only_properties = self.paths(&member.value)
                }
                "DescendingOnlyProperties" => {
                    out.descending_only_properties = self.paths(&member.value)
                }
                "NonSortableProperties" => out.non_sortable_properties = self.paths(&member.value),
                _ => self.unknown(),
            }
        }
        out
    }

    fn modify_restrictions(&mut self, record: &Record, allowed: &str) -> ModifyRestrictions {
        let mut out = ModifyRestrictions::default();
        for member in &record.properties {
            let name = &*member.property;
            if name == allowed {
                match &member.value {
                    Expr::Path(_, path) => out.allowed_path = Some(path.clone()),
                    value => out.allowed = self.flag(value),
                }
                continue;
            }
            match name {
                "NonInsertableProperties" | "NonUpdatableProperties" => {
                    out.non_modifiable_properties = self.paths(&member.value)
                }
                "NonInsertableNavigationProperties"
                | "NonUpdatableNavigationProperties"
                | "NonDeletableNavigationProperties" => {
                    out.non_modifiable_navigation_properties = self.paths(&member.value)
                }
                "RequiredProperties" => out.required_properties = self.paths(&member.value),
                "Description" => out.description = self.text(&member.value),
                _ => self.unknown(),
            }
        }
        out
    }

    fn count_restrictions(&mut self, record: &Record) -> CountRestrictions {
        let mut out = CountRestrictions::default();
        for member in &record.properties {
            match &*member.property {
                "Countable" => out.countable = self.flag(&member.value),
                "NonCountableProperties" => {
                    out.non_countable_properties = self.paths(&member.value)
                }
                "NonCountableNavigationProperties" => {
                    out.non_countable_navigation_properties = self.paths(&member.value)
                }
                _ => self.unknown(),
            }
        }
        out
    }

    fn search_restrictions(&mut self, record: &Record) -> SearchRestrictions {
        let mut out = SearchRestrictions::default();
        for member in &record.properties {
            match &*member.property {
                "Searchable" => out.searchable = self.flag(&member.value),
                "UnsupportedExpressions" => out.unsupported_expressions = self.text(&member.value),
                _ => self.unknown(),
            }
        }
        out
    }

    fn expand_restrictions(&mut self, record: &Record) -> ExpandRestrictions {
        let mut out = ExpandRestrictions::default();
        for member in &record.properties {
            match &*member.property {
                "Expandable" => out.expandable = self.flag(&member.value),
                "NonExpandableProperties" => {
                    out.non_expandable_properties = self.paths(&member.value)
                }
                "MaxLevels" => {
                    out.max_levels = member.value.as_int();
                    self.complete &= out.max_levels.is_some();
                }
                _ => self.unknown(),
            }
        }
        out
    }

    fn navigation_restrictions(&mut self, record: &Record) -> NavigationRestrictions {
        let mut out = NavigationRestrictions::default();
        for member in &record.properties {
            match &*member.property {
                "Navigability" => out.navigability = self.text(&member.value),
                "RestrictedProperties" => {
                    let Expr::Collection(items) = &member.value else {
                        self.unknown();
                        continue;
                    };
                    for item in items {
                        match as_record(item) {
                            Some(entry) => {
                                let restriction = self.navigation_property_restriction(entry);
                                out.restricted_properties.push(restriction);
                            }
                            None => self.unknown(),
                        }
                    }
                }
                _ => self.unknown(),
            }
        }
        out
    }

    fn navigation_property_restriction(
        &mut self,
        record: &Record,
    ) -> NavigationPropertyRestriction {
        let mut out = NavigationPropertyRestriction::default();
        for member in &record.properties {
            let value = &member.value;
            let nested = as_record(value);
            match (&*member.property, nested) {
                ("NavigationProperty", _) => match value.as_path() {
                    Some(path) => out.navigation_property = path.into(),
                    None => self.unknown(),
                },
                ("Navigability", _) => out.navigability = self.text(value),
                ("TopSupported", _) => out.top_supported = self.flag(value),
                ("SkipSupported", _) => out.skip_supported = self.flag(value),
                ("FilterRestrictions", Some(r)) => {
                    out.filter_restrictions = Some(self.filter_restrictions(r))
                }
                ("SortRestrictions", Some(r)) => {
                    out.sort_restrictions = Some(self.sort_restrictions(r))
                }
                ("InsertRestrictions", Some(r)) => {
                    out.insert_restrictions = Some(self.modify_restrictions(r, "Insertable"))
                }
                ("UpdateRestrictions", Some(r)) => {
                    out.update_restrictions = Some(self.modify_restrictions(r, "Updatable"))
                }
                ("DeleteRestrictions", Some(r)) => {
                    out.delete_restrictions = Some(self.modify_restrictions(r, "Deletable"))
                }
                ("CountRestrictions", Some(r)) => {
                    out.count_restrictions = Some(self.count_restrictions(r))
                }
                ("SearchRestrictions", Some(r)) => {
                    out.search_restrictions = Some(self.search_restrictions(r))
                }
                _ => self.unknown(),
            }
        }
        out
    }
}
