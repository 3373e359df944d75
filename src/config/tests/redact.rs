//! Redaction of the effective config, and secrets kept out of messages.

use super::{load_over, load_over_with_env, ok, problems_over, provider_overlay};
use crate::config::redact::{is_secret_key, redact};
use serde_json::json;

#[test]
fn secret_key_names_are_recognised_generously() {
    for key in [
        "secret",
        "clientSecret",
        "CLIENT_SECRET",
        "token",
        "accessToken",
        "password",
        "dbPassword",
        "privateKey",
        "apiKey",
        "credentials",
        "passphrase",
    ] {
        assert!(is_secret_key(key), "{key}");
    }
    for key in [
        "stagepass",
        "tokenSignedResponseAlg",
        "tokenEndpointAuthMethod",
        "keyFile",
        "certFile",
        "keys",
        "publicKeyFile",
        "clientId",
        "publicUrl",
    ] {
        assert!(!is_secret_key(key), "{key}");
    }
}

#[test]
fn redact_masks_secret_values_anywhere_in_the_tree() {
    let tree = json!({
        "backend": {"auth": {"keys": [{"secret": "k1"}]}, "database": {"connection": {"password": "pw", "host": "db"}}},
        "integrations": {"github": [{"host": "github.com", "token": "ghp"}]},
        "empty": {"token": null},
        "db": "postgres://user:pw@db:5432/x",
    });
    assert_eq!(
        redact(&tree),
        json!({
            "backend": {"auth": {"keys": [{"secret": "***"}]}, "database": {"connection": {"password": "***", "host": "db"}}},
            "integrations": {"github": [{"host": "github.com", "token": "***"}]},
            "empty": {"token": null},
            "db": "postgres://***:***@db:5432/x",
        })
    );
}

#[test]
fn switches_named_like_secrets_stay_readable() {
    let tree = json!({"stagepass": {"headers": {"passIdToken": true, "passAccessToken": false}}, "token": "t"});
    assert_eq!(
        redact(&tree),
        json!({"stagepass": {"headers": {"passIdToken": true, "passAccessToken": false}}, "token": "***"})
    );
}

#[test]
fn redacted_yaml_shows_config_but_no_secrets() {
    let loaded = ok(load_over_with_env(
        "backend:\n  auth:\n    externalAccess: [{options: {token: '${TOKEN}'}}]\n",
        &[("TOKEN", "static-token-value")],
    ));
    let yaml = loaded.redacted_yaml();
    assert!(
        yaml.contains("publicUrl: https://portal.example.com"),
        "{yaml}"
    );
    assert!(yaml.contains("clientId: stagepass"), "{yaml}");
    assert!(
        yaml.contains("clientSecret: \"***\"") || yaml.contains("clientSecret: '***'"),
        "{yaml}"
    );
    for secret in [
        "0123456789abcdef0123456789abcdef",
        "client-secret-value",
        "static-token-value",
    ] {
        assert!(!yaml.contains(secret), "{secret} leaked:\n{yaml}");
    }
    let reparsed: serde_json::Value = serde_saphyr::from_str(&yaml).expect("valid YAML");
    assert_eq!(
        reparsed["stagepass"]["upstream"],
        json!("http://127.0.0.1:7007")
    );
}

#[test]
fn secret_values_never_appear_in_messages() {
    let secret = "not-long-enough-secret";
    let overlays = [
        format!("auth:\n  session:\n    secret: {secret}\n"),
        format!("auth:\n  session:\n    secret: [{secret}]\n"),
        format!("auth:\n  session:\n    secret: {{nested: {secret}}}\n"),
        format!("auth:\n  session:\n    other: [{secret}]\n  providers: 5\n"),
        provider_overlay(&format!("clientSecret: [{secret}]")),
        provider_overlay(&format!("clientSecret: {{x: {secret}}}")),
        provider_overlay("clientSecret: ''"),
    ];
    for overlay in overlays {
        let errors = problems_over(&overlay);
        assert!(!errors.is_empty(), "{overlay}");
        for error in &errors {
            assert!(!error.contains(secret), "leaked in {error:?}");
        }
    }
}

#[test]
fn problems_in_secrets_still_name_the_path() {
    let errors = problems_over(&provider_overlay("clientSecret: [a, b]"));
    assert_eq!(
        errors,
        ["auth.providers.my-auth-provider.development.clientSecret: expected a string, got a list"]
    );
}

#[test]
fn debug_output_hides_secrets() {
    let loaded = ok(load_over(""));
    let debug = format!("{:?} {loaded:?}", loaded.config);
    assert!(!debug.contains("client-secret-value"), "{debug}");
    assert!(
        !debug.contains("0123456789abcdef0123456789abcdef"),
        "{debug}"
    );
}
