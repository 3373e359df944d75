//! `upstream: builtin:whoami`: stagepass's own stand-in for an app. It shows
//! the signed-in person and exactly the identity headers an app behind
//! stagepass would receive (after hygiene and injection), with tokens shown
//! as their decoded claims, never raw. A browser gets a page with a sign-out
//! button; an API client gets the same as JSON.

use base64::Engine;
use http::header::{self, HeaderMap, HeaderName};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{Map, Value, json};

use super::protect::Admitted;
use super::{Gate, json, page_response, request_id};
use crate::body::Body;
use crate::error::Error;
use crate::html::{Action, Page, escape};
use crate::proxy::{Peer, request_id as rid};

/// Forwarding headers shown next to the identity ones.
const CONTEXT: [&str; 3] = ["x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"];

impl Gate {
    pub(super) fn whoami(
        &self,
        req: Request<Incoming>,
        peer: Peer,
        mut admitted: Admitted,
    ) -> Result<Response<Body>, Error> {
        let browser = crate::html::wants_html(req.headers());
        let id = request_id(&req).map(str::to_owned);
        let inject = admitted.upstream();
        let identity: Vec<HeaderName> = inject
            .headers
            .iter()
            .map(|(name, _)| name.clone())
            .collect();
        let (mut parts, _body) = req.into_parts();
        self.forwarder
            .prepare_head(&mut parts, peer, &self.owned_headers, inject)?;
        let shown = shown_headers(&parts.headers, &identity);
        let mut response = match browser {
            true => page_response(&Page {
                site: &self.site,
                title: "Signed in",
                body: &page_body(&shown),
                actions: &[Action::Post {
                    label: "Sign out",
                    action: &self.routes.logout_path(),
                    fields: &[],
                }],
                request_id: id.as_deref(),
            }),
            false => json(
                StatusCode::OK,
                &json!({ "headers": Value::Object(shown.into_iter().collect()) }),
                Vec::new(),
            ),
        };
        for cookie in admitted.set_cookies {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        Ok(response)
    }
}

/// Each identity, forwarding and request-id header the app would get, in
/// that order; a JWT as `{"jwt": claims}`, an opaque token by its length.
fn shown_headers(headers: &HeaderMap, identity: &[HeaderName]) -> Vec<(String, Value)> {
    let context = CONTEXT.iter().map(|n| HeaderName::from_static(n));
    identity
        .iter()
        .cloned()
        .chain(context)
        .chain([rid::HEADER])
        .filter_map(|name| {
            let value = headers.get(&name)?.to_str().ok()?;
            Some((name.as_str().to_owned(), describe(name.as_str(), value)))
        })
        .collect()
}

fn describe(name: &str, value: &str) -> Value {
    let token = value.strip_prefix("Bearer ").unwrap_or(value);
    if let Some(claims) = jwt_claims(token) {
        return json!({ "jwt": claims });
    }
    if name == "authorization" || name.contains("token") {
        return json!({ "opaque": format!("{} characters, not shown", token.len()) });
    }
    Value::String(value.to_owned())
}

fn jwt_claims(token: &str) -> Option<Map<String, Value>> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(claims) => Some(claims),
        _ => None,
    }
}

fn page_body(shown: &[(String, Value)]) -> String {
    let who = shown
        .iter()
        .find(|(name, _)| name == "authorization")
        .and_then(|(_, v)| v["jwt"]["sub"].as_str().map(str::to_owned))
        .or_else(|| {
            shown
                .iter()
                .find(|(name, _)| name == "x-forwarded-user")
                .and_then(|(_, v)| v.as_str().map(str::to_owned))
        })
        .unwrap_or_else(|| "someone".into());
    let rows: String = shown
        .iter()
        .map(|(name, value)| {
            let shown = match value {
                Value::String(text) => escape(text),
                other => format!(
                    "<pre>{}</pre>",
                    escape(&serde_json::to_string_pretty(other).unwrap_or_default())
                ),
            };
            format!(
                "<tr><th scope=\"row\"><code>{}</code></th><td>{shown}</td></tr>",
                escape(name)
            )
        })
        .collect();
    format!(
        "<p>You are signed in as <strong>{who}</strong>.</p>\
<p>This is stagepass's built-in page (<code>upstream: builtin:whoami</code>): below is what an app \
behind stagepass receives with each of your requests. Tokens are shown as their claims; the \
tokens themselves never are.</p>\
<table><caption>Headers the app receives</caption><tr><th scope=\"col\">header</th><th scope=\"col\">value</th></tr>{rows}</table>",
        who = escape(&who),
    )
}
