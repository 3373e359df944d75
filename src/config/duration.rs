//! Durations in the forms Backstage accepts: a map of units
//! (`{hours: 1, minutes: 30}`), an `ms`-library string (`"90m"`, `"1 hour"`,
//! also chained as `"1h30m"`), or ISO 8601 (`"PT1H30M"`).

use std::time::Duration;

use serde_json::{Map, Value};

const NANOS_PER_MILLI: u128 = 1_000_000;
const NANOS_PER_SECOND: u128 = 1_000 * NANOS_PER_MILLI;
const NANOS_PER_MINUTE: u128 = 60 * NANOS_PER_SECOND;
const NANOS_PER_HOUR: u128 = 60 * NANOS_PER_MINUTE;
const NANOS_PER_DAY: u128 = 24 * NANOS_PER_HOUR;
const NANOS_PER_WEEK: u128 = 7 * NANOS_PER_DAY;
/// Luxon's "casual" month and year, which Backstage's map form uses.
const NANOS_PER_MONTH: u128 = 30 * NANOS_PER_DAY;
const NANOS_PER_YEAR: u128 = 365 * NANOS_PER_DAY;
/// The `ms` library's year, which Backstage's string form uses.
const NANOS_PER_JULIAN_YEAR: u128 = NANOS_PER_YEAR + NANOS_PER_DAY / 4;

const MAP_UNITS: &[(&str, u128)] = &[
    ("years", NANOS_PER_YEAR),
    ("months", NANOS_PER_MONTH),
    ("weeks", NANOS_PER_WEEK),
    ("days", NANOS_PER_DAY),
    ("hours", NANOS_PER_HOUR),
    ("minutes", NANOS_PER_MINUTE),
    ("seconds", NANOS_PER_SECOND),
    ("milliseconds", NANOS_PER_MILLI),
];

/// Unit spellings of the `ms` library, matched case-insensitively.
const TEXT_UNITS: &[(&[&str], u128)] = &[
    (
        &["ms", "msec", "msecs", "millisecond", "milliseconds"],
        NANOS_PER_MILLI,
    ),
    (&["s", "sec", "secs", "second", "seconds"], NANOS_PER_SECOND),
    (&["m", "min", "mins", "minute", "minutes"], NANOS_PER_MINUTE),
    (&["h", "hr", "hrs", "hour", "hours"], NANOS_PER_HOUR),
    (&["d", "day", "days"], NANOS_PER_DAY),
    (&["w", "week", "weeks"], NANOS_PER_WEEK),
    (&["y", "yr", "yrs", "year", "years"], NANOS_PER_JULIAN_YEAR),
];

const BARE_NUMBER: &str =
    "a bare number is ambiguous: add a unit, e.g. \"30s\", \"500ms\" or {seconds: 30}";

/// Parses a duration value. A bare number is rejected: Backstage reads it as
/// milliseconds in some places and seconds in others, so we ask for a unit.
pub fn parse_duration(value: &Value) -> Result<Duration, String> {
    let nanos = match value {
        Value::Number(_) => return Err(BARE_NUMBER.to_string()),
        Value::String(text) => parse_text(text.trim())?,
        Value::Object(map) => parse_map(map)?,
        _ => {
            return Err(format!(
                "expected a duration such as \"30s\" or {{minutes: 5}}, got {value}"
            ));
        }
    };
    to_duration(nanos)
}

fn to_duration(nanos: u128) -> Result<Duration, String> {
    let seconds =
        u64::try_from(nanos / NANOS_PER_SECOND).map_err(|_| "duration is too long".to_string())?;
    // The remainder is below one second, so it fits.
    let subsec = (nanos % NANOS_PER_SECOND) as u32;
    Ok(Duration::new(seconds, subsec))
}

fn parse_text(text: &str) -> Result<u128, String> {
    if text.is_empty() {
        return Err("expected a duration such as \"30s\", got an empty string".to_string());
    }
    if decimal_nanos(text, 1).is_some() {
        return Err(BARE_NUMBER.to_string());
    }
    let parsed = if text.starts_with(['P', 'p']) {
        parse_iso(&text[1..])
    } else {
        parse_units(text)
    };
    parsed.ok_or_else(|| {
        format!(
            "expected a duration such as \"30s\", \"1h30m\", \"2 days\" or \"PT1H\", got \"{text}\""
        )
    })
}

