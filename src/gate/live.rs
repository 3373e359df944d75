//! Phases 1 and 2: the session the cookies hold, refreshed at the IdP when
//! its access token is about to expire.

use http::StatusCode;
use http::header::{HeaderMap, HeaderValue};

use super::{Gate, SignIn, now};
use crate::session::Session;

/// Refresh this long before the access token expires, so a request never
/// rides on a token that expires mid-flight.
const REFRESH_MARGIN_SECS: u64 = 60;

/// The outcome of the session phase.
pub(super) struct Live {
    pub session: Session,
    /// `Set-Cookie` values to send back (a refreshed session).
    pub set_cookies: Vec<HeaderValue>,
}

impl Live {
    pub(super) fn unchanged(session: Session) -> Self {
        Live {
            session,
            set_cookies: Vec::new(),
        }
    }
}

impl Gate {
    /// Phase 1 and 2: read the session and refresh it when due. `Err` holds
    /// the cookie deletions to send when the session is unusable.
    pub(super) async fn live_session(
        &self,
        headers: &HeaderMap,
        id: Option<&str>,
    ) -> Result<Live, Vec<HeaderValue>> {
        let Some(session) = self.jar().read_session(headers, now()) else {
            return Err(self.stale_cookies(headers));
        };
        if self.is_revoked(&session) {
            tracing::info!(id, subject = %session.subject, "revoked session refused");
            return Err(self.jar().clear_session(headers));
        }
        if !refresh_due(&session) {
            return Ok(Live::unchanged(session));
        }
        let Some(refresh_token) = session.refresh_token.clone() else {
            return Ok(Live::unchanged(session));
        };
        let SignIn::Oidc(oidc) = &self.sign_in else {
            return Ok(Live::unchanged(session));
        };
        match oidc.refresh(&refresh_token).await {
            // OIDC Core 12.2: a refreshed ID token must name the same person.
            Ok(renewed)
                if renewed
                    .subject
                    .as_ref()
                    .is_some_and(|sub| *sub != session.subject) =>
            {
                tracing::warn!(id, subject = %session.subject, "refreshed ID token names another subject; session ended");
                Err(self.jar().clear_session(headers))
            }
            Ok(renewed) => {
                let session = Session {
                    email: renewed.email.or(session.email),
                    name: renewed.name.or(session.name),
                    picture: renewed.picture.or(session.picture),
                    preferred_username: renewed.preferred_username.or(session.preferred_username),
                    // A new ID token speaks for the person anew; without
                    // one, what the last one said still holds.
                    groups: if renewed.subject.is_some() {
                        renewed.groups
                    } else {
                        session.groups
                    },
                    claims: if renewed.subject.is_some() {
                        Session::policy_claims(&renewed.claims, &self.policy_claims)
                    } else {
                        session.claims
                    },
                    access_token_expires_at: renewed.access_expires_at,
                    refresh_token: renewed.refresh_token.or(session.refresh_token),
                    id_token: renewed.id_token.or(session.id_token),
                    issued_at: now(),
                    access_token: self.keep_access_token.then_some(renewed.access_token),
                    ..session
                };
                let set_cookies = match self.session_cookies(headers, &session) {
                    Ok(cookies) => cookies,
                    Err(err) => {
                        // The renewed session no longer fits in a cookie: end it
                        // rather than keep a refresh token the IdP has rotated.
                        tracing::warn!(id, subject = %session.subject, reason = %err, "renewed session too large; session ended");
                        return Err(self.jar().clear_session(headers));
                    }
                };
                Ok(Live {
                    session,
                    set_cookies,
                })
            }
            // The IdP is down: the session is still within sessionDuration,
            // so keep serving it and try again on the next request.
            Err(err) if err.status == StatusCode::SERVICE_UNAVAILABLE => {
                tracing::warn!(id, subject = %session.subject, reason = %err, "refresh postponed: IdP unavailable");
                Ok(Live::unchanged(session))
            }
            Err(err) => {
                tracing::info!(id, subject = %session.subject, reason = %err, "refresh failed; session ended");
                Err(self.jar().clear_session(headers))
            }
        }
    }
}

fn refresh_due(session: &Session) -> bool {
    session
        .access_token_expires_at
        .is_some_and(|expires| expires <= now() + REFRESH_MARGIN_SECS)
}
