//! Sign-in resolver configuration, `auth.providers.<id>.<env>.signIn.resolvers`,
//! and its parser, called by the config loader.

use serde_json::{Map, Value};

/// A config problem: (key path, message), as the config loader reports them.
pub type ConfigIssue = (String, String);

/// One entry of `signIn.resolvers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverConfig {
    pub kind: ResolverKind,
    /// `allowedDomains`, lower-cased: the email's domain must be one of them.
    pub allowed_domains: Option<Vec<String>>,
    /// `dangerouslyAllowSignInWithoutUserInCatalog`.
    pub allow_without_catalog_user: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolverKind {
    EmailMatchingUserEntityProfileEmail,
    EmailLocalPartMatchingUserEntityName,
    EmailMatchingUserEntityAnnotation { annotation: String },
    PreferredUsernameMatchingUserEntityName,
    SubMatchingUserEntityName,
}

const KNOWN_RESOLVERS: &[&str] = &[
    "emailMatchingUserEntityProfileEmail",
    "emailLocalPartMatchingUserEntityName",
    "emailMatchingUserEntityAnnotation",
    "preferredUsernameMatchingUserEntityName",
    "subMatchingUserEntityName",
];

const ALLOW_KEY: &str = "dangerouslyAllowSignInWithoutUserInCatalog";
const DOMAINS_KEY: &str = "allowedDomains";
const ANNOTATION_KEY: &str = "annotation";

impl ResolverKind {
    pub fn name(&self) -> &'static str {
        match self {
            ResolverKind::EmailMatchingUserEntityProfileEmail => KNOWN_RESOLVERS[0],
            ResolverKind::EmailLocalPartMatchingUserEntityName => KNOWN_RESOLVERS[1],
            ResolverKind::EmailMatchingUserEntityAnnotation { .. } => KNOWN_RESOLVERS[2],
            ResolverKind::PreferredUsernameMatchingUserEntityName => KNOWN_RESOLVERS[3],
            ResolverKind::SubMatchingUserEntityName => KNOWN_RESOLVERS[4],
        }
    }

    /// Options besides `resolver` that this resolver accepts. Email-based
    /// resolvers all take `allowedDomains`: older Backstage releases accepted
    /// it on the profile-email resolver too, and an admin who wrote it wants it
    /// enforced.
    fn options(name: &str) -> &'static [&'static str] {
        match name {
            "emailMatchingUserEntityAnnotation" => &[ANNOTATION_KEY, DOMAINS_KEY, ALLOW_KEY],
            "preferredUsernameMatchingUserEntityName" | "subMatchingUserEntityName" => &[ALLOW_KEY],
            _ => &[DOMAINS_KEY, ALLOW_KEY],
        }
    }
}

/// Parses a `signIn.resolvers` list. `path` is its key path, e.g.
/// `auth.providers.google.production.signIn.resolvers`; the provider id in it
/// picks the default annotation of `emailMatchingUserEntityAnnotation`, as
/// Backstage's provider modules do.
pub fn parse_resolvers(value: &Value, path: &str) -> Result<Vec<ResolverConfig>, Vec<ConfigIssue>> {
    let Some(items) = value.as_array() else {
        return Err(vec![issue(
            path,
            "must be a list of {resolver: <name>, ...}",
        )]);
    };
    if items.is_empty() {
        return Err(vec![issue(
            path,
            "lists no resolver, so nobody could sign in",
        )]);
    }
    let mut resolvers = Vec::new();
    let mut issues = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match parse_resolver(item, &format!("{path}[{index}]"), provider_id(path)) {
            Ok(resolver) => resolvers.push(resolver),
            Err(mut more) => issues.append(&mut more),
        }
    }
    if issues.is_empty() {
        Ok(resolvers)
    } else {
        Err(issues)
    }
}

