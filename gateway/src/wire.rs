//! Backend OData JSON responses (v2 and v4) read into one shape, and property values into the
//! gateway's canonical JSON.
//!
//! [`parse_collection`] and [`parse_entity`] unwrap the dialect's envelope (`d`, `d.results`,
//! `value`) and keep rows raw; the executor then calls [`normalize`] for each property it knows,
//! skipping [`is_control_key`]s. [`parse_error`] reads error bodies (JSON and XML, both dialects).
//!
//! Canonical forms, what GraphQL clients see: Int64 and Decimal as JSON strings of digits,
//! dates `YYYY-MM-DD`, timestamps ISO 8601 (v2 `/Date(ms)/` converted to UTC `Z`), times
//! `hh:mm:ss[.fff]`, GUIDs lower-case, binaries standard base64.
//!
//! Decimal from a JSON number (CAP sends Decimals as numbers unless `IEEE754Compatible=true` is
//! asked for): serde_json reads it as an `f64` and writes its shortest round-trip text, which
//! reproduces the backend's digits for up to 15 significant digits; beyond that, and for trailing
//! zeros (`12.50` arrives as `12.5`), the digits are lost before this module sees them.
//! Decimal and Int64 *strings* are never routed through `f64`.

use base64::Engine as _;
use base64::engine::general_purpose::{
    STANDARD, STANDARD_PAD_INDIFFERENT, URL_SAFE_PAD_INDIFFERENT,
};
use bizgraph_schema::edm::{Dialect, EdmType};
use bizgraph_schema::temporal::{Clock, Date, JsonDate, Timestamp, is_guid};
use serde_json::{Map, Number, Value};

/// Error messages show at most this many characters of an offending value or body.
const SHOWN_CHARS: usize = 40;

/// [`BackendError::message`] is cut to this many characters.
const MAX_MESSAGE_CHARS: usize = 500;

/// Exponents beyond this are refused when writing a Decimal out in plain digits.
const MAX_DECIMAL_EXPONENT: i64 = 400;

const V2_COLLECTION: &str = r#"an OData v2 collection {"d":{"results":[...]}} or {"d":[...]}"#;
const V4_COLLECTION: &str = r#"an OData v4 collection {"value":[...]}"#;
const V2_ENTITY: &str = r#"an OData v2 entity {"d":{...}}"#;
const V4_ENTITY: &str = "an OData v4 entity object";

/// One page of a collection response.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Page {
    /// The entities, raw: control keys ([`is_control_key`]) and wire value forms kept.
    pub rows: Vec<Map<String, Value>>,
    /// The total count, when asked for (`$inlinecount=allpages` in v2, `$count=true` in v4).
    pub count: Option<u64>,
    /// The link to the next page (server-driven paging), as the backend wrote it.
    pub next_link: Option<String>,
}

/// An error a backend reported in its response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendError {
    /// The backend's error code (`SY/530`, `400`), when it sent one.
    pub code: Option<String>,
    /// The message, trimmed and cut to 500 characters; empty when the backend sent only a code.
    pub message: String,
}

/// Why a response or a value could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The body is not JSON at all (an HTML error page, a truncated body).
    #[error("expected {expected}, but the body is not JSON ({detail}); it starts with `{start}`")]
    NotJson {
        /// What the body should have held.
        expected: &'static str,
        /// The JSON parser's complaint, with line and column.
        detail: String,
        /// The first 40 characters of the body.
        start: String,
    },
    /// The body is JSON of another shape.
    #[error("expected {expected}, found {found}")]
    Shape {
        /// What should have been there, with its place (`an entity object at d.results[3]`).
        expected: String,
        /// What was there.
        found: String,
    },
    /// A property value does not fit its declared type.
    #[error("invalid {ty} value `{value}` from the backend: expected {expected}")]
    Value {
        /// The qualified type name.
        ty: &'static str,
        /// The value, cut to 40 characters.
        value: String,
        /// What a valid value looks like.
        expected: &'static str,
    },
}

/// The rows, count and next link of a collection response.
///
/// v2: `{"d":{"results":[...],"__count":"12","__next":"..."}}`, or the OData 1.0 form
/// `{"d":[...]}` (MS-ODATA, JSON verbose format). v4: `{"value":[...],
/// "@odata.count":12,"@odata.nextLink":"..."}`, also with the 4.01 short names `@count` and
/// `@nextLink` (OData JSON Format 4.01, control information `count` and `nextLink`), counts as numbers or strings.
pub fn parse_collection(dialect: Dialect, body: &[u8]) -> Result<Page, WireError> {
    let expected = match dialect {
        Dialect::V2 => V2_COLLECTION,
        Dialect::V4 => V4_COLLECTION,
    };
    let mut root = match parse_json(body, expected)? {
        Value::Object(root) => root,
        other => return Err(shape(expected, &other)),
    };
    match dialect {
        Dialect::V2 => match root.remove("d") {
            Some(Value::Array(rows)) => Ok(Page {
                rows: rows_of(rows, "d")?,
                count: None,
                next_link: None,
            }),
            Some(Value::Object(mut envelope)) => {
                let rows = match envelope.remove("results") {
                    Some(Value::Array(rows)) => rows_of(rows, "d.results")?,
                    Some(other) => return Err(shape("an array at d.results", &other)),
                    None => return Err(shape(expected, &Value::Object(envelope))),
                };
                Ok(Page {
                    rows,
                    count: count_of(&envelope, &["__count"], "__count")?,
                    next_link: link_of(&envelope, &["__next"], "__next")?,
                })
            }
            Some(other) => Err(shape("an object or an array at d", &other)),
            None => Err(shape(expected, &Value::Object(root))),
        },
        Dialect::V4 => {
            let rows = match root.remove("value") {
                Some(Value::Array(rows)) => rows_of(rows, "value")?,
                Some(other) => return Err(shape("an array at value", &other)),
                None => return Err(shape(expected, &Value::Object(root))),
            };
            Ok(Page {
                rows,
                count: count_of(&root, &["@odata.count", "@count"], "@odata.count")?,
                next_link: link_of(&root, &["@odata.nextLink", "@nextLink"], "@odata.nextLink")?,
            })
        }
    }
}

