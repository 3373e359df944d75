//! The merged tree to a typed [`Config`], collecting every problem.
//!
//! Only our own `stagepass:` section rejects unknown keys: every other key
//! may belong to Backstage, which reads the same files.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use url::Url;

use super::ConfigProblem;
use super::backstage::{self, GUEST};
use super::field::{Field, Problems};
use super::parse;
use super::provider;
use super::types::*;

const STAGEPASS_KEYS: &[&str] = &[
    "listen",
    "publicUrl",
    "upstream",
    "provider",
    "admin",
    "tls",
    "trustedProxies",
    "allowedRedirectOrigins",
    "timeouts",
    "shutdownGracePeriod",
    "maxRequestHeaderBytes",
    "maxConnections",
    "cookieName",
    "catalog",
    "backstageToken",
    "assertion",
    "headers",
    "stripHeaders",
    "routes",
    "bearer",
    "outboundProxy",
    "upstreamTls",
    "sessions",
];
const ADMIN_KEYS: &[&str] = &["listen"];
const TLS_KEYS: &[&str] = &["certFile", "keyFile", "caFiles"];
const TIMEOUT_KEYS: &[&str] = &["connect", "responseHeaders", "idle", "requestHeaders"];

const DEFAULT_LISTEN: &str = "0.0.0.0:7000";
const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:9090";
const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(25);
const DEFAULT_HEADER_BYTES: usize = 16 * 1024;
const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
const DEFAULT_COOKIE_NAME: &str = "stagepass";
const HOST_COOKIE_PREFIX: &str = "__Host-";
const DEFAULT_ENVIRONMENT: &str = "development";
const DEFAULT_SITE_NAME: &str = "stagepass";

/// `base_dir` is the folder of the first config file: the default catalog
/// file lives there.
pub(super) fn validate(
    tree: &Value,
    base_dir: &Path,
) -> Result<(Config, Vec<ConfigProblem>), Vec<ConfigProblem>> {
    let mut problems = Problems::default();
    let section = Field::root(tree, "stagepass");
    let mut stagepass = stagepass(&section, &mut problems);
    // The auth section needs these even when other stagepass keys are bad,
    // so they are read again here (their problems are already recorded).
    let mut again = Problems::default();
    let public_url = section
        .child("publicUrl")
        .required(&mut again, parse::public_url);
    let provider = section.child("provider").required(&mut again, parse::name);
    let selected = Selected {
        public_url: public_url.as_ref(),
        provider: provider.as_deref(),
        base_dir,
    };
    let auth = auth(&Field::root(tree, "auth"), &selected, &mut problems);
    // Checked even when other parts of either section are wrong, so one run
    // lists every problem.
    let needs_catalog = auth.as_ref().is_some_and(|auth| {
        auth.guest.is_some()
            || (provider.as_ref())
                .and_then(|name| auth.providers.get(name))
                .is_some_and(|p| !p.resolvers.is_empty())
    });
    let catalog = backstage::catalog(
        &section.child("catalog"),
        needs_catalog,
        base_dir,
        &mut problems,
    );
    if let Some(stagepass) = stagepass.as_mut() {
        stagepass.catalog = catalog;
        super::headers::check_header_sources(stagepass, &mut problems);
        if let Ok(title) = Field::root(tree, "app").child("title").text() {
            stagepass.site_name = title;
        }
    }
    if let (Some(stagepass), Some(auth)) = (stagepass.as_ref(), auth.as_ref())
        && let Some(provider) = auth.providers.get(&stagepass.provider)
    {
        super::bearer::warn_on_client_id(&stagepass.bearer, &provider.client_id, &mut problems);
    }
    warn_near_misses(&Field::root(tree, "auth"), &mut problems);
    match (stagepass, auth) {
        (Some(stagepass), Some(auth)) if problems.is_empty() => {
            Ok((Config { stagepass, auth }, problems.take_warnings()))
        }
        _ if problems.is_empty() => Err(vec![ConfigProblem::new(
            "config",
            "internal error: rejected without a reason",
        )]),
        _ => Err(problems.into_vec()),
    }
}

/// The `auth` keys stagepass reads. Backstage has more (its own are fine
/// there); a key one edit away from one of these is most likely a typo that
/// silently changes what stagepass does (`enviroment: production` would
/// mean development).
const AUTH_KEYS: &[&str] = &[
    "environment",
    "session",
    "providers",
    "keyStore",
    "backstageTokenExpiration",
];

fn warn_near_misses(auth: &Field, problems: &mut Problems) {
    let session = auth.child("session");
    let found = auth
        .near_misses(AUTH_KEYS)
        .into_iter()
        .chain(session.near_misses(&["secret"]));
    for (path, known) in found {
        problems.warn(
            &path,
            format!("stagepass does not read this key; did you mean {known}?"),
        );
    }
}

