use super::{Browser, NOW, browser_with, parse_all, request, session_with, with_jar};
use crate::session::model::{self, SESSION_FORMAT_VERSION};
use crate::session::seal::{Purpose, base64_len};
use crate::session::{CHUNK_LEN, MAX_CHUNKS, MAX_SESSION_LEN, Session, SessionJar};

/// Sealed value = base64(5-byte header, 12-byte nonce, plaintext, 16-byte tag).
const SEAL_OVERHEAD: usize = 5 + 12 + 16;

/// A session whose sealed value is exactly `sealed_len` bytes long.
fn session_sealing_to(sealed_len: usize) -> Session {
    let mut session = session_with(0);
    session.name = Some(String::new());
    let base = model::encode(SESSION_FORMAT_VERSION, &session).len();
    let plain = (0..)
        .find(|n| base64_len(SEAL_OVERHEAD + n) >= sealed_len)
        .unwrap();
    assert_eq!(
        base64_len(SEAL_OVERHEAD + plain),
        sealed_len,
        "reachable length"
    );
    session.name = Some("x".repeat(plain - base));
    session
}

#[test]
fn exactly_chunk_len_stays_unchunked() {
    with_jar(|jar| {
        let browser = browser_with(jar, &session_sealing_to(CHUNK_LEN));
        assert_eq!(browser.names(), ["sp"]);
        assert_eq!(browser.cookies["sp"].len(), CHUNK_LEN);
        assert!(jar.read_session(&browser.request(), NOW).is_some());
    });
}

#[test]
fn one_step_over_chunk_len_splits_in_two() {
    with_jar(|jar| {
        // 3801 is not a base64 length; 3802 is the next one.
        let session = session_sealing_to(CHUNK_LEN + 2);
        let browser = browser_with(jar, &session);
        assert_eq!(browser.names(), ["sp_0", "sp_1"]);
        assert_eq!(browser.cookies["sp_0"].len(), CHUNK_LEN);
        assert_eq!(browser.cookies["sp_1"].len(), 2);
        assert_eq!(
            jar.read_session(&browser.request(), NOW)
                .as_deref()
                .cloned(),
            Some(session)
        );
    });
}

#[test]
fn large_session_round_trips_in_chunks() {
    with_jar(|jar| {
        let session = session_with(1000);
        let set = jar.write_session(&request(&[]), &session, NOW).unwrap();
        assert!(set.len() >= 4, "{} chunks", set.len());
        for (index, cookie) in parse_all(&set).iter().enumerate() {
            assert_eq!(cookie.name, format!("sp_{index}"));
            assert!(cookie.value.len() <= CHUNK_LEN);
        }
        assert!(set.iter().all(|line| line.len() < 4000));
        let mut browser = Browser::default();
        browser.apply(&set);
        assert_eq!(
            jar.read_session(&browser.request(), NOW)
                .as_deref()
                .cloned(),
            Some(session)
        );
    });
}

#[test]
fn too_large_session_is_refused() {
    with_jar(|jar| {
        let error = jar
            .write_session(&request(&[]), &session_with(3000), NOW)
            .unwrap_err();
        assert_eq!(error.max, MAX_SESSION_LEN);
        assert!(error.len > MAX_SESSION_LEN);
    });
}

#[test]
fn fewer_chunks_delete_the_leftovers() {
    with_jar(|jar| {
        let browser = browser_with(jar, &session_with(1000));
        let before = browser.names().len();
        let set = jar
            .write_session(&browser.request(), &session_with(300), NOW)
            .unwrap();
        let set = parse_all(&set);
        let written = set.iter().filter(|c| !c.is_deletion()).count();
        let deleted: Vec<_> = set
            .iter()
            .filter(|c| c.is_deletion())
            .map(|c| c.name.clone())
            .collect();
        let expected: Vec<_> = (written..before).map(|i| format!("sp_{i}")).collect();
        assert!(written >= 2 && written < before);
        assert_eq!(deleted, expected);
    });
}

#[test]
fn switching_forms_deletes_the_other_form() {
    with_jar(|jar| {
        let mut browser = browser_with(jar, &session_with(1000));
        let set = jar
            .write_session(&browser.request(), &session_with(1), NOW)
            .unwrap();
        browser.apply(&set);
        assert_eq!(browser.names(), ["sp"]);
        let set = jar
            .write_session(&browser.request(), &session_with(1000), NOW)
            .unwrap();
        assert!(
            parse_all(&set)
                .iter()
                .any(|c| c.name == "sp" && c.is_deletion())
        );
        browser.apply(&set);
        assert!(browser.names().iter().all(|name| name.starts_with("sp_")));
        assert_eq!(
            jar.read_session(&browser.request(), NOW)
                .as_deref()
                .cloned(),
            Some(session_with(1000))
        );
    });
}

