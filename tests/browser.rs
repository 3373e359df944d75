//! One sign-in with real Chromium, end to end: stagepass, the real OpenID
//! Provider, and a browser that follows redirects and keeps cookies as users'
//! browsers do.

mod support;

use std::path::Path;

use support::world::{WorldOptions, world};

#[tokio::test]
async fn chromium_signs_in_and_lands_on_the_page_it_asked_for() {
    support::op::require_installed("tests/support/browser");
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Debian chromium is missing: run .ci/install-prerequisites"
    );
    let w = world(WorldOptions::default()).await;
    let target = w.url("/catalog/default/component/app?tab=docs");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/support/browser/signin.mjs"
    );
    let out = tokio::process::Command::new("node")
        .args([script, "--url", target.as_str(), "--login", "alice"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "browser sign-in failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["finalUrl"], target.as_str());
    assert_eq!(result["status"], 200);
    let cookies: Vec<&str> = result["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert_eq!(
        cookies,
        ["stagepass"],
        "one session cookie, login state consumed"
    );
    let seen = w.up.controls.last();
    assert_eq!(seen.uri, "/catalog/default/component/app?tab=docs");
    assert_eq!(seen.header("x-forwarded-user"), Some("alice"));
    assert_eq!(seen.header("x-forwarded-email"), Some("alice@example.com"));
    assert!(
        result["bodyText"]
            .as_str()
            .unwrap()
            .contains("/catalog/default/component/app?tab=docs")
    );
}
