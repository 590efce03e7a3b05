//! Primitive OData types as the composed graph sees them, and the OData dialect of a backend.
//!
//! Both protocol versions map onto one [`EdmType`]: v2-only types (`Edm.DateTime`, `Edm.Time`)
//! stay distinct because their URL literals and wire formats differ from their v4 counterparts.

use bizgraph_metadata::ODataVersion;
use serde::Serialize;

/// The URL and JSON conventions of a backend's OData version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Dialect {
    /// OData v2 (`$inlinecount`, `substringof`, `datetime'...'`, `d.results`).
    V2,
    /// OData v4.0 and v4.01 (`$count=true`, `contains`, `@odata.count`).
    V4,
}

impl From<ODataVersion> for Dialect {
    fn from(version: ODataVersion) -> Dialect {
        if version.is_v4() {
            Dialect::V4
        } else {
            Dialect::V2
        }
    }
}

/// A primitive type of a property, parameter or key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum EdmType {
    /// `Edm.String`.
    String,
    /// `Edm.Boolean`.
    Boolean,
    /// `Edm.Byte` (unsigned 8 bit).
    Byte,
    /// `Edm.SByte`.
    SByte,
    /// `Edm.Int16`.
    Int16,
    /// `Edm.Int32`.
    Int32,
    /// `Edm.Int64`: exchanged as a string in GraphQL, since JSON numbers lose precision past 2^53.
    Int64,
    /// `Edm.Decimal`: exchanged as a string so that no digit is lost.
    Decimal,
    /// `Edm.Single`.
    Single,
    /// `Edm.Double`.
    Double,
    /// `Edm.Date` (v4): `YYYY-MM-DD`.
    Date,
    /// `Edm.DateTime` (v2 only): a timestamp without offset, treated as UTC.
    DateTime,
    /// `Edm.DateTimeOffset`.
    DateTimeOffset,
    /// `Edm.TimeOfDay` (v4): `HH:MM:SS[.fff]`.
    TimeOfDay,
    /// `Edm.Time` (v2 only): a duration since midnight, `PT10H30M`.
    Time,
    /// `Edm.Duration` (v4).
    Duration,
    /// `Edm.Guid`.
    Guid,
    /// `Edm.Binary`: base64 in JSON.
    Binary,
    /// `Edm.Stream` and media: not selectable as a value.
    Stream,
    /// Geography and geometry types: passed through as GeoJSON, never filtered.
    Geo,
    /// Anything else (`Edm.Untyped`, `Edm.PrimitiveType`, unknown names): passed through as JSON.
    Untyped,
}

impl EdmType {
    /// The type for a qualified `Edm.*` name.
    pub fn from_name(name: &str) -> EdmType {
        match name.strip_prefix("Edm.").unwrap_or(name) {
            "String" => EdmType::String,
            "Boolean" => EdmType::Boolean,
            "Byte" => EdmType::Byte,
            "SByte" => EdmType::SByte,
            "Int16" => EdmType::Int16,
            "Int32" => EdmType::Int32,
            "Int64" => EdmType::Int64,
            "Decimal" => EdmType::Decimal,
            "Single" => EdmType::Single,
            "Double" => EdmType::Double,
            "Date" => EdmType::Date,
            "DateTime" => EdmType::DateTime,
            "DateTimeOffset" => EdmType::DateTimeOffset,
            "TimeOfDay" => EdmType::TimeOfDay,
            "Time" => EdmType::Time,
            "Duration" => EdmType::Duration,
            "Guid" => EdmType::Guid,
            "Binary" => EdmType::Binary,
            "Stream" => EdmType::Stream,
            other if other.starts_with("Geography") || other.starts_with("Geometry") => {
                EdmType::Geo
            }
            _ => EdmType::Untyped,
        }
    }

    /// The qualified `Edm.*` name (v2-only types keep their v2 names).
    pub fn name(self) -> &'static str {
        match self {
            EdmType::String => "Edm.String",
            EdmType::Boolean => "Edm.Boolean",
            EdmType::Byte => "Edm.Byte",
            EdmType::SByte => "Edm.SByte",
            EdmType::Int16 => "Edm.Int16",
            EdmType::Int32 => "Edm.Int32",
            EdmType::Int64 => "Edm.Int64",
            EdmType::Decimal => "Edm.Decimal",
            EdmType::Single => "Edm.Single",
            EdmType::Double => "Edm.Double",
            EdmType::Date => "Edm.Date",
            EdmType::DateTime => "Edm.DateTime",
            EdmType::DateTimeOffset => "Edm.DateTimeOffset",
            EdmType::TimeOfDay => "Edm.TimeOfDay",
            EdmType::Time => "Edm.Time",
            EdmType::Duration => "Edm.Duration",
            EdmType::Guid => "Edm.Guid",
            EdmType::Binary => "Edm.Binary",
            EdmType::Stream => "Edm.Stream",
            EdmType::Geo => "Edm.Geography",
            EdmType::Untyped => "Edm.Untyped",
        }
    }

    /// True when `gt`/`lt` and ordering make sense for the type.
    pub fn is_ordered(self) -> bool {
        !matches!(
            self,
            EdmType::Boolean
                | EdmType::Guid
                | EdmType::Binary
                | EdmType::Stream
                | EdmType::Geo
                | EdmType::Untyped
        )
    }

    /// True when the type can appear in `$filter` comparisons at all.
    pub fn is_comparable(self) -> bool {
        !matches!(self, EdmType::Stream | EdmType::Geo | EdmType::Untyped)
    }

    /// True for `Edm.String`, the only type with `contains`/`startswith`/`endswith`.
    pub fn is_string(self) -> bool {
        self == EdmType::String
    }
}
