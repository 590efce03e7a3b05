//! Calendar dates, times of day, timestamps, day-time durations and GUIDs in the text forms OData uses.
//!
//! One implementation for everyone who reads or writes them: URL literals ([`crate::literal`]),
//! backend JSON read by the gateway, and the demo services. Parsing is strict: only what the
//! grammars admit (years 0000-9999, real month lengths, no leap second 60, at most 12 fraction
//! digits in a time of day) gets through, so a parsed value can always be written back as a valid
//! literal.
//!
//! References: the OData ABNF Construction Rules 4.01, section 7 "Literal Data Values" (cited as
//! "ABNF 7"), and [MS-ODATA] for v2: section 2.2.2 "Abstract Type System" (URL literals) and
//! section 2.2.6.3.1 (JSON verbose `/Date(...)/` values), cited as "MS-ODATA 2.2.2" and
//! "MS-ODATA 2.2.6.3.1". Day counts use H. Hinnant's `days_from_civil` and `civil_from_days`
//! (proleptic Gregorian calendar, day 0 = 1970-01-01).

use std::fmt;

/// Seconds in a day.
pub const SECONDS_PER_DAY: i64 = 86_400;

/// Milliseconds in a day.
pub const MILLIS_PER_DAY: i64 = 86_400_000;

/// [`days_from_civil`] of 0000-01-01, the first day a [`Date`] can hold.
const FIRST_EPOCH_DAY: i64 = -719_528;

/// [`days_from_civil`] of 9999-12-31, the last day a [`Date`] can hold.
const LAST_EPOCH_DAY: i64 = 2_932_896;

/// At most this many fraction digits in a time of day (ABNF 7 `fractionalSeconds = 1*12DIGIT`).
const MAX_FRACTION_DIGITS: usize = 12;

/// A calendar date in years 0000 to 9999 (ABNF 7 `year` also allows more digits and a sign, which
/// no SAP backend stores). Displayed `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i64,
    month: u32,
    day: u32,
}

impl Date {
    /// The date, when `year` is 0000-9999, `month` 1-12 and `day` exists in that month.
    pub fn new(year: i64, month: u32, day: u32) -> Option<Date> {
        let valid = (0..=9999).contains(&year)
            && (1..=12).contains(&month)
            && (1..=days_in_month(year, month)).contains(&day);
        valid.then_some(Date { year, month, day })
    }

    /// `YYYY-MM-DD` with the month's real length (ABNF 7 `date = year "-" month "-" day`;
    /// `2024-02-29` yes, `2023-02-29` no).
    pub fn parse(text: &str) -> Option<Date> {
        let bytes = text.as_bytes();
        if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
            return None;
        }
        let year = i64::from(fixed_digits(&bytes[0..4])?);
        Date::new(
            year,
            fixed_digits(&bytes[5..7])?,
            fixed_digits(&bytes[8..10])?,
        )
    }

    /// The date `days` after 1970-01-01 (before it when negative), when within 0000-9999.
    pub fn from_epoch_days(days: i64) -> Option<Date> {
        if !(FIRST_EPOCH_DAY..=LAST_EPOCH_DAY).contains(&days) {
            return None;
        }
        let (year, month, day) = civil_from_days(days);
        Some(Date { year, month, day })
    }

    /// The UTC date of an instant given in milliseconds since 1970-01-01T00:00:00Z, when within
    /// 0000-9999.
    pub fn from_epoch_millis(millis: i64) -> Option<Date> {
        Date::from_epoch_days(millis.div_euclid(MILLIS_PER_DAY))
    }

    /// Days since 1970-01-01, negative before.
    pub fn epoch_days(self) -> i64 {
        days_from_civil(self.year, self.month, self.day)
    }

    /// The year, 0 to 9999.
    pub fn year(self) -> i64 {
        self.year
    }

    /// The month, 1 to 12.
    pub fn month(self) -> u32 {
        self.month
    }

    /// The day of the month, 1 to 31.
    pub fn day(self) -> u32 {
        self.day
    }
}

impl fmt::Display for Date {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{:04}-{:02}-{:02}",
            self.year, self.month, self.day
        )
    }
}

/// The digits after the decimal point of a second, 0 to 12 of them, kept as written (`250` stays
/// `250`).
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
struct Fraction {
    digits: [u8; MAX_FRACTION_DIGITS],
    len: u8,
}

