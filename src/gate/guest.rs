//! Backstage's guest provider: in development, a page lists the catalog's
//! users and signs you in as the one you pick, with no IdP at all.
//!
//! The pick is a POST carrying a one-time state from the login cookie, so a
//! third-party page cannot sign a browser in as someone else.

use base64::Engine;
use http::header::{self, HeaderMap};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;

use super::signin::query_param;
use super::{Gate, client_error, now, page_response};
use crate::body::Body;
use crate::error::Error;
use crate::html::Page;
use crate::html::escape;
use crate::oidc::PendingLogin;
use crate::session::Session;

impl Gate {
    /// The user list, each entry a form that posts to the callback.
    pub(super) async fn guest_page(
        &self,
        headers: &HeaderMap,
        return_to: &str,
        id: Option<&str>,
    ) -> Result<Response<Body>, Error> {
        let backstage = self
            .backstage
            .as_ref()
            .ok_or_else(|| Error::internal("guest sign-in without a catalog"))?;
        let users = default_namespace_users(backstage).await?;
        let state = random_state();
        // Only the state matters here: there is no IdP to send a nonce or verifier to.
        let pending = PendingLogin {
            state: state.clone(),
            nonce: String::new(),
            pkce_verifier: String::new(),
        };
        let cookie = self.remember_flow(headers, pending, return_to)?;
        let action = escape(self.routes.callback_path());
        let mut rows = String::new();
        for user in &users {
            let label = user.display_name.as_deref().unwrap_or(&user.name);
            let email = user.email.as_deref().map(escape).unwrap_or_default();
            rows.push_str(&format!(
                "<tr><td><form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"state\" value=\"{state}\">\
<input type=\"hidden\" name=\"user\" value=\"{name}\"><button type=\"submit\" aria-label=\"Sign in as {label}\">{label}</button></form></td>\
<td>{email}<br><code>{entity}</code></td></tr>",
                state = escape(&state),
                name = escape(&user.name),
                label = escape(label),
                entity = escape(&user.entity_ref),
            ));
        }
        let list = match rows.is_empty() {
            true => "<p>The catalog has no User entities in the default namespace.</p>".to_owned(),
            false => format!("<table><caption>Catalog users</caption>{rows}</table>"),
        };
        let body = format!(
            "<p>This site signs people in without an identity provider (<code>auth.providers.guest</code>, \
for development only): pick who you want to be.</p>{list}"
        );
        let mut response = page_response(&Page {
            site: &self.site,
            title: "Development sign-in",
            body: &body,
            actions: &[],
            request_id: id,
        });
        response.headers_mut().append(header::SET_COOKIE, cookie);
        Ok(response)
    }

    /// The POST from the user list.
    pub(super) async fn guest_callback(
        &self,
        req: Request<Incoming>,
    ) -> Result<Response<Body>, Error> {
        let (parts, incoming) = req.into_parts();
        if parts.method != http::Method::POST {
            return Err(client_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Pick a user on the sign-in page.",
            ));
        }
        let form = self.forms.read(&parts.headers, incoming).await?;
        let state = query_param(Some(&form), "state").unwrap_or_default();
        let (flow, login_cookie) = self.jar().take_login_flow(&parts.headers, &state, now());
        let Some(flow) = flow else {
            return Err(client_error(
                StatusCode::BAD_REQUEST,
                "sign_in_expired",
                "This sign-in page expired or was already used.",
            )
            .with_header(header::SET_COOKIE, login_cookie)
            .with_action("Sign in again", self.routes.start_path()));
        };
        let wanted = query_param(Some(&form), "user").unwrap_or_default();
        let backstage = self
            .backstage
            .as_ref()
            .ok_or_else(|| Error::internal("guest sign-in without a catalog"))?;
        let users = default_namespace_users(backstage).await?;
        let Some(user) = users.into_iter().find(|u| u.name == wanted) else {
            return Err(client_error(
                StatusCode::BAD_REQUEST,
                "unknown_user",
                "That user is not in the catalog.",
            )
            .with_header(header::SET_COOKIE, login_cookie));
        };
        let signed_in_at = now();
        let revocable = self.revocations.enabled();
        let session = Session {
            subject: user.name,
            email: user.email,
            name: user.display_name,
            picture: user.picture,
            preferred_username: None,
            groups: Vec::new(),
            expires_at: signed_in_at + self.session_duration.as_secs(),
            access_token_expires_at: None,
            refresh_token: None,
            id_token: None,
            issued_at: signed_in_at,
            claims: Default::default(),
            signed_in_at: revocable.then_some(signed_in_at),
            id: revocable.then(super::signin::new_session_id),
            idp_sid: None,
            access_token: None,
        };
        self.complete_sign_in(&parts.headers, session, login_cookie, &flow.return_to)
            .await
    }
}

fn random_state() -> String {
    let bytes: [u8; 16] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The users a guest may pick. Only the `default` namespace: the pick is
/// resolved as `user:default/<name>`, as Backstage's guest provider does, so a
/// same-named user elsewhere must never be offered.
async fn default_namespace_users(
    backstage: &super::backstage::Backstage,
) -> Result<Vec<crate::identity::CatalogUser>, Error> {
    let users = backstage.resolver().list_users().await?;
    Ok(users
        .into_iter()
        .filter(|u| u.entity_ref.starts_with("user:default/"))
        .collect())
}
