//! The validated, typed configuration. Every value here has passed validation:
//! code that receives a [`Config`] never re-checks it.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use url::Url;

/// A secret string. Its `Debug` and `Display` print `***`, so it cannot leak
/// into a log line or an error message by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The only way to read the value; grep for it when auditing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub stagepass: StagepassConfig,
    pub auth: AuthConfig,
}

impl Config {
    /// What a session cookie is bound to: `publicUrl`'s origin, the provider
    /// id and its client id (empty for the guest provider). Two deployments
    /// sharing `auth.session.secret` cannot open each other's cookies.
    pub fn session_binding(&self) -> String {
        let client_id = self
            .auth
            .providers
            .get(&self.stagepass.provider)
            .map_or("", |p| p.client_id.as_str());
        format!(
            "{}\n{}\n{}",
            self.stagepass.public_url.origin().ascii_serialization(),
            self.stagepass.provider,
            client_id
        )
    }
}

/// `stagepass:` — the proxy's own section.
#[derive(Debug, Clone)]
pub struct StagepassConfig {
    /// `listen`, default `0.0.0.0:7000`.
    pub listen: SocketAddr,
    /// `publicUrl`: the origin browsers use. Callback and redirect URLs are built from it.
    pub public_url: Url,
    /// `upstream`: the app behind, http or https. A path prefix is prepended to every request path.
    pub upstream: Url,
    /// `provider`: the `auth.providers` entry that signs users in.
    pub provider: String,
    pub admin: AdminConfig,
    pub tls: Option<TlsConfig>,
    /// `trustedProxies`: only peers in these networks may set `X-Forwarded-*`.
    pub trusted_proxies: Vec<IpNet>,
    /// `allowedRedirectOrigins`: origins besides `publicUrl` a sign-in may return to.
    pub allowed_redirect_origins: Vec<url::Origin>,
    pub timeouts: Timeouts,
    /// `shutdownGracePeriod`, default 25 s (Kubernetes gives 30 s before SIGKILL).
    pub shutdown_grace_period: Duration,
    /// `maxRequestHeaderBytes`, default 16 KiB: larger request headers get 431.
    pub max_request_header_bytes: usize,
    /// `maxConnections`, default 10,000: client connections served at once
    /// on the public listener; beyond it new ones wait in the kernel's
    /// accept backlog.
    pub max_connections: usize,
    /// `cookieName`, default `stagepass`: prefix of every cookie stagepass sets.
    pub cookie_name: String,
    /// `catalog`: where people are looked up. `None` when no resolver is
    /// configured and the guest provider is not used: then stagepass forwards
    /// identity headers only and mints no Backstage token.
    pub catalog: Option<super::CatalogConfig>,
    /// `backstageToken.header`, default `authorization`: where the Backstage
    /// identity token is injected (as `Bearer <token>`).
    pub backstage_token_header: http::HeaderName,
    /// `backstageToken.enabled`, default true. Turn it off in front of apps
    /// that are not Backstage: they then get only the audience-bound
    /// assertion, never a token they could replay against Backstage.
    pub inject_backstage_token: bool,
    /// `assertion.header`, default `x-stagepass-assertion`: a signed JWT with
    /// the person's identity, for apps that verify it with stagepass's JWKS.
    pub assertion_header: http::HeaderName,
    /// `headers`: which identity headers go upstream and what fills them.
    pub headers: super::HeadersConfig,
    /// `stripHeaders`: more headers no client may send (besides the
    /// identity headers always stripped), on every route.
    pub strip_headers: super::StripHeaders,
    /// The name on stagepass's pages: Backstage's `app.title`, else "stagepass".
    pub site_name: String,
    /// `routes`: public paths, other upstreams, who may reach what.
    pub routes: Vec<super::RouteConfig>,
    /// `bearer`: API clients with tokens instead of sessions.
    pub bearer: super::BearerConfig,
    /// `tls.caFiles`, `outboundProxy`, `upstreamTls`: how stagepass reaches
    /// the IdP, the catalog and the upstream.
    pub outbound: super::OutboundConfig,
    /// `sessions.store`: the shared store that makes sessions revocable.
    pub session_store: Option<super::RedisStoreConfig>,
}

/// `upstream: builtin:whoami`: instead of an app, stagepass's own page
/// showing what an app behind it would receive (for the quickstart, and to
/// debug "what does my app get?").
pub const WHOAMI_UPSTREAM: &str = "builtin:whoami";

