//! Tokens stagepass signs: Backstage user tokens (what Backstage's own auth
//! backend would issue), short identity assertions for other apps, and the
//! JWKS that verifies both.
//!
//! Tokens are minted once per identity and reused from a cache while enough
//! of their lifetime is left (see [`reuse_margin`]), so a request never pays
//! for a signature.

mod jwt;
mod keys;
mod pem;
#[cfg(test)]
mod tests;
mod verify;

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use moka::sync::Cache;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use std::sync::Arc;

use crate::config::{MAX_TOKEN_EXPIRATION, MIN_TOKEN_EXPIRATION, TokenConfig};
use crate::metrics::Metrics;

use crate::principal::{Claims, Identity};
use jwt::{AssertionClaims, BACKSTAGE_AUDIENCE, BackstageClaims};
use keys::SigningKey;
pub use verify::Presented;

/// Lifetime of identity assertions for non-Backstage apps.
pub const ASSERTION_LIFETIME: Duration = Duration::from_secs(5 * 60);
/// Backstage refuses user tokens longer than this (too many ownership refs).
const MAX_TOKEN_LENGTH: usize = 32_768;
const MAX_CACHED_TOKENS: u64 = 10_000;
/// Backstage's frontend (`ProxiedSignInIdentity`) asks `/refresh` for a new
/// token once the one it holds has less than 5 minutes left; a token handed
/// out must have more than that, or every call in those minutes refreshes.
const FRONTEND_REFRESH_WINDOW: u64 = 6 * 60;

/// A signed token and when it expires (Unix seconds).
#[derive(Clone, PartialEq, Eq)]
pub struct MintedToken {
    pub token: String,
    pub expires_at: u64,
}

/// Never prints the token itself.
impl fmt::Debug for MintedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintedToken")
            .field("token", &"***")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// A key file is unreadable, malformed or does not match its pair.
    #[error("signing key: {0}")]
    Key(String),
}

pub struct TokenIssuer {
    /// The first signs; all are published.
    keys: Vec<SigningKey>,
    issuer: String,
    lifetime: u64,
    backstage_tokens: Cache<String, MintedToken>,
    assertions: Cache<String, MintedToken>,
    metrics: Option<Arc<Metrics>>,
}

impl TokenIssuer {
    pub fn new(config: TokenConfig) -> Result<Self, TokenError> {
        let keys = match &config.key_store {
            Some(store) => store
                .keys
                .iter()
                .map(SigningKey::load)
                .collect::<Result<Vec<_>, _>>()
                .map_err(TokenError::Key)?,
            None => {
                let key = SigningKey::generate();
                tracing::warn!(
                    kid = key.kid(),
                    "no auth.keyStore configured: signing with a key generated at start-up; Backstage tokens will stop verifying when stagepass restarts, and replicas will not accept each other's tokens"
                );
                vec![key]
            }
        };
        if keys.is_empty() {
            return Err(TokenError::Key("the key store lists no key".into()));
        }
        let lifetime = config
            .backstage_token_expiration
            .clamp(MIN_TOKEN_EXPIRATION, MAX_TOKEN_EXPIRATION);
        Ok(TokenIssuer {
            keys,
            issuer: config.issuer,
            lifetime: lifetime.as_secs(),
            backstage_tokens: token_cache(lifetime),
            assertions: token_cache(ASSERTION_LIFETIME),
            metrics: None,
        })
    }

