//! Wire JSON of both dialects: values, entities with their navigation properties, entity URLs,
//! key predicates and ETags, and values read from request bodies.
//!
//! v2 follows the OData v2 JSON verbose format as SAP Gateway writes it: `__metadata`,
//! `__deferred`, `{"results": [...]}` for expanded collections, decimals as strings and
//! `/Date(ms)/`. v4 follows OData JSON Format 4.0 with `odata.metadata=minimal`.

use serde_json::{Map, Value as Json, json};

use super::data::{Row, Store};
use super::model::{Dialect, Kind, Service};
use super::query::{Expand, Selection};
use super::value::{
    Decimal, Value, format_date, format_timestamp, is_guid, parse_date, parse_timestamp,
};

/// What rendering entities needs: the service, its rows, the user's region and the absolute
/// service root URL.
#[derive(Debug)]
pub(crate) struct Render<'a> {
    pub(crate) service: &'static Service,
    pub(crate) store: &'a Store,
    pub(crate) region: &'a str,
    /// `http://host:port/sap/opu/odata/sap/API_SALES_ORDER_SRV`, no trailing slash.
    pub(crate) base: &'a str,
    /// The client asked for `IEEE754Compatible=true`: v4 decimals go out as strings.
    pub(crate) exact: bool,
}

impl Render<'_> {
    /// An entity as a JSON object, with the selected properties and the expanded navigation
    /// properties (related rows the user may not see are left out).
    pub(crate) fn entity(
        &self,
        set: usize,
        row_index: usize,
        select: Option<&Selection>,
        expand: &[Expand],
    ) -> Map<String, Json> {
        let service = self.service;
        let dialect = service.dialect;
        let def = &service.sets[set];
        let row = &self.store.tables[set][row_index];
        let mut object = Map::new();
        let url = format!("{}/{}", self.base, key_path(service, set, row));
        match dialect {
            Dialect::V2 => {
                let mut metadata = json!({
                    "id": url,
                    "uri": url,
                    "type": format!("{}.{}", service.namespace, def.type_name),
                });
                if let Some(etag) = etag(service, set, row) {
                    metadata["etag"] = Json::String(etag);
                }
                object.insert("__metadata".into(), metadata);
            }
            Dialect::V4 => {
                if let Some(etag) = etag(service, set, row) {
                    object.insert("@odata.etag".into(), Json::String(etag));
                }
            }
        }
        for (index, property) in def.properties.iter().enumerate() {
            let selected = select.is_none_or(|s| {
                s.properties.contains(&index)
                    || (dialect == Dialect::V4 && def.keys.contains(&property.name))
            });
            if selected {
                let value = match (&row[index], dialect) {
                    (Value::Decimal(decimal), Dialect::V4) if self.exact => {
                        Json::String(decimal.to_string())
                    }
                    (value, _) => value_json(value, dialect),
                };
                object.insert(property.name.into(), value);
            }
        }
        for (index, navigation) in def.navigations.iter().enumerate() {
            if let Some(expanded) = expand.iter().find(|e| e.navigation == index) {
                self.expanded(&mut object, set, row, index, expanded);
            } else if dialect == Dialect::V2
                && select.is_none_or(|s| s.navigations.contains(&index))
            {
                object.insert(
                    navigation.name.into(),
                    json!({ "__deferred": { "uri": format!("{url}/{}", navigation.name) } }),
                );
            }
        }
        object
    }

    fn expanded(
        &self,
        object: &mut Map<String, Json>,
        set: usize,
        row: &Row,
        navigation: usize,
        expand: &Expand,
    ) {
        let service = self.service;
        let nav = &service.sets[set].navigations[navigation];
        let target = service.target(nav.target);
        let related: Vec<usize> = self
            .store
            .related(service, set, row, navigation)
            .filter(|&index| {
                self.store.visible(
                    service,
                    target,
                    &self.store.tables[target][index],
                    self.region,
                )
            })
            .collect();
        let render = |index: usize| {
            Json::Object(self.entity(
                target,
                index,
                expand.query.select.as_ref(),
                &expand.query.expand,
            ))
        };
        if !nav.many {
            let value = related.first().map_or(Json::Null, |&index| render(index));
            object.insert(nav.name.into(), value);
            return;
        }
        let page = expand
            .query
            .apply(service, self.store, target, related, None);
        let rows: Vec<Json> = page.rows.iter().map(|&index| render(index)).collect();
        match service.dialect {
            Dialect::V2 => {
                let mut wrapper = json!({ "results": rows });
                if expand.query.count {
                    wrapper["__count"] = Json::String(page.count.to_string());
                }
                object.insert(nav.name.into(), wrapper);
            }
            Dialect::V4 => {
                if expand.query.count {
                    object.insert(format!("{}@odata.count", nav.name), json!(page.count));
                }
                object.insert(nav.name.into(), Json::Array(rows));
            }
        }
    }
}

