//! Values of the demo services: exact decimals, calendar dates and timestamps, and the OData
//! comparison rules between them.
//!
//! Decimals are kept as scaled integers so that `12.5 eq 12.50` holds and no amount ever passes
//! through a binary float (OData v4 Part 2, section 5.1.1.1: comparisons of `Edm.Decimal` are exact).

use std::cmp::Ordering;
use std::fmt;

use bizgraph_schema::temporal;
pub(crate) use bizgraph_schema::temporal::{civil_from_days, days_from_civil, is_guid};

/// Milliseconds in a day.
pub(crate) const DAY_MS: i64 = temporal::MILLIS_PER_DAY;

/// A value of a property or a literal.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// `null`.
    Null,
    /// `Edm.Boolean`.
    Bool(bool),
    /// `Edm.Int32` (and integer literals).
    Int(i64),
    /// `Edm.Decimal` (and decimal literals).
    Decimal(Decimal),
    /// `Edm.String` and enumeration members (by name).
    String(String),
    /// `Edm.Guid`, lowercase.
    Guid(String),
    /// `Edm.Date`: days since 1970-01-01.
    Date(i64),
    /// `Edm.DateTime` (OData v2): milliseconds since the epoch, without an offset.
    DateTime(i64),
    /// `Edm.DateTimeOffset`: milliseconds since the epoch, in UTC.
    DateTimeOffset(i64),
    /// A member of an enumeration type: its value (which orders members) and its name.
    Enum(i64, &'static str),
}

impl Value {
    /// The string, for string values.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(text) | Value::Guid(text) => Some(text),
            Value::Enum(_, name) => Some(name),
            _ => None,
        }
    }

    /// Whether this is `null`.
    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
}

/// Compares two values the way OData comparison operators do; `None` when they are not
/// comparable (different types, or a `null`).
pub(crate) fn compare(left: &Value, right: &Value) -> Option<Ordering> {
    use Value as V;
    match (left, right) {
        (V::String(a), V::String(b)) => Some(a.cmp(b)),
        (V::Bool(a), V::Bool(b)) => Some(a.cmp(b)),
        (V::Int(a), V::Int(b)) => Some(a.cmp(b)),
        (V::Int(a), V::Decimal(b)) => Some(Decimal::from_int(*a).cmp(b)),
        (V::Decimal(a), V::Int(b)) => Some(a.cmp(&Decimal::from_int(*b))),
        (V::Decimal(a), V::Decimal(b)) => Some(a.cmp(b)),
        (V::Guid(a), V::Guid(b)) => Some(a.cmp(b)),
        (V::Guid(a), V::String(b)) | (V::String(b), V::Guid(a)) => {
            Some(a.cmp(&b.to_ascii_lowercase()))
        }
        (V::Date(a), V::Date(b)) => Some(a.cmp(b)),
        (V::Enum(a, _), V::Enum(b, _)) => Some(a.cmp(b)),
        (V::DateTime(a) | V::DateTimeOffset(a), V::DateTime(b) | V::DateTimeOffset(b)) => {
            Some(a.cmp(b))
        }
        _ => None,
    }
}

/// Whether two values are equal under OData `eq`: two `null`s are equal, `null` equals nothing
/// else.
pub(crate) fn equals(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Null, Value::Null) => true,
        (Value::Null, _) | (_, Value::Null) => false,
        _ => compare(left, right) == Some(Ordering::Equal),
    }
}

/// The order of `$orderby`: `null` sorts before every value (OData v4 Part 2, section 5.1.1.1.1
/// treats `null` as less than any value), incomparable values keep their order.
pub(crate) fn sort_order(left: &Value, right: &Value) -> Ordering {
    match (left, right) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Null, _) => Ordering::Less,
        (_, Value::Null) => Ordering::Greater,
        _ => compare(left, right).unwrap_or(Ordering::Equal),
    }
}

/// An exact decimal number: `units / 10^scale`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decimal {
    units: i128,
    scale: u32,
}

/// More digits than this are refused, which keeps every rescaling inside `i128`.
const MAX_DIGITS: usize = 34;

impl Decimal {
    /// A decimal from units and a scale: `Decimal::new(1250, 2)` is `12.50`.
    pub(crate) const fn new(units: i128, scale: u32) -> Decimal {
        Decimal { units, scale }
    }