impl Fraction {
    /// 0 to 12 ASCII digits.
    fn new(text: &str) -> Option<Fraction> {
        if text.len() > MAX_FRACTION_DIGITS || !text.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        let mut digits = [0; MAX_FRACTION_DIGITS];
        digits[..text.len()].copy_from_slice(text.as_bytes());
        Some(Fraction {
            digits,
            len: u8::try_from(text.len()).ok()?,
        })
    }

    /// Three digits for a millisecond 1-999, none for 0.
    fn of_millisecond(millisecond: u32) -> Option<Fraction> {
        match millisecond {
            0 => Some(Fraction::default()),
            1..=999 => Fraction::new(&format!("{millisecond:03}")),
            _ => None,
        }
    }

    fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(&self.digits[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Debug for Fraction {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:?}", self.as_str())
    }
}

/// A time of day, `00:00:00` to `23:59:59.999999999999`, with the fraction digits as written.
/// Displayed `hh:mm:ss[.f]` (ABNF 7 `timeOfDayValue`, seconds always written).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Clock {
    hour: u32,
    minute: u32,
    second: u32,
    fraction: Fraction,
}

impl Clock {
    /// A time of day given as `hh:mm[:ss[.fff]]` ([`Clock::parse_time_of_day`]) or as a v2
    /// duration below 24 hours ([`Clock::parse_v2_duration`]).
    pub fn parse(text: &str) -> Option<Clock> {
        if text.starts_with("PT") {
            Clock::parse_v2_duration(text)
        } else {
            Clock::parse_time_of_day(text)
        }
    }

    /// `hh:mm[:ss[.f{1,12}]]` (ABNF 7 `timeOfDayValue = hour ":" minute [ ":" second [ "."
    /// fractionalSeconds ] ]`; leap second 60 is not accepted).
    pub fn parse_time_of_day(text: &str) -> Option<Clock> {
        let bytes = text.as_bytes();
        if bytes.len() < 5 || bytes[2] != b':' || !text.is_ascii() {
            return None;
        }
        let hour = fixed_digits(&bytes[0..2])?;
        let minute = fixed_digits(&bytes[3..5])?;
        let (second, fraction) = match &text[5..] {
            "" => (0, Fraction::default()),
            rest => {
                let rest = rest.strip_prefix(':')?;
                let (second, fraction) = match rest.split_once('.') {
                    Some((_, "")) => return None,
                    Some((second, fraction)) => (second, Fraction::new(fraction)?),
                    None => (rest, Fraction::default()),
                };
                if second.len() != 2 {
                    return None;
                }
                (fixed_digits(second.as_bytes())?, fraction)
            }
        };
        (hour <= 23 && minute <= 59 && second <= 59).then_some(Clock {
            hour,
            minute,
            second,
            fraction,
        })
    }

    /// A v2 Edm.Time value, an xsd:duration below 24 hours with a time part only: `PT10H30M00S`,
    /// `PT90M`, `PT1.5S` (MS-ODATA 2.2.2 `timeLiteral`; MS-ODATA 2.2.6.3.1 in JSON). No sign, no
    /// days, at most 12 fraction digits.
    pub fn parse_v2_duration(text: &str) -> Option<Clock> {
        if !text.starts_with("PT") {
            return None;
        }
        let duration = Duration::parse(text)?;
        let total = duration.hours.checked_mul(3600)?.checked_add(
            duration
                .minutes
                .checked_mul(60)?
                .checked_add(duration.seconds)?,
        )?;
        let seconds_of_day = u32::try_from(total).ok()?;
        Some(Clock {
            fraction: Fraction::new(duration.fraction)?,
            ..Clock::from_seconds(seconds_of_day)?
        })
    }

    /// The whole second `seconds_of_day` after midnight, when below 86 400.
    pub fn from_seconds(seconds_of_day: u32) -> Option<Clock> {
        (i64::from(seconds_of_day) < SECONDS_PER_DAY).then_some(Clock {
            hour: seconds_of_day / 3600,
            minute: seconds_of_day % 3600 / 60,
            second: seconds_of_day % 60,
            fraction: Fraction::default(),
        })
    }

    /// The same time with `digits` (0 to 12 ASCII digits) after the decimal point.
    pub fn with_fraction(self, digits: &str) -> Option<Clock> {
        Some(Clock {
            fraction: Fraction::new(digits)?,
            ..self
        })
    }

    /// Whole seconds since midnight, the fraction left out.
    pub fn seconds_of_day(self) -> u32 {
        self.hour * 3600 + self.minute * 60 + self.second
    }

    /// The hour, 0 to 23.
    pub fn hour(self) -> u32 {
        self.hour
    }

