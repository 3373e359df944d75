//! `stagepass.stripHeaders`: names and prefixes, in the spelling hygiene
//! compares, and every bad entry named.

use super::{load_over, ok, problems_over};
use crate::config::StripHeaders;

#[test]
fn none_by_default() {
    let config = ok(load_over("")).config;
    assert!(config.stagepass.strip_headers.is_empty());
}

#[test]
fn names_and_prefixes_are_read_in_one_spelling() {
    let overlay = "stagepass:\n  stripHeaders: [X-Employee-Id, X_Corp_*]\n";
    let strip = ok(load_over(overlay)).config.stagepass.strip_headers;
    let expected = StripHeaders {
        names: vec!["x-employee-id".into()],
        prefixes: vec!["x-corp-".into()],
    };
    assert_eq!(strip, expected);
    assert!(strip.matches("x-corp-role") && !strip.matches("x-corporate"));
}

/// Entries that would take from the app what a trusted proxy told it, or
/// break the request itself, are refused too.
#[test]
fn every_bad_entry_is_named() {
    let overlay = "stagepass:\n  stripHeaders: [X-Ok, '*', 'X Space', X-*-Id, {a: b}, '', X-Forwarded-*, X_Real_IP, Host, Sec-*, authorization]\n";
    let errors = problems_over(overlay);
    for index in 1..=10 {
        let path = format!("stagepass.stripHeaders[{index}]:");
        assert!(
            errors.iter().any(|e| e.starts_with(&path)),
            "{path} not in {errors:?}"
        );
    }
    assert!(
        !errors
            .iter()
            .any(|e| e.starts_with("stagepass.stripHeaders[0]"))
    );
}
