//! The per-request pipeline: session → refresh → identity → token → proxy.
//!
//! [`Gate::handle`] routes a request either to one of stagepass's own auth
//! endpoints (sign-in start, callback, logout, refresh) or through the named
//! phases of [`protect`] to the upstream. The gate composes the domain
//! modules; none of them knows about the others.

mod backstage;
mod bearer;
mod build;
mod challenge;
mod form;
mod forward_auth;
mod guest;
mod headers;
mod injection;
mod live;
mod policy;
mod protect;
mod redirect;
mod revoke;
mod routes;
mod signin;
mod signout;
mod whoami;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};

use crate::body::Body;
use crate::error::{Error, Source};
use crate::metrics::Metrics;
use crate::oidc::OidcProvider;
use crate::proxy::{ClientRequest, Forwarder, Peer};
use crate::session::{CookieSettings, OpenedSessions, SessionJar, SessionKeys};
use backstage::Backstage;
use redirect::RedirectPolicy;
use routes::{AuthRoutes, Route};

pub struct Gate {
    forwarder: Forwarder,
    sign_in: SignIn,
    /// `sessionDuration` of the provider (24 h for the guest provider).
    session_duration: Duration,
    /// Catalog identity and Backstage tokens; `None` without a catalog.
    backstage: Option<Backstage>,
    keys: SessionKeys,
    /// Sessions already opened: a browser's repeated cookie is decrypted once.
    opened: OpenedSessions,
    cookies: CookieSettings,
    redirects: RedirectPolicy,
    routes: AuthRoutes,
    /// Headers stagepass owns and injects, stripped from every client request.
    owned_headers: Vec<HeaderName>,
    /// The identity headers and what fills them (`stagepass.headers`).
    person: headers::PersonHeaders,
    /// Most bytes of session cookies written: three quarters of
    /// `maxRequestHeaderBytes`, leaving room for the request's other headers.
    max_session_bytes: usize,
    forms: form::FormReader,
    /// The name on stagepass's pages.
    site: String,
    /// `upstream: builtin:whoami`: answer with the whoami page.
    whoami: bool,
    /// `stagepass.routes`.
    route_table: policy::RouteTable,
    /// `stagepass.bearer`: API clients with tokens.
    bearer: crate::config::BearerConfig,
    /// The claims route rules read: sessions keep these.
    policy_claims: Vec<String>,
    /// Whether sessions keep the IdP's access token (only to pass it on).
    keep_access_token: bool,
    /// Sessions ended before their cookie expires (needs a session store).
    revocations: Arc<crate::revocation::Revocations>,
    metrics: Arc<Metrics>,
}

/// How people sign in.
enum SignIn {
    /// At an OpenID Provider.
    Oidc(Arc<OidcProvider>),
    /// Backstage's guest provider: pick any catalog user (development only).
    Guest,
}

impl Gate {
    /// Runs one request through the pipeline. Its path must already be
    /// normalised ([`normalize_path`]): the server does that first, before
    /// anything (routes, metrics, links on pages) reads it.
    pub async fn handle(&self, req: ClientRequest, peer: Peer) -> Result<Response<Body>, Error> {
        match self.routes.classify(req.uri().path()) {
            Route::Jwks => self.jwks(),
            // Boxed: an unboxed arm's state is part of every request's
            // future, and the sign-in arms hold whole IdP round trips.
            Route::Start => Box::pin(self.start(&req)).await,
            Route::Callback => Box::pin(self.callback(*req)).await,
            Route::Logout => self.logout(&req),
            Route::Refresh => Box::pin(self.refresh_endpoint(&req)).await,
            Route::ForwardAuth => self.forward_auth(&req, peer).await,
            Route::BackchannelLogout => Box::pin(self.backchannel_logout(*req)).await,
            Route::Reserved => Err(client_error(
                StatusCode::NOT_FOUND,
                "not_found",
                "There is nothing at this address.",
            )),
            Route::Protected => self.protect(req, peer).await,
        }
    }

    /// Whether `path` is one of stagepass's own auth endpoints.
    pub fn is_auth_route(&self, path: &str) -> bool {
        self.routes.is_own(path)
    }

