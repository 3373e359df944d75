//! Phase 3 and 4 of the pipeline: who the signed-in person is in the
//! catalog, and the Backstage token and assertion that carry it upstream.

use std::sync::Arc;

use http::header::{HeaderName, HeaderValue};
use http::{Response, StatusCode};
use serde_json::json;

use super::headers::PersonHeaders;
use super::injection::{Injection, Injections};
use super::{Gate, json, now};
use crate::body::Body;
use crate::config::{Config, ResolverConfig};
use crate::error::{Error, StartupProblems};
use crate::identity::{Claims, Identity, IdentityResolver, claims_key_of};
use crate::metrics::Metrics;
use crate::session::Session;
use crate::token::TokenIssuer;

/// What a request's injection is for: the identity headers its route
/// asks for and the audience of its assertion.
pub(super) struct Target<'a> {
    pub person: &'a PersonHeaders,
    /// Whether the Backstage token goes along (`routes[].backstageToken`).
    pub backstage_token: bool,
    /// `None`: the default upstream's origin.
    pub audience: Option<&'a str>,
    /// Keeps a route's differing injections apart from the default ones.
    pub profile: Option<&'a str>,
}

pub(super) struct Backstage {
    resolver: IdentityResolver,
    tokens: TokenIssuer,
    /// `None` when `backstageToken.enabled` is false.
    token_header: Option<HeaderName>,
    assertion_header: HeaderName,
    /// `aud` of assertions: the upstream's origin.
    audience: String,
    injections: Injections,
    /// `catalog.fresh_for` in seconds: how long a resolved identity holds.
    fresh_for: u64,
}

impl Backstage {
    /// `None` when no catalog is configured (no resolvers, no guest sign-in):
    /// then only identity headers go upstream.
    pub(super) fn build(
        config: &Config,
        resolvers: Vec<ResolverConfig>,
        outbound: &crate::http_client::Outbound,
        metrics: &Arc<Metrics>,
    ) -> Result<Option<Self>, String> {
        let sp = &config.stagepass;
        let Some(catalog) = sp.catalog.clone() else {
            return Ok(None);
        };
        let fresh_for = catalog.fresh_for;
        // Both files are read, so one start-up names both when both fail.
        let mut problems = StartupProblems::default();
        let resolver = problems.keep(
            IdentityResolver::new(resolvers, catalog, outbound)
                .map_err(|e| format!("stagepass.catalog: {e}")),
        );
        let tokens = problems.keep(
            TokenIssuer::new(config.auth.token.clone()).map_err(|e| format!("auth.keyStore: {e}")),
        );
        let (Some(resolver), Some(tokens)) = (resolver, tokens) else {
            return Err(problems.message());
        };
        let resolver = resolver.counting(Arc::clone(metrics));
        let tokens = tokens.counting(Arc::clone(metrics));
        Ok(Some(Backstage {
            resolver,
            tokens,
            token_header: sp
                .inject_backstage_token
                .then(|| sp.backstage_token_header.clone()),
            assertion_header: sp.assertion_header.clone(),
            audience: match sp.upstream_is_whoami() {
                true => sp.public_url.origin().ascii_serialization(),
                false => sp.upstream.origin().ascii_serialization(),
            },
            injections: Injections::new(fresh_for),
            fresh_for: fresh_for.as_secs(),
        }))
    }

    pub(super) async fn identify(&self, session: &Session) -> Result<Identity, Error> {
        Ok(self.resolver.resolve(&claims(session)).await?)
    }

    /// Phases 3 and 4 for a forwarded request: who the person is (a person
    /// the catalog no longer knows is refused) and the headers that carry
    /// it upstream, reused from [`Injections`] while every part is valid.
    /// `known` is an identity already established (a Backstage token
    /// stagepass minted, presented back): the catalog is not asked.
    pub(super) async fn inject(
        &self,
        session: &Session,
        known: Option<&Identity>,
        target: &Target<'_>,
    ) -> Result<Arc<Injection>, Error> {
        let mut key = match known {
            // Never equal to a claims key: those start with the subject.
            Some(identity) => format!(
                "\u{1}{}\0{}",
                identity.user_entity_ref,
                identity.ownership_entity_refs.join("\n")
            ),
            None => claims_key_of(claim_parts(session)),
        };
        if let Some(profile) = target.profile {
            key.push('\0');
            key.push_str(profile);
        }
        let now = now();
        if let Some(ready) = self.injections.get(&key, now) {
            return Ok(ready);
        }
        let identity = match known {
            Some(identity) => identity.clone(),
            // Boxed: only a miss of the injection cache asks the resolver.
            None => Box::pin(self.resolver.resolve(&claims(session))).await?,
        };
        let token = self.tokens.token_for(&identity);
        let audience = target.audience.unwrap_or(&self.audience);
        let assertion = self
            .tokens
            .assertion_for(&identity, &claims(session), audience, now);
        let mut headers = Vec::with_capacity(2);
        if let Some(name) = self
            .token_header
            .as_ref()
            .filter(|_| target.backstage_token)
            && let Ok(value) = HeaderValue::from_str(&format!("Bearer {}", token.token))
        {
            headers.push((name.clone(), value));
        }
        if let Ok(value) = HeaderValue::from_str(&assertion.token) {
            headers.push((self.assertion_header.clone(), value));
        }
        let valid_until = self
            .tokens
            .reuse_deadlines(&token, &assertion)
            .min(now + self.fresh_for);
        let injection = Arc::new(Injection {
            headers,
            person: target.person.fill_from_identity(&identity),
            user_ref: identity.user_entity_ref.clone(),
            ownership: identity.ownership_entity_refs.clone(),
            valid_until,
        });
        self.injections.store(key, Arc::clone(&injection), now);
        Ok(injection)
    }

