//! Building the gate from config. Every part that reads a file or a key
//! (session keys, CA bundles, the upstream's client certificate, the catalog,
//! the key store, the session store's address) is tried, and every one that
//! fails is named with its key path: one start-up lists them all.

use std::sync::Arc;
use std::time::Duration;

use super::backstage::Backstage;
use super::redirect::RedirectPolicy;
use super::routes::AuthRoutes;
use super::{Gate, SignIn, form, headers, owned_headers, policy};
use crate::config::{Config, ResolverConfig, ResolverKind, StagepassConfig};
use crate::error::StartupProblems;
use crate::http_client::Outbound;
use crate::metrics::Metrics;
use crate::oidc::OidcProvider;
use crate::proxy::Forwarder;
use crate::revocation::Revocations;
use crate::session::{CookieSettings, OpenedSessions, SessionKeys};

/// The configured way of signing in, its session lifetime and callback
/// path.
struct SignInSetup {
    sign_in: SignIn,
    session_duration: Duration,
    callback_path: String,
}

impl Gate {
    /// Builds the pipeline and starts IdP discovery in the background.
    /// Must be called inside a Tokio runtime.
    pub fn new(config: &Config, metrics: Arc<Metrics>) -> Result<Self, String> {
        let sp = &config.stagepass;
        let mut failures = StartupProblems::default();
        let binding = config.session_binding();
        let keys = failures.keep(
            SessionKeys::from_secrets(&config.auth.session_secrets, &binding)
                .ok_or_else(|| "auth.session.secret: missing".to_owned()),
        );
        let cookies = failures.keep(
            CookieSettings::for_public_url(sp.cookie_name.clone(), &sp.public_url)
                .map_err(|e| format!("stagepass.cookieName: {e}")),
        );
        // The IdP and the catalog API are reached through `outbound` (the
        // egress proxy): without it neither can be built, and its own
        // failure is named already. Each is tried without the other.
        let outbound = failures.keep(Outbound::new(&sp.outbound));
        let setup = (outbound.as_ref()).and_then(|o| failures.keep(sign_in(config, o, &metrics)));
        let backstage = outbound.as_ref().and_then(|outbound| {
            let resolvers = catalog_resolvers(config);
            failures.keep(Backstage::build(config, resolvers, outbound, &metrics))
        });
        let route_table = failures.keep(policy::RouteTable::new(sp, &metrics));
        let revocations = failures.keep(revocations(sp, &metrics));
        let forwarder = failures.keep(Forwarder::new(sp, Arc::clone(&metrics)));
        let (
            Some(keys),
            Some(cookies),
            Some(setup),
            Some(backstage),
            Some(route_table),
            Some(revocations),
            Some(forwarder),
        ) = (
            keys,
            cookies,
            setup,
            backstage,
            route_table,
            revocations,
            forwarder,
        )
        else {
            return Err(failures.message());
        };
        warn_if_upstream_unverified(sp, &metrics);
        let person = headers::PersonHeaders::new(sp.headers.clone());
        Ok(Gate {
            keep_access_token: person.passes_access_token()
                || route_table.any_passes_access_token(),
            policy_claims: sp.policy_claims(),
            bearer: sp.bearer.clone(),
            forwarder,
            sign_in: setup.sign_in,
            session_duration: setup.session_duration,
            backstage,
            routes: AuthRoutes::new(&sp.provider, &setup.callback_path),
            keys,
            opened: OpenedSessions::new(),
            cookies,
            redirects: RedirectPolicy::new(
                sp.public_url.clone(),
                sp.allowed_redirect_origins.clone(),
            ),
            owned_headers: owned_headers(sp, &sp.headers, true),
            person,
            max_session_bytes: sp.max_request_header_bytes / 4 * 3,
            forms: form::FormReader::new(sp.timeouts.request_headers),
            site: sp.site_name.clone(),
            whoami: sp.upstream_is_whoami(),
            route_table,
            revocations,
            metrics,
        })
    }
}

fn sign_in(
    config: &Config,
    outbound: &Outbound,
    metrics: &Arc<Metrics>,
) -> Result<SignInSetup, String> {
    let sp = &config.stagepass;
    if config.auth.guest.is_some() {
        return Ok(SignInSetup {
            sign_in: SignIn::Guest,
            session_duration: Duration::from_secs(24 * 3600),
            callback_path: format!("/api/auth/{}/handler/frame", sp.provider),
        });
    }
    let provider = config.auth.providers.get(&sp.provider).ok_or_else(|| {
        format!(
            "stagepass.provider: no auth.providers.{} entry",
            sp.provider
        )
    })?;
    let oidc = OidcProvider::new(provider, outbound, Arc::clone(metrics))
        .map_err(|e| format!("auth.providers.{}: {e}", sp.provider))?;
    oidc.spawn_discovery();
    Ok(SignInSetup {
        sign_in: SignIn::Oidc(oidc),
        session_duration: provider.session_duration,
        callback_path: provider.callback_url.path().to_owned(),
    })
}

/// The resolvers that map the people who sign in to catalog users.
fn catalog_resolvers(config: &Config) -> Vec<ResolverConfig> {
    if config.auth.guest.is_some() {
        // The guest page picks a catalog user by name: resolve by that name.
        return vec![ResolverConfig {
            kind: ResolverKind::SubMatchingUserEntityName,
            allowed_domains: None,
            allow_without_catalog_user: false,
        }];
    }
    let provider = config.auth.providers.get(&config.stagepass.provider);
    provider.map(|p| p.resolvers.clone()).unwrap_or_default()
}

fn revocations(sp: &StagepassConfig, metrics: &Arc<Metrics>) -> Result<Arc<Revocations>, String> {
    match &sp.session_store {
        Some(store) => Revocations::with_store(store, Arc::clone(metrics)),
        None => Ok(Revocations::none()),
    }
}

fn warn_if_upstream_unverified(sp: &StagepassConfig, metrics: &Metrics) {
    if sp.outbound.upstream_tls.insecure_skip_verify {
        metrics.set_upstream_tls_unverified();
        tracing::warn!(
            "stagepass.upstreamTls.insecureSkipVerify is on: any certificate the upstream shows is accepted, so anyone on the path to it can read and change its traffic"
        );
    }
}
