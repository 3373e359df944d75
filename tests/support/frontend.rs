//! A real Backstage frontend (npm `@backstage/*`, pinned in
//! tests/support/frontend/package.json), bundled at start-up and served by a
//! small upstream that forwards `/api/*` to a real Backstage backend; and
//! real Chromium driving it (`drive.mjs`).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;
use tokio::process::{Child, Command};
use url::Url;

/// Which of Backstage's two frontend systems the app is built with.
#[derive(Clone, Copy)]
pub enum App {
    /// `@backstage/app-defaults` `createApp` with `ProxiedSignInPage`.
    Legacy,
    /// `@backstage/frontend-defaults` with a `SignInPageBlueprint`.
    NewFrontendSystem,
}

impl App {
    fn arg(self) -> &'static str {
        match self {
            App::Legacy => "legacy",
            App::NewFrontendSystem => "next",
        }
    }
}

pub struct Frontend {
    pub url: Url,
    _child: Child,
}

/// Serves `app` for a browser that reaches it at `public_url` (stagepass),
/// with `/api/*` forwarded to `backend`. `provider` is stagepass's.
pub async fn start(app: App, backend: &Url, provider: &str, public_url: &Url) -> Frontend {
    super::op::require_installed("tests/support/frontend");
    let mut child = Command::new("node")
        .arg(fixture("server.mjs"))
        .args(["--port", "0", "--app", app.arg(), "--provider", provider])
        .args([
            "--backend",
            backend.as_str(),
            "--base-url",
            public_url.as_str(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let ready = super::ready_line(&mut child)
        .await
        .expect("the frontend server exited before it was ready");
    let port = ready["port"].as_u64().unwrap();
    Frontend {
        url: format!("http://127.0.0.1:{port}").parse().unwrap(),
        _child: child,
    }
}

/// Signs in through the app at `url` in Chromium (`mode`: `oidc` or
/// `guest`), reads what the app shows, signs out with the app's own
/// sign-out and reports what follows. Screenshots of each step go to
/// `target/screenshots/<name>/`.
pub async fn drive(url: &Url, mode: &str, login: &str, name: &str) -> Value {
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Debian chromium is missing: run .ci/install-prerequisites"
    );
    let shots = super::screenshots_dir(name);
    let out = Command::new("node")
        .arg(fixture("drive.mjs"))
        .args(["--url", url.as_str(), "--mode", mode, "--login", login])
        .arg("--screenshots")
        .arg(&shots)
        .output()
        .await
        .expect("node runs");
    assert!(
        out.status.success(),
        "the browser run failed (screenshots in {}):\n{}",
        shots.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "drive.mjs printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn fixture(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/support/frontend")
        .join(file)
}
