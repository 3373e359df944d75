//! Phases 1 and 2: the session the cookies hold, refreshed at the IdP when
//! its access token is about to expire.

use http::StatusCode;
use http::header::{HeaderMap, HeaderValue};

use std::sync::Arc;

use super::{Gate, SignIn, now};
use crate::session::Session;

/// Refresh this long before the access token expires, so a request never
/// rides on a token that expires mid-flight.
const REFRESH_MARGIN_SECS: u64 = 60;
/// How long one replica may hold a session's refresh to itself.
const SHARED_REFRESH_LOCK_MS: u64 = 15_000;
/// How long a renewed session stays there for the other replicas (and for
/// a browser whose next request still carries the old cookie).
const SHARED_RESULT_SECS: u64 = 60;
const SHARED_REFRESH_POLL: std::time::Duration = std::time::Duration::from_millis(50);
/// 10 s of waiting for another replica's refresh, then serve and retry.
const SHARED_REFRESH_POLLS: u32 = 200;

/// The outcome of the session phase.
pub(super) struct Live {
    /// Shared with the opened-session cache: read, never copied, per request.
    pub session: Arc<Session>,
    /// `Set-Cookie` values to send back (a refreshed session).
    pub set_cookies: Vec<HeaderValue>,
}

impl Live {
    pub(super) fn unchanged(session: impl Into<Arc<Session>>) -> Self {
        Live {
            session: session.into(),
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
        // Boxed, like every rare branch of the request path: an unboxed
        // future is stored inline in its caller's, so the refresh's state
        // (IdP call, Redis lock) would be set up and moved by every request.
        if self.revocations.enabled() {
            return Box::pin(self.refresh_once_everywhere(session, refresh_token, headers, id))
                .await;
        }
        Box::pin(self.refresh_here(session, &refresh_token, headers, id)).await
    }

    /// With a session store, one replica refreshes a session and the others
    /// take its result: with refresh-token rotation, a second refresh with
    /// the same token would end the session. A short Redis lock decides who
    /// refreshes; the winner leaves the renewed session's cookie values for
    /// a minute, encrypted with a key only holders of the old refresh token
    /// can derive (whoever reads Redis learns nothing usable).
    async fn refresh_once_everywhere(
        &self,
        session: Arc<Session>,
        refresh_token: String,
        headers: &HeaderMap,
        id: Option<&str>,
    ) -> Result<Live, Vec<HeaderValue>> {
        let share = SharedRefresh::new(&refresh_token);
        let (lock, result) = (
            format!("refreshing:{}", share.name),
            format!("refreshed:{}", share.name),
        );
        if let Some(live) = self.adopt(
            &share,
            &session,
            self.revocations.shared(&result).await,
            headers,
        ) {
            return Ok(live);
        }
        let token = super::signin::new_session_id();
        match self
            .revocations
            .claim(&lock, &token, SHARED_REFRESH_LOCK_MS)
            .await
        {
            Some(true) => {
                let outcome = self
                    .refresh_here(session, &refresh_token, headers, id)
                    .await;
                if let Ok(live) = &outcome {
                    let cookies: Vec<&str> = live
                        .set_cookies
                        .iter()
                        .filter_map(|c| c.to_str().ok())
                        .collect();
                    if let Some(sealed) = share.seal(&cookies) {
                        self.revocations
                            .share(&result, &sealed, SHARED_RESULT_SECS)
                            .await;
                    }
                }
                self.revocations.release(&lock, &token).await;
                outcome
            }
            Some(false) => {
                // Another replica is refreshing this session right now.
                for _ in 0..SHARED_REFRESH_POLLS {
                    tokio::time::sleep(SHARED_REFRESH_POLL).await;
                    let shared = self.revocations.shared(&result).await;
                    if let Some(live) = self.adopt(&share, &session, shared, headers) {
                        return Ok(live);
                    }
                    if self.revocations.held(&lock).await != Some(true) {
                        break; // it gave up (its refresh failed): stop waiting
                    }
                }
                // Nothing to take: keep serving it; the next request retries.
                Ok(Live::unchanged(session))
            }
            // The store is out of reach: refresh here, as without one.
            None => {
                self.refresh_here(session, &refresh_token, headers, id)
                    .await
            }
        }
    }

    /// The session another replica renewed, if it is this same session,
    /// still live, with cookies written here (their attributes are ours).
    fn adopt(
        &self,
        share: &SharedRefresh,
        old: &Session,
        sealed: Option<String>,
        headers: &HeaderMap,
    ) -> Option<Live> {
        let set_cookies = share.open(&sealed?)?;
        let pairs: Vec<&str> = set_cookies
            .iter()
            .filter_map(|c| c.split(';').next())
            .filter(|pair| !pair.ends_with('='))
            .collect();
        let mut renewed = HeaderMap::new();
        renewed.insert(
            http::header::COOKIE,
            HeaderValue::from_str(&pairs.join("; ")).ok()?,
        );
        let session = self.jar().read_session(&renewed, now())?;
        let same = session.subject == old.subject && session.id == old.id;
        if !same || self.is_revoked(&session) {
            return None;
        }
        let set_cookies = self.session_cookies(headers, &session).ok()?;
        Some(Live {
            session,
            set_cookies,
        })
    }

    /// Refreshes at the IdP from this replica.
    async fn refresh_here(
        &self,
        session: Arc<Session>,
        refresh_token: &str,
        headers: &HeaderMap,
        id: Option<&str>,
    ) -> Result<Live, Vec<HeaderValue>> {
        let SignIn::Oidc(oidc) = &self.sign_in else {
            return Ok(Live::unchanged(session));
        };
        match oidc.refresh(refresh_token).await {
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
                let session = Arc::unwrap_or_clone(session);
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
                    session: session.into(),
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

/// Where a renewed session is left for the other replicas, and the key it
/// is sealed with: both derived from the refresh token it replaces, which
/// only the session's own cookie holds.
struct SharedRefresh {
    name: String,
    key: [u8; 32],
}

impl SharedRefresh {
    fn new(refresh_token: &str) -> Self {
        use sha2::Digest;
        let derive = |label: &[u8]| -> [u8; 32] {
            let mut hash = sha2::Sha256::new();
            hash.update(label);
            hash.update(refresh_token.as_bytes());
            hash.finalize().into()
        };
        let name = derive(b"stagepass shared refresh name\0")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        SharedRefresh {
            name,
            key: derive(b"stagepass shared refresh key\0"),
        }
    }

    fn seal(&self, cookies: &[&str]) -> Option<String> {
        use aes_gcm::aead::{Aead, KeyInit};
        use base64::Engine;
        let cipher = aes_gcm::Aes256Gcm::new_from_slice(&self.key).ok()?;
        let nonce: [u8; 12] = rand::random();
        let plain = serde_json::to_vec(cookies).ok()?;
        let sealed = cipher.encrypt(&nonce.into(), plain.as_slice()).ok()?;
        let bytes = [nonce.as_slice(), &sealed].concat();
        Some(base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes))
    }

    fn open(&self, sealed: &str) -> Option<Vec<String>> {
        use aes_gcm::aead::{Aead, KeyInit};
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(sealed)
            .ok()?;
        let (nonce, sealed) = bytes.split_at_checked(12)?;
        let cipher = aes_gcm::Aes256Gcm::new_from_slice(&self.key).ok()?;
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let plain = cipher.decrypt(&nonce.into(), sealed).ok()?;
        serde_json::from_slice(&plain).ok()
    }
}
