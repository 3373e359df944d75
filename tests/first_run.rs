//! What a person meets on the way in: the public host name, pages with a way
//! forward, request ids to quote, and answers API clients can act on.

mod support;

use bytes::Bytes;
use stagepass::config::{CatalogConfig, CatalogSource};
use support::agent::{Agent, location};
use support::world::{OP_HOST, SP_HOST, WorldOptions, world_on, world_with};
use support::*;
use tokio::net::TcpListener;
use url::Url;

#[tokio::test]
async fn a_browser_on_another_host_name_is_moved_to_the_public_one_once() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let public: Url = format!("http://localhost:{port}").parse().unwrap();
    let options = WorldOptions {
        public_url: Some(public.clone()),
        ..WorldOptions::default()
    };
    let _w = world_on(listener, options, |_| {}).await;
    let mut agent = Agent::new();
    let by_ip: Url = format!("http://127.0.0.1:{port}/docs?x=1").parse().unwrap();
    let moved = agent.get(&by_ip).await;
    assert_eq!(moved.status, 302);
    assert_eq!(
        location(&by_ip, &moved.headers),
        Some(public.join("/docs?x=1").unwrap())
    );
    // Under the public name, the sign-in starts.
    let at_public = agent.get(&public.join("/docs?x=1").unwrap()).await;
    let to_idp = location(&public, &at_public.headers).unwrap();
    assert_eq!(to_idp.host_str(), Some(OP_HOST));
    // Back under the IP within the minute (a proxy rewriting Host looks the
    // same): no second move, so never a loop.
    let again = agent.get(&by_ip).await;
    assert_eq!(
        location(&by_ip, &again.headers).unwrap().host_str(),
        Some(OP_HOST)
    );
    // API clients are never moved: they get their 401.
    let api = agent
        .request(
            "GET",
            &by_ip,
            &[("accept", "application/json")],
            Bytes::new(),
        )
        .await;
    assert_eq!(api.status, 401);
}

