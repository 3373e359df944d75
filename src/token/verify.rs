//! Backstage tokens stagepass minted, presented back by an API client (a
//! CLI holding the token the frontend got from `/refresh`): accepted as
//! the identity they name, without asking the catalog again.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;

use super::TokenIssuer;
use super::jwt::BACKSTAGE_AUDIENCE;
use crate::principal::Identity;

#[derive(Deserialize)]
struct Header {
    alg: String,
    kid: String,
    /// Backstage tokens have none; assertions are typed `JWT`.
    typ: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    aud: String,
    exp: u64,
    #[serde(default)]
    ent: Vec<String>,
}

/// A verified token: who it names and when it expires.
#[derive(Debug)]
pub struct Presented {
    pub identity: Identity,
    pub expires_at: u64,
}

impl TokenIssuer {
    /// Whether `token` claims to come from stagepass (its `iss`), before any
    /// check: only then is it worth verifying as one.
    pub fn claims_to_be_mine(&self, token: &str) -> bool {
        token
            .split('.')
            .nth(1)
            .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .is_some_and(|claims| claims["iss"] == self.issuer)
    }

    /// The identity of a Backstage user token this issuer signed, still
    /// valid at `now`; why not otherwise. Assertions (addressed to apps,
    /// not `backstage`) are refused.
    pub fn verify_backstage_token(&self, token: &str, now: u64) -> Result<Presented, String> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("is not a signed JWT".into());
        };
        let header: Header = decode(header).ok_or("has an unreadable header")?;
        if header.typ.is_some() {
            return Err("is not a Backstage token from this stagepass".into());
        }
        let key = (self.keys.iter())
            .find(|key| key.kid() == header.kid && key.alg().name() == header.alg)
            .ok_or("names a key stagepass does not sign with")?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| "has an unreadable signature")?;
        let signed = token.rfind('.').map_or(token, |dot| &token[..dot]);
        if !key.verifies(signed.as_bytes(), &signature) {
            return Err("does not verify with stagepass's keys".into());
        }
        let claims: Claims = decode(payload).ok_or("has unreadable claims")?;
        if claims.iss != self.issuer || claims.aud != BACKSTAGE_AUDIENCE {
            return Err("is not a Backstage token from this stagepass".into());
        }
        if claims.exp <= now {
            return Err("expired".into());
        }
        Ok(Presented {
            identity: Identity {
                user_entity_ref: claims.sub,
                ownership_entity_refs: claims.ent,
                display_name: None,
                email: None,
                picture: None,
            },
            expires_at: claims.exp,
        })
    }
}

fn decode<T: serde::de::DeserializeOwned>(part: &str) -> Option<T> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    serde_json::from_slice(&bytes).ok()
}
