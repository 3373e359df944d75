//! Routes and who may reach them (`stagepass.routes`): the longest matching
//! prefix of the normalised path decides whether sign-in is needed, which
//! upstream serves the request, and which people are allowed.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::StatusCode;
use http::header::HeaderName;

use super::client_error;
use super::headers::PersonHeaders;
use crate::config::{AllowConfig, RouteBearer, StagepassConfig};
use crate::error::Error;
use crate::metrics::Metrics;
use crate::proxy::Forwarder;
use crate::session::Session;

pub(super) struct Route {
    pub path: String,
    pub public: bool,
    pub allow: Option<AllowConfig>,
    /// This route's own upstream; the default one when `None`.
    pub forwarder: Option<Forwarder>,
    pub bearer: RouteBearer,
    /// This route's identity headers (`routes[].headers`); the gate's when
    /// `None`.
    pub person: Option<PersonHeaders>,
    /// The client headers stripped on this route, when they differ from
    /// the gate's (other identity headers, no Backstage token).
    pub owned_headers: Option<Vec<HeaderName>>,
    /// Whether the Backstage token goes along: by default only to the
    /// default upstream, since any app that gets it can use it as the
    /// person (against Backstage, and against stagepass as a bearer token).
    pub backstage_token: bool,
    /// `aud` of this route's assertions when it is not the default
    /// upstream's origin.
    pub audience: Option<String>,
}

impl Route {
    fn new(
        config: &StagepassConfig,
        route: &crate::config::RouteConfig,
        metrics: &Arc<Metrics>,
    ) -> Result<Self, String> {
        let forwarder = |url: &url::Url| Forwarder::to(config, url, Arc::clone(metrics));
        let backstage_token = route.backstage_token.unwrap_or(route.upstream.is_none());
        let owned_headers = (route.headers.is_some() || !backstage_token).then(|| {
            let headers = route.headers.as_ref().unwrap_or(&config.headers);
            super::owned_headers(config, headers, backstage_token)
        });
        Ok(Route {
            path: route.path.clone(),
            public: route.public,
            allow: route.allow.clone(),
            forwarder: route.upstream.as_ref().map(forwarder).transpose()?,
            bearer: route.bearer,
            person: route.headers.clone().map(PersonHeaders::new),
            owned_headers,
            backstage_token,
            audience: route.assertion_audience.clone().or_else(|| {
                let own = route.upstream.as_ref()?.origin().ascii_serialization();
                (own != config.upstream.origin().ascii_serialization()).then_some(own)
            }),
        })
    }

    /// Whether what this route injects differs from the default: its
    /// injections are then kept apart from the default ones.
    pub fn has_own_injection(&self) -> bool {
        self.person.is_some() || self.audience.is_some() || !self.backstage_token
    }
}

pub(super) struct RouteTable {
    /// Longest path first, so the first match is the longest prefix.
    routes: Vec<Route>,
}

/// Who is asking, as the rules see them.
pub(super) struct Person<'a> {
    /// The catalog User ref, or the IdP subject without a catalog.
    pub user: &'a str,
    /// Ownership refs from the catalog, or the IdP's groups without one.
    pub groups: &'a [String],
    pub email: Option<&'a str>,
    /// The claims route rules read, as the session keeps them.
    pub claims: &'a BTreeMap<String, Vec<String>>,
}

impl RouteTable {
    pub fn new(config: &StagepassConfig, metrics: &Arc<Metrics>) -> Result<Self, String> {
        let mut routes = (config.routes.iter())
            .map(|route| Route::new(config, route, metrics))
            .collect::<Result<Vec<_>, String>>()?;
        routes.sort_by_key(|route| std::cmp::Reverse(route.path.len()));
        Ok(RouteTable { routes })
    }

    /// The route for a normalised path, matched segment by segment. A path
    /// that names a more specific route in another spelling is refused
    /// rather than matched to a broader one: Express (and so Backstage)
    /// routes without regard to letter case, and Tomcat, Jetty and Spring
    /// drop a segment's `;parameters`, so `/ADMIN/x` or `/admin;a/x` may be
    /// `/admin/x` to the app while its rules say otherwise.
    pub fn find(&self, path: &str) -> Result<Option<&Route>, Error> {
        let found = self.routes.iter().find(|route| covers(&route.path, path));
        // Only a more specific route can be walked around this way; one as
        // long as the match differs only in spelling from it.
        let matched_len = found.map_or(0, |route| route.path.len());
        let other_spelling = (self.routes.iter())
            .take_while(|route| route.path.len() > matched_len)
            .find(|route| covers_loosely(&route.path, path));
        match other_spelling {
            Some(route) => Err(client_error(
                StatusCode::BAD_REQUEST,
                "ambiguous_path",
                format!(
                    "This address names {} in another spelling (letter case or ;parameters), which apps read differently. Use the address as it is written there.",
                    route.path
                ),
            )),
            None => Ok(found),
        }
    }

