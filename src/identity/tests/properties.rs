//! Property test (proptest) of catalog lookups through the API: whatever
//! email an IdP sends (commas, `=`, percent signs, spaces, quotes), the
//! person resolved is one whose `spec.profile.email` is that email, or
//! nobody. The test catalog parses filters exactly as Backstage does.

use std::time::Duration;

use proptest::prelude::*;
use serde_json::json;

use super::api::api_resolver_with_timeout;
use super::{email, one};
use crate::identity::test_catalog_api::FakeCatalog;

const PEOPLE: [&str; 3] = ["alice@example.com", "bob@example.com", "c,d=e@example.com"];

fn hostile_email() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("alice@example.com".to_owned()),
        Just("spec.profile.email=".to_owned()),
        Just("kind=user".to_owned()),
        Just(",".to_owned()),
        Just("%2C".to_owned()),
        Just("\"".to_owned()),
        Just(" ".to_owned()),
        "[a-z+.@=%,]{1,6}",
    ];
    prop::collection::vec(piece, 1..6).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn a_lookup_finds_exactly_its_email_or_nobody(address in hostile_email()) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let entities = PEOPLE
                .iter()
                .enumerate()
                .map(|(i, mail)| json!({"kind": "User", "metadata": {"name": format!("u{i}")},
                    "spec": {"profile": {"email": mail}}}))
                .collect();
            let catalog = FakeCatalog::start(entities).await;
            let resolver = api_resolver_with_timeout(
                &catalog,
                one("emailMatchingUserEntityProfileEmail"),
                Duration::ZERO,
                Duration::ZERO,
                Duration::from_secs(5),
            );
            // Backstage's email resolver also tries the address without a
            // `+tag` in its local part.
            let wanted = address.trim().to_lowercase();
            let untagged = match wanted.split_once('@') {
                Some((local, domain)) => format!("{}@{domain}", local.split('+').next().unwrap_or(local)),
                None => wanted.clone(),
            };
            let expected = [&wanted, &untagged].into_iter().find_map(|w| {
                PEOPLE
                    .iter()
                    .position(|p| p == w && !p.contains([',', '=']))
                    .map(|i| format!("user:default/u{i}"))
            });
            match resolver.resolve(&email(&address)).await {
                Ok(identity) => prop_assert_eq!(Some(identity.user_entity_ref), expected, "{:?}", address),
                Err(err) => prop_assert!(expected.is_none(), "{:?}: {:?}", address, err),
            }
            Ok(())
        })?;
    }
}
