//! Provider metadata and the JWKS: fetched at start-up with backoff, kept in
//! memory, and the key set re-fetched (rate-limited, callers coalesced) when
//! an ID token names a key stagepass has not seen.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use openidconnect::core::CoreJsonWebKeySet;
use openidconnect::{JsonWebKeySetUrl, ProviderMetadataWithLogout};
use url::Url;

use crate::http_client::ApiClient;

/// What stagepass knows about the IdP once discovery succeeded.
pub struct Discovered {
    pub metadata: ProviderMetadataWithLogout,
    pub jwks: CoreJsonWebKeySet,
    /// Bumped on every JWKS replacement, so coalesced callers can tell that
    /// someone else already refreshed.
    pub generation: u64,
}

enum Status {
    Pending(String),
    Ready(Arc<Discovered>),
}

/// Minimum time between two JWKS fetches triggered by unknown key ids, so a
/// stream of forged tokens cannot make stagepass hammer the IdP.
const JWKS_MIN_INTERVAL: Duration = Duration::from_secs(10);

pub struct Discovery {
    metadata_url: Url,
    api: ApiClient,
    status: RwLock<Status>,
    /// Held while re-fetching keys; remembers when an unknown `kid` last
    /// forced a fetch.
    refresh_lock: tokio::sync::Mutex<Option<Instant>>,
}

impl Discovery {
    pub fn new(metadata_url: Url, api: ApiClient) -> Self {
        Discovery {
            metadata_url,
            api,
            status: RwLock::new(Status::Pending("IdP metadata not fetched yet".into())),
            refresh_lock: tokio::sync::Mutex::new(None),
        }
    }

    pub fn current(&self) -> Result<Arc<Discovered>, String> {
        match &*self.status.read().unwrap_or_else(|e| e.into_inner()) {
            Status::Ready(found) => Ok(Arc::clone(found)),
            Status::Pending(reason) => Err(reason.clone()),
        }
    }

    /// Fetches until it succeeds, backing off from 1 s to 60 s. An IdP that is
    /// down at start-up does not stop stagepass; `/readyz` says why meanwhile.
    pub async fn run_until_ready(&self) {
        let mut delay = Duration::from_secs(1);
        loop {
            match self.fetch().await {
                Ok(found) => {
                    tracing::info!(issuer = %found.metadata.issuer().as_str(), "IdP metadata and keys loaded");
                    self.set(Status::Ready(Arc::new(found)));
                    return;
                }
                Err(reason) => {
                    tracing::warn!(reason = %reason, retry_in = ?delay, "IdP discovery failed");
                    self.set(Status::Pending(format!("IdP discovery failed: {reason}")));
                }
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(60));
        }
    }

    /// Re-fetches the JWKS after an unknown `kid`, unless another caller
    /// already did so since `seen_generation`. Forced fetches are at least
    /// [`JWKS_MIN_INTERVAL`] apart: a caller that comes sooner waits out the
    /// rest of the interval (holding the lock, so the callers behind it
    /// share its fetch) rather than failing a sign-in while an IdP rotates
    /// twice in a row.
    pub async fn refresh_keys(&self, seen_generation: u64) -> Result<(), String> {
        let mut last_forced = self.refresh_lock.lock().await;
        if self.current()?.generation != seen_generation {
            return Ok(());
        }
        if let Some(at) = *last_forced {
            tokio::time::sleep_until((at + JWKS_MIN_INTERVAL).into()).await;
        }
        self.refetch_keys(&mut last_forced).await
    }

    /// Like [`Self::refresh_keys`], but never waits: an API client's token
    /// with an unknown `kid` is refused at once, rather than queueing behind
    /// a fetch in flight or the rate limit (anyone can send such tokens).
    pub async fn refresh_keys_now_or_never(&self, seen_generation: u64) -> Result<(), String> {
        let Ok(mut last_forced) = self.refresh_lock.try_lock() else {
            return Err("keys are being re-fetched".into());
        };
        if self.current()?.generation != seen_generation {
            return Ok(());
        }
        if last_forced.is_some_and(|at| at.elapsed() < JWKS_MIN_INTERVAL) {
            return Err("keys were re-fetched moments ago".into());
        }
        self.refetch_keys(&mut last_forced).await
    }

    /// Fetches the JWKS now; the caller holds the refresh lock.
    async fn refetch_keys(&self, last_forced: &mut Option<Instant>) -> Result<(), String> {
        let current = self.current()?;
        *last_forced = Some(Instant::now());
        let jwks = self.fetch_jwks(current.metadata.jwks_uri()).await?;
        tracing::info!(keys = jwks.keys().len(), "IdP signing keys re-fetched");
        let mut metadata = current.metadata.clone();
        metadata = metadata.set_jwks(jwks.clone());
        self.set(Status::Ready(Arc::new(Discovered {
            metadata,
            jwks,
            generation: current.generation + 1,
        })));
        Ok(())
    }

