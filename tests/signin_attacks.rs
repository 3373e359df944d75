//! Sign-in fails closed: every broken or forged ID token, callback or
//! cookie ends in a clear error and no session, never in a session.

mod support;

use bytes::Bytes;
use support::agent::{Agent, location};
use support::world::{SP_HOST, World, WorldOptions, world};
use support::*;

/// Runs a sign-in whose ID token the OP breaks in `mode`; returns the
/// callback reply.
async fn sign_in_with_broken_token(w: &World, mode: &str) -> Reply {
    w.op.misbehave(mode).await;
    let mut agent = Agent::new();
    let reply = w.sign_in(&mut agent, "/", "alice").await;
    assert!(
        agent.cookie(SP_HOST, "stagepass").is_none(),
        "{mode}: no session may be created"
    );
    reply
}

#[tokio::test]
async fn broken_id_tokens_are_rejected() {
    let w = world(WorldOptions::default()).await;
    for mode in [
        "bad-signature",
        "alg-none",
        "hs256-with-public-key",
        "foreign-key",
        "wrong-iss",
        "wrong-aud",
        "multi-aud-no-azp",
        "multi-aud-foreign-azp",
        "foreign-azp",
        "expired",
        "wrong-nonce",
        "bad-at-hash",
    ] {
        let reply = sign_in_with_broken_token(&w, mode).await;
        assert_eq!(reply.status, 401, "{mode}: {}", reply.text());
        assert!(
            reply.text().contains("could not be verified"),
            "{mode}: {}",
            reply.text()
        );
        assert!(
            reply.text().contains("/api/auth/test/start"),
            "{mode}: a retry link is offered"
        );
    }
    assert_eq!(w.up.controls.count(), 0, "nothing reached the app");
    w.op.misbehave("none").await;
    let mut agent = Agent::new();
    assert_eq!(
        w.sign_in(&mut agent, "/", "alice").await.status,
        302,
        "a good token still works"
    );
}

/// An IdP that rotates twice within the JWKS refetch interval: the second
/// sign-in waits out the interval for a fresh key set instead of failing.
#[tokio::test]
async fn a_second_rotation_soon_after_the_first_still_signs_in() {
    let w = world(WorldOptions::default()).await;
    w.op.rotate_keys().await;
    let mut first = Agent::new();
    assert_eq!(w.sign_in(&mut first, "/", "alice").await.status, 302);
    let before = w.op.stats().await["jwks"].as_u64().unwrap();
    w.op.rotate_keys().await;
    let mut second = Agent::new();
    let reply = w.sign_in(&mut second, "/", "bob").await;
    assert_eq!(reply.status, 302, "{}", reply.text());
    assert_eq!(w.op.stats().await["jwks"].as_u64().unwrap() - before, 1);
}

#[tokio::test]
async fn rotated_idp_keys_are_fetched_once() {
    let w = world(WorldOptions::default()).await;
    let mut agent = Agent::new();
    assert_eq!(w.sign_in(&mut agent, "/", "alice").await.status, 302);
    let before = w.op.stats().await["jwks"].as_u64().unwrap();
    w.op.rotate_keys().await;
    let mut agent = Agent::new();
    let reply = w.sign_in(&mut agent, "/", "alice").await;
    assert_eq!(reply.status, 302, "{}", reply.text());
    assert_eq!(
        w.op.stats().await["jwks"].as_u64().unwrap() - before,
        1,
        "one JWKS fetch after the unknown kid"
    );
}

#[tokio::test]
async fn callback_with_foreign_state_fails_closed() {
    let w = world(WorldOptions::default()).await;
    let mut agent = Agent::new();
    let first = agent.get(&w.url("/")).await;
    let authorize = location(&w.url("/"), &first.headers).unwrap();
    let callback = w.log_in_at_idp(&mut agent, &authorize, "alice").await;
    let mut forged = callback.clone();
    let code = callback
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    forged
        .query_pairs_mut()
        .clear()
        .append_pair("code", &code)
        .append_pair("state", "forged-state");
    let reply = agent.get(&forged).await;
    assert_eq!(reply.status, 400, "{}", reply.text());
    assert!(agent.cookie(SP_HOST, "stagepass").is_none());
}

#[tokio::test]
async fn replayed_callback_fails_closed() {
    let w = world(WorldOptions::default()).await;
    let mut agent = Agent::new();
    let first = agent.get(&w.url("/")).await;
    let authorize = location(&w.url("/"), &first.headers).unwrap();
    let callback = w.log_in_at_idp(&mut agent, &authorize, "alice").await;
    let login_cookie = agent.cookie(SP_HOST, "stagepass_login").unwrap().to_owned();
    assert_eq!(agent.get(&callback).await.status, 302);
    // Replay with the same login cookie an attacker might have captured.
    let mut attacker = Agent::new();
    attacker.set_cookie(SP_HOST, "stagepass_login", &login_cookie);
    let replay = attacker.get(&callback).await;
    assert!(
        replay.status == 400 || replay.status == 401,
        "{} {}",
        replay.status,
        replay.text()
    );
    assert!(attacker.cookie(SP_HOST, "stagepass").is_none());
    // The browser that signed in cannot reuse it either: its flow is consumed.
    agent.clear_cookies(SP_HOST);
    assert_eq!(agent.get(&callback).await.status, 400);
}

