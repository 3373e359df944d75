//! The protected path, in named phases: session → refresh → identity →
//! proxy. A request without a live session never reaches the upstream.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Response, StatusCode};

use super::backstage::Target;
use super::headers::{PersonField, PersonFields, PersonHeaders};
use super::injection::Injection;
use super::live::Live;
use super::policy;
use super::{Gate, client_error, request_id};
use crate::body::Body;
use crate::config::RouteBearer;
use crate::error::Error;
use crate::principal::Identity;
use crate::proxy::{ClientRequest, Forwarder, Injected, Peer, RequestId, SessionEnded};

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
    /// Admitted on the client's `Authorization: Bearer` token, not a session.
    pub by_bearer: bool,
    /// For a WebSocket upgrade with a session store: whether the session
    /// has been ended elsewhere since, asked while its tunnel is open.
    pub session_ended: Option<SessionEnded>,
}

impl Admitted {
    /// The headers a proxied request carries upstream; see [`Self::take_headers`].
    pub fn upstream(&mut self) -> Injected {
        Injected {
            headers: self.take_headers(PersonField::upstream_name),
            session_ends: Some(self.session_ends),
            session_ended: self.session_ended.take(),
        }
    }

    /// Every header, the identity ones named by `name`. The session's are
    /// moved out, not cloned (a first clone of a header value allocates),
    /// so this is for one use.
    pub fn take_headers(
        &mut self,
        name: fn(PersonField) -> HeaderName,
    ) -> Vec<(HeaderName, HeaderValue)> {
        let cached = self.backstage.as_deref();
        let cached_len = cached.map_or(0, |b| b.person.len() + b.headers.len());
        let mut headers = Vec::with_capacity(self.person.len() + cached_len);
        let session_person = std::mem::take(&mut self.person).into_iter();
        headers.extend(session_person.map(|(field, value)| (name(field), value)));
        if let Some(backstage) = cached {
            let catalog_person = backstage.person.iter();
            headers.extend(catalog_person.map(|(field, value)| (name(*field), value.clone())));
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

impl Refused {
    /// The `Set-Cookie` values the refusal would have sent: for a visitor
    /// who goes on anonymously, so a rotated session is not lost.
    pub(super) fn into_cookies(self) -> Vec<HeaderValue> {
        match self {
            Refused::SignInRequired(clear) => clear,
            Refused::Failed(err) => (err.headers.iter())
                .filter(|(name, _)| name == header::SET_COOKIE)
                .map(|(_, value)| value.clone())
                .collect(),
        }
    }
}

impl Gate {
    pub(super) async fn protect(
        &self,
        req: ClientRequest,
        peer: Peer,
    ) -> Result<Response<Body>, Error> {
        let route = self.route_table.find(req.uri().path())?;
        self.protect_on(req, peer, route)
            .await
            .map_err(|err| match route {
                Some(route) => err.on_route(&route.path),
                None => err,
            })
    }

    async fn protect_on(
        &self,
        req: ClientRequest,
        peer: Peer,
        route: Option<&policy::Route>,
    ) -> Result<Response<Body>, Error> {
        let forwarder = route
            .and_then(|r| r.forwarder.as_ref())
            .unwrap_or(&self.forwarder);
        let owned = self.owned_headers_on(route);
        if let Some(route) = route.filter(|r| r.public) {
            return self.public(req, peer, route, forwarder).await;
        }
        let bearer = super::bearer::token(req.headers());
        if bearer.is_some() && route.is_some_and(|r| r.bearer == RouteBearer::Passthrough) {
            // The upstream checks the client's token itself (Backstage's
            // externalAccess): it goes through untouched, with no identity.
            let owned: Vec<HeaderName> = (owned.iter())
                .filter(|name| **name != header::AUTHORIZATION)
                .cloned()
                .collect();
            return forwarder
                .forward(req, peer, &owned, Injected::default())
                .await;
        }
        let admitted = match (self.admit_session_or_bearer(req.headers(), request_id(&req), route))
            .await
        {
            Ok(admitted) => admitted,
            Err(Refused::SignInRequired(clear)) => return self.sign_in_required(&req, peer, clear),
            Err(Refused::Failed(err)) => return Err(err),
        };
        if self.whoami {
            return self.whoami(*req, peer, admitted);
        }
        // The token that signed the client in here is stagepass's to check:
        // no app behind it gets it (another app could act as the person).
        let with_token;
        let owned = match admitted.by_bearer && !owned.contains(&header::AUTHORIZATION) {
            true => {
                with_token = [owned, &[header::AUTHORIZATION]].concat();
                &with_token[..]
            }
            false => owned,
        };
        forward_admitted(forwarder, req, peer, owned, admitted).await
    }

    /// A public route: no sign-in. The identity of a visitor who happens to
    /// be signed in goes along only when the route asks for headers.
    async fn public(
        &self,
        req: ClientRequest,
        peer: Peer,
        route: &policy::Route,
        forwarder: &Forwarder,
    ) -> Result<Response<Body>, Error> {
        let owned = self.owned_headers_on(Some(route));
        let signed_in = route.person.is_some() && self.jar().carries_session(req.headers());
        // Cookies the attempt produced (a rotated session, deletions) reach
        // the browser even when the visitor goes on anonymously.
        let mut cookies = Vec::new();
        if signed_in {
            match self
                .admit(req.headers(), request_id(&req), Some(route))
                .await
            {
                Ok(admitted) => {
                    return forward_admitted(forwarder, req, peer, owned, admitted).await;
                }
                Err(refused) => cookies = refused.into_cookies(),
            }
        }
        // Whatever identity headers the client sent are stripped all the same.
        let mut response = forwarder
            .forward(req, peer, owned, Injected::default())
            .await
            .map_err(|err| with_cookies(err, &cookies))?;
        for cookie in cookies {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        Ok(response)
    }

    /// The client headers stripped on `route`: those stagepass may inject.
    fn owned_headers_on<'a>(&'a self, route: Option<&'a policy::Route>) -> &'a [HeaderName] {
        match route.and_then(|r| r.owned_headers.as_ref()) {
            Some(owned) => owned,
            None => &self.owned_headers,
        }
    }

    /// The identity headers `route` asks for.
    pub(super) fn person_on<'a>(&'a self, route: Option<&'a policy::Route>) -> &'a PersonHeaders {
        match route.and_then(|r| r.person.as_ref()) {
            Some(person) => person,
            None => &self.person,
        }
    }

    /// The head the upstream would receive for the client's request head
    /// `parts`, through the same phases as a proxied request, without
    /// sockets: what the whole-path benchmark measures.
    pub async fn upstream_head(&self, parts: &mut Parts, peer: Peer) -> Result<(), Error> {
        // As the server does first (see `RequestId::set_on`).
        RequestId::for_request(&parts.headers, peer).set_on(&mut parts.headers);
        let id = crate::proxy::request_id::of(&parts.headers);
        let mut admitted = match self.admit(&parts.headers, id, None).await {
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
        (self.check_revocations_known(&live.session))
            .map_err(|err| Refused::Failed(with_cookies(err, &live.set_cookies)))?;
        // Only for what may become a tunnel: a plain request ends anyway.
        let session_ended = (self.revocations.enabled() && headers.contains_key(header::UPGRADE))
            .then(|| self.session_ended(Arc::clone(&live.session)));
        let admitted = self.admit_live(live, None, route, Some(headers)).await;
        admitted
            .map(|admitted| Admitted {
                session_ended,
                ..admitted
            })
            .map_err(Refused::Failed)
    }

    /// [`Self::admit`], and without a session, an API client's bearer
    /// token instead: a request with one is never sent to sign in.
    pub(super) async fn admit_session_or_bearer(
        &self,
        headers: &HeaderMap,
        id: Option<&str>,
        route: Option<&policy::Route>,
    ) -> Result<Admitted, Refused> {
        match (
            self.admit(headers, id, route).await,
            super::bearer::token(headers),
        ) {
            (Err(Refused::SignInRequired(clear)), Some(token)) => {
                let upgrade = headers.contains_key(header::UPGRADE);
                (Box::pin(self.admit_bearer(token, route, upgrade)).await)
                    .map(|admitted| Admitted {
                        by_bearer: true,
                        ..admitted
                    })
                    .map_err(|err| Refused::Failed(with_cookies(err, &clear)))
            }
            (outcome, _) => outcome,
        }
    }

    /// Phases 3 and 4 for a live session (from cookies, or stood up for an
    /// API client's token): identity, route rules, what to inject. `known`
    /// is an identity already established (a Backstage token stagepass
    /// minted): the catalog is not asked. Errors carry `live`'s cookies;
    /// with the request's `cookies`, a person the catalog no longer knows
    /// also loses the session.
    pub(super) async fn admit_live(
        &self,
        live: Live,
        known: Option<&Identity>,
        route: Option<&policy::Route>,
        cookies: Option<&HeaderMap>,
    ) -> Result<Admitted, Error> {
        let person = self.person_on(route);
        let backstage = match &self.backstage {
            Some(backstage) => {
                let target = Target {
                    person,
                    backstage_token: route.is_none_or(|r| r.backstage_token),
                    audience: route.and_then(|r| r.audience.as_deref()),
                    profile: route
                        .filter(|r| r.has_own_injection())
                        .map(|r| r.path.as_str()),
                };
                let injection = backstage.inject(&live.session, known, &target).await;
                Some(injection.map_err(|err| {
                    let err = with_cookies(err, &live.set_cookies);
                    // Cleared last: a 403 ends even a just-refreshed session.
                    match cookies {
                        Some(headers) => self.no_access(err, headers),
                        None => err,
                    }
                })?)
            }
            None => None,
        };
        if let Some(route) = route
            && let Some(allow) = &route.allow
        {
            let who = match &backstage {
                Some(found) => policy::Person {
                    user: &found.user_ref,
                    groups: &found.ownership,
                    email: live.session.email.as_deref(),
                    claims: &live.session.claims,
                },
                None => policy::Person::from_session(&live.session),
            };
            policy::check(route, allow, &who)
                .map_err(|err| with_cookies(err, &live.set_cookies))?;
        }
        Ok(Admitted {
            person: person.fill_from_session(&live.session),
            backstage,
            session_ends: UNIX_EPOCH + Duration::from_secs(self.session_ends_at(&live.session)),
            set_cookies: live.set_cookies,
            by_bearer: false,
            session_ended: None,
        })
    }
}

/// Forwards an admitted request with what it carries, and hands the
/// browser its refreshed cookies.
async fn forward_admitted(
    forwarder: &Forwarder,
    req: ClientRequest,
    peer: Peer,
    owned: &[HeaderName],
    admitted: Admitted,
) -> Result<Response<Body>, Error> {
    let mut admitted = admitted;
    let mut response = forwarder
        .forward(req, peer, owned, admitted.upstream())
        .await
        .map_err(|err| with_cookies(err, &admitted.set_cookies))?;
    for cookie in admitted.set_cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// A refreshed session must reach the browser even when the request fails:
/// with refresh-token rotation the old cookie is now useless.
pub(super) fn with_cookies(mut err: Error, set_cookies: &[HeaderValue]) -> Error {
    for cookie in set_cookies {
        err = err.with_header(header::SET_COOKIE, cookie.clone());
    }
    err
}
