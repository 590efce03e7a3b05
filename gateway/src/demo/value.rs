//! Values of the demo services: exact decimals, calendar dates and timestamps, and the OData
//! comparison rules between them.
//!
//! Decimals are kept as scaled integers so that `12.5 eq 12.50` holds and no amount ever passes
//! through a binary float (OData v4 Part 2, section 5.1.1.1: comparisons of `Edm.Decimal` are exact).

use std::cmp::Ordering;
use std::fmt;

/// Milliseconds in a day.
pub(crate) const DAY_MS: i64 = 86_400_000;

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

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = if year >= 0 { year } else { year - 399 } / 400;
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = if shifted >= 0 {
        shifted
    } else {
        shifted - 146_096
    } / 146_097;
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are small by construction: day in 1..=31, month in 1..=12.
    (year, month as u32, day as u32)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn digits(text: &str, at: usize, count: usize) -> Option<u32> {
    let part = text.get(at..at + count)?;
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse().ok()
}

/// Parses `YYYY-MM-DD` into days since 1970-01-01.
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    if text.len() != 10 || &text[4..5] != "-" || &text[7..8] != "-" {
        return None;
    }
    let year = i64::from(digits(text, 0, 4)?);
    let month = digits(text, 5, 2)?;
    let day = digits(text, 8, 2)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day))
}

/// A parsed timestamp: milliseconds since the epoch (in UTC when an offset was given) and whether
/// the text carried an offset (`Z` or `+hh:mm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Timestamp {
    pub(crate) millis: i64,
    pub(crate) has_offset: bool,
}

/// Parses `YYYY-MM-DDThh:mm[:ss[.fffffff]][Z|(+|-)hh:mm]`.
pub(crate) fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let days = parse_date(text.get(..10)?)?;
    let rest = text.get(10..)?;
    let rest = rest.strip_prefix(['T', 't'])?;
    let hour = digits(rest, 0, 2)?;
    if rest.get(2..3)? != ":" {
        return None;
    }
    let minute = digits(rest, 3, 2)?;
    let mut rest = &rest[5..];
    let mut second = 0;
    let mut millis = 0;
    if let Some(after) = rest.strip_prefix(':') {
        second = digits(after, 0, 2)?;
        rest = &after[2..];
        if let Some(after) = rest.strip_prefix('.') {
            let count = after.bytes().take_while(u8::is_ascii_digit).count();
            if count == 0 || count > 12 {
                return None;
            }
            let fraction = &after[..count];
            let first_three = format!("{:0<3}", &fraction[..count.min(3)]);
            millis = first_three.parse().ok()?;
            rest = &after[count..];
        }
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let offset_minutes = match rest {
        "" => None,
        "Z" | "z" => Some(0),
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || &rest[3..4] != ":" {
                return None;
            }
            let hours = digits(rest, 1, 2)?;
            let minutes = digits(rest, 4, 2)?;
            if hours > 14 || minutes > 59 {
                return None;
            }
            Some(sign * i64::from(hours * 60 + minutes))
        }
    };
    let local = days * DAY_MS
        + i64::from(hour) * 3_600_000
        + i64::from(minute) * 60_000
        + i64::from(second) * 1000
        + i64::from(millis);
    Some(Timestamp {
        millis: local - offset_minutes.unwrap_or(0) * 60_000,
        has_offset: offset_minutes.is_some(),
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

/// Whether `text` is a GUID: 8-4-4-4-12 hexadecimal digits.
pub(crate) fn is_guid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
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
}
