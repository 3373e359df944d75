//! Shared test support: a real upstream, stagepass in-process on
//! `127.0.0.1:0`, and a plain HTTP client.
#![allow(dead_code)]

pub mod agent;
pub mod backstage;
pub mod frontend;
pub mod jwt;
pub mod op;
pub mod peers;
pub mod pki;
pub mod redis;
pub mod replicas;
pub mod upstream;
pub mod world;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use stagepass::config::*;
use stagepass::server::{self, App, Listeners};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

pub const SESSION_SECRET: &str = "test-session-secret-that-is-long-enough-0123456789";

/// A config that points at `upstream`, with every default a user would get.
/// `publicUrl`'s host in [`config`]; stagepass itself listens elsewhere.
pub const PUBLIC_HOST: &str = "127.0.0.1:7000";

pub fn config(upstream: Url) -> Config {
    let public_url: Url = format!("http://{PUBLIC_HOST}").parse().unwrap();
    let provider = ProviderConfig {
        metadata_url: "http://127.0.0.2:1/.well-known/openid-configuration"
            .parse()
            .unwrap(),
        client_id: "stagepass".into(),
        client_secret: Secret::new("client-secret"),
        callback_url: public_url.join("/api/auth/test/handler/frame").unwrap(),
        token_endpoint_auth_method: TokenEndpointAuthMethod::ClientSecretBasic,
        token_signed_response_alg: vec!["RS256".into()],
        scopes: vec!["openid".into(), "profile".into(), "email".into()],
        prompt: None,
        session_duration: Duration::from_secs(24 * 3600),
        timeout: Duration::from_secs(10),
        resolvers: vec![],
        require_verified_email: false,
        ca_file: None,
    };
    Config {
        stagepass: StagepassConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            public_url,
            upstream,
            provider: "test".into(),
            admin: AdminConfig {
                listen: "127.0.0.1:0".parse().unwrap(),
            },
            tls: None,
            trusted_proxies: vec![],
            allowed_redirect_origins: vec![],
            timeouts: Timeouts::default(),
            shutdown_grace_period: Duration::from_secs(5),
            max_request_header_bytes: 16 * 1024,
            max_connections: 10_000,
            cookie_name: "stagepass".into(),
            catalog: None,
            backstage_token_header: http::header::AUTHORIZATION,
            headers: Default::default(),
            strip_headers: Default::default(),
            site_name: "stagepass".into(),
            routes: Vec::new(),
            bearer: Default::default(),
            outbound: Default::default(),
            session_store: None,
            inject_backstage_token: true,
            assertion_header: http::HeaderName::from_static("x-stagepass-assertion"),
        },
        auth: AuthConfig {
            environment: "development".into(),
            session_secrets: vec![Secret::new(SESSION_SECRET)],
            providers: BTreeMap::from([("test".to_owned(), provider)]),
            guest: None,
            token: TokenConfig::new(&"http://127.0.0.1:7000".parse().unwrap()),
        },
    }
}

/// stagepass running in this test process.
pub struct Stagepass {
    pub public: SocketAddr,
    pub admin: SocketAddr,
    pub app: Arc<App>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

pub async fn start(config: Config) -> Stagepass {
    let public = TcpListener::bind(config.stagepass.listen).await.unwrap();
    start_on(public, config).await
}

/// Starts stagepass on an already bound public listener, for tests whose
/// config (the public URL) must name the port before stagepass starts.
pub async fn start_on(public: TcpListener, config: Config) -> Stagepass {
    let admin = TcpListener::bind(config.stagepass.admin.listen)
        .await
        .unwrap();
    let (public_addr, admin_addr) = (public.local_addr().unwrap(), admin.local_addr().unwrap());
    let app = App::build(config).expect("app builds");
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server::run(
        Listeners { public, admin },
        Arc::clone(&app),
        async {
            let _ = rx.await;
        },
    ));
    Stagepass {
        public: public_addr,
        admin: admin_addr,
        app,
        shutdown: Some(tx),
        task,
    }
}

impl Stagepass {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.public, path)
    }
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{}", self.admin, path)
    }
    /// Asks stagepass to shut down; returns the task to await.
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
    pub async fn stop(mut self) {
        self.begin_shutdown();
        self.task.await.unwrap();
    }
    pub async fn join(self) {
        self.task.await.unwrap();
    }
}

pub type TestClient = Client<HttpConnector, Full<Bytes>>;

pub fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build_http()
}