    /// The minute, 0 to 59.
    pub fn minute(self) -> u32 {
        self.minute
    }

    /// The second, 0 to 59.
    pub fn second(self) -> u32 {
        self.second
    }

    /// The digits after the decimal point as written, possibly none.
    pub fn fraction(&self) -> &str {
        self.fraction.as_str()
    }

    /// The millisecond within the second: the first three fraction digits, further digits cut off
    /// (`.5` is 500, `.1239` is 123).
    pub fn millisecond(&self) -> u32 {
        self.fraction()
            .bytes()
            .chain(std::iter::repeat(b'0'))
            .take(3)
            .fold(0, |total, digit| total * 10 + u32::from(digit - b'0'))
    }

    /// `PT10H30M00S`, the form of MS-ODATA 2.2.2's `time'...'` examples (fraction kept:
    /// `PT00H00M01.5S`).
    pub fn as_v2_duration(&self) -> String {
        let dot = if self.fraction().is_empty() { "" } else { "." };
        format!(
            "PT{:02}H{:02}M{:02}{dot}{}S",
            self.hour,
            self.minute,
            self.second,
            self.fraction()
        )
    }
}

impl fmt::Display for Clock {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{:02}:{:02}:{:02}",
            self.hour, self.minute, self.second
        )?;
        if !self.fraction().is_empty() {
            write!(formatter, ".{}", self.fraction())?;
        }
        Ok(())
    }
}

/// A date and a time of day with an optional offset from UTC. Displayed
/// `YYYY-MM-DDThh:mm:ss[.f]` followed by nothing (no offset), `Z` (offset 0) or `±hh:mm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timestamp {
    date: Date,
    clock: Clock,
    offset_minutes: Option<i64>,
}

impl Timestamp {
    /// `date "T" clock [ "Z" / ( "+" / "-" ) hh ":" mm ]` (ABNF 7 `dateTimeOffsetValue`; the
    /// offset is optional here because v2 Edm.DateTime, MS-ODATA 2.2.2 `datetime'...'`, has none).
    /// `T` and `Z` in upper case only; offset hours 00-23.
    pub fn parse(text: &str) -> Option<Timestamp> {
        if !text.is_ascii() || text.len() < 16 || text.as_bytes()[10] != b'T' {
            return None;
        }
        let date = Date::parse(&text[..10])?;
        let rest = &text[11..];
        let (clock_text, offset_minutes) = if let Some(clock_text) = rest.strip_suffix('Z') {
            (clock_text, Some(0))
        } else if let Some(index) = rest.find(['+', '-']) {
            let (clock_text, offset) = rest.split_at(index);
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let offset = &offset.as_bytes()[1..];
            if offset.len() != 5 || offset[2] != b':' {
                return None;
            }
            let hours = fixed_digits(&offset[0..2])?;
            let minutes = fixed_digits(&offset[3..5])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            (clock_text, Some(sign * i64::from(hours * 60 + minutes)))
        } else {
            (rest, None)
        };
        Some(Timestamp {
            date,
            clock: Clock::parse_time_of_day(clock_text)?,
            offset_minutes,
        })
    }

    /// A date-time as [`Timestamp::parse`] reads it, or a bare date `YYYY-MM-DD` taken as its
    /// midnight without offset.
    pub fn parse_date_or_date_time(text: &str) -> Option<Timestamp> {
        Timestamp::parse(text).or_else(|| Date::parse(text).map(Timestamp::at_midnight))
    }

    /// Midnight at the start of `date`, without offset.
    pub fn at_midnight(date: Date) -> Timestamp {
        Timestamp {
            date,
            clock: Clock::default(),
            offset_minutes: None,
        }
    }

    /// The instant `millis` milliseconds after 1970-01-01T00:00:00 in UTC (offset 0, displayed
    /// with `Z`), `None` when UTC leaves years 0000-9999.
    ///
    /// For v2 JSON `/Date(ms+offset)/` (MS-ODATA 2.2.6.3.1): as in datajs and SAPUI5's
    /// `DateTimeUtil._parseJsonDateString`, `millis` is the wall clock read as UTC and
    /// `offset_minutes` (east of UTC) is subtracted to reach UTC. The fraction is the millisecond,
    /// three digits, or none when it is 0.
    pub fn from_epoch_millis(millis: i64, offset_minutes: Option<i64>) -> Option<Timestamp> {
        let utc = millis.checked_sub(offset_minutes.unwrap_or(0).checked_mul(60_000)?)?;
        let date = Date::from_epoch_millis(utc)?;
        let millis_of_day = utc.rem_euclid(MILLIS_PER_DAY);
        let clock = Clock {
            fraction: Fraction::of_millisecond(u32::try_from(millis_of_day % 1000).ok()?)?,
            ..Clock::from_seconds(u32::try_from(millis_of_day / 1000).ok()?)?
        };
        Some(Timestamp {
            date,
            clock,
            offset_minutes: Some(0),
        })
    }

