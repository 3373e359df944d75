//! `stagepass.catalog`: where User and Group entities come from, and how
//! long resolved identities are trusted.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};
use url::Url;

use super::Secret;
use super::resolvers::{ConfigIssue, issue};

/// `stagepass.catalog`: where User and Group entities come from, and how long
/// resolved identities are trusted.
#[derive(Debug, Clone)]
pub struct CatalogConfig {
    pub source: CatalogSource,
    /// A cached identity younger than this is used without asking the catalog.
    pub fresh_for: Duration,
    /// While the catalog is unreachable, a cached identity younger than this is
    /// still used, so people already signed in keep working through an outage.
    pub stale_for: Duration,
    /// Upper bound on cached identities.
    pub max_cached: u64,
    /// `caFile`: a CA bundle trusted for the catalog API only.
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub enum CatalogSource {
    /// `file:` a catalog YAML file (multi-document), re-read when it changes.
    File(PathBuf),
    /// `url:` Backstage's catalog API base, e.g. `http://backstage:7007/api/catalog`.
    Api {
        url: Url,
        /// `token:` a `backend.auth.externalAccess` static token.
        token: Option<Secret>,
        timeout: Duration,
    },
}

pub const DEFAULT_FRESH_FOR: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_STALE_FOR: Duration = Duration::from_secs(24 * 60 * 60);
pub const DEFAULT_MAX_CACHED: u64 = 10_000;
pub const DEFAULT_CATALOG_TIMEOUT: Duration = Duration::from_secs(10);

impl CatalogConfig {
    pub fn new(source: CatalogSource) -> Self {
        CatalogConfig {
            source,
            fresh_for: DEFAULT_FRESH_FOR,
            stale_for: DEFAULT_STALE_FOR,
            max_cached: DEFAULT_MAX_CACHED,
            ca_file: None,
        }
    }
}

/// Parses `stagepass.catalog`: `{file: path}` (relative to `base_dir`, the
/// config file's folder) or `{url: ..., token: ...}`.
pub fn parse_catalog(
    value: &Value,
    path: &str,
    base_dir: &Path,
) -> Result<CatalogConfig, Vec<ConfigIssue>> {
    let Some(map) = value.as_object() else {
        return Err(vec![issue(
            path,
            "must be a map: {file: catalog.yaml} or {url: http://backstage:7007/api/catalog, token: ...}",
        )]);
    };
    const KEYS: [&str; 4] = ["file", "url", "token", "caFile"];
    let mut issues: Vec<ConfigIssue> = map
        .keys()
        .filter(|key| !KEYS.contains(&key.as_str()))
        .map(|key| {
            let message = match super::field::closest(key, &KEYS) {
                Some(known) => format!("unknown key (did you mean {known}?)"),
                None => "unknown key; expected file, or url, token and caFile".to_owned(),
            };
            issue(&format!("{path}.{key}"), &message)
        })
        .collect();
    let source = match (map.get("file"), map.get("url")) {
        (Some(file), None) => parse_file_source(file, map, path, base_dir),
        (None, Some(url)) => parse_api_source(url, map, path),
        (Some(_), Some(_)) => Err(issue(path, "has both file and url; choose one")),
        (None, None) => Err(issue(
            path,
            "needs file: <catalog.yaml> or url: <catalog API base URL>",
        )),
    };
    match source {
        Ok(source) if issues.is_empty() => Ok(CatalogConfig::new(source)),
        Ok(_) => Err(issues),
        Err(e) => {
            issues.push(e);
            Err(issues)
        }
    }
}

fn parse_file_source(
    file: &Value,
    map: &Map<String, Value>,
    path: &str,
    base_dir: &Path,
) -> Result<CatalogSource, ConfigIssue> {
    for key in ["token", "caFile"] {
        if map.contains_key(key) {
            return Err(issue(&format!("{path}.{key}"), "only applies with url"));
        }
    }
    match file.as_str() {
        Some(file) if !file.is_empty() => Ok(CatalogSource::File(base_dir.join(file))),
        _ => Err(issue(&format!("{path}.file"), "must be a file path")),
    }
}

fn parse_api_source(
    url: &Value,
    map: &Map<String, Value>,
    path: &str,
) -> Result<CatalogSource, ConfigIssue> {
    let url_path = format!("{path}.url");
    let url = url
        .as_str()
        .ok_or_else(|| issue(&url_path, "must be a URL"))?;
    let url = Url::parse(url).map_err(|e| issue(&url_path, &format!("is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.query().is_some() {
        return Err(issue(
            &url_path,
            "must be an http(s) URL without a query, e.g. http://backstage:7007/api/catalog",
        ));
    }
    let token = match map.get("token") {
        None => None,
        Some(Value::String(token)) if !token.is_empty() => Some(Secret::new(token.clone())),
        Some(_) => {
            return Err(issue(
                &format!("{path}.token"),
                "must be a non-empty string",
            ));
        }
    };
    Ok(CatalogSource::Api {
        url,
        token,
        timeout: DEFAULT_CATALOG_TIMEOUT,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_catalog_sources() {
        let base = Path::new("/etc/stagepass");
        let file =
            parse_catalog(&json!({"file": "catalog.yaml"}), "stagepass.catalog", base).unwrap();
        assert!(
            matches!(file.source, CatalogSource::File(p) if p == Path::new("/etc/stagepass/catalog.yaml"))
        );
        assert_eq!(file.fresh_for, DEFAULT_FRESH_FOR);
        let api = parse_catalog(
            &json!({"url": "http://backstage:7007/api/catalog", "token": "s3cret"}),
            "c",
            base,
        )
        .unwrap();
        let CatalogSource::Api { url, token, .. } = api.source else {
            panic!()
        };
        assert_eq!(url.as_str(), "http://backstage:7007/api/catalog");
        assert_eq!(format!("{token:?}"), "Some(***)");
    }

    #[test]
    fn rejects_bad_catalog_sources() {
        let base = Path::new("/");
        for bad in [
            json!({"file": "a", "url": "http://x"}),
            json!({}),
            json!({"file": "a", "token": "t"}),
            json!({"url": "ftp://x"}),
            json!({"url": "http://x", "tokn": "t"}),
            json!("catalog.yaml"),
        ] {
            assert!(
                parse_catalog(&bad, "stagepass.catalog", base).is_err(),
                "{bad}"
            );
        }
    }
}
