//! OData URL literals for client-supplied values, in the v2 and v4 dialects.
//!
//! GraphQL arguments and variables arrive as [`serde_json::Value`]s; [`format_literal`] turns one
//! into the literal a backend expects in `$filter`, in a key predicate ([`format_key`]) or in a
//! function parameter. Literals are returned unencoded; [`encode_component`] percent-encodes the
//! finished text for the URL. [`escape_search`] builds `$search` (v4) and `search` (SAP v2) values.
//!
//! References: v4 rules come from the OData ABNF Construction Rules 4.01 (section 7, "Literal Data
//! Values", cited as "ABNF 7"); v2 rules from [MS-ODATA] section 2.2.2, "Abstract Type System"
//! (cited as "MS-ODATA 2.2.2").
//!
//! Invariant: a value never leaves its literal. Every client string ends up inside one quoted
//! literal with quotes doubled, or is validated against a grammar that admits no quote at all, so
//! `x' or 1 eq 1` can never become an expression. Decimal and Int64 strings are never routed
//! through `f64`, so no digit is lost.

use base64::Engine as _;
use base64::engine::general_purpose::{
    STANDARD_PAD_INDIFFERENT, URL_SAFE_NO_PAD, URL_SAFE_PAD_INDIFFERENT,
};
use serde_json::{Number, Value};

use crate::edm::{Dialect, EdmType};
use crate::temporal::{Clock, Date, Duration, Timestamp, is_guid};

/// At most this many characters of an offending value are shown in an error message.
const SHOWN_CHARS: usize = 40;

/// Why a value cannot be written as a literal of its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LiteralError {
    /// The JSON value has the wrong JSON type (a number for a string property, and so on).
    #[error("expected {expected} for {ty}, found {found}")]
    WrongJsonType {
        /// The qualified type name, `Edm.Int32`.
        ty: &'static str,
        /// The JSON shape the type takes, `a JSON number`.
        expected: &'static str,
        /// The JSON shape that arrived, `a string`.
        found: &'static str,
    },
    /// The JSON type fits, but the text does not follow the type's grammar.
    #[error("invalid {ty} value `{value}`: expected {expected}")]
    Invalid {
        /// The qualified type name.
        ty: &'static str,
        /// The offending value, cut to 40 characters.
        value: String,
        /// What a valid value looks like.
        expected: &'static str,
    },
    /// The value is well-formed but outside the type's range.
    #[error("value `{value}` is out of range for {ty}")]
    OutOfRange {
        /// The qualified type name.
        ty: &'static str,
        /// The offending value, cut to 40 characters.
        value: String,
    },
    /// Streams, geo values and untyped values have no comparable URL literal here.
    #[error("values of {ty} are not usable in a filter or key")]
    NotFilterable {
        /// The qualified type name.
        ty: &'static str,
    },
    /// [`format_key`] was given no key property.
    #[error("a key predicate needs at least one key property")]
    EmptyKey,
    /// A key property was given JSON null; keys are never null.
    #[error("key property `{name}` cannot be null")]
    NullKey {
        /// The key property.
        name: String,
    },
}

