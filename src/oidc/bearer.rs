//! Bearer tokens from API clients: a JWT the IdP signed for stagepass
//! (RFC 9068 access tokens, client-credentials tokens), checked as RFC 9068
//! section 4 asks: an asymmetric signature with the IdP's JWKS, exact `iss`,
//! an accepted `aud`, `exp` (required) and `nbf`/`iat` with a small leeway,
//! and a required scope when one is configured.
//!
//! An ID token is not an access token: one carrying what only ID tokens
//! carry (`nonce`, which every ID token of a stagepass sign-in has, or
//! `at_hash`, `c_hash`, `s_hash`) is refused. There is no default audience:
//! the provider's `clientId` would also accept ID tokens from refreshes,
//! which may carry none of those, and an app that got one (`passIdToken`)
//! could replay it against stagepass.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{CoreJsonWebKey, CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::{JsonWebKey, JsonWebKeyId};
use serde_json::Value;

use super::discovery::Discovered;
use super::{OidcProvider, SignedIn, invalid_token, signed_in};
use crate::error::Error;

/// Clock difference tolerated between stagepass and the IdP.
const LEEWAY_SECS: u64 = 30;

/// What an accepted token must say.
pub struct BearerExpectations<'a> {
    /// Accepted `aud` values: one of them must appear.
    pub audiences: &'a [String],
    pub required_scope: Option<&'a str>,
    pub now: u64,
}

pub enum BearerRejected {
    /// Names a key stagepass does not have: worth one JWKS refresh.
    UnknownKey,
    Invalid(String),
}

impl OidcProvider {
    /// The person an API client's bearer token names, when the IdP signed
    /// it for stagepass ([`bearer`]); `access_expires_at` is its `exp`. 401
    /// `invalid_token` when it is not acceptable, 503 when the IdP's keys
    /// are not known yet.
    pub async fn verify_bearer(
        &self,
        token: &str,
        audiences: &[String],
        required_scope: Option<&str>,
    ) -> Result<SignedIn, Error> {
        let claims = self.bearer_claims(token, audiences, required_scope).await?;
        Ok(SignedIn::from_claims(
            claims,
            self.config.require_verified_email,
        ))
    }

    async fn bearer_claims(
        &self,
        token: &str,
        audiences: &[String],
        required_scope: Option<&str>,
    ) -> Result<serde_json::Value, Error> {
        if audiences.is_empty() {
            // No default: the one audience there could be, the clientId, is
            // also the audience of every ID token stagepass's sign-ins get.
            return Err(invalid_token(
                "is not a Backstage token from this stagepass, and no IdP token can be accepted: stagepass.bearer.audiences names no audience to accept",
            ));
        }
        let expect = BearerExpectations {
            audiences,
            required_scope,
            now: signed_in::now(),
        };
        let (claims, found) = match self.idp_signed(token).await {
            Ok(signed) => signed,
            Err(NotSigned::Unavailable(err)) => return Err(err),
            Err(NotSigned::Invalid(reason)) => return Err(invalid_token(&reason)),
        };
        match check_claims(&claims, found.metadata.issuer().as_str(), &expect) {
            Ok(()) => Ok(claims),
            Err(BearerRejected::Invalid(reason)) => Err(invalid_token(&reason)),
            Err(BearerRejected::UnknownKey) => Err(invalid_token("names an unknown key")),
        }
    }

    /// The claims of a JWT the IdP signed (an API client's token, a logout
    /// token), and what stagepass knows of the IdP, once the signature
    /// verifies with its keys. An unknown `kid` re-fetches the keys once,
    /// never waiting (anyone can send such tokens).
    pub(super) async fn idp_signed(
        &self,
        token: &str,
    ) -> Result<(Value, std::sync::Arc<Discovered>), NotSigned> {
        let found = self.discovered().map_err(NotSigned::Unavailable)?;
        match signed_claims(token, &found.jwks) {
            Ok(claims) => return Ok((claims, found)),
            Err(BearerRejected::Invalid(reason)) => return Err(NotSigned::Invalid(reason)),
            Err(BearerRejected::UnknownKey) => {}
        }
        self.metrics.record_unknown_key_id();
        let unknown = || NotSigned::Invalid("signed with a key the IdP does not publish".into());
        (self
            .discovery
            .refresh_keys_now_or_never(found.generation)
            .await)
            .map_err(|_| unknown())?;
        let found = self.discovered().map_err(NotSigned::Unavailable)?;
        match signed_claims(token, &found.jwks) {
            Ok(claims) => Ok((claims, found)),
            Err(BearerRejected::UnknownKey) => Err(unknown()),
            Err(BearerRejected::Invalid(reason)) => Err(NotSigned::Invalid(reason)),
        }
    }
}

/// Why a JWT does not verify as the IdP's.
pub(super) enum NotSigned {
    /// The IdP's keys are not known (discovery has not succeeded): 503.
    Unavailable(Error),
    Invalid(String),
}

