//! Sign-out and the session endpoint Backstage's frontend polls.

use http::{Method, Request, Response, StatusCode};
use serde_json::json;

use super::{Gate, SignIn, client_error, json, redirect};
use crate::body::Body;
use crate::error::Error;

impl Gate {
    /// `POST /api/auth/<id>/logout` with `X-Requested-With` (Backstage's
    /// contract, which also stops cross-site form posts) clears every
    /// stagepass cookie. A browser `GET` also ends the IdP session through its
    /// `end_session_endpoint` when it has one.
    pub(super) fn logout<B>(&self, req: &Request<B>) -> Result<Response<Body>, Error> {
        let clear = self.jar().clear_all(req.headers());
        match *req.method() {
            Method::POST if req.headers().contains_key("x-requested-with") => {
                Ok(json(StatusCode::OK, &json!({}), clear))
            }
            Method::POST => Err(client_error(
                StatusCode::FORBIDDEN,
                "missing_x_requested_with",
                "Sign-out requests must carry an X-Requested-With header.",
            )),
            Method::GET => {
                let id_token = self
                    .jar()
                    .read_session(req.headers(), super::now())
                    .and_then(|s| s.id_token);
                let home = self.redirects.root();
                let target = match &self.sign_in {
                    SignIn::Oidc(oidc) => oidc.end_session_url(id_token.as_deref(), &home),
                    SignIn::Guest => None,
                }
                .unwrap_or(home);
                redirect(target.as_str(), clear)
            }
            _ => Err(client_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Use POST (API) or GET (browser) to sign out.",
            )),
        }
    }

    /// `GET /api/auth/<id>/refresh`: the signed-in profile, or 401.
    pub(super) async fn refresh_endpoint<B>(
        &self,
        req: &Request<B>,
    ) -> Result<Response<Body>, Error> {
        // As in Backstage: the header a cross-site form or image cannot send.
        if !req.headers().contains_key("x-requested-with") {
            return Err(client_error(
                StatusCode::UNAUTHORIZED,
                "missing_x_requested_with",
                "Session requests must carry an X-Requested-With header.",
            ));
        }
        let live = match self.live_session(req.headers()).await {
            Ok(live) => live,
            Err(clear) => {
                let mut err = client_error(
                    StatusCode::UNAUTHORIZED,
                    "unauthenticated",
                    "Sign-in required.",
                );
                for cookie in clear {
                    err = err.with_header(http::header::SET_COOKIE, cookie);
                }
                return Err(err);
            }
        };
        let body = self.refresh_body(&live.session).await?;
        Ok(json(StatusCode::OK, &body, live.set_cookies))
    }
}