    /// An integer as a decimal.
    pub(crate) fn from_int(value: i64) -> Decimal {
        Decimal::new(i128::from(value), 0)
    }

    /// Parses `[+-]digits[.digits][e[+-]digits]`.
    pub(crate) fn parse(text: &str) -> Option<Decimal> {
        let (negative, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => (rest, None),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if whole.is_empty() && fraction.is_empty()
            || !whole
                .bytes()
                .chain(fraction.bytes())
                .all(|b| b.is_ascii_digit())
            || whole.len() + fraction.len() > MAX_DIGITS
        {
            return None;
        }
        let mut units: i128 = 0;
        for digit in whole.bytes().chain(fraction.bytes()) {
            units = units * 10 + i128::from(digit - b'0');
        }
        let mut scale = i64::try_from(fraction.len()).ok()?;
        if let Some(exponent) = exponent {
            let unsigned = exponent.strip_prefix(['+', '-']).unwrap_or(exponent);
            if unsigned.is_empty() || !unsigned.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let exponent: i64 = exponent.parse().ok()?;
            scale -= exponent;
        }
        while scale < 0 {
            units = units.checked_mul(10)?;
            scale += 1;
        }
        if scale > 60 {
            return None;
        }
        let units = if negative { -units } else { units };
        Some(Decimal::new(units, u32::try_from(scale).ok()?))
    }

    /// The same number with `scale` digits after the point, if that loses nothing.
    pub(crate) fn with_scale(self, scale: u32) -> Option<Decimal> {
        if scale >= self.scale {
            let factor = 10_i128.checked_pow(scale - self.scale)?;
            return Some(Decimal::new(self.units.checked_mul(factor)?, scale));
        }
        let factor = 10_i128.checked_pow(self.scale - scale)?;
        (self.units % factor == 0).then(|| Decimal::new(self.units / factor, scale))
    }

    /// The product, exact.
    pub(crate) fn mul(self, other: Decimal) -> Decimal {
        Decimal::new(self.units * other.units, self.scale + other.scale)
    }

    /// The number rounded half away from zero to `scale` digits after the point.
    pub(crate) fn round(self, scale: u32) -> Decimal {
        if scale >= self.scale {
            return self.with_scale(scale).unwrap_or(self);
        }
        let factor = 10_i128.pow(self.scale - scale);
        let (quotient, remainder) = (self.units / factor, self.units % factor);
        let adjust = if remainder.abs() * 2 >= factor {
            self.units.signum()
        } else {
            0
        };
        Decimal::new(quotient + adjust, scale)
    }

    /// The sum, exact.
    pub(crate) fn add(self, other: Decimal) -> Decimal {
        let scale = self.scale.max(other.scale);
        let (a, b) = (self.aligned(scale), other.aligned(scale));
        Decimal::new(a + b, scale)
    }

    /// The units at a larger scale (saturating, which only matters beyond 38 digits).
    fn aligned(self, scale: u32) -> i128 {
        10_i128
            .checked_pow(scale - self.scale)
            .and_then(|factor| self.units.checked_mul(factor))
            .unwrap_or(if self.units < 0 { i128::MIN } else { i128::MAX })
    }

    /// Whether the number has no fractional part.
    pub(crate) fn is_integral(self) -> bool {
        self.with_scale(0).is_some()
    }

    /// The integer value, when integral and in range.
    pub(crate) fn to_i64(self) -> Option<i64> {
        i64::try_from(self.with_scale(0)?.units).ok()
    }

    /// The nearest binary float, only for writing OData v4 JSON numbers, which are floats.
    pub(crate) fn to_f64(self) -> f64 {
        self.to_string().parse().unwrap_or(f64::NAN)
    }
}

impl PartialEq for Decimal {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Decimal {}

impl PartialOrd for Decimal {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Decimal {
    fn cmp(&self, other: &Self) -> Ordering {
        let scale = self.scale.max(other.scale);
        self.aligned(scale).cmp(&other.aligned(scale))
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.units.unsigned_abs().to_string();
        let scale = self.scale as usize;
        let sign = if self.units < 0 { "-" } else { "" };
        if scale == 0 {
            return write!(f, "{sign}{digits}");
        }
        let padded = format!("{digits:0>width$}", width = scale + 1);
        let (whole, fraction) = padded.split_at(padded.len() - scale);
        write!(f, "{sign}{whole}.{fraction}")
    }
}

/// Parses `YYYY-MM-DD` into days since 1970-01-01.
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    temporal::Date::parse(text).map(temporal::Date::epoch_days)
}

/// A parsed timestamp: milliseconds since the epoch (in UTC when an offset was given) and whether
/// the text carried an offset (`Z` or `+hh:mm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timestamp {
    pub(crate) millis: i64,
    pub(crate) has_offset: bool,
}

/// Parses `YYYY-MM-DDThh:mm[:ss[.fffffff]][Z|(+|-)hh:mm]` ([`temporal::Timestamp::parse`]), with
/// two leniencies of the demo services: `t` and `z` in lower case (ABNF quoted strings are
/// case-insensitive, RFC 5234 section 2.3), and offsets only up to ±14:59 (the xsd:dateTime range).
pub(crate) fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let stamp = temporal::Timestamp::parse(&text.to_ascii_uppercase())?;
    let offset = stamp.offset_minutes();
    if offset.is_some_and(|minutes| minutes.abs() >= 15 * 60) {
        return None;
    }
    Some(Timestamp {
        millis: stamp.epoch_millis(),
        has_offset: offset.is_some(),
    })
}

