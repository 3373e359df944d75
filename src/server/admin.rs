//! The admin listener: liveness, readiness and metrics, exact paths only,
//! and `POST /sessions/revoke` for incident response (the listener stays
//! on loopback by default).

use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::App;
use super::respond::text;
use crate::body::Body;

/// A revoke request is `{"sub": …}` or `{"sid": …}`.
const MAX_REVOKE_BYTES: usize = 4096;

pub async fn handle(app: &App, req: Request<Incoming>, peer: std::net::IpAddr) -> Response<Body> {
    if req.method() == Method::POST && req.uri().path() == "/sessions/revoke" {
        return revoke(app, req, peer).await;
    }
    read_only(app, &req)
}

/// `POST /sessions/revoke`: a person who must be locked out now. Only from
/// the pod itself (`kubectl port-forward` and `exec` arrive on loopback;
/// the admin port is open to the cluster for the kubelet's probes), and
/// only as JSON, which no other web page can send without a preflight.
async fn revoke(app: &App, req: Request<Incoming>, peer: std::net::IpAddr) -> Response<Body> {
    if !peer.is_loopback() {
        return refused(
            StatusCode::FORBIDDEN,
            "not_local",
            "revoke only from the same host (kubectl port-forward, exec)",
        );
    }
    let json = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return refused(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "json_only",
            "send Content-Type: application/json",
        );
    }
    let body = match Limited::new(req.into_body(), MAX_REVOKE_BYTES)
        .collect()
        .await
    {
        Ok(body) => body.to_bytes(),
        Err(_) => {
            return refused(
                StatusCode::BAD_REQUEST,
                "too_large",
                "the body is too large",
            );
        }
    };
    let Ok(request) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return refused(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            r#"send JSON: {"sub": "…"} or {"sid": "…"}"#,
        );
    };
    match app.gate.revoke_by_admin(&request) {
        Ok(said) => json_answer(StatusCode::OK, &serde_json::json!({ "revoked": said })),
        Err(reason) => refused(StatusCode::BAD_REQUEST, "invalid_request", &reason),
    }
}

/// The endpoint takes JSON, so it answers JSON, in the shape of the public
/// port's errors.
fn refused(status: StatusCode, name: &str, message: &str) -> Response<Body> {
    let error = serde_json::json!({
        "error": { "name": name, "message": message },
        "response": { "statusCode": status.as_u16() },
    });
    json_answer(status, &error)
}

fn json_answer(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    text(status, "application/json", format!("{value}\n"))
}

fn read_only<B>(app: &App, req: &Request<B>) -> Response<Body> {
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