/// The URL literal of `value` as a `ty` in `dialect`, unencoded (see [`encode_component`]).
///
/// JSON null is `null` for every type. Strings are quoted with `'` doubled; numbers are checked
/// against the type's range; dates, times, GUIDs and binaries are validated and written in the
/// dialect's form (`2024-01-31` in v4, `datetime'2024-01-31T00:00:00'` in v2). A type that only
/// exists in the other dialect is written as its nearest counterpart (v2 `Edm.Date` as
/// `datetime'...'`, v4 `Edm.DateTime` as a UTC `Edm.DateTimeOffset`, v4 `Edm.Time` as a time of day).
pub fn format_literal(
    dialect: Dialect,
    ty: EdmType,
    value: &Value,
) -> Result<String, LiteralError> {
    // ABNF 7 `null = "null"`; MS-ODATA 2.2.2 `nullLiteral = "null"`.
    if value.is_null() {
        return Ok("null".to_owned());
    }
    match ty {
        EdmType::String => string_literal(ty, value),
        EdmType::Boolean => match value {
            // ABNF 7 `boolean = "true" / "false"`; MS-ODATA 2.2.2 `booleanLiteral`.
            Value::Bool(flag) => Ok(flag.to_string()),
            other => Err(wrong_type(ty, "a JSON boolean", other)),
        },
        EdmType::Byte | EdmType::SByte | EdmType::Int16 | EdmType::Int32 => {
            // ABNF 7 `byte`, `sbyteLiteral`, `int16Literal`, `int32Literal`: bare digits with
            // the type's range; MS-ODATA 2.2.2 writes them the same way (`byteLiteral = 1*3DIGIT`).
            Ok(small_integer(ty, value)?.to_string())
        }
        EdmType::Int64 => {
            let number = int64(ty, value)?;
            Ok(match dialect {
                // ABNF 7 `int64Literal = [ SIGN ] 1*19DIGIT`.
                Dialect::V4 => number.to_string(),
                // MS-ODATA 2.2.2: Int64 literals carry an `L` suffix (`12L`).
                Dialect::V2 => format!("{number}L"),
            })
        }
        EdmType::Decimal => {
            let digits = decimal(ty, value)?;
            Ok(match dialect {
                // ABNF 7 `decimalLiteral`: bare; exponents are never produced here.
                Dialect::V4 => digits,
                // MS-ODATA 2.2.2: Decimal literals carry an `M` suffix (`12.50M`).
                Dialect::V2 => format!("{digits}M"),
            })
        }
        EdmType::Double | EdmType::Single => {
            let float = float(ty, value)?;
            Ok(match (dialect, float) {
                // ABNF 7 `doubleLiteral` / `singleLiteral` = `decimalLiteral`, incl. `nanInfinity`.
                (Dialect::V4, Float::Finite(text) | Float::Special(text)) => text,
                // MS-ODATA 2.2.2 `nanInfinity` carries no suffix in the implementations we know
                // (Olingo checks `NaN`, `INF`, `-INF` before looking for the suffix).
                (Dialect::V2, Float::Special(text)) => text,
                // MS-ODATA 2.2.2: Double literals end in `d` (`1.5d`), Single literals in `f` (`2.0f`).
                (Dialect::V2, Float::Finite(text)) if ty == EdmType::Double => format!("{text}d"),
                (Dialect::V2, Float::Finite(text)) => format!("{text}f"),
            })
        }
        EdmType::Date => match dialect {
            // ABNF 7 `date = year "-" month "-" day`, bare.
            Dialect::V4 => {
                let text = string_of(ty, value)?;
                let date = Date::parse(text).ok_or_else(|| invalid(ty, text, DATE_FORM))?;
                Ok(date.to_string())
            }
            // v2 has no Edm.Date; a date is an Edm.DateTime at midnight (sap:display-format="Date").
            Dialect::V2 => Ok(format!("datetime'{}'", date_time_utc(ty, value, false)?)),
        },
        EdmType::DateTime => {
            let text = date_time_utc(ty, value, false)?;
            Ok(match dialect {
                // MS-ODATA 2.2.2: `datetime'yyyy-mm-ddThh:mm[:ss[.fffffff]]'`,
                // without offset: Edm.DateTime is UTC by convention on SAP Gateway.
                Dialect::V2 => format!("datetime'{text}'"),
                // v4 has no Edm.DateTime; the nearest type is a DateTimeOffset in UTC.
                Dialect::V4 => format!("{text}Z"),
            })
        }
        EdmType::DateTimeOffset => {
            // The offset is required (ABNF 7 `dateTimeOffsetLiteral ... ( "Z" / SIGN hour COLON
            // minute )`). It is normalised to UTC `Z`, which is the same instant and keeps a `+`
            // (a space in query strings unless encoded, ABNF 9 `SIGN = "%2B" / "-"`) out of URLs.
            let text = date_time_utc(ty, value, true)?;
            Ok(match dialect {
                Dialect::V4 => format!("{text}Z"),
                // MS-ODATA 2.2.2: `datetimeoffset'2002-10-10T17:00:00Z'`.
                Dialect::V2 => format!("datetimeoffset'{text}Z'"),
            })
        }
        EdmType::TimeOfDay | EdmType::Time => {
            let text = string_of(ty, value)?;
            let clock = Clock::parse(text).ok_or_else(|| invalid(ty, text, CLOCK_FORM))?;
            Ok(match dialect {
                // ABNF 7 `timeOfDayLiteral = hour COLON minute [ COLON second [ "." fractionalSeconds ] ]`.
                Dialect::V4 => clock.to_string(),
                // MS-ODATA 2.2.2: `time'<timeLiteral>'`, where
                // timeLiteral is an xsd:duration (`time'PT13H20M'`).
                Dialect::V2 => format!("time'{}'", clock.as_v2_duration()),
            })
        }
        EdmType::Duration => {
            let text = string_of(ty, value)?;
            Duration::parse(text).ok_or_else(|| invalid(ty, text, DURATION_FORM))?;
            Ok(match dialect {
                // ABNF 7 `durationLiteral = [ "duration" ] SQUOTE durationValue SQUOTE`.
                Dialect::V4 => format!("duration'{text}'"),
                // v2 has no Edm.Duration; Edm.Time is its xsd:duration type (MS-ODATA 2.2.2).
                Dialect::V2 => format!("time'{text}'"),
            })
        }
        EdmType::Guid => {
            let text = string_of(ty, value)?;
            if !is_guid(text) {
                return Err(invalid(ty, text, GUID_FORM));
            }
            Ok(match dialect {
                // ABNF 7 `guid = 8HEXDIG "-" 4HEXDIG "-" 4HEXDIG "-" 4HEXDIG "-" 12HEXDIG`, bare.
                Dialect::V4 => text.to_owned(),
                // MS-ODATA 2.2.2: `guid'dddddddd-dddd-dddd-dddd-dddddddddddd'`.
                Dialect::V2 => format!("guid'{text}'"),
            })
        }
        EdmType::Binary => {
            let text = string_of(ty, value)?;
            let bytes = decode_base64(text).ok_or_else(|| invalid(ty, text, BINARY_FORM))?;
            Ok(match dialect {
                // ABNF 7 `binaryLiteral = "binary" SQUOTE binaryValue SQUOTE`, binaryValue being
                // base64url (RFC 4648 section 5) with optional padding; we leave padding out so no
                // `=` appears inside a query value.
                Dialect::V4 => format!("binary'{}'", URL_SAFE_NO_PAD.encode(bytes)),
                // MS-ODATA 2.2.2 `binaryUriLiteral = ("X" / "binary") SQUOTE hexDigPair SQUOTE`.
                Dialect::V2 => format!("binary'{}'", hex_upper(&bytes)),
            })
        }
        EdmType::Stream | EdmType::Geo | EdmType::Untyped => {
            Err(LiteralError::NotFilterable { ty: ty.name() })
        }
    }
}