    /// Counts every signature in `metrics` (`stagepass_tokens_signed_total`).
    pub fn counting(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    fn sign(&self, typ: Option<&'static str>, claims: &impl serde::Serialize) -> String {
        if let Some(metrics) = &self.metrics {
            metrics.record_token_signed();
        }
        jwt::sign(self.signing_key(), typ, claims)
    }

    /// Lifetime of Backstage user tokens.
    pub fn lifetime(&self) -> Duration {
        Duration::from_secs(self.lifetime)
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Signs a new Backstage user token: header `{alg, kid}` with no `typ`,
    /// claims `{iss, sub, ent, aud: "backstage", iat, exp}`.
    pub fn mint_backstage_token(&self, identity: &Identity, now: u64) -> MintedToken {
        let claims = BackstageClaims {
            iss: &self.issuer,
            sub: &identity.user_entity_ref,
            ent: &identity.ownership_entity_refs,
            aud: BACKSTAGE_AUDIENCE,
            iat: now,
            exp: now + self.lifetime,
        };
        let token = self.sign(None, &claims);
        if token.len() > MAX_TOKEN_LENGTH {
            tracing::error!(user = %identity.user_entity_ref, ownership_refs = identity.ownership_entity_refs.len(),
                "Backstage token longer than Backstage accepts; the user is a member of too many groups");
        }
        MintedToken {
            token,
            expires_at: claims.exp,
        }
    }

    /// The cached Backstage token for this identity, minted anew when no
    /// more than [`reuse_margin`] of its lifetime is left.
    pub fn token_for(&self, identity: &Identity) -> MintedToken {
        self.token_for_at(identity, unix_now())
    }

    pub fn token_for_at(&self, identity: &Identity, now: u64) -> MintedToken {
        let key = fingerprint(&[
            &identity.user_entity_ref,
            &identity.ownership_entity_refs.join("\n"),
        ]);
        let margin = reuse_margin(self.lifetime);
        reuse_or_mint(&self.backstage_tokens, key, now, margin, || {
            self.mint_backstage_token(identity, now)
        })
    }

    /// A short-lived identity assertion for an app that is not Backstage,
    /// addressed to `audience` (the upstream's origin). Cached like Backstage
    /// tokens.
    pub fn assertion_for(
        &self,
        identity: &Identity,
        claims: &Claims,
        audience: &str,
        now: u64,
    ) -> MintedToken {
        let email = identity.email.as_deref().or(claims.email.as_deref());
        let name = identity.display_name.as_deref().or(claims.name.as_deref());
        let key = fingerprint(&[
            audience,
            &identity.user_entity_ref,
            &identity.ownership_entity_refs.join("\n"),
            email.unwrap_or("\0"),
            name.unwrap_or("\0"),
        ]);
        let lifetime = ASSERTION_LIFETIME.as_secs();
        let mint = || {
            let claims = AssertionClaims {
                iss: &self.issuer,
                sub: &identity.user_entity_ref,
                aud: audience,
                iat: now,
                exp: now + lifetime,
                email,
                name,
                ent: &identity.ownership_entity_refs,
            };
            MintedToken {
                token: self.sign(Some("JWT"), &claims),
                expires_at: claims.exp,
            }
        };
        reuse_or_mint(&self.assertions, key, now, lifetime / 5, mint)
    }

    /// Until when a cached token minted by [`Self::token_for`] is handed out
    /// again, and the same for an assertion.
    pub fn reuse_deadlines(&self, token: &MintedToken, assertion: &MintedToken) -> u64 {
        let token_until = token.expires_at.saturating_sub(reuse_margin(self.lifetime));
        let assertion_until = assertion
            .expires_at
            .saturating_sub(ASSERTION_LIFETIME.as_secs() / 5);
        token_until.min(assertion_until)
    }

    /// `{keys: [...]}`: every configured public key, as Backstage publishes
    /// them at `/api/auth/.well-known/jwks.json`.
    pub fn jwks(&self) -> Value {
        json!({"keys": self.keys.iter().map(SigningKey::jwk).collect::<Vec<_>>()})
    }

    fn signing_key(&self) -> &SigningKey {
        &self.keys[0]
    }
}

fn token_cache(lifetime: Duration) -> Cache<String, MintedToken> {
    Cache::builder()
        .max_capacity(MAX_CACHED_TOKENS)
        .time_to_live(lifetime)
        .build()
}

/// How much of a Backstage token's lifetime must be left for it to be handed
/// out again: a fifth of it, and never less than the frontend's refresh
/// window, so a token from `/refresh` is never one the frontend would at
/// once refresh again.
pub fn reuse_margin(lifetime: u64) -> u64 {
    (lifetime / 5).max(FRONTEND_REFRESH_WINDOW)
}

/// Reuses a cached token while more than `margin` seconds of it are left, so
/// that a token handed out always has time to be used.
fn reuse_or_mint(
    cache: &Cache<String, MintedToken>,
    key: String,
    now: u64,
    margin: u64,
    mint: impl FnOnce() -> MintedToken,
) -> MintedToken {
    if let Some(cached) = cache.get(&key)
        && cached.expires_at > now + margin
    {
        return cached;
    }
    let minted = mint();
    cache.insert(key, minted.clone());
    minted
}

/// A cache key over several strings; hashed so that a user in hundreds of
/// groups does not keep hundreds of refs twice in memory.
fn fingerprint(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    URL_SAFE_NO_PAD.encode(hash.finalize())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