/// The entity of a single-entity response, raw: v2 `{"d":{...}}` (a `{"d":{"results":{...}}}`
/// wrapping, as some function imports answer, is unwrapped too), v4 the object itself.
pub fn parse_entity(dialect: Dialect, body: &[u8]) -> Result<Map<String, Value>, WireError> {
    let expected = match dialect {
        Dialect::V2 => V2_ENTITY,
        Dialect::V4 => V4_ENTITY,
    };
    let mut root = match parse_json(body, expected)? {
        Value::Object(root) => root,
        other => return Err(shape(expected, &other)),
    };
    if root.len() == 1 && root.contains_key("error") {
        return Err(shape(expected, &Value::Object(root)));
    }
    match dialect {
        Dialect::V4 => Ok(root),
        Dialect::V2 => match root.remove("d") {
            Some(Value::Object(mut entity)) => {
                if entity.len() == 1
                    && let Some(Value::Object(_)) = entity.get("results")
                    && let Some(Value::Object(inner)) = entity.remove("results")
                {
                    return Ok(inner);
                }
                Ok(entity)
            }
            Some(other) => Err(shape("an entity object at d", &other)),
            None => Err(shape(expected, &Value::Object(root))),
        },
    }
}

/// The error a backend reported, from any of the error body forms; `None` when the body is none
/// of them (an HTML page from a proxy, an empty body).
///
/// JSON: v2 `{"error":{"code":"..","message":{"lang":"en","value":".."},"innererror":{..}}}`
/// (MS-ODATA, JSON error response), v4 `{"error":{"code":"..","message":"..","target":..,"details":[..]}}`
/// (OData JSON Format 4.01, "Error Response"). XML: `<error><code/><message/></error>` in the v2
/// `m:` metadata namespace or the v4 one; only the root's own `code` and `message` count,
/// not those of SAP's `innererror/errordetails`.
pub fn parse_error(body: &[u8]) -> Option<BackendError> {
    let body = strip_bom(body);
    match body.iter().find(|byte| !byte.is_ascii_whitespace())? {
        b'{' => json_error(body),
        b'<' => xml_error(std::str::from_utf8(body).ok()?),
        _ => None,
    }
}

/// One property value in the gateway's canonical JSON form (see the module documentation).
///
/// JSON null stays null. v2 `/Date(...)/` forms are accepted in the v2 dialect only.
pub fn normalize(dialect: Dialect, ty: EdmType, value: &Value) -> Result<Value, WireError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    match ty {
        EdmType::String => match value {
            Value::String(_) => Ok(value.clone()),
            other => Err(invalid(ty, other, "a JSON string")),
        },
        EdmType::Boolean => match value {
            Value::Bool(_) => Ok(value.clone()),
            other => Err(invalid(ty, other, "a JSON boolean")),
        },
        EdmType::Byte | EdmType::SByte | EdmType::Int16 | EdmType::Int32 => {
            small_integer(ty, value).map(Value::from)
        }
        EdmType::Int64 => int64(ty, value).map(|integer| Value::String(integer.to_string())),
        EdmType::Decimal => decimal(ty, value).map(Value::String),
        EdmType::Double | EdmType::Single => float(ty, value).map(Value::Number),
        EdmType::Date => date(dialect, ty, value).map(Value::String),
        EdmType::DateTime => date_time(dialect, ty, value).map(Value::String),
        EdmType::DateTimeOffset => date_time_offset(dialect, ty, value).map(Value::String),
        EdmType::TimeOfDay | EdmType::Time => {
            const FORM: &str = "a time hh:mm[:ss[.fff]] or PTnHnMnS below 24 hours";
            let text = string_of(ty, value, FORM)?;
            let clock = Clock::parse(text).ok_or_else(|| invalid(ty, value, FORM))?;
            Ok(Value::String(clock.to_string()))
        }
        // OData JSON Format 4.01, "Primitive Value": a durationValue string, passed on as it is.
        EdmType::Duration => string_of(ty, value, "a JSON string").map(|_| value.clone()),
        EdmType::Guid => {
            const FORM: &str = "a GUID xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
            let text = string_of(ty, value, FORM)?;
            if !is_guid(text) {
                return Err(invalid(ty, value, FORM));
            }
            Ok(Value::String(text.to_ascii_lowercase()))
        }
        EdmType::Binary => {
            // v2 JSON sends standard base64 (MS-ODATA 2.2.6.3.1); v4 base64url (OData JSON
            // Format 4.01, "Primitive Value", ABNF `binaryValue`). Both become standard, padded base64.
            const FORM: &str = "base64 or base64url";
            let text = string_of(ty, value, FORM)?;
            let bytes = STANDARD_PAD_INDIFFERENT
                .decode(text)
                .or_else(|_| URL_SAFE_PAD_INDIFFERENT.decode(text))
                .map_err(|_| invalid(ty, value, FORM))?;
            Ok(Value::String(STANDARD.encode(bytes)))
        }
        EdmType::Stream | EdmType::Geo | EdmType::Untyped => Ok(value.clone()),
    }
}

/// The entity's ETag: v2 `__metadata.etag` (MS-ODATA, JSON verbose), v4 `@odata.etag` or the 4.01
/// short `@etag` (OData JSON Format 4.01, control information `etag`).
pub fn etag(dialect: Dialect, entity: &Map<String, Value>) -> Option<String> {
    let tag = match dialect {
        Dialect::V2 => entity.get("__metadata")?.get("etag"),
        Dialect::V4 => entity.get("@odata.etag").or_else(|| entity.get("@etag")),
    };
    tag?.as_str().map(str::to_owned)
}

/// True for keys of an entity object that are not properties: v2 `__metadata` (and any `__`
/// key), v4 instance and property annotations (`@odata.etag`, `Name@odata.type`,
/// `@com.sap.vocabularies...`). OData identifiers never contain `@` (CSDL `SimpleIdentifier`).
pub fn is_control_key(dialect: Dialect, key: &str) -> bool {
    key.contains('@') || (dialect == Dialect::V2 && key.starts_with("__"))
}

fn strip_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

fn parse_json(body: &[u8], expected: &'static str) -> Result<Value, WireError> {
    let body = strip_bom(body);
    serde_json::from_slice(body).map_err(|error| WireError::NotJson {
        expected,
        detail: error.to_string(),
        start: shown(String::from_utf8_lossy(body).trim()),
    })
}

