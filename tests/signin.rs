//! Sign-in against a real OpenID Provider: the full flow, return to the
//! original URL, session reuse, refresh, sign-out and secret rotation.

mod support;

use bytes::Bytes;
use support::agent::{Agent, location};
use support::world::{SP_HOST, WorldOptions, world, world_with};
use support::*;

#[tokio::test]
async fn browser_signs_in_and_returns_to_the_page_it_asked_for() {
    let w = world(WorldOptions::default()).await;
    let mut agent = Agent::new();
    let callback = w
        .sign_in(&mut agent, "/catalog/default?tab=overview", "alice")
        .await;
    assert_eq!(callback.status, 302);
    let back = location(&w.url("/"), &callback.headers).unwrap();
    assert_eq!(back, w.url("/catalog/default?tab=overview"));
    assert!(
        agent.cookie(SP_HOST, "stagepass").is_some(),
        "session cookie set: {:?}",
        agent.cookie_names(SP_HOST)
    );
    assert!(
        agent.cookie(SP_HOST, "stagepass_login").is_none(),
        "login state is consumed"
    );
    let cookie = callback
        .headers
        .get_all("set-cookie")
        .iter()
        .find(|c| c.to_str().unwrap().starts_with("stagepass="))
        .unwrap();
    let cookie = cookie.to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "publicUrl is http");

    let page = agent.get(&back).await;
    assert_eq!(page.status, 200);
    let seen = w.up.controls.last();
    assert_eq!(seen.uri, "/catalog/default?tab=overview");
    assert_eq!(seen.header("x-forwarded-user"), Some("alice"));
    assert_eq!(seen.header("x-forwarded-email"), Some("alice@example.com"));
    assert!(
        seen.header("cookie")
            .is_none_or(|c| !c.contains("stagepass")),
        "session cookie never reaches the app"
    );
}

#[tokio::test]
async fn session_is_reused_without_asking_the_idp() {
    let w = world(WorldOptions::default()).await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    let before = w.op.stats().await;
    for _ in 0..5 {
        let reply = agent.api_get(&w.url("/api/x")).await;
        assert_eq!(reply.status, 200);
    }
    assert_eq!(
        w.op.stats().await,
        before,
        "no IdP calls for a live session"
    );
    assert_eq!(w.up.controls.count(), 5);
}

#[tokio::test]
async fn start_endpoint_returns_only_to_allowed_places() {
    let w = world(WorldOptions::default()).await;
    for (asked, expected) in [
        ("/docs?x=1", "/docs?x=1"),
        ("//evil.com/x", "/"),
        ("https://evil.com/", "/"),
        ("/\\evil.com", "/"),
    ] {
        let mut agent = Agent::new();
        let start = w.url(&format!(
            "/api/auth/test/start?redirectUrl={}",
            urlencode(asked)
        ));
        let first = agent.get(&start).await;
        assert_eq!(first.status, 302);
        let authorize = location(&start, &first.headers).unwrap();
        let callback = w.log_in_at_idp(&mut agent, &authorize, "alice").await;
        let done = agent.get(&callback).await;
        assert_eq!(
            location(&w.url("/"), &done.headers).unwrap(),
            w.url(expected),
            "{asked}"
        );
    }
}

#[tokio::test]
async fn refresh_renews_tokens_once_for_concurrent_requests() {
    // Access tokens that are already within the refresh margin.
    let w = world(WorldOptions {
        access_token_ttl: 30,
        ..Default::default()
    })
    .await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    let cookie = format!("stagepass={}", agent.cookie(SP_HOST, "stagepass").unwrap());
    let before = w.op.stats().await["token"].as_u64().unwrap();
    let calls = (0..8).map(|_| {
        let url = w.url("/api/x").to_string();
        let cookie = cookie.clone();
        tokio::spawn(async move {
            let req = anonymous("GET", &url)
                .header("cookie", cookie)
                .header("accept", "application/json")
                .body(Default::default())
                .unwrap();
            send(&client(), req).await
        })
    });
    let replies: Vec<Reply> = futures_util::future::join_all(calls)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    for reply in &replies {
        assert_eq!(reply.status, 200);
        assert!(
            reply
                .headers
                .get_all("set-cookie")
                .iter()
                .any(|c| c.to_str().unwrap().starts_with("stagepass=")),
            "renewed session is sent back"
        );
    }
    let after = w.op.stats().await["token"].as_u64().unwrap();
    assert_eq!(after - before, 1, "eight concurrent requests, one refresh");
}

