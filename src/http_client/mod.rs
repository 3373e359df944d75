//! Outbound HTTP shared by the domain modules: the pooled streaming client
//! the proxy forwards with, and a small buffered client for API calls to the
//! IdP and the catalog (bounded body, overall timeout, no redirects).
//!
//! Both trust the system store plus `stagepass.tls.caFiles` (and a target's
//! own `caFile`); API calls go through the egress proxy when the proxy rules
//! say so ([`connect`]), the upstream never does.

mod connect;
mod tls;

pub use connect::{Connector, ProxyRules};

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::config::OutboundConfig;

/// A pooled client for plain and TLS connections.
pub type PooledClient<B> = Client<HttpsConnector<connect::Connector>, B>;

/// Builds a pooled client. Connection reuse matters: the IdP and the
/// catalog see one connection per busy worker, not one per request.
fn pooled<B>(
    connect_timeout: Duration,
    idle: Duration,
    tls: rustls::ClientConfig,
    proxy: Option<ProxyRules>,
) -> PooledClient<B>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
{
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(idle)
        .build(connector(connect_timeout, tls, proxy))
}

/// Dials plain and TLS connections, through the egress proxy if `proxy`
/// says so.
fn connector(
    connect_timeout: Duration,
    tls: rustls::ClientConfig,
    proxy: Option<ProxyRules>,
) -> HttpsConnector<Connector> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(Connector::new(http, proxy))
}

/// How the proxy dials the upstream: `upstreamTls`'s trust and client
/// certificate, and never the egress proxy (the upstream is normally in
/// the same pod or network). The proxy keeps its own pool
/// (`proxy::pool`).
pub fn upstream_connector(
    outbound: &OutboundConfig,
    connect_timeout: Duration,
) -> Result<HttpsConnector<Connector>, String> {
    let tls = tls::upstream_config(outbound)?;
    Ok(connector(connect_timeout, tls, None))
}

/// How stagepass reaches the IdP and the catalog: trust and proxy rules,
/// built once from the configuration.
#[derive(Clone)]
pub struct Outbound {
    config: OutboundConfig,
    proxy: ProxyRules,
}

impl Outbound {
    /// The configured trust, and `outboundProxy` or the environment's proxy;
    /// `Err` when the proxy named cannot be used as named.
    pub fn new(config: &OutboundConfig) -> Result<Self, String> {
        Ok(Outbound {
            config: config.clone(),
            proxy: ProxyRules::new(config.proxy.as_ref())?,
        })
    }

    /// The system store only, no proxy at all: for tests and tools.
    pub fn direct() -> Self {
        Outbound {
            config: OutboundConfig::default(),
            proxy: ProxyRules::none(),
        }
    }

    /// An API client for a target that may trust its own `ca_file`.
    pub fn api(
        &self,
        ca_file: Option<&std::path::Path>,
        timeout: Duration,
    ) -> Result<ApiClient, String> {
        ApiClient::new(&self.config, &self.proxy, ca_file, timeout)
    }
}

/// Why an API call failed. Never carries a request or response body, so it
/// cannot leak a token into a log line.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Transport(String),
    #[error("response body larger than {0} bytes")]
    TooLarge(usize),
}

/// Buffered client for small JSON API calls (discovery, JWKS, token, catalog).
#[derive(Clone)]
pub struct ApiClient {
    client: PooledClient<Full<Bytes>>,
    timeout: Duration,
}

/// Largest API response stagepass reads; a JWKS or entity list is far smaller.
const MAX_API_BODY: usize = 4 * 1024 * 1024;

impl ApiClient {
    /// A client for one target (the IdP, the catalog) that trusts its
    /// `ca_file` besides the shared ones and uses the egress proxy rules.
    fn new(
        outbound: &OutboundConfig,
        proxy: &ProxyRules,
        ca_file: Option<&std::path::Path>,
        timeout: Duration,
    ) -> Result<Self, String> {
        let tls = tls::client_config(outbound, ca_file)?;
        Ok(ApiClient {
            client: pooled(timeout, Duration::from_secs(90), tls, Some(proxy.clone())),
            timeout,
        })
    }

    pub async fn send(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, ApiError> {
        let req = req.map(|body| Full::new(Bytes::from(body)));
        let call = async {
            let response = self
                .client
                .request(req)
                .await
                .map_err(|e| ApiError::Transport(explain(&e)))?;
            let (parts, body) = response.into_parts();
            let bytes = Limited::new(body, MAX_API_BODY)
                .collect()
                .await
                .map_err(|_| ApiError::TooLarge(MAX_API_BODY))?
                .to_bytes();
            Ok(http::Response::from_parts(parts, bytes.to_vec()))
        };
        tokio::time::timeout(self.timeout, call)
            .await
            .map_err(|_| ApiError::Timeout(self.timeout))?
    }
}

/// The error chain of a failed call, with a way out for a certificate that
/// does not verify.
pub fn explain(err: &dyn std::error::Error) -> String {
    let chain = error_chain(err);
    if chain.contains("invalid peer certificate") {
        let hint = if chain.contains("UnknownIssuer") {
            "its issuer is not trusted: add the CA to stagepass.tls.caFiles or the target's caFile"
        } else {
            "the certificate does not verify"
        };
        return format!("{hint} ({chain})");
    }
    chain
}

/// The error and its causes on one line, for the log.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
