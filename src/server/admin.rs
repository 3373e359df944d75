//! The admin listener: liveness, readiness and metrics, exact paths only.

use http::{Method, Request, Response, StatusCode};

use super::App;
use super::respond::text;
use crate::body::Body;

pub fn handle<B>(app: &App, req: &Request<B>) -> Response<Body> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n",
        );
    }
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, "text/plain", "ok\n"),
        "/readyz" => match app.gate.readiness() {
            Ok(()) => match app.gate.degraded() {
                reasons if reasons.is_empty() => text(StatusCode::OK, "text/plain", "ready\n"),
                reasons => text(
                    StatusCode::OK,
                    "text/plain",
                    format!("ready, degraded: {}\n", reasons.join("; ")),
                ),
            },
            Err(reason) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                format!("not ready: {reason}\n"),
            ),
        },
        "/metrics" => text(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            app.metrics.render(),
        ),
        _ => text(StatusCode::NOT_FOUND, "text/plain", "not found\n"),
    }
}
