//! `stagepass.headers`: which identity headers go upstream and what fills
//! them. The names are oauth2-proxy's, so apps and Backstage's proxy-based
//! providers that read them work unchanged.

use super::field::{Field, Problems};
use super::types::StagepassConfig;

const KEYS: &[&str] = &[
    "user",
    "groups",
    "passAccessToken",
    "passIdToken",
    "passAuthorizationHeader",
];

/// What fills `X-Forwarded-User`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserValue {
    /// The ID token's `sub`: stable, but opaque at most IdPs.
    Subject,
    PreferredUsername,
    Email,
    /// The name of the catalog User the person resolved to (needs a catalog).
    Entity,
}

/// Where `X-Forwarded-Groups` comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupsSource {
    /// The IdP's `groups` claim.
    Idp,
    /// The resolved identity's ownership refs (`group:default/team-a`).
    Catalog,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadersConfig {
    pub user: UserValue,
    pub groups: GroupsSource,
    /// `X-Forwarded-Access-Token`: the IdP's access token (kept in the
    /// session cookie only when this is on).
    pub pass_access_token: bool,
    /// `X-OAUTH2-PROXY-ID-TOKEN: Bearer <id_token>`, what Backstage's
    /// `oauth2Proxy` provider reads.
    pub pass_id_token: bool,
    /// `Authorization: Bearer <id_token>`, as oauth2-proxy's
    /// `--pass-authorization-header`.
    pub pass_authorization_header: bool,
}

impl Default for HeadersConfig {
    fn default() -> Self {
        HeadersConfig {
            user: UserValue::Subject,
            groups: GroupsSource::Idp,
            pass_access_token: false,
            pass_id_token: false,
            pass_authorization_header: false,
        }
    }
}

impl HeadersConfig {
    /// Whether any header needs the catalog identity.
    pub fn needs_catalog(&self) -> bool {
        self.user == UserValue::Entity || self.groups == GroupsSource::Catalog
    }
}

pub(super) fn headers(section: &Field, problems: &mut Problems) -> HeadersConfig {
    let default = HeadersConfig::default();
    if section.map(problems).is_none() {
        return default;
    }
    section.reject_unknown_keys(problems, KEYS);
    let flag = |key: &str, problems: &mut Problems| {
        super::backstage::flag(&section.child(key), false, problems)
    };
    HeadersConfig {
        user: section
            .child("user")
            .optional(problems, default.user, user_value),
        groups: section
            .child("groups")
            .optional(problems, default.groups, groups_source),
        pass_access_token: flag("passAccessToken", problems),
        pass_id_token: flag("passIdToken", problems),
        pass_authorization_header: flag("passAuthorizationHeader", problems),
    }
}

fn user_value(field: &Field) -> Result<UserValue, String> {
    match field.text()?.as_str() {
        "sub" => Ok(UserValue::Subject),
        "preferred_username" => Ok(UserValue::PreferredUsername),
        "email" => Ok(UserValue::Email),
        "entity" => Ok(UserValue::Entity),
        _ => Err(format!(
            "expected sub, preferred_username, email or entity, got {}",
            field.got()
        )),
    }
}

fn groups_source(field: &Field) -> Result<GroupsSource, String> {
    match field.text()?.as_str() {
        "idp" => Ok(GroupsSource::Idp),
        "catalog" => Ok(GroupsSource::Catalog),
        _ => Err(format!("expected idp or catalog, got {}", field.got())),
    }
}

/// Header options that need something else configured, or that would put
/// two values into one header: for `stagepass.headers` and every route's.
pub(super) fn check_header_sources(stagepass: &StagepassConfig, problems: &mut Problems) {
    let routes = stagepass.routes.iter().enumerate();
    let per_route = routes.filter_map(|(index, route)| {
        let headers = route.headers.as_ref()?;
        Some((format!("stagepass.routes[{index}].headers"), headers))
    });
    let all =
        std::iter::once(("stagepass.headers".to_owned(), &stagepass.headers)).chain(per_route);
    for (path, headers) in all {
        check_headers(stagepass, &path, headers, problems);
    }
}

fn check_headers(
    stagepass: &StagepassConfig,
    path: &str,
    headers: &HeadersConfig,
    problems: &mut Problems,
) {
    if stagepass.catalog.is_none() {
        let needs = "needs the catalog identity: configure sign-in resolvers and stagepass.catalog";
        if headers.user == UserValue::Entity {
            problems.add(&format!("{path}.user"), format!("entity {needs}"));
        }
        if headers.groups == GroupsSource::Catalog {
            problems.add(&format!("{path}.groups"), format!("catalog {needs}"));
        }
    }
    if headers.pass_authorization_header && stagepass.backstage_token_in_authorization() {
        problems.add(
            &format!("{path}.passAuthorizationHeader"),
            "Authorization already carries the Backstage token; set stagepass.backstageToken.enabled \
             to false or stagepass.backstageToken.header to another header",
        );
    }
}
