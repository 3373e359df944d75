//! After sign-in, people are resolved against the catalog and the upstream
//! receives a Backstage identity token and an assertion it can verify.

mod support;

use bytes::Bytes;
use stagepass::config::{CatalogConfig, CatalogSource};
use support::agent::{Agent, location};
use support::world::{SP_HOST, World, WorldOptions, world_with};
use support::*;

const CATALOG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/backstage/catalog.yaml"
);

async fn catalog_world() -> World {
    world_with(WorldOptions::default(), |cfg| {
        use_test_catalog(cfg);
    })
    .await
}

#[tokio::test]
async fn upstream_gets_a_backstage_token_it_can_verify() {
    let w = catalog_world().await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    let reply = agent
        .request(
            "GET",
            &w.url("/api/catalog/x"),
            &[
                ("accept", "application/json"),
                ("authorization", "Bearer forged"),
            ],
            Bytes::new(),
        )
        .await;
    assert_eq!(reply.status, 200);
    let seen = w.up.controls.last();
    let bearer = seen.header("authorization").expect("token injected");
    let token = bearer.strip_prefix("Bearer ").expect("bearer");
    assert_ne!(token, "forged", "the client's Authorization is replaced");
    let (header, claims) = jwt::decode(token);
    assert_eq!(header["alg"], "ES256");
    assert!(
        header.get("typ").is_none(),
        "Backstage refuses typ: JWT with permissions on: {header}"
    );
    assert_eq!(claims["sub"], "user:default/alice");
    assert_eq!(claims["aud"], "backstage");
    assert_eq!(
        claims["ent"],
        serde_json::json!(["user:default/alice", "group:default/team-a"])
    );
    let jwks = get(w.url("/.well-known/stagepass/jwks.json").as_str())
        .await
        .json();
    assert!(
        jwt::verify_es256(token, &jwks),
        "token verifies with the published JWKS"
    );

    let assertion = seen
        .header("x-stagepass-assertion")
        .expect("assertion injected");
    let (_, asserted) = jwt::decode(assertion);
    assert_eq!(asserted["sub"], "user:default/alice");
    assert_eq!(asserted["email"], "alice@example.com");
    assert_eq!(asserted["aud"], w.up.url().origin().ascii_serialization());
    assert!(jwt::verify_es256(assertion, &jwks));
}

#[tokio::test]
async fn the_token_is_minted_once_per_session_not_per_request() {
    let w = catalog_world().await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    let mut tokens = Vec::new();
    for _ in 0..3 {
        agent.api_get(&w.url("/x")).await;
        tokens.push(
            w.up.controls
                .last()
                .header("authorization")
                .unwrap()
                .to_owned(),
        );
    }
    assert!(
        tokens.windows(2).all(|pair| pair[0] == pair[1]),
        "same cached token"
    );
    // And no signature, no catalog lookup per request: the counters stay flat.
    let counters = || async {
        let text = get(&w.sp.admin_url("/metrics")).await.text();
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok())
                .unwrap()
        };
        (
            value("stagepass_tokens_signed_total"),
            value("stagepass_catalog_lookups_total"),
        )
    };
    let before = counters().await;
    for _ in 0..20 {
        assert_eq!(agent.api_get(&w.url("/x")).await.status, 200);
    }
    assert_eq!(counters().await, before, "(tokens signed, catalog lookups)");
}

#[tokio::test]
async fn a_person_missing_from_the_catalog_gets_403_and_no_session() {
    let w = catalog_world().await;
    let mut agent = Agent::new();
    let reply = w.sign_in(&mut agent, "/", "mallory").await;
    assert_eq!(reply.status, 403, "{}", reply.text());
    let text = reply.text();
    assert!(
        text.contains("the software catalog has no user for your account"),
        "says why, in plain words: {text}"
    );
    assert!(
        !text.contains("emailMatchingUserEntityProfileEmail"),
        "resolver names are for the log: {text}"
    );
    assert!(
        text.contains("Sign in as someone else"),
        "a way forward: {text}"
    );
    assert!(
        agent.cookie(SP_HOST, "stagepass").is_none(),
        "no session, so no redirect loop"
    );
    assert_eq!(w.up.controls.count(), 0);
}

#[tokio::test]
async fn refresh_answers_like_backstage_for_proxied_sign_in() {
    let w = catalog_world().await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    let reply = agent.xhr_get(&w.url("/api/auth/test/refresh")).await;
    assert_eq!(reply.status, 200);
    let body = reply.json();
    assert_eq!(body["profile"]["email"], "alice@example.com");
    assert!(
        body["profile"]["displayName"].is_string(),
        "the IdP's name claim"
    );
    let identity = &body["backstageIdentity"];
    assert_eq!(identity["identity"]["type"], "user");
    assert_eq!(identity["identity"]["userEntityRef"], "user:default/alice");
    assert_eq!(
        identity["identity"]["ownershipEntityRefs"],
        serde_json::json!(["user:default/alice", "group:default/team-a"])
    );
    let expires = identity["expiresInSeconds"].as_u64().unwrap();
    assert!(expires > 3000 && expires <= 3600, "{expires}");
    let (_, claims) = jwt::decode(identity["token"].as_str().unwrap());
    assert_eq!(claims["sub"], "user:default/alice");
}