fn parse_resolver(
    item: &Value,
    path: &str,
    provider: Option<&str>,
) -> Result<ResolverConfig, Vec<ConfigIssue>> {
    let Some(map) = item.as_object() else {
        return Err(vec![issue(
            path,
            "must be a map like {resolver: emailMatchingUserEntityProfileEmail}",
        )]);
    };
    let name = match map.get("resolver") {
        Some(Value::String(name)) => name.as_str(),
        Some(_) => return Err(vec![issue(&format!("{path}.resolver"), "must be a string")]),
        None => return Err(vec![issue(path, "needs `resolver: <name>`")]),
    };
    if !KNOWN_RESOLVERS.contains(&name) {
        let message = format!(
            "unknown sign-in resolver '{name}'; known: {}",
            KNOWN_RESOLVERS.join(", ")
        );
        return Err(vec![issue(&format!("{path}.resolver"), &message)]);
    }
    let mut issues = unknown_options(map, name, path);
    let allow = parse_bool(map, ALLOW_KEY, path).unwrap_or_else(|e| {
        issues.push(e);
        false
    });
    let domains = parse_domains(map, path).unwrap_or_else(|mut e| {
        issues.append(&mut e);
        None
    });
    let kind = resolver_kind(name, map, path, provider).map_err(|e| issues.push(e));
    match kind {
        Ok(kind) if issues.is_empty() => Ok(ResolverConfig {
            kind,
            allowed_domains: domains,
            allow_without_catalog_user: allow,
        }),
        _ => Err(issues),
    }
}

fn unknown_options(map: &Map<String, Value>, name: &str, path: &str) -> Vec<ConfigIssue> {
    let accepted = ResolverKind::options(name);
    map.keys()
        .filter(|key| *key != "resolver" && !accepted.contains(&key.as_str()))
        .map(|key| {
            let message = format!(
                "'{name}' has no option '{key}'; it accepts: {}",
                accepted.join(", ")
            );
            issue(&format!("{path}.{key}"), &message)
        })
        .collect()
}

fn resolver_kind(
    name: &str,
    map: &Map<String, Value>,
    path: &str,
    provider: Option<&str>,
) -> Result<ResolverKind, ConfigIssue> {
    Ok(match name {
        "emailMatchingUserEntityProfileEmail" => ResolverKind::EmailMatchingUserEntityProfileEmail,
        "emailLocalPartMatchingUserEntityName" => {
            ResolverKind::EmailLocalPartMatchingUserEntityName
        }
        "preferredUsernameMatchingUserEntityName" => {
            ResolverKind::PreferredUsernameMatchingUserEntityName
        }
        "subMatchingUserEntityName" => ResolverKind::SubMatchingUserEntityName,
        _ => ResolverKind::EmailMatchingUserEntityAnnotation {
            annotation: parse_annotation(map, path, provider)?,
        },
    })
}

/// Backstage has no provider-neutral annotation resolver: each provider module
/// hard-codes its own annotation. Those defaults apply to those provider ids;
/// any other provider must name the annotation.
fn parse_annotation(
    map: &Map<String, Value>,
    path: &str,
    provider: Option<&str>,
) -> Result<String, ConfigIssue> {
    match map.get(ANNOTATION_KEY) {
        Some(Value::String(name)) if !name.trim().is_empty() => Ok(name.trim().to_string()),
        Some(_) => Err(issue(&format!("{path}.{ANNOTATION_KEY}"), "must be an annotation name like example.com/email")),
        None => default_annotation(provider).map(str::to_string).ok_or_else(|| {
            issue(path, "needs `annotation: <name>` (the User annotation that holds the email, e.g. example.com/email)")
        }),
    }
}

fn default_annotation(provider: Option<&str>) -> Option<&'static str> {
    match provider? {
        "google" => Some("google.com/email"),
        "microsoft" => Some("microsoft.com/email"),
        "okta" => Some("okta.com/email"),
        _ => None,
    }
}

fn provider_id(path: &str) -> Option<&str> {
    path.strip_prefix("auth.providers.")?.split('.').next()
}

fn parse_bool(map: &Map<String, Value>, key: &str, path: &str) -> Result<bool, ConfigIssue> {
    match map.get(key) {
        None => Ok(false),
        Some(Value::Bool(value)) => Ok(*value),
        Some(_) => Err(issue(&format!("{path}.{key}"), "must be true or false")),
    }
}

