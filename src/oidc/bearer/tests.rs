//! The checks on an API client's token, one way to fail each, with a real
//! P-256 key: what a forged, stolen or misdirected token looks like.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::*;

const ISSUER: &str = "https://idp.example";
const NOW: u64 = 1_800_000_000;

struct Idp {
    pair: EcdsaKeyPair,
    jwks: CoreJsonWebKeySet,
}

fn idp() -> Idp {
    let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let point = &pair.public_key().as_ref()[1..];
    let (x, y) = point.split_at(32);
    let jwk = json!({"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig",
        "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)});
    let jwks = serde_json::from_value(json!({ "keys": [jwk] })).unwrap();
    Idp { pair, jwks }
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

impl Idp {
    fn sign(&self, header: Value, claims: Value) -> String {
        let input = format!("{}.{}", b64(&header), b64(&claims));
        let sig = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .unwrap();
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    fn token(&self, claims: Value) -> String {
        self.sign(
            json!({"alg": "ES256", "kid": "k1", "typ": "at+jwt"}),
            claims,
        )
    }

    fn check(&self, token: &str) -> Result<Value, String> {
        self.check_scoped(token, None)
    }

    fn check_scoped(&self, token: &str, scope: Option<&str>) -> Result<Value, String> {
        let audiences = ["https://api.example".to_owned(), "stagepass".to_owned()];
        let expect = BearerExpectations {
            audiences: &audiences,
            required_scope: scope,
            now: NOW,
        };
        check_with(token, ISSUER, &self.jwks, &expect).map_err(|e| match e {
            BearerRejected::UnknownKey => "unknown key".to_owned(),
            BearerRejected::Invalid(reason) => reason,
        })
    }
}

fn claims() -> Value {
    json!({"iss": ISSUER, "sub": "ci-robot", "aud": "https://api.example",
        "iat": NOW - 10, "exp": NOW + 300, "scope": "openid api:read", "client_id": "ci-robot"})
}

fn with(changes: Value) -> Value {
    let mut claims = claims();
    for (key, value) in changes.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(key);
        } else {
            claims[key] = value.clone();
        }
    }
    claims
}

#[test]
fn a_token_the_idp_signed_for_stagepass_is_accepted_with_its_claims() {
    let idp = idp();
    let accepted = idp.check(&idp.token(claims())).unwrap();
    assert_eq!(accepted["sub"], "ci-robot");
    let listed = idp.token(with(json!({"aud": ["other", "stagepass"]})));
    assert!(idp.check(&listed).is_ok(), "aud as a list");
    let scoped = idp.check_scoped(&idp.token(claims()), Some("api:read"));
    assert!(scoped.is_ok());
    let scp = idp.token(with(json!({"scope": null, "scp": ["api:read"]})));
    assert!(
        idp.check_scoped(&scp, Some("api:read")).is_ok(),
        "Entra's scp"
    );
}

#[test]
fn each_failed_check_is_refused_with_its_reason() {
    let idp = idp();
    let cases = [
        (with(json!({"aud": "another-api"})), "another audience"),
        (with(json!({"aud": null})), "another audience"),
        (
            with(json!({"iss": "https://evil.example"})),
            "someone other",
        ),
        (with(json!({"exp": NOW - 31})), "expired"),
        (with(json!({"exp": null})), "no expiry"),
        (with(json!({"nbf": NOW + 120})), "not valid yet"),
        (with(json!({"iat": NOW + 120})), "not valid yet"),
        (with(json!({"nonce": "n-0S6_WzA2Mj"})), "ID token"),
        (
            with(json!({"at_hash": "77QmUPtjPfzWtF2AnpK9RQ"})),
            "ID token",
        ),
        (with(json!({"exp": NOW - 30})), "expired"),
        (with(json!({"sub": null})), "no subject"),
        (with(json!({"sub": ""})), "no subject"),
    ];
    for (claims, reason) in cases {
        let err = idp.check(&idp.token(claims.clone())).unwrap_err();
        assert!(err.contains(reason), "{claims}: {err}");
    }
    let err = idp
        .check_scoped(&idp.token(claims()), Some("api:write"))
        .unwrap_err();
    assert!(err.contains("required scope api:write"), "{err}");
}

#[test]
fn forged_tokens_are_refused() {
    let idp = idp();
    let genuine = idp.token(claims());
    let (signed, _) = genuine.rsplit_once('.').unwrap();
    // Claims swapped under a genuine signature.
    let (header, _) = signed.split_once('.').unwrap();
    let swapped = format!(
        "{header}.{}.{}",
        b64(&with(json!({"sub": "admin"}))),
        genuine.rsplit('.').next().unwrap()
    );
    assert!(idp.check(&swapped).unwrap_err().contains("does not verify"));
    // alg none, and HS256 keyed with the public key (the classic confusion).
    let none = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&claims()));
    assert!(idp.check(&none).unwrap_err().contains("algorithm"));
    let hs_input = format!(
        "{}.{}",
        b64(&json!({"alg": "HS256", "kid": "k1"})),
        b64(&claims())
    );
    let key =
        aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, idp.pair.public_key().as_ref());
    let mac = aws_lc_rs::hmac::sign(&key, hs_input.as_bytes());
    let hs = format!("{hs_input}.{}", URL_SAFE_NO_PAD.encode(mac.as_ref()));
    assert!(idp.check(&hs).unwrap_err().contains("algorithm"));
    // Another key under the same kid; an unknown kid; not a JWT at all.
    let other = Idp {
        pair: EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING).unwrap(),
        jwks: idp.jwks.clone(),
    };
    assert!(
        idp.check(&other.token(claims()))
            .unwrap_err()
            .contains("does not verify")
    );
    let unknown = idp.sign(json!({"alg": "ES256", "kid": "k9"}), claims());
    assert_eq!(idp.check(&unknown).unwrap_err(), "unknown key");
    for junk in ["", "abc", "a.b", "a.b.c.d", "Zm9v.YmFy.YmF6"] {
        assert!(idp.check(junk).is_err(), "{junk}");
    }
}

#[test]
fn the_leeway_is_thirty_seconds_each_way_and_a_token_without_kid_is_tried_on_every_key() {
    let idp = idp();
    assert!(
        idp.check(&idp.token(with(json!({"exp": NOW - 29}))))
            .is_ok()
    );
    assert!(
        idp.check(&idp.token(with(json!({"nbf": NOW + 30}))))
            .is_ok()
    );
    assert!(
        idp.check(&idp.token(with(json!({"nbf": NOW + 31}))))
            .is_err()
    );
    let no_kid = idp.sign(json!({"alg": "ES256"}), claims());
    assert!(idp.check(&no_kid).is_ok());
}
