//! Ending sessions before their cookie expires (with a session store):
//! sign-out revokes the session, "sign out everywhere" every session of the
//! person, the IdP's back-channel logout the sessions of an IdP sign-in,
//! and the admin port whomever an operator names. The check itself is
//! in-memory ([`crate::revocation`]).

use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use super::{Gate, SignIn, json, now};
use crate::body::Body;
use crate::error::Error;
use crate::proxy::SessionEnded;
use crate::revocation::{Revocation, SessionRef};
use crate::session::Session;

impl Gate {
    /// Whether `session` was ended elsewhere (signed out, logged out at the
    /// IdP, revoked by an operator).
    pub(super) fn is_revoked(&self, session: &Session) -> bool {
        (self.revocations).is_revoked(&self.reference(session), now())
    }

    /// 503 for a session that may have been revoked while this replica
    /// could not read the store (since start-up): fail closed, not open.
    pub(super) fn check_revocations_known(&self, session: &Session) -> Result<(), Error> {
        match self.revocations.unknown_for(&self.reference(session)) {
            true => Err(revocations_unknown()),
            false => Ok(()),
        }
    }

    fn reference<'a>(&self, session: &'a Session) -> SessionRef<'a> {
        reference(session, self.session_duration)
    }

    /// Asks, for as long as a tunnel `session` opened is open, whether the
    /// session has been ended elsewhere since.
    pub(super) fn session_ended(&self, session: Arc<Session>) -> SessionEnded {
        let revocations = Arc::clone(&self.revocations);
        let duration = self.session_duration;
        Arc::new(move || revocations.is_revoked(&reference(&session, duration), now()))
    }

    /// Sign-out: this session ends on every replica, or with `everywhere`
    /// every session the person signed in to up to now.
    pub(super) fn revoke_signed_out(&self, session: &Session, everywhere: bool) {
        if !self.revocations.enabled() {
            return;
        }
        let until = session.expires_at;
        let revocation = match (&session.id, everywhere) {
            (_, true) => Revocation::everything_of(session.subject.clone(), self.session_duration),
            (Some(id), false) => Revocation::Session {
                id: id.clone(),
                until,
            },
            (None, false) => return,
        };
        self.revoke(revocation);
    }

    fn revoke(&self, revocation: Revocation) {
        let kind = match &revocation {
            Revocation::Session { .. } => "session",
            Revocation::IdpSession { .. } => "idp_session",
            Revocation::Subject { .. } => "subject",
        };
        tracing::info!(kind, "sessions revoked");
        self.metrics.record_revocation(kind);
        self.revocations.revoke(revocation);
    }

    /// `POST /api/auth/<id>/backchannel-logout` (OIDC Back-Channel Logout
    /// 1.0): the IdP says a person's IdP session ended. 200 once recorded;
    /// 400 with the spec's `invalid_request` otherwise.
    pub(super) async fn backchannel_logout(
        &self,
        req: Request<Incoming>,
    ) -> Result<Response<Body>, Error> {
        let SignIn::Oidc(oidc) = &self.sign_in else {
            return Err(super::client_error(
                StatusCode::NOT_FOUND,
                "not_found",
                "There is nothing at this address.",
            ));
        };
        if req.method() != Method::POST {
            return Ok(logout_error("use POST with a logout_token form field"));
        }
        if !self.revocations.enabled() {
            return Ok(logout_error(
                "this stagepass has no session store (stagepass.sessions.store) to record logouts in",
            ));
        }
        let (parts, body) = req.into_parts();
        let form = self.forms.read(&parts.headers, body).await?;
        let token = url::form_urlencoded::parse(form.as_bytes())
            .find(|(name, _)| name == "logout_token")
            .map(|(_, value)| value.into_owned());
        let Some(token) = token else {
            return Ok(logout_error("logout_token is missing"));
        };
        let logout = match oidc.verify_logout_token(&token, now()).await {
            Ok(logout) => logout,
            Err(reason) => {
                tracing::warn!(reason = %reason, "back-channel logout refused");
                return Ok(logout_error(&reason));
            }
        };
        match self
            .revocations
            .first_use(&logout.jti, logout.replayable_until)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Ok(logout_error("this logout token was used before")),
            // The store is out of reach: the IdP retries a non-200.
            Err(reason) => return Err(store_unavailable(&reason)),
        }
        let lifetime = self.session_duration;
        self.revoke(match (logout.sid, logout.sub) {
            (Some(sid), _) => Revocation::idp_session(sid, lifetime),
            (None, Some(subject)) => Revocation::everything_of(subject, lifetime),
            (None, None) => return Ok(logout_error("neither sid nor sub")),
        });
        let mut response = Response::new(crate::body::empty());
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        Ok(response)
    }

    /// The admin port's `POST /sessions/revoke` with `{"sub": …}` (every
    /// session of that person, now) or `{"sid": …}` (one IdP session).
    pub fn revoke_by_admin(&self, request: &serde_json::Value) -> Result<String, String> {
        if !self.revocations.enabled() {
            return Err("no session store is configured (stagepass.sessions.store)".into());
        }
        let text = |name: &str| {
            request
                .get(name)
                .and_then(|v| v.as_str())
                .filter(|v| !v.is_empty())
        };
        let lifetime = self.session_duration;
        let (revocation, said) = match (text("sub"), text("sid")) {
            (Some(subject), None) => (
                Revocation::everything_of(subject.to_owned(), lifetime),
                "every session of that subject signed in until now",
            ),
            (None, Some(sid)) => (
                Revocation::idp_session(sid.to_owned(), lifetime),
                "every session of that IdP session",
            ),
            _ => return Err("send exactly one of {\"sub\": …} or {\"sid\": …}".into()),
        };
        self.revoke(revocation);
        Ok(said.to_owned())
    }
}

