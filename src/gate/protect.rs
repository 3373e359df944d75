//! The protected path, in named phases: session → refresh → identity →
//! proxy. A request without a live session never reaches the upstream.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use super::headers::{PersonField, PersonFields};
use super::injection::Injection;
use super::policy;
use super::routes::is_navigation;
use super::{Gate, SignIn, client_error, now, redirect, request_id};
use crate::body::Body;
use crate::error::Error;
use crate::proxy::RequestId;
use crate::proxy::{Injected, Peer};
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
    fn unchanged(session: Session) -> Self {
        Live {
            session,
            set_cookies: Vec::new(),
        }
    }
}

/// A request that may pass: who it is, what carries them, and the cookies
/// to send back.
pub(super) struct Admitted {
    /// Identity headers filled from the session.
    pub person: PersonFields,
    /// The Backstage token, the assertion and the catalog-filled identity
    /// headers; `None` without a catalog.
    pub backstage: Option<Arc<Injection>>,
    /// When the session ends regardless of refreshes.
    pub session_ends: SystemTime,
    pub set_cookies: Vec<HeaderValue>,
}

impl Admitted {
    /// The headers a proxied request carries upstream.
    pub fn upstream(&self) -> Injected {
        Injected {
            headers: self.headers(PersonField::upstream_name),
            session_ends: Some(self.session_ends),
        }
    }

    /// Every header, the identity ones named by `name`.
    pub fn headers(&self, name: fn(PersonField) -> HeaderName) -> Vec<(HeaderName, HeaderValue)> {
        let catalog_person = self.backstage.iter().flat_map(|b| &b.person);
        let mut headers: Vec<_> = self
            .person
            .iter()
            .chain(catalog_person)
            .map(|(field, value)| (name(*field), value.clone()))
            .collect();
        if let Some(backstage) = &self.backstage {
            headers.extend(backstage.headers.iter().cloned());
        }
        headers
    }
}

/// Why a request may not pass.
pub(super) enum Refused {
    /// No live session; holds the cookie deletions to send.
    SignInRequired(Vec<HeaderValue>),
    /// A live session, but a later phase failed (the catalog no longer knows
    /// the person, the catalog is down…).
    Failed(Error),
}

