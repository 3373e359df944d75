//! Which keys hold secrets, and the effective config with them masked.
//! Generous on purpose: masking a harmless value costs little, printing a
//! credential costs a rotation.

use serde_json::Value;

const MASK: &str = "***";

/// Key-name fragments that mark a secret wherever they appear in the name.
const SECRET_PARTS: &[&str] = &["secret", "password", "passwd", "credential", "privatekey"];

/// Key-name endings that mark a secret (`apiKey`, `accessToken`, `token`).
/// Only as an ending, so `tokenSignedResponseAlg` and `keyFile` stay visible.
const SECRET_ENDINGS: &[&str] = &["token", "tokens", "key", "keys", "passphrase", "pwd"];

/// Names that match an ending above but hold no secret: Backstage's
/// `auth.keyStore.static.keys` is a list of key *files* (the private key's
/// path is still masked through `privatekey`).
const NOT_SECRET: &[&str] = &["keys"];

/// Whether values under a key named `key` must never be shown.
pub(super) fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    if NOT_SECRET.contains(&key.as_str()) {
        return false;
    }
    SECRET_PARTS.iter().any(|part| key.contains(part))
        || SECRET_ENDINGS.iter().any(|ending| key.ends_with(ending))
}

/// `tree` with the value of every secret key replaced by `***`.
pub(super) fn redact(tree: &Value) -> Value {
    match tree {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    // A switch such as `passIdToken: true` hides nothing.
                    let secret = is_secret_key(key) && !value.is_null() && !value.is_boolean();
                    let shown = if secret {
                        Value::String(MASK.to_string())
                    } else {
                        redact(value)
                    };
                    (key.clone(), shown)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::String(text) => Value::String(mask_url_password(text)),
        other => other.clone(),
    }
}

/// `postgres://user:pw@db/x` becomes `postgres://***:***@db/x`: URLs such
/// as Backstage's database connection string often carry a password, and a
/// proxy URL may carry a token as its user name.
fn mask_url_password(text: &str) -> String {
    match url::Url::parse(text) {
        Ok(mut url) if url.password().is_some() || !url.username().is_empty() => {
            let masked = url.set_username(MASK).and_then(|()| {
                if url.password().is_some() {
                    url.set_password(Some(MASK))?;
                }
                Ok(())
            });
            match masked {
                Ok(()) => url.to_string(),
                Err(()) => MASK.to_string(),
            }
        }
        _ => text.to_string(),
    }
}

pub(super) fn redacted_yaml(tree: &Value) -> String {
    let redacted = redact(tree);
    serde_saphyr::to_string(&redacted)
        .or_else(|_| serde_json::to_string_pretty(&redacted))
        .unwrap_or_default()
}
