//! Any `Cookie` header: reading a session never panics and never yields a
//! session (only stagepass's own sealed values open).
#![no_main]

use http::{HeaderMap, HeaderValue, header::COOKIE};
use libfuzzer_sys::fuzz_target;
use stagepass::config::Secret;
use stagepass::session::{CookieSettings, SessionJar, SessionKeys};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(COOKIE, value);
    let keys = SessionKeys::from_secrets(
        &[Secret::new("a-fuzzing-secret-of-at-least-32-characters")],
        "https://portal.example\noidc\nportal",
    )
    .unwrap();
    let settings = CookieSettings::new("stagepass", true).unwrap();
    let jar = SessionJar::new(&keys, &settings);
    assert!(jar.read_session(&headers, 1_700_000_000).is_none());
    let _ = jar.clear_all(&headers);
});
