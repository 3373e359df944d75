use url::Url;

use super::{request, settings};
use crate::session::cookies::OwnCookies;
use crate::session::{CookieSettings, InvalidCookiePrefix, is_stagepass_cookie, request_cookies};

fn pairs(lines: &[&str]) -> Vec<(String, String)> {
    let headers = request(lines);
    request_cookies(&headers)
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

fn pair(name: &str, value: &str) -> (String, String) {
    (name.into(), value.into())
}

#[test]
fn parses_pairs_across_several_headers_in_order() {
    assert_eq!(
        pairs(&["a=1; b=2", "c=3"]),
        vec![pair("a", "1"), pair("b", "2"), pair("c", "3")]
    );
}

#[test]
fn tolerates_blanks_and_empty_segments() {
    assert_eq!(
        pairs(&[" a = 1 ;;\tb=2;  ; ", ";"]),
        vec![pair("a", "1"), pair("b", "2")]
    );
}

#[test]
fn skips_malformed_pairs() {
    assert_eq!(
        pairs(&["novalue; =orphan; ok=1; also-no-value"]),
        vec![pair("ok", "1")]
    );
}

#[test]
fn keeps_empty_values_and_equals_signs_in_values() {
    assert_eq!(
        pairs(&["empty=; b64=YQ==; x=a=b"]),
        vec![pair("empty", ""), pair("b64", "YQ=="), pair("x", "a=b")]
    );
}

#[test]
fn strips_one_pair_of_quotes() {
    assert_eq!(
        pairs(&["q=\"v\"; half=\"v; lone=\""]),
        vec![pair("q", "v"), pair("half", "\"v"), pair("lone", "\"")]
    );
}

#[test]
fn skips_pairs_that_are_not_utf8_and_keeps_the_rest() {
    let mut headers = http::HeaderMap::new();
    let bytes = b"bad=\xff\xfe; good=1";
    headers.append(
        http::header::COOKIE,
        http::HeaderValue::from_bytes(bytes).unwrap(),
    );
    let found: Vec<_> = request_cookies(&headers).collect();
    assert_eq!(found, vec![("good", "1")]);
}

#[test]
fn no_cookie_header_means_no_pairs() {
    assert!(pairs(&[]).is_empty());
    assert!(pairs(&[""]).is_empty());
}

#[test]
fn stagepass_cookie_names() {
    for name in ["sp", "sp_0", "sp_7", "sp_login", "sp_anything", "sp_"] {
        assert!(is_stagepass_cookie(name, "sp"), "{name}");
    }
    for name in ["spx", "s", "xsp", "", "SP", "sp-0", "other_sp"] {
        assert!(!is_stagepass_cookie(name, "sp"), "{name}");
    }
}

#[test]
fn scan_classifies_and_first_wins() {
    let headers = request(&[
        "sp=one; sp_login=L1; sp_1=c1",
        "sp=two; sp_0=c0; sp_1=late; sp_login=L2",
    ]);
    let own = OwnCookies::scan(&headers, "sp");
    assert_eq!(own.session, Some("one"));
    assert_eq!(own.login, Some("L1"));
    assert_eq!(own.chunks, vec![(0, "c0"), (1, "c1")]);
}

#[test]
fn scan_accepts_only_canonical_chunk_indexes() {
    let headers =
        request(&["sp_00=a; sp_01=b; sp_100=c; sp_+1=d; sp_1a=e; sp_=f; sp_99=g; sp_10=h"]);
    let own = OwnCookies::scan(&headers, "sp");
    assert_eq!(own.chunks, vec![(10, "h"), (99, "g")]);
    assert_eq!(own.session, None);
}

#[test]
fn scan_ignores_other_cookies() {
    let headers = request(&["spx=1; other=2; sp_logins=3; SP=4"]);
    let own = OwnCookies::scan(&headers, "sp");
    assert_eq!(own.session, None);
    assert_eq!(own.login, None);
    assert!(own.chunks.is_empty());
}

#[test]
fn prefix_must_be_a_short_token() {
    for bad in ["", "a b", "a;b", "a=b", "a,b", "é", "a\"b", &"x".repeat(65)] {
        assert_eq!(
            CookieSettings::new(bad, true),
            Err(InvalidCookiePrefix),
            "{bad:?}"
        );
    }
    for good in ["stagepass", "__Host-sp", "a.b-c_d", &"x".repeat(64)] {
        assert!(CookieSettings::new(good, true).is_ok(), "{good:?}");
    }
}

#[test]
fn secure_follows_the_public_url_scheme() {
    let https = Url::parse("https://app.example.com").unwrap();
    let http = Url::parse("http://localhost:7000").unwrap();
    assert!(
        CookieSettings::for_public_url("sp", &https)
            .unwrap()
            .secure()
    );
    assert!(
        !CookieSettings::for_public_url("sp", &http)
            .unwrap()
            .secure()
    );
}

#[test]
fn set_cookie_lines() {
    assert_eq!(
        settings(true).set_cookie("sp", "v", 60),
        "sp=v; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=60"
    );
    assert_eq!(
        settings(false).set_cookie("sp", "v", 60),
        "sp=v; HttpOnly; SameSite=Lax; Path=/; Max-Age=60"
    );
    assert_eq!(
        settings(true).delete_cookie("sp_3"),
        "sp_3=; HttpOnly; SameSite=Lax; Secure; Path=/; Max-Age=0"
    );
}

#[test]
fn login_cookie_survives_form_post_only_over_https() {
    assert_eq!(
        settings(true).set_login_cookie("sp_login", "v", 600),
        "sp_login=v; HttpOnly; SameSite=None; Secure; Path=/; Max-Age=600"
    );
    assert_eq!(
        settings(false).set_login_cookie("sp_login", "v", 600),
        "sp_login=v; HttpOnly; SameSite=Lax; Path=/; Max-Age=600"
    );
}
