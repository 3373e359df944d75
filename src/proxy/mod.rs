//! Forwarding to the upstream: streaming, hop-by-hop and identity-header
//! hygiene, upgrades, and upstream failures turned into tagged errors.
//!
//! The proxy never buffers a body: request and response bodies are streamed
//! frame by frame, so memory stays flat whatever their size.

pub mod hygiene;
pub mod path;
mod peer;
mod pool;
#[cfg(test)]
mod properties;
pub mod request_id;
mod tls_health;
mod upgrade;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::{self, HeaderName, HeaderValue};
use http::uri::PathAndQuery;
use http::{Request, Response, StatusCode, Uri, Version, request};
use hyper::body::Incoming;
use url::Url;

use crate::body::{self, Body};
use crate::config::{StagepassConfig, StripHeaders};
use crate::error::{Error, Source};
use crate::http_client;
use crate::metrics::Metrics;
pub use peer::Peer;
pub use request_id::RequestId;
pub use upgrade::SessionEnded;

/// A client's request on its way through the request path. Boxed: an async
/// fn keeps its arguments for its whole life, so a request passed by value
/// through the path's seven async layers took its 264 bytes at least twice
/// in each, and was copied at every step (`bench/load.sh`).
pub type ClientRequest = Box<Request<Incoming>>;

/// Forwards requests to the one configured upstream.
pub struct Forwarder {
    /// `None` for a built-in upstream, which is never dialled.
    pool: Option<pool::Pool>,
    upstream: Upstream,
    response_timeout: Duration,
    cookie_prefix: String,
    /// `stagepass.stripHeaders`, stripped with the identity headers.
    strip_headers: StripHeaders,
    /// `X-Forwarded-Host` for the upstream: `publicUrl`'s host and port.
    public_host: HeaderValue,
    metrics: Arc<Metrics>,
    tls_health: tls_health::TlsHealth,
}

/// Headers stagepass is about to inject for this request. They are removed
/// from the client's request first, whatever the client sent.
#[derive(Default, Clone)]
pub struct Injected {
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// When the session behind the request ends: a WebSocket tunnel it
    /// opens is closed then.
    pub session_ends: Option<SystemTime>,
    /// Whether that session has been ended elsewhere (signed out, revoked):
    /// asked every second while a tunnel it opened is open.
    pub session_ended: Option<upgrade::SessionEnded>,
}

/// Names only: the values are tokens.
impl std::fmt::Debug for Injected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&HeaderName> = self.headers.iter().map(|(name, _)| name).collect();
        f.debug_struct("Injected")
            .field("headers", &names)
            .field("session_ends", &self.session_ends)
            .field("session_ended", &self.session_ended.is_some())
            .finish()
    }
}

struct Upstream {
    /// `scheme://authority/`, what the pool dials; `None` for a built-in
    /// upstream (`builtin:whoami`), which has no address.
    address: Option<Uri>,
    /// The upstream's `Host`: its own name, never the client's.
    host: Option<HeaderValue>,
    /// `scheme://authority`, for messages.
    origin: String,
    /// Path prefix of the upstream URL without its trailing slash.
    prefix: String,
}

impl Forwarder {
    pub fn new(config: &StagepassConfig, metrics: Arc<Metrics>) -> Result<Self, String> {
        Self::to(config, &config.upstream, metrics)
    }

    /// A forwarder to `upstream` (a route's own), with the same settings.
    /// Fails when `upstreamTls`'s client certificate cannot be used.
    pub fn to(
        config: &StagepassConfig,
        upstream: &Url,
        metrics: Arc<Metrics>,
    ) -> Result<Self, String> {
        let connector = http_client::upstream_connector(&config.outbound, config.timeouts.connect)?;
        let upstream = Upstream::from_url(upstream);
        let pool = upstream
            .address
            .clone()
            .map(|target| pool::Pool::new(connector, target, config.timeouts.idle));
        Ok(Forwarder {
            pool,
            upstream,
            response_timeout: config.timeouts.response_headers,
            cookie_prefix: config.cookie_name.clone(),
            strip_headers: config.strip_headers.clone(),
            public_host: public_host(&config.public_url),
            metrics,
            tls_health: tls_health::TlsHealth::default(),
        })
    }

    /// `Err` while the upstream's certificate does not verify (or it wants
    /// a client certificate stagepass does not have), with why: reported by
    /// `/readyz` as degraded.
    pub fn readiness(&self) -> Result<(), String> {
        self.tls_health.readiness()
    }