/// The key predicate for `key`: `('a')` for a single key property (ABNF 1 `simpleKey`, the name
/// left out), `(K1='a',K2=1)` for a composite key (ABNF 1 `compoundKey`; v2 key
/// predicates, MS-ODATA 2.2.3, have the same two forms). Names come from `$metadata`, never from clients.
pub fn format_key(
    dialect: Dialect,
    key: &[(&str, EdmType, &Value)],
) -> Result<String, LiteralError> {
    let literal = |name: &str, ty: EdmType, value: &Value| {
        if value.is_null() {
            return Err(LiteralError::NullKey {
                name: name.to_owned(),
            });
        }
        format_literal(dialect, ty, value)
    };
    match key {
        [] => Err(LiteralError::EmptyKey),
        [(name, ty, value)] => Ok(format!("({})", literal(name, *ty, value)?)),
        properties => {
            let mut predicate = String::from("(");
            for (index, (name, ty, value)) in properties.iter().enumerate() {
                if index > 0 {
                    predicate.push(',');
                }
                predicate.push_str(name);
                predicate.push('=');
                predicate.push_str(&literal(name, *ty, value)?);
            }
            predicate.push(')');
            Ok(predicate)
        }
    }
}

/// The `$search` value for search terms that must all match, unencoded (see
/// [`encode_component`]).
///
/// v4: each term one search phrase, joined by `AND`, so words like `AND`/`NOT` and parentheses
/// inside a term stay text. ABNF 2
/// `searchPhrase = quotation-mark 1*( qchar-no-AMP-DQUOTE / SP ) quotation-mark` where
/// `qchar-no-AMP-DQUOTE` admits `escape ( escape / quotation-mark )`, so `\` and `"` are escaped
/// with a backslash. v2: SAP Gateway's `search` custom query option takes plain text: the terms
/// joined by spaces.
pub fn escape_search(dialect: Dialect, terms: &[String]) -> String {
    match dialect {
        Dialect::V4 => {
            let mut expression = String::new();
            for term in terms {
                if !expression.is_empty() {
                    expression.push_str(" AND ");
                }
                expression.push('"');
                for character in term.chars() {
                    if matches!(character, '"' | '\\') {
                        expression.push('\\');
                    }
                    expression.push(character);
                }
                expression.push('"');
            }
            expression
        }
        Dialect::V2 => terms.join(" "),
    }
}

/// Percent-encodes `text` for use as a query option value or as a path segment (RFC 3986
/// section 2.1, upper-case hex digits, UTF-8 bytes).
///
/// Kept as they are: the unreserved characters `A-Z a-z 0-9 - . _ ~` (RFC 3986 section 2.3) and
/// `! $ ' ( ) * , : = @`, which are legal both in a path segment (`pchar`) and in a query, and keep
/// literals and key predicates readable (`('a''b')`, `(K1=1,K2=2)`). `'` needs no encoding:
/// the ABNF treats `'` and `%27` alike, and quotes inside strings are already doubled.
/// Everything else is encoded, notably `&` `#` `+` `?` `%` and space (so a value can never end
/// its query option, start a new one or a fragment, or turn into a space), `/` (so a key cannot
/// add a path segment), `;` (servlet containers cut path segments at `;`), `"`, `\` and every
/// control and non-ASCII character.
pub fn encode_component(text: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut encoded = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        let keep = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b','
                    | b':'
                    | b'='
                    | b'@'
            );
        if keep {
            encoded.push(char::from(byte));
        } else {
            encoded.push('%');
            encoded.push(char::from(HEX[usize::from(byte >> 4)]));
            encoded.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
    encoded
}

const DATE_FORM: &str = "a calendar date YYYY-MM-DD";
const DATE_TIME_FORM: &str =
    "a date YYYY-MM-DD or a date-time YYYY-MM-DDThh:mm[:ss[.fff]] with optional Z or ±hh:mm";
const DATE_TIME_OFFSET_FORM: &str = "a date-time YYYY-MM-DDThh:mm[:ss[.fff]] ending in Z or ±hh:mm";
const CLOCK_FORM: &str = "a time of day hh:mm[:ss[.fff]] or PTnHnMnS below 24 hours";
const DURATION_FORM: &str = "an ISO 8601 day-time duration such as P1DT2H30M";
const GUID_FORM: &str = "a GUID xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
const BINARY_FORM: &str = "base64 or base64url";
const DECIMAL_FORM: &str = "digits with an optional fraction and no exponent, such as 12.50";
const INTEGER_FORM: &str = "an integer";