    /// `Ok` when stagepass can serve sign-ins; otherwise why not.
    pub fn readiness(&self) -> Result<(), String> {
        match &self.sign_in {
            SignIn::Oidc(oidc) => oidc.readiness(),
            SignIn::Guest => Ok(()),
        }
    }

    /// What works less well than it should while stagepass still serves:
    /// an upstream whose certificate does not verify, a session store that
    /// is out of reach. Said by `/readyz` without failing it: every replica
    /// sees the same upstream and store, so failing would take them all
    /// out of service at once, sign-in and public routes included.
    pub fn degraded(&self) -> Vec<String> {
        let upstreams = std::iter::once(self.forwarder.readiness())
            .chain(self.route_table.readiness())
            .filter_map(Result::err);
        upstreams.chain(self.revocations.degraded()).collect()
    }

    /// When `session` ends under today's `sessionDuration`.
    fn session_ends_at(&self, session: &crate::session::Session) -> u64 {
        session.ends_at(Some(self.session_duration))
    }

    fn jar(&self) -> SessionJar<'_> {
        SessionJar::new(&self.keys, &self.cookies)
            .with_opened(&self.opened)
            .with_lifetime(self.session_duration)
    }
}

/// Rewrites the request target's path to its normalised form
/// ([`crate::proxy::path`]), keeping the query byte for byte. Every
/// decision, and the app, then see the same path.
pub fn normalize_path(uri: &mut http::Uri) -> Result<(), Error> {
    let normal = crate::proxy::path::normalize(uri.path()).map_err(|bad| {
        Error::bad_request(
            "bad_path",
            format!("This address cannot be served: {}.", bad.0),
        )
        .with_detail(format_args!(
            "refused path: {}",
            crate::error::loggable(uri.path())
        ))
    })?;
    if normal == uri.path() {
        return Ok(());
    }
    let target = match uri.query() {
        Some(query) => format!("{normal}?{query}"),
        None => normal.into_owned(),
    };
    let mut parts = std::mem::take(uri).into_parts();
    parts.path_and_query = Some(target.parse().map_err(Error::internal)?);
    *uri = http::Uri::from_parts(parts).map_err(Error::internal)?;
    Ok(())
}

/// The headers stagepass owns for requests whose identity headers follow
/// `headers`, stripped from every client request. The client's
/// `Authorization` reaches the upstream unless stagepass puts its own there
/// (an app's API keys, a token Backstage issued); every other header
/// stagepass may inject is always stripped.
fn owned_headers(
    sp: &crate::config::StagepassConfig,
    headers: &crate::config::HeadersConfig,
    backstage_token: bool,
) -> Vec<HeaderName> {
    let mut owned = vec![sp.assertion_header.clone()];
    if sp.backstage_token_header != header::AUTHORIZATION {
        owned.push(sp.backstage_token_header.clone());
    }
    let token_in_authorization = backstage_token && sp.backstage_token_in_authorization();
    if token_in_authorization || headers.pass_authorization_header {
        owned.push(header::AUTHORIZATION);
    }
    owned
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A redirect with `Cache-Control: no-store` (it depends on cookies).
fn redirect(location: &str, set_cookies: Vec<HeaderValue>) -> Result<Response<Body>, Error> {
    let location = HeaderValue::from_str(location).map_err(Error::internal)?;
    let mut response = Response::new(crate::body::empty());
    *response.status_mut() = StatusCode::FOUND;
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in set_cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
    Ok(response)
}

/// A page of stagepass's own, from the one template.
fn page_response(page: &crate::html::Page<'_>) -> Response<Body> {
    let mut response = Response::new(crate::body::full(page.render()));
    crate::html::set_page_headers(response.headers_mut());
    response
}

/// The request id the server gave this request, for pages to show.
fn request_id<B>(req: &Request<B>) -> Option<&str> {
    crate::proxy::request_id::of(req.headers())
}

fn json(
    status: StatusCode,
    value: &serde_json::Value,
    set_cookies: Vec<HeaderValue>,
) -> Response<Body> {
    let mut response = Response::new(crate::body::full(value.to_string()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for cookie in set_cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

fn client_error(status: StatusCode, code: &'static str, public: impl Into<String>) -> Error {
    Error::new(Source::Client, status, code, public)
}
