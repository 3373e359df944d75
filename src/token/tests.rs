//! Tokens verified the way Backstage verifies them: with the published JWKS.

use std::path::Path;

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::keys::generate_pem_pair;
use super::*;
use crate::config::*;

const NOW: u64 = 1_700_000_000;

fn identity() -> Identity {
    Identity {
        user_entity_ref: "user:default/alice".into(),
        ownership_entity_refs: vec!["user:default/alice".into(), "group:default/team-a".into()],
        display_name: Some("Alice".into()),
        email: Some("alice@example.com".into()),
        picture: None,
    }
}

fn config() -> TokenConfig {
    TokenConfig::new(&url::Url::parse("https://portal.example.com").unwrap())
}

fn b64json(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

fn b64(text: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text.as_str().unwrap()).unwrap()
}

/// Checks the signature with the JWKS entry named by the header's `kid`;
/// returns (header, claims).
fn verify(token: &str, jwks: &Value) -> (Value, Value) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header = b64json(parts[0]);
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("kid published");
    let message = format!("{}.{}", parts[0], parts[1]);
    let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    let verified = match jwk["kty"].as_str().unwrap() {
        "EC" => {
            let point = [vec![4u8], b64(&jwk["x"]), b64(&jwk["y"])].concat();
            UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                .verify(message.as_bytes(), &signature)
        }
        _ => RsaPublicKeyComponents {
            n: b64(&jwk["n"]),
            e: b64(&jwk["e"]),
        }
        .verify(
            &signature::RSA_PKCS1_2048_8192_SHA256,
            message.as_bytes(),
            &signature,
        ),
    };
    assert!(verified.is_ok(), "signature does not verify");
    (header, b64json(parts[1]))
}

#[test]
fn backstage_tokens_verify_with_the_jwks_and_have_exact_claims() {
    let issuer = TokenIssuer::new(config()).unwrap();
    let minted = issuer.mint_backstage_token(&identity(), NOW);
    assert_eq!(minted.expires_at, NOW + 3600);
    let (header, claims) = verify(&minted.token, &issuer.jwks());
    let kid = issuer.jwks()["keys"][0]["kid"].clone();
    assert_eq!(
        header,
        json!({"alg": "ES256", "kid": kid}),
        "no typ in the header"
    );
    assert_eq!(
        claims,
        json!({
            "iss": "https://portal.example.com/api/auth",
            "sub": "user:default/alice",
            "ent": ["user:default/alice", "group:default/team-a"],
            "aud": "backstage",
            "iat": NOW,
            "exp": NOW + 3600,
        })
    );
    assert!(!format!("{minted:?}").contains(&minted.token));
}

#[test]
fn jwks_has_the_backstage_shape() {
    let jwks = TokenIssuer::new(config()).unwrap().jwks();
    let key = &jwks["keys"][0];
    let mut names: Vec<&str> = key
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    names.sort();
    assert_eq!(names, ["alg", "crv", "kid", "kty", "use", "x", "y"]);
    assert_eq!(
        (&key["kty"], &key["crv"], &key["alg"], &key["use"]),
        (
            &json!("EC"),
            &json!("P-256"),
            &json!("ES256"),
            &json!("sig")
        )
    );
}

fn write_key(dir: &Path, name: &str, alg: Algorithm) -> Value {
    let (private, public) = generate_pem_pair(alg);
    std::fs::write(dir.join(format!("{name}.key")), private).unwrap();
    std::fs::write(dir.join(format!("{name}.pub")), public).unwrap();
    json!({"publicKeyFile": format!("{name}.pub"), "privateKeyFile": format!("{name}.key"), "keyId": name, "algorithm": alg.name()})
}

fn issuer_with(dir: &Path, keys: Vec<Value>) -> Result<TokenIssuer, TokenError> {
    let value = json!({"provider": "static", "static": {"keys": keys}});
    let store = parse_key_store(&value, "auth.keyStore", dir).unwrap();
    TokenIssuer::new(TokenConfig {
        key_store: store,
        ..config()
    })
}

#[test]
fn static_key_files_sign_and_all_are_published() {
    let dir = tempfile::tempdir().unwrap();
    let first = write_key(dir.path(), "first", Algorithm::ES256);
    let second = write_key(dir.path(), "second", Algorithm::ES256);
    let issuer = issuer_with(dir.path(), vec![first, second]).unwrap();
    let jwks = issuer.jwks();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
    let (header, _) = verify(&issuer.mint_backstage_token(&identity(), NOW).token, &jwks);
    assert_eq!(header["kid"], "first");
    // The published key is the one in the public key file.
    let pem = std::fs::read_to_string(dir.path().join("first.pub")).unwrap();
    let spki = pem::decode(&pem, "PUBLIC KEY").unwrap();
    let point = [
        vec![4u8],
        b64(&jwks["keys"][0]["x"]),
        b64(&jwks["keys"][0]["y"]),
    ]
    .concat();
    assert!(spki.ends_with(&point));
}

