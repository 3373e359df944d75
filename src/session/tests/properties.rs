//! Property tests (proptest): whatever a client sends as cookies, reading a
//! session never panics and never yields a session stagepass did not seal;
//! every session stagepass seals (chunked or not) reads back unchanged.
//! The case budget is fixed (`PROPTEST_CASES` raises it for a long run).

use proptest::prelude::*;

use super::{Browser, NOW, request, session_with, with_jar};
use crate::session::Session;

fn config() -> ProptestConfig {
    ProptestConfig::with_cases(256)
}

/// Cookie header text: names that look like ours (and chunks), values that
/// look like sealed text or are plain noise.
fn cookie_line() -> impl Strategy<Value = String> {
    let name = prop_oneof![
        Just("sp".to_owned()),
        (0usize..12).prop_map(|i| format!("sp_{i}")),
        Just("sp_login".to_owned()),
        "[a-z_]{1,8}",
    ];
    let value = prop_oneof!["[A-Za-z0-9_-]{0,200}", "[ -~]{0,60}"];
    prop::collection::vec((name, value), 0..12).prop_map(|pairs| {
        pairs
            .iter()
            .map(|(n, v)| format!("{n}={}", v.replace(';', "")))
            .collect::<Vec<_>>()
            .join("; ")
    })
}

fn session_strategy() -> impl Strategy<Value = Session> {
    (0usize..400, "[ -~]{0,40}", any::<bool>()).prop_map(|(groups, name, with_tokens)| {
        let mut session = session_with(groups);
        session.name = Some(name);
        if !with_tokens {
            session.refresh_token = None;
            session.id_token = None;
        }
        session
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_cookies_never_open_as_a_session(line in cookie_line()) {
        let headers = request(&[&line]);
        with_jar(|jar| {
            prop_assert_eq!(jar.read_session(&headers, NOW), None);
            // Clearing whatever is there never panics either.
            let _ = jar.clear_all(&headers);
            Ok(())
        })?;
    }

    #[test]
    fn sealed_sessions_read_back_unchanged(session in session_strategy()) {
        with_jar(|jar| {
            let mut browser = Browser::default();
            let Ok(set) = jar.write_session(&browser.request(), &session, NOW) else {
                // Too large for the cookie limits: refused, never truncated.
                return Ok(());
            };
            browser.apply(&set);
            prop_assert_eq!(jar.read_session(&browser.request(), NOW).as_deref().cloned(), Some(session.clone()));
            Ok(())
        })?;
    }

    #[test]
    fn a_flipped_byte_in_any_chunk_means_no_session(
        session in session_strategy(),
        pick in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
    ) {
        with_jar(|jar| {
            let mut browser = Browser::default();
            let Ok(set) = jar.write_session(&browser.request(), &session, NOW) else {
                return Ok(());
            };
            browser.apply(&set);
            let names: Vec<String> = browser.names().iter().map(|n| n.to_string()).collect();
            let name = pick.get(&names).clone();
            let mut value = browser.cookies[&name].clone().into_bytes();
            let i = at.index(value.len());
            value[i] = if value[i] == b'A' { b'B' } else { b'A' };
            browser.set(&name, std::str::from_utf8(&value).unwrap());
            prop_assert_eq!(jar.read_session(&browser.request(), NOW), None);
            Ok(())
        })?;
    }
}
