//! Every duration form, and the errors for what is not one.

use std::time::Duration;

use serde_json::json;

use crate::config::parse_duration;

fn text(value: &str) -> Result<Duration, String> {
    parse_duration(&json!(value))
}

#[test]
fn ms_library_strings() {
    let cases = [
        ("500ms", Duration::from_millis(500)),
        ("10s", Duration::from_secs(10)),
        ("30m", Duration::from_secs(30 * 60)),
        ("24h", Duration::from_secs(24 * 3600)),
        ("2d", Duration::from_secs(2 * 86400)),
        ("1w", Duration::from_secs(7 * 86400)),
        ("1 hour", Duration::from_secs(3600)),
        ("2 Days", Duration::from_secs(2 * 86400)),
        ("5 mins", Duration::from_secs(300)),
        ("1.5h", Duration::from_secs(5400)),
        (".5s", Duration::from_millis(500)),
        ("1y", Duration::from_secs(365 * 86400 + 6 * 3600)),
        (" 10s ", Duration::from_secs(10)),
        ("0s", Duration::ZERO),
    ];
    for (input, expected) in cases {
        assert_eq!(text(input), Ok(expected), "{input}");
    }
}

#[test]
fn chained_units() {
    assert_eq!(text("1h30m"), Ok(Duration::from_secs(5400)));
    assert_eq!(text("1h 30m 15s"), Ok(Duration::from_secs(5415)));
    assert_eq!(text("2 hours, 5 minutes"), Ok(Duration::from_secs(7500)));
}

#[test]
fn iso_8601() {
    let cases = [
        ("PT1H30M", Duration::from_secs(5400)),
        ("P1D", Duration::from_secs(86400)),
        ("P1DT12H", Duration::from_secs(86400 + 12 * 3600)),
        ("PT0.5S", Duration::from_millis(500)),
        ("P1W", Duration::from_secs(7 * 86400)),
        ("P1M", Duration::from_secs(30 * 86400)),
        ("P1Y", Duration::from_secs(365 * 86400)),
        ("pt10s", Duration::from_secs(10)),
    ];
    for (input, expected) in cases {
        assert_eq!(text(input), Ok(expected), "{input}");
    }
}

#[test]
fn backstage_maps() {
    assert_eq!(
        parse_duration(&json!({"hours": 24, "minutes": 5})),
        Ok(Duration::from_secs(24 * 3600 + 300))
    );
    assert_eq!(
        parse_duration(&json!({"milliseconds": 250})),
        Ok(Duration::from_millis(250))
    );
    assert_eq!(
        parse_duration(&json!({"seconds": "30"})),
        Ok(Duration::from_secs(30))
    );
    assert_eq!(
        parse_duration(&json!({"minutes": 1.5})),
        Ok(Duration::from_secs(90))
    );
    assert_eq!(
        parse_duration(&json!({"years": 1, "months": 1, "weeks": 1, "days": 1})),
        Ok(Duration::from_secs((365 + 30 + 7 + 1) * 86400))
    );
}

#[test]
fn bare_numbers_need_a_unit() {
    for value in [json!(30), json!("30"), json!(1.5)] {
        let err = parse_duration(&value).unwrap_err();
        assert!(err.contains("add a unit"), "{value}: {err}");
    }
}

#[test]
fn invalid_forms_are_explained() {
    for input in [
        "",
        "soon",
        "10 parsecs",
        "-5s",
        "s",
        "P",
        "PT",
        "P1H",
        "PT1D",
        "1h30",
        "1..5s",
    ] {
        assert!(text(input).is_err(), "{input:?} should be rejected");
    }
    assert_eq!(
        text("soon").unwrap_err(),
        "expected a duration such as \"30s\", \"1h30m\", \"2 days\" or \"PT1H\", got \"soon\""
    );
    assert!(
        parse_duration(&json!({}))
            .unwrap_err()
            .contains("at least one unit")
    );
    assert_eq!(
        parse_duration(&json!({"hour": 1})).unwrap_err(),
        "unknown duration unit \"hour\" (expected years, months, weeks, days, hours, minutes, seconds, milliseconds)"
    );
    assert!(parse_duration(&json!({"hours": -1})).is_err());
    assert!(
        parse_duration(&json!(true))
            .unwrap_err()
            .starts_with("expected a duration")
    );
    assert!(text("99999999999999999999999y").is_err());
}