fn rows_of(items: Vec<Value>, place: &str) -> Result<Vec<Map<String, Value>>, WireError> {
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| match item {
            Value::Object(row) => Ok(row),
            other => Err(shape(
                &format!("an entity object at {place}[{index}]"),
                &other,
            )),
        })
        .collect()
}

/// The first of `keys` present, as a count: a JSON number or, with IEEE754Compatible and in
/// v2, a string of digits.
fn count_of(
    object: &Map<String, Value>,
    keys: &[&str],
    place: &str,
) -> Result<Option<u64>, WireError> {
    let Some(value) = keys.iter().find_map(|key| object.get(*key)) else {
        return Ok(None);
    };
    let count = match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.parse().ok(),
        Value::Null => return Ok(None),
        _ => None,
    };
    count
        .map(Some)
        .ok_or_else(|| shape(&format!("a non-negative count at {place}"), value))
}

fn link_of(
    object: &Map<String, Value>,
    keys: &[&str],
    place: &str,
) -> Result<Option<String>, WireError> {
    match keys.iter().find_map(|key| object.get(*key)) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(link)) => Ok(Some(link.clone())),
        Some(other) => Err(shape(&format!("a URL string at {place}"), other)),
    }
}

fn json_error(body: &[u8]) -> Option<BackendError> {
    let root: Value = serde_json::from_slice(body).ok()?;
    let error = root.get("error")?.as_object()?;
    let code = match error.get("code") {
        Some(Value::String(code)) if !code.is_empty() => Some(code.clone()),
        Some(Value::Number(code)) => Some(code.to_string()),
        _ => None,
    };
    let message = match error.get("message") {
        // v4: a string.
        Some(Value::String(message)) => Some(message.as_str()),
        // v2: {"lang": "en", "value": "..."}.
        Some(Value::Object(message)) => message.get("value").and_then(Value::as_str),
        _ => None,
    };
    if code.is_none() && message.is_none() {
        return None;
    }
    Some(BackendError {
        code,
        message: cut_message(message.unwrap_or_default()),
    })
}

/// Reads the root `error` element's `code` and `message` children. A small scanner rather than
/// an XML parser: error bodies are tiny, and only text of two known elements is needed.
fn xml_error(text: &str) -> Option<BackendError> {
    #[derive(Clone, Copy)]
    enum Field {
        Code,
        Message,
    }
    let mut rest = text;
    let mut depth = 0usize;
    let mut capturing: Option<Field> = None;
    let mut buffer = String::new();
    let (mut code, mut message): (Option<String>, Option<String>) = (None, None);
    let mut store = |field: Field, text: String| match field {
        Field::Code => code = Some(text),
        Field::Message => message = Some(text),
    };
    while let Some(open) = rest.find('<') {
        if capturing.is_some() && depth == 2 {
            buffer.push_str(&decode_entities(&rest[..open]));
        }
        rest = &rest[open..];
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = &after[after.find("-->")? + 3..];
            continue;
        }
        if let Some(after) = rest.strip_prefix("<![CDATA[") {
            let end = after.find("]]>")?;
            if capturing.is_some() && depth == 2 {
                buffer.push_str(&after[..end]);
            }
            rest = &after[end + 3..];
            continue;
        }
        if rest.starts_with("<?") || rest.starts_with("<!") {
            rest = &rest[rest.find('>')? + 1..];
            continue;
        }
        let close = tag_end(rest)?;
        let tag = &rest[1..close];
        rest = &rest[close + 1..];
        if tag.starts_with('/') {
            depth = depth.checked_sub(1)?;
            if depth == 1
                && let Some(field) = capturing.take()
            {
                store(field, std::mem::take(&mut buffer));
            }
            if depth == 0 {
                break;
            }
            continue;
        }
        let self_closing = tag.ends_with('/');
        let name = tag
            .trim_end_matches('/')
            .split(|character: char| character.is_ascii_whitespace())
            .next()
            .unwrap_or_default();
        let local = name.rsplit(':').next().unwrap_or_default();
        if depth == 0 && local != "error" {
            return None;
        }
        if depth == 1 {
            let field = match local {
                "code" => Some(Field::Code),
                "message" => Some(Field::Message),
                _ => None,
            };
            match (field, self_closing) {
                (Some(field), true) => store(field, String::new()),
                (field, false) => {
                    capturing = field;
                    buffer.clear();
                }
                (None, true) => {}
            }
        }
        if !self_closing {
            depth += 1;
        }
    }
    let code = code
        .map(|code| code.trim().to_owned())
        .filter(|code| !code.is_empty());
    if code.is_none() && message.is_none() {
        return None;
    }
    Some(BackendError {
        code,
        message: cut_message(message.as_deref().unwrap_or_default()),
    })
}

/// The index of the `>` closing the tag `text` starts with, skipping quoted attribute values.
fn tag_end(text: &str) -> Option<usize> {
    let mut quote = None;
    for (index, byte) in text.bytes().enumerate() {
        match (quote, byte) {
            (None, b'"' | b'\'') => quote = Some(byte),
            (Some(open), _) if byte == open => quote = None,
            (None, b'>') => return Some(index),
            _ => {}
        }
    }
    None
}

/// XML's five named entities and character references; anything else is kept as written.
fn decode_entities(text: &str) -> String {
    let mut decoded = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        decoded.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let replacement = rest.find(';').and_then(|semicolon| {
            let entity = &rest[1..semicolon];
            let character = match entity {
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => {
                    let number = entity.strip_prefix('#')?;
                    let code = match number.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => number.parse().ok()?,
                    };
                    char::from_u32(code)
                }
            };
            character.map(|character| (character, semicolon))
        });
        match replacement {
            Some((character, semicolon)) => {
                decoded.push(character);
                rest = &rest[semicolon + 1..];
            }
            None => {
                decoded.push('&');
                rest = &rest[1..];
            }
        }
    }
    decoded.push_str(rest);
    decoded
}

/// Trimmed and cut to [`MAX_MESSAGE_CHARS`], an ellipsis marking a cut.
fn cut_message(message: &str) -> String {
    let message = message.trim();
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some(_) => {
            let keep = message
                .char_indices()
                .nth(MAX_MESSAGE_CHARS - 1)
                .map_or(message.len(), |(index, _)| index);
            format!("{}…", &message[..keep])
        }
        None => message.to_owned(),
    }
}