/// `'...'` with every `'` doubled: ABNF 7 `stringLiteral = SQUOTE *( SQUOTE-in-string /
/// pchar-no-SQUOTE ) SQUOTE`; MS-ODATA 2.2.2 string literals (same doubling). Nothing is
/// rejected; control characters are percent-encoded later by [`encode_component`].
fn string_literal(ty: EdmType, value: &Value) -> Result<String, LiteralError> {
    let text = string_of(ty, value)?;
    let mut literal = String::with_capacity(text.len() + 2);
    literal.push('\'');
    for character in text.chars() {
        if character == '\'' {
            literal.push('\'');
        }
        literal.push(character);
    }
    literal.push('\'');
    Ok(literal)
}

fn string_of(ty: EdmType, value: &Value) -> Result<&str, LiteralError> {
    value
        .as_str()
        .ok_or_else(|| wrong_type(ty, "a JSON string", value))
}

/// A Byte, SByte, Int16 or Int32 from a JSON integer, range-checked.
fn small_integer(ty: EdmType, value: &Value) -> Result<i64, LiteralError> {
    let Value::Number(number) = value else {
        return Err(wrong_type(ty, "a JSON number", value));
    };
    let (low, high) = match ty {
        EdmType::Byte => (0, i64::from(u8::MAX)),
        EdmType::SByte => (i64::from(i8::MIN), i64::from(i8::MAX)),
        EdmType::Int16 => (i64::from(i16::MIN), i64::from(i16::MAX)),
        _ => (i64::from(i32::MIN), i64::from(i32::MAX)),
    };
    match number.as_i64() {
        Some(integer) if (low..=high).contains(&integer) => Ok(integer),
        Some(_) => Err(out_of_range(ty, &number.to_string())),
        None if number.is_u64() => Err(out_of_range(ty, &number.to_string())),
        None => Err(invalid(ty, &number.to_string(), INTEGER_FORM)),
    }
}

/// An Int64 from a JSON integer or a string of digits, never through `f64`.
fn int64(ty: EdmType, value: &Value) -> Result<i64, LiteralError> {
    match value {
        Value::Number(number) => match number.as_i64() {
            Some(integer) => Ok(integer),
            None if number.is_u64() => Err(out_of_range(ty, &number.to_string())),
            None => Err(invalid(ty, &number.to_string(), INTEGER_FORM)),
        },
        Value::String(text) => {
            let digits = text.strip_prefix('-').unwrap_or(text);
            if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(invalid(ty, text, INTEGER_FORM));
            }
            text.parse::<i64>().map_err(|_| out_of_range(ty, text))
        }
        other => Err(wrong_type(ty, "a JSON number or a string of digits", other)),
    }
}

/// A Decimal's digits: a string `-?\d+(\.\d+)?` as given (trailing zeros kept), or a JSON number
/// whose shortest representation has no exponent.
fn decimal(ty: EdmType, value: &Value) -> Result<String, LiteralError> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        other => return Err(wrong_type(ty, "a JSON string or number", other)),
    };
    if is_plain_decimal(&text) {
        Ok(text)
    } else {
        Err(invalid(ty, &text, DECIMAL_FORM))
    }
}

fn is_plain_decimal(text: &str) -> bool {
    let unsigned = text.strip_prefix('-').unwrap_or(text);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let all_digits =
        |part: &str| !part.is_empty() && part.bytes().all(|byte| byte.is_ascii_digit());
    all_digits(whole) && fraction.is_none_or(all_digits)
}

enum Float {
    /// A finite number, with `.0` added to an exponent's mantissa (`1.0E-7`).
    Finite(String),
    /// `NaN`, `INF` or `-INF`.
    Special(String),
}

/// A Double or Single from a JSON number, or one of the strings `NaN`, `INF`, `-INF` (JSON has
/// no number for them).
fn float(ty: EdmType, value: &Value) -> Result<Float, LiteralError> {
    match value {
        Value::Number(number) => {
            if ty == EdmType::Single {
                let magnitude = number.as_f64().map(f64::abs).unwrap_or(f64::INFINITY);
                if magnitude > f64::from(f32::MAX) {
                    return Err(out_of_range(ty, &number.to_string()));
                }
            }
            Ok(Float::Finite(float_text(number)))
        }
        Value::String(text) if matches!(text.as_str(), "NaN" | "INF" | "-INF") => {
            Ok(Float::Special(text.clone()))
        }
        other => Err(wrong_type(
            ty,
            "a JSON number (or \"NaN\", \"INF\", \"-INF\")",
            other,
        )),
    }
}

/// serde_json's shortest round-trip text, with an exponent written `1.0E-7`: a mantissa with a
/// decimal point suits MS-ODATA 2.2.2's exponent form, and no `+` (a space in query strings) appears.
fn float_text(number: &Number) -> String {
    let text = number.to_string();
    match text.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => {
            let exponent = exponent.trim_start_matches('+');
            if mantissa.contains('.') {
                format!("{mantissa}E{exponent}")
            } else {
                format!("{mantissa}.0E{exponent}")
            }
        }
        None => text,
    }
}