#[test]
fn nothing_stale_means_no_deletions() {
    with_jar(|jar| {
        let browser = browser_with(jar, &session_with(1000));
        let set = jar
            .write_session(&browser.request(), &session_with(1001), NOW)
            .unwrap();
        assert!(parse_all(&set).iter().all(|c| !c.is_deletion()));
    });
}

#[test]
fn planted_high_chunks_are_deleted_on_write() {
    with_jar(|jar| {
        let set = jar
            .write_session(
                &request(&["sp_42=x; sp_9=y; sp_login=z"]),
                &session_with(1),
                NOW,
            )
            .unwrap();
        let deleted: Vec<_> = parse_all(&set)
            .into_iter()
            .filter(|c| c.is_deletion())
            .map(|c| c.name)
            .collect();
        assert_eq!(deleted, ["sp_9", "sp_42"]);
    });
}

#[test]
fn missing_middle_chunk_is_no_session() {
    with_jar(|jar| {
        let mut browser = browser_with(jar, &session_with(1000));
        browser.cookies.remove("sp_1");
        assert_eq!(jar.read_session(&browser.request(), NOW), None);
    });
}

#[test]
fn missing_first_or_last_chunk_is_no_session() {
    with_jar(|jar| {
        let full = browser_with(jar, &session_with(1000));
        let last = format!("sp_{}", full.names().len() - 1);
        for missing in ["sp_0", last.as_str()] {
            let mut browser = browser_with(jar, &session_with(1000));
            browser.cookies.remove(missing);
            assert_eq!(jar.read_session(&browser.request(), NOW), None, "{missing}");
        }
    });
}

#[test]
fn swapped_chunks_are_no_session() {
    with_jar(|jar| {
        let mut browser = browser_with(jar, &session_with(1000));
        let first = browser.cookies["sp_0"].clone();
        let second = browser.cookies["sp_1"].clone();
        browser.set("sp_0", &second);
        browser.set("sp_1", &first);
        assert_eq!(jar.read_session(&browser.request(), NOW), None);
    });
}

/// A browser holding `sealed` split into `count` chunks of equal size.
fn resplit(sealed: &str, count: usize) -> Browser {
    let mut browser = Browser::default();
    let size = sealed.len().div_ceil(count);
    for (index, piece) in sealed.as_bytes().chunks(size).enumerate() {
        browser.set(&format!("sp_{index}"), std::str::from_utf8(piece).unwrap());
    }
    assert_eq!(browser.names().len(), count);
    browser
}

fn sealed_session(jar: SessionJar<'_>, session: &Session) -> String {
    let plain = model::encode(SESSION_FORMAT_VERSION, session);
    jar.keys.seal(Purpose::Session, "sp", &plain).unwrap()
}

#[test]
fn chunk_count_cap() {
    with_jar(|jar| {
        let session = session_with(500);
        let sealed = sealed_session(jar, &session);
        let at_cap = resplit(&sealed, MAX_CHUNKS);
        assert_eq!(
            jar.read_session(&at_cap.request(), NOW).as_deref().cloned(),
            Some(session)
        );
        let over_cap = resplit(&sealed, MAX_CHUNKS + 1);
        assert_eq!(jar.read_session(&over_cap.request(), NOW), None);
    });
}

#[test]
fn a_chunk_past_the_cap_voids_the_session() {
    with_jar(|jar| {
        let mut browser = browser_with(jar, &session_with(1000));
        assert!(jar.read_session(&browser.request(), NOW).is_some());
        browser.set(&format!("sp_{MAX_CHUNKS}"), "x");
        assert_eq!(jar.read_session(&browser.request(), NOW), None);
    });
}

#[test]
fn total_size_cap_holds_even_for_a_valid_seal() {
    with_jar(|jar| {
        // The writer refuses this size, but the reader must not rely on that.
        let session = session_with(1500);
        let sealed = sealed_session(jar, &session);
        assert!(sealed.len() > MAX_SESSION_LEN && sealed.len() <= MAX_CHUNKS * CHUNK_LEN);
        let browser = resplit(&sealed, MAX_CHUNKS);
        assert_eq!(jar.read_session(&browser.request(), NOW), None);
        let mut unchunked = Browser::default();
        unchunked.set("sp", &sealed);
        assert_eq!(jar.read_session(&unchunked.request(), NOW), None);
    });
}

#[test]
fn oversize_garbage_chunks_are_no_session() {
    with_jar(|jar| {
        let mut browser = Browser::default();
        for index in 0..MAX_CHUNKS {
            browser.set(&format!("sp_{index}"), &"A".repeat(3500));
        }
        assert_eq!(jar.read_session(&browser.request(), NOW), None);
    });
}

#[test]
fn unchunked_cookie_wins_over_chunks() {
    with_jar(|jar| {
        let small = session_with(1);
        let mut browser = browser_with(jar, &session_with(1000));
        let single = browser_with(jar, &small);
        browser.set("sp", &single.cookies["sp"]);
        assert_eq!(
            jar.read_session(&browser.request(), NOW)
                .as_deref()
                .cloned(),
            Some(small)
        );
    });
}
