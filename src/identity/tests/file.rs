//! Every resolver, against a catalog file.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::{email, one, resolvers};
use crate::identity::*;

const CATALOG: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: alice
  annotations: {corp.io/email: Alice@Corp.io}
spec:
  profile: {email: alice@example.com, displayName: Alice Liddell, picture: "https://pics/alice.png"}
  memberOf: [team-a]
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: Bob}
spec: {profile: {email: Bob@Example.com}, memberOf: [ops/sre]}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: carol}
spec: {}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: dup1}
spec: {profile: {email: dup@example.com}}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: dup2}
spec: {profile: {email: DUP@example.com}}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-b}
spec: {type: team, children: [], members: [alice]}
"#;

fn file_resolver(dir: &Path, chain: Vec<ResolverConfig>) -> IdentityResolver {
    let path = dir.join("catalog.yaml");
    if !path.exists() {
        std::fs::write(&path, CATALOG).unwrap();
    }
    IdentityResolver::with_file_recheck(
        chain,
        CatalogConfig::new(CatalogSource::File(path)),
        &crate::http_client::Outbound::direct(),
        Duration::ZERO,
    )
    .unwrap()
}

async fn resolve_in_file(
    chain: Vec<ResolverConfig>,
    claims: Claims,
) -> Result<Identity, ResolveError> {
    let dir = tempfile::tempdir().unwrap();
    file_resolver(dir.path(), chain).resolve(&claims).await
}

async fn user_ref(chain: Vec<ResolverConfig>, claims: Claims) -> String {
    resolve_in_file(chain, claims)
        .await
        .unwrap()
        .user_entity_ref
}

#[tokio::test]
async fn profile_email_matches_case_insensitively_with_ownership() {
    let identity = resolve_in_file(
        one("emailMatchingUserEntityProfileEmail"),
        email("ALICE@example.COM"),
    )
    .await
    .unwrap();
    assert_eq!(identity.user_entity_ref, "user:default/alice");
    assert_eq!(
        identity.ownership_entity_refs,
        [
            "user:default/alice",
            "group:default/team-a",
            "group:default/team-b"
        ]
    );
    assert_eq!(identity.display_name.as_deref(), Some("Alice Liddell"));
    assert_eq!(identity.email.as_deref(), Some("alice@example.com"));
    assert_eq!(identity.picture.as_deref(), Some("https://pics/alice.png"));
}

#[tokio::test]
async fn profile_email_retries_without_plus_tag() {
    assert_eq!(
        user_ref(
            one("emailMatchingUserEntityProfileEmail"),
            email("alice+news@example.com")
        )
        .await,
        "user:default/alice"
    );
    let err = resolve_in_file(
        one("emailMatchingUserEntityProfileEmail"),
        email("nobody+x@example.com"),
    )
    .await
    .unwrap_err();
    let ResolveError::NotFound { tried } = &err else {
        panic!("{err:?}")
    };
    assert!(
        tried[0].contains("nobody+x@example.com") && tried[0].contains("nobody@example.com"),
        "{tried:?}"
    );
    assert!(
        err.to_string()
            .contains("add the user to the catalog, or configure another resolver")
    );
}

#[tokio::test]
async fn local_part_matches_entity_name() {
    let identity = resolve_in_file(
        one("emailLocalPartMatchingUserEntityName"),
        email("bob@anywhere.org"),
    )
    .await
    .unwrap();
    assert_eq!(identity.user_entity_ref, "user:default/bob");
    assert_eq!(
        identity.ownership_entity_refs,
        ["user:default/bob", "group:ops/sre"]
    );
    // No profile display name: the claim fills in.
    let claims = Claims {
        name: Some("Bobby".into()),
        ..email("bob@x.org")
    };
    let identity = resolve_in_file(one("emailLocalPartMatchingUserEntityName"), claims)
        .await
        .unwrap();
    assert_eq!(identity.display_name.as_deref(), Some("Bobby"));
}