#[tokio::test]
async fn refresh_profile_takes_what_the_idp_left_out_from_the_catalog_and_never_says_null() {
    // As Entra ID v2 sends it: no `name`, no `picture`.
    let options = WorldOptions {
        accounts: serde_json::json!({"alice": {"name": null, "picture": null}}),
        ..WorldOptions::default()
    };
    let w = world_with(options, |cfg| {
        use_test_catalog(cfg);
    })
    .await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    let reply = agent.xhr_get(&w.url("/api/auth/test/refresh")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json()["profile"],
        serde_json::json!({"email": "alice@example.com", "displayName": "Alice Example"}),
        "displayName from the catalog's spec.profile; no picture key at all"
    );
}

/// Entra ID sends `email` without `email_verified`, and lets tenants put
/// any address there: with `signIn.requireVerifiedEmail` such an email never
/// finds a catalog user, while a verified one still does.
#[tokio::test]
async fn require_verified_email_refuses_emails_the_idp_does_not_vouch_for() {
    let options = WorldOptions {
        accounts: serde_json::json!({"alice": {"email_verified": null}}),
        ..WorldOptions::default()
    };
    let w = world_with(options, |cfg| {
        cfg.stagepass.catalog = Some(CatalogConfig::new(CatalogSource::File(CATALOG.into())));
        let provider = cfg.auth.providers.get_mut("test").unwrap();
        provider.resolvers = email_resolver();
        provider.require_verified_email = true;
    })
    .await;
    let mut alice = Agent::new();
    let refused = w.sign_in(&mut alice, "/", "alice").await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    let mut bob = Agent::new();
    assert_eq!(w.sign_in(&mut bob, "/", "bob").await.status, 302);
}

/// Google and Keycloak mark an address the person has not confirmed
/// `email_verified: false`: it never finds a catalog user, even with
/// `signIn.requireVerifiedEmail` off, or anyone could sign in as the owner
/// of an address they typed.
#[tokio::test]
async fn an_email_the_idp_marks_unverified_never_finds_a_catalog_user() {
    let options = WorldOptions {
        accounts: serde_json::json!({"alice": {"email_verified": false}}),
        ..WorldOptions::default()
    };
    let w = world_with(options, |cfg| {
        cfg.stagepass.catalog = Some(CatalogConfig::new(CatalogSource::File(CATALOG.into())));
        let provider = cfg.auth.providers.get_mut("test").unwrap();
        provider.resolvers = email_resolver();
    })
    .await;
    let mut alice = Agent::new();
    let refused = w.sign_in(&mut alice, "/", "alice").await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(alice.cookie(SP_HOST, "stagepass").is_none(), "no session");
    let mut bob = Agent::new();
    assert_eq!(w.sign_in(&mut bob, "/", "bob").await.status, 302);
}

#[tokio::test]
async fn guest_sign_in_lists_catalog_users_and_signs_in_as_one() {
    let up = upstream::start().await;
    let mut cfg = config(up.url());
    cfg.stagepass.provider = "guest".into();
    cfg.stagepass.catalog = Some(CatalogConfig::new(CatalogSource::File(CATALOG.into())));
    cfg.auth.guest = Some(stagepass::config::GuestConfig {
        allow_outside_development: false,
    });
    let public = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base: url::Url = format!("http://{}", public.local_addr().unwrap())
        .parse()
        .unwrap();
    cfg.stagepass.public_url = base.clone();
    let sp = start_on(public, cfg).await;
    assert_eq!(
        get(&sp.admin_url("/readyz")).await.status,
        200,
        "no IdP to wait for"
    );

    let mut agent = Agent::new();
    let first = agent.get(&base.join("/docs?page=2").unwrap()).await;
    assert_eq!(first.status, 302);
    let start = location(&base, &first.headers).unwrap();
    let page = agent.get(&start).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(
        html.contains("Alice Example") && html.contains("Bob Example"),
        "{html}"
    );
    let state = html
        .split("name=\"state\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let callback = base.join("/api/auth/guest/handler/frame").unwrap();
    let forged = agent
        .post_form(&callback, &[("state", "forged"), ("user", "alice")])
        .await;
    assert_eq!(
        forged.status, 400,
        "a pick without the page's state is refused"
    );
    let done = agent
        .post_form(&callback, &[("state", &state), ("user", "bob")])
        .await;
    assert_eq!(done.status, 302, "{}", done.text());
    assert_eq!(
        location(&base, &done.headers).unwrap(),
        base.join("/docs?page=2").unwrap()
    );
    agent
        .request(
            "GET",
            &base.join("/docs?page=2").unwrap(),
            &[("accept", "text/html")],
            Bytes::new(),
        )
        .await;
    let seen = up.controls.last();
    let (_, claims) = jwt::decode(
        seen.header("authorization")
            .unwrap()
            .strip_prefix("Bearer ")
            .unwrap(),
    );
    assert_eq!(claims["sub"], "user:default/bob");
}

#[tokio::test]
async fn non_backstage_apps_get_the_assertion_and_keep_their_own_authorization() {
    let w = world_with(WorldOptions::default(), |cfg| {
        cfg.stagepass.catalog = Some(CatalogConfig::new(CatalogSource::File(CATALOG.into())));
        cfg.stagepass.inject_backstage_token = false;
        cfg.auth.providers.get_mut("test").unwrap().resolvers = email_resolver();
    })
    .await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    let reply = agent
        .request(
            "GET",
            &w.url("/legacy"),
            &[
                ("accept", "text/html"),
                ("authorization", "Bearer app-api-key"),
            ],
            Bytes::new(),
        )
        .await;
    assert_eq!(reply.status, 200);
    let seen = w.up.controls.last();
    assert_eq!(
        seen.header("authorization"),
        Some("Bearer app-api-key"),
        "no Backstage token: the client's own Authorization (an app's API key) passes"
    );
    assert!(seen.header("x-stagepass-assertion").is_some());
}
