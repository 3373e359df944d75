//! OIDC Back-Channel Logout 1.0, section 2.6: the checks on a
//! `logout_token` the IdP posts when a person's IdP session ends.

use serde_json::Value;

use super::OidcProvider;
use super::bearer::NotSigned;

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
/// Clock difference tolerated between stagepass and the IdP.
const LEEWAY_SECS: u64 = 30;
/// Its `jti` is remembered at least this long after `iat`.
const FRESH_FOR_SECS: u64 = 5 * 60;

/// Who to sign out, from a verified logout token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutToken {
    pub sid: Option<String>,
    pub sub: Option<String>,
    pub jti: String,
    /// Until when its `jti` must be remembered against replays.
    pub replayable_until: u64,
}

impl OidcProvider {
    /// Verifies a logout token; `Err` holds the spec's error description.
    pub async fn verify_logout_token(&self, token: &str, now: u64) -> Result<LogoutToken, String> {
        let (claims, found) = self.idp_signed(token).await.map_err(|e| match e {
            NotSigned::Unavailable(err) => err.detail.clone(),
            NotSigned::Invalid(reason) => reason,
        })?;
        check(
            &claims,
            found.metadata.issuer().as_str(),
            &self.config.client_id,
            now,
        )
    }
}

pub(super) fn check(
    claims: &Value,
    issuer: &str,
    client_id: &str,
    now: u64,
) -> Result<LogoutToken, String> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    if text("iss").as_deref() != Some(issuer) {
        return Err("iss is not the configured IdP".into());
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    if !audience_ok {
        return Err("aud does not name this client".into());
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_u64)
        .ok_or("iat is missing")?;
    if iat > now + LEEWAY_SECS {
        return Err("iat is in the future".into());
    }
    // Back-Channel Logout 1.0 (final) requires `exp`.
    let exp = claims
        .get("exp")
        .and_then(Value::as_u64)
        .ok_or("exp is missing")?;
    if exp + LEEWAY_SECS <= now {
        return Err("the token has expired".into());
    }
    let event = claims
        .get("events")
        .and_then(|events| events.get(EVENT))
        .is_some_and(Value::is_object);
    if !event {
        return Err(format!("events does not hold {EVENT}"));
    }
    if claims.get("nonce").is_some() {
        return Err("a logout token must not carry a nonce".into());
    }
    let (sid, sub) = (text("sid"), text("sub"));
    if sid.is_none() && sub.is_none() {
        return Err("neither sid nor sub names whom to sign out".into());
    }
    let jti = text("jti")
        .filter(|j| !j.is_empty())
        .ok_or("jti is missing")?;
    Ok(LogoutToken {
        sid,
        sub,
        jti,
        replayable_until: exp.max(iat + FRESH_FOR_SECS) + LEEWAY_SECS,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: u64 = 1_800_000_000;

    fn token() -> Value {
        json!({"iss": "https://idp", "aud": "stagepass", "iat": NOW - 5, "exp": NOW + 115,
            "jti": "j1", "sid": "s1", "events": {EVENT: {}}})
    }

    fn with(change: Value) -> Value {
        let mut claims = token();
        for (key, value) in change.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(key);
            } else {
                claims[key] = value.clone();
            }
        }
        claims
    }

    #[test]
    fn a_proper_logout_token_names_whom_to_sign_out() {
        let found = check(&token(), "https://idp", "stagepass", NOW).unwrap();
        assert_eq!(found.sid.as_deref(), Some("s1"));
        assert_eq!(found.sub, None);
        assert!(found.replayable_until > NOW);
        let by_sub = with(json!({"sid": null, "sub": "alice", "aud": ["x", "stagepass"]}));
        assert!(check(&by_sub, "https://idp", "stagepass", NOW).is_ok());
    }

    #[test]
    fn each_failed_check_is_refused_with_its_reason() {
        let cases = [
            (json!({"iss": "https://evil"}), "iss"),
            (json!({"aud": "other"}), "aud"),
            (json!({"iat": null}), "iat is missing"),
            (json!({"iat": NOW + 60}), "future"),
            (json!({"exp": NOW - 60}), "expired"),
            (json!({"exp": null}), "exp is missing"),
            (json!({"events": {}}), "events"),
            (json!({"events": {EVENT: "yes"}}), "events"),
            (json!({"nonce": "n"}), "nonce"),
            (json!({"sid": null}), "neither sid nor sub"),
            (json!({"jti": null}), "jti"),
        ];
        for (change, reason) in cases {
            let err = check(&with(change.clone()), "https://idp", "stagepass", NOW).unwrap_err();
            assert!(err.contains(reason), "{change}: {err}");
        }
    }
}
