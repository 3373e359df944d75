//! The catalog API path: relations, encoding, the token, caching and outages.

use std::time::Duration;

use serde_json::{Value, json};

use super::{email, one, resolvers};
use crate::identity::test_catalog_api::FakeCatalog;
use crate::identity::*;

fn api_entities() -> Vec<Value> {
    vec![
        json!({"apiVersion": "backstage.io/v1alpha1", "kind": "User",
        "metadata": {"name": "alice", "namespace": "default", "annotations": {"corp.io/email": "alice@corp.io"}},
        "spec": {"profile": {"email": "alice@example.com", "displayName": "Alice"}, "memberOf": ["ignored-when-relations"]},
        "relations": [
            {"type": "memberOf", "targetRef": "group:default/team-a"},
            {"type": "memberOf", "targetRef": "group:ops/sre"},
            {"type": "ownerOf", "targetRef": "component:default/svc"}
        ]}),
        json!({"kind": "User", "metadata": {"name": "bob"}, "spec": {"profile": {"email": "bob@example.com"}}, "relations": []}),
        json!({"kind": "User", "metadata": {"name": "carol"}, "spec": {"profile": {"email": "carol+team@example.com"}}}),
    ]
}

fn api_resolver(
    catalog: &FakeCatalog,
    chain: Vec<ResolverConfig>,
    fresh: Duration,
    stale: Duration,
) -> IdentityResolver {
    api_resolver_with_timeout(catalog, chain, fresh, stale, Duration::from_secs(5))
}

pub(super) fn api_resolver_with_timeout(
    catalog: &FakeCatalog,
    chain: Vec<ResolverConfig>,
    fresh: Duration,
    stale: Duration,
    timeout: Duration,
) -> IdentityResolver {
    let source = CatalogSource::Api {
        url: catalog.url.clone(),
        token: Some(crate::config::Secret::new("static-token")),
        timeout,
    };
    let config = CatalogConfig {
        fresh_for: fresh,
        stale_for: stale,
        ..CatalogConfig::new(source)
    };
    IdentityResolver::new(chain, config, &crate::http_client::Outbound::direct()).unwrap()
}

#[tokio::test]
async fn api_resolves_with_relations_and_token() {
    let catalog = FakeCatalog::start(api_entities()).await;
    let resolver = api_resolver(
        &catalog,
        one("emailMatchingUserEntityProfileEmail"),
        Duration::ZERO,
        Duration::ZERO,
    );
    // The `+` must reach the catalog encoded, or it would read as a space.
    let identity = resolver
        .resolve(&email("ALICE+tag@example.com"))
        .await
        .unwrap();
    assert_eq!(
        identity.ownership_entity_refs,
        [
            "user:default/alice",
            "group:default/team-a",
            "group:ops/sre"
        ]
    );
    assert_eq!(
        catalog.last_authorization().as_deref(),
        Some("Bearer static-token")
    );
    // An email that really contains `+` only matches if it is sent encoded.
    assert_eq!(
        resolver
            .resolve(&email("carol+team@example.com"))
            .await
            .unwrap()
            .user_entity_ref,
        "user:default/carol"
    );
}

#[tokio::test]
async fn api_by_name_annotation_and_not_found() {
    let catalog = FakeCatalog::start(api_entities()).await;
    let chain = resolvers(json!([
        {"resolver": "emailMatchingUserEntityAnnotation", "annotation": "corp.io/email"},
        {"resolver": "emailLocalPartMatchingUserEntityName"}
    ]));
    let resolver = api_resolver(&catalog, chain, Duration::ZERO, Duration::ZERO);
    assert_eq!(
        resolver
            .resolve(&email("alice@corp.io"))
            .await
            .unwrap()
            .user_entity_ref,
        "user:default/alice"
    );
    let bob = resolver.resolve(&email("Bob@elsewhere.io")).await.unwrap();
    assert_eq!(bob.ownership_entity_refs, ["user:default/bob"]);
    let err = resolver.resolve(&email("zed@x.io")).await.unwrap_err();
    assert!(
        matches!(&err, ResolveError::NotFound { tried } if tried.len() == 2),
        "{err:?}"
    );
    assert_eq!(resolver.list_users().await.unwrap().len(), 3);
}

#[tokio::test]
async fn fresh_identities_do_not_ask_the_catalog() {
    let catalog = FakeCatalog::start(api_entities()).await;
    let resolver = api_resolver(
        &catalog,
        one("emailMatchingUserEntityProfileEmail"),
        Duration::from_secs(300),
        Duration::from_secs(3600),
    );
    resolver.resolve(&email("alice@example.com")).await.unwrap();
    let asked = catalog.requests();
    resolver.resolve(&email("alice@example.com")).await.unwrap();
    assert_eq!(catalog.requests(), asked);
}