impl StagepassConfig {
    pub fn upstream_is_whoami(&self) -> bool {
        self.upstream.as_str() == WHOAMI_UPSTREAM
    }

    /// Whether stagepass puts its own value into the upstream's
    /// `Authorization`; when it does not, the client's passes through.
    pub fn injects_authorization(&self) -> bool {
        self.injects_authorization_with(&self.headers)
    }

    /// The same, for a request whose identity headers follow `headers`
    /// (a route's own).
    pub fn injects_authorization_with(&self, headers: &super::HeadersConfig) -> bool {
        self.backstage_token_in_authorization() || headers.pass_authorization_header
    }

    /// Names of the claims any route's rules read: sessions keep these.
    pub fn policy_claims(&self) -> Vec<String> {
        let mut names: Vec<String> = (self.routes.iter())
            .flat_map(|r| r.claim_names().map(str::to_owned))
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Whether the Backstage token goes upstream in `Authorization`.
    pub fn backstage_token_in_authorization(&self) -> bool {
        self.catalog.is_some()
            && self.inject_backstage_token
            && self.backstage_token_header == http::header::AUTHORIZATION
    }
}

/// `stagepass.admin`
#[derive(Debug, Clone)]
pub struct AdminConfig {
    /// `listen`, default `127.0.0.1:9090`.
    pub listen: SocketAddr,
}

/// `stagepass.tls`
#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// `stagepass.timeouts`
#[derive(Debug, Clone)]
pub struct Timeouts {
    /// `connect`, default 5 s: establishing the upstream connection.
    pub connect: Duration,
    /// `responseHeaders`, default 60 s: from sending the request until upstream response headers arrive.
    pub response_headers: Duration,
    /// `idle`, default 90 s: idle keep-alive connections (client side and upstream pool).
    pub idle: Duration,
    /// `requestHeaders`, default 10 s: from accepting a connection (and from
    /// the end of the TLS handshake, which gets as long) until its first
    /// complete request head, on HTTP/1 and HTTP/2.
    pub request_headers: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(5),
            response_headers: Duration::from_secs(60),
            idle: Duration::from_secs(90),
            request_headers: Duration::from_secs(10),
        }
    }
}

/// `auth:` — shared with Backstage's own `app-config.yaml`.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `environment`, default `development` (as in Backstage).
    pub environment: String,
    /// `session.secret`: one string or a list; the first seals, all open.
    pub session_secrets: Vec<Secret>,
    /// `providers.<id>.<environment>` for every provider that has an entry for the
    /// active environment. Keyed by provider id.
    pub providers: BTreeMap<String, ProviderConfig>,
    /// `providers.guest`, when `stagepass.provider` is `guest`: development
    /// sign-in as any catalog user, without an IdP.
    pub guest: Option<GuestConfig>,
    /// `keyStore`, `backstageTokenExpiration` and the issuer of minted tokens.
    pub token: super::TokenConfig,
}

/// `auth.providers.guest`
#[derive(Debug, Clone)]
pub struct GuestConfig {
    /// `dangerouslyAllowOutsideDevelopment`
    pub allow_outside_development: bool,
}

/// `auth.providers.<id>.<environment>` of an OpenID Connect provider.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub metadata_url: Url,
    pub client_id: String,
    pub client_secret: Secret,
    /// `callbackUrl`, default `<publicUrl>/api/auth/<id>/handler/frame`.
    pub callback_url: Url,
    pub token_endpoint_auth_method: TokenEndpointAuthMethod,
    /// `tokenSignedResponseAlg`, default `RS256`.
    pub token_signed_response_alg: Vec<String>,
    /// Always contains `openid profile email`, plus `scope` / `additionalScopes`.
    pub scopes: Vec<String>,
    /// `prompt`: `None` when unset or `auto`.
    pub prompt: Option<String>,
    /// `sessionDuration`, default 24 h (ours; Backstage's is the refresh-token lifetime).
    pub session_duration: Duration,
    /// `timeout` for calls to the IdP, default 10 s.
    pub timeout: Duration,
    /// `signIn.resolvers`, tried in order. Empty: no catalog lookup.
    pub resolvers: Vec<super::ResolverConfig>,
    /// `signIn.requireVerifiedEmail`, default false: use an email only when
    /// the IdP says `email_verified: true`, not merely when it does not say.
    pub require_verified_email: bool,
    /// `caFile`: a CA bundle trusted for this IdP only, besides the system
    /// store and `stagepass.tls.caFiles`.
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenEndpointAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
}