    /// Milliseconds since 1970-01-01T00:00:00Z of this instant; a timestamp without offset is
    /// taken as UTC. Fraction digits beyond the millisecond are cut off.
    pub fn epoch_millis(&self) -> i64 {
        let seconds = self.date.epoch_days() * SECONDS_PER_DAY
            + i64::from(self.clock.seconds_of_day())
            - self.offset_minutes.unwrap_or(0) * 60;
        seconds * 1000 + i64::from(self.clock.millisecond())
    }

    /// The same instant in UTC (offset 0, displayed with `Z`; a timestamp without offset is taken
    /// as UTC), with the fraction as written; `None` when UTC leaves years 0000-9999.
    pub fn to_utc(&self) -> Option<Timestamp> {
        let local =
            self.date.epoch_days() * SECONDS_PER_DAY + i64::from(self.clock.seconds_of_day());
        let utc = local - self.offset_minutes.unwrap_or(0) * 60;
        let date = Date::from_epoch_days(utc.div_euclid(SECONDS_PER_DAY))?;
        let clock = Clock {
            fraction: self.clock.fraction,
            ..Clock::from_seconds(u32::try_from(utc.rem_euclid(SECONDS_PER_DAY)).ok()?)?
        };
        Some(Timestamp {
            date,
            clock,
            offset_minutes: Some(0),
        })
    }

    /// The same date and time of day without offset, displayed without zone designator (the v2
    /// Edm.DateTime form, `datetime'2024-01-31T10:00:00'`).
    pub fn without_offset(self) -> Timestamp {
        Timestamp {
            offset_minutes: None,
            ..self
        }
    }

    /// The calendar date.
    pub fn date(&self) -> Date {
        self.date
    }

    /// The time of day.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Minutes east of UTC (`+01:00` is 60, `Z` is 0), `None` when the text had no offset.
    pub fn offset_minutes(&self) -> Option<i64> {
        self.offset_minutes
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}T{}", self.date, self.clock)?;
        match self.offset_minutes {
            None => Ok(()),
            Some(0) => formatter.write_str("Z"),
            Some(minutes) => {
                let sign = if minutes < 0 { '-' } else { '+' };
                let minutes = minutes.unsigned_abs();
                write!(formatter, "{sign}{:02}:{:02}", minutes / 60, minutes % 60)
            }
        }
    }
}

/// Milliseconds since 1970-01-01T00:00:00Z of an ISO 8601 date `YYYY-MM-DD` (its midnight) or
/// date-time `YYYY-MM-DDThh:mm[:ss[.f]]` with optional `Z` or `±hh:mm` (none is UTC), as
/// [`Timestamp::parse_date_or_date_time`] reads them; the millisecond is cut, not rounded. This is
/// the `ms` of a v2 JSON `/Date(ms)/` value (MS-ODATA 2.2.6.3.1).
pub fn iso_to_epoch_millis(text: &str) -> Option<i64> {
    Timestamp::parse_date_or_date_time(text).map(|stamp| stamp.epoch_millis())
}

/// A v2 JSON verbose date-time, `/Date(<ms>[(+|-)<minutes>])/` (MS-ODATA 2.2.6.3.1 for
/// Edm.DateTime and Edm.DateTimeOffset): milliseconds since 1970 (the wall clock read as UTC) and
/// an optional offset in minutes, at most a day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JsonDate {
    /// Milliseconds since 1970-01-01T00:00:00 of the wall clock, negative before.
    pub millis: i64,
    /// Minutes east of UTC (`+0060` is 60), when given.
    pub offset_minutes: Option<i64>,
}

impl JsonDate {
    /// `/Date(1706695200000)/`, `/Date(-86400000)/`, `/Date(1706695200000+0060)/`.
    pub fn parse(text: &str) -> Option<JsonDate> {
        let inner = text.strip_prefix("/Date(")?.strip_suffix(")/")?;
        let (sign, unsigned) = match inner.strip_prefix('-') {
            Some(unsigned) => (-1, unsigned),
            None => (1, inner),
        };
        let (millis, offset_minutes) = match unsigned.find(['+', '-']) {
            Some(index) => {
                let (millis, offset) = unsigned.split_at(index);
                let minutes = i64::try_from(whole_number(&offset[1..])?).ok()?;
                if minutes > 24 * 60 {
                    return None;
                }
                let minutes = if offset.starts_with('-') {
                    -minutes
                } else {
                    minutes
                };
                (millis, Some(minutes))
            }
            None => (unsigned, None),
        };
        let millis = i64::try_from(whole_number(millis)?).ok()?;
        Some(JsonDate {
            millis: sign * millis,
            offset_minutes,
        })
    }

