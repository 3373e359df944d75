//! Sign-in: the start endpoint and the callback from the IdP.

use http::header::HeaderValue;
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;

use std::sync::Arc;

use super::{Gate, SignIn, client_error, now, redirect, request_id};
use crate::body::Body;
use crate::error::{Error, Source};
use crate::oidc::{PendingLogin, SignedIn};
use crate::session::{LoginFlow, Session};

impl Gate {
    /// `GET /api/auth/<id>/start?redirectUrl=...`, or `/.stagepass/start?rd=...`
    /// (oauth2-proxy's name, which forward-auth configurations use).
    pub(super) async fn start<B>(&self, req: &Request<B>) -> Result<Response<Body>, Error> {
        let query = req.uri().query();
        let wanted = query_param(query, "redirectUrl").or_else(|| query_param(query, "rd"));
        let return_to = self.redirects.resolve(wanted.as_deref());
        // "Sign in as someone else": the IdP shows its account picker (or
        // its login form) even while its session is alive.
        let prompt = match query_param(query, "prompt").as_deref() {
            Some("select_account") => Some("select_account"),
            Some("login") => Some("login"),
            _ => None,
        };
        match &self.sign_in {
            SignIn::Guest => {
                self.guest_page(req.headers(), return_to.as_str(), request_id(req))
                    .await
            }
            SignIn::Oidc(_) => {
                let clear = Vec::new();
                self.begin_sign_in(req.headers(), return_to.as_str(), clear, prompt)
            }
        }
    }

    /// Redirects to the IdP (or the guest page), remembering the flow in the
    /// login cookie.
    pub(super) fn begin_sign_in(
        &self,
        headers: &http::HeaderMap,
        return_to: &str,
        mut set_cookies: Vec<HeaderValue>,
        prompt: Option<&str>,
    ) -> Result<Response<Body>, Error> {
        let oidc = match &self.sign_in {
            SignIn::Oidc(oidc) => oidc,
            SignIn::Guest => {
                let start = format!(
                    "{}?redirectUrl={}",
                    self.routes.start_path(),
                    encode(return_to)
                );
                return redirect(&start, set_cookies);
            }
        };
        let (authorize_url, pending) = oidc.begin(prompt)?;
        let cookie = self.remember_flow(headers, pending, return_to)?;
        set_cookies.push(cookie);
        redirect(authorize_url.as_str(), set_cookies)
    }

    /// The `Set-Cookie` value adding a pending sign-in to the login cookie.
    pub(super) fn remember_flow(
        &self,
        headers: &http::HeaderMap,
        pending: PendingLogin,
        return_to: &str,
    ) -> Result<HeaderValue, Error> {
        let flow = LoginFlow {
            state: pending.state,
            nonce: pending.nonce,
            pkce_verifier: pending.pkce_verifier,
            return_to: return_to.to_owned(),
            created_at: now(),
        };
        self.jar()
            .push_login_flow(headers, flow, now())
            .map_err(|e| {
                client_error(
                    StatusCode::BAD_REQUEST,
                    "return_url_too_long",
                    "The page address to return to is too long.",
                )
                .with_detail(e)
            })
    }

    /// The IdP's callback: GET with a query, or POST for `response_mode=form_post`.
    pub(super) async fn callback(&self, req: Request<Incoming>) -> Result<Response<Body>, Error> {
        let oidc = match &self.sign_in {
            SignIn::Oidc(oidc) => Arc::clone(oidc),
            SignIn::Guest => return self.guest_callback(req).await,
        };
        let (parts, body) = req.into_parts();
        let params = match parts.method {
            Method::GET => parts.uri.query().unwrap_or_default().to_owned(),
            Method::POST => self.forms.read(&parts.headers, body).await?,
            _ => {
                return Err(client_error(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                    "The sign-in callback accepts GET and POST only.",
                ));
            }
        };
        let param = |name| query_param(Some(&params), name);
        let state = param("state").unwrap_or_default();
        let (flow, login_cookie) = self.jar().take_login_flow(&parts.headers, &state, now());
        let retry = self.retry_link(flow.as_ref());
        if let Some(error) = param("error") {
            return Err(idp_refused(&error, param("error_description"))
                .with_header(http::header::SET_COOKIE, login_cookie)
                .with_action("Try signing in again", retry));
        }
        let (Some(flow), Some(code)) = (flow, param("code")) else {
            return Err(client_error(
                StatusCode::BAD_REQUEST,
                "sign_in_expired",
                "This sign-in could not be matched to one you started here: it expired, was already used, or came from elsewhere.",
            )
            .with_header(http::header::SET_COOKIE, login_cookie)
            .with_action("Sign in again", retry));
        };
        let pending = PendingLogin {
            state: flow.state.clone(),
            nonce: flow.nonce.clone(),
            pkce_verifier: flow.pkce_verifier.clone(),
        };
        let signed_in = oidc.finish(&code, &pending).await.map_err(|e| {
            e.with_header(http::header::SET_COOKIE, login_cookie.clone())
                .with_action("Try signing in again", retry.clone())
        })?;
        let session = self.new_session(signed_in)?;
        self.complete_sign_in(&parts.headers, session, login_cookie, &flow.return_to)
            .await
    }

