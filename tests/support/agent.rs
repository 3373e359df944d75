//! A scripted browser for sign-in tests: an HTTP/1.1 client with a cookie
//! jar per host that follows redirects one hop at a time, so a test can
//! check every hop of the OIDC flow. (Real Chromium runs in one test too.)

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::Full;
use url::Url;

use super::{Reply, TestClient, client, send, send_via};

type TlsClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

pub struct Agent {
    client: TestClient,
    /// For `https://` URLs (an IdP behind a company CA); `None`: http only.
    tls: Option<TlsClient>,
    /// host (without port: browsers scope cookies to hosts) -> name -> value
    jar: HashMap<String, BTreeMap<String, String>>,
    /// host -> names of the cookies set `SameSite=None`: the only ones a
    /// browser sends on a cross-site POST (without the attribute a cookie
    /// counts as `Lax`, as browsers treat it).
    same_site_none: HashMap<String, BTreeSet<String>>,
    /// Every URL visited, in order.
    pub history: Vec<Url>,
}

impl Default for Agent {
    fn default() -> Self {
        Self::new()
    }
}

impl Agent {
    pub fn new() -> Self {
        Agent {
            client: client(),
            tls: None,
            jar: HashMap::new(),
            same_site_none: HashMap::new(),
            history: Vec::new(),
        }
    }

    /// A browser that trusts `roots` (a company CA) for `https://` URLs.
    pub fn trusting(roots: rustls::RootCertStore) -> Self {
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .build();
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(https);
        Agent {
            tls: Some(client),
            ..Agent::new()
        }
    }

    /// One GET as a browser navigation (no redirect following).
    pub async fn get(&mut self, url: &Url) -> Reply {
        let req = self
            .builder("GET", url)
            .header("accept", "text/html,application/xhtml+xml")
            .body(Full::default())
            .unwrap();
        self.exchange(url, req).await
    }