/// `YYYY-MM-DD`.
pub(crate) fn format_date(days: i64) -> String {
    let (year, month, day) = civil_from_days(days);
    format!("{year:04}-{month:02}-{day:02}")
}

/// `YYYY-MM-DDThh:mm:ss` followed by `fraction_digits` digits of the second (none when 0).
pub(crate) fn format_timestamp(millis: i64, fraction_digits: usize) -> String {
    let days = millis.div_euclid(DAY_MS);
    let in_day = millis.rem_euclid(DAY_MS);
    let (hour, minute, second, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    let mut text = format!("{}T{hour:02}:{minute:02}:{second:02}", format_date(days));
    if fraction_digits > 0 {
        let fraction = format!(
            "{milli:03}{}",
            "0".repeat(fraction_digits.saturating_sub(3))
        );
        text.push('.');
        text.push_str(&fraction[..fraction_digits]);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_compare_and_print_exactly() {
        let a = Decimal::parse("12.5").expect("decimal");
        let b = Decimal::parse("12.50").expect("decimal");
        assert_eq!(a, b);
        assert_eq!(b.to_string(), "12.50");
        assert_eq!(
            Decimal::parse("-0.05").expect("decimal").to_string(),
            "-0.05"
        );
        assert_eq!(Decimal::parse("1.5e2").expect("decimal").to_string(), "150");
        assert!(
            Decimal::parse("0.1").expect("d") < Decimal::parse("0.10000000000000001").expect("d")
        );
        assert_eq!(a.with_scale(3).expect("wider").to_string(), "12.500");
        assert_eq!(
            Decimal::parse("2.345").expect("d").round(2).to_string(),
            "2.35"
        );
        assert_eq!(
            Decimal::parse("-2.344").expect("d").round(2).to_string(),
            "-2.34"
        );
        assert!(Decimal::parse("12.555").expect("d").with_scale(2).is_none());
        assert!(Decimal::parse("1.2.3").is_none());
        assert!(Decimal::parse("").is_none());
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_date("2024-01-31"), Some(19_753));
        assert_eq!(format_date(19_753), "2024-01-31");
        assert_eq!(parse_date("2024-02-30"), None);
        let stamp = parse_timestamp("2024-01-31T01:00:00+01:00").expect("timestamp");
        assert_eq!(stamp.millis, 1_706_659_200_000);
        assert!(stamp.has_offset);
        assert_eq!(
            format_timestamp(1_706_659_200_123, 7),
            "2024-01-31T00:00:00.1230000"
        );
    }

    #[test]
    fn timestamps_take_lower_case_designators_and_offsets_up_to_fourteen_hours() {
        let stamp = parse_timestamp("2024-01-31t01:00:00.5z").expect("lower case");
        assert_eq!(stamp.millis, 1_706_662_800_500);
        assert!(stamp.has_offset);
        assert!(parse_timestamp("2024-01-31T01:00:00-14:59").is_some());
        assert_eq!(parse_timestamp("2024-01-31T01:00:00+15:00"), None);
        assert_eq!(parse_timestamp("2024-01-31T01:00:60"), None);
    }
}
