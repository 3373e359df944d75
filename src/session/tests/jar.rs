use super::{
    NOW, SECRET_A, SECRET_B, SetCookie, browser_with, keys, parse_all, request, session_with,
    settings, with_jar,
};
use crate::session::SessionJar;
use crate::session::model::{self, SESSION_FORMAT_VERSION};
use crate::session::seal::Purpose;

#[test]
fn small_session_round_trips_in_one_cookie() {
    with_jar(|jar| {
        let session = session_with(3);
        let set = parse_all(&jar.write_session(&request(&[]), &session, NOW).unwrap());
        assert_eq!(set.len(), 1);
        assert_eq!(set[0].name, "sp");
        assert_eq!(
            set[0].attributes,
            ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=86400"]
        );
        let browser = browser_with(jar, &session);
        assert_eq!(
            jar.read_session(&browser.request(), NOW)
                .as_deref()
                .cloned(),
            Some(session)
        );
    });
}

#[test]
fn secure_flag_on_every_cookie_when_set() {
    let keys = keys(&[SECRET_A]);
    for secure in [true, false] {
        let settings = settings(secure);
        let jar = SessionJar::new(&keys, &settings);
        let stale = request(&["sp=old; sp_5=x"]);
        let mut all = jar.write_session(&stale, &session_with(1000), NOW).unwrap();
        all.extend(jar.clear_all(&stale));
        assert!(all.len() > 4);
        for cookie in parse_all(&all) {
            assert_eq!(cookie.attributes.contains(&"Secure".into()), secure);
            assert!(cookie.attributes.contains(&"HttpOnly".into()));
            assert!(cookie.attributes.contains(&"SameSite=Lax".into()));
            assert!(cookie.attributes.contains(&"Path=/".into()));
        }
    }
}

#[test]
fn expiry_ends_the_session() {
    with_jar(|jar| {
        let session = session_with(0);
        let browser = browser_with(jar, &session);
        let exp = session.expires_at;
        assert!(jar.read_session(&browser.request(), exp - 1).is_some());
        assert_eq!(jar.read_session(&browser.request(), exp), None);
        assert_eq!(jar.read_session(&browser.request(), exp + 1000), None);
    });
}

/// A lowered `sessionDuration` shortens a session: one that knows its
/// sign-in time ends a lifetime after it; one that does not (no session
/// store) a lifetime after it was last issued, never before its sign-in
/// plus the lifetime.
#[test]
fn a_session_ends_a_lifetime_after_it_began() {
    with_jar(|jar| {
        let jar = jar.with_lifetime(std::time::Duration::from_secs(3600));
        // Signed in at NOW, refreshed two hours later.
        let refreshed = crate::session::Session {
            issued_at: NOW + 7200,
            ..session_with(0)
        };
        let dated = crate::session::Session {
            signed_in_at: Some(NOW),
            ..refreshed.clone()
        };
        let dated = browser_with(jar, &dated);
        assert!(jar.read_session(&dated.request(), NOW + 3599).is_some());
        assert_eq!(jar.read_session(&dated.request(), NOW + 3600), None);
        let undated = browser_with(jar, &refreshed);
        assert!(
            jar.read_session(&undated.request(), NOW + 7200 + 3599)
                .is_some()
        );
        assert_eq!(
            jar.read_session(&undated.request(), NOW + 7200 + 3600),
            None
        );
    });
}

#[test]
fn max_age_counts_down_to_the_absolute_expiry() {
    with_jar(|jar| {
        let session = session_with(0);
        let later = jar
            .write_session(&request(&[]), &session, NOW + 86_000)
            .unwrap();
        assert_eq!(SetCookie::parse(&later[0]).max_age(), 400);
        let past = jar
            .write_session(&request(&[]), &session, NOW + 90_000)
            .unwrap();
        assert_eq!(SetCookie::parse(&past[0]).max_age(), 0);
    });
}

#[test]
fn value_under_another_name_is_no_session() {
    let keys = keys(&[SECRET_A]);
    let settings = settings(false);
    let jar = SessionJar::new(&keys, &settings);
    let browser = browser_with(jar, &session_with(1));
    let value = &browser.cookies["sp"];
    let other_settings = crate::session::CookieSettings::new("other", false).unwrap();
    let other = SessionJar::new(&keys, &other_settings);
    let moved = request(&[&format!("other={value}")]);
    assert_eq!(other.read_session(&moved, NOW), None);
    let as_login = request(&[&format!("sp_login={value}")]);
    assert!(jar.read_login_flows(&as_login, NOW).is_empty());
}