#[test]
fn rs256_key_files_work() {
    let dir = tempfile::tempdir().unwrap();
    let issuer = issuer_with(
        dir.path(),
        vec![write_key(dir.path(), "rsa", Algorithm::RS256)],
    )
    .unwrap();
    let (header, claims) = verify(
        &issuer.mint_backstage_token(&identity(), NOW).token,
        &issuer.jwks(),
    );
    assert_eq!(header["alg"], "RS256");
    assert_eq!(claims["sub"], "user:default/alice");
}

#[test]
fn broken_key_files_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let a = write_key(dir.path(), "a", Algorithm::ES256);
    write_key(dir.path(), "b", Algorithm::ES256);
    let mismatched = json!({"publicKeyFile": "b.pub", "privateKeyFile": "a.key", "keyId": "a"});
    let err = issuer_with(dir.path(), vec![mismatched])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("is not the public key of"), "{err}");

    let sec1 = "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n";
    std::fs::write(dir.path().join("sec1.key"), sec1).unwrap();
    let sec1_key = json!({"publicKeyFile": "a.pub", "privateKeyFile": "sec1.key", "keyId": "s"});
    let err = issuer_with(dir.path(), vec![sec1_key])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("openssl pkcs8 -topk8"), "{err}");

    let missing = json!({"publicKeyFile": "a.pub", "privateKeyFile": "nope.key", "keyId": "n"});
    let err = issuer_with(dir.path(), vec![missing])
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("nope.key"), "{err}");
    assert!(issuer_with(dir.path(), vec![a]).is_ok());
}

#[test]
fn lifetime_is_clamped_and_configurable() {
    let short = TokenConfig {
        backstage_token_expiration: Duration::from_secs(60),
        ..config()
    };
    assert_eq!(
        TokenIssuer::new(short).unwrap().lifetime(),
        MIN_TOKEN_EXPIRATION
    );
    let two_hours =
        parse_token_expiration(&json!({"hours": 2}), "auth.backstageTokenExpiration").unwrap();
    let issuer = TokenIssuer::new(TokenConfig {
        backstage_token_expiration: two_hours,
        ..config()
    })
    .unwrap();
    assert_eq!(
        issuer.mint_backstage_token(&identity(), NOW).expires_at,
        NOW + 7200
    );
}

#[test]
fn backstage_tokens_are_reused_until_a_fifth_of_their_life_is_left() {
    let issuer = TokenIssuer::new(config()).unwrap();
    let first = issuer.token_for_at(&identity(), NOW);
    assert_eq!(issuer.token_for_at(&identity(), NOW + 2000), first);
    assert_eq!(issuer.token_for_at(&identity(), NOW + 2879), first);
    let renewed = issuer.token_for_at(&identity(), NOW + 2881);
    assert_ne!(renewed, first);
    assert_eq!(renewed.expires_at, NOW + 2881 + 3600);
    assert_eq!(issuer.token_for_at(&identity(), NOW + 2900), renewed);

    let mut other_groups = identity();
    other_groups.ownership_entity_refs.pop();
    let (_, claims) = verify(
        &issuer.token_for_at(&other_groups, NOW + 2900).token,
        &issuer.jwks(),
    );
    assert_eq!(claims["ent"], json!(["user:default/alice"]));
    // The wall-clock entry point mints a token valid from now.
    let live = issuer.token_for(&identity());
    assert!(live.expires_at >= unix_now() + 3500);
}

#[test]
fn assertions_carry_identity_for_one_audience() {
    let issuer = TokenIssuer::new(config()).unwrap();
    let claims = Claims {
        subject: "idp-sub".into(),
        email: Some("a@idp.io".into()),
        name: Some("From IdP".into()),
        ..Claims::default()
    };
    let token = issuer
        .assertion_for(&identity(), &claims, "https://grafana.example.com", NOW)
        .token;
    let (header, payload) = verify(&token, &issuer.jwks());
    assert_eq!(header["typ"], "JWT");
    assert_eq!(
        payload,
        json!({
            "iss": "https://portal.example.com/api/auth",
            "sub": "user:default/alice",
            "aud": "https://grafana.example.com",
            "iat": NOW,
            "exp": NOW + 300,
            "email": "alice@example.com",
            "name": "Alice",
            "ent": ["user:default/alice", "group:default/team-a"],
        })
    );
    assert_eq!(
        issuer
            .assertion_for(
                &identity(),
                &claims,
                "https://grafana.example.com",
                NOW + 239
            )
            .token,
        token
    );
    assert_ne!(
        issuer
            .assertion_for(
                &identity(),
                &claims,
                "https://grafana.example.com",
                NOW + 241
            )
            .token,
        token
    );
    assert_ne!(
        issuer
            .assertion_for(&identity(), &claims, "https://other.example.com", NOW)
            .token,
        token
    );

    let bare = Identity {
        email: None,
        display_name: None,
        ..identity()
    };
    let (_, payload) = verify(
        &issuer.assertion_for(&bare, &claims, "https://x", NOW).token,
        &issuer.jwks(),
    );
    assert_eq!(
        (&payload["email"], &payload["name"]),
        (&json!("a@idp.io"), &json!("From IdP"))
    );
}