fn string_of<'a>(
    ty: EdmType,
    value: &'a Value,
    expected: &'static str,
) -> Result<&'a str, WireError> {
    value.as_str().ok_or_else(|| invalid(ty, value, expected))
}

/// Byte, SByte, Int16, Int32 from a JSON integer or, leniently, a string of digits.
fn small_integer(ty: EdmType, value: &Value) -> Result<i64, WireError> {
    let (low, high) = match ty {
        EdmType::Byte => (0, i64::from(u8::MAX)),
        EdmType::SByte => (i64::from(i8::MIN), i64::from(i8::MAX)),
        EdmType::Int16 => (i64::from(i16::MIN), i64::from(i16::MAX)),
        _ => (i64::from(i32::MIN), i64::from(i32::MAX)),
    };
    let integer = match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => parse_integer(text),
        _ => None,
    };
    integer
        .filter(|integer| (low..=high).contains(integer))
        .ok_or_else(|| invalid(ty, value, "an integer within the type's range"))
}

/// Int64 from a JSON integer (serde_json keeps integers exact as `i64`/`u64`) or a string of
/// digits (v2 JSON, and v4 with `IEEE754Compatible=true`).
fn int64(ty: EdmType, value: &Value) -> Result<i64, WireError> {
    let integer = match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => parse_integer(text),
        _ => None,
    };
    integer.ok_or_else(|| invalid(ty, value, "a 64-bit integer as a JSON integer or string"))
}

fn parse_integer(text: &str) -> Option<i64> {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Decimal digits: a string as sent (trailing zeros kept, a leading `+` dropped), or a JSON
/// number's shortest text; exponent notation is written out in plain digits.
fn decimal(ty: EdmType, value: &Value) -> Result<String, WireError> {
    const FORM: &str = "a decimal number as a JSON string or number";
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => return Err(invalid(ty, value, FORM)),
    };
    plain_decimal(&text).ok_or_else(|| invalid(ty, value, FORM))
}

/// `[+-]digits[.digits][e[+-]digits]` (at least one digit) in plain digits, exactly.
fn plain_decimal(text: &str) -> Option<String> {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(unsigned) => (true, unsigned),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => {
            let digits = exponent.strip_prefix(['-', '+']).unwrap_or(exponent);
            if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
                return None;
            }
            let exponent: i64 = exponent.parse().ok()?;
            (mantissa, Some(exponent))
        }
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let is_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.len() + fraction.len() == 0 || !is_digits(whole) || !is_digits(fraction) {
        return None;
    }
    let sign = if negative { "-" } else { "" };
    let Some(exponent) = exponent else {
        // As sent; only a bare `.5` or `5.` gets its missing zero.
        let whole = if whole.is_empty() { "0" } else { whole };
        return Some(if fraction.is_empty() {
            format!("{sign}{whole}")
        } else {
            format!("{sign}{whole}.{fraction}")
        });
    };
    if exponent.abs() > MAX_DECIMAL_EXPONENT {
        return None;
    }
    let digits = format!("{whole}{fraction}");
    // Position of the decimal point within `digits` after applying the exponent.
    let point = i64::try_from(whole.len()).ok()? + exponent;
    let (whole, fraction) = if point <= 0 {
        let zeros = "0".repeat(usize::try_from(-point).ok()?);
        ("0".to_owned(), format!("{zeros}{digits}"))
    } else {
        let point = usize::try_from(point).ok()?;
        if point >= digits.len() {
            (
                format!("{digits}{}", "0".repeat(point - digits.len())),
                String::new(),
            )
        } else {
            (digits[..point].to_owned(), digits[point..].to_owned())
        }
    };
    let whole = whole.trim_start_matches('0');
    let whole = if whole.is_empty() { "0" } else { whole };
    let fraction = fraction.trim_end_matches('0');
    Some(if fraction.is_empty() {
        format!("{sign}{whole}")
    } else {
        format!("{sign}{whole}.{fraction}")
    })
}

/// Double and Single as JSON numbers: v4 sends numbers, SAP Gateway v2 strings such as
/// `"1.5E+01"`. `NaN` and infinities (strings in both dialects) have no JSON number.
fn float(ty: EdmType, value: &Value) -> Result<Number, WireError> {
    const FORM: &str = "a finite number";
    match value {
        Value::Number(number) => Ok(number.clone()),
        Value::String(text) => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .ok_or_else(|| invalid(ty, value, FORM)),
        _ => Err(invalid(ty, value, FORM)),
    }
}

/// `YYYY-MM-DD`: v4 as sent; v2 from `/Date(ms)/` (an Edm.DateTime with
/// `sap:display-format="Date"`, midnight UTC) or from an ISO date-time's date part.
fn date(dialect: Dialect, ty: EdmType, value: &Value) -> Result<String, WireError> {
    const FORM: &str = "a date YYYY-MM-DD";
    const FORM_V2: &str = "a date YYYY-MM-DD, a date-time or /Date(ms)/";
    let form = match dialect {
        Dialect::V2 => FORM_V2,
        Dialect::V4 => FORM,
    };
    let text = string_of(ty, value, form)?;
    if let Some(date) = Date::parse(text) {
        return Ok(date.to_string());
    }
    if dialect == Dialect::V4 {
        return Err(invalid(ty, value, form));
    }
    let date = match JsonDate::parse(text) {
        // The wall-clock date: the offset only says where the wall clock was (see
        // `Timestamp::from_epoch_millis`), a date has none.
        Some(json_date) => json_date.wall_date(),
        None => Timestamp::parse(text).map(|stamp| stamp.date()),
    };
    date.map(|date| date.to_string())
        .ok_or_else(|| invalid(ty, value, form))
}

/// A v2 `/Date(ms[±offset])/` value as UTC with `Z`: `None` when the text is not in that form
/// (or the dialect is v4), `Some(None)` when it is but leaves years 0000-9999.
fn v2_json_date(dialect: Dialect, text: &str) -> Option<Option<String>> {
    if dialect != Dialect::V2 {
        return None;
    }
    let json_date = JsonDate::parse(text)?;
    Some(json_date.to_utc().map(|utc| utc.to_string()))
}

