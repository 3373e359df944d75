//! The TCP connector under TLS: straight to the target, or through the
//! egress proxy with `CONNECT` when the proxy rules say so (curl's and Go's
//! conventions: `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY` with hosts, domain
//! suffixes, CIDRs and `*`). Every failure names the target, and the proxy
//! without its credentials.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::Matcher;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tower_service::Service;

use crate::config::ProxyConfig;

/// Which destinations go through which proxy.
#[derive(Clone)]
pub struct ProxyRules(Arc<Matcher>);

/// A destination no rule exempts, to see what the rules make of it.
const PROBE: &str = "https://proxy-probe.invalid/";

impl ProxyRules {
    /// `stagepass.outboundProxy` when set, else the environment's. Refused
    /// when the proxy named cannot be used as named: a proxy that is not
    /// `http://` (its credentials would cross the network in the clear, or
    /// it speaks SOCKS), or one the rules silently drop (a URL hyper-util
    /// cannot parse) so that calls would go direct without a word.
    pub fn new(configured: Option<&ProxyConfig>) -> Result<Self, String> {
        let (matcher, source, named) = match configured {
            Some(proxy) => {
                // Re-serialised, so characters that need it are escaped.
                let url = url::Url::parse(proxy.url.expose())
                    .map_err(|_| "stagepass.outboundProxy.url: is not a URL".to_owned())?;
                let matcher = Matcher::builder()
                    .all(url.as_str().to_owned())
                    .no(proxy.no_proxy.clone())
                    .build();
                (matcher, "stagepass.outboundProxy", true)
            }
            None => {
                let named = ["HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"]
                    .iter()
                    .any(|name| std::env::var(name).is_ok_and(|v| !v.trim().is_empty()));
                (Matcher::from_env(), "HTTPS_PROXY", named)
            }
        };
        let probe: Uri = PROBE.parse().expect("a valid URI");
        match matcher.intercept(&probe) {
            Some(proxy) if proxy.uri().scheme_str() != Some("http") => Err(format!(
                "{source}: only http:// proxies are supported (stagepass tunnels with CONNECT), not {}://",
                proxy.uri().scheme_str().unwrap_or("?")
            )),
            None if named && !exempts_everything(configured) => Err(format!(
                "{source}: the proxy URL cannot be used (check its syntax; characters such as {{ }} | ^ \" and spaces must be percent-encoded)"
            )),
            _ => Ok(ProxyRules(Arc::new(matcher))),
        }
    }

    /// No destination goes through a proxy.
    pub fn none() -> Self {
        ProxyRules(Arc::new(Matcher::builder().build()))
    }

    /// The proxy `dst` goes through, if any.
    pub fn proxy_for(&self, dst: &Uri) -> Option<hyper_util::client::proxy::matcher::Intercept> {
        self.0.intercept(dst)
    }
}

/// `NO_PROXY=*` (or `noProxy: "*"`): no destination uses the proxy.
fn exempts_everything(configured: Option<&ProxyConfig>) -> bool {
    let no_proxy = match configured {
        Some(proxy) => proxy.no_proxy.clone(),
        None => std::env::var("NO_PROXY")
            .or_else(|_| std::env::var("no_proxy"))
            .unwrap_or_default(),
    };
    no_proxy.trim() == "*"
}

#[derive(Clone)]
pub struct Connector {
    http: HttpConnector,
    /// `None` for the upstream: it is never sent through the egress proxy.
    proxy: Option<ProxyRules>,
}

impl Connector {
    pub fn new(http: HttpConnector, proxy: Option<ProxyRules>) -> Self {
        Connector { http, proxy }
    }
}

/// Why a connection could not be made, in words an operator can act on.
#[derive(Debug)]
pub struct ConnectError(String);

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConnectError {}

type Connecting = Pin<Box<dyn Future<Output = Result<TokioIo<TcpStream>, ConnectError>> + Send>>;

impl Service<Uri> for Connector {
    type Response = TokioIo<TcpStream>;
    type Error = ConnectError;
    type Future = Connecting;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.http
            .poll_ready(cx)
            .map_err(|e| ConnectError(super::error_chain(&e)))
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let target = authority(&dst);
        let Some(intercept) = self.proxy.as_ref().and_then(|p| p.proxy_for(&dst)) else {
            let connecting = self.http.call(dst);
            return Box::pin(async move {
                connecting.await.map_err(|e| {
                    ConnectError(format!("cannot connect to {target}: {}", explain(&e)))
                })
            });
        };
        let proxy = authority(intercept.uri());
        // hyper-util's tunnel asks for port 443 when the URI names none,
        // also for http://: name the scheme's port.
        let dst = with_port(dst);
        let mut tunnel = Tunnel::new(intercept.uri().clone(), self.http.clone());
        if let Some(auth) = intercept.basic_auth() {
            tunnel = tunnel.with_auth(auth.clone());
        }
        Box::pin(async move {
            tunnel.call(dst).await.map_err(|e| {
                // hyper-util does not export its error type; its words are
                // stable enough to tell the cases apart.
                let said = e.to_string();
                let why = if said.ends_with("unsuccessful") {
                    "it refused CONNECT".to_owned()
                } else if said.ends_with("proxy authorization required") {
                    "it asks for credentials (407): put them in the proxy URL".to_owned()
                } else if said.ends_with("failed to create underlying connection") {
                    let cause = std::error::Error::source(&e).map(explain);
                    format!("cannot connect to it: {}", cause.unwrap_or(said))
                } else {
                    super::error_chain(&e)
                };
                ConnectError(format!("outbound proxy {proxy} for {target}: {why}"))
            })
        })
    }
}

/// `dst` with its scheme's default port written out.
fn with_port(dst: Uri) -> Uri {
    if dst.port().is_some() {
        return dst;
    }
    let port = if dst.scheme_str() == Some("https") {
        443
    } else {
        80
    };
    let mut parts = dst.clone().into_parts();
    let authority = format!("{}:{port}", dst.host().unwrap_or_default());
    match authority.parse() {
        Ok(authority) => {
            parts.authority = Some(authority);
            Uri::from_parts(parts).unwrap_or(dst)
        }
        Err(_) => dst,
    }
}

/// `host:port` of a URI, never its credentials.
fn authority(uri: &Uri) -> String {
    let host = uri.host().unwrap_or("?");
    match (uri.port_u16(), uri.scheme_str()) {
        (Some(port), _) => format!("{host}:{port}"),
        (None, Some("https")) => format!("{host}:443"),
        (None, _) => format!("{host}:80"),
    }
}

/// The cause chain, with the usual culprits said plainly.
fn explain(err: &(dyn std::error::Error + 'static)) -> String {
    let chain = super::error_chain(err);
    let lower = chain.to_ascii_lowercase();
    if lower.contains("failed to lookup address") || lower.contains("name or service not known") {
        return format!("the name does not resolve ({chain})");
    }
    if lower.contains("connection refused") {
        return format!("nothing listens there ({chain})");
    }
    chain
}
