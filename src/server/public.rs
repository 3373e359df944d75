//! The public listener's request handler: limits, the gate, the error
//! mapping, metrics and the access log.

use std::time::Instant;

use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode};

use super::App;
use super::respond;
use crate::body::Body;
use crate::error::{Error, Source};
use crate::metrics::RouteClass;
use crate::proxy::{ClientRequest, Peer, RequestId, request_id};
use tracing::Instrument;

pub async fn handle(app: &App, mut req: ClientRequest, peer: Peer) -> Response<Body> {
    let id = RequestId::for_request(req.headers(), peer);
    // Before anything reads the path (routes, metrics, "Try again" links):
    // one meaning per path. A refused path is answered below.
    let normalized = crate::gate::normalize_path(req.uri_mut());
    // The head as the client sent it, before stagepass puts its id on it.
    let checked = normalized
        .and_then(|()| check_header_size(&req, app.config.stagepass.max_request_header_bytes));
    id.set_on(req.headers_mut());
    // Every line logged while serving a request carries its id: the access
    // line and error lines name it; stagepass's own routes (sign-in,
    // callback, sign-out), which log more, run in a span that carries it.
    // Not a span per proxied request: that costs about 11 µs of CPU each
    // (measured with bench/load.sh), a sixth of the whole request.
    let auth_route = app.gate.is_auth_route(req.uri().path());
    let mut response = if auth_route {
        let span = tracing::info_span!("request", id = id.as_str());
        serve(app, req, peer, &id, checked, auth_route)
            .instrument(span)
            .await
    } else {
        serve(app, req, peer, &id, checked, auth_route).await
    };
    if !response.headers().contains_key(request_id::HEADER) {
        response
            .headers_mut()
            .insert(request_id::HEADER, id.header_value());
    }
    response
}

async fn serve(
    app: &App,
    req: ClientRequest,
    peer: Peer,
    id: &RequestId,
    checked: Result<(), Error>,
    auth_route: bool,
) -> Response<Body> {
    let started = Instant::now();
    let html = respond::wants_html(req.headers());
    let method = req.method().clone();
    // A shared reference into the request's own bytes, not a copy.
    let target = req.uri().path_and_query().cloned();
    // The path only is logged: the query may carry authorization codes or
    // tokens.
    let path = target.as_ref().map_or("", PathAndQuery::path);
    // "Try again" on a 5xx page reloads what the browser asked for; never
    // for stagepass's own routes (a callback's code is single-use).
    let retry = (method == http::Method::GET && !auth_route)
        .then(|| target.as_ref().map(PathAndQuery::as_str))
        .flatten();
    let result = match checked {
        Ok(()) => app.gate.handle(req, peer).await,
        Err(err) => Err(err),
    };
    let (route, response) = match result {
        Ok(response) if auth_route => (RouteClass::Auth, response),
        Ok(response) => (RouteClass::Proxy, response),
        Err(err) => (route_of(&err), {
            let page = respond::PageContext {
                id,
                site: &app.config.stagepass.site_name,
                retry,
            };
            respond::error_response(&err, html, &page)
        }),
    };
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    app.metrics.record_request(route, status, elapsed);
    // Text fields as `&str`, not `%` (Display): a Display value goes
    // through the formatting machinery, about 1,000 instructions a field.
    // In the text format they read quoted, as `id` always did.
    tracing::info!(
        target: crate::log_format::ACCESS_TARGET,
        method = method.as_str(),
        path,
        status,
        // Whole microseconds, so the line reads `ms=0.445`, not 0.44541600000000003.
        ms = elapsed.as_micros() as f64 / 1000.0,
        peer = peer.ip_text(),
        id = id.as_str(),
    );
    response
}

fn route_of(err: &Error) -> RouteClass {
    match err.source {
        Source::Upstream => RouteClass::Proxy,
        _ => RouteClass::Rejected,
    }
}

/// HTTP/1 parsing already refuses heads beyond its buffer (128 KiB); this
/// applies the configured limit exactly, to HTTP/1 and HTTP/2 alike, with a
/// reason. The request line counts, as it did when hyper's buffer was the
/// limit: a long address is held to the limit too.
fn check_header_size<B>(req: &Request<B>, limit: usize) -> Result<(), Error> {
    let uri = req.uri();
    let target = uri.scheme_str().map_or(0, |s| s.len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(1, |pq| pq.as_str().len());
    // `METHOD target HTTP/1.1\r\n`
    let request_line = req.method().as_str().len() + 1 + target + 11;
    let fields: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    let size = request_line + fields;
    if size <= limit {
        return Ok(());
    }
    Err(Error::new(
        Source::Client,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        "request_headers_too_large",
        format!("The request's address and headers are larger than the {limit} bytes this site accepts. Clearing this site's cookies usually helps."),
    )
    .with_detail(format_args!("{size} bytes of request head")))
}
