//! Forward auth: stagepass as the sign-in decision for a proxy that already
//! fronts the app (nginx `auth_request`, Caddy `forward_auth`, Traefik
//! `forwardAuth`), as oauth2-proxy's `/oauth2/auth` is.
//!
//! The proxy sends each request's head (its cookies) to `/.stagepass/auth`.
//! A live session gets 200 with the person in `X-Auth-Request-*` headers,
//! the Backstage token and the assertion, for the proxy to copy upstream,
//! and any refreshed session cookie for it to pass back to the browser.
//! Anything else gets 401 without `Location` (nginx turns any other status
//! into a 500) and with `X-Stagepass-Sign-In: <publicUrl>/.stagepass/start?rd=<url>`,
//! the URL the proxy sends the browser to.
//!
//! With `stagepass.routes`, the proxy must say which path was asked for
//! (`X-Forwarded-Uri`, as Caddy and Traefik send it): the path is
//! normalised and its route decides, as for a proxied request. Without
//! that header the answer is a 400, never a decision made blind.

use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};

use super::headers::PersonField;
use super::protect::Refused;
use super::signin::encode;
use super::{Gate, client_error, policy, request_id};
use crate::body::Body;
use crate::config::RouteBearer;
use crate::error::Error;
use crate::proxy::{Peer, hygiene};

/// Where to send the browser to sign in, on a 401 answer.
const SIGN_IN_HEADER: HeaderName = HeaderName::from_static("x-stagepass-sign-in");

impl Gate {
    /// `/.stagepass/auth`, any method: the answer depends on the request's
    /// cookies or bearer token and, with routes, the path the proxy names.
    pub(super) async fn forward_auth<B>(
        &self,
        req: &Request<B>,
        peer: Peer,
    ) -> Result<Response<Body>, Error> {
        // The answer carries tokens (the Backstage token, and the IdP's when
        // configured) for the proxy to copy upstream. A browser script on
        // the site must not be able to fetch them: only proxies answer.
        if !peer.trusted {
            return Err(client_error(
                StatusCode::FORBIDDEN,
                "forward_auth_untrusted",
                "Forward authentication answers only the proxies listed in stagepass.trustedProxies.",
            ));
        }
        let route = self.forwarded_route(req)?;
        let bearer = super::bearer::token(req.headers());
        let passthrough =
            bearer.is_some() && route.is_some_and(|r| r.bearer == RouteBearer::Passthrough);
        let public = route.is_some_and(|r| r.public);
        let name_visitor = public
            && route.is_some_and(|r| r.person.is_some())
            && self.jar().carries_session(req.headers());
        if (public && !name_visitor) || passthrough {
            // Let through with no identity, as the proxy path does.
            return Ok(no_store(Response::new(crate::body::empty())));
        }
        let outcome = if public {
            // Only to name a signed-in visitor; no bearer check.
            match self.admit(req.headers(), request_id(req), route).await {
                // A public route lets the visitor through whatever happened.
                Err(refused) => {
                    let mut response = Response::new(crate::body::empty());
                    for cookie in refused.into_cookies() {
                        response.headers_mut().append(header::SET_COOKIE, cookie);
                    }
                    return Ok(no_store(response));
                }
                admitted => admitted,
            }
        } else {
            (self.admit_session_or_bearer(req.headers(), request_id(req), route)).await
        };
        match outcome {
            Ok(mut admitted) => {
                let mut response = Response::new(crate::body::empty());
                let headers = response.headers_mut();
                for (name, value) in admitted.take_headers(PersonField::answer_name) {
                    headers.append(name, value);
                }
                for cookie in admitted.set_cookies {
                    headers.append(header::SET_COOKIE, cookie);
                }
                Ok(no_store(response))
            }
            Err(Refused::SignInRequired(clear)) => {
                // Only a trusted proxy may say which page the person was
                // after; the sign-in link then brings them back to it.
                let original = hygiene::forwarded_request_url(req.headers(), peer);
                let target = self.redirects.resolve(original.as_deref());
                let start = format!("/.stagepass/start?rd={}", encode(target.as_str()));
                let err = self.sign_in_error(&start, clear);
                // For the proxy to redirect to: nginx `error_page 401 =302
                // $sign_in`, Caddy `redir {rp.header.X-Stagepass-Sign-In}`.
                let sign_in = err
                    .sign_in_url
                    .as_deref()
                    .and_then(|url| HeaderValue::from_str(url).ok());
                Err(match sign_in {
                    Some(value) => err.with_header(SIGN_IN_HEADER, value),
                    None => err,
                })
            }
            Err(Refused::Failed(err)) => Err(err),
        }
    }

    /// The route of the path the proxy says was asked for; `None` when no
    /// route covers it. Refused when routes exist and the path is unknown.
    fn forwarded_route<B>(&self, req: &Request<B>) -> Result<Option<&policy::Route>, Error> {
        if self.route_table.is_empty() {
            return Ok(None);
        }
        let Some(uri) = req
            .headers()
            .get_all("x-forwarded-uri")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<http::Uri>().ok())
        else {
            return Err(client_error(
                StatusCode::BAD_REQUEST,
                "forward_auth_needs_uri",
                "Forward authentication needs X-Forwarded-Uri to apply stagepass.routes.",
            ));
        };
        let mut uri = uri;
        super::normalize_path(&mut uri)?;
        self.route_table.find(uri.path())
    }
}

fn no_store(mut response: Response<Body>) -> Response<Body> {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
