//! End-to-end tests of `IdentityResolver`: every resolver against a catalog
//! file, and the catalog API path (caching, outages) against a fake API.

mod api;
mod file;
mod properties;

use serde_json::{Value, json};

use super::*;
use crate::config::*;

pub(super) fn resolvers(value: Value) -> Vec<ResolverConfig> {
    parse_resolvers(&value, "auth.providers.oidc.development.signIn.resolvers").unwrap()
}

pub(super) fn one(resolver: &str) -> Vec<ResolverConfig> {
    let mut entry = json!({"resolver": resolver});
    if resolver == "emailMatchingUserEntityAnnotation" {
        entry["annotation"] = json!("corp.io/email");
    }
    resolvers(json!([entry]))
}

pub(super) fn email(address: &str) -> Claims {
    Claims {
        subject: "sub-1".into(),
        email: Some(address.into()),
        ..Claims::default()
    }
}

/// The proxy shares one resolver across tasks and awaits it inside hyper
/// services, which need `Send` futures.
#[test]
fn resolver_is_shareable_and_its_futures_are_send() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: T) {}
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.yaml"),
        "kind: User\nmetadata: {name: a}\n",
    )
    .unwrap();
    let source = CatalogSource::File(dir.path().join("c.yaml"));
    let resolver = IdentityResolver::new(
        one("subMatchingUserEntityName"),
        CatalogConfig::new(source),
        &crate::http_client::Outbound::direct(),
    )
    .unwrap();
    send_sync(&resolver);
    let claims = Claims::default();
    send(resolver.resolve(&claims));
    send(resolver.list_users());
}
