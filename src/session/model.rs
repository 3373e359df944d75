//! What the cookies hold. Field names are short on the wire because every
//! byte is paid for in every request; optional fields are left out when empty.
//!
//! Plaintexts are a JSON pair `[version, payload]`, so a payload format change
//! is recognised (and read as "no session") instead of half-parsed.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Version of the [`Session`] payload.
pub const SESSION_FORMAT_VERSION: u8 = 1;
/// Version of the login-flow list payload.
pub const LOGIN_FORMAT_VERSION: u8 = 1;

/// A signed-in user, as far as the proxy needs to know them. All times are
/// Unix seconds.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// `sub` of the id token.
    #[serde(rename = "sub")]
    pub subject: String,
    #[serde(rename = "em", default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(rename = "nm", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "pic", default, skip_serializing_if = "Option::is_none")]
    pub picture: Option<String>,
    #[serde(rename = "pu", default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(rename = "grp", default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// When the session ends regardless of refreshes: sign-in time plus `sessionDuration`.
    #[serde(rename = "exp")]
    pub expires_at: u64,
    /// When the access token expires and a refresh is due; `None` when the
    /// provider did not say.
    #[serde(rename = "ate", default, skip_serializing_if = "Option::is_none")]
    pub access_token_expires_at: Option<u64>,
    #[serde(rename = "rt", default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The raw id token, sent as `id_token_hint` at sign-out.
    #[serde(rename = "idt", default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// The IdP's access token, kept only for `headers.passAccessToken`.
    #[serde(rename = "at", default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// When the session was issued (or last refreshed).
    #[serde(rename = "iat")]
    pub issued_at: u64,
    /// When the person signed in, only with a session store: what "sign out
    /// everywhere" and back-channel logout compare with their cut-off.
    /// Refreshes keep it. Cookies from before it was written have none.
    #[serde(rename = "sia", default, skip_serializing_if = "Option::is_none")]
    pub signed_in_at: Option<u64>,
    /// A random id, only with a session store: what sign-out revokes.
    #[serde(rename = "id", default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The IdP's `sid` for this sign-in, only with a session store: what a
    /// back-channel logout names.
    #[serde(rename = "ps", default, skip_serializing_if = "Option::is_none")]
    pub idp_sid: Option<String>,
    /// The claims route rules read (`allow.claims`), and only those: each
    /// as its text values (a list claim keeps every item).
    #[serde(rename = "cl", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: BTreeMap<String, Vec<String>>,
}

impl Session {
    /// The claims named in `wanted`, from verified `claims`, as their text
    /// values: a string, a number or boolean as written, each string of a
    /// list. Anything else (objects, nulls) is left out.
    pub fn policy_claims(
        claims: &serde_json::Value,
        wanted: &[String],
    ) -> BTreeMap<String, Vec<String>> {
        let text = |value: &serde_json::Value| match value {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        };
        wanted
            .iter()
            .filter_map(|name| {
                let values: Vec<String> = match claims.get(name)? {
                    serde_json::Value::Array(items) => items.iter().filter_map(text).collect(),
                    one => text(one).into_iter().collect(),
                };
                Some((name.clone(), values))
            })
            .collect()
    }

    /// When the session ends (Unix seconds): its expiry, or earlier,
    /// `lifetime` after it began. `lifetime` is today's `sessionDuration`:
    /// lowered since the cookie was written, it shortens the session too, so
    /// no session outlives the revocations kept for that long. A session
    /// that does not know its sign-in time (no session store, or written
    /// before it was stored) is counted from when it was last issued, which
    /// is never earlier than its sign-in.
    pub fn ends_at(&self, lifetime: Option<Duration>) -> u64 {
        let began = self.signed_in_at.unwrap_or(self.issued_at);
        let by_lifetime = lifetime.map_or(u64::MAX, |l| began.saturating_add(l.as_secs()));
        self.expires_at.min(by_lifetime)
    }

    /// Whether the session is live at `now` (see [`Self::ends_at`]).
    pub fn is_live(&self, now: u64, lifetime: Option<Duration>) -> bool {
        now < self.ends_at(lifetime)
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Tokens are credentials: show whether they are there, never what they are.
        f.debug_struct("Session")
            .field("subject", &self.subject)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("picture", &self.picture)
            .field("preferred_username", &self.preferred_username)
            .field("groups", &self.groups)
            .field("expires_at", &self.expires_at)
            .field("access_token_expires_at", &self.access_token_expires_at)
            .field("refresh_token", &redacted(&self.refresh_token))
            .field("id_token", &redacted(&self.id_token))
            .field("issued_at", &self.issued_at)
            .field("claims", &self.claims)
            .field("signed_in_at", &self.signed_in_at)
            .field("id", &self.id)
            .field("idp_sid", &self.idp_sid)
            .finish()
    }
}

/// One sign-in in progress: what the callback needs to finish it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginFlow {
    /// The OAuth `state` sent to the provider; the callback is matched on it.
    #[serde(rename = "s")]
    pub state: String,
    /// The OpenID Connect `nonce` the id token must carry.
    #[serde(rename = "n")]
    pub nonce: String,
    #[serde(rename = "v")]
    pub pkce_verifier: String,
    /// Where to send the browser once signed in (already validated).
    #[serde(rename = "r")]
    pub return_to: String,
    /// Unix seconds.
    #[serde(rename = "t")]
    pub created_at: u64,
}

impl fmt::Debug for LoginFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginFlow")
            .field("state", &"***")
            .field("nonce", &"***")
            .field("pkce_verifier", &"***")
            .field("return_to", &self.return_to)
            .field("created_at", &self.created_at)
            .finish()
    }
}

fn redacted(token: &Option<String>) -> Option<&'static str> {
    token.as_ref().map(|_| "***")
}

/// `[version, payload]` as JSON.
pub(crate) fn encode<T: Serialize>(version: u8, payload: &T) -> Vec<u8> {
    // Serialising these plain structs (strings, numbers, lists) cannot fail.
    serde_json::to_vec(&(version, payload)).expect("payload serialises to JSON")
}

/// The payload of `[version, payload]`, or `None` for another version or any
/// parse error.
pub(crate) fn decode<T: DeserializeOwned>(version: u8, bytes: &[u8]) -> Option<T> {
    let (found, payload): (u8, T) = serde_json::from_slice(bytes).ok()?;
    (found == version).then_some(payload)
}