#[test]
fn tampered_garbage_and_empty_cookies_are_no_session() {
    with_jar(|jar| {
        let browser = browser_with(jar, &session_with(1));
        // Opened first, so a jar that keeps opened sessions holds it.
        assert!(jar.read_session(&browser.request(), NOW).is_some());
        let value = browser.cookies["sp"].clone();
        let mid = value.len() / 2;
        let flipped = if &value[mid..mid + 1] == "A" {
            "B"
        } else {
            "A"
        };
        let tampered = format!("{}{flipped}{}", &value[..mid], &value[mid + 1..]);
        for bad in [
            tampered.as_str(),
            &value[..value.len() - 1],
            "",
            "garbage",
            "sp",
        ] {
            let headers = request(&[&format!("sp={bad}")]);
            assert_eq!(jar.read_session(&headers, NOW), None, "{bad:?}");
        }
        assert_eq!(jar.read_session(&request(&[]), NOW), None);
    });
}

#[test]
fn other_payload_version_is_no_session() {
    with_jar(|jar| {
        let plain = model::encode(SESSION_FORMAT_VERSION + 1, &session_with(1));
        let sealed = jar.keys.seal(Purpose::Session, "sp", &plain).unwrap();
        assert_eq!(
            jar.read_session(&request(&[&format!("sp={sealed}")]), NOW)
                .as_deref()
                .cloned(),
            None
        );
    });
}

#[test]
fn rotation_keeps_sessions_and_reseals_with_the_new_secret() {
    let settings = settings(false);
    let old_keys = keys(&[SECRET_A]);
    let rotated_keys = keys(&[SECRET_B, SECRET_A]);
    let new_keys = keys(&[SECRET_B]);
    let (old, rotated, new) = (
        SessionJar::new(&old_keys, &settings),
        SessionJar::new(&rotated_keys, &settings),
        SessionJar::new(&new_keys, &settings),
    );
    let mut browser = browser_with(old, &session_with(1));
    assert_eq!(
        new.read_session(&browser.request(), NOW)
            .as_deref()
            .cloned(),
        None,
        "wrong secret"
    );
    let session = rotated
        .read_session(&browser.request(), NOW)
        .as_deref()
        .cloned()
        .expect("old secret opens");
    browser.apply(
        &rotated
            .write_session(&browser.request(), &session, NOW)
            .unwrap(),
    );
    assert_eq!(
        new.read_session(&browser.request(), NOW)
            .as_deref()
            .cloned(),
        Some(session)
    );
}

#[test]
fn clear_all_deletes_every_stagepass_cookie() {
    with_jar(|jar| {
        let headers = request(&["sp=a; sp_0=b; sp_1=c; sp_42=d; other=e; sp_login=f"]);
        let deleted = parse_all(&jar.clear_all(&headers));
        assert!(deleted.iter().all(SetCookie::is_deletion));
        let names: Vec<_> = deleted.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["sp", "sp_login", "sp_0", "sp_1", "sp_42"]);
        let empty: Vec<_> = parse_all(&jar.clear_all(&request(&[])));
        let names: Vec<_> = empty.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["sp", "sp_login"]);
    });
}

#[test]
fn clear_session_keeps_pending_sign_ins() {
    with_jar(|jar| {
        let headers = request(&["sp_0=b; sp_1=c; other=e; sp_login=f"]);
        assert!(jar.carries_session(&headers));
        let deleted = parse_all(&jar.clear_session(&headers));
        let names: Vec<_> = deleted.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["sp", "sp_0", "sp_1"]);
        assert!(!jar.carries_session(&request(&["other=e; sp_login=f"])));
    });
}

#[test]
fn session_serialises_with_short_names_and_redacted_debug() {
    let mut session = session_with(1);
    session.email = None;
    let json = String::from_utf8(model::encode(SESSION_FORMAT_VERSION, &session)).unwrap();
    assert!(json.starts_with("[1,{\"sub\":\"user-123\""), "{json}");
    for short in [
        "\"nm\"", "\"pu\"", "\"grp\"", "\"exp\"", "\"ate\"", "\"rt\"", "\"idt\"", "\"iat\"",
    ] {
        assert!(json.contains(short), "{short} in {json}");
    }
    assert!(
        !json.contains("\"em\"") && !json.contains("\"pic\""),
        "{json}"
    );
    let debug = format!("{session:?}");
    assert!(!debug.contains("refresh-token-value") && !debug.contains("signature"));
    assert!(debug.contains("user-123"));
}