pub fn h2_client() -> TestClient {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

pub async fn send(client: &TestClient, req: Request<Full<Bytes>>) -> Reply {
    send_via(client, req).await
}

/// [`send`] over any connector (the https one of an agent that trusts a
/// private CA).
pub async fn send_via<C>(client: &Client<C, Full<Bytes>>, req: Request<Full<Bytes>>) -> Reply
where
    C: hyper_util::client::legacy::connect::Connect + Clone + Send + Sync + 'static,
{
    let response = client
        .request(req)
        .await
        .expect("request reaches stagepass");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body arrives").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// GET with a session.
pub async fn get(url: &str) -> Reply {
    send(
        &client(),
        request("GET", url).body(Full::default()).unwrap(),
    )
    .await
}

/// A request that carries a valid session cookie for [`test_session`].
pub fn request(method: &str, url: &str) -> http::request::Builder {
    Request::builder()
        .method(method)
        .uri(url)
        .header("cookie", session_cookie(&test_session()))
}

/// A request without any session.
pub fn anonymous(method: &str, url: &str) -> http::request::Builder {
    Request::builder().method(method).uri(url)
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The signed-in person the proxy tests act as.
pub fn test_session() -> stagepass::session::Session {
    stagepass::session::Session {
        subject: "alice".into(),
        email: Some("alice@example.com".into()),
        name: Some("Alice Example".into()),
        picture: None,
        preferred_username: Some("alice".into()),
        groups: vec!["team-a".into()],
        expires_at: now() + 3600,
        access_token_expires_at: None,
        refresh_token: None,
        id_token: None,
        issued_at: now(),
        claims: Default::default(),
        signed_in_at: None,
        id: None,
        idp_sid: None,
        access_token: None,
    }
}

/// `name=value` pairs sealing `session` with [`SESSION_SECRET`], as stagepass
/// itself would for the deployment of [`config`] (its `publicUrl`, provider
/// and client id): sessions are stateless, so a test can mint one.
pub fn session_cookie(session: &stagepass::session::Session) -> String {
    use stagepass::session::{CookieSettings, SessionJar, SessionKeys};
    let binding = config("http://127.0.0.1:1".parse().unwrap()).session_binding();
    let keys = SessionKeys::from_secrets(&[Secret::new(SESSION_SECRET)], &binding).unwrap();
    let settings = CookieSettings::new("stagepass", false).unwrap();
    let set_cookies = SessionJar::new(&keys, &settings)
        .write_session(&HeaderMap::new(), session, now())
        .unwrap();
    set_cookies
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

/// People resolved against the test catalog file (alice in team-a, bob in
/// team-b) with Backstage's email resolver.
pub fn use_test_catalog(cfg: &mut Config) {
    cfg.stagepass.catalog = Some(CatalogConfig::new(CatalogSource::File(
        backstage::CATALOG.into(),
    )));
    cfg.auth.providers.get_mut("test").unwrap().resolvers = email_resolver();
}

/// Loopback peers (the test proxies, and the test client) may describe the
/// original request in forwarding headers.
pub fn trust_loopback(cfg: &mut Config) {
    cfg.stagepass.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
}

/// A port nothing listens on right now, for a process that must be told its
/// address before it starts.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `target/screenshots/<name>/`, emptied.
pub fn screenshots_dir(name: &str) -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/screenshots")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `signIn.resolvers: [{resolver: emailMatchingUserEntityProfileEmail}]`
pub fn email_resolver() -> Vec<ResolverConfig> {
    vec![ResolverConfig {
        kind: ResolverKind::EmailMatchingUserEntityProfileEmail,
        allowed_domains: None,
        allow_without_catalog_user: false,
    }]
}

/// A self-signed certificate for `localhost`, written where `cfg`'s TLS
/// listener reads it. Keep the returned directory alive while stagepass runs;
/// the certificate is for the client's root store.
pub fn with_self_signed_tls(
    cfg: &mut Config,
) -> (tempfile::TempDir, rcgen::CertifiedKey<rcgen::KeyPair>) {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).unwrap();
    cfg.stagepass.tls = Some(TlsConfig {
        cert_file,
        key_file,
    });
    (dir, cert)
}

/// Reads a fixture's stdout until its one `READY {json}` line (the protocol
/// of the OP, Backstage and frontend fixtures) and returns the JSON; stdout
/// is drained afterwards so the child never blocks on a full pipe. `None`
/// when the child exits first.
pub async fn ready_line(child: &mut tokio::process::Child) -> Option<serde_json::Value> {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let mut lines = BufReader::new(child.stdout.take()?).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(ready) = line.strip_prefix("READY ") {
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Some(serde_json::from_str(ready).expect("READY carries JSON"));
        }
    }
    None
}