    /// The identity in a Backstage token this stagepass minted, if `token`
    /// claims to be one: `Some(Err)` when it does but does not verify.
    pub(super) fn presented(&self, token: &str) -> Option<Result<crate::token::Presented, String>> {
        self.tokens
            .claims_to_be_mine(token)
            .then(|| self.tokens.verify_backstage_token(token, now()))
    }

    pub(super) fn resolver(&self) -> &IdentityResolver {
        &self.resolver
    }
}

/// [`claims`] without copying them, in [`Claims::parts`]' order: the
/// injection cache's key, built on every request.
fn claim_parts(session: &Session) -> [Option<&str>; 5] {
    [
        Some(session.subject.as_str()),
        session.email.as_deref(),
        session.preferred_username.as_deref(),
        session.name.as_deref(),
        session.picture.as_deref(),
    ]
}

/// What the resolvers get to see of a session.
pub(super) fn claims(session: &Session) -> Claims {
    Claims {
        subject: session.subject.clone(),
        email: session.email.clone(),
        preferred_username: session.preferred_username.clone(),
        name: session.name.clone(),
        picture: session.picture.clone(),
    }
}

impl Gate {
    /// `GET /.well-known/stagepass/jwks.json`: the keys stagepass signs with.
    pub(super) fn jwks(&self) -> Result<Response<Body>, Error> {
        let keys = match &self.backstage {
            Some(b) => b.tokens.jwks(),
            None => json!({ "keys": [] }),
        };
        let mut response = json(StatusCode::OK, &keys, Vec::new());
        // Apps may cache the key set briefly; rotation adds keys before use.
        response.headers_mut().insert(
            http::header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        Ok(response)
    }

    /// The body of `GET /api/auth/<id>/refresh`, in the shape Backstage's
    /// own auth backend answers, so `ProxiedSignInPage` signs in through it.
    pub(super) async fn refresh_body(&self, session: &Session) -> Result<serde_json::Value, Error> {
        let remaining = self.session_ends_at(session).saturating_sub(now());
        let identity = match &self.backstage {
            Some(backstage) => Some((backstage, backstage.identify(session).await?)),
            None => None,
        };
        let mut body = json!({
            "profile": profile(session, identity.as_ref().map(|(_, id)| id)),
            "providerInfo": { "expiresInSeconds": remaining },
        });
        if let Some((backstage, identity)) = identity {
            let token = backstage.tokens.token_for(&identity);
            body["backstageIdentity"] = json!({
                "token": token.token,
                "expiresInSeconds": token.expires_at.saturating_sub(now()),
                "identity": {
                    "type": "user",
                    "userEntityRef": identity.user_entity_ref,
                    "ownershipEntityRefs": identity.ownership_entity_refs,
                },
            });
        }
        Ok(body)
    }
}

/// Backstage's `ProfileInfo`: what the IdP said, else the catalog User's
/// `spec.profile`. A field with no value is left out, never `null`: the
/// frontend validates each as an optional *string* and rejects `null`,
/// which leaves the person on "You do not appear to be signed in".
fn profile(session: &Session, identity: Option<&Identity>) -> serde_json::Value {
    let pick = |idp: &Option<String>, catalog: Option<&Option<String>>| {
        [Some(idp), catalog]
            .into_iter()
            .flatten()
            .flatten()
            .find(|v| !v.is_empty())
            .cloned()
    };
    let fields = [
        ("email", pick(&session.email, identity.map(|i| &i.email))),
        (
            "displayName",
            pick(&session.name, identity.map(|i| &i.display_name)),
        ),
        (
            "picture",
            pick(&session.picture, identity.map(|i| &i.picture)),
        ),
    ];
    let map = fields
        .into_iter()
        .filter_map(|(key, value)| Some((key.to_owned(), serde_json::Value::String(value?))))
        .collect::<serde_json::Map<_, _>>();
    serde_json::Value::Object(map)
}

#[cfg(test)]
mod tests;
