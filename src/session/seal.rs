//! Sealing cookie values: AES-256-GCM under keys derived with HKDF-SHA256
//! from `auth.session.secret`.
//!
//! A sealed value is `base64url_nopad(version | kid | nonce | ciphertext+tag)`:
//!
//! | bytes | field |
//! | --- | --- |
//! | 1 | format version, [`FORMAT_VERSION`] |
//! | 4 | key id: HKDF output under its own `info`, so it reveals nothing about the key |
//! | 12 | random nonce from the OS |
//! | n + 16 | ciphertext and GCM tag |
//!
//! The associated data is `version | kid | cookie name`: a value moved to another
//! cookie name, or with its header edited, fails to open.
//!
//! The keys are bound to their deployment (`publicUrl`'s origin, the provider
//! id and the client id, mixed into the HKDF `info`), so a cookie from another
//! stagepass that shares the secret (a development instance with the guest
//! provider, another app) never opens here. Format 1 had no binding; its
//! cookies read as "no session", which signs everyone in again once.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hkdf::Hkdf;
use rand::RngCore;
use rand::rngs::OsRng;
use sha2::Sha256;

use crate::config::Secret;

/// Version byte of the sealed format; bump it when the layout or the derivation changes.
const FORMAT_VERSION: u8 = 2;
const KID_LEN: usize = 4;
const HEADER_LEN: usize = 1 + KID_LEN;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Plaintexts above this are refused before sealing; every cookie limit is far below it.
const MAX_PLAINTEXT: usize = 64 * 1024;

/// Fixed salt: the secrets are the only input keying material, so the salt just
/// separates stagepass's derivations from anything else that might use them.
const HKDF_SALT: &[u8] = b"stagepass cookie keys";
const INFO_KID: &[u8] = b"stagepass/v1 key id";
const INFO_SESSION: &[u8] = b"stagepass/v2 session cookie";
const INFO_LOGIN: &[u8] = b"stagepass/v2 login-flow cookie";

/// What a sealed value is for. Each purpose has its own key, so a value sealed
/// for one purpose never opens as another even under the same cookie name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Session,
    Login,
}

#[derive(Clone)]
struct KeyEntry {
    kid: [u8; KID_LEN],
    session: Aes256Gcm,
    login: Aes256Gcm,
}

impl KeyEntry {
    fn derive(secret: &Secret, deployment: &str) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(HKDF_SALT), secret.expose().as_bytes());
        let mut kid = [0u8; KID_LEN];
        expand(&hkdf, INFO_KID, &mut kid);
        KeyEntry {
            kid,
            session: cipher(&hkdf, &bound_info(INFO_SESSION, deployment)),
            login: cipher(&hkdf, &bound_info(INFO_LOGIN, deployment)),
        }
    }

    fn cipher(&self, purpose: Purpose) -> &Aes256Gcm {
        match purpose {
            Purpose::Session => &self.session,
            Purpose::Login => &self.login,
        }
    }
}

fn expand(hkdf: &Hkdf<Sha256>, info: &[u8], out: &mut [u8]) {
    // Only fails for outputs longer than 255 * 32 bytes; ours are 4 and 32.
    hkdf.expand(info, out)
        .expect("HKDF-SHA256 output length is within bounds");
}

/// `purpose | 0 | deployment`: the purpose strings hold no zero byte, so
/// the split is unambiguous.
fn bound_info(purpose: &[u8], deployment: &str) -> Vec<u8> {
    [purpose, &[0], deployment.as_bytes()].concat()
}

fn cipher(hkdf: &Hkdf<Sha256>, info: &[u8]) -> Aes256Gcm {
    let mut key = [0u8; 32];
    expand(hkdf, info, &mut key);
    Aes256Gcm::new(&key.into())
}

