//! Durations in the forms Backstage's `readDurationFromConfig` accepts:
//! `{hours: 1, minutes: 30}`, `'1h'` / `'90 minutes'` (the `ms` library's
//! syntax), and ISO 8601 `'PT1H30M'`. Converted with Backstage's own
//! approximations: 365-day years, 30-day months.

use std::time::Duration;

use serde_json::Value;

const SECOND: f64 = 1000.0;
const MINUTE: f64 = 60.0 * SECOND;
const HOUR: f64 = 60.0 * MINUTE;
const DAY: f64 = 24.0 * HOUR;
const WEEK: f64 = 7.0 * DAY;
const MONTH: f64 = 30.0 * DAY;
const YEAR: f64 = 365.0 * DAY;

const OBJECT_UNITS: &[(&str, f64)] = &[
    ("years", YEAR),
    ("months", MONTH),
    ("weeks", WEEK),
    ("days", DAY),
    ("hours", HOUR),
    ("minutes", MINUTE),
    ("seconds", SECOND),
    ("milliseconds", 1.0),
];

pub(crate) fn parse_duration(value: &Value) -> Result<Duration, String> {
    let millis = match value {
        Value::Object(map) => object_millis(map)?,
        Value::String(text) if text.trim().starts_with('P') => iso_millis(text.trim())?,
        Value::String(text) => ms_millis(text.trim())?,
        _ => {
            return Err(format!(
                "must be a duration like {{hours: 1}}, '1h' or 'PT1H'; got {value}"
            ));
        }
    };
    if !millis.is_finite() || millis < 0.0 {
        return Err("must not be negative".into());
    }
    Ok(Duration::from_millis(millis.round() as u64))
}

fn object_millis(map: &serde_json::Map<String, Value>) -> Result<f64, String> {
    let units: Vec<&str> = OBJECT_UNITS.iter().map(|(name, _)| *name).collect();
    if let Some(unknown) = map.keys().find(|k| !units.contains(&k.as_str())) {
        return Err(format!(
            "unknown unit '{unknown}'; expected one or more of {}",
            units.join(", ")
        ));
    }
    if map.is_empty() {
        return Err(format!("needs one or more of {}", units.join(", ")));
    }
    let mut total = 0.0;
    for (unit, factor) in OBJECT_UNITS {
        match map.get(*unit) {
            None => {}
            Some(Value::Number(n)) => total += n.as_f64().unwrap_or(f64::NAN) * factor,
            Some(other) => return Err(format!("{unit} must be a number, got {other}")),
        }
    }
    Ok(total)
}

/// `'1h'`, `'2 days'`, `'1.5 hours'`: a number and a unit; a bare number is
/// refused, as Backstage does, because its unit would be a guess.
fn ms_millis(text: &str) -> Result<f64, String> {
    let invalid = || {
        format!("'{text}' is not a duration; try a number and a unit, like '1h' or '30 minutes'")
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .ok_or_else(invalid)?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().map_err(|_| invalid())?;
    let factor = ms_unit(&unit.trim_start_matches(' ').to_lowercase()).ok_or_else(invalid)?;
    Ok(number * factor)
}

fn ms_unit(unit: &str) -> Option<f64> {
    Some(match unit {
        "years" | "year" | "yrs" | "yr" | "y" => 365.25 * DAY,
        "weeks" | "week" | "w" => WEEK,
        "days" | "day" | "d" => DAY,
        "hours" | "hour" | "hrs" | "hr" | "h" => HOUR,
        "minutes" | "minute" | "mins" | "min" | "m" => MINUTE,
        "seconds" | "second" | "secs" | "sec" | "s" => SECOND,
        "milliseconds" | "millisecond" | "msecs" | "msec" | "ms" => 1.0,
        _ => return None,
    })
}

/// `P[nY][nM][nW][nD][T[nH][nM][nS]]`, numbers possibly fractional.
fn iso_millis(text: &str) -> Result<f64, String> {
    let invalid = || format!("'{text}' is not an ISO 8601 duration like 'PT1H' or 'P1DT12H'");
    let mut rest = text.strip_prefix('P').ok_or_else(invalid)?;
    let (mut total, mut in_time, mut any) = (0.0, false, false);
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('T') {
            if in_time {
                return Err(invalid());
            }
            (in_time, rest) = (true, after);
            continue;
        }
        let end = rest
            .find(|c: char| c.is_ascii_alphabetic())
            .ok_or_else(invalid)?;
        let number: f64 = rest[..end]
            .replace(',', ".")
            .parse()
            .map_err(|_| invalid())?;
        let factor = match (in_time, &rest[end..=end]) {
            (false, "Y") => YEAR,
            (false, "M") => MONTH,
            (false, "W") => WEEK,
            (false, "D") => DAY,
            (true, "H") => HOUR,
            (true, "M") => MINUTE,
            (true, "S") => SECOND,
            _ => return Err(invalid()),
        };
        (total, any, rest) = (total + number * factor, true, &rest[end + 1..]);
    }
    if any { Ok(total) } else { Err(invalid()) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secs(value: Value) -> u64 {
        parse_duration(&value).unwrap().as_secs()
    }

    #[test]
    fn reads_all_three_forms() {
        assert_eq!(secs(json!({"hours": 1, "minutes": 30})), 5400);
        assert_eq!(secs(json!({"days": 1})), 86400);
        assert_eq!(secs(json!("1h")), 3600);
        assert_eq!(secs(json!("90 minutes")), 5400);
        assert_eq!(secs(json!("1.5 Hours")), 5400);
        assert_eq!(secs(json!("PT2H")), 7200);
        assert_eq!(secs(json!("P1DT12H")), 129_600);
        assert_eq!(secs(json!("PT0.5M")), 30);
    }

    #[test]
    fn refuses_what_backstage_refuses() {
        for bad in [
            json!("3600"),
            json!("1m 3s"),
            json!("-3s"),
            json!(""),
            json!("P"),
            json!("P1H"),
            json!("PT1D"),
            json!({}),
            json!({"hour": 1}),
            json!({"hours": "1"}),
            json!(3600),
            json!({"seconds": -5}),
        ] {
            assert!(parse_duration(&bad).is_err(), "{bad}");
        }
    }
}