    /// The instant in UTC ([`Timestamp::from_epoch_millis`]), `None` outside years 0000-9999.
    pub fn to_utc(self) -> Option<Timestamp> {
        Timestamp::from_epoch_millis(self.millis, self.offset_minutes)
    }

    /// The wall-clock date, the offset left out: it only says where the wall clock was, and a
    /// date has none. `None` outside years 0000-9999.
    pub fn wall_date(self) -> Option<Date> {
        Date::from_epoch_millis(self.millis)
    }
}

impl fmt::Display for JsonDate {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset_minutes {
            None => write!(formatter, "/Date({})/", self.millis),
            Some(minutes) => write!(formatter, "/Date({}{minutes:+05})/", self.millis),
        }
    }
}

/// A day-time duration, `[-]P[nD][T[nH][nM][n[.n]S]]` (ABNF 7 `durationValue`, xsd
/// dayTimeDuration: no years or months, at least one component, `T` followed by one, designators
/// in the order H, M, S).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Duration<'a> {
    /// A leading `-`.
    pub negative: bool,
    /// The `D` component, 0 when absent.
    pub days: u64,
    /// The `H` component, 0 when absent.
    pub hours: u64,
    /// The `M` component, 0 when absent.
    pub minutes: u64,
    /// The whole seconds of the `S` component, 0 when absent.
    pub seconds: u64,
    /// The digits after the seconds' decimal point as written, possibly none (any number of them).
    pub fraction: &'a str,
}

impl Duration<'_> {
    /// `P1DT2H30M`, `-PT0.5S`, `PT36H`; not `P1Y`, `P`, `P1DT`, `PT1.S`, `PT10M30H`.
    pub fn parse(text: &str) -> Option<Duration<'_>> {
        if !text.is_ascii() {
            return None;
        }
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let rest = rest.strip_prefix('P')?;
        let (day_part, time_part) = match rest.split_once('T') {
            Some((day_part, time_part)) => (day_part, Some(time_part)),
            None => (rest, None),
        };
        let mut duration = Duration {
            negative,
            days: 0,
            hours: 0,
            minutes: 0,
            seconds: 0,
            fraction: "",
        };
        let mut components = 0;
        if !day_part.is_empty() {
            duration.days = whole_number(day_part.strip_suffix('D')?)?;
            components += 1;
        }
        if let Some(mut time_part) = time_part {
            if time_part.is_empty() {
                return None;
            }
            // Designators must come in the order H, M, S, each at most once.
            let mut next_allowed = 0;
            while !time_part.is_empty() {
                let end = time_part.find(|character: char| character.is_ascii_uppercase())?;
                let (number, designator) = (&time_part[..end], &time_part[end..end + 1]);
                let rank = match designator {
                    "H" => 0,
                    "M" => 1,
                    "S" => 2,
                    _ => return None,
                };
                if rank < next_allowed {
                    return None;
                }
                next_allowed = rank + 1;
                match (rank, number.split_once('.')) {
                    (2, Some((whole, fraction))) => {
                        if fraction.is_empty()
                            || !fraction.bytes().all(|byte| byte.is_ascii_digit())
                        {
                            return None;
                        }
                        duration.seconds = whole_number(whole)?;
                        duration.fraction = fraction;
                    }
                    (_, Some(_)) => return None,
                    (0, None) => duration.hours = whole_number(number)?,
                    (1, None) => duration.minutes = whole_number(number)?,
                    (_, None) => duration.seconds = whole_number(number)?,
                }
                components += 1;
                time_part = &time_part[end + 1..];
            }
        }
        (components > 0).then_some(duration)
    }
}

/// Whether `text` is a GUID, `8-4-4-4-12` hex digits in either case (ABNF 7 `guid = 8HEXDIG "-"
/// 4HEXDIG "-" 4HEXDIG "-" 4HEXDIG "-" 12HEXDIG`; MS-ODATA 2.2.2 `guidUriLiteral` holds the same).
pub fn is_guid(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 36
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            8 | 13 | 18 | 23 => *byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        })
}