    /// One request with custom headers, e.g. an API call.
    pub async fn request(
        &mut self,
        method: &str,
        url: &Url,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Reply {
        let mut builder = self.builder(method, url);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        self.exchange(url, builder.body(Full::new(body)).unwrap())
            .await
    }

    /// A GET as an API client would send it (`Accept: application/json`).
    pub async fn api_get(&mut self, url: &Url) -> Reply {
        self.request("GET", url, &[("accept", "application/json")], Bytes::new())
            .await
    }

    /// A GET as Backstage's frontend sends it (`X-Requested-With`).
    pub async fn xhr_get(&mut self, url: &Url) -> Reply {
        self.request(
            "GET",
            url,
            &[("x-requested-with", "XMLHttpRequest")],
            Bytes::new(),
        )
        .await
    }

    pub async fn post_form(&mut self, url: &Url, fields: &[(&str, &str)]) -> Reply {
        let builder = self.builder("POST", url);
        self.send_form(builder, url, fields).await
    }

    /// A form another site's page posts here (an IdP's `form_post`
    /// answer): as browsers do, only `SameSite=None` cookies go along.
    pub async fn post_form_cross_site(&mut self, url: &Url, fields: &[(&str, &str)]) -> Reply {
        let builder = self.builder_for("POST", url, true);
        self.send_form(builder, url, fields).await
    }

    async fn send_form(
        &mut self,
        builder: http::request::Builder,
        url: &Url,
        fields: &[(&str, &str)],
    ) -> Reply {
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let req = builder
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html")
            .body(Full::from(body))
            .unwrap();
        self.exchange(url, req).await
    }

    /// Follows redirects from `url` until a non-redirect answer or until the
    /// next hop would leave for a host not in `hosts`. Returns the last reply
    /// and the URL it came from.
    pub async fn follow(&mut self, url: &Url, hosts: &[&str]) -> (Url, Reply) {
        let mut current = url.clone();
        for _ in 0..20 {
            let reply = self.get(&current).await;
            let Some(next) = location(&current, &reply.headers) else {
                return (current, reply);
            };
            if !hosts.contains(&next.host_str().unwrap_or_default()) {
                return (current, reply);
            }
            current = next;
        }
        panic!("redirect loop starting at {url}: {:?}", self.history);
    }

    pub fn cookie(&self, host: &str, name: &str) -> Option<&str> {
        self.jar.get(host)?.get(name).map(String::as_str)
    }

    pub fn cookie_names(&self, host: &str) -> Vec<String> {
        self.jar
            .get(host)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    pub fn set_cookie(&mut self, host: &str, name: &str, value: &str) {
        self.jar
            .entry(host.to_owned())
            .or_default()
            .insert(name.to_owned(), value.to_owned());
    }

    pub fn clear_cookies(&mut self, host: &str) {
        self.jar.remove(host);
        self.same_site_none.remove(host);
    }

    fn builder(&self, method: &str, url: &Url) -> http::request::Builder {
        self.builder_for(method, url, false)
    }

    fn builder_for(&self, method: &str, url: &Url, cross_site: bool) -> http::request::Builder {
        let mut builder = Request::builder().method(method).uri(url.as_str());
        let host = url.host_str().unwrap_or_default();
        let none = self.same_site_none.get(host);
        let sent = |name: &String| !cross_site || none.is_some_and(|n| n.contains(name));
        if let Some(cookies) = self.jar.get(host) {
            let header: Vec<String> = (cookies.iter())
                .filter(|(name, _)| sent(name))
                .map(|(n, v)| format!("{n}={v}"))
                .collect();
            if !header.is_empty() {
                builder = builder.header("cookie", header.join("; "));
            }
        }
        builder
    }

    async fn exchange(&mut self, url: &Url, req: Request<Full<Bytes>>) -> Reply {
        self.history.push(url.clone());
        let reply = match &self.tls {
            Some(tls) if url.scheme() == "https" => send_via(tls, req).await,
            _ => send(&self.client, req).await,
        };
        self.store_cookies(url, &reply.headers);
        reply
    }

    pub fn store_cookies(&mut self, url: &Url, headers: &HeaderMap) {
        let host = url.host_str().unwrap_or_default().to_owned();
        for value in headers.get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let mut parts = text.split(';');
            let (name, value) = parts.next().unwrap().split_once('=').unwrap();
            // Attributes only: a cookie's value may hold any text ("1970").
            let attributes: Vec<(String, &str)> = parts
                .map(|attribute| {
                    let (key, value) = attribute.split_once('=').unwrap_or((attribute, ""));
                    (key.trim().to_ascii_lowercase(), value.trim())
                })
                .collect();
            let deleted = expired(&attributes);
            let none = (attributes.iter())
                .any(|(key, value)| key == "samesite" && value.eq_ignore_ascii_case("none"));
            let cookies = self.jar.entry(host.clone()).or_default();
            let same_site_none = self.same_site_none.entry(host.clone()).or_default();
            same_site_none.remove(name.trim());
            if deleted {
                cookies.remove(name.trim());
            } else {
                cookies.insert(name.trim().to_owned(), value.trim().to_owned());
                if none {
                    same_site_none.insert(name.trim().to_owned());
                }
            }
        }
    }
}

/// Whether a `Set-Cookie` with these attributes deletes its cookie, as a
/// browser decides (RFC 6265 5.3): `Max-Age` wins over `Expires`, and either
/// in the past deletes.
fn expired(attributes: &[(String, &str)]) -> bool {
    let attribute = |name: &str| attributes.iter().rev().find(|(key, _)| key == name);
    // One that does not parse is ignored, as browsers ignore it.
    if let Some(seconds) = attribute("max-age").and_then(|(_, v)| v.parse::<i64>().ok()) {
        return seconds <= 0;
    }
    attribute("expires").is_some_and(|(_, date)| {
        chrono::DateTime::parse_from_rfc2822(date).is_ok_and(|at| at < chrono::Utc::now())
    })
}

/// The absolute redirect target of a 3xx reply.
pub fn location(from: &Url, headers: &HeaderMap) -> Option<Url> {
    let value = headers.get("location")?.to_str().ok()?;
    from.join(value).ok()
}

pub fn is_redirect(status: StatusCode) -> bool {
    status.is_redirection()
}
