//! End to end with a real Backstage backend: a person signed in at the real
//! OpenID Provider reads the catalog through stagepass as themselves, with
//! permissions off and on.

mod support;

use bytes::Bytes;
use serde_json::json;
use support::agent::Agent;
use support::backstage;
use support::world::{SP_HOST, World, WorldOptions, world_with};
use support::*;

async fn world_in_front_of(bs: &backstage::Backstage, keys: &backstage::KeyFiles) -> World {
    world_in_front_of_with(bs, keys, WorldOptions::default()).await
}

async fn world_in_front_of_with(
    bs: &backstage::Backstage,
    keys: &backstage::KeyFiles,
    options: WorldOptions,
) -> World {
    let upstream = bs.base_url.clone();
    world_with(options, move |cfg| {
        cfg.stagepass.upstream = upstream;
        bs.serve_identities_to(cfg, keys);
    })
    .await
}

async fn signed_in_user_reads_the_catalog_as_themselves(permissions: bool) {
    let keys = backstage::key_files();
    let bs = backstage::start(&keys, permissions).await;
    let w = world_in_front_of(&bs, &keys).await;
    let mut agent = Agent::new();
    let done = w.sign_in(&mut agent, "/catalog", "alice").await;
    assert_eq!(done.status, 302, "{}", done.text());

    let json_accept = [("accept", "application/json")];
    let entity = agent
        .request(
            "GET",
            &w.url("/api/catalog/entities/by-name/user/default/alice"),
            &json_accept,
            Bytes::new(),
        )
        .await;
    assert_eq!(
        entity.status,
        200,
        "permissions {permissions}: {}",
        entity.text()
    );
    assert_eq!(entity.json()["metadata"]["name"], "alice");

    // Backstage's own view of the caller: a user principal with our ownership refs.
    let who = agent
        .request(
            "POST",
            &w.url("/api/auth/.backstage/actions/v1/actions/auth:who-am-i/invoke"),
            &[
                ("accept", "application/json"),
                ("content-type", "application/json"),
            ],
            Bytes::from_static(b"{}"),
        )
        .await;
    assert_eq!(who.status, 200, "{}", who.text());
    let info = &who.json()["output"]["userInfo"];
    assert_eq!(
        info["userEntityRef"],
        "user:default/alice",
        "{}",
        who.text()
    );
    assert_eq!(
        info["ownershipEntityRefs"],
        json!(["user:default/alice", "group:default/team-a"])
    );

    // The token from /refresh (what a Backstage frontend would use) works on Backstage directly.
    let refresh = agent.xhr_get(&w.url("/api/auth/test/refresh")).await;
    let token = refresh.json()["backstageIdentity"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let direct = http::Request::get(
        bs.base_url
            .join("/api/catalog/entities/by-name/user/default/bob")
            .unwrap()
            .as_str(),
    )
    .header("authorization", format!("Bearer {token}"))
    .body(Default::default())
    .unwrap();
    assert_eq!(send(&client(), direct).await.status, 200);

    // Someone the catalog does not know never reaches Backstage.
    let mut stranger = Agent::new();
    let refused = w.sign_in(&mut stranger, "/catalog", "mallory").await;
    assert_eq!(refused.status, 403);
    assert!(stranger.cookie(SP_HOST, "stagepass").is_none());
}

#[tokio::test]
async fn real_backstage_accepts_the_token_with_permissions_off() {
    signed_in_user_reads_the_catalog_as_themselves(false).await;
}

#[tokio::test]
async fn real_backstage_accepts_the_token_with_permissions_on() {
    signed_in_user_reads_the_catalog_as_themselves(true).await;
}

/// An IdP account whose email smuggles catalog filter statements (a quoted
/// local part may hold `,` and `=`). Backstage decodes the query before it
/// splits the filter, so unchecked this signs mallory in as alice.
#[tokio::test]
async fn an_email_carrying_catalog_filter_syntax_signs_nobody_in() {
    let keys = backstage::key_files();
    let bs = backstage::start(&keys, false).await;
    let hostile = "\"x,spec.profile.email=alice@example.com,kind=user\"@attacker.example";
    let options = WorldOptions {
        accounts: json!({"mallory": {"email": hostile}}),
        ..WorldOptions::default()
    };
    let w = world_in_front_of_with(&bs, &keys, options).await;
    let mut agent = Agent::new();
    let refused = w.sign_in(&mut agent, "/catalog", "mallory").await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(agent.cookie(SP_HOST, "stagepass").is_none());
}

/// API clients in front of a real Backstage: a CLI holding the token the
/// frontend got from `/refresh` reads the catalog as that person, without a
/// cookie; a route with `bearer: passthrough` hands Backstage its own
/// `externalAccess` static token, which Backstage checks itself.
#[tokio::test]
async fn api_clients_reach_backstage_with_a_minted_or_a_static_token() {
    use stagepass::config::{RouteBearer, RouteConfig};
    let keys = backstage::key_files();
    let bs = backstage::start(&keys, true).await;
    let upstream = bs.base_url.clone();
    let w = world_with(WorldOptions::default(), |cfg| {
        cfg.stagepass.upstream = upstream;
        bs.serve_identities_to(cfg, &keys);
        cfg.stagepass.routes = vec![RouteConfig {
            bearer: RouteBearer::Passthrough,
            ..RouteConfig::at("/api/catalog/entity-facets")
        }];
    })
    .await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    let refresh = agent.xhr_get(&w.url("/api/auth/test/refresh")).await;
    let token = refresh.json()["backstageIdentity"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let bearer = |path: &str, token: &str| {
        anonymous("POST", w.url(path).as_str())
            .header("authorization", format!("Bearer {token}"))
            .header("accept", "application/json")
            .header("content-type", "application/json")
    };
    let who = bearer(
        "/api/auth/.backstage/actions/v1/actions/auth:who-am-i/invoke",
        &token,
    )
    .body(http_body_util::Full::from("{}"))
    .unwrap();
    let who = send(&client(), who).await;
    assert_eq!(who.status, 200, "{}", who.text());
    assert_eq!(
        who.json()["output"]["userInfo"]["userEntityRef"],
        "user:default/alice"
    );

    let facets = |token: &str| {
        anonymous(
            "GET",
            w.url("/api/catalog/entity-facets?facet=kind").as_str(),
        )
        .header("authorization", format!("Bearer {token}"))
        .body(Default::default())
        .unwrap()
    };
    let through = send(&client(), facets(&bs.token)).await;
    assert_eq!(through.status, 200, "{}", through.text());
    let wrong = send(&client(), facets("not-the-static-token")).await;
    assert_eq!(
        wrong.status,
        401,
        "Backstage itself refuses: {}",
        wrong.text()
    );
    assert_eq!(
        wrong.json()["error"]["name"],
        "AuthenticationError",
        "Backstage's answer, not stagepass's"
    );
    // Elsewhere, the static token is not a JWT stagepass accepts.
    let refused = send(
        &client(),
        bearer("/api/catalog/entities/by-refs", &bs.token)
            .body(http_body_util::Full::from("{}"))
            .unwrap(),
    )
    .await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.json()["error"]["name"], "invalid_token");
}