    /// Streams `req` to the upstream and its response back.
    /// `strip` names headers that stagepass owns beyond the fixed identity set.
    pub async fn forward(
        &self,
        mut req: ClientRequest,
        peer: Peer,
        strip: &[HeaderName],
        inject: Injected,
    ) -> Result<Response<Body>, Error> {
        let protocol = upgrade::requested_protocol(req.method(), req.version(), req.headers());
        let client_upgrade = protocol.as_ref().map(|_| hyper::upgrade::on(&mut *req));
        let (mut parts, incoming) = (*req).into_parts();
        let (session_ends, session_ended) = (inject.session_ends, inject.session_ended.clone());
        self.prepare_head(&mut parts, peer, strip, inject)?;
        let outbound = Request::from_parts(parts, body::incoming(incoming));

        let mut response = self.send(outbound).await?;
        if response.status() == StatusCode::SWITCHING_PROTOCOLS
            && let Some(client_upgrade) = client_upgrade
        {
            let upstream_upgrade = hyper::upgrade::on(&mut response);
            upgrade::splice(
                client_upgrade,
                upstream_upgrade,
                session_ends,
                session_ended,
            );
            return Ok(switching_protocols(response, protocol));
        }
        let (mut parts, incoming) = response.into_parts();
        hygiene::remove_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(parts, body::incoming(incoming)))
    }

    /// Turns the client's request head into the upstream's: hop-by-hop and
    /// identity-header hygiene, forwarding headers, the injected headers and
    /// the upstream URI. No I/O, so it can be measured on its own.
    pub fn prepare_head(
        &self,
        parts: &mut request::Parts,
        peer: Peer,
        strip: &[HeaderName],
        inject: Injected,
    ) -> Result<(), Error> {
        let protocol = upgrade::requested_protocol(&parts.method, parts.version, &parts.headers);
        let headers = &mut parts.headers;
        // Put on the head by the server (`RequestId::set_on`) and kept
        // through hygiene: a client naming it in `Connection` must not take
        // the id away from the app's logs.
        let id = headers.get(request_id::HEADER).cloned();
        hygiene::remove_hop_by_hop(headers);
        // Whatever stagepass injects is stripped first, in every spelling,
        // even if a caller forgot to list it in `strip`.
        let injected = inject.headers.iter().map(|(name, _)| name);
        // The request id's `_` spelling, which a CGI-style app reads as the
        // same variable, goes too.
        let own = Some(&request_id::HEADER);
        let extra = hygiene::Extra {
            names: strip.iter().chain(injected),
            configured: &self.strip_headers,
        };
        hygiene::strip_identity_headers(headers, extra, own);
        hygiene::strip_own_cookies(headers, &self.cookie_prefix);
        // The public host comes from config, never from the client's Host.
        hygiene::set_forwarding_headers(headers, peer, Some(self.public_host.clone()));
        // The upstream sees its own name.
        match &self.upstream.host {
            Some(host) => headers.insert(header::HOST, host.clone()),
            None => headers.remove(header::HOST),
        };
        // One id per request, the same in stagepass's logs and the app's.
        if let Some(id) = id {
            headers.insert(request_id::HEADER, id);
        }
        for (name, value) in inject.headers {
            headers.insert(name, value);
        }
        if let Some(protocol) = protocol {
            upgrade::restore_headers(headers, protocol);
        }
        parts.uri = self.upstream.uri_for(&parts.uri)?;
        parts.version = Version::HTTP_11;
        Ok(())
    }

    async fn send(&self, req: Request<Body>) -> Result<Response<Incoming>, Error> {
        let Some(pool) = &self.pool else {
            return Err(Error::internal(
                "a built-in upstream has no address to forward to",
            ));
        };
        match tokio::time::timeout(self.response_timeout, pool.send(req)).await {
            Ok(Ok(response)) => {
                self.tls_health.answered();
                Ok(response)
            }
            Ok(Err(err)) => Err(self.upstream_failure(&err)),
            Err(_elapsed) => {
                self.metrics.record_upstream_error("timeout");
                Err(upstream_timeout(format_args!(
                    "no response headers within {:?}",
                    self.response_timeout
                )))
            }
        }
    }

    fn upstream_failure(&self, err: &pool::SendError) -> Error {
        let (kind, chain) = match err {
            pool::SendError::Connect(err) => ("connect", http_client::explain(err.as_ref())),
            pool::SendError::Exchange(err) => ("protocol", http_client::explain(err)),
        };
        self.tls_health.failed(self.upstream.origin(), &chain);
        if kind == "connect" && chain.contains("timed out") {
            self.metrics.record_upstream_error("connect_timeout");
            return upstream_timeout(format_args!("connect: {chain}"));
        }
        self.metrics.record_upstream_error(kind);
        Error::new(
            Source::Upstream,
            StatusCode::BAD_GATEWAY,
            "upstream_unreachable",
            "The application behind stagepass could not be reached or failed to answer.",
        )
        .with_detail(format_args!("{kind}: {chain}"))
    }
}