#[tokio::test]
async fn refused_refresh_ends_the_session() {
    let w = world(WorldOptions {
        access_token_ttl: 30,
        ..Default::default()
    })
    .await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    w.op.misbehave("refresh-invalid-grant").await;
    let reply = agent.api_get(&w.url("/api/x")).await;
    assert_eq!(reply.status, 401);
    assert!(
        agent.cookie(SP_HOST, "stagepass").is_none(),
        "session cookie deleted"
    );
    assert_eq!(w.up.controls.count(), 0);
}

#[tokio::test]
async fn idp_outage_during_refresh_keeps_the_session() {
    let w = world(WorldOptions {
        access_token_ttl: 30,
        ..Default::default()
    })
    .await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    w.op.set_down(true).await;
    let during = agent.api_get(&w.url("/api/x")).await;
    assert_eq!(
        during.status, 200,
        "signed-in people keep working through an IdP outage"
    );
    assert!(agent.cookie(SP_HOST, "stagepass").is_some());
    w.op.set_down(false).await;
    let before = w.op.stats().await["token"].as_u64().unwrap();
    let after_outage = agent.api_get(&w.url("/api/x")).await;
    assert_eq!(after_outage.status, 200);
    let after = w.op.stats().await["token"].as_u64().unwrap();
    assert_eq!(
        after - before,
        1,
        "the failed refresh was not cached: it is retried"
    );
}

#[tokio::test]
async fn api_sign_out_clears_every_cookie() {
    let w = world(WorldOptions::default()).await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    let logout = w.url("/api/auth/test/logout");
    let refused = agent.request("POST", &logout, &[], Bytes::new()).await;
    assert_eq!(refused.status, 403, "X-Requested-With is required");
    assert!(agent.cookie(SP_HOST, "stagepass").is_some());
    let done = agent
        .request(
            "POST",
            &logout,
            &[("x-requested-with", "XMLHttpRequest")],
            Bytes::new(),
        )
        .await;
    assert_eq!(done.status, 200);
    assert!(
        agent.cookie_names(SP_HOST).is_empty(),
        "{:?}",
        agent.cookie_names(SP_HOST)
    );
    let after = agent.api_get(&w.url("/api/x")).await;
    assert_eq!(after.status, 401);
}

#[tokio::test]
async fn browser_sign_out_ends_the_idp_session_too() {
    let w = world(WorldOptions::default()).await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    // A link in the app, followed by the browser.
    let reply = agent
        .request(
            "GET",
            &w.url("/api/auth/test/logout"),
            &[("accept", "text/html"), ("sec-fetch-site", "same-origin")],
            Bytes::new(),
        )
        .await;
    assert_eq!(reply.status, 302);
    let end_session = location(&w.url("/"), &reply.headers).unwrap();
    assert_eq!(end_session.host_str(), Some("127.0.0.2"));
    let query: std::collections::HashMap<_, _> = end_session.query_pairs().into_owned().collect();
    assert!(query.contains_key("id_token_hint"));
    assert_eq!(query["post_logout_redirect_uri"], w.url("/").as_str());
    assert!(agent.cookie_names(SP_HOST).is_empty());
}

#[tokio::test]
async fn another_site_cannot_sign_people_out_with_a_link() {
    let w = world(WorldOptions::default()).await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    let logout = w.url("/api/auth/test/logout");
    for site in [Some("cross-site"), Some("same-site"), None] {
        let mut headers = vec![("accept", "text/html")];
        headers.extend(site.map(|s| ("sec-fetch-site", s)));
        let asked = agent.request("GET", &logout, &headers, Bytes::new()).await;
        assert_eq!(asked.status, 200, "{site:?}: a page that asks, no redirect");
        assert!(asked.text().contains("method=\"post\""), "{}", asked.text());
        assert_eq!(
            asked.headers.get("x-frame-options").unwrap(),
            "DENY",
            "the button cannot be clickjacked"
        );
        assert!(agent.cookie(SP_HOST, "stagepass").is_some(), "{site:?}");
    }
    // Another site's form post: refused, still signed in.
    let foreign = agent
        .request(
            "POST",
            &logout,
            &[
                ("origin", "https://evil.example"),
                ("sec-fetch-site", "cross-site"),
            ],
            Bytes::new(),
        )
        .await;
    assert_eq!(foreign.status, 403);
    assert!(agent.cookie(SP_HOST, "stagepass").is_some());
    // The confirmation page's button: signed out of stagepass and the IdP.
    let origin = w.url("/").origin().ascii_serialization();
    let confirmed = agent
        .request(
            "POST",
            &logout,
            &[("origin", origin.as_str())],
            Bytes::new(),
        )
        .await;
    assert_eq!(confirmed.status, 302, "{}", confirmed.text());
    let end_session = location(&w.url("/"), &confirmed.headers).unwrap();
    assert_eq!(end_session.host_str(), Some("127.0.0.2"));
    assert!(agent.cookie_names(SP_HOST).is_empty());
}