#[tokio::test]
async fn an_api_client_gets_the_sign_in_url_in_the_body_and_a_request_id() {
    let w = support::world::world(WorldOptions::default()).await;
    let mut agent = Agent::new();
    let reply = agent
        .request(
            "GET",
            &w.url("/api/x"),
            &[("accept", "application/json")],
            Bytes::new(),
        )
        .await;
    assert_eq!(reply.status, 401);
    let body = reply.json();
    assert_eq!(body["signInUrl"], w.url("/api/auth/test/start").as_str());
    assert_eq!(body["error"]["name"], "unauthenticated");
    assert!(reply.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn the_request_id_reaches_the_app_and_a_forged_one_does_not() {
    let w = support::world::world(WorldOptions::default()).await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    // Naming the header in `Connection` (hop-by-hop) does not take the id
    // away from the app either, and the `_` spelling, which a CGI-style app
    // reads as the same variable, does not reach it.
    let forgeries: [&[(&str, &str)]; 3] = [
        &[("x-request-id", "forged-id")],
        &[
            ("x-request-id", "forged-id"),
            ("connection", "x-request-id"),
        ],
        &[("x_request_id", "forged-id")],
    ];
    for headers in forgeries {
        let reply = agent
            .request("GET", &w.url("/x"), headers, Bytes::new())
            .await;
        assert_eq!(reply.status, 200);
        let seen = w.up.controls.last();
        let sent = seen.header("x-request-id").expect("an id goes upstream");
        assert_ne!(sent, "forged-id", "a client does not pick ids");
        assert_eq!(seen.header("x_request_id"), None, "no second spelling");
        assert_eq!(
            reply.headers["x-request-id"], sent,
            "the same id comes back"
        );
    }
}

#[tokio::test]
async fn a_trusted_proxys_request_id_is_kept_end_to_end() {
    let w = world_with(WorldOptions::default(), |cfg| {
        trust_loopback(cfg);
    })
    .await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    agent
        .request(
            "GET",
            &w.url("/x"),
            &[("x-request-id", "edge-42")],
            Bytes::new(),
        )
        .await;
    assert_eq!(w.up.controls.last().header("x-request-id"), Some("edge-42"));
}

#[tokio::test]
async fn no_access_ends_the_session_and_offers_another_account_or_sign_out() {
    let w = world_with(WorldOptions::default(), |cfg| {
        use_test_catalog(cfg);
    })
    .await;
    let mut agent = Agent::new();
    let refused = w.sign_in(&mut agent, "/", "mallory").await;
    assert_eq!(refused.status, 403);
    let page = refused.text();
    assert!(page.contains("No access"), "{page}");
    assert!(page.contains("Request <code>"), "an id to quote: {page}");
    let policy = refused.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    // "Sign in as someone else" makes the IdP ask which account.
    let other = "/api/auth/test/start?prompt=select_account";
    assert!(page.contains(&other.replace('&', "&amp;")), "{page}");
    let start = agent.get(&w.url(other)).await;
    let authorize = location(&w.url("/"), &start.headers).unwrap();
    assert!(
        authorize
            .query_pairs()
            .any(|(k, v)| k == "prompt" && v == "select_account"),
        "{authorize}"
    );
    assert!(
        page.contains("/api/auth/test/logout"),
        "and a way out: {page}"
    );
    assert!(agent.cookie(SP_HOST, "stagepass").is_none());
}

#[tokio::test]
async fn the_builtin_whoami_app_shows_what_an_app_would_receive_but_no_token() {
    let w = world_with(WorldOptions::default(), |cfg| {
        cfg.stagepass.upstream = stagepass::config::WHOAMI_UPSTREAM.parse().unwrap();
        use_test_catalog(cfg);
    })
    .await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    let page = agent.get(&w.url("/anything")).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("signed in as <strong>user:default/alice</strong>"),
        "{html}"
    );
    assert!(html.contains("x-forwarded-email"), "{html}");
    assert!(
        html.contains("group:default/team-a"),
        "the token's claims: {html}"
    );
    assert!(
        html.contains("/api/auth/test/logout"),
        "a sign-out button: {html}"
    );
    let json = agent
        .request(
            "GET",
            &w.url("/x"),
            &[("accept", "application/json")],
            Bytes::new(),
        )
        .await
        .json();
    let headers = &json["headers"];
    assert_eq!(headers["x-forwarded-email"], "alice@example.com");
    assert_eq!(headers["authorization"]["jwt"]["sub"], "user:default/alice");
    assert_eq!(
        headers["x-stagepass-assertion"]["jwt"]["email"],
        "alice@example.com"
    );
    // Never a token itself: nothing that looks like a JWT is on the page.
    let jwt_like = regex_free_jwt_search(&html);
    assert!(!jwt_like, "a raw token leaked: {html}");
    assert_eq!(w.up.controls.count(), 0, "no request left stagepass");
}

/// Whether `text` holds three dot-separated base64url runs of JWT length.
fn regex_free_jwt_search(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .any(|word| {
            let parts: Vec<&str> = word.split('.').collect();
            parts.len() == 3 && parts.iter().all(|p| p.len() >= 16)
        })
}

#[tokio::test]
async fn someone_the_catalog_drops_loses_the_session_and_can_switch_accounts() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = dir.path().join("catalog.yaml");
    let people = std::fs::read_to_string(support::backstage::CATALOG).unwrap();
    std::fs::write(&catalog, &people).unwrap();
    let path = catalog.clone();
    let w = world_with(WorldOptions::default(), move |cfg| {
        let mut source = CatalogConfig::new(CatalogSource::File(path));
        source.fresh_for = std::time::Duration::ZERO;
        cfg.stagepass.catalog = Some(source);
        cfg.auth.providers.get_mut("test").unwrap().resolvers = email_resolver();
    })
    .await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    assert_eq!(agent.get(&w.url("/wiki")).await.status, 200);
    // Alice leaves the catalog: no more User entity with her email.
    std::fs::write(
        &catalog,
        people.replace("alice@example.com", "gone@example.com"),
    )
    .unwrap();
    // Wait until stagepass has re-read the file (it checks every second).
    let mut refused = None;
    for _ in 0..100 {
        let reply = agent.get(&w.url("/wiki")).await;
        if reply.status == 403 {
            refused = Some(reply);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let refused = refused.expect("the dropped person is refused");
    assert!(refused.text().contains("Sign in as someone else"));
    assert!(
        agent.cookie(SP_HOST, "stagepass").is_none(),
        "the 403 ended the session: {:?}",
        refused.headers.get_all("set-cookie")
    );
    // The next visit starts a sign-in instead of repeating the 403.
    let next = agent.get(&w.url("/wiki")).await;
    assert_eq!(next.status, 302);
    assert_eq!(
        location(&w.url("/"), &next.headers).unwrap().host_str(),
        Some(OP_HOST)
    );
}