/// The token's claims when every check passes (the unit tests' entry).
#[cfg(test)]
fn check_with(
    token: &str,
    issuer: &str,
    jwks: &CoreJsonWebKeySet,
    expect: &BearerExpectations<'_>,
) -> Result<Value, BearerRejected> {
    let claims = signed_claims(token, jwks)?;
    check_claims(&claims, issuer, expect)?;
    Ok(claims)
}

/// The claims of a JWT whose signature verifies with a key of `jwks`
/// (asymmetric algorithms only); nothing about the claims is checked yet.
pub(super) fn signed_claims(
    token: &str,
    jwks: &CoreJsonWebKeySet,
) -> Result<Value, BearerRejected> {
    let invalid = |reason: &str| BearerRejected::Invalid(reason.to_owned());
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("not a signed JWT"));
    };
    let header: Value = decode_json(header).ok_or_else(|| invalid("unreadable header"))?;
    let alg = asymmetric_alg(&header).ok_or_else(|| {
        invalid("signed with an algorithm stagepass does not accept (only RS, PS, ES and EdDSA)")
    })?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| invalid("unreadable signature"))?;
    let signed = token.rfind('.').map_or(token, |dot| &token[..dot]);
    verify_signature(jwks, &header, &alg, signed.as_bytes(), &signature)?;
    decode_json(payload).ok_or_else(|| invalid("unreadable claims"))
}

fn verify_signature(
    jwks: &CoreJsonWebKeySet,
    header: &Value,
    alg: &CoreJwsSigningAlgorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<(), BearerRejected> {
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .map(|k| JsonWebKeyId::new(k.to_owned()));
    let candidates: Vec<&CoreJsonWebKey> = (jwks.keys().iter())
        .filter(|key| kid.is_none() || key.key_id() == kid.as_ref())
        .collect();
    if candidates.is_empty() {
        return Err(BearerRejected::UnknownKey);
    }
    if candidates
        .iter()
        .any(|key| key.verify_signature(alg, message, signature).is_ok())
    {
        return Ok(());
    }
    Err(BearerRejected::Invalid(
        "the signature does not verify with the IdP's keys".into(),
    ))
}

fn check_claims(
    claims: &Value,
    issuer: &str,
    expect: &BearerExpectations<'_>,
) -> Result<(), BearerRejected> {
    let invalid = |reason: String| Err(BearerRejected::Invalid(reason));
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return invalid("issued by someone other than the configured IdP".into());
    }
    let Some(exp) = claims.get("exp").and_then(Value::as_u64) else {
        return invalid("has no expiry (exp)".into());
    };
    if exp + LEEWAY_SECS <= expect.now {
        return invalid("expired".into());
    }
    let not_before = ["nbf", "iat"].map(|name| claims.get(name).and_then(Value::as_u64));
    if not_before
        .into_iter()
        .flatten()
        .any(|at| at > expect.now + LEEWAY_SECS)
    {
        return invalid("not valid yet (nbf or iat in the future)".into());
    }
    // What only ID tokens carry (OIDC Core 2, 3.1.3.6, 3.3.2.11).
    if ["nonce", "at_hash", "c_hash", "s_hash"]
        .iter()
        .any(|name| claims.get(name).is_some())
    {
        return invalid("is an ID token, not an access token".into());
    }
    if !audiences(claims).any(|aud| expect.audiences.iter().any(|a| a == aud)) {
        return invalid(format!(
            "issued for another audience (accepted: {})",
            expect.audiences.join(", ")
        ));
    }
    if let Some(scope) = expect.required_scope
        && !scopes(claims).any(|s| s == scope)
    {
        return invalid(format!("lacks the required scope {scope}"));
    }
    if claims
        .get("sub")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return invalid("names no subject (sub)".into());
    }
    Ok(())
}

/// `aud` as a string or a list of strings.
fn audiences(claims: &Value) -> impl Iterator<Item = &str> {
    strings(claims.get("aud"))
}

/// `scope` as a space-separated string (RFC 9068), or `scp` as a list
/// (Entra ID, Okta).
fn scopes(claims: &Value) -> impl Iterator<Item = &str> {
    let spaced = claims.get("scope").and_then(Value::as_str).unwrap_or("");
    spaced
        .split(' ')
        .filter(|s| !s.is_empty())
        .chain(strings(claims.get("scp")))
}

fn strings(value: Option<&Value>) -> impl Iterator<Item = &str> {
    let (one, many) = match value {
        Some(Value::String(one)) => (Some(one.as_str()), None),
        Some(Value::Array(items)) => (None, Some(items.iter().filter_map(Value::as_str))),
        _ => (None, None),
    };
    one.into_iter().chain(many.into_iter().flatten())
}

/// The header's `alg`, if it is one with a public key: a token MACed with
/// `HS256` (keyed, perhaps, with the IdP's public key) or `none` never is.
fn asymmetric_alg(header: &Value) -> Option<CoreJwsSigningAlgorithm> {
    let name = header.get("alg")?.as_str()?;
    let asymmetric = ["RS", "PS", "ES"]
        .iter()
        .any(|family| name.starts_with(family))
        || name == "EdDSA";
    if !asymmetric {
        return None;
    }
    serde_json::from_value(Value::String(name.to_owned())).ok()
}

fn decode_json(part: &str) -> Option<Value> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests;
