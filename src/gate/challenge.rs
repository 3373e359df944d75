//! What a request without a usable session gets: a browser navigation goes
//! to sign in (after moving to the public host name), anything else a 401
//! that says where to sign in.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use super::routes::is_navigation;
use super::{Gate, client_error, redirect, request_id};
use crate::body::Body;
use crate::error::Error;
use crate::proxy::Peer;

impl Gate {
    /// No usable session: a browser navigation goes to sign in and comes back
    /// here; anything else gets 401 with a way to sign in.
    pub(super) fn sign_in_required(
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
    pub(super) fn stale_cookies(&self, headers: &HeaderMap) -> Vec<HeaderValue> {
        if self.jar().carries_session(headers) {
            self.jar().clear_session(headers)
        } else {
            Vec::new()
        }
    }
}
