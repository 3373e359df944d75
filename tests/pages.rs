//! The pages people see, looked at in real Chromium: the README's quickstart
//! run as written, and every page stagepass renders, screenshotted at
//! desktop and phone width (`target/screenshots/pages/`) and checked with
//! axe-core.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use serde_json::Value;
use support::agent::Agent;
use support::world::{WorldOptions, world_with};
use support::*;
use tokio::io::{AsyncBufReadExt, BufReader};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn require_browser() {
    support::op::require_installed("tests/support/browser");
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "Debian chromium is missing: run .ci/test (or .ci/install-prerequisites)"
    );
}

/// Runs `pages.mjs` and returns its JSON report.
async fn look(args: &[&str]) -> Value {
    let script = Path::new(ROOT).join("tests/support/browser/pages.mjs");
    let out = tokio::process::Command::new("node")
        .arg(script)
        .args(args)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "pages.mjs failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn assert_readable(report: &Value) {
    for (name, page) in report["pages"].as_object().unwrap() {
        assert_eq!(
            page["violations"],
            serde_json::json!([]),
            "{name}: serious accessibility violations"
        );
    }
    assert!(
        report.get("overflow").is_none(),
        "pages wider than the screen: {}",
        report["overflow"]
    );
}

/// The command in the README's quickstart block, exactly as written.
fn readme_quickstart_command() -> String {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let marker = readme
        .find("<!-- quickstart")
        .expect("the README marks its quickstart command");
    let block = &readme[marker..];
    let start = block
        .find("```sh\n")
        .expect("a sh block follows the marker")
        + 6;
    let end = block[start..].find("```").unwrap() + start;
    let command = block[start..end].trim();
    assert_eq!(command.lines().count(), 1, "one command: {command}");
    command.to_owned()
}

#[tokio::test]
async fn the_readme_quickstart_signs_in_through_the_builtin_page_in_chromium() {
    require_browser();
    let command = readme_quickstart_command();
    // `exec`: the shell becomes cargo, which becomes stagepass (cargo run
    // replaces itself on Unix), so killing the child stops the server.
    let mut child = tokio::process::Command::new("sh")
        .args(["-c", &format!("exec {command}")])
        .current_dir(ROOT)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Waits for the start-up line that tells a person where to go.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let announced = tokio::time::timeout(Duration::from_secs(300), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("open http://localhost:7000/") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(announced, "`{command}` never said where to open");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let out = screenshots_dir("quickstart");
    let report = look(&[
        "quickstart",
        "--url",
        "http://localhost:7000/",
        "--pick",
        "Alice Example",
        "--out",
        out.to_str().unwrap(),
    ])
    .await;
    assert_eq!(report["heading"], "Signed in");
    assert_eq!(report["finalUrl"], "http://localhost:7000/");
    let text = report["text"].as_str().unwrap();
    assert!(text.contains("user:default/alice"), "{text}");
    assert!(text.contains("x-forwarded-email"), "{text}");
    assert_readable(&report);
    child.kill().await.unwrap();
}

/// A page as a browser gets it, with what the request needs.
async fn page_of(agent: &mut Agent, url: &url::Url, headers: &[(&str, &str)]) -> String {
    let mut with_html = vec![("accept", "text/html")];
    with_html.extend_from_slice(headers);
    let reply = agent.request("GET", url, &with_html, Bytes::new()).await;
    let content_type = reply.headers["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/html"),
        "{url}: {content_type}"
    );
    assert!(
        reply.headers.contains_key("content-security-policy"),
        "{url}"
    );
    reply.text()
}

#[tokio::test]
async fn every_page_reads_well_at_desktop_and_phone_width() {
    require_browser();
    let dir = tempfile::tempdir().unwrap();
    let save = |name: &str, html: String| {
        std::fs::write(dir.path().join(format!("{name}.html")), html).unwrap()
    };

    let w = world_with(WorldOptions::default(), |cfg| {
        use_test_catalog(cfg);
        cfg.stagepass.timeouts.response_headers = Duration::from_millis(300);
    })
    .await;
    let mut alice = Agent::new();
    w.sign_in(&mut alice, "/", "alice").await;
    let mut stranger = Agent::new();
    let refused = w.sign_in(&mut stranger, "/", "mallory").await;
    assert_eq!(refused.status, 403);
    save("no-access-403", refused.text());
    save(
        "upstream-timeout-504",
        page_of(&mut alice, &w.url("/slow"), &[]).await,
    );
    save(
        "sign-out-confirmation",
        page_of(
            &mut alice,
            &w.url("/api/auth/test/logout"),
            &[("sec-fetch-site", "cross-site")],
        )
        .await,
    );
    save(
        "reserved-404",
        page_of(&mut alice, &w.url("/.stagepass/nothing"), &[]).await,
    );
    let big = "x".repeat(20_000);
    save(
        "too-large-431",
        page_of(&mut alice, &w.url("/"), &[("x-big", &big)]).await,
    );
    let post = Agent::new()
        .request(
            "POST",
            &w.url("/form"),
            &[("accept", "text/html")],
            Bytes::new(),
        )
        .await;
    assert_eq!(post.status, 401);
    save("sign-in-required-401", post.text());

    let whoami = world_with(WorldOptions::default(), |cfg| {
        cfg.stagepass.upstream = stagepass::config::WHOAMI_UPSTREAM.parse().unwrap();
        use_test_catalog(cfg);
    })
    .await;
    let mut agent = Agent::new();
    whoami.sign_in(&mut agent, "/", "alice").await;
    save("whoami", page_of(&mut agent, &whoami.url("/"), &[]).await);

    // Upstream down, and the IdP down, as browsers meet them.
    let unreachable = world_with(WorldOptions::default(), |cfg| {
        cfg.stagepass.upstream = "http://127.0.0.1:9".parse().unwrap();
    })
    .await;
    let mut agent = Agent::new();
    unreachable.sign_in(&mut agent, "/", "alice").await;
    let down = page_of(&mut agent, &unreachable.url("/wiki?page=2"), &[]).await;
    assert!(
        down.contains("href=\"/wiki?page=2\">Try again"),
        "a way forward: {down}"
    );
    save("upstream-down-502", down);
    // A target that reads as another host to a browser never becomes a link.
    let odd: url::Url = format!(
        "{}/evil.example/x",
        unreachable.url("/").as_str().trim_end_matches('/')
    )
    .replace("/evil", "//evil")
    .parse()
    .unwrap();
    let page = page_of(&mut agent, &odd, &[]).await;
    assert!(
        page.contains("href=\"/evil.example/x\""),
        "on-site only: {page}"
    );
    let up = upstream::start().await;
    let no_idp = start(config(up.url())).await;
    let req = anonymous("GET", &no_idp.url("/"))
        .header("accept", "text/html")
        .header("host", PUBLIC_HOST)
        .body(Full::default())
        .unwrap();
    save("idp-down-503", send(&client(), req).await.text());

    let out = screenshots_dir("pages");
    let report = look(&[
        "gallery",
        "--dir",
        dir.path().to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .await;
    assert_eq!(report["pages"].as_object().unwrap().len(), 9, "{report}");
    assert_readable(&report);
}
