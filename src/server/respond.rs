//! The one place where an [`Error`] becomes an HTTP response: HTML for a
//! browser, JSON (Backstage's error shape) for an API client.

use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use crate::body::{self, Body};
use crate::error::{Error, Source};
use crate::html::{self, Action, Page, escape};
use crate::proxy::RequestId;

pub use crate::html::wants_html;

/// What an error page needs besides the error.
pub struct PageContext<'a> {
    pub id: &'a RequestId,
    pub site: &'a str,
    /// The URL to reload for "Try again", when reloading makes sense.
    pub retry: Option<&'a str>,
}

pub fn error_response(err: &Error, html: bool, page: &PageContext<'_>) -> Response<Body> {
    log(err, page.id.as_str());
    let text = if html {
        html_page(err, page)
    } else {
        json_body(err)
    };
    let mut response = Response::new(body::full(text));
    *response.status_mut() = err.status;
    let headers = response.headers_mut();
    if html {
        html::set_page_headers(headers);
    } else {
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    for (name, value) in &err.headers {
        headers.append(name.clone(), value.clone());
    }
    response
}

/// A plain response for stagepass's own small answers (admin port, JWKS).
pub fn text(
    status: StatusCode,
    content_type: &'static str,
    text: impl Into<bytes::Bytes>,
) -> Response<Body> {
    let mut response = Response::new(body::full(text));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn log(err: &Error, id: &str) {
    let source = err.source.as_str();
    let status = err.status.as_u16();
    match err.source {
        // Not signed in yet is the normal first visit (and every favicon
        // fetched before sign-in): not news at the default level.
        Source::Client if err.status == StatusCode::UNAUTHORIZED => {
            tracing::debug!(id, source, status, code = err.code, "sign-in required")
        }
        Source::Client => {
            tracing::info!(id, source, status, code = err.code, detail = %err.detail, "request refused")
        }
        Source::Internal => {
            tracing::error!(id, source, status, code = err.code, detail = %err.detail, "request failed")
        }
        _ => {
            tracing::warn!(id, source, status, code = err.code, detail = %err.detail, "request failed")
        }
    }
}

fn json_body(err: &Error) -> String {
    let mut body = serde_json::json!({
        "error": { "name": err.code, "message": err.public },
        "response": { "statusCode": err.status.as_u16() },
    });
    if let Some(url) = &err.sign_in_url {
        body["signInUrl"] = url.as_str().into();
    }
    body.to_string()
}

fn html_page(err: &Error, context: &PageContext<'_>) -> String {
    let title = title(err);
    let mut actions: Vec<Action<'_>> = err
        .actions
        .iter()
        .map(|step| match step.post {
            true => Action::Post {
                label: &step.label,
                action: &step.href,
                fields: &[],
            },
            false => Action::Link {
                label: &step.label,
                href: &step.href,
            },
        })
        .collect();
    if let Some(href) = context
        .retry
        .filter(|_| actions.is_empty() && err.status.is_server_error())
    {
        actions.push(Action::Link {
            label: "Try again",
            href,
        });
    }
    let body = format!(
        "<p>{message}</p><p><small>HTTP {code} · <code>{name}</code></small></p>",
        message = escape(&err.public),
        name = escape(err.code),
        code = err.status.as_u16(),
    );
    Page {
        site: context.site,
        title,
        body: &body,
        actions: &actions,
        request_id: Some(context.id.as_str()),
    }
    .render()
}

/// A heading a person understands, by whose fault it is.
fn title(err: &Error) -> &'static str {
    match (err.source, err.status.as_u16()) {
        (_, 401) => "Sign-in required",
        (_, 403) => "No access",
        (_, 404) => "Not found",
        (Source::Client, 431) => "Too much data in this request",
        (Source::Client, _) => "This request cannot be served",
        (Source::Upstream, 504) => "The application is not answering",
        (Source::Upstream, _) => "The application is unavailable",
        (Source::Idp, _) => "Sign-in is unavailable",
        (Source::Catalog, _) => "The user directory is unavailable",
        (Source::Internal, _) => "Something went wrong",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_and_json_has_backstage_shape() {
        let err = Error::bad_request("bad", "<script>x</script>");
        let id = RequestId::for_request(
            &http::HeaderMap::new(),
            crate::proxy::Peer::new([127, 0, 0, 1].into(), false, false),
        );
        let context = PageContext {
            id: &id,
            site: "stagepass",
            retry: None,
        };
        let page = html_page(&err, &context);
        assert!(page.contains("&lt;script&gt;"));
        assert!(!page.contains("<script>"));
        let json: serde_json::Value = serde_json::from_str(&json_body(&err)).unwrap();
        assert_eq!(json["error"]["name"], "bad");
        assert_eq!(json["response"]["statusCode"], 400);
    }
}