/// v2 Edm.DateTime as `YYYY-MM-DDThh:mm:ss[.fff]Z`, from `/Date(ms)/`, `/Date(ms+0060)/` or an
/// ISO date-time (without offset taken as UTC, SAP Gateway's convention for Edm.DateTime).
fn date_time(dialect: Dialect, ty: EdmType, value: &Value) -> Result<String, WireError> {
    const FORM: &str = "/Date(ms)/ or an ISO 8601 date-time";
    let text = string_of(ty, value, FORM)?;
    if let Some(utc) = v2_json_date(dialect, text) {
        return utc.ok_or_else(|| invalid(ty, value, FORM));
    }
    let stamp = Timestamp::parse(text).ok_or_else(|| invalid(ty, value, FORM))?;
    stamp
        .to_utc()
        .map(|utc| utc.to_string())
        .ok_or_else(|| invalid(ty, value, FORM))
}

/// Edm.DateTimeOffset: an ISO value passes through as sent (a zero offset written `Z`); v2
/// `/Date(ms+0060)/` becomes UTC with `Z`.
fn date_time_offset(dialect: Dialect, ty: EdmType, value: &Value) -> Result<String, WireError> {
    const FORM: &str = "an ISO 8601 date-time with offset, or /Date(ms+offset)/ in v2";
    let text = string_of(ty, value, FORM)?;
    if let Some(utc) = v2_json_date(dialect, text) {
        return utc.ok_or_else(|| invalid(ty, value, FORM));
    }
    let stamp = Timestamp::parse(text).ok_or_else(|| invalid(ty, value, FORM))?;
    Ok(match stamp.offset_minutes() {
        // No offset at all: some v2 servers omit it for UTC.
        None => format!("{text}Z"),
        Some(0) if !text.ends_with('Z') => format!("{}Z", &text[..text.len() - "+00:00".len()]),
        Some(_) => text.to_owned(),
    })
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(_) => "a boolean".to_owned(),
        Value::Number(number) => format!("the number {}", shown(&number.to_string())),
        Value::String(text) => format!("the string `{}`", shown(text)),
        Value::Array(items) => format!("an array of {} items", items.len()),
        Value::Object(object) if object.is_empty() => "an empty object".to_owned(),
        Value::Object(object) => {
            let keys: Vec<String> = object
                .keys()
                .take(5)
                .map(|key| format!("`{}`", shown(key)))
                .collect();
            let more = if object.len() > 5 { ", ..." } else { "" };
            format!("an object with keys {}{more}", keys.join(", "))
        }
    }
}

fn shape(expected: &str, found: &Value) -> WireError {
    WireError::Shape {
        expected: expected.to_owned(),
        found: describe(found),
    }
}

fn invalid(ty: EdmType, value: &Value, expected: &'static str) -> WireError {
    let text = match value {
        Value::String(text) => shown(text),
        other => shown(&other.to_string()),
    };
    WireError::Value {
        ty: ty.name(),
        value: text,
        expected,
    }
}