/// A value in the dialect's JSON.
pub(crate) fn value_json(value: &Value, dialect: Dialect) -> Json {
    match (value, dialect) {
        (Value::Null, _) => Json::Null,
        (Value::Bool(flag), _) => Json::Bool(*flag),
        (Value::Int(number), _) => json!(number),
        (Value::String(text) | Value::Guid(text), _) => Json::String(text.clone()),
        (Value::Enum(_, name), _) => Json::String((*name).to_owned()),
        // SAP Gateway writes Edm.Decimal as a string, keeping the scale.
        (Value::Decimal(decimal), Dialect::V2) => Json::String(decimal.to_string()),
        (Value::Decimal(decimal), Dialect::V4) => decimal_number(*decimal),
        (Value::Date(days), Dialect::V2) => {
            Json::String(format!("/Date({})/", days * super::value::DAY_MS))
        }
        (Value::Date(days), Dialect::V4) => Json::String(format_date(*days)),
        (Value::DateTime(millis), Dialect::V2) => Json::String(format!("/Date({millis})/")),
        (Value::DateTimeOffset(millis), Dialect::V2) => {
            Json::String(format!("/Date({millis}+0000)/"))
        }
        (Value::DateTime(millis), Dialect::V4) => {
            Json::String(format_timestamp(*millis, fraction(*millis)))
        }
        (Value::DateTimeOffset(millis), Dialect::V4) => {
            Json::String(format!("{}Z", format_timestamp(*millis, fraction(*millis))))
        }
    }
}

/// Milliseconds are written only when there are some.
fn fraction(millis: i64) -> usize {
    if millis % 1000 == 0 { 0 } else { 3 }
}

/// A decimal as a JSON number: integral values as integers, others as the nearest float, which
/// for the 15-digit amounts here prints the same digits.
fn decimal_number(decimal: Decimal) -> Json {
    if decimal.is_integral()
        && let Some(integer) = decimal.to_i64()
    {
        return json!(integer);
    }
    serde_json::Number::from_f64(decimal.to_f64()).map_or(Json::Null, Json::Number)
}

/// A key value as written in a key predicate.
pub(crate) fn key_literal(value: &Value, dialect: Dialect) -> String {
    match (value, dialect) {
        (Value::String(text), _) => format!("'{}'", text.replace('\'', "''")),
        (Value::Guid(text), Dialect::V2) => format!("guid'{text}'"),
        (Value::Guid(text), Dialect::V4) => text.clone(),
        (Value::Int(number), _) => number.to_string(),
        (other, _) => value_json(other, dialect).to_string(),
    }
}

