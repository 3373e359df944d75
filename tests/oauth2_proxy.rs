//! Backstage's own proxy-based sign-in behind stagepass: the real backend
//! with `@backstage/plugin-auth-backend-module-oauth2-proxy-provider`, which
//! reads oauth2-proxy's headers. stagepass signs the person in at the real
//! OpenID Provider and sends those headers; Backstage issues its own token,
//! which the frontend then sends back through stagepass in `Authorization`.

mod support;

use bytes::Bytes;
use serde_json::{Value, json};
use stagepass::config::{Config, UserValue};
use support::agent::Agent;
use support::backstage::{self, Backstage};
use support::world::{World, WorldOptions, world_with};

/// Real IdPs give an opaque `sub`; the catalog knows alice by name and email.
const OPAQUE_SUB: &str = "00u7f3kq2ZrX9d4";

/// The real backend, permissions on, with the oauth2Proxy provider signing
/// people in through `resolver`. The key files must live as long as it.
async fn backend_with_resolver(resolver: &str) -> (backstage::KeyFiles, Backstage) {
    let keys = backstage::key_files();
    let bs = backstage::start_with(&keys, true, &["--oauth2-proxy-resolver", resolver]).await;
    (keys, bs)
}

async fn in_front_of(bs: &Backstage, tweak: impl FnOnce(&mut Config)) -> World {
    let options = WorldOptions {
        accounts: json!({"alice": {"sub": OPAQUE_SUB}}),
        ..WorldOptions::default()
    };
    let upstream = bs.base_url.clone();
    world_with(options, move |cfg| {
        cfg.stagepass.upstream = upstream;
        // What Backstage's oauth2Proxy provider reads.
        cfg.stagepass.headers.pass_id_token = true;
        tweak(cfg);
    })
    .await
}

/// `GET /api/auth/oauth2Proxy/refresh` as Backstage's `ProxiedSignInPage`
/// sends it.
async fn refresh(w: &World, agent: &mut Agent, extra: &[(&str, &str)]) -> (u16, Value) {
    let mut headers = vec![
        ("accept", "application/json"),
        ("x-requested-with", "XMLHttpRequest"),
    ];
    headers.extend_from_slice(extra);
    let reply = agent
        .request(
            "GET",
            &w.url("/api/auth/oauth2Proxy/refresh"),
            &headers,
            Bytes::new(),
        )
        .await;
    let body = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
    (reply.status.as_u16(), body)
}

/// Signs alice in, gets Backstage's own token through stagepass and reads
/// the catalog with it (permissions on), as the frontend would.
async fn alice_uses_backstage_with_its_own_token(w: &World) {
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    // A header forged by the browser changes nothing.
    let (status, session) = refresh(w, &mut agent, &[("x-forwarded-user", "bob")]).await;
    assert_eq!(status, 200, "{session}");
    let identity = &session["backstageIdentity"];
    assert_eq!(identity["identity"]["userEntityRef"], "user:default/alice");
    assert_eq!(session["profile"]["email"], "alice@example.com");
    let token = identity["token"].as_str().expect("a Backstage token");
    let bearer = format!("Bearer {token}");
    let entity = agent
        .request(
            "GET",
            &w.url("/api/catalog/entities/by-name/user/default/alice"),
            &[("accept", "application/json"), ("authorization", &bearer)],
            Bytes::new(),
        )
        .await;
    assert_eq!(entity.status, 200, "{}", entity.text());
    assert_eq!(entity.json()["metadata"]["name"], "alice");
}

#[tokio::test]
async fn the_oauth2_proxy_provider_matches_the_forwarded_user_by_entity_name() {
    let (_keys, bs) = backend_with_resolver("forwardedUserMatchingUserEntityName").await;
    let w = in_front_of(&bs, |cfg| {
        cfg.stagepass.headers.user = UserValue::PreferredUsername;
    })
    .await;
    alice_uses_backstage_with_its_own_token(&w).await;
}

#[tokio::test]
async fn the_oauth2_proxy_provider_matches_the_forwarded_email() {
    let (_keys, bs) = backend_with_resolver("emailMatchingUserEntityProfileEmail").await;
    // Default headers: X-Forwarded-User is the opaque sub, the email matches.
    let w = in_front_of(&bs, |_| {}).await;
    alice_uses_backstage_with_its_own_token(&w).await;
}

#[tokio::test]
async fn without_a_session_nothing_reaches_the_provider() {
    let (_keys, bs) = backend_with_resolver("forwardedUserMatchingUserEntityName").await;
    let w = in_front_of(&bs, |_| {}).await;
    let mut stranger = Agent::new();
    let (status, body) = refresh(
        &w,
        &mut stranger,
        &[
            ("x-forwarded-user", "alice"),
            ("x-oauth2-proxy-id-token", "Bearer e30.e30.x"),
        ],
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        body["error"]["name"], "unauthenticated",
        "stagepass's answer, not Backstage's"
    );
}
