//! Who a signed-in person is, in Backstage's terms: their User entity ref and
//! the refs they own things through, found with Backstage's sign-in resolvers
//! in a catalog file or Backstage's catalog API.

mod cache;
mod catalog;
mod entity;
mod resolvers;
#[cfg(test)]
mod test_catalog_api;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

pub use cache::key_of as claims_key_of;
pub use catalog::CatalogUser;

use crate::config::{CatalogConfig, CatalogSource, ResolverConfig};
use crate::metrics::Metrics;

use crate::error::{Error, Source};
use crate::http_client::Outbound;
use cache::{IdentityCache, cache_key};
use catalog::{ApiCatalog, Catalog, FileCatalog};

pub use crate::principal::{Claims, Identity};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// No resolver found the user; `tried` says what each one looked for.
    #[error("no resolver matched a User entity ({}); add the user to the catalog, or configure another resolver", tried.join("; "))]
    NotFound { tried: Vec<String> },
    /// Several User entities match; the catalog needs fixing.
    #[error("{0}")]
    Ambiguous(String),
    /// The catalog could not answer and no usable cached identity exists.
    #[error("{0}")]
    CatalogUnavailable(String),
    /// A resolver refused this sign-in (email domain not in `allowedDomains`).
    /// Like Backstage's NotAllowedError, it stops the resolver chain.
    #[error("{0}")]
    Refused(String),
    /// The identity configuration cannot work (e.g. the catalog file is unreadable at start).
    #[error("{0}")]
    Config(String),
}

impl From<ResolveError> for Error {
    fn from(err: ResolveError) -> Error {
        use http::StatusCode;
        let (source, status, code, public) = match &err {
            ResolveError::NotFound { .. } => (
                Source::Client,
                StatusCode::FORBIDDEN,
                "user_not_in_catalog",
                "You signed in, but the software catalog has no user for your account, so this site cannot tell who you are. \
Ask an administrator to add you (quote the request below), or sign in with another account.",
            ),
            ResolveError::Refused(_) => (
                Source::Client,
                StatusCode::FORBIDDEN,
                "sign_in_refused",
                "Your account is not allowed to sign in here.",
            ),
            ResolveError::Ambiguous(_) => (
                Source::Catalog,
                StatusCode::CONFLICT,
                "user_ambiguous",
                "Several users in the software catalog match your account. Ask an administrator to fix the catalog.",
            ),
            ResolveError::CatalogUnavailable(_) => (
                Source::Catalog,
                StatusCode::SERVICE_UNAVAILABLE,
                "catalog_unavailable",
                "The software catalog is unavailable, so your identity cannot be checked. Try again shortly.",
            ),
            ResolveError::Config(_) => (
                Source::Internal,
                StatusCode::INTERNAL_SERVER_ERROR,
                "identity_misconfigured",
                "stagepass's identity configuration is broken.",
            ),
        };
        // What was looked up (resolver by resolver) goes to the log line,
        // which the request id on the page leads an administrator to.
        let public = match &err {
            ResolveError::Refused(why) => format!("{public} ({why})"),
            _ => public.to_owned(),
        };
        Error::new(source, status, code, public).with_detail(err)
    }
}

/// Resolves claims to identities, with caching that rides out catalog outages.
pub struct IdentityResolver {
    resolvers: Vec<ResolverConfig>,
    catalog: Catalog,
    cache: IdentityCache,
    metrics: Option<Arc<Metrics>>,
}

impl IdentityResolver {
    /// A catalog file is read here, so a broken one fails start-up.
    /// `outbound` is how a catalog API is reached.
    pub fn new(
        resolvers: Vec<ResolverConfig>,
        config: CatalogConfig,
        outbound: &Outbound,
    ) -> Result<Self, ResolveError> {
        Self::with_file_recheck(resolvers, config, outbound, catalog::FILE_RECHECK_EVERY)
    }

    fn with_file_recheck(
        resolvers: Vec<ResolverConfig>,
        config: CatalogConfig,
        outbound: &Outbound,
        recheck: Duration,
    ) -> Result<Self, ResolveError> {
        if resolvers.is_empty() {
            return Err(ResolveError::Config(
                "no sign-in resolver is configured".into(),
            ));
        }
        let catalog = match &config.source {
            CatalogSource::File(path) => {
                Catalog::File(FileCatalog::load(path, recheck).map_err(ResolveError::Config)?)
            }
            CatalogSource::Api {
                url,
                token,
                timeout,
            } => Catalog::Api(Box::new(ApiCatalog::new(
                url,
                token.clone(),
                (outbound.api(config.ca_file.as_deref(), *timeout))
                    .map_err(|e| ResolveError::Config(format!("caFile: {e}")))?,
            ))),
        };
        Ok(IdentityResolver {
            resolvers,
            catalog,
            cache: IdentityCache::new(config.fresh_for, config.stale_for, config.max_cached),
            metrics: None,
        })
    }

    /// Counts every catalog lookup in `metrics` (`stagepass_catalog_lookups_total`).
    pub fn counting(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    pub async fn resolve(&self, claims: &Claims) -> Result<Identity, ResolveError> {
        let key = cache_key(claims);
        if let Some(identity) = self.cache.fresh(&key).await {
            return Ok(identity);
        }
        if let Some(metrics) = &self.metrics {
            metrics.record_catalog_lookup();
        }
        match resolvers::resolve_chain(&self.resolvers, &self.catalog, claims).await {
            Ok(identity) => {
                self.cache.store(key, identity.clone()).await;
                Ok(identity)
            }
            Err(ResolveError::CatalogUnavailable(why)) => self.stale_or(&key, why).await,
            Err(definite) => {
                // The catalog answered: whatever was cached no longer holds.
                self.cache.forget(&key).await;
                Err(definite)
            }
        }
    }

    /// Every User entity, for a development sign-in page.
    pub async fn list_users(&self) -> Result<Vec<CatalogUser>, ResolveError> {
        self.catalog
            .list_users()
            .await
            .map_err(|e| ResolveError::CatalogUnavailable(e.0))
    }

    async fn stale_or(&self, key: &str, why: String) -> Result<Identity, ResolveError> {
        match self.cache.stale(key).await {
            Some((identity, age)) => {
                tracing::warn!(user = %identity.user_entity_ref, age_s = age.as_secs(), error = %why,
                    "catalog unavailable; using the identity resolved before");
                Ok(identity)
            }
            None => Err(ResolveError::CatalogUnavailable(why)),
        }
    }
}