#[test]
fn short_lived_tokens_keep_more_than_the_frontends_refresh_window() {
    // Backstage's frontend refreshes once fewer than 5 minutes are left: a
    // 20-minute token (a fifth = 4 minutes) must not be handed out again
    // inside that window, or each call there refreshes to the same token.
    let issuer = TokenIssuer::new(TokenConfig {
        backstage_token_expiration: Duration::from_secs(20 * 60),
        ..config()
    })
    .unwrap();
    let first = issuer.token_for_at(&identity(), NOW);
    assert_eq!(issuer.token_for_at(&identity(), NOW + 839), first);
    let renewed = issuer.token_for_at(&identity(), NOW + 841);
    assert_ne!(renewed, first, "6 minutes or less left: minted anew");
    assert!(renewed.expires_at - (NOW + 841) > 5 * 60);
}

#[test]
fn the_reuse_margin_is_a_fifth_or_six_minutes_whichever_is_longer() {
    assert_eq!(super::reuse_margin(10 * 60), 360);
    assert_eq!(super::reuse_margin(25 * 60), 360);
    assert_eq!(super::reuse_margin(3600), 720);
    assert_eq!(super::reuse_margin(24 * 3600), 17_280);
}

#[test]
fn issuer_is_shareable() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    send_sync(&TokenIssuer::new(config()).unwrap());
}

#[test]
fn a_backstage_token_it_minted_comes_back_as_its_identity() {
    let dir = tempfile::tempdir().unwrap();
    for alg in [Algorithm::ES256, Algorithm::RS256] {
        let issuer = issuer_with(dir.path(), vec![write_key(dir.path(), alg.name(), alg)]).unwrap();
        let minted = issuer.mint_backstage_token(&identity(), NOW);
        assert!(issuer.claims_to_be_mine(&minted.token));
        let presented = issuer
            .verify_backstage_token(&minted.token, NOW + 1)
            .unwrap();
        assert_eq!(presented.identity.user_entity_ref, "user:default/alice");
        assert_eq!(
            presented.identity.ownership_entity_refs,
            identity().ownership_entity_refs
        );
        assert_eq!(presented.expires_at, minted.expires_at);
    }
}

#[test]
fn presented_tokens_that_are_not_its_live_backstage_tokens_are_refused() {
    let issuer = TokenIssuer::new(config()).unwrap();
    let other = TokenIssuer::new(config()).unwrap();
    let minted = issuer.mint_backstage_token(&identity(), NOW);
    let refused = |token: &str, now: u64| issuer.verify_backstage_token(token, now).unwrap_err();
    assert_eq!(refused(&minted.token, minted.expires_at), "expired");
    // Same issuer name, another replica's generated key.
    let foreign = other.mint_backstage_token(&identity(), NOW).token;
    assert!(issuer.claims_to_be_mine(&foreign));
    assert_eq!(
        refused(&foreign, NOW),
        "names a key stagepass does not sign with"
    );
    // An assertion is addressed to an app, not to Backstage.
    let claims = Claims::default();
    let assertion = issuer
        .assertion_for(&identity(), &claims, "https://app.example", NOW)
        .token;
    assert_eq!(
        refused(&assertion, NOW),
        "is not a Backstage token from this stagepass"
    );
    // Claims swapped under a genuine signature.
    let parts: Vec<&str> = minted.token.split('.').collect();
    let forged_claims = json!({"iss": issuer.issuer(), "sub": "user:default/admin", "ent": [],
        "aud": "backstage", "iat": NOW, "exp": NOW + 3600});
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(forged_claims.to_string()),
        parts[2]
    );
    assert_eq!(
        refused(&forged, NOW),
        "does not verify with stagepass's keys"
    );
    assert!(!issuer.claims_to_be_mine("not.a.jwt"));
}
