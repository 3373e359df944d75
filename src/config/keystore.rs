//! Token configuration in Backstage's own shapes: `auth.keyStore` and
//! `auth.backstageTokenExpiration`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};
use url::Url;

use super::duration::parse_duration;
use super::resolvers::{ConfigIssue, issue};

/// JWS algorithms stagepass signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    ES256,
    ES384,
    RS256,
}

impl Algorithm {
    pub const SUPPORTED: &'static str = "ES256, ES384, RS256";

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "ES256" => Some(Algorithm::ES256),
            "ES384" => Some(Algorithm::ES384),
            "RS256" => Some(Algorithm::RS256),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::ES256 => "ES256",
            Algorithm::ES384 => "ES384",
            Algorithm::RS256 => "RS256",
        }
    }
}

/// Backstage's default, minimum and maximum user token lifetimes.
pub const DEFAULT_TOKEN_EXPIRATION: Duration = Duration::from_secs(60 * 60);
pub const MIN_TOKEN_EXPIRATION: Duration = Duration::from_secs(10 * 60);
pub const MAX_TOKEN_EXPIRATION: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// `iss` of every token; Backstage uses its auth backend's external URL.
    pub issuer: String,
    /// Lifetime of Backstage user tokens, already clamped.
    pub backstage_token_expiration: Duration,
    /// `None`: generate a key at start-up.
    pub key_store: Option<KeyStoreConfig>,
}

impl TokenConfig {
    /// Defaults: issuer `<publicUrl>/api/auth`, 1 hour tokens, generated key.
    pub fn new(public_url: &Url) -> Self {
        TokenConfig {
            issuer: default_issuer(public_url),
            backstage_token_expiration: DEFAULT_TOKEN_EXPIRATION,
            key_store: None,
        }
    }
}

/// Where Backstage's auth backend would live behind this public URL.
pub fn default_issuer(public_url: &Url) -> String {
    format!("{}/api/auth", public_url.as_str().trim_end_matches('/'))
}

/// `auth.keyStore` with `provider: static`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStoreConfig {
    /// The first key signs; all are published in the JWKS.
    pub keys: Vec<StaticKey>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticKey {
    /// SPKI PEM (`-----BEGIN PUBLIC KEY-----`).
    pub public_key_file: PathBuf,
    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), unencrypted.
    pub private_key_file: PathBuf,
    pub key_id: String,
    /// Default ES256, as in Backstage.
    pub algorithm: Algorithm,
}

/// Parses `auth.keyStore` (`value` is that node; `Null` when absent). Key
/// files are resolved against `base_dir`, the config file's folder; they are
/// read by `TokenIssuer::new`.
pub fn parse_key_store(
    value: &Value,
    path: &str,
    base_dir: &Path,
) -> Result<Option<KeyStoreConfig>, Vec<ConfigIssue>> {
    if value.is_null() {
        return Ok(None);
    }
    let Some(map) = value.as_object() else {
        return Err(vec![issue(
            path,
            "must be a map like {provider: static, static: {keys: [...]}}",
        )]);
    };
    match map.get("provider").and_then(Value::as_str) {
        Some("static") => parse_static(map, path, base_dir).map(Some),
        // Backstage's memory store: a key made at start-up, which is what
        // stagepass does without a key store.
        Some("memory") => Ok(None),
        Some(other) => Err(vec![issue(
            &format!("{path}.provider"),
            &format!(
                "stagepass cannot use the '{other}' key store; use provider: static with key files (or memory for a key generated at start-up)"
            ),
        )]),
        None => Err(vec![issue(
            &format!("{path}.provider"),
            "is required: static (key files) or memory",
        )]),
    }
}

fn parse_static(
    map: &Map<String, Value>,
    path: &str,
    base_dir: &Path,
) -> Result<KeyStoreConfig, Vec<ConfigIssue>> {
    let keys_path = format!("{path}.static.keys");
    let Some(items) = map
        .get("static")
        .and_then(|s| s.get("keys"))
        .and_then(Value::as_array)
    else {
        return Err(vec![issue(
            &keys_path,
            "must list the key files: [{publicKeyFile, privateKeyFile, keyId}]",
        )]);
    };
    if items.is_empty() {
        return Err(vec![issue(
            &keys_path,
            "is empty; at least one key is needed to sign tokens",
        )]);
    }
    let mut keys: Vec<StaticKey> = Vec::new();
    let mut issues = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let item_path = format!("{keys_path}[{index}]");
        match parse_key(item, &item_path, base_dir) {
            Ok(key) if keys.iter().any(|k| k.key_id == key.key_id) => {
                issues.push(issue(
                    &format!("{item_path}.keyId"),
                    "repeats an earlier keyId; each key needs its own",
                ));
            }
            Ok(key) => keys.push(key),
            Err(mut more) => issues.append(&mut more),
        }
    }
    if issues.is_empty() {
        Ok(KeyStoreConfig { keys })
    } else {
        Err(issues)
    }
}