#[tokio::test]
async fn outages_use_cached_identities_within_the_stale_window() {
    let catalog = FakeCatalog::start(api_entities()).await;
    let resolver = api_resolver(
        &catalog,
        one("emailMatchingUserEntityProfileEmail"),
        Duration::ZERO,
        Duration::from_secs(3600),
    );
    let before = resolver.resolve(&email("alice@example.com")).await.unwrap();
    catalog.set_failing(true);
    assert_eq!(
        resolver.resolve(&email("alice@example.com")).await.unwrap(),
        before
    );
    let err = resolver
        .resolve(&email("bob@example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ResolveError::CatalogUnavailable(m) if m.contains("503")),
        "{err:?}"
    );
    let mapped: crate::error::Error = err.into();
    assert_eq!(mapped.status, http::StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn outages_past_the_stale_window_fail() {
    let catalog = FakeCatalog::start(api_entities()).await;
    let resolver = api_resolver(
        &catalog,
        one("emailMatchingUserEntityProfileEmail"),
        Duration::ZERO,
        Duration::from_millis(50),
    );
    resolver.resolve(&email("alice@example.com")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(80)).await;
    catalog.set_failing(true);
    let err = resolver
        .resolve(&email("alice@example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ResolveError::CatalogUnavailable(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_user_removed_from_the_catalog_loses_the_cached_identity() {
    let catalog = FakeCatalog::start(api_entities()).await;
    let resolver = api_resolver(
        &catalog,
        one("emailMatchingUserEntityProfileEmail"),
        Duration::ZERO,
        Duration::from_secs(3600),
    );
    resolver.resolve(&email("bob@example.com")).await.unwrap();
    catalog.set_entities(vec![]);
    let err = resolver
        .resolve(&email("bob@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, ResolveError::NotFound { .. }), "{err:?}");
    // The definite answer dropped the cached identity: an outage now cannot revive it.
    catalog.set_failing(true);
    let err = resolver
        .resolve(&email("bob@example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ResolveError::CatalogUnavailable(_)),
        "{err:?}"
    );
}

/// An IdP account whose (quoted, RFC 5321-valid) email smuggles filter
/// statements: Backstage decodes the query before splitting the filter, so
/// without a check in stagepass this is `kind IN (x, user)` and
/// `spec.profile.email IN (…, alice@example.com)`.
#[tokio::test]
async fn filter_injection_through_an_email_finds_nobody() {
    let catalog = FakeCatalog::start(api_entities()).await;
    let resolver = api_resolver(
        &catalog,
        one("emailMatchingUserEntityProfileEmail"),
        Duration::ZERO,
        Duration::ZERO,
    );
    for hostile in [
        "\"x,spec.profile.email=alice@example.com,kind=user\"@attacker.example",
        "\"x=y\"@attacker.example",
        "nobody@attacker.example,spec.profile.email=alice@example.com",
    ] {
        let before = catalog.requests();
        let err = resolver.resolve(&email(hostile)).await.unwrap_err();
        assert!(
            matches!(err, ResolveError::NotFound { .. }),
            "{hostile}: {err:?}"
        );
        assert_eq!(
            catalog.requests(),
            before,
            "{hostile}: refused before any request"
        );
    }
}

/// Whatever the API answers, only entities that really match the lookup
/// count: a catalog (or a proxy in front of it) that answers too much
/// cannot sign someone in as another person.
#[tokio::test]
async fn entities_the_api_returns_are_checked_against_the_lookup() {
    let catalog = FakeCatalog::start(api_entities()).await;
    catalog.set_ignore_filters(true);
    let resolver = api_resolver(
        &catalog,
        one("emailMatchingUserEntityProfileEmail"),
        Duration::ZERO,
        Duration::ZERO,
    );
    let bob = resolver.resolve(&email("bob@example.com")).await.unwrap();
    assert_eq!(bob.user_entity_ref, "user:default/bob");
    let err = resolver
        .resolve(&email("mallory@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, ResolveError::NotFound { .. }), "{err:?}");
}

/// A catalog slower than `stagepass.catalog.timeout` is an outage: the
/// lookup gives up at the timeout with a reason, and a later answer in time
/// works again.
#[tokio::test]
async fn a_catalog_slower_than_its_timeout_is_unavailable() {
    let catalog = FakeCatalog::start(api_entities()).await;
    let resolver = api_resolver_with_timeout(
        &catalog,
        one("emailMatchingUserEntityProfileEmail"),
        Duration::ZERO,
        Duration::ZERO,
        Duration::from_millis(200),
    );
    catalog.set_delay(Duration::from_secs(30));
    let err = resolver
        .resolve(&email("alice@example.com"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ResolveError::CatalogUnavailable(why) if why.contains("unreachable")),
        "{err:?}"
    );
    catalog.set_delay(Duration::ZERO);
    let alice = resolver.resolve(&email("alice@example.com")).await.unwrap();
    assert_eq!(alice.user_entity_ref, "user:default/alice");
}
