//! `stagepass.routes`: which paths are public, which go to another
//! upstream, and who may reach them. The longest matching path prefix wins,
//! matched segment by segment on the normalised path (`/admin` matches
//! `/admin` and `/admin/x`, never `/administrator`).

use url::Url;

use super::bearer::{RouteBearer, route_bearer};
use super::field::{Field, Problems};
use super::headers::HeadersConfig;
use super::parse;

const ROUTE_KEYS: &[&str] = &[
    "path",
    "upstream",
    "public",
    "allow",
    "headers",
    "assertion",
    "bearer",
    "backstageToken",
];
const ALLOW_KEYS: &[&str] = &["users", "groups", "emails", "emailDomains", "claims"];
const ASSERTION_KEYS: &[&str] = &["audience"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteConfig {
    /// A normalised path prefix: `/`, `/admin`, `/api/catalog`.
    pub path: String,
    /// Where this route's requests go; `stagepass.upstream` when `None`.
    pub upstream: Option<Url>,
    /// No sign-in needed (identity headers the client sent are still stripped).
    pub public: bool,
    /// Who may reach it; anyone signed in when `None`.
    pub allow: Option<AllowConfig>,
    /// This route's identity headers instead of `stagepass.headers`. On a
    /// public route, asking for them injects the identity of a visitor who
    /// happens to be signed in.
    pub headers: Option<HeadersConfig>,
    /// `assertion.audience`: `aud` of this route's assertions. `None`: the
    /// route upstream's origin.
    pub assertion_audience: Option<String>,
    /// What a client's `Authorization: Bearer` means here.
    pub bearer: RouteBearer,
    /// `backstageToken`: whether the Backstage token goes to this route's
    /// upstream. `None`: only when the route has no upstream of its own.
    pub backstage_token: Option<bool>,
}

/// Any one matching rule allows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowConfig {
    /// User entity refs (`user:default/jane`), or IdP subjects without a catalog.
    pub users: Vec<String>,
    /// Group entity refs (`group:default/platform`), or IdP `groups` values
    /// without a catalog.
    pub groups: Vec<String>,
    /// Exact email addresses, compared without case.
    pub emails: Vec<String>,
    /// The part after the single `@` of the email, compared without case.
    pub email_domains: Vec<String>,
    /// Exact claim-value pairs (`department: platform`): the claim equals
    /// the value, or is a list holding it.
    pub claims: Vec<(String, String)>,
}

impl RouteConfig {
    /// A route at `path` with nothing else said: signed-in people only, the
    /// default upstream, `stagepass.headers`.
    pub fn at(path: &str) -> Self {
        RouteConfig {
            path: path.to_owned(),
            upstream: None,
            public: false,
            allow: None,
            headers: None,
            assertion_audience: None,
            bearer: RouteBearer::Verify,
            backstage_token: None,
        }
    }

    /// Names of the claims this route's rules read.
    pub fn claim_names(&self) -> impl Iterator<Item = &str> {
        self.allow
            .iter()
            .flat_map(|allow| allow.claims.iter().map(|(name, _)| name.as_str()))
    }
}

pub(super) fn routes(section: &Field, problems: &mut Problems) -> Vec<RouteConfig> {
    let mut routes: Vec<RouteConfig> = Vec::new();
    for item in section.items() {
        let Some(route) = route(&item, problems) else {
            continue;
        };
        if routes.iter().any(|seen| seen.path == route.path) {
            problems.add(
                &item.child("path").path,
                format!(
                    "{} is already a route: only the first would ever match",
                    route.path
                ),
            );
            continue;
        }
        routes.push(route);
    }
    routes
}

