//! The person a successful sign-in or refresh describes.

use std::time::{SystemTime, UNIX_EPOCH};

use openidconnect::OAuth2TokenResponse;
use openidconnect::core::{CoreIdToken, CoreTokenResponse};

#[derive(Debug, Clone, Default)]
pub struct SignedIn {
    /// `sub` of the ID token. `None` only after a refresh without ID token.
    pub subject: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub picture: Option<String>,
    pub preferred_username: Option<String>,
    pub groups: Vec<String>,
    pub id_token: Option<String>,
    /// The newest refresh token (a rotated one, or the one just used).
    pub refresh_token: Option<String>,
    /// Unix seconds when the access token expires, if the IdP said.
    pub access_expires_at: Option<u64>,
}

impl SignedIn {
    pub(super) fn from_tokens(
        tokens: &CoreTokenResponse,
        claims: Option<serde_json::Value>,
        id_token: Option<&CoreIdToken>,
        previous_refresh: Option<&str>,
    ) -> Self {
        let claims = claims.unwrap_or_default();
        let text = |name: &str| claims.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        SignedIn {
            subject: text("sub"),
            email: verified_email(&claims),
            name: text("name"),
            picture: text("picture"),
            preferred_username: text("preferred_username"),
            groups: groups(&claims),
            id_token: id_token.map(|t| t.to_string()),
            refresh_token: tokens
                .refresh_token()
                .map(|t| t.secret().clone())
                .or_else(|| previous_refresh.map(str::to_owned)),
            access_expires_at: tokens.expires_in().map(|d| now() + d.as_secs()),
        }
    }
}

/// The email, unless the IdP says it is unverified: email-based resolvers
/// must not map a self-asserted address onto someone's catalog user. An
/// absent `email_verified` (Entra ID, many enterprise IdPs) counts as
/// verified; a string `"false"` (some IdPs) as unverified.
fn verified_email(claims: &serde_json::Value) -> Option<String> {
    let unverified = match claims.get("email_verified") {
        Some(serde_json::Value::Bool(verified)) => !verified,
        Some(serde_json::Value::String(text)) => text.eq_ignore_ascii_case("false"),
        _ => false,
    };
    let email = claims
        .get("email")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    email.filter(|_| !unverified)
}

/// `groups` as a list or a single string; anything else means no groups.
fn groups(claims: &serde_json::Value) -> Vec<String> {
    match claims.get("groups") {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|g| g.as_str().map(str::to_owned))
            .collect(),
        Some(serde_json::Value::String(one)) => vec![one.clone()],
        _ => Vec::new(),
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