fn sessions(section: &Field, problems: &mut Problems) -> Option<super::RedisStoreConfig> {
    section.map(problems)?;
    section.reject_unknown_keys(problems, &["store"]);
    super::sessions::store(section, problems)
}

fn stagepass(section: &Field, problems: &mut Problems) -> Option<StagepassConfig> {
    section.map(problems);
    section.reject_unknown_keys(problems, STAGEPASS_KEYS);
    let child = |key| section.child(key);
    let listen =
        child("listen").optional(problems, default_addr(DEFAULT_LISTEN), parse::socket_addr);
    let public_url = child("publicUrl").required(problems, parse::public_url);
    let upstream = child("upstream").required(problems, parse::upstream_url);
    let provider = child("provider").required(problems, parse::name);
    let admin = admin(&child("admin"), problems);
    let tls = tls(&child("tls"), problems);
    let trusted_proxies = child("trustedProxies").list(problems, parse::ip_net);
    let allowed_redirect_origins =
        child("allowedRedirectOrigins").list(problems, parse::redirect_origin);
    let timeouts = timeouts(&child("timeouts"), problems);
    let shutdown_grace_period =
        child("shutdownGracePeriod").optional(problems, DEFAULT_SHUTDOWN_GRACE, parse::duration);
    let max_request_header_bytes = child("maxRequestHeaderBytes").optional(
        problems,
        DEFAULT_HEADER_BYTES,
        parse::header_bytes,
    );
    let max_connections =
        child("maxConnections").optional(problems, DEFAULT_MAX_CONNECTIONS, parse::connections);
    let cookie_name = cookie_name(&child("cookieName"), public_url.as_ref(), problems);
    let token_section = child("backstageToken");
    let backstage_token_header =
        backstage::header_name(&token_section, "authorization", &["enabled"], problems);
    let inject_backstage_token = backstage::flag(&token_section.child("enabled"), true, problems);
    let assertion_header =
        backstage::header_name(&child("assertion"), "x-stagepass-assertion", &[], problems);
    Some(StagepassConfig {
        listen,
        public_url: public_url?,
        upstream: upstream?,
        provider: provider?,
        admin,
        tls: tls?,
        trusted_proxies,
        allowed_redirect_origins,
        timeouts,
        shutdown_grace_period,
        max_request_header_bytes,
        max_connections,
        cookie_name,
        // Decided once the provider's resolvers are known (see `validate`).
        catalog: None,
        backstage_token_header,
        inject_backstage_token,
        assertion_header,
        headers: super::headers::headers(&child("headers"), problems),
        strip_headers: super::strip::strip_headers(&child("stripHeaders"), problems),
        routes: super::routes::routes(&child("routes"), problems),
        bearer: super::bearer::bearer(&child("bearer"), problems),
        outbound: super::outbound::outbound(section, problems),
        session_store: sessions(&child("sessions"), problems),
        // Read from `app.title` in `validate`, the section Backstage owns.
        site_name: DEFAULT_SITE_NAME.to_owned(),
    })
}

/// Over https the default is `__Host-stagepass`: browsers then accept the
/// cookie only with `Secure`, `Path=/` and no `Domain`, so a sibling
/// subdomain can neither plant nor shadow it (cookie tossing). The `__Host-`
/// and `__Secure-` prefixes need https; over plain http browsers drop them.
fn cookie_name(field: &Field, public_url: Option<&Url>, problems: &mut Problems) -> String {
    let https = public_url.is_some_and(|u| u.scheme() == "https");
    let default = match https {
        true => format!("{HOST_COOKIE_PREFIX}{DEFAULT_COOKIE_NAME}"),
        false => DEFAULT_COOKIE_NAME.to_string(),
    };
    let name = field.optional(problems, default, parse::cookie_name);
    let browser_prefix = [HOST_COOKIE_PREFIX, "__Secure-"].into_iter().find(|p| {
        name.to_ascii_lowercase()
            .starts_with(&p.to_ascii_lowercase())
    });
    if let Some(prefix) = browser_prefix.filter(|_| public_url.is_some() && !https) {
        problems.add(
            &field.path,
            format!(
                "the {prefix} prefix needs an https publicUrl: browsers drop such cookies over http"
            ),
        );
    }
    name
}

fn default_addr(text: &str) -> SocketAddr {
    text.parse().expect("default addresses are valid")
}

fn admin(section: &Field, problems: &mut Problems) -> AdminConfig {
    section.map(problems);
    section.reject_unknown_keys(problems, ADMIN_KEYS);
    let default = default_addr(DEFAULT_ADMIN_LISTEN);
    AdminConfig {
        listen: section
            .child("listen")
            .optional(problems, default, parse::socket_addr),
    }
}