    /// Each route upstream's certificate state.
    pub fn readiness(&self) -> impl Iterator<Item = Result<(), String>> + '_ {
        (self.routes.iter())
            .filter_map(|r| r.forwarder.as_ref())
            .map(Forwarder::readiness)
    }

    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Whether any route's identity headers pass the access token on.
    pub fn any_passes_access_token(&self) -> bool {
        (self.routes.iter()).any(|r| {
            r.person
                .as_ref()
                .is_some_and(PersonHeaders::passes_access_token)
        })
    }
}

fn covers(prefix: &str, path: &str) -> bool {
    prefix == "/"
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// [`covers`] as the most lenient upstream reads a path: letters in any
/// case, each segment's `;parameters` left out.
fn covers_loosely(prefix: &str, path: &str) -> bool {
    let mut segments = path.split('/');
    prefix.split('/').all(|wanted| {
        segments.next().is_some_and(|segment| {
            let bare = segment.split(';').next().unwrap_or_default();
            bare.eq_ignore_ascii_case(wanted)
        })
    })
}

impl Person<'_> {
    /// Without a catalog: the session's subject and IdP groups.
    pub fn from_session(session: &Session) -> Person<'_> {
        Person {
            user: &session.subject,
            groups: &session.groups,
            email: session.email.as_deref(),
            claims: &session.claims,
        }
    }
}

/// `Ok` when any one rule of `allow` matches `person`; otherwise the 403
/// that names the route and what it asks for.
pub(super) fn check(route: &Route, allow: &AllowConfig, person: &Person<'_>) -> Result<(), Error> {
    let email = person.email.map(str::to_ascii_lowercase);
    let domain = email
        .as_deref()
        .and_then(|e| e.split_once('@'))
        .filter(|(_, domain)| !domain.contains('@'))
        .map(|(_, domain)| domain);
    let allowed = allow.users.iter().any(|u| u == person.user)
        || allow.groups.iter().any(|g| person.groups.contains(g))
        || email
            .as_deref()
            .is_some_and(|e| allow.emails.iter().any(|a| a == e))
        || domain.is_some_and(|d| allow.email_domains.iter().any(|a| a == d))
        || (allow.claims.iter()).any(|(name, value)| {
            person
                .claims
                .get(name)
                .is_some_and(|values| values.contains(value))
        });
    if allowed {
        return Ok(());
    }
    Err(client_error(
        StatusCode::FORBIDDEN,
        "route_forbidden",
        format!(
            "You are signed in, but {} is only for {}.",
            route.path,
            requirement(allow)
        ),
    )
    .with_detail(format_args!(
        "{} refused on route {}",
        person.user, route.path
    )))
}

