//! The identity headers an app behind stagepass receives, option by option
//! (`stagepass.headers`), for a person signed in at the real OpenID Provider
//! with an opaque `sub`, as real IdPs give.

mod support;

use bytes::Bytes;
use stagepass::config::{Config, GroupsSource, UserValue};
use support::agent::Agent;
use support::upstream::Seen;
use support::world::{World, WorldOptions, world_with};
use support::*;

const OPAQUE_SUB: &str = "00u7f3kq2ZrX9d4";

async fn signed_in(tweak: impl FnOnce(&mut Config)) -> (World, Agent) {
    let options = WorldOptions {
        accounts: serde_json::json!({"alice": {"sub": OPAQUE_SUB, "groups": ["eng", "on-call"]}}),
        ..WorldOptions::default()
    };
    let w = world_with(options, tweak).await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    (w, agent)
}

/// One API call with the client's own `Authorization`; what the app saw.
async fn call(w: &World, agent: &mut Agent) -> Seen {
    let reply = agent
        .request(
            "GET",
            &w.url("/api/things"),
            &[
                ("accept", "application/json"),
                ("authorization", "Bearer client-key"),
                ("x-forwarded-user", "forged"),
            ],
            Bytes::new(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    w.up.controls.last()
}

#[tokio::test]
async fn by_default_the_app_gets_oauth2_proxy_headers_and_its_client_authorization() {
    let (w, mut agent) = signed_in(|_| {}).await;
    let seen = call(&w, &mut agent).await;
    assert_eq!(seen.header("x-forwarded-user"), Some(OPAQUE_SUB));
    assert_eq!(seen.header("x-forwarded-email"), Some("alice@example.com"));
    assert_eq!(seen.header("x-forwarded-preferred-username"), Some("alice"));
    assert_eq!(seen.header("x-forwarded-groups"), Some("eng,on-call"));
    // Nothing of stagepass's own goes into Authorization without a catalog.
    assert_eq!(seen.header("authorization"), Some("Bearer client-key"));
    for absent in ["x-forwarded-access-token", "x-oauth2-proxy-id-token"] {
        assert_eq!(seen.header(absent), None, "{absent} is opt-in");
    }
}

#[tokio::test]
async fn the_user_header_can_carry_a_name_apps_can_match() {
    for (value, expected) in [
        (UserValue::PreferredUsername, "alice"),
        (UserValue::Email, "alice@example.com"),
    ] {
        let (w, mut agent) = signed_in(|cfg| cfg.stagepass.headers.user = value).await;
        assert_eq!(
            call(&w, &mut agent).await.header("x-forwarded-user"),
            Some(expected)
        );
    }
}

#[tokio::test]
async fn catalog_mode_names_the_entity_and_its_ownership_groups() {
    let (w, mut agent) = signed_in(|cfg| {
        use_test_catalog(cfg);
        cfg.stagepass.headers.user = UserValue::Entity;
        cfg.stagepass.headers.groups = GroupsSource::Catalog;
    })
    .await;
    let seen = call(&w, &mut agent).await;
    assert_eq!(seen.header("x-forwarded-user"), Some("alice"));
    assert_eq!(
        seen.header("x-forwarded-groups"),
        Some("user:default/alice,group:default/team-a")
    );
    // The Backstage token replaces the client's Authorization.
    let token = seen.header("authorization").unwrap();
    assert_ne!(token, "Bearer client-key");
    assert!(seen.all("x-forwarded-user").len() == 1, "never two values");
}

#[tokio::test]
async fn tokens_go_upstream_only_when_asked_and_are_the_real_ones() {
    let (w, mut agent) = signed_in(|cfg| {
        cfg.stagepass.headers.pass_access_token = true;
        cfg.stagepass.headers.pass_id_token = true;
        cfg.stagepass.headers.pass_authorization_header = true;
    })
    .await;
    let seen = call(&w, &mut agent).await;
    let id_token = seen.header("x-oauth2-proxy-id-token").unwrap();
    let (_, claims) = jwt::decode(id_token.strip_prefix("Bearer ").unwrap());
    assert_eq!(claims["sub"], OPAQUE_SUB);
    assert_eq!(
        seen.header("authorization"),
        Some(id_token),
        "the ID token replaces the client's Authorization"
    );
    // The access token is the IdP's own: its userinfo endpoint accepts it.
    let access_token = seen.header("x-forwarded-access-token").unwrap();
    let discovery = get(w.op.metadata_url().as_str()).await.json();
    let userinfo = send(
        &client(),
        anonymous("GET", discovery["userinfo_endpoint"].as_str().unwrap())
            .header("authorization", format!("Bearer {access_token}"))
            .body(Default::default())
            .unwrap(),
    )
    .await;
    assert_eq!(userinfo.status, 200, "{}", userinfo.text());
    assert_eq!(userinfo.json()["sub"], OPAQUE_SUB);
}

#[tokio::test]
async fn a_claim_that_cannot_be_a_header_is_left_out_not_bent() {
    let options = WorldOptions {
        accounts: serde_json::json!({"mallory": {
            "preferred_username": "mallory\r\nX-Forwarded-User: admin",
            "groups": ["eng", "admins,ops"],
        }}),
        ..WorldOptions::default()
    };
    let w = world_with(options, |cfg| {
        cfg.stagepass.headers.user = UserValue::PreferredUsername;
    })
    .await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "mallory").await;
    let seen = call(&w, &mut agent).await;
    assert_eq!(seen.header("x-forwarded-user"), None);
    assert_eq!(seen.header("x-forwarded-preferred-username"), None);
    assert_eq!(seen.header("x-forwarded-groups"), Some("eng"));
}
