//! Configuration: load YAML files, deep-merge them, substitute environment
//! variables and Backstage's `$env` / `$file` / `$include` forms, then
//! validate the merged tree into a typed [`Config`].
//!
//! The file format is Backstage's `app-config.yaml`: stagepass reads its own
//! `stagepass:` section and the `auth:` section it shares with Backstage, and
//! ignores everything else. Every problem is collected and reported at once,
//! each with its key path, and no secret value ever appears in a message.

mod backstage;
mod bearer;
mod catalog;
mod duration;
mod field;
mod headers;
mod keystore;
mod load;
mod outbound;
mod parse;
mod provider;
mod redact;
mod resolvers;
mod routes;
mod sessions;
mod strip;
mod substitute;
mod types;
mod validate;

use std::fmt;
use std::path::PathBuf;

pub use bearer::{BearerConfig, RouteBearer};
pub use catalog::*;
pub use duration::parse_duration;
pub use headers::{GroupsSource, HeadersConfig, UserValue};
pub use keystore::*;
pub use outbound::{OutboundConfig, ProxyConfig, UpstreamTlsConfig, read_pem_certs};
pub use parse::is_https_or_loopback;
pub use resolvers::*;
pub use routes::{AllowConfig, RouteConfig};
pub use sessions::RedisStoreConfig;
pub use strip::{FORWARDING_HEADERS, NEVER_STRIPPED, StripHeaders};
pub use types::*;

/// A successfully loaded configuration.
#[derive(Clone)]
pub struct Loaded {
    pub config: Config,
    /// The merged tree after substitution, secrets included: show it only
    /// through [`Loaded::redacted_yaml`].
    pub effective: serde_json::Value,
    /// What loads but looks wrong or unsafe: `check` prints these and
    /// start-up logs them.
    pub warnings: Vec<ConfigProblem>,
}

impl Loaded {
    /// The effective configuration as YAML, with every secret-looking value
    /// (anywhere in the tree, Backstage's sections included) shown as `***`.
    pub fn redacted_yaml(&self) -> String {
        redact::redacted_yaml(&self.effective)
    }
}

/// Shows the effective tree redacted: a derived `Debug` would print secrets.
impl fmt::Debug for Loaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Loaded")
            .field("config", &self.config)
            .field("effective", &redact::redact(&self.effective))
            .finish()
    }
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ConfigProblem {
    /// Key path such as `stagepass.timeouts.idle` or `stagepass.trustedProxies[1]`;
    /// for a file that cannot be read or parsed, the file name.
    pub path: String,
    pub message: String,
}

impl ConfigProblem {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigProblem {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// Every problem found, in the order found. Displays one problem per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigProblem>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Load, merge, substitute and validate `paths` (later files win), reading
/// variables from the process environment.
pub fn load(paths: &[PathBuf]) -> Result<Loaded, ConfigErrors> {
    load_with_env(paths, &|name| std::env::var(name).ok())
}

/// [`load`] with the environment supplied by `env`, so tests need not touch
/// the process environment (which is `unsafe` to change in edition 2024).
pub fn load_with_env(
    paths: &[PathBuf],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Loaded, ConfigErrors> {
    let merged = load::load_files(paths, env);
    if !merged.file_problems.is_empty() {
        // Validating what is left of a file that did not parse would only
        // add misleading "missing" problems.
        return Err(ConfigErrors(merged.file_problems));
    }
    let base_dir = paths
        .first()
        .map(|p| load::parent_dir(p))
        .unwrap_or_default();
    let validated = validate::validate(&merged.tree, &base_dir);
    let mut problems = merged.value_problems;
    match validated {
        Ok((config, warnings)) if problems.is_empty() => Ok(Loaded {
            config,
            effective: merged.tree,
            warnings,
        }),
        Ok(_) => Err(ConfigErrors(problems)),
        Err(found) => {
            // A value that failed to load was left as null; validating it
            // again would repeat the same problem as "missing".
            let fresh: Vec<_> = found
                .into_iter()
                .filter(|p| !problems.iter().any(|q| is_within(&p.path, &q.path)))
                .collect();
            problems.extend(fresh);
            // Group by section, ours first, keeping the order found within each.
            problems.sort_by_key(|p| section_rank(&p.path));
            Err(ConfigErrors(problems))
        }
    }
}

fn section_rank(path: &str) -> u8 {
    match path.split(['.', '[']).next() {
        Some("stagepass") => 0,
        Some("auth") => 1,
        _ => 2,
    }
}

/// Whether `path` is `ancestor` or lies below it.
fn is_within(path: &str, ancestor: &str) -> bool {
    match path.strip_prefix(ancestor) {
        Some(rest) => rest.is_empty() || rest.starts_with('.') || rest.starts_with('['),
        None => false,
    }
}

#[cfg(test)]
mod tests;
