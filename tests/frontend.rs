//! Backstage's own frontend, in real Chromium, through stagepass: a person
//! signs in (at the real OpenID Provider, or on the guest page), the app
//! shows who they are and reads the catalog as them from a real Backstage
//! backend with permissions on, and the app's own "Sign out" signs them out
//! of stagepass and of the IdP.
//!
//! The frontend is the judge of `/refresh`: `ProxiedSignInPage` validates
//! the answer with its own zod schema, so a field it refuses fails here.

mod support;

use serde_json::{Value, json};
use stagepass::config::*;
use support::backstage;
use support::frontend::{self, App};
use support::world::{WorldOptions, world_on};
use support::*;
use tokio::net::TcpListener;
use url::Url;

async fn public_listener() -> (TcpListener, Url) {
    let public = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", public.local_addr().unwrap())
        .parse()
        .unwrap();
    (public, url)
}

/// What every run must show: Alice as the catalog knows her, read through
/// stagepass by the app's own `fetchApi`, and no error in the console.
fn assert_signed_in_as_alice(run: &Value) {
    let seen = &run["signedIn"];
    assert_eq!(seen["userEntityRef"], "user:default/alice", "{run:#}");
    assert_eq!(
        seen["ownershipEntityRefs"],
        json!(["user:default/alice", "group:default/team-a"])
    );
    assert_eq!(
        seen["displayName"], "Alice Example",
        "the catalog's displayName"
    );
    assert_eq!(seen["email"], "alice@example.com");
    assert_eq!(seen["catalogStatus"], 200, "{run:#}");
    assert_eq!(seen["catalogName"], "alice");
    assert_eq!(run["consoleErrors"], json!([]), "{run:#}");
}

async fn oidc_sign_in_and_out(app: App, name: &str) {
    let keys = backstage::key_files();
    let bs = backstage::start(&keys, true).await;
    let (public, public_url) = public_listener().await;
    let web = frontend::start(app, &bs.base_url, "test", &public_url).await;
    // As Entra ID v2 sends it: no `name`, no `picture`.
    let options = WorldOptions {
        accounts: json!({"alice": {"name": null, "picture": null}}),
        ..WorldOptions::default()
    };
    let upstream = web.url.clone();
    let w = world_on(public, options, |cfg| {
        cfg.stagepass.upstream = upstream;
        bs.serve_identities_to(cfg, &keys);
    })
    .await;

    let run = frontend::drive(&w.url("/"), "oidc", "alice", name).await;
    assert_signed_in_as_alice(&run);
    let after = &run["afterSignOut"];
    assert_eq!(
        after["loginFormShown"], true,
        "after the app's sign-out, the person must sign in at the IdP again: {run:#}"
    );
}

#[tokio::test]
async fn legacy_app_signs_in_works_and_signs_out_through_stagepass() {
    oidc_sign_in_and_out(App::Legacy, "legacy-oidc").await;
}

#[tokio::test]
async fn new_frontend_system_app_signs_in_works_and_signs_out_through_stagepass() {
    oidc_sign_in_and_out(App::NewFrontendSystem, "next-oidc").await;
}

#[tokio::test]
async fn quickstart_guest_sign_in_shows_the_user_in_backstage() {
    let keys = backstage::key_files();
    let bs = backstage::start(&keys, true).await;
    let (public, public_url) = public_listener().await;
    let web = frontend::start(App::NewFrontendSystem, &bs.base_url, "guest", &public_url).await;
    let mut cfg = config(web.url.clone());
    cfg.stagepass.public_url = public_url.clone();
    cfg.stagepass.provider = "guest".into();
    cfg.stagepass.catalog = Some(CatalogConfig::new(CatalogSource::File(
        backstage::CATALOG.into(),
    )));
    cfg.auth.guest = Some(GuestConfig {
        allow_outside_development: false,
    });
    cfg.auth.token.key_store = Some(keys.key_store());
    let _sp = start_on(public, cfg).await;

    let run = frontend::drive(&public_url, "guest", "alice", "next-guest").await;
    assert_signed_in_as_alice(&run);
    assert_eq!(
        run["afterSignOut"]["pickerShown"], true,
        "after sign-out the guest page is shown again: {run:#}"
    );
}
