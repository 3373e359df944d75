//! Phase 3 for apps that read headers: the signed-in person as
//! oauth2-proxy's identity headers, filled as `stagepass.headers` says.
//!
//! The same values go upstream as `X-Forwarded-*` on a proxied request and
//! come back as `X-Auth-Request-*` on a forward-auth answer, so one
//! [`PersonField`] list serves both.

use http::header::{HeaderName, HeaderValue};

use crate::config::{GroupsSource, HeadersConfig, UserValue};
use crate::principal::Identity;
use crate::session::Session;

/// One piece of the person a header carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PersonField {
    User,
    Email,
    PreferredUsername,
    Groups,
    AccessToken,
    /// `Bearer <id_token>` for Backstage's `oauth2Proxy` provider.
    IdToken,
    /// `Bearer <id_token>` in `Authorization`.
    AuthorizationIdToken,
}

impl PersonField {
    /// The header on a proxied request (oauth2-proxy's upstream names).
    pub fn upstream_name(self) -> HeaderName {
        HeaderName::from_static(match self {
            PersonField::User => "x-forwarded-user",
            PersonField::Email => "x-forwarded-email",
            PersonField::PreferredUsername => "x-forwarded-preferred-username",
            PersonField::Groups => "x-forwarded-groups",
            PersonField::AccessToken => "x-forwarded-access-token",
            PersonField::IdToken => "x-oauth2-proxy-id-token",
            PersonField::AuthorizationIdToken => "authorization",
        })
    }

    /// The header on a forward-auth answer (oauth2-proxy's `/oauth2/auth`
    /// names, which nginx's `auth_request_set` and Caddy's `copy_headers`
    /// configurations already use).
    pub fn answer_name(self) -> HeaderName {
        HeaderName::from_static(match self {
            PersonField::User => "x-auth-request-user",
            PersonField::Email => "x-auth-request-email",
            PersonField::PreferredUsername => "x-auth-request-preferred-username",
            PersonField::Groups => "x-auth-request-groups",
            PersonField::AccessToken => "x-auth-request-access-token",
            PersonField::IdToken => "x-oauth2-proxy-id-token",
            PersonField::AuthorizationIdToken => "authorization",
        })
    }
}

pub(super) type PersonFields = Vec<(PersonField, HeaderValue)>;

pub(super) struct PersonHeaders {
    config: HeadersConfig,
}

impl PersonHeaders {
    pub fn new(config: HeadersConfig) -> Self {
        PersonHeaders { config }
    }

    pub fn passes_access_token(&self) -> bool {
        self.config.pass_access_token
    }

    /// What the session alone fills in.
    pub fn fill_from_session(&self, session: &Session) -> PersonFields {
        let config = &self.config;
        let mut fields = PersonFields::with_capacity(4);
        let user = match config.user {
            UserValue::Subject => Some(session.subject.as_str()),
            UserValue::PreferredUsername => session.preferred_username.as_deref(),
            UserValue::Email => session.email.as_deref(),
            UserValue::Entity => None,
        };
        push(&mut fields, PersonField::User, user);
        push(&mut fields, PersonField::Email, session.email.as_deref());
        push(
            &mut fields,
            PersonField::PreferredUsername,
            session.preferred_username.as_deref(),
        );
        if config.groups == GroupsSource::Idp {
            let groups = join_groups(&session.groups);
            push(&mut fields, PersonField::Groups, groups.as_deref());
        }
        if config.pass_access_token {
            push(
                &mut fields,
                PersonField::AccessToken,
                session.access_token.as_deref(),
            );
        }
        // Only when a header carries it: an ID token is most of a session.
        let bearer_id_token = (config.pass_id_token || config.pass_authorization_header)
            .then(|| session.id_token.as_ref().map(|t| format!("Bearer {t}")))
            .flatten();
        if config.pass_id_token {
            push(
                &mut fields,
                PersonField::IdToken,
                bearer_id_token.as_deref(),
            );
        }
        if config.pass_authorization_header {
            push(
                &mut fields,
                PersonField::AuthorizationIdToken,
                bearer_id_token.as_deref(),
            );
        }
        fields
    }

    /// What needs the catalog identity; empty unless configured.
    pub fn fill_from_identity(&self, identity: &Identity) -> PersonFields {
        let mut fields = PersonFields::new();
        if self.config.user == UserValue::Entity {
            push(
                &mut fields,
                PersonField::User,
                Some(&entity_user(&identity.user_entity_ref)),
            );
        }
        if self.config.groups == GroupsSource::Catalog {
            let groups = join_groups(&identity.ownership_entity_refs);
            push(&mut fields, PersonField::Groups, groups.as_deref());
        }
        fields
    }
}

/// `user:default/jane` as `jane`, what Backstage's
/// `forwardedUserMatchingUserEntityName` matches; in any other namespace
/// `eng/jane`, so two people in two namespaces never share a name.
fn entity_user(entity_ref: &str) -> String {
    let reference = entity_ref.strip_prefix("user:").unwrap_or(entity_ref);
    match reference.split_once('/') {
        Some(("default", name)) => name.to_owned(),
        _ => reference.to_owned(),
    }
}

fn push(fields: &mut PersonFields, field: PersonField, text: Option<&str>) {
    if let Some(value) = text.and_then(header_value) {
        fields.push((field, value));
    }
}

/// Groups joined with `,` as oauth2-proxy does. A group whose name holds a
/// `,` would read as two groups on the other side, so it is left out.
fn join_groups(groups: &[String]) -> Option<String> {
    let joined = groups
        .iter()
        .filter(|group| !group.contains(','))
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(",");
    (!joined.is_empty()).then_some(joined)
}

/// The value as a header, or `None` when it cannot be one unchanged: a
/// control character (a newline, a tab) or leading or trailing whitespace,
/// which parsers would cut or trim into a different value. Text beyond
/// ASCII passes as its UTF-8 bytes, as oauth2-proxy sends it.
pub(super) fn header_value(text: &str) -> Option<HeaderValue> {
    let fits = !text.is_empty() && text.trim() == text && !text.chars().any(char::is_control);
    if !fits {
        return None;
    }
    HeaderValue::from_str(text).ok()
}

#[cfg(test)]
mod tests;