#[tokio::test]
async fn idp_error_gives_a_page_with_a_retry_link() {
    let w = world(WorldOptions::default()).await;
    let mut agent = Agent::new();
    let first = agent.get(&w.url("/wiki")).await;
    let authorize = location(&w.url("/"), &first.headers).unwrap();
    let (form_url, _) = agent.follow(&authorize, &["127.0.0.2"]).await;
    let abort = form_url
        .join(&format!("{}/abort", form_url.path()))
        .unwrap();
    let (last, reply) = agent.follow(&abort, &["127.0.0.2"]).await;
    let callback = location(&last, &reply.headers).unwrap();
    assert!(callback.query().unwrap().contains("error=access_denied"));
    let page = agent.get(&callback).await;
    assert_eq!(page.status, 401);
    let text = page.text();
    assert!(
        text.contains("access_denied") && text.contains("Try signing in again"),
        "{text}"
    );
    assert!(
        text.contains("redirectUrl="),
        "retry returns to the page asked for: {text}"
    );
}

#[tokio::test]
async fn several_tabs_can_sign_in_at_once() {
    let w = world(WorldOptions::default()).await;
    let mut agent = Agent::new();
    let mut callbacks = Vec::new();
    for page in ["/one", "/two", "/three"] {
        let first = agent.get(&w.url(page)).await;
        let authorize = location(&w.url("/"), &first.headers).unwrap();
        callbacks.push((page, w.log_in_at_idp(&mut agent, &authorize, "alice").await));
    }
    assert_eq!(
        agent.cookie_names(SP_HOST),
        ["stagepass_login"],
        "one login cookie, however many tabs"
    );
    for (page, callback) in callbacks.into_iter().rev() {
        let done = agent.get(&callback).await;
        assert_eq!(done.status, 302, "{page}: {}", done.text());
        assert_eq!(location(&w.url("/"), &done.headers).unwrap(), w.url(page));
    }
}

#[tokio::test]
async fn oversized_chunked_cookie_is_no_session() {
    let w = world(WorldOptions::default()).await;
    let chunks: Vec<String> = (0..12)
        .map(|i| format!("stagepass_{i}={}", "A".repeat(1000)))
        .collect();
    let req = anonymous("GET", w.url("/api/x").as_str())
        .header("cookie", chunks.join("; "))
        .header("accept", "application/json")
        .body(Default::default())
        .unwrap();
    let reply = send(&client(), req).await;
    assert_eq!(reply.status, 401);
    let mut agent = Agent::new();
    let browser = agent
        .request(
            "GET",
            &w.url("/page"),
            &[("accept", "text/html"), ("cookie", &chunks.join("; "))],
            Bytes::new(),
        )
        .await;
    assert_eq!(browser.status, 302, "a browser is sent to sign in");
}

#[tokio::test]
async fn idp_outage_gives_503_not_a_redirect_loop() {
    let w = world(WorldOptions::default()).await;
    let mut agent = Agent::new();
    let first = agent.get(&w.url("/")).await;
    let authorize = location(&w.url("/"), &first.headers).unwrap();
    let callback = w.log_in_at_idp(&mut agent, &authorize, "alice").await;
    w.op.set_down(true).await;
    let reply = agent.get(&callback).await;
    assert!(
        reply.status == 503 || reply.status == 502,
        "{} {}",
        reply.status,
        reply.text()
    );
    assert!(agent.cookie(SP_HOST, "stagepass").is_none());
}

/// An IdP answering with `response_mode=form_post` sends its browser back
/// with a cross-site POST, which carries only `SameSite=None` cookies. Over
/// https the login cookie is one, and the sign-in completes.
#[tokio::test]
async fn form_post_callback_signs_in_over_https() {
    let w = world(WorldOptions {
        tls: true,
        ..WorldOptions::default()
    })
    .await;
    let mut agent = Agent::trusting(w.tls_roots.clone().unwrap());
    let done = form_post_sign_in(&w, &mut agent).await;
    assert_eq!(done.status, 302, "{}", done.text());
    assert_eq!(
        location(&w.url("/"), &done.headers).unwrap(),
        w.url("/reports?y=2026")
    );
    assert!(agent.cookie("localhost", "stagepass").is_some());
}

