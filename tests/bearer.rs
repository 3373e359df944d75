//! API clients with bearer tokens, against the real OpenID Provider: a CI
//! job's client-credentials token is accepted as that machine (route rules
//! and all), tokens for another audience, expired, HS256 or random are
//! refused with RFC 6750's challenge, and nothing with a bearer token is
//! ever sent to sign in.

mod support;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use stagepass::config::{AllowConfig, Config, RouteBearer, RouteConfig};
use support::op::{API_AUDIENCE, MACHINE_ID, OTHER_RESOURCE};
use support::world::{World, WorldOptions, world_with};
use support::*;

fn route(path: &str, allow: AllowConfig) -> RouteConfig {
    RouteConfig {
        allow: Some(allow),
        ..RouteConfig::at(path)
    }
}

/// No catalog: the machine is who its token says, with the OP's extra
/// `groups` claim; `/deploy` admits group `ci`, `/admin` only `platform`,
/// `/robots` the client id claim.
async fn api_world(tweak: impl FnOnce(&mut Config) + Send + 'static) -> World {
    let options = WorldOptions {
        machine_claims: json!({"groups": ["ci"]}),
        ..WorldOptions::default()
    };
    world_with(options, move |cfg| {
        cfg.stagepass.bearer.audiences = vec![API_AUDIENCE.to_owned()];
        cfg.stagepass.routes = vec![
            route(
                "/deploy",
                AllowConfig {
                    groups: vec!["ci".into()],
                    ..AllowConfig::default()
                },
            ),
            route(
                "/admin",
                AllowConfig {
                    groups: vec!["platform".into()],
                    ..AllowConfig::default()
                },
            ),
            route(
                "/robots",
                AllowConfig {
                    claims: vec![("client_id".into(), MACHINE_ID.into())],
                    ..AllowConfig::default()
                },
            ),
        ];
        tweak(cfg);
    })
    .await
}

async fn call(w: &World, path: &str, token: &str, accept: &str) -> Reply {
    let req = anonymous("GET", w.url(path).as_str())
        .header("authorization", format!("Bearer {token}"))
        .header("accept", accept)
        .body(Default::default())
        .unwrap();
    send(&client(), req).await
}

fn assert_invalid_token(reply: &Reply, why: &str) {
    assert_eq!(reply.status, 401, "{why}: {}", reply.text());
    assert!(reply.headers.get("location").is_none(), "{why}: redirected");
    let challenge = reply.headers["www-authenticate"].to_str().unwrap();
    assert!(
        challenge.starts_with("Bearer realm=\"stagepass\", error=\"invalid_token\""),
        "{why}: {challenge}"
    );
    let is_json = reply.headers["content-type"] == "application/json";
    if is_json {
        assert_eq!(reply.json()["error"]["name"], "invalid_token", "{why}");
    } else {
        assert!(reply.text().contains("invalid_token"), "{why}");
    }
}

#[tokio::test]
async fn a_ci_jobs_client_credentials_token_is_accepted_as_that_machine() {
    let w = api_world(|_| {}).await;
    let token = w.op.machine_token(&[("scope", "api:read")]).await;
    let reply = call(&w, "/deploy/run?x=1", &token, "application/json").await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = w.up.controls.last();
    assert_eq!(seen.header("x-forwarded-user"), Some(MACHINE_ID));
    assert_eq!(seen.header("x-forwarded-groups"), Some("ci"));
    assert_eq!(
        seen.header("authorization"),
        None,
        "the token signed the machine in at stagepass; no app gets to use it"
    );
    assert!(
        reply.headers.get("set-cookie").is_none(),
        "an API client gets no session"
    );
    // The same rules as for people: not in platform, but its client id
    // claim opens /robots.
    let refused = call(&w, "/admin", &token, "application/json").await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert_eq!(refused.json()["error"]["name"], "route_forbidden");
    assert_eq!(
        call(&w, "/robots", &token, "application/json").await.status,
        200
    );
}

#[tokio::test]
async fn tokens_that_are_not_for_stagepass_are_refused_and_never_redirected() {
    let w = api_world(|_| {}).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let issuer = w.op.issuer.as_str().trim_end_matches('/').to_owned();
    let claims = |exp: u64| {
        json!({"iss": issuer, "sub": MACHINE_ID, "aud": API_AUDIENCE, "groups": ["ci"],
            "iat": now - 7200, "exp": exp, "client_id": MACHINE_ID})
    };
    let other_audience = w.op.machine_token(&[("resource", OTHER_RESOURCE)]).await;
    let expired = w.op.sign(claims(now - 3600), json!({})).await;
    let genuine = w.op.sign(claims(now + 3600), json!({})).await;
    assert_eq!(
        call(&w, "/deploy", &genuine, "application/json")
            .await
            .status,
        200,
        "the control: the same claims, unexpired, pass"
    );
    let hs256 = {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"at+jwt"}"#),
            URL_SAFE_NO_PAD.encode(claims(now + 3600).to_string())
        );
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"guessable");
        let mac = aws_lc_rs::hmac::sign(&key, input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()))
    };
    let seen = w.up.controls.count();
    for (token, why) in [
        (other_audience.as_str(), "another audience"),
        (expired.as_str(), "expired"),
        (hs256.as_str(), "HS256"),
        ("3q2+7w-random", "random string"),
    ] {
        assert_invalid_token(&call(&w, "/deploy", token, "application/json").await, why);
        // A browser-like request with a bearer token is an API call too.
        assert_invalid_token(&call(&w, "/deploy", token, "text/html").await, why);
    }
    assert_eq!(
        w.up.controls.count(),
        seen,
        "nothing refused reached the app"
    );
}

