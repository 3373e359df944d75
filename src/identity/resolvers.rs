//! Backstage's sign-in resolvers: turn a person's claims into a catalog user.
//!
//! Each resolver makes a plan (the lookups to try, in order, and the name a
//! `dangerouslyAllowSignInWithoutUserInCatalog` fallback would use), then the
//! plan runs against the catalog. As in Backstage, "no such user" moves on to
//! the next resolver and every other failure stops the chain.

use super::catalog::{Catalog, Lookup};
use super::entity::{DEFAULT_NAMESPACE, Entity, stringify_ref};
use super::{Claims, Identity, ResolveError};
use crate::config::{ResolverConfig, ResolverKind};

/// Resolves the claims with the first resolver that finds the user.
pub(crate) async fn resolve_chain(
    resolvers: &[ResolverConfig],
    catalog: &Catalog,
    claims: &Claims,
) -> Result<Identity, ResolveError> {
    let mut tried = Vec::new();
    for resolver in resolvers {
        match run(resolver, catalog, claims).await? {
            Outcome::Found(identity) => return Ok(identity),
            Outcome::NotFound(why) => tried.push(why),
        }
    }
    Err(ResolveError::NotFound { tried })
}

enum Outcome {
    Found(Identity),
    /// Why this resolver found nobody, for the admin.
    NotFound(String),
}

struct Plan {
    lookups: Vec<Lookup>,
    /// The name a `dangerouslyAllowSignInWithoutUserInCatalog` fallback uses.
    fallback_name: String,
}

impl Plan {
    fn by_name(name: &str) -> Self {
        Plan {
            lookups: vec![Lookup::UserName(name.into())],
            fallback_name: name.into(),
        }
    }
}

/// What a resolver will do with these claims.
enum Planned {
    Search(Plan),
    /// Nothing to look up (a claim is missing or unusable): move on.
    Skip(String),
}

async fn run(
    resolver: &ResolverConfig,
    catalog: &Catalog,
    claims: &Claims,
) -> Result<Outcome, ResolveError> {
    let plan = match plan(resolver, claims)? {
        Planned::Search(plan) => plan,
        Planned::Skip(why) => return Ok(Outcome::NotFound(why)),
    };
    for lookup in &plan.lookups {
        let users = catalog
            .find_users(lookup)
            .await
            .map_err(|e| ResolveError::CatalogUnavailable(e.0))?;
        match users.as_slice() {
            [] => continue,
            [user] => return Ok(Outcome::Found(identity_of(user, claims))),
            several => return Err(ambiguous(lookup, several)),
        }
    }
    if resolver.allow_without_catalog_user {
        let identity = uncatalogued_identity(&plan.fallback_name, claims);
        tracing::warn!(resolver = resolver.kind.name(), user = %identity.user_entity_ref,
            "user not in the catalog; signing in anyway (dangerouslyAllowSignInWithoutUserInCatalog)");
        return Ok(Outcome::Found(identity));
    }
    let searched: Vec<String> = plan.lookups.iter().map(ToString::to_string).collect();
    Ok(Outcome::NotFound(format!(
        "{}: no User entity in the catalog {}",
        resolver.kind.name(),
        searched.join(", nor ")
    )))
}

/// The lookups a resolver makes for these claims. An error (a refused email
/// domain) stops the chain.
fn plan(resolver: &ResolverConfig, claims: &Claims) -> Result<Planned, ResolveError> {
    let name = resolver.kind.name();
    let skip = |why: &str| Planned::Skip(format!("{name}: {why}"));
    let by_name = |value: Option<&str>, claim: &str| match value {
        Some(value) => Planned::Search(Plan::by_name(value)),
        None => skip(&format!("the sign-in has no {claim} claim")),
    };
    Ok(match &resolver.kind {
        ResolverKind::PreferredUsernameMatchingUserEntityName => by_name(
            non_empty(claims.preferred_username.as_deref()),
            "preferred_username",
        ),
        ResolverKind::SubMatchingUserEntityName => by_name(non_empty(Some(&claims.subject)), "sub"),
        email_kind => {
            let Some(email) = non_empty(claims.email.as_deref()) else {
                return Ok(skip("the sign-in has no email claim"));
            };
            check_domain(resolver, email)?;
            match email_plan(email_kind, email) {
                Ok(plan) => Planned::Search(plan),
                Err(why) => skip(&why),
            }
        }
    })
}

