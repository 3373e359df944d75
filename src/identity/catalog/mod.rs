//! Where User entities are looked up: a catalog file or Backstage's catalog API.

mod api;
mod file;

use std::fmt;

pub(crate) use api::ApiCatalog;
pub(crate) use file::{FileCatalog, RECHECK_EVERY as FILE_RECHECK_EVERY};

use super::entity::Entity;

/// One catalog question a resolver asks. Every lookup is for kind User.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// `spec.profile.email` equals this, case-insensitively.
    ProfileEmail(String),
    /// The entity `user:default/<name>`.
    UserName(String),
    /// `metadata.annotations.<key>` equals the value, case-insensitively.
    Annotation { key: String, value: String },
}

impl fmt::Display for Lookup {
    /// Phrased to complete "no User entity in the catalog ...".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lookup::ProfileEmail(email) => write!(f, "has spec.profile.email {email}"),
            Lookup::UserName(name) => write!(f, "is named user:default/{}", name.to_lowercase()),
            Lookup::Annotation { key, value } => write!(f, "has annotation {key}: {value}"),
        }
    }
}

impl Lookup {
    /// Whether every value can go into a catalog `filter` as one statement:
    /// Backstage splits the decoded filter on `,` and each statement at `=`.
    pub fn is_safe_in_a_filter(&self) -> bool {
        let safe = |text: &str| !text.contains([',', '=']);
        match self {
            Lookup::ProfileEmail(email) => safe(email),
            Lookup::UserName(_) => true,
            Lookup::Annotation { key, value } => safe(key) && safe(value),
        }
    }

    /// Whether a User entity answers this lookup. The catalog API compares
    /// case-insensitively, so the file catalog does too.
    pub fn matches(&self, entity: &Entity) -> bool {
        let same = |a: &str, b: &str| a.to_lowercase() == b.to_lowercase();
        entity.is_kind("user")
            && match self {
                Lookup::ProfileEmail(email) => entity
                    .spec
                    .profile
                    .email
                    .as_deref()
                    .is_some_and(|e| same(e, email)),
                Lookup::UserName(name) => {
                    same(entity.namespace(), super::entity::DEFAULT_NAMESPACE)
                        && same(&entity.metadata.name, name)
                }
                Lookup::Annotation { key, value } => entity
                    .metadata
                    .annotations
                    .get(key)
                    .is_some_and(|v| same(v, value)),
            }
    }
}

/// The catalog could not answer (unreachable, refused, malformed answer).
/// Never carries a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unavailable(pub String);

/// A user for a development sign-in page that lists the catalog's users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogUser {
    /// `user:<namespace>/<name>`, lower-cased.
    pub entity_ref: String,
    /// `metadata.name` as written in the catalog.
    pub name: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub picture: Option<String>,
}

impl CatalogUser {
    pub(crate) fn from_entity(entity: &Entity) -> Self {
        let profile = &entity.spec.profile;
        CatalogUser {
            entity_ref: entity.entity_ref(),
            name: entity.metadata.name.clone(),
            display_name: profile.display_name.clone(),
            email: profile.email.clone(),
            picture: profile.picture.clone(),
        }
    }
}

pub(crate) enum Catalog {
    File(FileCatalog),
    /// Boxed: the HTTP client is large and there is one catalog per process.
    Api(Box<ApiCatalog>),
}

impl Catalog {
    /// Every User entity that answers the lookup (several means ambiguity).
    pub async fn find_users(&self, lookup: &Lookup) -> Result<Vec<Entity>, Unavailable> {
        match self {
            Catalog::File(file) => Ok(file.find_users(lookup).await),
            Catalog::Api(api) => api.find_users(lookup).await,
        }
    }

    pub async fn list_users(&self) -> Result<Vec<CatalogUser>, Unavailable> {
        let users = match self {
            Catalog::File(file) => file.list_users().await,
            Catalog::Api(api) => api.list_users().await?,
        };
        Ok(users.iter().map(CatalogUser::from_entity).collect())
    }
}