/// `ms`-style text: one or more `<number><unit>` parts, spaces allowed.
fn parse_units(text: &str) -> Option<u128> {
    let mut total: u128 = 0;
    let mut rest = text.trim_start();
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let after = after.trim_start();
        let unit_len = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        total = total.checked_add(decimal_nanos(number, text_unit(unit)?)?)?;
        rest = after.trim_start().trim_start_matches(',').trim_start();
    }
    Some(total)
}

fn text_unit(unit: &str) -> Option<u128> {
    let unit = unit.to_ascii_lowercase();
    TEXT_UNITS
        .iter()
        .find(|(names, _)| names.contains(&unit.as_str()))
        .map(|(_, nanos)| *nanos)
}

/// ISO 8601 after the `P`: `[nY][nM][nW][nD][T[nH][nM][nS]]`.
fn parse_iso(text: &str) -> Option<u128> {
    let (date, time) = match text.split_once(['T', 't']) {
        Some((date, time)) if !time.is_empty() => (date, Some(time)),
        Some(_) => return None,
        None => (text, None),
    };
    let date_units = [
        ('Y', NANOS_PER_YEAR),
        ('M', NANOS_PER_MONTH),
        ('W', NANOS_PER_WEEK),
        ('D', NANOS_PER_DAY),
    ];
    let time_units = [
        ('H', NANOS_PER_HOUR),
        ('M', NANOS_PER_MINUTE),
        ('S', NANOS_PER_SECOND),
    ];
    let date_nanos = iso_part(date, &date_units)?;
    let time_nanos = time.map_or(Some(0), |time| iso_part(time, &time_units))?;
    if date.is_empty() && time.is_none() {
        return None;
    }
    date_nanos.checked_add(time_nanos)
}

/// A run of `<number><designator>` with designators in the order given.
fn iso_part(text: &str, units: &[(char, u128)]) -> Option<u128> {
    let mut total: u128 = 0;
    let mut rest = text;
    let mut allowed = units;
    while !rest.is_empty() {
        let number_len = rest.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
        let (number, after) = rest.split_at(number_len);
        let designator = after.chars().next()?.to_ascii_uppercase();
        let position = allowed.iter().position(|(d, _)| *d == designator)?;
        total = total.checked_add(decimal_nanos(number, allowed[position].1)?)?;
        allowed = &allowed[position + 1..];
        rest = &after[1..];
    }
    Some(total)
}

/// The map form; values may be numbers or numeric strings (after `${VAR}`
/// substitution every value is a string).
fn parse_map(map: &Map<String, Value>) -> Result<u128, String> {
    if map.is_empty() {
        return Err("expected at least one unit, e.g. {minutes: 5}".to_string());
    }
    let mut total: u128 = 0;
    for (key, value) in map {
        let Some((_, unit)) = MAP_UNITS.iter().find(|(name, _)| name == key) else {
            let names: Vec<&str> = MAP_UNITS.iter().map(|(name, _)| *name).collect();
            return Err(format!(
                "unknown duration unit \"{key}\" (expected {})",
                names.join(", ")
            ));
        };
        let nanos = match value {
            Value::Number(n) => decimal_nanos(&n.to_string(), *unit),
            Value::String(s) => decimal_nanos(s.trim(), *unit),
            _ => None,
        };
        let nanos =
            nanos.ok_or_else(|| format!("{key}: expected a non-negative number, got {value}"))?;
        total = total.checked_add(nanos).ok_or("duration is too long")?;
    }
    Ok(total)
}

/// `number` (digits with an optional fraction) times `unit` nanoseconds,
/// computed exactly; `None` if `number` is not a non-negative decimal.
fn decimal_nanos(number: &str, unit: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.len() + fraction.len() == 0
        || !all_digits(whole)
        || !all_digits(fraction)
        || fraction.len() > 18
    {
        return None;
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let scale = 10u128.pow(fraction.len() as u32);
    let fraction: u128 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().ok()?
    };
    let whole_nanos = whole.checked_mul(unit)?;
    whole_nanos.checked_add(fraction.checked_mul(unit)? / scale)
}
