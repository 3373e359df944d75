//! The person a successful sign-in or refresh describes.

use std::time::{SystemTime, UNIX_EPOCH};

use openidconnect::OAuth2TokenResponse;
use openidconnect::core::{CoreIdToken, CoreTokenResponse};

#[derive(Clone, Default)]
pub struct SignedIn {
    /// `sub` of the ID token. `None` only after a refresh without ID token.
    pub subject: Option<String>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub picture: Option<String>,
    pub preferred_username: Option<String>,
    pub groups: Vec<String>,
    pub id_token: Option<String>,
    pub access_token: String,
    /// The newest refresh token (a rotated one, or the one just used).
    pub refresh_token: Option<String>,
    /// Unix seconds when the access token expires, if the IdP said.
    pub access_expires_at: Option<u64>,
    /// Every verified claim, for route rules on claims (`allow.claims`).
    pub claims: serde_json::Value,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens are credentials: show whether they are there, never what they are.
        let redacted = |token: &Option<String>| token.as_ref().map(|_| "***");
        f.debug_struct("SignedIn")
            .field("subject", &self.subject)
            .field("email", &self.email)
            .field("name", &self.name)
            .field("picture", &self.picture)
            .field("preferred_username", &self.preferred_username)
            .field("groups", &self.groups)
            .field("id_token", &redacted(&self.id_token))
            .field("access_token", &"***")
            .field("refresh_token", &redacted(&self.refresh_token))
            .field("access_expires_at", &self.access_expires_at)
            .field("claims", &self.claims)
            .finish()
    }
}

impl SignedIn {
    pub(super) fn from_tokens(
        tokens: &CoreTokenResponse,
        claims: Option<serde_json::Value>,
        id_token: Option<&CoreIdToken>,
        previous_refresh: Option<&str>,
        require_verified_email: bool,
    ) -> Self {
        SignedIn {
            id_token: id_token.map(|t| t.to_string()),
            access_token: tokens.access_token().secret().clone(),
            refresh_token: tokens
                .refresh_token()
                .map(|t| t.secret().clone())
                .or_else(|| previous_refresh.map(str::to_owned)),
            access_expires_at: tokens.expires_in().map(|d| now() + d.as_secs()),
            ..Self::from_claims(claims.unwrap_or_default(), require_verified_email)
        }
    }

    /// The person verified claims describe, with no tokens (an API
    /// client's bearer token: it expires when the token does).
    pub(super) fn from_claims(claims: serde_json::Value, require_verified_email: bool) -> Self {
        let text = |name: &str| claims.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        SignedIn {
            subject: text("sub"),
            email: usable_email(&claims, require_verified_email),
            name: text("name"),
            picture: text("picture"),
            preferred_username: text("preferred_username"),
            groups: groups(&claims),
            access_expires_at: claims.get("exp").and_then(serde_json::Value::as_u64),
            claims,
            ..SignedIn::default()
        }
    }
}

/// The email, unless the IdP says it is unverified: email-based resolvers
/// must not map a self-asserted address onto someone's catalog user. An
/// absent `email_verified` (Entra ID, many enterprise IdPs) counts as
/// verified unless `require_verified` (`signIn.requireVerifiedEmail`); a
/// string `"true"`/`"false"` (some IdPs) counts as the boolean.
pub(crate) fn usable_email(claims: &serde_json::Value, require_verified: bool) -> Option<String> {
    let verified = match claims.get("email_verified") {
        Some(serde_json::Value::Bool(verified)) => Some(*verified),
        Some(serde_json::Value::String(text)) => match text.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    };
    let usable = match verified {
        Some(verified) => verified,
        None => !require_verified,
    };
    let email = claims
        .get("email")
        .and_then(|v| v.as_str())
        .map(str::to_owned);
    email.filter(|_| usable)
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

pub(super) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::usable_email;

    #[test]
    fn unverified_emails_are_never_used_and_unsaid_ones_only_when_allowed() {
        let with =
            |verified: serde_json::Value| json!({"email": "a@x.io", "email_verified": verified});
        let absent = json!({"email": "a@x.io"});
        for require in [false, true] {
            assert_eq!(
                usable_email(&with(json!(true)), require).as_deref(),
                Some("a@x.io")
            );
            assert_eq!(
                usable_email(&with(json!("TRUE")), require).as_deref(),
                Some("a@x.io")
            );
            assert_eq!(usable_email(&with(json!(false)), require), None);
            assert_eq!(usable_email(&with(json!("false")), require), None);
        }
        assert_eq!(usable_email(&absent, false).as_deref(), Some("a@x.io"));
        assert_eq!(
            usable_email(&absent, true),
            None,
            "Entra ID sends no email_verified"
        );
        assert_eq!(usable_email(&with(json!("maybe")), true), None);
    }

    #[test]
    fn debug_output_never_shows_a_token() {
        let signed_in = super::SignedIn {
            subject: Some("alice".into()),
            id_token: Some("id-token-value".into()),
            access_token: "access-token-value".into(),
            refresh_token: Some("refresh-token-value".into()),
            ..super::SignedIn::default()
        };
        let shown = format!("{signed_in:?}");
        assert!(shown.contains("alice"), "{shown}");
        assert!(!shown.contains("token-value"), "{shown}");
        let pending = crate::oidc::PendingLogin {
            state: "state-value".into(),
            nonce: "nonce-value".into(),
            pkce_verifier: "verifier-value".into(),
        };
        assert!(!format!("{pending:?}").contains("-value"));
    }
}