/// A v2-style UTC date-time `YYYY-MM-DDThh:mm:ss[.fff]` (no zone designator) from a date or a
/// date-time. An offset is subtracted to reach UTC; `require_offset` rejects inputs without one.
fn date_time_utc(ty: EdmType, value: &Value, require_offset: bool) -> Result<String, LiteralError> {
    let text = string_of(ty, value)?;
    let form = if require_offset {
        DATE_TIME_OFFSET_FORM
    } else {
        DATE_TIME_FORM
    };
    let stamp = if require_offset {
        Timestamp::parse(text).filter(|stamp| stamp.offset_minutes().is_some())
    } else {
        Timestamp::parse_date_or_date_time(text)
    };
    let stamp = stamp.ok_or_else(|| invalid(ty, text, form))?;
    stamp
        .to_utc()
        .map(|utc| utc.without_offset().to_string())
        .ok_or_else(|| out_of_range(ty, text))
}

/// Standard or URL-safe base64, padded or not.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    STANDARD_PAD_INDIFFERENT
        .decode(text)
        .or_else(|_| URL_SAFE_PAD_INDIFFERENT.decode(text))
        .ok()
}

fn hex_upper(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(HEX[usize::from(byte >> 4)]));
        text.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    text
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn wrong_type(ty: EdmType, expected: &'static str, value: &Value) -> LiteralError {
    LiteralError::WrongJsonType {
        ty: ty.name(),
        expected,
        found: json_kind(value),
    }
}

fn invalid(ty: EdmType, value: &str, expected: &'static str) -> LiteralError {
    LiteralError::Invalid {
        ty: ty.name(),
        value: shown(value),
        expected,
    }
}