    async fn fetch(&self) -> Result<Discovered, String> {
        let request = http::Request::get(self.metadata_url.as_str())
            .header(http::header::ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|e| e.to_string())?;
        let response = self.api.send(request).await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("metadata URL answered {}", response.status()));
        }
        let metadata: ProviderMetadataWithLogout = serde_json::from_slice(response.body())
            .map_err(|e| format!("metadata is not a valid OpenID Provider configuration: {e}"))?;
        check_issuer(&self.metadata_url, metadata.issuer().as_str())?;
        check_endpoints(&metadata)?;
        let jwks = self.fetch_jwks(metadata.jwks_uri()).await?;
        Ok(Discovered {
            metadata: metadata.set_jwks(jwks.clone()),
            jwks,
            generation: 0,
        })
    }

    async fn fetch_jwks(&self, url: &JsonWebKeySetUrl) -> Result<CoreJsonWebKeySet, String> {
        let api = self.api.clone();
        let http = move |req| {
            let api = api.clone();
            async move { api.send(req).await }
        };
        CoreJsonWebKeySet::fetch_async(url, &http)
            .await
            .map_err(|e| format!("JWKS: {}", crate::http_client::error_chain(&e)))
    }

    fn set(&self, status: Status) {
        *self.status.write().unwrap_or_else(|e| e.into_inner()) = status;
    }
}

const WELL_KNOWN: &str = "/.well-known/openid-configuration";

/// OpenID Discovery 4.3: the document's `issuer` must be the URL it was
/// fetched under, minus the well-known suffix (a trailing `/` on the issuer
/// is tolerated). Otherwise a document served at one IdP's address could
/// name another issuer. A `metadataUrl` of another shape (a query, a custom
/// path) cannot be checked this way; the exact `iss` check on every ID
/// token still applies.
pub(crate) fn check_issuer(metadata_url: &Url, issuer: &str) -> Result<(), String> {
    if metadata_url.query().is_some() {
        return Ok(());
    }
    let Some(expected) = metadata_url.as_str().strip_suffix(WELL_KNOWN) else {
        return Ok(());
    };
    if issuer.strip_suffix('/').unwrap_or(issuer) == expected.trim_end_matches('/') {
        return Ok(());
    }
    Err(format!(
        "the discovery document names issuer {issuer}, but it was fetched from {metadata_url}: they must match (OpenID Connect Discovery 4.3)"
    ))
}

/// The client secret and authorization codes go to these endpoints: hold
/// them to the same rule as `metadataUrl` (https, or http on loopback only).
fn check_endpoints(metadata: &ProviderMetadataWithLogout) -> Result<(), String> {
    let mut endpoints = vec![
        ("jwks_uri", metadata.jwks_uri().url()),
        (
            "authorization_endpoint",
            metadata.authorization_endpoint().url(),
        ),
    ];
    if let Some(token) = metadata.token_endpoint() {
        endpoints.push(("token_endpoint", token.url()));
    }
    for (name, url) in endpoints {
        if !crate::config::is_https_or_loopback(url) {
            return Err(format!(
                "{name} {url} must be https (http only on loopback)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_issuer;

    #[test]
    fn the_issuer_must_be_where_the_document_was_found() {
        let at = |u: &str| u.parse::<url::Url>().unwrap();
        let keycloak = at("https://id.example/realms/r/.well-known/openid-configuration");
        assert!(check_issuer(&keycloak, "https://id.example/realms/r").is_ok());
        assert!(check_issuer(&keycloak, "https://id.example/realms/r/").is_ok());
        let err = check_issuer(&keycloak, "https://id.example/realms/other").unwrap_err();
        assert!(
            err.contains("realms/other") && err.contains("Discovery 4.3"),
            "{err}"
        );
        assert!(check_issuer(&keycloak, "https://evil.example/realms/r").is_err());
        let root = at("https://tenant.auth.example/.well-known/openid-configuration");
        assert!(check_issuer(&root, "https://tenant.auth.example/").is_ok());
        // Other shapes cannot be checked this way (Azure AD B2C's ?p=policy).
        let b2c = at("https://b2c.example/t/v2.0/.well-known/openid-configuration?p=signin");
        assert!(check_issuer(&b2c, "https://b2c.example/guid/v2.0/").is_ok());
    }
    #[test]
    fn plain_http_endpoints_only_on_loopback() {
        for (url, ok) in [
            ("https://idp.example.com/token", true),
            ("http://127.0.0.2:4000/token", true),
            ("http://[::1]/token", true),
            ("http://localhost/token", true),
            ("http://idp.example.com/token", false),
            ("ftp://idp.example.com/token", false),
        ] {
            assert_eq!(
                crate::config::is_https_or_loopback(&url.parse().unwrap()),
                ok,
                "{url}"
            );
        }
    }
}
