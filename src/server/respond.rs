//! The one place where an [`Error`] becomes an HTTP response: HTML for a
//! browser, JSON (Backstage's error shape) for an API client.

use http::header::{self, HeaderMap, HeaderValue};
use http::{Response, StatusCode};

use crate::body::{self, Body};
use crate::error::{Error, Source};
use crate::html::{self, escape};

/// Whether the client is a browser that wants a page rather than JSON.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"))
}

pub fn error_response(err: &Error, html: bool) -> Response<Body> {
    log(err);
    let (content_type, text) = if html {
        ("text/html; charset=utf-8", html_page(err))
    } else {
        ("application/json", json_body(err))
    };
    let mut response = Response::new(body::full(text));
    *response.status_mut() = err.status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
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

fn log(err: &Error) {
    let source = err.source.as_str();
    let status = err.status.as_u16();
    match err.source {
        Source::Client => {
            tracing::info!(source, status, code = err.code, detail = %err.detail, "request refused")
        }
        Source::Internal => {
            tracing::error!(source, status, code = err.code, detail = %err.detail, "request failed")
        }
        _ => {
            tracing::warn!(source, status, code = err.code, detail = %err.detail, "request failed")
        }
    }
}

fn json_body(err: &Error) -> String {
    serde_json::json!({
        "error": { "name": err.code, "message": err.public },
        "response": { "statusCode": err.status.as_u16() },
    })
    .to_string()
}

fn html_page(err: &Error) -> String {
    let title = err.status.canonical_reason().unwrap_or("Error");
    let action = match &err.action {
        Some((label, href)) => format!("<p><a href=\"{}\">{}</a></p>", escape(href), escape(label)),
        None => String::new(),
    };
    let body = format!(
        "<h1>{title}</h1><p>{message}</p>{action}\
<p><small>Error <code>{name}</code> (HTTP {code}) from stagepass.</small></p>",
        title = escape(title),
        message = escape(&err.public),
        name = escape(err.code),
        code = err.status.as_u16(),
    );
    html::page(&format!("{} {title}", err.status.as_u16()), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_and_json_has_backstage_shape() {
        let err = Error::bad_request("bad", "<script>x</script>");
        let page = html_page(&err);
        assert!(page.contains("&lt;script&gt;"));
        assert!(!page.contains("<script>"));
        let json: serde_json::Value = serde_json::from_str(&json_body(&err)).unwrap();
        assert_eq!(json["error"]["name"], "bad");
        assert_eq!(json["response"]["statusCode"], 400);
    }
}
