//! Any request path: normalising never panics, and a path it accepts has no
//! dot segments, no empty segments, normalises to itself, and stays under
//! any prefix it is joined to.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stagepass::proxy::path::normalize;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = format!("/{text}");
    let Ok(normal) = normalize(&path) else {
        return;
    };
    assert!(normal.starts_with('/'), "{normal}");
    assert!(!normal.contains("//"), "{normal}");
    assert!(
        normal.split('/').all(|s| s != "." && s != ".."),
        "{normal}"
    );
    assert_eq!(normalize(&normal).as_deref(), Ok(normal.as_str()), "stable");
    let behind = normalize(&format!("/app-a{normal}")).unwrap();
    assert!(behind.starts_with("/app-a/") || behind == "/app-a", "{behind}");
});
