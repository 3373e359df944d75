//! Outbound HTTP shared by the domain modules: the pooled streaming client
//! the proxy forwards with, and a small buffered client for API calls to the
//! IdP and the catalog (bounded body, overall timeout, no redirects).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// A pooled client for plain and TLS connections.
pub type PooledClient<B> = Client<HttpsConnector<HttpConnector>, B>;

/// Builds a pooled client. Connection reuse matters: the upstream and the IdP
/// see one connection per busy worker, not one per request.
pub fn pooled<B>(connect_timeout: Duration, idle: Duration) -> PooledClient<B>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
{
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(connect_timeout));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config())
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(idle)
        .build(https)
}

/// Trusts the platform's CA store. An empty store is not fatal: plain
/// `http://` peers never need it, and an `https://` one then fails with a
/// clear certificate error per request.
fn tls_config() -> rustls::ClientConfig {
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth()
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
    pub fn new(timeout: Duration) -> Self {
        ApiClient {
            client: pooled(timeout, Duration::from_secs(90)),
            timeout,
        }
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
                .map_err(|e| ApiError::Transport(error_chain(&e)))?;
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