    /// Checks that the person exists in the catalog (when there is one), then
    /// stores the session and sends the browser back where it started. A
    /// person the catalog does not know gets a page saying so, and no
    /// session: signing in again cannot loop.
    pub(super) async fn complete_sign_in(
        &self,
        headers: &http::HeaderMap,
        session: Session,
        login_cookie: HeaderValue,
        return_to: &str,
    ) -> Result<Response<Body>, Error> {
        if let Some(backstage) = &self.backstage {
            let identity = backstage.identify(&session).await.map_err(|e| {
                self.no_access(e, headers)
                    .with_header(http::header::SET_COOKIE, login_cookie.clone())
            })?;
            tracing::info!(subject = %session.subject, user = %identity.user_entity_ref, "signed in");
        } else {
            tracing::info!(subject = %session.subject, "signed in");
        }
        let mut cookies = self.session_cookies(headers, &session)?;
        self.metrics.record_session_started();
        cookies.push(login_cookie);
        let target = self.redirects.resolve(Some(return_to));
        redirect(target.as_str(), cookies)
    }

    /// A 403 (the catalog does not know the person) is a dead end unless it
    /// offers a way out: the session goes, and the page offers signing in as
    /// someone else (the IdP shows its account picker even while its own
    /// session lives) or signing out of the IdP too.
    pub(super) fn no_access(&self, err: Error, headers: &http::HeaderMap) -> Error {
        if err.status != StatusCode::FORBIDDEN {
            return err;
        }
        let mut err = err;
        for cookie in self.jar().clear_session(headers) {
            err = err.with_header(http::header::SET_COOKIE, cookie);
        }
        let other = format!("{}?prompt=select_account", self.routes.start_path());
        err.with_action("Sign in as someone else", other)
            .with_action("Sign out", self.routes.logout_path())
    }

    fn new_session(&self, signed_in: SignedIn) -> Result<Session, Error> {
        let subject = signed_in
            .subject
            .ok_or_else(|| Error::internal("ID token without sub passed verification"))?;
        let now = now();
        Ok(Session {
            subject,
            email: signed_in.email,
            name: signed_in.name,
            picture: signed_in.picture,
            preferred_username: signed_in.preferred_username,
            groups: signed_in.groups,
            expires_at: now + self.session_duration.as_secs(),
            access_token_expires_at: signed_in.access_expires_at,
            refresh_token: signed_in.refresh_token,
            id_token: signed_in.id_token,
            issued_at: now,
            access_token: self.keep_access_token.then_some(signed_in.access_token),
            claims: Session::policy_claims(&signed_in.claims, &self.policy_claims),
            // Only a session that can be revoked needs to be named and dated.
            signed_in_at: self.revocations.enabled().then_some(now),
            id: self.revocations.enabled().then(new_session_id),
            idp_sid: (signed_in.claims.get("sid"))
                .and_then(|sid| sid.as_str())
                .filter(|_| self.revocations.enabled())
                .map(str::to_owned),
        })
    }

    /// `Set-Cookie` values for `session`. When it does not fit, the ID token
    /// (only needed as a sign-out hint) is dropped before giving up.
    pub(super) fn session_cookies(
        &self,
        headers: &http::HeaderMap,
        session: &Session,
    ) -> Result<Vec<HeaderValue>, Error> {
        let fits = |session: &Session| {
            let cookies = self.jar().write_session(headers, session, now()).ok()?;
            // The browser sends these back with every request: they must leave
            // room under maxRequestHeaderBytes, or every request gets 431.
            let total: usize = cookies.iter().map(|c| c.len()).sum();
            (total <= self.max_session_bytes).then_some(cookies)
        };
        if let Some(cookies) = fits(session) {
            return Ok(cookies);
        }
        let slim = Session {
            id_token: None,
            ..session.clone()
        };
        fits(&slim).ok_or_else(|| {
            Error::new(
                Source::Client,
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "session_too_large",
                "Your sign-in carries more data (for example group memberships) than fits in this site's cookies. Ask an administrator to raise stagepass.maxRequestHeaderBytes.",
            )
            .with_detail(format_args!("session for {} exceeds {} bytes", session.subject, self.max_session_bytes))
        })
    }

    fn retry_link(&self, flow: Option<&LoginFlow>) -> String {
        let start = self.routes.start_path();
        match flow {
            Some(flow) => format!(
                "{start}?redirectUrl={}",
                url::form_urlencoded::byte_serialize(flow.return_to.as_bytes()).collect::<String>()
            ),
            None => start,
        }
    }
}

fn idp_refused(error: &str, description: Option<String>) -> Error {
    // The IdP's error code is a short token; show it (escaped by the page).
    let code: String = error
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
        .take(64)
        .collect();
    client_error(
        StatusCode::UNAUTHORIZED,
        "sign_in_denied",
        format!("The identity provider did not sign you in ({code})."),
    )
    .with_detail(description.unwrap_or_default())
}

/// First value of `name` in a query or form body.
pub(super) fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// `text` as one `application/x-www-form-urlencoded` value.
pub(super) fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// 128 random bits, base64url: what sign-out and the admin port revoke.
pub(super) fn new_session_id() -> String {
    use base64::Engine;
    let bytes: [u8; 16] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