#[tokio::test]
async fn a_required_scope_must_be_granted() {
    let w = api_world(|cfg| {
        cfg.stagepass.bearer.required_scope = Some("api:write".into());
    })
    .await;
    let read_only = w.op.machine_token(&[("scope", "api:read")]).await;
    let reply = call(&w, "/deploy", &read_only, "application/json").await;
    assert_invalid_token(&reply, "read-only token");
    assert!(
        reply.text().contains("required scope api:write"),
        "{}",
        reply.text()
    );
    let writer = w.op.machine_token(&[("scope", "api:write")]).await;
    assert_eq!(
        call(&w, "/deploy", &writer, "application/json")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn with_bearer_tokens_off_a_token_never_stands_in_for_a_session() {
    let w = api_world(|cfg| cfg.stagepass.bearer.enabled = false).await;
    let token = w.op.machine_token(&[("scope", "api:read")]).await;
    let reply = call(&w, "/deploy", &token, "text/html").await;
    assert_invalid_token(&reply, "bearer disabled");
}

#[tokio::test]
async fn a_passthrough_route_hands_the_clients_token_to_the_app_untouched() {
    let w = api_world(|cfg| {
        cfg.stagepass.routes.push(RouteConfig {
            bearer: RouteBearer::Passthrough,
            allow: None,
            ..route("/external", AllowConfig::default())
        });
    })
    .await;
    let reply = anonymous("GET", w.url("/external/api").as_str())
        .header("authorization", "Bearer static-token-the-app-checks")
        .header("x-forwarded-user", "admin")
        .body(Default::default())
        .unwrap();
    let reply = send(&client(), reply).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let seen = w.up.controls.last();
    assert_eq!(
        seen.header("authorization"),
        Some("Bearer static-token-the-app-checks")
    );
    assert_eq!(
        seen.header("x-forwarded-user"),
        None,
        "no identity, none forged"
    );
    // Without a token the route is an ordinary protected one.
    let mut browser = support::agent::Agent::new();
    let page = browser.get(&w.url("/external/api")).await;
    assert_eq!(page.status, 302);
}

/// There is no default audience: the clientId would also be the audience of
/// the ID tokens stagepass's own sign-ins get. Even listed, an ID token is
/// refused: it is not an access token.
#[tokio::test]
async fn id_tokens_and_unconfigured_audiences_are_refused() {
    let unconfigured = api_world(|cfg| cfg.stagepass.bearer.audiences.clear()).await;
    let token = unconfigured.op.machine_token(&[]).await;
    let reply = call(&unconfigured, "/deploy", &token, "application/json").await;
    assert_invalid_token(&reply, "no audiences configured");
    assert!(
        reply.text().contains("names no audience"),
        "{}",
        reply.text()
    );

    let w = api_world(|cfg| {
        cfg.stagepass.bearer.audiences = vec![support::op::CLIENT_ID.to_owned()];
        cfg.stagepass.headers.pass_id_token = true;
    })
    .await;
    let mut alice = support::agent::Agent::new();
    w.sign_in(&mut alice, "/", "alice").await;
    alice.get(&w.url("/page")).await;
    let passed_on = w.up.controls.last();
    let id_token = passed_on
        .header("x-oauth2-proxy-id-token")
        .and_then(|v| v.strip_prefix("Bearer "))
        .expect("the app got alice's ID token")
        .to_owned();
    // What an app that got it could try: replay it as alice.
    let reply = call(&w, "/page", &id_token, "application/json").await;
    assert_invalid_token(&reply, "an ID token");
    assert!(reply.text().contains("ID token"), "{}", reply.text());
}

/// The ID token from a refresh, passed on to the app: still not a bearer
/// token. (This OP repeats the nonce on refresh; IdPs that do not are the
/// reason the clientId is no default audience and listing it warns.)
#[tokio::test]
async fn a_refreshed_id_token_is_refused_too() {
    let options = WorldOptions {
        access_token_ttl: 30, // within the refresh margin: every request refreshes
        ..WorldOptions::default()
    };
    let w = world_with(options, |cfg| {
        cfg.stagepass.bearer.audiences = vec![support::op::CLIENT_ID.to_owned()];
        cfg.stagepass.headers.pass_id_token = true;
    })
    .await;
    let mut alice = support::agent::Agent::new();
    w.sign_in(&mut alice, "/", "alice").await;
    let before = w.op.stats().await["token_refresh_token"].as_u64().unwrap();
    assert_eq!(alice.get(&w.url("/page")).await.status, 200);
    assert!(w.op.stats().await["token_refresh_token"].as_u64().unwrap() > before);
    let id_token =
        w.up.controls
            .last()
            .header("x-oauth2-proxy-id-token")
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap()
            .to_owned();
    let reply = call(&w, "/page", &id_token, "application/json").await;
    assert_invalid_token(&reply, "a refreshed ID token");
}