fn parse_key(item: &Value, path: &str, base_dir: &Path) -> Result<StaticKey, Vec<ConfigIssue>> {
    let mut issues = Vec::new();
    let mut text = |key: &str| match item.get(key).and_then(Value::as_str) {
        Some(value) if !value.is_empty() => value.to_string(),
        _ => {
            issues.push(issue(
                &format!("{path}.{key}"),
                "is required (a non-empty string)",
            ));
            String::new()
        }
    };
    let (public, private, key_id) = (text("publicKeyFile"), text("privateKeyFile"), text("keyId"));
    let algorithm = match item.get("algorithm") {
        None => Algorithm::ES256,
        Some(value) => value
            .as_str()
            .and_then(Algorithm::parse)
            .unwrap_or_else(|| {
                let message = format!("must be one of {}", Algorithm::SUPPORTED);
                issues.push(issue(&format!("{path}.algorithm"), &message));
                Algorithm::ES256
            }),
    };
    if !issues.is_empty() {
        return Err(issues);
    }
    Ok(StaticKey {
        public_key_file: base_dir.join(public),
        private_key_file: base_dir.join(private),
        key_id,
        algorithm,
    })
}

/// Parses `auth.backstageTokenExpiration` (`Null` when absent) in any of
/// Backstage's duration forms, rounded to seconds and clamped to 10 minutes
/// – 24 hours exactly as Backstage does (out-of-range values are clamped,
/// not refused; [`requested_token_expiration`] tells the two apart).
pub fn parse_token_expiration(value: &Value, path: &str) -> Result<Duration, Vec<ConfigIssue>> {
    requested_token_expiration(value, path).map(clamp_token_expiration)
}

/// The configured lifetime as written, rounded to seconds, before clamping.
pub fn requested_token_expiration(value: &Value, path: &str) -> Result<Duration, Vec<ConfigIssue>> {
    if value.is_null() {
        return Ok(DEFAULT_TOKEN_EXPIRATION);
    }
    let parsed = parse_duration(value).map_err(|e| vec![issue(path, &e)])?;
    Ok(Duration::from_secs(
        (parsed.as_millis() as f64 / 1000.0).round() as u64,
    ))
}

pub fn clamp_token_expiration(requested: Duration) -> Duration {
    requested.clamp(MIN_TOKEN_EXPIRATION, MAX_TOKEN_EXPIRATION)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_a_static_key_store() {
        let value = json!({"provider": "static", "static": {"keys": [
            {"publicKeyFile": "keys/public.pem", "privateKeyFile": "/abs/private.pem", "keyId": "one"},
            {"publicKeyFile": "p2", "privateKeyFile": "k2", "keyId": "two", "algorithm": "RS256"}
        ]}});
        let store = parse_key_store(&value, "auth.keyStore", Path::new("/etc/sp"))
            .unwrap()
            .unwrap();
        assert_eq!(
            store.keys[0].public_key_file,
            Path::new("/etc/sp/keys/public.pem")
        );
        assert_eq!(
            store.keys[0].private_key_file,
            Path::new("/abs/private.pem")
        );
        assert_eq!(store.keys[0].algorithm, Algorithm::ES256);
        assert_eq!(store.keys[1].algorithm, Algorithm::RS256);
        assert_eq!(
            parse_key_store(&Value::Null, "k", Path::new("/")).unwrap(),
            None
        );
        assert_eq!(
            parse_key_store(&json!({"provider": "memory"}), "k", Path::new("/")).unwrap(),
            None
        );
    }

    #[test]
    fn reports_key_store_mistakes() {
        let value = json!({"provider": "static", "static": {"keys": [
            {"publicKeyFile": "p", "keyId": "a", "algorithm": "HS256"},
            {"publicKeyFile": "p", "privateKeyFile": "k", "keyId": "b"},
            {"publicKeyFile": "p", "privateKeyFile": "k", "keyId": "b"}
        ]}});
        let issues = parse_key_store(&value, "auth.keyStore", Path::new("/")).unwrap_err();
        let paths: Vec<&str> = issues.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "auth.keyStore.static.keys[0].privateKeyFile",
                "auth.keyStore.static.keys[0].algorithm",
                "auth.keyStore.static.keys[2].keyId",
            ]
        );
        for bad in [
            json!({"provider": "database"}),
            json!({}),
            json!({"provider": "static"}),
            json!("static"),
        ] {
            assert!(
                parse_key_store(&bad, "auth.keyStore", Path::new("/")).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn token_expiration_is_clamped_like_backstage() {
        let secs = |v: Value| {
            parse_token_expiration(&v, "auth.backstageTokenExpiration")
                .unwrap()
                .as_secs()
        };
        assert_eq!(secs(Value::Null), 3600);
        assert_eq!(secs(json!({"minutes": 30})), 1800);
        assert_eq!(secs(json!({"minutes": 2})), 600);
        assert_eq!(secs(json!({"seconds": 100})), 600);
        assert_eq!(secs(json!("48h")), 86400);
        assert_eq!(secs(json!("PT2H")), 7200);
        assert_eq!(secs(json!({"minutes": 10, "milliseconds": 499})), 600);
        assert!(parse_token_expiration(&json!("3600"), "p").is_err());
    }

    #[test]
    fn issuer_defaults_to_the_auth_backend_path() {
        let url = Url::parse("https://portal.example.com/").unwrap();
        assert_eq!(default_issuer(&url), "https://portal.example.com/api/auth");
        assert_eq!(
            TokenConfig::new(&url).backstage_token_expiration,
            DEFAULT_TOKEN_EXPIRATION
        );
    }
}
