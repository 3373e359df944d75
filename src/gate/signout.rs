//! Sign-out and the session endpoint Backstage's frontend polls.

use http::header::{self, HeaderMap};
use http::{Method, Request, Response, StatusCode};
use serde_json::json;

use super::{Gate, SignIn, client_error, json, page_response, redirect, request_id};
use crate::body::Body;
use crate::error::Error;
use crate::html::escape;
use crate::html::{Action, Page};

impl Gate {
    /// `/api/auth/<id>/logout`.
    ///
    /// - `POST` with `X-Requested-With` (Backstage's contract; a cross-site
    ///   page cannot add that header without a CORS preflight stagepass never
    ///   grants) clears every stagepass cookie and answers JSON.
    /// - A browser sign-out (a `GET` navigation from this site, or the `POST`
    ///   of the confirmation form below) clears the cookies, then ends the IdP
    ///   session through its `end_session_endpoint` when it has one.
    /// - A `GET` from anywhere else (a link or image on another site) only
    ///   gets a page whose button posts the sign-out, so no other site can
    ///   sign people out of stagepass and their IdP.
    ///
    /// With a session store the session also ends on every replica (a copy
    /// of the cookie stops working), and `?everywhere=true` ends every
    /// session the person signed in to until now.
    pub(super) fn logout<B>(&self, req: &Request<B>) -> Result<Response<Body>, Error> {
        let headers = req.headers();
        let everywhere = req.uri().query().is_some_and(|q| {
            url::form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "everywhere" && v == "true")
        });
        match *req.method() {
            Method::POST if headers.contains_key("x-requested-with") => {
                self.revoke_current(headers, everywhere);
                Ok(json(
                    StatusCode::OK,
                    &json!({}),
                    self.jar().clear_all(headers),
                ))
            }
            Method::POST if self.posted_from_here(headers) => {
                self.revoke_current(headers, everywhere);
                self.browser_sign_out(headers)
            }
            Method::POST => Err(client_error(
                StatusCode::FORBIDDEN,
                "missing_x_requested_with",
                "Sign-out requests must come from this site or carry an X-Requested-With header.",
            )),
            Method::GET if navigated_from_here(headers) => {
                self.revoke_current(headers, everywhere);
                self.browser_sign_out(headers)
            }
            Method::GET => Ok(self.confirm_sign_out_page(request_id(req))),
            _ => Err(client_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Use POST (API) or GET (browser) to sign out.",
            )),
        }
    }

    /// Revokes the session the request carries, if it opens and is still
    /// live: a revoked (say, stolen and signed out) cookie must not keep
    /// ending its owner's new sessions with `everywhere`.
    fn revoke_current(&self, headers: &HeaderMap, everywhere: bool) {
        let session = self.jar().read_session(headers, super::now());
        if let Some(session) = session.filter(|s| !self.is_revoked(s)) {
            self.revoke_signed_out(&session, everywhere);
        }
    }

    fn browser_sign_out(&self, headers: &HeaderMap) -> Result<Response<Body>, Error> {
        let id_token = self
            .jar()
            .read_session(headers, super::now())
            .and_then(|s| s.id_token.clone());
        let home = self.redirects.root();
        let target = match &self.sign_in {
            SignIn::Oidc(oidc) => oidc.end_session_url(id_token.as_deref(), &home),
            SignIn::Guest => None,
        }
        .unwrap_or(home);
        redirect(target.as_str(), self.jar().clear_all(headers))
    }

    /// A form post is ours when the browser says so: `Sec-Fetch-Site:
    /// same-origin`, or an `Origin` equal to `publicUrl`'s.
    fn posted_from_here(&self, headers: &HeaderMap) -> bool {
        let origin = self.redirects.root().origin().ascii_serialization();
        fetch_site(headers) == Some("same-origin")
            || headers
                .get(header::ORIGIN)
                .is_some_and(|o| o.as_bytes() == origin.as_bytes())
    }

    fn confirm_sign_out_page(&self, id: Option<&str>) -> Response<Body> {
        let body = format!(
            "<p>A page on another site asked to sign you out of <code>{site}</code>. \
Sign out only if you meant to.</p>",
            site = escape(&self.redirects.root().origin().ascii_serialization()),
        );
        let logout = self.routes.logout_path();
        let home = self.redirects.root();
        page_response(&Page {
            site: &self.site,
            title: "Sign out?",
            body: &body,
            actions: &[
                Action::Post {
                    label: "Sign out",
                    action: &logout,
                    fields: &[],
                },
                Action::Link {
                    label: "Stay signed in",
                    href: home.as_str(),
                },
            ],
            request_id: id,
        })
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
        let live = match self.live_session(req.headers(), request_id(req)).await {
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

/// `Sec-Fetch-Site`, which every current browser sends and no page can forge.
fn fetch_site(headers: &HeaderMap) -> Option<&str> {
    headers.get("sec-fetch-site").and_then(|v| v.to_str().ok())
}

/// A `GET` the person started on this site (`same-origin`) or by typing the
/// address or using a bookmark (`none`). Without the header (old browsers,
/// scripts) stagepass cannot tell, so it asks.
fn navigated_from_here(headers: &HeaderMap) -> bool {
    matches!(fetch_site(headers), Some("same-origin" | "none"))
}