/// Back-Channel Logout 1.0 section 2.8: 400 with `invalid_request`.
fn logout_error(description: &str) -> Response<Body> {
    json(
        StatusCode::BAD_REQUEST,
        &json!({"error": "invalid_request", "error_description": description}),
        Vec::new(),
    )
}

/// A cookie from before sessions carried their sign-in time is dated from
/// its expiry and today's `sessionDuration`. Lowered since, that would make
/// the session look newer than a cut-off it predates; no session signed in
/// after it was last issued, so that time caps the guess.
fn reference(session: &Session, duration: std::time::Duration) -> SessionRef<'_> {
    let inferred =
        || (session.expires_at.saturating_sub(duration.as_secs())).min(session.issued_at);
    SessionRef {
        id: session.id.as_deref(),
        idp_sid: session.idp_sid.as_deref(),
        subject: &session.subject,
        signed_in_at: session.signed_in_at.unwrap_or_else(inferred),
    }
}

/// The answer while revocations made before start-up cannot be read.
pub(super) fn revocations_unknown() -> Error {
    store_unavailable("revocations made before start-up are not loaded yet")
}

fn store_unavailable(reason: &str) -> Error {
    Error::new(
        crate::error::Source::Internal,
        StatusCode::SERVICE_UNAVAILABLE,
        "session_store_unavailable",
        "The session store cannot be reached; try again.",
    )
    .with_detail(reason)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const HOUR: u64 = 3600;

    /// Signed in at 10,000 for 8 hours, last issued at `issued_at`.
    fn session(signed_in_at: Option<u64>, issued_at: u64) -> Session {
        let mut session: Session = serde_json::from_value(serde_json::json!({
            "sub": "alice", "exp": 10_000 + 8 * HOUR, "iat": issued_at,
        }))
        .unwrap();
        session.signed_in_at = signed_in_at;
        session
    }

    #[test]
    fn a_session_is_dated_by_its_sign_in() {
        let dated = session(Some(10_000), 10_000 + 2 * HOUR);
        let one_hour = Duration::from_secs(HOUR);
        assert_eq!(reference(&dated, one_hour).signed_in_at, 10_000);
    }

    /// Cookies written before sessions carried their sign-in time.
    #[test]
    fn an_undated_session_is_never_dated_after_it_was_issued() {
        let eight_hours = Duration::from_secs(8 * HOUR);
        let one_hour = Duration::from_secs(HOUR);
        let undated = session(None, 10_000);
        assert_eq!(reference(&undated, eight_hours).signed_in_at, 10_000);
        // sessionDuration lowered since: expiry less one hour is 7 h later.
        assert_eq!(reference(&undated, one_hour).signed_in_at, 10_000);
        let refreshed = session(None, 10_000 + 6 * HOUR);
        assert_eq!(
            reference(&refreshed, one_hour).signed_in_at,
            10_000 + 6 * HOUR
        );
    }
}
