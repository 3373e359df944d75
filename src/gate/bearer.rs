//! API clients: a request with `Authorization: Bearer` and no session is
//! never sent to sign in. Its token is accepted when stagepass minted it (a
//! Backstage token, presented back) or when the IdP signed it for stagepass
//! (`stagepass.bearer`); the person it names then goes through the same
//! resolvers, route rules and injection as a signed-in browser. Anything
//! else is a 401 `invalid_token` (RFC 6750 section 3).

use http::HeaderMap;
use http::header::{self, HeaderValue};

use super::live::Live;
use super::policy;
use super::protect::Admitted;
use super::{Gate, SignIn};
use crate::error::Error;
use crate::oidc::invalid_token;
use crate::revocation::SessionRef;
use crate::session::Session;

/// The token of an `Authorization: Bearer <token>` header (the scheme is
/// case-insensitive), if there is one.
pub(super) fn token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

impl Gate {
    /// Phases 3 and 4 for an API client's token instead of a session.
    pub(super) async fn admit_bearer(
        &self,
        token: &str,
        route: Option<&policy::Route>,
        upgrade: bool,
    ) -> Result<Admitted, Error> {
        if !self.bearer.enabled {
            return Err(refused(invalid_token(
                "cannot stand in for a session here (stagepass.bearer.enabled is false)",
            )));
        }
        if let Some(presented) = self.backstage.as_ref().and_then(|b| b.presented(token)) {
            let presented = presented.map_err(|reason| refused(invalid_token(&reason)))?;
            // Stood up now, for this request: it ends with the token.
            let session = Session {
                subject: presented.identity.user_entity_ref.clone(),
                expires_at: presented.expires_at,
                issued_at: super::now(),
                ..Session::default()
            };
            let live = Live::unchanged(session);
            return self
                .admit_live(live, Some(&presented.identity), route, None)
                .await;
        }
        let SignIn::Oidc(oidc) = &self.sign_in else {
            return Err(refused(invalid_token(
                "cannot be checked: guest sign-in has no identity provider",
            )));
        };
        let audiences = &self.bearer.audiences;
        let scope = self.bearer.required_scope.as_deref();
        let signed_in = (oidc.verify_bearer(token, audiences, scope).await).map_err(refused)?;
        // A person signed out everywhere, or logged out at the IdP, loses
        // the tokens issued before too (`iat` stands for the sign-in).
        // An `iat` ahead of the clock (an IdP's skew) must not date the
        // token after a cut-off it predates.
        let issued_at = (signed_in.claims.get("iat"))
            .and_then(serde_json::Value::as_u64)
            .map(|iat| iat.min(super::now()));
        let idp_sid = (signed_in.claims.get("sid")).and_then(|v| v.as_str());
        let reference = SessionRef {
            id: None,
            idp_sid,
            subject: signed_in.subject.as_deref().unwrap_or_default(),
            signed_in_at: issued_at.unwrap_or(0),
        };
        if self.revocations.unknown_for(&reference) {
            return Err(super::revoke::revocations_unknown());
        }
        if self.revocations.is_revoked(&reference, super::now()) {
            return Err(refused(invalid_token(
                "was issued before its holder's sessions were revoked",
            )));
        }
        let idp_sid = idp_sid.map(str::to_owned);
        let session = Session {
            subject: signed_in.subject.unwrap_or_default(),
            email: signed_in.email,
            name: signed_in.name,
            picture: signed_in.picture,
            preferred_username: signed_in.preferred_username,
            groups: signed_in.groups,
            expires_at: signed_in.access_expires_at.unwrap_or_default(),
            claims: Session::policy_claims(&signed_in.claims, &self.policy_claims),
            // Dated and named as the revocation check above saw it, so a
            // tunnel it opens is watched the same way.
            signed_in_at: issued_at,
            issued_at: super::now(),
            idp_sid,
            ..Session::default()
        };
        let session_ended = (self.revocations.enabled() && upgrade)
            .then(|| self.session_ended(std::sync::Arc::new(session.clone())));
        let admitted = self.admit_live(Live::unchanged(session), None, route, None);
        let admitted = admitted.await?;
        Ok(Admitted {
            session_ended,
            ..admitted
        })
    }
}

/// A 401 for a token gets RFC 6750's challenge, so a client library knows
/// to fetch a new token rather than to sign in.
fn refused(err: Error) -> Error {
    if err.code != "invalid_token" {
        return err;
    }
    let description: String = err
        .public
        .chars()
        .map(|c| if c == '"' || c == '\\' { '\'' } else { c })
        .collect();
    let challenge = format!(
        "Bearer realm=\"stagepass\", error=\"invalid_token\", error_description=\"{description}\""
    );
    match HeaderValue::from_str(&challenge) {
        Ok(value) => err.with_header(header::WWW_AUTHENTICATE, value),
        Err(_) => err.with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"stagepass\", error=\"invalid_token\""),
        ),
    }
}
