//! Compact JWS encoding of the two kinds of token stagepass mints.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use super::keys::SigningKey;

/// Backstage's `aud` for user tokens.
pub(crate) const BACKSTAGE_AUDIENCE: &str = "backstage";

/// Protected header. Backstage's own issuer writes only `alg` and `kid`;
/// Backstage routes tokens by `typ`, and refuses a user token typed `JWT`.
#[derive(Serialize)]
struct Header<'a> {
    alg: &'static str,
    kid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    typ: Option<&'static str>,
}

/// The claims of a Backstage user token, in the order Backstage's static
/// token issuer writes them.
#[derive(Serialize)]
pub(crate) struct BackstageClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub ent: &'a [String],
    pub aud: &'static str,
    pub iat: u64,
    pub exp: u64,
}

/// The claims of an identity assertion for apps other than Backstage.
#[derive(Serialize)]
pub(crate) struct AssertionClaims<'a> {
    pub iss: &'a str,
    pub sub: &'a str,
    pub aud: &'a str,
    pub iat: u64,
    pub exp: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'a str>,
    pub ent: &'a [String],
}

/// `header.claims.signature`, each part base64url without padding.
pub(crate) fn sign(key: &SigningKey, typ: Option<&'static str>, claims: &impl Serialize) -> String {
    let header = Header {
        alg: key.alg().name(),
        kid: key.kid(),
        typ,
    };
    let mut token = part(&header);
    token.push('.');
    token.push_str(&part(claims));
    let signature = key.sign(token.as_bytes());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    token
}

fn part(value: &impl Serialize) -> String {
    let json = serde_json::to_vec(value).expect("token parts are plain JSON");
    URL_SAFE_NO_PAD.encode(json)
}