fn requirement(allow: &AllowConfig) -> String {
    let mut parts = Vec::new();
    let mut add = |what: &str, items: &[String]| {
        if !items.is_empty() {
            parts.push(format!("{what} {}", items.join(", ")));
        }
    };
    add("the users", &allow.users);
    add("members of", &allow.groups);
    add("the addresses", &allow.emails);
    add("addresses at", &allow.email_domains);
    let claims: Vec<String> = (allow.claims.iter())
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    add("people whose sign-in says", &claims);
    parts.join("; or ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_segments_only() {
        assert!(covers("/admin", "/admin"));
        assert!(covers("/admin", "/admin/users"));
        assert!(!covers("/admin", "/administrator"));
        assert!(!covers("/admin", "/ADMIN"));
        assert!(covers("/", "/anything"));
    }

    fn allow() -> AllowConfig {
        AllowConfig {
            users: vec!["user:default/root".into()],
            groups: vec!["group:default/platform".into()],
            emails: vec!["boss@example.com".into()],
            email_domains: vec!["ops.example.com".into()],
            claims: vec![("department".into(), "platform".into())],
        }
    }

    fn route() -> Route {
        Route {
            path: "/admin".into(),
            public: false,
            allow: Some(allow()),
            forwarder: None,
            bearer: RouteBearer::Verify,
            person: None,
            owned_headers: None,
            backstage_token: true,
            audience: None,
        }
    }

    fn table(paths: &[&str]) -> RouteTable {
        let mut routes: Vec<Route> = (paths.iter())
            .map(|path| Route {
                path: (*path).into(),
                ..route()
            })
            .collect();
        routes.sort_by_key(|route| std::cmp::Reverse(route.path.len()));
        RouteTable { routes }
    }

    fn found(table: &RouteTable, path: &str) -> Result<Option<String>, &'static str> {
        match table.find(path) {
            Ok(route) => Ok(route.map(|r| r.path.clone())),
            Err(err) => Err(err.code),
        }
    }

    #[test]
    fn another_spelling_of_a_more_specific_route_is_refused_never_matched_wider() {
        let routes = table(&["/", "/admin", "/api/admin"]);
        assert_eq!(found(&routes, "/admin/x"), Ok(Some("/admin".into())));
        assert_eq!(found(&routes, "/ADMIN/x"), Err("ambiguous_path"));
        assert_eq!(found(&routes, "/admin;a/x"), Err("ambiguous_path"));
        assert_eq!(found(&routes, "/api/Admin"), Err("ambiguous_path"));
        assert_eq!(found(&routes, "/api/other;a"), Ok(Some("/".into())));
        assert_eq!(found(&routes, "/administrator"), Ok(Some("/".into())));
        // Two routes that differ only in case each keep their own paths.
        let cased = table(&["/Docs", "/docs"]);
        assert_eq!(found(&cased, "/docs/x"), Ok(Some("/docs".into())));
        assert_eq!(found(&cased, "/Docs/x"), Ok(Some("/Docs".into())));
        assert_eq!(found(&cased, "/DOCS/x"), Err("ambiguous_path"));
    }

    static NO_CLAIMS: BTreeMap<String, Vec<String>> = BTreeMap::new();

    fn person<'a>(user: &'a str, groups: &'a [String], email: Option<&'a str>) -> Person<'a> {
        Person {
            user,
            groups,
            email,
            claims: &NO_CLAIMS,
        }
    }

    #[test]
    fn a_claim_rule_matches_the_exact_value_or_a_list_item() {
        let none: Vec<String> = vec![];
        let check_claims = |values: &[&str]| {
            let claims = BTreeMap::from([(
                "department".to_owned(),
                values.iter().map(|v| v.to_string()).collect(),
            )]);
            let who = Person {
                claims: &claims,
                ..person("x", &none, None)
            };
            check(&route(), &allow(), &who).is_ok()
        };
        assert!(check_claims(&["platform"]));
        assert!(check_claims(&["sales", "platform"]));
        assert!(!check_claims(&["Platform"]));
        assert!(!check_claims(&["platform-team"]));
        assert!(!check_claims(&[]));
    }

    #[test]
    fn any_one_rule_allows() {
        let platform = vec!["group:default/platform".to_owned()];
        let none: Vec<String> = vec![];
        assert!(
            check(
                &route(),
                &allow(),
                &person("user:default/root", &none, None)
            )
            .is_ok()
        );
        assert!(
            check(
                &route(),
                &allow(),
                &person("user:default/x", &platform, None)
            )
            .is_ok()
        );
        assert!(
            check(
                &route(),
                &allow(),
                &person("x", &none, Some("BOSS@example.com"))
            )
            .is_ok()
        );
        assert!(
            check(
                &route(),
                &allow(),
                &person("x", &none, Some("a@ops.example.com"))
            )
            .is_ok()
        );
    }

    #[test]
    fn near_misses_are_refused_with_the_route_and_the_rule() {
        let none: Vec<String> = vec![];
        for email in [
            "a@evil-ops.example.com",
            "a@ops.example.com.evil",
            "a@x@ops.example.com",
        ] {
            assert!(
                check(&route(), &allow(), &person("x", &none, Some(email))).is_err(),
                "{email}"
            );
        }
        let err = check(&route(), &allow(), &person("x", &none, None)).unwrap_err();
        assert_eq!(err.status, StatusCode::FORBIDDEN);
        assert!(err.public.contains("/admin is only for"), "{}", err.public);
        assert!(
            err.public.contains("members of group:default/platform"),
            "{}",
            err.public
        );
    }
}