fn email_plan(kind: &ResolverKind, email: &str) -> Result<Plan, String> {
    match kind {
        ResolverKind::EmailMatchingUserEntityProfileEmail => {
            let mut lookups = vec![Lookup::ProfileEmail(email.into())];
            let untagged = without_plus_tag(email);
            if let Some(untagged) = &untagged {
                lookups.push(Lookup::ProfileEmail(untagged.clone()));
            }
            let fallback_name = untagged.unwrap_or_else(|| email.to_string());
            Ok(Plan {
                lookups,
                fallback_name,
            })
        }
        ResolverKind::EmailLocalPartMatchingUserEntityName => match split_email(email) {
            Some((local, _)) => Ok(Plan::by_name(local)),
            None => Err(format!(
                "email {email} does not have exactly one @, so it has no local part"
            )),
        },
        ResolverKind::EmailMatchingUserEntityAnnotation { annotation } => {
            let lookup = Lookup::Annotation {
                key: annotation.clone(),
                value: email.into(),
            };
            Ok(Plan {
                lookups: vec![lookup],
                fallback_name: email.to_string(),
            })
        }
        other => unreachable!("{} is not email-based", other.name()),
    }
}

/// `allowedDomains`: a refusal stops the chain, as Backstage's NotAllowedError
/// does. An address with more than one `@` has no trustworthy domain and is
/// never allowed.
fn check_domain(resolver: &ResolverConfig, email: &str) -> Result<(), ResolveError> {
    let Some(allowed) = &resolver.allowed_domains else {
        return Ok(());
    };
    let domain = split_email(email).map(|(_, domain)| domain.to_lowercase());
    if domain.is_some_and(|d| allowed.contains(&d)) {
        return Ok(());
    }
    Err(ResolveError::Refused(format!(
        "{}: the email {email} is not from an allowed domain ({})",
        resolver.kind.name(),
        allowed.join(", ")
    )))
}

/// Local part and domain of an address with exactly one `@`, both non-empty.
fn split_email(email: &str) -> Option<(&str, &str)> {
    let (local, domain) = email.split_once('@')?;
    (!local.is_empty() && !domain.is_empty() && !domain.contains('@')).then_some((local, domain))
}

/// `joe+work@acme.com` → `joe@acme.com`, as Backstage retries. `None` when
/// there is no tag to remove.
fn without_plus_tag(email: &str) -> Option<String> {
    let (local, domain) = split_email(email)?;
    let (name, tag) = local.split_once('+')?;
    (!name.is_empty() && !tag.is_empty()).then(|| format!("{name}@{domain}"))
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// The catalog's profile wins; the sign-in's own claims fill the gaps.
fn identity_of(user: &Entity, claims: &Claims) -> Identity {
    let profile = &user.spec.profile;
    Identity {
        user_entity_ref: user.entity_ref(),
        ownership_entity_refs: user.ownership_refs(),
        display_name: profile.display_name.clone().or_else(|| claims.name.clone()),
        email: profile.email.clone().or_else(|| claims.email.clone()),
        picture: profile.picture.clone().or_else(|| claims.picture.clone()),
    }
}

/// Backstage's fallback: `user:default/<name>`, lower-cased, owning only itself.
fn uncatalogued_identity(name: &str, claims: &Claims) -> Identity {
    let user_ref = stringify_ref("user", DEFAULT_NAMESPACE, name);
    Identity {
        ownership_entity_refs: vec![user_ref.clone()],
        user_entity_ref: user_ref,
        display_name: claims.name.clone(),
        email: claims.email.clone(),
        picture: claims.picture.clone(),
    }
}

fn ambiguous(lookup: &Lookup, users: &[Entity]) -> ResolveError {
    let refs: Vec<String> = users.iter().map(Entity::entity_ref).collect();
    ResolveError::Ambiguous(format!(
        "{} User entities in the catalog {lookup} ({}); fix the catalog so that exactly one does",
        users.len(),
        refs.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_only_single_at_addresses() {
        assert_eq!(split_email("a@x.com"), Some(("a", "x.com")));
        assert_eq!(split_email("a@b@x.com"), None);
        assert_eq!(split_email("@x.com"), None);
        assert_eq!(split_email("a@"), None);
        assert_eq!(split_email("plain"), None);
    }

    #[test]
    fn strips_plus_tags() {
        assert_eq!(
            without_plus_tag("joe+work@acme.com").as_deref(),
            Some("joe@acme.com")
        );
        assert_eq!(
            without_plus_tag("joe+a+b@acme.com").as_deref(),
            Some("joe@acme.com")
        );
        assert_eq!(without_plus_tag("joe@acme.com"), None);
        assert_eq!(without_plus_tag("+work@acme.com"), None);
        assert_eq!(without_plus_tag("joe+@acme.com"), None);
        assert_eq!(without_plus_tag("joe+x@a@b.com"), None);
    }
}