/// Over plain http a browser refuses `SameSite=None` without `Secure`, so
/// the login cookie is `Lax` and stays behind on the IdP's cross-site POST
/// (the README says form_post needs https): the callback says the sign-in
/// cannot be finished, with a way to start again, and signs nobody in.
#[tokio::test]
async fn form_post_callback_over_plain_http_is_refused_with_a_way_back() {
    let w = world(WorldOptions::default()).await;
    let mut agent = Agent::new();
    let done = form_post_sign_in(&w, &mut agent).await;
    assert!(
        done.status.is_client_error(),
        "{} {}",
        done.status,
        done.text()
    );
    assert!(
        done.text().contains("/api/auth/test/start") || done.text().contains("Sign in again"),
        "{}",
        done.text()
    );
    assert!(agent.cookie(SP_HOST, "stagepass").is_none());
}

/// Starts a sign-in at `/reports?y=2026`, logs in at the IdP and answers as
/// an IdP with `response_mode=form_post` does: the callback's parameters as
/// a cross-site POST body. The callback's reply.
async fn form_post_sign_in(w: &World, agent: &mut Agent) -> support::Reply {
    let first = agent.get(&w.url("/reports?y=2026")).await;
    let authorize = location(&w.url("/"), &first.headers).unwrap();
    let callback = w.log_in_at_idp(agent, &authorize, "alice").await;
    let fields: Vec<(String, String)> = callback.query_pairs().into_owned().collect();
    let fields: Vec<(&str, &str)> = (fields.iter())
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut target = callback.clone();
    target.set_query(None);
    agent.post_form_cross_site(&target, &fields).await
}

/// A discovery document served at one address that names another issuer
/// (an IdP mix-up, or a hostile document on a shared host) is refused:
/// stagepass stays not ready and says why, and nobody is sent to sign in.
#[tokio::test]
async fn a_discovery_document_naming_another_issuer_is_refused() {
    let w = world(WorldOptions::default()).await;
    let document = get(w.op.metadata_url().as_str()).await.text();
    let elsewhere = serve_at("/tenant-b/.well-known/openid-configuration", document).await;
    let mut cfg = config(w.up.url());
    cfg.auth.providers.get_mut("test").unwrap().metadata_url = elsewhere;
    let sp = start(cfg).await;
    let mut reason = String::new();
    for _ in 0..500 {
        let ready = get(&sp.admin_url("/readyz")).await;
        assert_ne!(ready.status, 200, "must never become ready");
        reason = ready.text();
        if reason.contains("Discovery 4.3") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(reason.contains("Discovery 4.3"), "{reason}");
    assert!(
        reason.contains(w.op.issuer.as_str().trim_end_matches('/')),
        "{reason}"
    );
    let page = anonymous("GET", &sp.url("/"))
        .header("accept", "text/html")
        // As browsers reach it (publicUrl's host), or it is first moved there.
        .header("host", PUBLIC_HOST)
        .body(Default::default())
        .unwrap();
    assert_eq!(send(&client(), page).await.status, 503);
}

/// A one-route HTTP server answering `path` with `body` as JSON.
async fn serve_at(path: &'static str, body: String) -> url::Url {
    use hyper::service::service_fn;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}{path}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let body = body.clone();
            let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let status = if req.uri().path() == path { 200 } else { 404 };
                let response = http::Response::builder()
                    .status(status)
                    .header("content-type", "application/json")
                    .body(http_body_util::Full::new(Bytes::from(body.clone())));
                async move { response }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
            );
        }
    });
    url.parse().unwrap()
}

/// A token endpoint that fails (500 `server_error`: an outage, 503) or
/// answers garbage (an HTML page with 200: 502): a clear page with a retry
/// link, no session, no loop, and the next sign-in works once the IdP
/// recovers.
#[tokio::test]
async fn a_failing_token_endpoint_gives_a_clear_error() {
    let w = world(WorldOptions::default()).await;
    for (mode, status) in [("token-500", 503), ("token-garbage", 502)] {
        w.op.misbehave(mode).await;
        let mut agent = Agent::new();
        let reply = w.sign_in(&mut agent, "/", "alice").await;
        assert_eq!(reply.status, status, "{mode}: {}", reply.text());
        assert!(
            reply.text().contains("identity provider"),
            "{mode}: {}",
            reply.text()
        );
        assert!(
            reply.text().contains("/api/auth/test/start"),
            "{mode}: retry link"
        );
        assert!(agent.cookie(SP_HOST, "stagepass").is_none(), "{mode}");
    }
    w.op.misbehave("none").await;
    let mut agent = Agent::new();
    assert_eq!(w.sign_in(&mut agent, "/", "alice").await.status, 302);
    assert_eq!(get(&w.sp.admin_url("/readyz")).await.status, 200);
}