impl Gate {
    pub(super) async fn protect(
        &self,
        req: Request<Incoming>,
        peer: Peer,
    ) -> Result<Response<Body>, Error> {
        let route = self.route_table.find(req.uri().path());
        let forwarder = route
            .and_then(|r| r.forwarder.as_ref())
            .unwrap_or(&self.forwarder);
        if route.is_some_and(|r| r.public) {
            // No sign-in; whatever identity headers the client sent are
            // stripped all the same.
            return forwarder
                .forward(req, peer, &self.owned_headers, Injected::default())
                .await;
        }
        let admitted = match self.admit(req.headers(), request_id(&req), route).await {
            Ok(admitted) => admitted,
            Err(Refused::SignInRequired(clear)) => {
                return self.sign_in_required(&req, peer, clear);
            }
            Err(Refused::Failed(err)) => return Err(err),
        };
        if self.whoami {
            return self.whoami(req, peer, admitted);
        }
        let mut response = forwarder
            .forward(req, peer, &self.owned_headers, admitted.upstream())
            .await
            .map_err(|err| with_cookies(err, &admitted.set_cookies))?;
        for cookie in admitted.set_cookies {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        Ok(response)
    }

    /// The head the upstream would receive for the client's request head
    /// `parts`, through the same phases as a proxied request, without
    /// sockets: what the whole-path benchmark measures.
    pub async fn upstream_head(&self, parts: &mut Parts, peer: Peer) -> Result<(), Error> {
        let id = parts.extensions.get::<RequestId>().map(RequestId::as_str);
        let admitted = match self.admit(&parts.headers, id, None).await {
            Ok(admitted) => admitted,
            Err(Refused::SignInRequired(_)) => {
                return Err(client_error(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "Sign-in required.",
                ));
            }
            Err(Refused::Failed(err)) => return Err(err),
        };
        self.forwarder
            .prepare_head(parts, peer, &self.owned_headers, admitted.upstream())
    }

    /// Phases 1 to 4 for one request head: a live session (refreshed when
    /// due), the person's identity and what to inject upstream.
    /// `id` (the request id) goes into the rare log lines of a refresh;
    /// `route`'s allow rules, if any, are checked on the person.
    pub(super) async fn admit(
        &self,
        headers: &HeaderMap,
        id: Option<&str>,
        route: Option<&policy::Route>,
    ) -> Result<Admitted, Refused> {
        let live = self
            .live_session(headers, id)
            .await
            .map_err(Refused::SignInRequired)?;
        let backstage = match &self.backstage {
            // A person the catalog no longer knows is refused.
            Some(backstage) => match backstage.inject(&live.session, &self.person).await {
                Ok(injection) => Some(injection),
                Err(err) => {
                    // Cleared last: a 403 ends even a just-refreshed session.
                    let err = with_cookies(err, &live.set_cookies);
                    return Err(Refused::Failed(self.no_access(err, headers)));
                }
            },
            None => None,
        };
        if let Some(route) = route
            && let Some(allow) = &route.allow
        {
            let person = match &backstage {
                Some(found) => policy::Person {
                    user: &found.user_ref,
                    groups: &found.ownership,
                    email: live.session.email.as_deref(),
                },
                None => policy::Person::from_session(&live.session),
            };
            if let Err(err) = policy::check(route, allow, &person) {
                return Err(Refused::Failed(with_cookies(err, &live.set_cookies)));
            }
        }
        Ok(Admitted {
            person: self.person.fill_from_session(&live.session),
            backstage,
            session_ends: UNIX_EPOCH + Duration::from_secs(live.session.expires_at),
            set_cookies: live.set_cookies,
        })
    }

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
                    groups: if renewed.subject.is_some() {
                        renewed.groups
                    } else {
                        session.groups
                    },
                    access_token_expires_at: renewed.access_expires_at,
                    refresh_token: renewed.refresh_token.or(session.refresh_token),
                    id_token: renewed.id_token.or(session.id_token),
                    issued_at: now(),
                    access_token: self.keep_access_token().then_some(renewed.access_token),
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

    /// No usable session: a browser navigation goes to sign in and comes back
    /// here; anything else gets 401 with a way to sign in.
    fn sign_in_required(
        &self,
        req: &Request<Incoming>,
        peer: Peer,
        clear: Vec<HeaderValue>,
    ) -> Result<Response<Body>, Error> {
        if is_navigation(req.method(), req.headers()) {
            let path_and_query = req.uri().path_and_query().map_or("/", |pq| pq.as_str());
            let return_to = self.redirects.resolve(Some(path_and_query));
            // Reached under another name (127.0.0.1 for localhost, a pod
            // IP): the session cookie would be set for a host the browser
            // never sends it to again. Move to the public name first.
            let jar = self.jar();
            if !self.reached_by_public_host(req, peer) {
                if !jar.carries_moved_marker(req.headers()) {
                    let mut cookies = clear;
                    cookies.push(jar.moved_marker());
                    return redirect(return_to.as_str(), cookies);
                }
                tracing::warn!(
                    id = request_id(req),
                    "requests reach stagepass with a Host that is not publicUrl's; if a proxy in front \
                     rewrites Host, add it to stagepass.trustedProxies and have it set X-Forwarded-Host"
                );
            }
            return self.begin_sign_in(req.headers(), return_to.as_str(), clear, None);
        }
        Err(self.sign_in_error(&self.routes.start_path(), clear))
    }

    /// The 401 for a request without a session that is not redirected: the
    /// sign-in URL (`path` on the public origin) in `WWW-Authenticate`, in
    /// JSON's `signInUrl` and on the page, and deletions for stale cookies.
    pub(super) fn sign_in_error(&self, path: &str, clear: Vec<HeaderValue>) -> Error {
        let sign_in = self
            .redirects
            .root()
            .join(path)
            .map(|u| u.to_string())
            .unwrap_or_default();
        let challenge = format!("Cookie realm=\"stagepass\", sign_in=\"{sign_in}\"");
        let mut err = client_error(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Sign-in required.",
        )
        .with_sign_in(sign_in)
        .with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_str(&challenge)
                .unwrap_or(HeaderValue::from_static("Cookie realm=\"stagepass\"")),
        );
        for cookie in clear {
            err = err.with_header(header::SET_COOKIE, cookie);
        }
        err
    }

    /// The host the browser used: a trusted proxy's `X-Forwarded-Host`, else
    /// `Host` (HTTP/1) or the URI's authority (HTTP/2).
    fn reached_by_public_host<B>(&self, req: &Request<B>, peer: Peer) -> bool {
        let forwarded = peer
            .trusted
            .then(|| crate::proxy::hygiene::last_forwarded_host(req.headers()))
            .flatten();
        let host = forwarded
            .or_else(|| {
                req.headers()
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok().map(str::to_owned))
            })
            .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
        host.is_none_or(|host| self.redirects.is_public_host(&host))
    }

    /// Deletions for stagepass cookies the request carried that did not open
    /// (tampered, foreign, expired): the browser stops sending them.
    fn stale_cookies(&self, headers: &HeaderMap) -> Vec<HeaderValue> {
        if self.jar().carries_session(headers) {
            self.jar().clear_session(headers)
        } else {
            Vec::new()
        }
    }
}

/// A refreshed session must reach the browser even when the request fails:
/// with refresh-token rotation the old cookie is now useless.
fn with_cookies(mut err: Error, set_cookies: &[HeaderValue]) -> Error {
    for cookie in set_cookies {
        err = err.with_header(header::SET_COOKIE, cookie.clone());
    }
    err
}

fn refresh_due(session: &Session) -> bool {
    session
        .access_token_expires_at
        .is_some_and(|expires| expires <= now() + REFRESH_MARGIN_SECS)
}
