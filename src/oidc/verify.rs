//! ID token checks, as OIDC Core 3.1.3.7 lists them: signature with the key
//! named by `kid`, only the configured algorithms, exact `iss`, `aud`, `azp`
//! (when present, this client),
//! `exp`/`iat` with a small leeway, `nonce`, and `at_hash` when present.

use chrono::{DateTime, TimeDelta, Utc};
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJwsSigningAlgorithm};
use openidconnect::{
    AccessToken, AccessTokenHash, ClaimsVerificationError, ClientId, Nonce,
    SignatureVerificationError,
};

use super::discovery::Discovered;

/// Clock difference tolerated between stagepass and the IdP.
const LEEWAY: TimeDelta = TimeDelta::seconds(30);

/// The checked claims as JSON, read from the same bytes whose signature was
/// verified (so extra claims such as `groups` are trustworthy too).
pub type VerifiedClaims = serde_json::Value;

pub enum Rejected {
    /// The token names a key stagepass does not have: worth a JWKS refresh.
    UnknownKey,
    Invalid(String),
}

pub struct Expectations<'a> {
    pub client_id: &'a str,
    pub algorithms: &'a [CoreJwsSigningAlgorithm],
    /// `None` for tokens from a refresh, which carry no nonce.
    pub nonce: Option<&'a str>,
    pub access_token: Option<&'a AccessToken>,
}

pub fn verify(
    token: &CoreIdToken,
    found: &Discovered,
    expect: &Expectations<'_>,
) -> Result<VerifiedClaims, Rejected> {
    let verifier = CoreIdTokenVerifier::new_public_client(
        ClientId::new(expect.client_id.to_owned()),
        found.metadata.issuer().clone(),
        found.jwks.clone(),
    )
    .set_allowed_algs(expect.algorithms.to_vec())
    .set_time_fn(|| Utc::now() - LEEWAY)
    .set_issue_time_verifier_fn(|iat: DateTime<Utc>| {
        if iat > Utc::now() + LEEWAY {
            Err(format!("issued in the future ({iat})"))
        } else {
            Ok(())
        }
    });
    let checked = match expect.nonce {
        Some(nonce) => token.claims(&verifier, &Nonce::new(nonce.to_owned())),
        None => token.claims(&verifier, |_: Option<&Nonce>| Ok(())),
    };
    let claims = checked.map_err(classify)?;
    // The library checks `azp` only when there are several audiences; OIDC
    // Core 3.1.3.7 step 5: when present, it must be this client.
    if let Some(azp) = claims.authorized_party()
        && azp.as_str() != expect.client_id
    {
        return Err(Rejected::Invalid(format!(
            "azp names another client ({})",
            azp.as_str()
        )));
    }
    if let (Some(expected), Some(access_token)) = (claims.access_token_hash(), expect.access_token)
    {
        check_at_hash(token, &verifier, access_token, expected)?;
    }
    payload(token)
}

fn check_at_hash(
    token: &CoreIdToken,
    verifier: &CoreIdTokenVerifier<'_>,
    access_token: &AccessToken,
    expected: &AccessTokenHash,
) -> Result<(), Rejected> {
    let invalid = |e: &dyn std::fmt::Display| Rejected::Invalid(format!("at_hash: {e}"));
    let alg = token.signing_alg().map_err(|e| invalid(&e))?;
    let key = token.signing_key(verifier).map_err(|e| invalid(&e))?;
    let actual = AccessTokenHash::from_token(access_token, alg, key).map_err(|e| invalid(&e))?;
    if &actual != expected {
        return Err(Rejected::Invalid(
            "at_hash does not match the access token".into(),
        ));
    }
    Ok(())
}

fn classify(err: ClaimsVerificationError) -> Rejected {
    match err {
        ClaimsVerificationError::SignatureVerification(
            SignatureVerificationError::NoMatchingKey,
        ) => Rejected::UnknownKey,
        other => Rejected::Invalid(other.to_string()),
    }
}

/// Decodes the payload of an already verified token.
fn payload(token: &CoreIdToken) -> Result<VerifiedClaims, Rejected> {
    use base64::Engine;
    let raw = token.to_string();
    let part = raw.split('.').nth(1).unwrap_or_default();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|e| Rejected::Invalid(format!("payload: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| Rejected::Invalid(format!("payload: {e}")))
}