fn parse_domains(
    map: &Map<String, Value>,
    path: &str,
) -> Result<Option<Vec<String>>, Vec<ConfigIssue>> {
    let path = format!("{path}.{DOMAINS_KEY}");
    let Some(value) = map.get(DOMAINS_KEY) else {
        return Ok(None);
    };
    let Some(items) = value.as_array() else {
        return Err(vec![issue(
            &path,
            "must be a list of domains like [example.com]",
        )]);
    };
    if items.is_empty() {
        return Err(vec![issue(
            &path,
            "is empty, so no email could sign in; list domains or remove it",
        )]);
    }
    let mut domains = Vec::new();
    let mut issues = Vec::new();
    for (index, item) in items.iter().enumerate() {
        match item.as_str().map(str::trim) {
            Some(domain) if !domain.is_empty() && !domain.contains('@') => {
                domains.push(domain.to_lowercase())
            }
            _ => issues.push(issue(
                &format!("{path}[{index}]"),
                "must be a domain like example.com, without @",
            )),
        }
    }
    if issues.is_empty() {
        Ok(Some(domains))
    } else {
        Err(issues)
    }
}

pub(crate) fn issue(path: &str, message: &str) -> ConfigIssue {
    (path.to_string(), message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PATH: &str = "auth.providers.google.production.signIn.resolvers";

    #[test]
    fn parses_every_resolver_with_options() {
        let value = json!([
            {"resolver": "emailMatchingUserEntityProfileEmail"},
            {"resolver": "emailLocalPartMatchingUserEntityName", "allowedDomains": ["Example.com"]},
            {"resolver": "emailMatchingUserEntityAnnotation"},
            {"resolver": "emailMatchingUserEntityAnnotation", "annotation": "corp.io/mail"},
            {"resolver": "preferredUsernameMatchingUserEntityName"},
            {"resolver": "subMatchingUserEntityName", "dangerouslyAllowSignInWithoutUserInCatalog": true}
        ]);
        let resolvers = parse_resolvers(&value, PATH).unwrap();
        assert_eq!(resolvers.len(), 6);
        assert_eq!(
            resolvers[1].allowed_domains,
            Some(vec!["example.com".to_string()])
        );
        let annotation = |r: &ResolverConfig| match &r.kind {
            ResolverKind::EmailMatchingUserEntityAnnotation { annotation } => annotation.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(annotation(&resolvers[2]), "google.com/email");
        assert_eq!(annotation(&resolvers[3]), "corp.io/mail");
        assert!(resolvers[5].allow_without_catalog_user);
        assert!(!resolvers[0].allow_without_catalog_user);
    }

    #[test]
    fn unknown_resolver_lists_the_known_ones() {
        let issues = parse_resolvers(&json!([{"resolver": "emailMatching"}]), PATH).unwrap_err();
        assert_eq!(issues[0].0, format!("{PATH}[0].resolver"));
        assert!(
            issues[0]
                .1
                .contains("unknown sign-in resolver 'emailMatching'")
        );
        for known in KNOWN_RESOLVERS {
            assert!(issues[0].1.contains(known));
        }
    }

    #[test]
    fn reports_every_bad_option() {
        let value = json!([
            {"resolver": "subMatchingUserEntityName", "allowedDomains": ["x.com"]},
            {"resolver": "emailLocalPartMatchingUserEntityName", "allowedDomains": [], "dangerouslyAllowSignInWithoutUserInCatalog": "yes"},
            {"resolver": "emailLocalPartMatchingUserEntityName", "allowedDomains": ["@x.com"]},
            "emailMatchingUserEntityProfileEmail"
        ]);
        let issues = parse_resolvers(&value, PATH).unwrap_err();
        let paths: Vec<&str> = issues.iter().map(|(p, _)| p.as_str()).collect();
        assert!(
            paths.contains(&format!("{PATH}[0].allowedDomains").as_str()),
            "{issues:?}"
        );
        assert!(paths.contains(&format!("{PATH}[1].allowedDomains").as_str()));
        assert!(
            paths.contains(
                &format!("{PATH}[1].dangerouslyAllowSignInWithoutUserInCatalog").as_str()
            )
        );
        assert!(paths.contains(&format!("{PATH}[2].allowedDomains[0]").as_str()));
        assert!(paths.contains(&format!("{PATH}[3]").as_str()));
    }

    #[test]
    fn annotation_needs_a_name_outside_known_providers() {
        let value = json!([{"resolver": "emailMatchingUserEntityAnnotation"}]);
        let issues = parse_resolvers(&value, "auth.providers.oidc.development.signIn.resolvers")
            .unwrap_err();
        assert!(issues[0].1.contains("annotation"));
        assert!(parse_resolvers(&json!([]), PATH).is_err());
        assert!(parse_resolvers(&json!({}), PATH).is_err());
    }
}