/// `Set(key)` or `Set(K1='a',K2='b')`, percent-encoded for a URL path.
pub(crate) fn key_path(service: &Service, set: usize, row: &Row) -> String {
    let def = &service.sets[set];
    let keys: Vec<usize> = def.key_indexes().collect();
    let predicate = if let [single] = keys.as_slice() {
        key_literal(&row[*single], service.dialect)
    } else {
        keys.iter()
            .map(|&k| {
                format!(
                    "{}={}",
                    def.properties[k].name,
                    key_literal(&row[k], service.dialect)
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    format!("{}({})", def.name, encode_path(&predicate))
}

/// Percent-encodes what a path segment cannot hold (RFC 3986 `pchar`).
pub(crate) fn encode_path(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The ETag of a row, for sets that have one: SAP's `W/"datetimeoffset'..'"` in v2 (the
/// literal URL-encoded, as SAP Gateway writes it), CAP's `W/"<timestamp>"` in v4.
pub(crate) fn etag(service: &Service, set: usize, row: &Row) -> Option<String> {
    let def = &service.sets[set];
    let index = def.property(def.etag?)?;
    let Value::DateTimeOffset(millis) = row[index] else {
        return None;
    };
    Some(match service.dialect {
        Dialect::V2 => format!(
            "W/\"datetimeoffset'{}Z'\"",
            format_timestamp(millis, 7).replace(':', "%3A")
        ),
        Dialect::V4 => format!("W/\"{}Z\"", format_timestamp(millis, 3)),
    })
}

/// Reads a property value from a request body.
pub(crate) fn json_value(json: &Json, kind: Kind, dialect: Dialect) -> Result<Value, String> {
    if json.is_null() {
        return Ok(Value::Null);
    }
    let text = json.as_str();
    let invalid = || format!("expected {}, found {json}", kind_name(kind));
    match kind {
        Kind::String => text
            .map(|t| Value::String(t.to_owned()))
            .ok_or_else(invalid),
        Kind::Int32 => json
            .as_i64()
            .filter(|n| i32::try_from(*n).is_ok())
            .map(Value::Int)
            .ok_or_else(invalid),
        Kind::Decimal { scale } => {
            let source = match json {
                Json::String(text) => text.clone(),
                Json::Number(number) => number.to_string(),
                _ => return Err(invalid()),
            };
            let decimal = Decimal::parse(&source).ok_or_else(invalid)?;
            decimal
                .with_scale(scale)
                .map(Value::Decimal)
                .ok_or_else(|| {
                    format!("{source} has more than {scale} digits after the decimal point")
                })
        }
        Kind::Guid => text
            .filter(|t| is_guid(t))
            .map(|t| Value::Guid(t.to_ascii_lowercase()))
            .ok_or_else(invalid),
        Kind::Date => text
            .and_then(parse_date)
            .map(Value::Date)
            .ok_or_else(invalid),
        Kind::DateTime => {
            let text = text.ok_or_else(invalid)?;
            match (dialect, json_date(text)) {
                (Dialect::V2, Some(millis)) => Ok(Value::DateTime(millis)),
                _ => parse_timestamp(text)
                    .filter(|stamp| !stamp.has_offset)
                    .map(|stamp| Value::DateTime(stamp.millis))
                    .ok_or_else(invalid),
            }
        }
        Kind::DateTimeOffset => {
            let text = text.ok_or_else(invalid)?;
            match (dialect, json_date(text)) {
                (Dialect::V2, Some(millis)) => Ok(Value::DateTimeOffset(millis)),
                _ => parse_timestamp(text)
                    .filter(|stamp| stamp.has_offset)
                    .map(|stamp| Value::DateTimeOffset(stamp.millis))
                    .ok_or_else(invalid),
            }
        }
        Kind::Enum { members, .. } => text
            .and_then(|t| enum_member(members, t))
            .ok_or_else(invalid),
    }
}

/// The enumeration member named `name`.
pub(crate) fn enum_member(members: &'static [&'static str], name: &str) -> Option<Value> {
    let index = members.iter().position(|member| *member == name)?;
    Some(Value::Enum(i64::try_from(index).ok()?, members[index]))
}

/// `/Date(1706659200000)/` or `/Date(1706659200000+0060)/` (the milliseconds are UTC; the
/// offset in minutes only says where the writer was).
fn json_date(text: &str) -> Option<i64> {
    let inner = text.strip_prefix("/Date(")?.strip_suffix(")/")?;
    let split = inner
        .char_indices()
        .skip(1)
        .find(|(_, c)| *c == '+' || *c == '-')
        .map_or(inner.len(), |(at, _)| at);
    let (millis, offset) = inner.split_at(split);
    if !offset.is_empty() && !offset[1..].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    millis.parse().ok()
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::String => "Edm.String",
        Kind::Int32 => "Edm.Int32",
        Kind::Decimal { .. } => "Edm.Decimal",
        Kind::Guid => "Edm.Guid",
        Kind::Date => "Edm.Date",
        Kind::DateTime => "Edm.DateTime",
        Kind::DateTimeOffset => "Edm.DateTimeOffset",
        Kind::Enum { type_name, .. } => type_name,
    }
}