#[tokio::test]
async fn allowed_domains_refuse_and_stop_the_chain() {
    let chain = resolvers(json!([
        {"resolver": "emailLocalPartMatchingUserEntityName", "allowedDomains": ["example.com"]},
        {"resolver": "subMatchingUserEntityName"}
    ]));
    assert_eq!(
        user_ref(chain.clone(), email("bob@EXAMPLE.com")).await,
        "user:default/bob"
    );
    let claims = Claims {
        subject: "carol".into(),
        ..email("bob@evil.com")
    };
    let err = resolve_in_file(chain, claims).await.unwrap_err();
    assert!(
        matches!(&err, ResolveError::Refused(m) if m.contains("example.com")),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_email_with_two_ats_never_matches_a_domain_nor_splits() {
    let allowed = resolvers(
        json!([{"resolver": "emailLocalPartMatchingUserEntityName", "allowedDomains": ["example.com"]}]),
    );
    let err = resolve_in_file(allowed, email("alice@evil.com@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, ResolveError::Refused(_)), "{err:?}");
    let err = resolve_in_file(
        one("emailLocalPartMatchingUserEntityName"),
        email("alice@evil.com@example.com"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, ResolveError::NotFound { tried } if tried[0].contains("exactly one @")),
        "{err:?}"
    );
    let err = resolve_in_file(
        one("emailMatchingUserEntityProfileEmail"),
        email("alice+x@evil@example.com"),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, ResolveError::NotFound { tried } if !tried[0].contains("nor")),
        "{err:?}"
    );
}

#[tokio::test]
async fn annotation_matches_case_insensitively() {
    assert_eq!(
        user_ref(
            one("emailMatchingUserEntityAnnotation"),
            email("alice@CORP.io")
        )
        .await,
        "user:default/alice"
    );
    assert!(
        resolve_in_file(
            one("emailMatchingUserEntityAnnotation"),
            email("alice@example.com")
        )
        .await
        .is_err()
    );
}

#[tokio::test]
async fn preferred_username_and_sub_match_entity_names() {
    let claims = Claims {
        subject: "BOB".into(),
        preferred_username: Some("Carol".into()),
        ..Claims::default()
    };
    assert_eq!(
        user_ref(
            one("preferredUsernameMatchingUserEntityName"),
            claims.clone()
        )
        .await,
        "user:default/carol"
    );
    assert_eq!(
        user_ref(one("subMatchingUserEntityName"), claims).await,
        "user:default/bob"
    );
}

#[tokio::test]
async fn not_found_and_missing_claims_fall_through() {
    let chain = resolvers(json!([
        {"resolver": "emailMatchingUserEntityProfileEmail"},
        {"resolver": "emailLocalPartMatchingUserEntityName"},
        {"resolver": "preferredUsernameMatchingUserEntityName"}
    ]));
    let claims = Claims {
        preferred_username: Some("carol".into()),
        ..email("zed@example.com")
    };
    assert_eq!(user_ref(chain.clone(), claims).await, "user:default/carol");
    let no_email = Claims {
        subject: "s".into(),
        ..Claims::default()
    };
    let err = resolve_in_file(chain, no_email).await.unwrap_err();
    let ResolveError::NotFound { tried } = err else {
        panic!()
    };
    assert_eq!(tried.len(), 3);
    assert!(
        tried[0].contains("no email claim") && tried[2].contains("no preferred_username claim"),
        "{tried:?}"
    );
}

#[tokio::test]
async fn several_matches_are_ambiguous_and_stop() {
    let chain = resolvers(json!([
        {"resolver": "emailMatchingUserEntityProfileEmail"},
        {"resolver": "subMatchingUserEntityName"}
    ]));
    let claims = Claims {
        subject: "alice".into(),
        ..email("dup@example.com")
    };
    let err = resolve_in_file(chain, claims).await.unwrap_err();
    let ResolveError::Ambiguous(message) = err else {
        panic!("{err:?}")
    };
    assert!(
        message.contains("user:default/dup1") && message.contains("user:default/dup2"),
        "{message}"
    );
}

#[tokio::test]
async fn dangerously_allow_signs_in_without_a_catalog_user() {
    let allow = |name: &str| {
        resolvers(json!([{"resolver": name, "dangerouslyAllowSignInWithoutUserInCatalog": true}]))
    };
    let identity = resolve_in_file(
        allow("emailMatchingUserEntityProfileEmail"),
        email("Zed+x@New.io"),
    )
    .await
    .unwrap();
    assert_eq!(identity.user_entity_ref, "user:default/zed@new.io");
    assert_eq!(identity.ownership_entity_refs, ["user:default/zed@new.io"]);
    assert_eq!(
        user_ref(
            allow("emailLocalPartMatchingUserEntityName"),
            email("Zed@new.io")
        )
        .await,
        "user:default/zed"
    );
    // A catalog user still wins.
    assert_eq!(
        user_ref(
            allow("emailLocalPartMatchingUserEntityName"),
            email("alice@x.io")
        )
        .await,
        "user:default/alice"
    );
}

#[tokio::test]
async fn file_changes_are_picked_up() {
    let dir = tempfile::tempdir().unwrap();
    let resolver = file_resolver(dir.path(), one("emailLocalPartMatchingUserEntityName"));
    assert!(resolver.resolve(&email("zed@x.io")).await.is_err());
    let added = format!("{CATALOG}---\nkind: User\nmetadata: {{name: zed}}\n");
    std::fs::write(dir.path().join("catalog.yaml"), added).unwrap();
    assert_eq!(
        resolver
            .resolve(&email("zed@x.io"))
            .await
            .unwrap()
            .user_entity_ref,
        "user:default/zed"
    );
    assert_eq!(resolver.list_users().await.unwrap().len(), 6);
}

#[tokio::test]
async fn lists_file_users() {
    let dir = tempfile::tempdir().unwrap();
    let users = file_resolver(dir.path(), one("subMatchingUserEntityName"))
        .list_users()
        .await
        .unwrap();
    let alice = users.iter().find(|u| u.name == "alice").unwrap();
    assert_eq!(alice.entity_ref, "user:default/alice");
    assert_eq!(alice.display_name.as_deref(), Some("Alice Liddell"));
    assert!(users.iter().all(|u| u.entity_ref.starts_with("user:")));
}