#[tokio::test]
async fn refresh_endpoint_answers_401_without_session_and_profile_with_one() {
    let w = world(WorldOptions::default()).await;
    let mut agent = Agent::new();
    let refresh = w.url("/api/auth/test/refresh");
    let anonymous = agent.xhr_get(&refresh).await;
    assert_eq!(anonymous.status, 401);
    w.sign_in(&mut agent, "/", "alice").await;
    let reply = agent.xhr_get(&refresh).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json()["profile"]["email"], "alice@example.com");
    let without_header = agent.api_get(&refresh).await;
    assert_eq!(
        without_header.status, 401,
        "X-Requested-With is required, as in Backstage"
    );
    assert!(without_header.json().get("backstageIdentity").is_none());
}

#[tokio::test]
async fn rotating_the_session_secret_logs_nobody_out() {
    let w = world(WorldOptions::default()).await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    let old_cookie = agent.cookie(SP_HOST, "stagepass").unwrap().to_owned();
    // A second replica (same publicUrl, provider and client) with the
    // rotated secret list: new first, old second.
    let rotated = world_with(WorldOptions::default(), |cfg| {
        cfg.stagepass.public_url = w.public_url.clone();
        cfg.auth.session_secrets = vec![
            stagepass::config::Secret::new("a-brand-new-session-secret-of-32-chars-or-more"),
            stagepass::config::Secret::new(SESSION_SECRET),
        ];
    })
    .await;
    let req = anonymous("GET", rotated.url("/api/x").as_str())
        .header("cookie", format!("stagepass={old_cookie}"))
        .header("accept", "application/json")
        .body(Default::default())
        .unwrap();
    assert_eq!(
        send(&client(), req).await.status,
        200,
        "old secret still opens"
    );
    // A replica that dropped the old secret no longer accepts the cookie.
    let dropped = world_with(WorldOptions::default(), |cfg| {
        cfg.stagepass.public_url = w.public_url.clone();
        cfg.auth.session_secrets = vec![stagepass::config::Secret::new(
            "a-brand-new-session-secret-of-32-chars-or-more",
        )];
    })
    .await;
    let req = anonymous("GET", dropped.url("/api/x").as_str())
        .header("cookie", format!("stagepass={old_cookie}"))
        .header("accept", "application/json")
        .body(Default::default())
        .unwrap();
    assert_eq!(send(&client(), req).await.status, 401);
}

#[tokio::test]
async fn es256_ps256_and_client_secret_post_work() {
    for (alg, post) in [("ES256", false), ("PS256", true)] {
        let w = world(WorldOptions {
            alg,
            client_secret_post: post,
            ..Default::default()
        })
        .await;
        let mut agent = Agent::new();
        let done = w.sign_in(&mut agent, "/", "bob").await;
        assert_eq!(done.status, 302, "{alg}: {}", done.text());
        assert!(agent.cookie(SP_HOST, "stagepass").is_some(), "{alg}");
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The OpenID Provider these tests sign in at is real (`oidc-provider`), but
/// its accounts, controls and misbehaviours are ours: its own self-test
/// holds them to what the tests assume (the code flow with PKCE, refresh,
/// the claims real IdPs send, every control of `/__test/`).
#[tokio::test]
async fn the_test_openid_provider_passes_its_self_test() {
    support::op::require_installed("tests/support/op");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = tokio::process::Command::new("node")
        .arg(root.join("tests/support/op/selftest.mjs"))
        .output()
        .await
        .expect("node runs");
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(report.contains(" 0 failed"), "{report}");
}

/// The test browser decides what a `Set-Cookie` deletes from its attributes,
/// as browsers do: a sealed session whose value happens to hold "1970" or
/// "Max-Age=0" is kept (one did, and a sign-in looked failed).
#[test]
fn the_test_browser_reads_cookie_attributes_not_values() {
    let url: url::Url = format!("http://{SP_HOST}/").parse().unwrap();
    let mut agent = Agent::new();
    let mut headers = http::HeaderMap::new();
    for set_cookie in [
        "kept=abc1970def; HttpOnly; Max-Age=86400",
        "also_kept=x-Max-Age=0-y; Path=/",
        "gone=; Max-Age=0",
        "expired=; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        "max_age_wins=1; Max-Age=60; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
    ] {
        headers.append("set-cookie", set_cookie.parse().unwrap());
    }
    agent.set_cookie(SP_HOST, "gone", "old");
    agent.set_cookie(SP_HOST, "expired", "old");
    agent.store_cookies(&url, &headers);
    let mut names = agent.cookie_names(SP_HOST);
    names.sort();
    assert_eq!(names, ["also_kept", "kept", "max_age_wins"]);
}