/// `Some(None)` when TLS is off; `None` when its configuration is invalid.
fn tls(section: &Field, problems: &mut Problems) -> Option<Option<TlsConfig>> {
    if !section.is_set() {
        return Some(None);
    }
    section.map(problems)?;
    section.reject_unknown_keys(problems, TLS_KEYS);
    // Relative paths were resolved against the naming file while loading.
    // `caFiles` alone is about outbound trust: the listener stays plain.
    let (cert, key) = (section.child("certFile"), section.child("keyFile"));
    if !cert.is_set() && !key.is_set() {
        return Some(None);
    }
    let cert_file = cert.required(problems, parse::existing_file);
    let key_file = key.required(problems, parse::existing_file);
    Some(Some(TlsConfig {
        cert_file: cert_file?,
        key_file: key_file?,
    }))
}

fn timeouts(section: &Field, problems: &mut Problems) -> Timeouts {
    section.map(problems);
    section.reject_unknown_keys(problems, TIMEOUT_KEYS);
    let default = Timeouts::default();
    let timeout = |key, default, problems: &mut Problems| {
        section
            .child(key)
            .optional(problems, default, parse::positive_duration)
    };
    Timeouts {
        connect: timeout("connect", default.connect, problems),
        response_headers: timeout("responseHeaders", default.response_headers, problems),
        idle: timeout("idle", default.idle, problems),
        request_headers: timeout("requestHeaders", default.request_headers, problems),
    }
}

/// What the auth section needs from the stagepass section.
struct Selected<'a> {
    public_url: Option<&'a Url>,
    provider: Option<&'a str>,
    base_dir: &'a Path,
}

fn auth(section: &Field, selected: &Selected, problems: &mut Problems) -> Option<AuthConfig> {
    section.map(problems);
    let environment = section.child("environment").optional(
        problems,
        DEFAULT_ENVIRONMENT.to_string(),
        parse::name,
    );
    let session = section.child("session");
    session.map(problems);
    let development = section.child("environment").is_set() && environment == "development";
    let session_secrets = session_secrets(&session.child("secret"), development, problems);
    let providers = providers(
        &section.child("providers"),
        &environment,
        selected,
        problems,
    );
    let guest = (selected.provider == Some(GUEST))
        .then(|| backstage::guest(section, &environment, problems));
    let token = backstage::token(section, selected.public_url, selected.base_dir, problems);
    Some(AuthConfig {
        environment,
        session_secrets: session_secrets?,
        providers,
        guest,
        token,
    })
}

/// One secret or a list; the first seals new sessions, all open old ones.
/// Missing is fine only with `auth.environment: development` written out: a
/// random secret is made for the run (the one-command quickstart needs none).
fn session_secrets(
    field: &Field,
    development: bool,
    problems: &mut Problems,
) -> Option<Vec<Secret>> {
    if !field.is_set() && development {
        problems.warn(
            &field.path,
            "missing; a random secret is used for this run (auth.environment: development), \
             so sessions end when stagepass restarts and replicas do not share them",
        );
        let bytes: [u8; 32] = rand::random();
        let secret = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes);
        return Some(vec![Secret::new(secret)]);
    }
    if !field.is_set() {
        problems.add(&field.path, "missing");
        return None;
    }
    if matches!(field.value, Some(Value::Array(items)) if items.is_empty()) {
        problems.add(&field.path, "must list at least one secret");
        return None;
    }
    let before = problems.len();
    let secrets = field.list(problems, parse::session_secret);
    (problems.len() == before).then_some(secrets)
}

/// Every provider with an entry for `environment`. Only the selected one
/// must be valid: the others may be Backstage providers (github, ...) with
/// other keys, and are kept only if they happen to parse as OIDC.
fn providers(
    section: &Field,
    environment: &str,
    selected: &Selected,
    problems: &mut Problems,
) -> BTreeMap<String, ProviderConfig> {
    let ids: Vec<String> = section
        .map(problems)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let mut providers = BTreeMap::new();
    for id in &ids {
        let entry = section.child(id).child(environment);
        if !entry.is_set() {
            continue;
        }
        let provider = if selected.provider == Some(id.as_str()) {
            provider::provider(&entry, id, selected.public_url, problems)
        } else {
            let mut ignored = Problems::default();
            provider::provider(&entry, id, selected.public_url, &mut ignored)
                .filter(|_| ignored.is_empty())
        };
        if let Some(provider) = provider {
            providers.insert(id.clone(), provider);
        }
    }
    if let Some(id) = selected.provider.filter(|id| *id != GUEST) {
        check_selected(section, id, environment, problems);
    }
    providers
}

fn check_selected(section: &Field, id: &str, environment: &str, problems: &mut Problems) {
    let path = "stagepass.provider";
    let provider = section.child(id);
    if !provider.is_set() {
        problems.add(path, format!("no provider \"{id}\" under {}", section.path));
    } else if !provider.child(environment).is_set() {
        problems.add(
            path,
            format!(
                "{} has no entry for environment \"{environment}\"",
                provider.path
            ),
        );
    }
}