/// Whether `year` has a 29 February (proleptic Gregorian: every 4th year, but not every 100th
/// unless every 400th).
pub fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

/// The number of days of `month` (1-12) in `year`; 31 for any other month number.
pub fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date, negative before (H. Hinnant's
/// `days_from_civil`). `month` is 1-12 and `day` 1-31; the date is not validated.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian `(year, month, day)` of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`); exact for any count within ±2^60 days.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are small and positive by construction (1..=31, 1..=12).
    (year, month as u32, day as u32)
}

/// Fixed-width decimal digits as a number; `None` for anything else (signs, spaces, non-ASCII).
fn fixed_digits(bytes: &[u8]) -> Option<u32> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    bytes.iter().try_fold(0u32, |total, digit| {
        total.checked_mul(10)?.checked_add(u32::from(digit - b'0'))
    })
}

/// One or more ASCII digits as a number, `None` for anything else or on overflow.
fn whole_number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_arithmetic_round_trips() {
        for days in [-719_528, -719_468, -25_567, -1, 0, 1, 19_753, 2_932_896] {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(-719_528), (0, 1, 1));
        assert_eq!(civil_from_days(2_932_896), (9999, 12, 31));
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(days_from_civil(1900, 1, 1), -25_567);
    }

    #[test]
    fn leap_years_follow_the_gregorian_rule() {
        for (year, leap) in [
            (2024, true),
            (2023, false),
            (2000, true),
            (1900, false),
            (2100, false),
            (1600, true),
            (0, true),
        ] {
            assert_eq!(is_leap_year(year), leap, "{year}");
        }
        assert_eq!(days_in_month(2024, 2), 29);
        assert_eq!(days_in_month(1900, 2), 28);
        assert_eq!(days_in_month(2024, 4), 30);
        assert_eq!(days_in_month(2024, 12), 31);
    }

    #[test]
    fn dates_parse_with_real_month_lengths() {
        for valid in [
            "2024-02-29",
            "2000-02-29",
            "0000-01-01",
            "9999-12-31",
            "2024-04-30",
        ] {
            let date = Date::parse(valid).expect(valid);
            assert_eq!(date.to_string(), valid);
        }
        for invalid in [
            "2023-02-29",
            "1900-02-29",
            "2024-04-31",
            "2024-13-01",
            "2024-00-10",
            "2024-01-00",
            "2024-1-31",
            "10000-01-01",
            "+024-01-01",
            "2024-01-3ü",
            "2024/01/31",
            "",
        ] {
            assert_eq!(Date::parse(invalid), None, "{invalid}");
        }
        assert_eq!(Date::new(2024, 2, 30), None);
        assert_eq!(Date::new(-1, 1, 1), None);
        let date = Date::new(2024, 1, 31).expect("a date");
        assert_eq!(
            (date.year(), date.month(), date.day(), date.epoch_days()),
            (2024, 1, 31, 19_753)
        );
    }

    #[test]
    fn dates_from_day_counts_stay_within_four_digit_years() {
        assert_eq!(
            Date::from_epoch_days(-719_528).map(|date| date.to_string()),
            Some("0000-01-01".to_owned())
        );
        assert_eq!(Date::from_epoch_days(-719_529), None);
        assert_eq!(
            Date::from_epoch_days(2_932_896).map(|date| date.to_string()),
            Some("9999-12-31".to_owned())
        );
        assert_eq!(Date::from_epoch_days(2_932_897), None);
        assert_eq!(Date::from_epoch_days(i64::MAX), None);
        assert_eq!(
            Date::from_epoch_millis(-1).map(|date| date.to_string()),
            Some("1969-12-31".to_owned())
        );
    }

    #[test]
    fn clocks_parse_times_of_day_and_v2_durations() {
        for (input, shown) in [
            ("10:30", "10:30:00"),
            ("10:30:15", "10:30:15"),
            ("23:59:59.999999999999", "23:59:59.999999999999"),
            ("00:00:00.250", "00:00:00.250"),
            ("PT10H30M00S", "10:30:00"),
            ("PT90M", "01:30:00"),
            ("PT0H0M5.25S", "00:00:05.25"),
            ("PT23H59M59S", "23:59:59"),
        ] {
            let clock = Clock::parse(input).expect(input);
            assert_eq!(clock.to_string(), shown, "{input}");
        }
        for invalid in [
            "24:00:00",
            "10:60:00",
            "10:30:60",
            "10:30:15.",
            "10:30:15.1234567890123",
            "10:30:1",
            "1:30",
            "10:30:15Z",
            "PT24H",
            "PT10M30H",
            "PT1.S",
            "P1DT1H",
            "P0DT1H",
            "-PT1H",
            "PT",
            "PT0.1234567890123S",
        ] {
            assert_eq!(Clock::parse(invalid), None, "{invalid}");
        }
    }

    #[test]
    fn clocks_convert_to_seconds_milliseconds_and_v2_durations() {
        let clock = Clock::parse("10:30:15.5").expect("a clock");
        assert_eq!(clock.seconds_of_day(), 37_815);
        assert_eq!((clock.hour(), clock.minute(), clock.second()), (10, 30, 15));
        assert_eq!(clock.fraction(), "5");
        assert_eq!(clock.millisecond(), 500);
        assert_eq!(clock.as_v2_duration(), "PT10H30M15.5S");
        let clock = Clock::from_seconds(37_815).expect("below a day");
        assert_eq!(clock.as_v2_duration(), "PT10H30M15S");
        assert_eq!(
            clock.with_fraction("1239").map(|clock| clock.millisecond()),
            Some(123)
        );
        assert_eq!(clock.with_fraction("x"), None);
        assert_eq!(Clock::from_seconds(86_400), None);
        assert_eq!(Clock::default().to_string(), "00:00:00");
    }

    #[test]
    fn timestamps_parse_offsets_and_convert_to_utc() {
        let stamp = Timestamp::parse("2024-01-31T01:00:00.1234567+02:00").expect("a timestamp");
        assert_eq!(stamp.offset_minutes(), Some(120));
        assert_eq!(stamp.to_string(), "2024-01-31T01:00:00.1234567+02:00");
        let utc = stamp.to_utc().expect("in range");
        assert_eq!(utc.to_string(), "2024-01-30T23:00:00.1234567Z");
        assert_eq!(
            utc.without_offset().to_string(),
            "2024-01-30T23:00:00.1234567"
        );
        let stamp = Timestamp::parse("2023-12-31T23:00-01:30").expect("a timestamp");
        assert_eq!(stamp.to_string(), "2023-12-31T23:00:00-01:30");
        assert_eq!(
            stamp.to_utc().map(|utc| utc.to_string()),
            Some("2024-01-01T00:30:00Z".to_owned())
        );
        let stamp = Timestamp::parse("2024-01-31T10:00:00").expect("no offset");
        assert_eq!(stamp.offset_minutes(), None);
        assert_eq!(
            stamp.to_utc().map(|utc| utc.to_string()),
            Some("2024-01-31T10:00:00Z".to_owned())
        );
        let late = Timestamp::parse("9999-12-31T23:59:59.999-00:01").expect("a timestamp");
        assert_eq!(late.to_utc(), None);
        let early = Timestamp::parse("0000-01-01T00:30:00+01:00").expect("a timestamp");
        assert_eq!(early.to_utc(), None);
        for invalid in [
            "2024-01-31",
            "2024-01-31 10:00:00",
            "2024-01-31t10:00:00",
            "2024-01-31T10:00:00z",
            "2024-01-31T10:00:00+1:00",
            "2024-01-31T10:00:00+24:00",
            "2024-01-31T10:00:00+01:60",
            "2024-01-31T24:00:00",
            "2024-02-30T10:00:00",
        ] {
            assert_eq!(Timestamp::parse(invalid), None, "{invalid}");
        }
        let midnight = Timestamp::parse_date_or_date_time("2024-01-31").expect("a date");
        assert_eq!(midnight.to_string(), "2024-01-31T00:00:00");
        assert_eq!(midnight.date().to_string(), "2024-01-31");
        assert_eq!(midnight.clock(), Clock::default());
    }

    #[test]
    fn epoch_milliseconds_both_ways() {
        for (millis, shown) in [
            (0, "1970-01-01T00:00:00Z"),
            (-1, "1969-12-31T23:59:59.999Z"),
            (-2_208_988_800_000, "1900-01-01T00:00:00Z"),
            (1_709_164_800_000, "2024-02-29T00:00:00Z"),
            (1_706_695_200_100, "2024-01-31T10:00:00.100Z"),
            (253_402_300_799_999, "9999-12-31T23:59:59.999Z"),
            (-62_167_219_200_000, "0000-01-01T00:00:00Z"),
        ] {
            let stamp = Timestamp::from_epoch_millis(millis, None).expect(shown);
            assert_eq!(stamp.to_string(), shown);
            assert_eq!(stamp.epoch_millis(), millis, "{shown}");
            assert_eq!(iso_to_epoch_millis(shown), Some(millis), "{shown}");
        }
        assert_eq!(
            Timestamp::from_epoch_millis(253_402_300_800_000, None),
            None
        );
        assert_eq!(
            Timestamp::from_epoch_millis(-62_167_219_200_001, None),
            None
        );
        assert_eq!(Timestamp::from_epoch_millis(i64::MIN, Some(60)), None);
        assert_eq!(
            Timestamp::from_epoch_millis(1_706_695_200_000, Some(-90)).map(|s| s.to_string()),
            Some("2024-01-31T11:30:00Z".to_owned())
        );
    }

    #[test]
    fn iso_text_becomes_epoch_milliseconds() {
        assert_eq!(iso_to_epoch_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(iso_to_epoch_millis("2024-01-31"), Some(1_706_659_200_000));
        assert_eq!(
            iso_to_epoch_millis("2024-01-31T01:00:00+01:00"),
            Some(1_706_659_200_000)
        );
        assert_eq!(iso_to_epoch_millis("1969-12-31T23:59:59.5Z"), Some(-500));
        assert_eq!(iso_to_epoch_millis("1969-12-31T23:59:59.9999Z"), Some(-1));
        assert_eq!(
            iso_to_epoch_millis("2024-01-31T10:30"),
            Some(1_706_697_000_000)
        );
        assert_eq!(iso_to_epoch_millis("2024-02-30"), None);
        assert_eq!(iso_to_epoch_millis("yesterday"), None);
    }

    #[test]
    fn v2_json_dates_parse_and_print() {
        for (text, millis, offset) in [
            ("/Date(1706695200000)/", 1_706_695_200_000, None),
            ("/Date(-86400000)/", -86_400_000, None),
            ("/Date(1706695200000+0060)/", 1_706_695_200_000, Some(60)),
            ("/Date(1706695200000-0090)/", 1_706_695_200_000, Some(-90)),
            ("/Date(0+0000)/", 0, Some(0)),
        ] {
            let date = JsonDate::parse(text).expect(text);
            assert_eq!(
                date,
                JsonDate {
                    millis,
                    offset_minutes: offset
                }
            );
            assert_eq!(date.to_string(), text);
        }
        for invalid in [
            "/Date(abc)/",
            "/Date()/",
            "/Date(1+1441)/",
            "/Date(1+)/",
            "Date(1)",
            "/Date(99999999999999999999)/",
        ] {
            assert_eq!(JsonDate::parse(invalid), None, "{invalid}");
        }
        let date = JsonDate::parse("/Date(1706695200000+0060)/").expect("a date");
        assert_eq!(
            date.to_utc().map(|utc| utc.to_string()),
            Some("2024-01-31T09:00:00Z".to_owned())
        );
        assert_eq!(
            date.wall_date().map(|date| date.to_string()),
            Some("2024-01-31".to_owned())
        );
    }

    #[test]
    fn durations_are_day_time_only() {
        let duration = Duration::parse("-P1DT2H30M4.25S").expect("a duration");
        assert_eq!(
            duration,
            Duration {
                negative: true,
                days: 1,
                hours: 2,
                minutes: 30,
                seconds: 4,
                fraction: "25",
            }
        );
        for valid in ["P1D", "PT36H", "PT0.5S", "P0D", "PT1.1234567890123S"] {
            assert!(Duration::parse(valid).is_some(), "{valid}");
        }
        for invalid in [
            "P1Y", "P1M", "P", "P1DT", "PT1.S", "PT10M30H", "PT1H1H", "P1D' or", "PT1h", "1D",
        ] {
            assert_eq!(Duration::parse(invalid), None, "{invalid}");
        }
    }

    #[test]
    fn guids_are_eight_four_four_four_twelve_hex_digits() {
        assert!(is_guid("0050568D-393C-1EE4-9D8A-6A1A5D2F4E1B"));
        assert!(is_guid("0050568d-393c-1ee4-9d8a-6a1a5d2f4e1b"));
        for invalid in [
            "0050568d-393c-1ee4-9d8a-6a1a5d2f4e1",
            "0050568d-393c-1ee4-9d8a-6a1a5d2f4e1bb",
            "0050568d0393c-1ee4-9d8a-6a1a5d2f4e1b",
            "g050568d-393c-1ee4-9d8a-6a1a5d2f4e1b",
            "{0050568d-393c-1ee4-9d8a-6a1a5d2f4e1}",
        ] {
            assert!(!is_guid(invalid), "{invalid}");
        }
    }
}