fn out_of_range(ty: EdmType, value: &str) -> LiteralError {
    LiteralError::OutOfRange {
        ty: ty.name(),
        value: shown(value),
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

    /// `input` is JSON text; `expected` is the literal, or `Err(fragment)` of the error message.
    fn check(dialect: Dialect, ty: EdmType, input: &str, expected: Result<&str, &str>) {
        let value: Value = serde_json::from_str(input).expect("test input is JSON");
        let actual = format_literal(dialect, ty, &value);
        match (&actual, expected) {
            (Ok(literal), Ok(want)) => {
                assert_eq!(literal, want, "{dialect:?} {ty:?} {input}");
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
        // Strings: one literal whatever the content.
        (V4, T::String, r#""abc""#, Ok("'abc'")),
        (V2, T::String, r#""abc""#, Ok("'abc'")),
        (V4, T::String, r#""x' or 1 eq 1""#, Ok("'x'' or 1 eq 1'")),
        (V2, T::String, r#""x' or 1 eq 1""#, Ok("'x'' or 1 eq 1'")),
        (V4, T::String, r#""')""#, Ok("''')'")),
        (V4, T::String, r#""'""#, Ok("''''")),
        (V4, T::String, r#""%27""#, Ok("'%27'")),
        (V4, T::String, r#""&$top=1""#, Ok("'&$top=1'")),
        (V4, T::String, r#""Müller 東京 🚀""#, Ok("'Müller 東京 🚀'")),
        (V4, T::String, r#""a\nb\u0000""#, Ok("'a\nb\u{0}'")),
        (V4, T::String, r#""""#, Ok("''")),
        (V4, T::String, "null", Ok("null")),
        (V4, T::String, "12", Err("expected a JSON string for Edm.String, found a number")),
        (V2, T::String, "true", Err("found a boolean")),
        // Booleans.
        (V4, T::Boolean, "true", Ok("true")),
        (V2, T::Boolean, "false", Ok("false")),
        (V4, T::Boolean, r#""true""#, Err("expected a JSON boolean for Edm.Boolean, found a string")),
        // Small integers, ranges per type.
        (V4, T::Byte, "0", Ok("0")),
        (V2, T::Byte, "255", Ok("255")),
        (V4, T::Byte, "256", Err("value `256` is out of range for Edm.Byte")),
        (V4, T::Byte, "-1", Err("out of range for Edm.Byte")),
        (V4, T::SByte, "-128", Ok("-128")),
        (V2, T::SByte, "128", Err("out of range for Edm.SByte")),
        (V4, T::Int16, "-32768", Ok("-32768")),
        (V4, T::Int16, "32768", Err("out of range for Edm.Int16")),
        (V4, T::Int32, "2147483647", Ok("2147483647")),
        (V2, T::Int32, "-2147483648", Ok("-2147483648")),
        (V4, T::Int32, "2147483648", Err("out of range for Edm.Int32")),
        (V4, T::Int32, "18446744073709551615", Err("out of range for Edm.Int32")),
        (V4, T::Int32, "1.5", Err("invalid Edm.Int32 value `1.5`: expected an integer")),
        (V4, T::Int32, r#""12""#, Err("expected a JSON number for Edm.Int32, found a string")),
        (V2, T::Int16, "[1]", Err("found an array")),
        // Int64: v2 suffix L, strings never through f64.
        (V4, T::Int64, "12", Ok("12")),
        (V2, T::Int64, "12", Ok("12L")),
        (V4, T::Int64, r#""9223372036854775807""#, Ok("9223372036854775807")),
        (V2, T::Int64, r#""-9223372036854775808""#, Ok("-9223372036854775808L")),
        (V4, T::Int64, r#""9007199254740993""#, Ok("9007199254740993")),
        (V4, T::Int64, r#""9223372036854775808""#, Err("out of range for Edm.Int64")),
        (V4, T::Int64, "9223372036854775808", Err("out of range for Edm.Int64")),
        (V4, T::Int64, r#""12 or 1 eq 1""#, Err("invalid Edm.Int64 value `12 or 1 eq 1`")),
        (V2, T::Int64, r#""1e5""#, Err("expected an integer")),
        (V4, T::Int64, r#""""#, Err("expected an integer")),
        (V4, T::Int64, "true", Err("expected a JSON number or a string of digits")),
        // Decimal: digits kept exactly, v2 suffix M.
        (V4, T::Decimal, r#""12.50""#, Ok("12.50")),
        (V2, T::Decimal, r#""12.50""#, Ok("12.50M")),
        (V2, T::Decimal, r#""-0.001""#, Ok("-0.001M")),
        (V4, T::Decimal, r#""12345678901234567890.123456789012345""#, Ok("12345678901234567890.123456789012345")),
        (V4, T::Decimal, "12", Ok("12")),
        (V2, T::Decimal, "12.5", Ok("12.5M")),
        (V4, T::Decimal, r#""1e5""#, Err("invalid Edm.Decimal value `1e5`")),
        (V4, T::Decimal, "1e21", Err("invalid Edm.Decimal value `1e+21`")),
        (V4, T::Decimal, r#""12.""#, Err("expected digits with an optional fraction")),
        (V4, T::Decimal, r#""1 or 1 eq 1""#, Err("invalid Edm.Decimal")),
        (V4, T::Decimal, r#"".5""#, Err("invalid Edm.Decimal")),
        (V4, T::Decimal, "false", Err("expected a JSON string or number for Edm.Decimal")),
        // Double and Single.
        (V4, T::Double, "1.5", Ok("1.5")),
        (V2, T::Double, "1.5", Ok("1.5d")),
        (V2, T::Double, "3", Ok("3d")),
        (V4, T::Double, "1e-7", Ok("1.0E-7")),
        (V4, T::Double, "1e21", Ok("1.0E21")),
        (V4, T::Double, "-0.0", Ok("-0.0")),
        (V2, T::Double, "1.25e20", Ok("1.25E20d")),
        (V4, T::Double, r#""NaN""#, Ok("NaN")),
        (V4, T::Double, r#""-INF""#, Ok("-INF")),
        (V2, T::Double, r#""INF""#, Ok("INF")),
        (V4, T::Double, r#""1.5""#, Err("expected a JSON number (or \"NaN\", \"INF\", \"-INF\") for Edm.Double")),
        (V4, T::Single, "2.5", Ok("2.5")),
        (V2, T::Single, "2.5", Ok("2.5f")),
        (V4, T::Single, "1e39", Err("out of range for Edm.Single")),
        // Date: v4 bare, v2 datetime at midnight.
        (V4, T::Date, r#""2024-01-31""#, Ok("2024-01-31")),
        (V4, T::Date, r#""2024-02-29""#, Ok("2024-02-29")),
        (V2, T::Date, r#""2024-01-31""#, Ok("datetime'2024-01-31T00:00:00'")),
        (V4, T::Date, r#""2024-02-30""#, Err("invalid Edm.Date value `2024-02-30`: expected a calendar date")),
        (V4, T::Date, r#""2023-02-29""#, Err("invalid Edm.Date")),
        (V4, T::Date, r#""1900-02-29""#, Err("invalid Edm.Date")),
        (V4, T::Date, r#""2000-02-29""#, Ok("2000-02-29")),
        (V4, T::Date, r#""2024-13-01""#, Err("invalid Edm.Date")),
        (V4, T::Date, r#""2024-1-31""#, Err("invalid Edm.Date")),
        (V4, T::Date, r#""2024-01-31') or (1 eq 1""#, Err("invalid Edm.Date")),
        (V4, T::Date, r#""2024-01-3ü""#, Err("invalid Edm.Date")),
        (V4, T::Date, "20240131", Err("expected a JSON string for Edm.Date, found a number")),
        // DateTime (v2): a date or a date-time, converted to UTC.
        (V2, T::DateTime, r#""2024-01-31""#, Ok("datetime'2024-01-31T00:00:00'")),
        (V2, T::DateTime, r#""2024-01-31T10:30""#, Ok("datetime'2024-01-31T10:30:00'")),
        (V2, T::DateTime, r#""2024-01-31T10:30:15.250""#, Ok("datetime'2024-01-31T10:30:15.250'")),
        (V2, T::DateTime, r#""2024-01-31T10:00:00Z""#, Ok("datetime'2024-01-31T10:00:00'")),
        (V2, T::DateTime, r#""2024-01-31T10:00:00+00:00""#, Ok("datetime'2024-01-31T10:00:00'")),
        (V2, T::DateTime, r#""2024-01-31T01:00:00+02:00""#, Ok("datetime'2024-01-30T23:00:00'")),
        (V2, T::DateTime, r#""2024-02-28T23:30:00-01:00""#, Ok("datetime'2024-02-29T00:30:00'")),
        (V2, T::DateTime, r#""2023-12-31T23:00:00-01:30""#, Ok("datetime'2024-01-01T00:30:00'")),
        (V4, T::DateTime, r#""2024-01-31T10:00:00""#, Ok("2024-01-31T10:00:00Z")),
        (V2, T::DateTime, r#""2024-01-31T24:00:00""#, Err("invalid Edm.DateTime")),
        (V2, T::DateTime, r#""2024-01-31 10:00:00""#, Err("invalid Edm.DateTime")),
        (V2, T::DateTime, r#""0000-01-01T00:30:00+01:00""#, Err("out of range for Edm.DateTime")),
        // DateTimeOffset: offset required, normalised to Z.
        (V4, T::DateTimeOffset, r#""2024-01-31T10:00:00Z""#, Ok("2024-01-31T10:00:00Z")),
        (V4, T::DateTimeOffset, r#""2024-01-31T10:00:00.1234567+01:00""#, Ok("2024-01-31T09:00:00.1234567Z")),
        (V2, T::DateTimeOffset, r#""2024-01-31T10:00:00Z""#, Ok("datetimeoffset'2024-01-31T10:00:00Z'")),
        (V4, T::DateTimeOffset, r#""2024-01-31T10:00:00""#, Err("ending in Z or ±hh:mm")),
        (V4, T::DateTimeOffset, r#""2024-01-31""#, Err("invalid Edm.DateTimeOffset")),
        (V4, T::DateTimeOffset, r#""2024-01-31T10:00:00+1:00""#, Err("invalid Edm.DateTimeOffset")),
        // TimeOfDay (v4) and Time (v2).
        (V4, T::TimeOfDay, r#""10:30:00""#, Ok("10:30:00")),
        (V4, T::TimeOfDay, r#""23:59:59.999""#, Ok("23:59:59.999")),
        (V4, T::TimeOfDay, r#""10:30""#, Ok("10:30:00")),
        (V4, T::TimeOfDay, r#""25:00:00""#, Err("invalid Edm.TimeOfDay value `25:00:00`")),
        (V4, T::TimeOfDay, r#""10:60:00""#, Err("invalid Edm.TimeOfDay")),
        (V2, T::Time, r#""10:30:00""#, Ok("time'PT10H30M00S'")),
        (V2, T::Time, r#""PT10H30M""#, Ok("time'PT10H30M00S'")),
        (V2, T::Time, r#""PT1.5S""#, Ok("time'PT00H00M01.5S'")),
        (V2, T::Time, r#""PT24H""#, Err("below 24 hours")),
        (V2, T::Time, r#""PT10M30H""#, Err("invalid Edm.Time")),
        (V4, T::Time, r#""PT8H""#, Ok("08:00:00")),
        (V2, T::Time, r#""-PT1H""#, Err("invalid Edm.Time")),
        // Duration.
        (V4, T::Duration, r#""P1DT2H""#, Ok("duration'P1DT2H'")),
        (V4, T::Duration, r#""-PT0.5S""#, Ok("duration'-PT0.5S'")),
        (V4, T::Duration, r#""PT36H""#, Ok("duration'PT36H'")),
        (V2, T::Duration, r#""PT5M""#, Ok("time'PT5M'")),
        (V4, T::Duration, r#""P1Y""#, Err("invalid Edm.Duration value `P1Y`")),
        (V4, T::Duration, r#""P""#, Err("invalid Edm.Duration")),
        (V4, T::Duration, r#""P1DT""#, Err("invalid Edm.Duration")),
        (V4, T::Duration, r#""PT1.S""#, Err("invalid Edm.Duration")),
        (V4, T::Duration, r#""P1D' or 'a' eq 'a""#, Err("invalid Edm.Duration")),
        // Guid.
        (V4, T::Guid, r#""0050568D-393C-1EE4-9D8A-6A1A5D2F4E1B""#, Ok("0050568D-393C-1EE4-9D8A-6A1A5D2F4E1B")),
        (V2, T::Guid, r#""0050568d-393c-1ee4-9d8a-6a1a5d2f4e1b""#, Ok("guid'0050568d-393c-1ee4-9d8a-6a1a5d2f4e1b'")),
        (V4, T::Guid, r#""0050568d-393c-1ee4-9d8a-6a1a5d2f4e1""#, Err("expected a GUID")),
        (V4, T::Guid, r#""0050568d-393c-1ee4-9d8a-6a1a5d2f4e1bb""#, Err("invalid Edm.Guid")),
        (V4, T::Guid, r#""0050568d0393c-1ee4-9d8a-6a1a5d2f4e1b""#, Err("invalid Edm.Guid")),
        (V2, T::Guid, r#""g050568d-393c-1ee4-9d8a-6a1a5d2f4e1b""#, Err("invalid Edm.Guid")),
        // Binary: v4 base64url without padding, v2 hex.
        (V4, T::Binary, r#""+/8=""#, Ok("binary'-_8'")),
        (V4, T::Binary, r#""-_8""#, Ok("binary'-_8'")),
        (V2, T::Binary, r#""+/8=""#, Ok("binary'FBFF'")),
        (V2, T::Binary, r#""AQID""#, Ok("binary'010203'")),
        (V4, T::Binary, r#""""#, Ok("binary''")),
        (V4, T::Binary, r#""not base64!""#, Err("invalid Edm.Binary value `not base64!`: expected base64")),
        // Not filterable, null allowed everywhere.
        (V4, T::Stream, r#""x""#, Err("values of Edm.Stream are not usable in a filter or key")),
        (V2, T::Geo, r#"{"type":"Point","coordinates":[1,2]}"#, Err("values of Edm.Geography are not usable")),
        (V4, T::Untyped, "1", Err("values of Edm.Untyped are not usable")),
        (V4, T::Geo, "null", Ok("null")),
        (V2, T::Int32, "null", Ok("null")),
    ];

    #[test]
    fn formats_literals_per_type_and_dialect() {
        assert!(CASES.len() >= 60);
        for (dialect, ty, input, expected) in CASES {
            check(*dialect, *ty, input, *expected);
        }
    }

    #[test]
    fn error_messages_show_at_most_forty_characters() {
        let long = "9".repeat(100);
        let error = format_literal(V4, T::Int64, &Value::String(long)).expect_err("too long");
        let LiteralError::OutOfRange { value, .. } = &error else {
            panic!("unexpected {error:?}");
        };
        assert_eq!(
            value.chars().count(),
            41,
            "forty characters and an ellipsis"
        );
        assert!(value.ends_with('…'));
        let multibyte = "é".repeat(50);
        let error = format_literal(V4, T::Guid, &Value::String(multibyte)).expect_err("not a guid");
        assert!(
            error
                .to_string()
                .contains(&format!("`{}…`", "é".repeat(40)))
        );
    }

    #[test]
    fn single_key_has_no_name_and_composite_keys_do() {
        let text = Value::from("a'b");
        let number = Value::from(1);
        assert_eq!(
            format_key(V4, &[("Id", T::String, &text)]),
            Ok("('a''b')".to_owned())
        );
        assert_eq!(
            format_key(V2, &[("K1", T::String, &text), ("K2", T::Int64, &number)]),
            Ok("(K1='a''b',K2=1L)".to_owned())
        );
        assert_eq!(
            format_key(V4, &[("K1", T::String, &text), ("K2", T::Int32, &number)]),
            Ok("(K1='a''b',K2=1)".to_owned())
        );
        let guid = Value::from("0050568d-393c-1ee4-9d8a-6a1a5d2f4e1b");
        assert_eq!(
            format_key(V2, &[("Id", T::Guid, &guid)]),
            Ok("(guid'0050568d-393c-1ee4-9d8a-6a1a5d2f4e1b')".to_owned())
        );
    }

    #[test]
    fn rejects_empty_null_and_invalid_keys() {
        assert_eq!(format_key(V4, &[]), Err(LiteralError::EmptyKey));
        assert_eq!(
            format_key(V4, &[("Id", T::String, &Value::Null)]),
            Err(LiteralError::NullKey {
                name: "Id".to_owned()
            })
        );
        let text = Value::from("x");
        let error = format_key(V4, &[("A", T::String, &text), ("B", T::Int32, &text)])
            .expect_err("B is not a number");
        assert!(error.to_string().contains("Edm.Int32"));
    }

    #[test]
    fn search_is_one_phrase_in_v4_and_plain_text_in_v2() {
        let terms = |terms: &[&str]| terms.iter().map(|t| t.to_string()).collect::<Vec<_>>();
        assert_eq!(escape_search(V4, &terms(&["red bike"])), r#""red bike""#);
        assert_eq!(
            escape_search(V4, &terms(&[r#"say "hi" \o/"#])),
            r#""say \"hi\" \\o/""#
        );
        assert_eq!(
            escape_search(V4, &terms(&["NOT (a OR b)"])),
            r#""NOT (a OR b)""#
        );
        assert_eq!(
            escape_search(V4, &terms(&["red", "bike OR car"])),
            r#""red" AND "bike OR car""#
        );
        assert_eq!(escape_search(V2, &terms(&["red", "bike"])), "red bike");
    }

    #[test]
    fn encoding_keeps_unreserved_and_literal_punctuation() {
        assert_eq!(encode_component("AZaz09-._~"), "AZaz09-._~");
        assert_eq!(encode_component("(K1='a',K2=1)"), "(K1='a',K2=1)");
        assert_eq!(encode_component("!$*:@"), "!$*:@");
    }

    #[test]
    fn encoding_never_lets_a_value_end_its_query_option() {
        for (input, expected) in [
            ("a&b", "a%26b"),
            ("a#b", "a%23b"),
            ("a+b", "a%2Bb"),
            ("100%", "100%25"),
            ("a b", "a%20b"),
            ("a?b", "a%3Fb"),
            ("a/b", "a%2Fb"),
            ("a;b", "a%3Bb"),
            ("\"\\", "%22%5C"),
            ("\n\u{0}", "%0A%00"),
            ("ü", "%C3%BC"),
            ("🚀", "%F0%9F%9A%80"),
        ] {
            assert_eq!(encode_component(input), expected, "{input:?}");
        }
        let attack =
            format_literal(V4, T::String, &Value::from("x'&$top=1#%27")).expect("a string");
        let encoded = encode_component(&attack);
        assert_eq!(encoded, "'x''%26$top=1%23%2527'");
        for forbidden in ['&', '#', '+', '?', ' ', '/'] {
            assert!(!encoded.contains(forbidden), "{encoded} has {forbidden}");
        }
    }
}