impl Upstream {
    fn from_url(url: &Url) -> Self {
        // `host_str` writes an IPv6 address in brackets already.
        let authority = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => String::new(),
        };
        let origin = format!("{}://{authority}", url.scheme());
        let address: Option<Uri> = url
            .host_str()
            .and_then(|_| format!("{origin}/").parse().ok());
        let host = address
            .as_ref()
            .and_then(|_| HeaderValue::from_str(&authority).ok());
        // A built-in upstream's "path" is its name, not a prefix.
        let prefix = match address {
            Some(_) => url.path().trim_end_matches('/').to_owned(),
            None => String::new(),
        };
        Upstream {
            address,
            host,
            origin,
            prefix,
        }
    }

    /// `scheme://authority`, for messages.
    fn origin(&self) -> &str {
        &self.origin
    }

    /// The upstream URI for a request, in origin form (HTTP/1.1 sends no
    /// more): path and query byte-for-byte, behind the upstream's own path
    /// prefix. Without a prefix nothing is parsed again: the request's own
    /// path and query are reused.
    fn uri_for(&self, incoming: &Uri) -> Result<Uri, Error> {
        let bad_target = || {
            Error::bad_request(
                "bad_request_target",
                "The request target is not a valid path.",
            )
        };
        let path_and_query = match incoming.path_and_query() {
            Some(pq) if self.prefix.is_empty() => pq.clone(),
            pq => {
                let pq = pq.map_or("/", PathAndQuery::as_str);
                PathAndQuery::try_from(format!("{}{pq}", self.prefix)).map_err(|_| bad_target())?
            }
        };
        Ok(Uri::from(path_and_query))
    }
}

/// `host[:port]` of the public URL, as browsers send it in `Host`.
fn public_host(url: &Url) -> HeaderValue {
    let host = url.host_str().unwrap_or_default();
    let text = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("localhost"))
}

fn switching_protocols(
    upstream: Response<Incoming>,
    protocol: Option<HeaderValue>,
) -> Response<Body> {
    let (mut parts, _) = upstream.into_parts();
    hygiene::remove_hop_by_hop(&mut parts.headers);
    if let Some(protocol) = protocol {
        upgrade::restore_headers(&mut parts.headers, protocol);
    }
    Response::from_parts(parts, body::empty())
}

fn upstream_timeout(detail: std::fmt::Arguments<'_>) -> Error {
    Error::new(
        Source::Upstream,
        StatusCode::GATEWAY_TIMEOUT,
        "upstream_timeout",
        "The application behind stagepass did not answer in time.",
    )
    .with_detail(detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the upstream is sent: `Host`, the origin-form target, and
    /// where the pool dials.
    fn target(upstream: &str, request: &str) -> [String; 3] {
        let upstream = Upstream::from_url(&upstream.parse().unwrap());
        let uri = upstream.uri_for(&request.parse().unwrap()).unwrap();
        let host = upstream.host.map(|h| h.to_str().unwrap().to_owned());
        let dialled = upstream.address.map(|a| a.to_string());
        [
            host.unwrap_or_default(),
            uri.to_string(),
            dialled.unwrap_or_default(),
        ]
    }

    #[test]
    fn the_upstream_uri_keeps_path_and_query_behind_the_prefix() {
        // (upstream, request) → [Host, target, dialled]
        let cases = [
            (
                "http://app:3000",
                "/a/b?x=1",
                ["app:3000", "/a/b?x=1", "http://app:3000/"],
            ),
            (
                "http://app:3000/",
                "/",
                ["app:3000", "/", "http://app:3000/"],
            ),
            (
                "https://gw/app-a/",
                "/x?q",
                ["gw", "/app-a/x?q", "https://gw/"],
            ),
            (
                "http://[::1]:7007",
                "/api",
                ["[::1]:7007", "/api", "http://[::1]:7007/"],
            ),
            ("http://[::1]", "/api", ["[::1]", "/api", "http://[::1]/"]),
            ("builtin:whoami", "/me?x", ["", "/me?x", ""]),
        ];
        for (upstream, request, sent) in cases {
            assert_eq!(target(upstream, request), sent, "{upstream} {request}");
        }
    }
}