/// At most [`SHOWN_CHARS`] characters of `value`, an ellipsis marking a cut.
fn shown(value: &str) -> String {
    match value.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Dialect::{V2, V4};
    use EdmType as T;
    use serde_json::json;

    /// `input` and `expected` are JSON text; `Err(fragment)` is part of the error message.
    fn check(dialect: Dialect, ty: EdmType, input: &str, expected: Result<&str, &str>) {
        let value: Value = serde_json::from_str(input).expect("test input is JSON");
        let actual = normalize(dialect, ty, &value);
        match (&actual, expected) {
            (Ok(normalized), Ok(want)) => {
                let want: Value = serde_json::from_str(want).expect("expected value is JSON");
                assert_eq!(normalized, &want, "{dialect:?} {ty:?} {input}");
            }
            (Err(error), Err(fragment)) => {
                let message = error.to_string();
                assert!(
                    message.contains(fragment),
                    "{dialect:?} {ty:?} {input}: `{message}` lacks `{fragment}`"
                );
            }
            _ => panic!("{dialect:?} {ty:?} {input}: got {actual:?}, want {expected:?}"),
        }
    }

    #[rustfmt::skip]
    const CASES: &[(Dialect, EdmType, &str, Result<&str, &str>)] = &[
        // Strings and booleans as they are.
        (V2, T::String, r#""Müller""#, Ok(r#""Müller""#)),
        (V4, T::String, r#""""#, Ok(r#""""#)),
        (V4, T::String, "12", Err("invalid Edm.String value `12` from the backend: expected a JSON string")),
        (V2, T::Boolean, "true", Ok("true")),
        (V4, T::Boolean, r#""X""#, Err("invalid Edm.Boolean value `X`")),
        (V4, T::Boolean, "null", Ok("null")),
        // Small integers as JSON numbers; strings of digits accepted.
        (V2, T::Byte, "255", Ok("255")),
        (V2, T::Byte, r#""7""#, Ok("7")),
        (V4, T::Byte, "256", Err("invalid Edm.Byte value `256`")),
        (V4, T::SByte, "-128", Ok("-128")),
        (V2, T::Int16, r#""-32768""#, Ok("-32768")),
        (V4, T::Int32, "2147483647", Ok("2147483647")),
        (V4, T::Int32, "2147483648", Err("within the type's range")),
        (V4, T::Int32, "1.5", Err("invalid Edm.Int32 value `1.5`")),
        // Int64 as a string of digits, exact beyond 2^53.
        (V2, T::Int64, r#""9223372036854775807""#, Ok(r#""9223372036854775807""#)),
        (V4, T::Int64, "9007199254740993", Ok(r#""9007199254740993""#)),
        (V4, T::Int64, "-42", Ok(r#""-42""#)),
        (V4, T::Int64, r#""+0042""#, Ok(r#""42""#)),
        (V4, T::Int64, "9223372036854775808", Err("invalid Edm.Int64")),
        (V4, T::Int64, "1.0", Err("a 64-bit integer")),
        (V2, T::Int64, r#""12a""#, Err("invalid Edm.Int64 value `12a`")),
        // Decimal as a string with the backend's digits.
        (V2, T::Decimal, r#""12.50""#, Ok(r#""12.50""#)),
        (V2, T::Decimal, r#""-0.001""#, Ok(r#""-0.001""#)),
        (V4, T::Decimal, r#""12345678901234567890.123456789""#, Ok(r#""12345678901234567890.123456789""#)),
        (V4, T::Decimal, "12345678901.99", Ok(r#""12345678901.99""#)),
        (V4, T::Decimal, "12", Ok(r#""12""#)),
        (V4, T::Decimal, "0.0000001", Ok(r#""0.0000001""#)),
        (V4, T::Decimal, "1e21", Ok(r#""1000000000000000000000""#)),
        (V4, T::Decimal, r#""1.25E-3""#, Ok(r#""0.00125""#)),
        (V4, T::Decimal, r#""-125e2""#, Ok(r#""-12500""#)),
        (V4, T::Decimal, r#""abc""#, Err("invalid Edm.Decimal value `abc`")),
        (V4, T::Decimal, r#""1e99999""#, Err("invalid Edm.Decimal")),
        (V4, T::Decimal, "true", Err("invalid Edm.Decimal")),
        // Double and Single as JSON numbers.
        (V4, T::Double, "1.5", Ok("1.5")),
        (V2, T::Double, r#""1.5E+01""#, Ok("15.0")),
        (V2, T::Single, r#""2.5""#, Ok("2.5")),
        (V4, T::Double, "3", Ok("3")),
        (V4, T::Double, r#""NaN""#, Err("invalid Edm.Double value `NaN` from the backend: expected a finite number")),
        (V4, T::Single, r#""INF""#, Err("invalid Edm.Single")),
        // Date.
        (V4, T::Date, r#""2024-01-31""#, Ok(r#""2024-01-31""#)),
        (V4, T::Date, r#""2024-02-30""#, Err("invalid Edm.Date value `2024-02-30`")),
        (V4, T::Date, r#""/Date(1706659200000)/""#, Err("invalid Edm.Date")),
        (V2, T::Date, r#""/Date(1706659200000)/""#, Ok(r#""2024-01-31""#)),
        (V2, T::Date, r#""/Date(-86400000)/""#, Ok(r#""1969-12-31""#)),
        (V2, T::Date, r#""/Date(951782400000)/""#, Ok(r#""2000-02-29""#)),
        (V2, T::Date, r#""2024-01-31T00:00:00""#, Ok(r#""2024-01-31""#)),
        // DateTime (v2) from /Date(ms)/, to UTC.
        (V2, T::DateTime, r#""/Date(1706695200000)/""#, Ok(r#""2024-01-31T10:00:00Z""#)),
        (V2, T::DateTime, r#""/Date(1706695200123)/""#, Ok(r#""2024-01-31T10:00:00.123Z""#)),
        (V2, T::DateTime, r#""/Date(1706695200000+0060)/""#, Ok(r#""2024-01-31T09:00:00Z""#)),
        (V2, T::DateTime, r#""/Date(1706695200000-0090)/""#, Ok(r#""2024-01-31T11:30:00Z""#)),
        (V2, T::DateTime, r#""/Date(-1)/""#, Ok(r#""1969-12-31T23:59:59.999Z""#)),
        (V2, T::DateTime, r#""/Date(-2208988800000)/""#, Ok(r#""1900-01-01T00:00:00Z""#)),
        (V2, T::DateTime, r#""/Date(253402300799000)/""#, Ok(r#""9999-12-31T23:59:59Z""#)),
        (V2, T::DateTime, r#""/Date(1709164800000)/""#, Ok(r#""2024-02-29T00:00:00Z""#)),
        (V2, T::DateTime, r#""2024-01-31T10:00:00.1234567""#, Ok(r#""2024-01-31T10:00:00.1234567Z""#)),
        (V2, T::DateTime, r#""2024-01-01T00:30:00+01:00""#, Ok(r#""2023-12-31T23:30:00Z""#)),
        (V2, T::DateTime, r#""/Date(abc)/""#, Err("invalid Edm.DateTime value `/Date(abc)/`")),
        (V2, T::DateTime, r#""/Date(253402300800000)/""#, Err("invalid Edm.DateTime")),
        (V2, T::DateTime, "1706695200000", Err("invalid Edm.DateTime value `1706695200000`")),
        // DateTimeOffset.
        (V4, T::DateTimeOffset, r#""2024-01-31T10:00:00+01:00""#, Ok(r#""2024-01-31T10:00:00+01:00""#)),
        (V4, T::DateTimeOffset, r#""2024-01-31T10:00:00.5Z""#, Ok(r#""2024-01-31T10:00:00.5Z""#)),
        (V4, T::DateTimeOffset, r#""2024-01-31T10:00:00+00:00""#, Ok(r#""2024-01-31T10:00:00Z""#)),
        (V2, T::DateTimeOffset, r#""/Date(1706695200000+0000)/""#, Ok(r#""2024-01-31T10:00:00Z""#)),
        (V2, T::DateTimeOffset, r#""/Date(1706695200000+0120)/""#, Ok(r#""2024-01-31T08:00:00Z""#)),
        (V2, T::DateTimeOffset, r#""2024-01-31T10:00:00""#, Ok(r#""2024-01-31T10:00:00Z""#)),
        (V4, T::DateTimeOffset, r#""/Date(1706695200000+0000)/""#, Err("invalid Edm.DateTimeOffset")),
        (V4, T::DateTimeOffset, r#""yesterday""#, Err("invalid Edm.DateTimeOffset value `yesterday`")),
        // TimeOfDay (v4) and Time (v2).
        (V4, T::TimeOfDay, r#""10:30:00""#, Ok(r#""10:30:00""#)),
        (V4, T::TimeOfDay, r#""10:30:00.123""#, Ok(r#""10:30:00.123""#)),
        (V4, T::TimeOfDay, r#""24:00:00""#, Err("invalid Edm.TimeOfDay")),
        (V2, T::Time, r#""PT10H30M00S""#, Ok(r#""10:30:00""#)),
        (V2, T::Time, r#""PT0H0M5.25S""#, Ok(r#""00:00:05.25""#)),
        (V2, T::Time, r#""PT23H59M59S""#, Ok(r#""23:59:59""#)),
        (V2, T::Time, r#""PT90M""#, Ok(r#""01:30:00""#)),
        (V2, T::Time, r#""PT24H""#, Err("invalid Edm.Time value `PT24H`")),
        (V2, T::Time, r#""P1DT1H""#, Err("invalid Edm.Time")),
        // Duration passes through.
        (V4, T::Duration, r#""P1DT2H""#, Ok(r#""P1DT2H""#)),
        (V4, T::Duration, "5", Err("invalid Edm.Duration")),
        // Guid lower-case.
        (V2, T::Guid, r#""0050568D-393C-1EE4-9D8A-6A1A5D2F4E1B""#, Ok(r#""0050568d-393c-1ee4-9d8a-6a1a5d2f4e1b""#)),
        (V4, T::Guid, r#""0050568d-393c-1ee4-9d8a""#, Err("invalid Edm.Guid")),
        // Binary to standard base64.
        (V4, T::Binary, r#""-_8""#, Ok(r#""+/8=""#)),
        (V2, T::Binary, r#""+/8=""#, Ok(r#""+/8=""#)),
        (V4, T::Binary, r#""AQID""#, Ok(r#""AQID""#)),
        (V4, T::Binary, r#""***""#, Err("invalid Edm.Binary")),
        // Pass-through types.
        (V4, T::Geo, r#"{"type":"Point","coordinates":[8.6,49.3]}"#, Ok(r#"{"type":"Point","coordinates":[8.6,49.3]}"#)),
        (V4, T::Untyped, "[1,\"a\"]", Ok("[1,\"a\"]")),
        (V4, T::Stream, r#""x""#, Ok(r#""x""#)),
        (V2, T::Guid, "null", Ok("null")),
    ];

    #[test]
    fn normalizes_values_per_type_and_dialect() {
        assert!(CASES.len() >= 40);
        for (dialect, ty, input, expected) in CASES {
            check(*dialect, *ty, input, *expected);
        }
    }

    #[test]
    fn error_values_are_cut_to_forty_characters() {
        let long = "x".repeat(100);
        let error = normalize(V4, T::Guid, &Value::String(long)).expect_err("not a guid");
        assert!(
            error
                .to_string()
                .contains(&format!("`{}…`", "x".repeat(40)))
        );
    }

    fn page(dialect: Dialect, body: &str) -> Result<Page, WireError> {
        parse_collection(dialect, body.as_bytes())
    }

    #[test]
    fn reads_v2_collections_with_and_without_count_and_next() {
        let full = page(
            V2,
            r#"{"d":{"results":[{"__metadata":{"uri":"u","etag":"W/\"1\""},"Id":"1"},{"Id":"2"}],
                "__count":"12","__next":"https://h/S/Items?$skiptoken=2"}}"#,
        )
        .expect("a v2 collection");
        assert_eq!(full.rows.len(), 2);
        assert_eq!(full.rows[1].get("Id"), Some(&json!("2")));
        assert!(full.rows[0].contains_key("__metadata"), "rows stay raw");
        assert_eq!(full.count, Some(12));
        assert_eq!(
            full.next_link.as_deref(),
            Some("https://h/S/Items?$skiptoken=2")
        );

        let plain = page(V2, r#"{"d":{"results":[]}}"#).expect("an empty collection");
        assert_eq!(plain, Page::default());

        let version_one = page(V2, r#"{"d":[{"Id":1}]}"#).expect("the OData 1.0 form");
        assert_eq!(version_one.rows.len(), 1);
        assert_eq!(version_one.count, None);

        let bom = page(V2, "\u{feff}{\"d\":[]}").expect("a byte order mark is skipped");
        assert!(bom.rows.is_empty());
    }

    #[test]
    fn reads_v4_collections_with_and_without_count_and_next() {
        let full = page(
            V4,
            r#"{"@odata.context":"$metadata#Books","@odata.count":12,"value":[{"ID":1,"@odata.etag":"W/\"x\""}],
                "@odata.nextLink":"Books?$skiptoken=1"}"#,
        )
        .expect("a v4 collection");
        assert_eq!(full.rows.len(), 1);
        assert_eq!(full.count, Some(12));
        assert_eq!(full.next_link.as_deref(), Some("Books?$skiptoken=1"));

        let short = page(V4, r#"{"@count":"3","@nextLink":"n","value":[]}"#).expect("4.01 names");
        assert_eq!(short.count, Some(3));
        assert_eq!(short.next_link.as_deref(), Some("n"));

        let plain = page(V4, r#"{"value":[]}"#).expect("no count, no next");
        assert_eq!(plain, Page::default());
    }

    #[test]
    fn rejects_wrong_collection_shapes_naming_what_was_expected() {
        for (dialect, body, fragment) in [
            (
                V2,
                "<html><body>502 Bad Gateway</body></html>",
                "but the body is not JSON",
            ),
            (V2, "", "expected an OData v2 collection"),
            (V4, "{\"value\":[1", "it starts with `{\"value\":[1`"),
            (V2, r#"{"value":[]}"#, "found an object with keys `value`"),
            (
                V4,
                r#"{"d":{"results":[]}}"#,
                "expected an OData v4 collection {\"value\":[...]}, found an object with keys `d`",
            ),
            (V4, r#"[1,2]"#, "found an array of 2 items"),
            (V4, r#"{"value":{"a":1}}"#, "expected an array at value"),
            (
                V2,
                r#"{"d":{"results":[{"a":1},"x"]}}"#,
                "expected an entity object at d.results[1], found the string `x`",
            ),
            (V2, r#"{"d":"x"}"#, "expected an object or an array at d"),
            (
                V2,
                r#"{"d":{"__count":"1"}}"#,
                "found an object with keys `__count`",
            ),
            (
                V2,
                r#"{"d":{"results":[],"__count":"many"}}"#,
                "a non-negative count at __count",
            ),
            (
                V4,
                r#"{"value":[],"@odata.count":-1}"#,
                "a non-negative count at @odata.count",
            ),
            (
                V4,
                r#"{"value":[],"@odata.nextLink":5}"#,
                "a URL string at @odata.nextLink",
            ),
            (
                V4,
                r#"{"error":{"code":"400","message":"bad"}}"#,
                "found an object with keys `error`",
            ),
        ] {
            let error = page(dialect, body).expect_err(body);
            let message = error.to_string();
            assert!(
                message.contains(fragment),
                "{body}: `{message}` lacks `{fragment}`"
            );
        }
    }

    #[test]
    fn reads_entities_in_both_dialects() {
        let v2 = parse_entity(V2, br#"{"d":{"__metadata":{"etag":"W/\"7\""},"Id":"1"}}"#)
            .expect("a v2 entity");
        assert_eq!(v2.get("Id"), Some(&json!("1")));
        assert_eq!(etag(V2, &v2).as_deref(), Some("W/\"7\""));

        let wrapped =
            parse_entity(V2, br#"{"d":{"results":{"Id":"2"}}}"#).expect("a wrapped v2 entity");
        assert_eq!(wrapped.get("Id"), Some(&json!("2")));

        let v4 = parse_entity(V4, br#"{"@odata.etag":"W/\"a\"","ID":1}"#).expect("a v4 entity");
        assert_eq!(v4.get("ID"), Some(&json!(1)));
        assert_eq!(etag(V4, &v4).as_deref(), Some("W/\"a\""));
        assert_eq!(etag(V2, &v4), None);

        let short = parse_entity(V4, br#"{"@etag":"e","ID":1}"#).expect("a 4.01 entity");
        assert_eq!(etag(V4, &short).as_deref(), Some("e"));

        for (dialect, body, fragment) in [
            (
                V2,
                &br#"{"d":[1]}"#[..],
                "expected an entity object at d, found an array of 1 items",
            ),
            (V2, br#"{"Id":"1"}"#, "expected an OData v2 entity"),
            (
                V4,
                br#"[]"#,
                "expected an OData v4 entity object, found an array",
            ),
            (
                V4,
                br#"{"error":{"code":"x"}}"#,
                "found an object with keys `error`",
            ),
            (V4, b"\xff\xfe", "but the body is not JSON"),
        ] {
            let message = parse_entity(dialect, body)
                .expect_err("a wrong shape")
                .to_string();
            assert!(message.contains(fragment), "`{message}` lacks `{fragment}`");
        }
    }

    fn error_of(body: &str) -> Option<BackendError> {
        parse_error(body.as_bytes())
    }

    fn backend(code: Option<&str>, message: &str) -> Option<BackendError> {
        Some(BackendError {
            code: code.map(str::to_owned),
            message: message.to_owned(),
        })
    }

    #[test]
    fn reads_sap_gateway_v2_json_errors() {
        let body = r#"{"error":{"code":"SY/530","message":{"lang":"en","value":"Resource not found for segment 'Products'"},
            "innererror":{"application":{"component_id":"","service_namespace":"/SAP/"},"transactionid":"F1",
            "errordetails":[{"code":"/IWBEP/CM_MGW_RT/020","message":"Other message","severity":"error"}]}}}"#;
        assert_eq!(
            error_of(body),
            backend(Some("SY/530"), "Resource not found for segment 'Products'")
        );
    }

    #[test]
    fn reads_cap_v4_json_errors() {
        let body = r#"{"error":{"code":"400","message":"Value is required","target":"title","details":[{"code":"x","message":"y"}]}}"#;
        assert_eq!(error_of(body), backend(Some("400"), "Value is required"));
        assert_eq!(
            error_of(r#"{"error":{"code":404,"message":"Not Found"}}"#),
            backend(Some("404"), "Not Found")
        );
        assert_eq!(
            error_of(r#"{"error":{"message":"  only a message  "}}"#),
            backend(None, "only a message")
        );
        assert_eq!(
            error_of(r#"{"error":{"code":"X"}}"#),
            backend(Some("X"), "")
        );
    }

    #[test]
    fn reads_xml_errors_in_both_namespaces() {
        let v2 = r#"<?xml version="1.0" encoding="utf-8"?>
            <error xmlns="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata">
              <code>SY/530</code>
              <message xml:lang="en">Property &apos;Name&apos; &lt;invalid&gt; &#x263A;</message>
              <innererror><errordetails><errordetail><code>inner</code><message>inner message</message>
              </errordetail></errordetails></innererror>
            </error>"#;
        assert_eq!(
            error_of(v2),
            backend(Some("SY/530"), "Property 'Name' <invalid> ☺")
        );

        let prefixed = r#"<m:error xmlns:m="http://schemas.microsoft.com/ado/2007/08/dataservices/metadata"><m:code>005056A5</m:code><m:message xml:lang="de">Fehler &amp; Abbruch</m:message></m:error>"#;
        assert_eq!(
            error_of(prefixed),
            backend(Some("005056A5"), "Fehler & Abbruch")
        );

        let v4 = r#"<error xmlns="http://docs.oasis-open.org/odata/ns/metadata"><!-- c --><code>501</code><message><![CDATA[Not <implemented>]]></message></error>"#;
        assert_eq!(error_of(v4), backend(Some("501"), "Not <implemented>"));

        let inner_first = r#"<error><innererror><message>inner</message></innererror><message>outer</message></error>"#;
        assert_eq!(error_of(inner_first), backend(None, "outer"));
    }

    #[test]
    fn ignores_bodies_that_are_no_error() {
        for body in [
            "",
            "   ",
            "Service Unavailable",
            "<!DOCTYPE html><html><head><title>502 Bad Gateway</title></head></html>",
            "<error>",
            "<error><code>unterminated",
            r#"{"d":{"results":[]}}"#,
            r#"{"error":"just a string"}"#,
            r#"{"error":{}}"#,
            "{not json",
            "\u{0}\u{1}",
        ] {
            assert_eq!(error_of(body), None, "{body:?}");
        }
    }

    #[test]
    fn error_messages_are_cut_to_500_characters() {
        let long = "é".repeat(600);
        let body = json!({"error": {"code": "C", "message": long}}).to_string();
        let error = error_of(&body).expect("an error");
        assert_eq!(error.message.chars().count(), 500);
        assert!(error.message.ends_with('…'));
        let exact = "a".repeat(500);
        let body = json!({"error": {"message": exact}}).to_string();
        assert_eq!(error_of(&body).expect("an error").message, exact);
    }

    #[test]
    fn control_keys_are_metadata_and_annotations() {
        for (dialect, key, control) in [
            (V2, "__metadata", true),
            (V2, "__deferred", true),
            (V2, "Name", false),
            (V2, "_Name", false),
            (V4, "@odata.etag", true),
            (V4, "@odata.context", true),
            (V4, "Name@odata.type", true),
            (V4, "@com.sap.vocabularies.Common.v1.Messages", true),
            (V4, "Name", false),
            (V4, "__metadata", false),
        ] {
            assert_eq!(is_control_key(dialect, key), control, "{dialect:?} {key}");
        }
    }
}
