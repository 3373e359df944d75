use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::{DEPLOYMENT, SECRET_A, SECRET_B, keys};
use crate::config::Secret;
use crate::session::SessionKeys;
use crate::session::seal::Purpose;

const MAX: usize = 24 * 1024;
const PLAIN: &[u8] = b"{\"hello\":\"world\"}";

fn seal(keys: &SessionKeys, name: &str, plain: &[u8]) -> String {
    keys.seal(Purpose::Session, name, plain).expect("seals")
}

fn open(keys: &SessionKeys, name: &str, value: &str) -> Option<Vec<u8>> {
    keys.open(Purpose::Session, name, value, MAX)
}

#[test]
fn round_trip() {
    let keys = keys(&[SECRET_A]);
    let sealed = seal(&keys, "sp", PLAIN);
    assert_eq!(open(&keys, "sp", &sealed).as_deref(), Some(PLAIN));
}

#[test]
fn empty_plaintext_round_trips() {
    let keys = keys(&[SECRET_A]);
    let sealed = seal(&keys, "sp", b"");
    assert_eq!(open(&keys, "sp", &sealed), Some(Vec::new()));
}

#[test]
fn layout_is_version_kid_nonce_ciphertext_tag() {
    let keys = keys(&[SECRET_A]);
    let sealed = seal(&keys, "sp", PLAIN);
    assert!(
        sealed
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let raw = URL_SAFE_NO_PAD.decode(&sealed).unwrap();
    assert_eq!(raw.len(), 1 + 4 + 12 + PLAIN.len() + 16);
    assert_eq!(raw[0], 2, "format 2: keys bound to the deployment");
}

#[test]
fn nonces_are_fresh_per_seal() {
    let keys = keys(&[SECRET_A]);
    let first = URL_SAFE_NO_PAD.decode(seal(&keys, "sp", PLAIN)).unwrap();
    let second = URL_SAFE_NO_PAD.decode(seal(&keys, "sp", PLAIN)).unwrap();
    assert_eq!(first[..5], second[..5], "same version and kid");
    assert_ne!(first[5..17], second[5..17], "different nonces");
}

#[test]
fn cookie_name_is_bound() {
    let keys = keys(&[SECRET_A]);
    let sealed = seal(&keys, "sp", PLAIN);
    for other in ["sp_login", "sp_0", "other", "SP", ""] {
        assert_eq!(open(&keys, other, &sealed), None, "opened under {other:?}");
    }
}

#[test]
fn purposes_use_separate_keys() {
    let keys = keys(&[SECRET_A]);
    let sealed = keys.seal(Purpose::Login, "sp", PLAIN).unwrap();
    assert_eq!(keys.open(Purpose::Session, "sp", &sealed, MAX), None);
    assert!(keys.open(Purpose::Login, "sp", &sealed, MAX).is_some());
}

#[test]
fn flipping_any_bit_of_any_byte_fails() {
    let keys = keys(&[SECRET_A]);
    let raw = URL_SAFE_NO_PAD.decode(seal(&keys, "sp", PLAIN)).unwrap();
    // Version, key id, nonce, ciphertext and tag: every byte is covered.
    for index in 0..raw.len() {
        for bit in 0..8 {
            let mut tampered = raw.clone();
            tampered[index] ^= 1 << bit;
            let value = URL_SAFE_NO_PAD.encode(&tampered);
            assert_eq!(open(&keys, "sp", &value), None, "byte {index} bit {bit}");
        }
    }
}

#[test]
fn changing_any_character_fails() {
    let keys = keys(&[SECRET_A]);
    let sealed = seal(&keys, "sp", PLAIN);
    for index in 0..sealed.len() {
        let mut bytes = sealed.clone().into_bytes();
        bytes[index] = if bytes[index] == b'A' { b'B' } else { b'A' };
        let value = String::from_utf8(bytes).unwrap();
        assert_eq!(open(&keys, "sp", &value), None, "char {index}");
    }
}

#[test]
fn every_truncation_and_extension_fails() {
    let keys = keys(&[SECRET_A]);
    let sealed = seal(&keys, "sp", PLAIN);
    for len in 0..sealed.len() {
        assert_eq!(open(&keys, "sp", &sealed[..len]), None, "prefix of {len}");
        assert_eq!(
            open(&keys, "sp", &sealed[len + 1..]),
            None,
            "suffix from {len}"
        );
    }
    for extra in ["A", "AA", "AAAA", "="] {
        assert_eq!(open(&keys, "sp", &format!("{sealed}{extra}")), None);
    }
}

#[test]
fn garbage_fails() {
    let keys = keys(&[SECRET_A]);
    let long = "A".repeat(200);
    for value in [
        "",
        "x",
        "not base64 at all!",
        "%%%%",
        &long,
        "=====",
        "деньги",
    ] {
        assert_eq!(open(&keys, "sp", value), None, "{value:?}");
    }
}

#[test]
fn padded_or_standard_base64_is_refused() {
    let keys = keys(&[SECRET_A]);
    let raw = URL_SAFE_NO_PAD.decode(seal(&keys, "sp", PLAIN)).unwrap();
    let padded = base64::engine::general_purpose::URL_SAFE.encode(&raw);
    if padded.ends_with('=') {
        assert_eq!(open(&keys, "sp", &padded), None);
    }
}

#[test]
fn wrong_secret_fails() {
    let sealed = seal(&keys(&[SECRET_A]), "sp", PLAIN);
    assert_eq!(open(&keys(&[SECRET_B]), "sp", &sealed), None);
}

#[test]
fn rotation_first_seals_all_open() {
    let old = keys(&[SECRET_A]);
    let rotated = keys(&[SECRET_B, SECRET_A]);
    let from_old = seal(&old, "sp", PLAIN);
    assert_eq!(open(&rotated, "sp", &from_old).as_deref(), Some(PLAIN));
    let from_rotated = seal(&rotated, "sp", PLAIN);
    assert_eq!(
        open(&keys(&[SECRET_B]), "sp", &from_rotated).as_deref(),
        Some(PLAIN)
    );
    assert_eq!(
        open(&old, "sp", &from_rotated),
        None,
        "sealed with the new secret"
    );
}

#[test]
fn duplicate_secrets_share_a_kid_and_still_open() {
    let keys = keys(&[SECRET_A, SECRET_A]);
    let sealed = seal(&keys, "sp", PLAIN);
    assert_eq!(open(&keys, "sp", &sealed).as_deref(), Some(PLAIN));
}

#[test]
fn over_max_len_is_refused_before_decoding() {
    let keys = keys(&[SECRET_A]);
    let sealed = seal(&keys, "sp", PLAIN);
    let exact = sealed.len();
    assert!(keys.open(Purpose::Session, "sp", &sealed, exact).is_some());
    assert_eq!(keys.open(Purpose::Session, "sp", &sealed, exact - 1), None);
}

#[test]
fn oversize_plaintext_is_not_sealed() {
    let keys = keys(&[SECRET_A]);
    assert!(keys.seal(Purpose::Session, "sp", &[0; 64 * 1024]).is_some());
    assert_eq!(keys.seal(Purpose::Session, "sp", &[0; 64 * 1024 + 1]), None);
}

#[test]
fn empty_secret_list_has_no_keys() {
    assert!(SessionKeys::from_secrets(&[], DEPLOYMENT).is_none());
}

#[test]
fn debug_shows_no_key_material() {
    let keys =
        SessionKeys::from_secrets(&[Secret::new(SECRET_A), Secret::new(SECRET_B)], DEPLOYMENT)
            .unwrap();
    let debug = format!("{keys:?}");
    assert_eq!(debug, "SessionKeys { keys: 2, .. }");
}

#[test]
fn a_value_from_another_deployment_with_the_same_secret_never_opens() {
    let here = keys(&[SECRET_A]);
    let sealed = here.seal(Purpose::Session, "sp", b"alice").unwrap();
    assert_eq!(
        here.open(Purpose::Session, "sp", &sealed, 4096).as_deref(),
        Some(&b"alice"[..])
    );
    for elsewhere in [
        "http://localhost:7000\noidc\nportal", // a development instance
        "https://portal.example\nguest\n",     // the guest provider
        "https://portal.example\noidc\nother-client", // another app at the IdP
        "https://other.example\noidc\nportal", // another origin
    ] {
        let there = SessionKeys::from_secrets(&[Secret::new(SECRET_A)], elsewhere).unwrap();
        let foreign = there.seal(Purpose::Session, "sp", b"alice").unwrap();
        assert_eq!(
            here.open(Purpose::Session, "sp", &foreign, 4096),
            None,
            "{elsewhere}"
        );
    }
}