fn route(item: &Field, problems: &mut Problems) -> Option<RouteConfig> {
    item.map(problems)?;
    item.reject_unknown_keys(problems, ROUTE_KEYS);
    let path = item.child("path").required(problems, route_path);
    let upstream = item.child("upstream").optional(problems, None, |f| {
        let url = parse::upstream_url(f)?;
        if url.as_str() == super::WHOAMI_UPSTREAM {
            return Err("builtin:whoami can only be stagepass.upstream".to_owned());
        }
        Ok(Some(url))
    });
    let public = super::backstage::flag(&item.child("public"), false, problems);
    let allow_field = item.child("allow");
    let allow = allow_field.is_set().then(|| allow(&allow_field, problems));
    if public && allow.is_some() {
        problems.add(
            &allow_field.path,
            "a public route lets everyone in; allow rules on it would never be checked",
        );
    }
    let headers_field = item.child("headers");
    let headers = headers_field
        .is_set()
        .then(|| super::headers::headers(&headers_field, problems));
    let bearer = item
        .child("bearer")
        .optional(problems, RouteBearer::default(), route_bearer);
    if bearer == RouteBearer::Passthrough && allow.is_some() {
        problems.add(
            &allow_field.path,
            "bearer: passthrough lets any bearer request through unchecked; allow rules would not hold there",
        );
    }
    if public && bearer == RouteBearer::Passthrough {
        problems.add(
            &item.child("bearer").path,
            "a public route already forwards every request; passthrough changes nothing there",
        );
    }
    Some(RouteConfig {
        path: path?,
        upstream,
        public,
        allow,
        headers,
        assertion_audience: assertion_audience(&item.child("assertion"), problems),
        bearer,
        backstage_token: item
            .child("backstageToken")
            .optional(problems, None, |f| match f.value {
                Some(serde_json::Value::Bool(b)) => Ok(Some(*b)),
                _ => Err(format!("expected true or false, got {}", f.got())),
            }),
    })
}

/// A plain prefix in the normalised form requests are matched in: starts
/// with `/`, no empty, `.` or `..` segments, no escapes, no trailing `/`
/// (except `/` itself).
fn route_path(field: &Field) -> Result<String, String> {
    let text = field.text()?;
    let segments_ok = text == "/"
        || text.strip_prefix('/').is_some_and(|rest| {
            rest.split('/')
                .all(|s| !s.is_empty() && s != "." && s != "..")
        });
    let plain = !text.contains(['%', '?', '#', '\\']) && !text.chars().any(char::is_control);
    if !segments_ok || !plain {
        return Err(format!(
            "must be a plain path prefix such as /admin (no trailing /, no . or .. segments, no escapes), got {}",
            field.got()
        ));
    }
    Ok(text)
}

fn allow(field: &Field, problems: &mut Problems) -> AllowConfig {
    field.map(problems);
    field.reject_unknown_keys(problems, ALLOW_KEYS);
    let text = |f: &Field| f.text();
    let allow = AllowConfig {
        users: field.child("users").list(problems, text),
        groups: field.child("groups").list(problems, text),
        emails: field
            .child("emails")
            .list(problems, |f| f.text().map(|t| t.to_ascii_lowercase())),
        email_domains: field
            .child("emailDomains")
            .list(problems, |f| f.text().map(|t| t.to_ascii_lowercase())),
        claims: claims(&field.child("claims"), problems),
    };
    if allow == AllowConfig::default() {
        problems.add(
            &field.path,
            "lists nobody: add users, groups, emails, emailDomains or claims (or remove allow)",
        );
    }
    allow
}

/// `claims: {name: value}`; a value may be a string, number or boolean,
/// compared as the text the IdP would send.
fn claims(field: &Field, problems: &mut Problems) -> Vec<(String, String)> {
    let Some(map) = field.map(problems) else {
        return Vec::new();
    };
    let mut pairs = Vec::new();
    for name in map.keys() {
        let value = field.child(name);
        let text = match value.value {
            Some(serde_json::Value::Bool(b)) => Ok(b.to_string()),
            _ => value.text(),
        };
        match text {
            Ok(text) => pairs.push((name.clone(), text)),
            Err(message) => problems.add(&value.path, message),
        }
    }
    pairs
}

fn assertion_audience(field: &Field, problems: &mut Problems) -> Option<String> {
    field.map(problems)?;
    field.reject_unknown_keys(problems, ASSERTION_KEYS);
    field.child("audience").required(problems, |f| {
        let text = f.text()?;
        if text.trim().is_empty() {
            return Err("must not be empty".to_owned());
        }
        if text == "backstage" {
            return Err(
                "backstage is the audience of Backstage tokens; an assertion must not pass for one"
                    .to_owned(),
            );
        }
        Ok(text)
    })
}
