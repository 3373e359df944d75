//! Property tests (proptest) of the loader: any tree of real and made-up
//! keys with any values, merged over a valid config, loads or is refused
//! with problems that each name a key path, never a panic, and never with a
//! secret (the value of a secret-named key, wherever it sits) in a message
//! or in `stagepass check`'s output.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::{Fixture, MINIMAL};

const KEYS: &[&str] = &[
    "stagepass",
    "auth",
    "publicUrl",
    "upstream",
    "provider",
    "listen",
    "admin",
    "tls",
    "certFile",
    "timeouts",
    "idle",
    "requestHeaders",
    "maxConnections",
    "cookieName",
    "catalog",
    "url",
    "file",
    "token",
    "trustedProxies",
    "providers",
    "my-auth-provider",
    "development",
    "metadataUrl",
    "clientId",
    "clientSecret",
    "signIn",
    "resolvers",
    "resolver",
    "session",
    "secret",
    "keyStore",
    "guest",
    "environment",
    "$env",
    "$file",
    "$include",
    "backstageTokenExpiration",
    "sessionDuration",
    "zzz",
];
const SECRET: &str = "s3cret-value-that-must-never-appear-0123456789";
const SECRET_KEYS: &[&str] = &["secret", "clientSecret", "token"];

/// Puts [`SECRET`] under every secret-named key of the tree: inside a list
/// or a mapping, or as the value itself.
fn plant_secrets(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if SECRET_KEYS.contains(&key.as_str()) {
                    *child = match child {
                        Value::Array(_) => json!([SECRET]),
                        Value::Object(_) => json!({ "inner": SECRET }),
                        _ => json!(SECRET),
                    };
                } else {
                    plant_secrets(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(plant_secrets),
        _ => {}
    }
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "[ -~]{0,24}".prop_map(Value::String),
        Just(json!("${SOME_VAR}")),
        Just(json!(
            "https://idp.example.com/.well-known/openid-configuration"
        )),
    ]
}

fn tree() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(KEYS), inner, 0..5).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_overlay_loads_or_is_refused_with_key_paths(mut overlay in tree()) {
        plant_secrets(&mut overlay);
        let fixture = Fixture::new();
        fixture.write("base.yaml", MINIMAL);
        // JSON is YAML: the overlay goes through the same YAML parser.
        fixture.write("over.yaml", &overlay.to_string());
        match fixture.load(&["base.yaml", "over.yaml"], &[("SOME_VAR", "from-the-environment")]) {
            Ok(loaded) => {
                prop_assert!(!loaded.redacted_yaml().contains(SECRET));
            }
            Err(errors) => {
                for problem in &errors.0 {
                    prop_assert!(!problem.path.is_empty(), "{:?}", problem);
                    prop_assert!(!problem.message.contains(SECRET), "{:?}", problem);
                }
            }
        }
    }
}