/// The cookie keys, derived once at start-up from `auth.session.secret`.
/// The first secret seals; every secret opens, so rotating (prepending a new
/// secret and keeping the old one second) signs nobody out.
#[derive(Clone)]
pub struct SessionKeys {
    /// Never empty; `entries[0]` seals.
    entries: Vec<KeyEntry>,
}

impl fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Key ids are not secret, but nothing here is useful in a log beyond the count.
        f.debug_struct("SessionKeys")
            .field("keys", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl SessionKeys {
    /// Keys for the deployment named by `deployment` (see
    /// `Config::session_binding`). `None` when `secrets` is empty (config
    /// validation never lets that through).
    pub fn from_secrets(secrets: &[Secret], deployment: &str) -> Option<Self> {
        if secrets.is_empty() {
            return None;
        }
        let entries = secrets
            .iter()
            .map(|secret| KeyEntry::derive(secret, deployment))
            .collect();
        Some(SessionKeys { entries })
    }

    /// Seals `plaintext` for the cookie `name`. `None` only for plaintexts
    /// over 64 KiB, which no caller produces within the cookie limits.
    pub(crate) fn seal(&self, purpose: Purpose, name: &str, plaintext: &[u8]) -> Option<String> {
        if plaintext.len() > MAX_PLAINTEXT {
            return None;
        }
        let entry = &self.entries[0];
        let header = header(&entry.kid);
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let aad = aad(&header, name);
        let payload = Payload {
            msg: plaintext,
            aad: &aad,
        };
        let sealed = entry
            .cipher(purpose)
            .encrypt(Nonce::from_slice(&nonce), payload)
            .ok()?;
        let mut raw = Vec::with_capacity(HEADER_LEN + NONCE_LEN + sealed.len());
        raw.extend_from_slice(&header);
        raw.extend_from_slice(&nonce);
        raw.extend_from_slice(&sealed);
        Some(URL_SAFE_NO_PAD.encode(raw))
    }

    /// Opens a value sealed for the cookie `name`. Anything that is not an
    /// intact value sealed by one of our keys for this purpose and name gives
    /// `None`. Values longer than `max_len` are refused before decoding.
    pub(crate) fn open(
        &self,
        purpose: Purpose,
        name: &str,
        value: &str,
        max_len: usize,
    ) -> Option<Vec<u8>> {
        if value.len() > max_len || value.len() < min_sealed_len() {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(value).ok()?;
        let (header, rest) = raw.split_at_checked(HEADER_LEN)?;
        let (nonce, ciphertext) = rest.split_at_checked(NONCE_LEN)?;
        if header[0] != FORMAT_VERSION {
            return None;
        }
        let aad = aad(header, name);
        // Two secrets could in theory share a kid: try every match.
        self.entries
            .iter()
            .filter(|entry| entry.kid[..] == header[1..])
            .find_map(|entry| {
                let payload = Payload {
                    msg: ciphertext,
                    aad: &aad,
                };
                entry
                    .cipher(purpose)
                    .decrypt(Nonce::from_slice(nonce), payload)
                    .ok()
            })
    }
}

fn header(kid: &[u8; KID_LEN]) -> [u8; HEADER_LEN] {
    let mut header = [FORMAT_VERSION; HEADER_LEN];
    header[1..].copy_from_slice(kid);
    header
}

fn aad(header: &[u8], name: &str) -> Vec<u8> {
    // The header has a fixed length, so `header | name` is unambiguous.
    let mut aad = Vec::with_capacity(header.len() + name.len());
    aad.extend_from_slice(header);
    aad.extend_from_slice(name.as_bytes());
    aad
}

/// Length of the base64 text of a sealed empty plaintext: anything shorter is truncated.
fn min_sealed_len() -> usize {
    base64_len(HEADER_LEN + NONCE_LEN + TAG_LEN)
}

/// Length of the unpadded base64 text of `n` bytes.
pub(crate) fn base64_len(n: usize) -> usize {
    (n * 4).div_ceil(3)
}
