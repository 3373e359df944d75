//! The sections that make stagepass speak Backstage: the catalog people are
//! looked up in, sign-in resolvers, the guest provider, and the key store
//! and lifetime of the Backstage tokens stagepass mints.

use std::path::Path;

use http::HeaderName;
use serde_json::Value;
use url::Url;

use super::field::{Field, Problems};
use super::types::GuestConfig;
use super::{
    CatalogConfig, CatalogSource, ConfigIssue, ResolverConfig, TokenConfig, clamp_token_expiration,
    parse_catalog, parse_key_store, parse_resolvers, requested_token_expiration,
};

/// The provider id that means Backstage's guest sign-in.
pub const GUEST: &str = "guest";
const DEFAULT_CATALOG_FILE: &str = "catalog.yaml";

/// `stagepass.catalog`, or the default `catalog.yaml` next to the first
/// config file when something needs a catalog and none is configured.
pub fn catalog(
    field: &Field,
    needed: bool,
    base_dir: &Path,
    problems: &mut Problems,
) -> Option<CatalogConfig> {
    match field.value {
        Some(value) => {
            let mut catalog = collect(problems, parse_catalog(value, &field.path, base_dir))?;
            let ca = field.child("caFile");
            catalog.ca_file =
                ca.optional(problems, None, |f| super::outbound::ca_file(f).map(Some));
            Some(catalog)
        }
        None if needed => Some(CatalogConfig::new(CatalogSource::File(
            base_dir.join(DEFAULT_CATALOG_FILE),
        ))),
        None => None,
    }
}

/// `signIn.resolvers` of a provider entry; none when `signIn` is absent.
pub fn resolvers(entry: &Field, problems: &mut Problems) -> Vec<ResolverConfig> {
    let field = entry.child("signIn").child("resolvers");
    match field.value {
        Some(value) => collect(problems, parse_resolvers(value, &field.path)).unwrap_or_default(),
        None => Vec::new(),
    }
}

/// `auth.providers.guest`, which refuses to run outside development unless
/// told so explicitly, as Backstage's guest provider does.
pub fn guest(auth: &Field, environment: &str, problems: &mut Problems) -> GuestConfig {
    let field = auth.child("providers").child(GUEST);
    // Other keys (Backstage's `userEntityRef`, ...) belong to Backstage.
    field.map(problems);
    let allow_outside_development = flag(
        &field.child("dangerouslyAllowOutsideDevelopment"),
        false,
        problems,
    );
    let written = auth.child("environment").is_set();
    if !written && !allow_outside_development {
        // A missing or misspelt key must not mean "anyone is anyone".
        problems.add(
            "auth.environment",
            "the guest provider signs anyone in as any catalog user, so it needs \
             auth.environment: development written out (it is missing, and only defaults to development)",
        );
    } else if environment != "development" && !allow_outside_development {
        problems.add(
            "stagepass.provider",
            format!(
                "the guest provider signs anyone in as any catalog user; auth.environment is \"{environment}\", \
                 so it is refused unless auth.providers.guest.dangerouslyAllowOutsideDevelopment is true"
            ),
        );
    }
    problems.warn(
        "auth.providers.guest",
        "guest sign-in is on: anyone who can reach stagepass signs in as any catalog user; \
         for development only",
    );
    GuestConfig {
        allow_outside_development,
    }
}

/// `auth.keyStore`, `auth.backstageTokenExpiration` and the token issuer.
pub fn token(
    auth: &Field,
    public_url: Option<&Url>,
    base_dir: &Path,
    problems: &mut Problems,
) -> TokenConfig {
    let store = auth.child("keyStore");
    let expiry = auth.child("backstageTokenExpiration");
    let null = Value::Null;
    let key_store = collect(
        problems,
        parse_key_store(store.value.unwrap_or(&null), &store.path, base_dir),
    )
    .flatten();
    let requested = collect(
        problems,
        requested_token_expiration(expiry.value.unwrap_or(&null), &expiry.path),
    );
    let fallback: Url = "http://localhost".parse().expect("valid URL");
    let mut token = TokenConfig::new(public_url.unwrap_or(&fallback));
    token.key_store = key_store;
    if let Some(requested) = requested {
        let used = clamp_token_expiration(requested);
        if used != requested {
            // A warning, not a problem: Backstage accepts and clamps it too.
            problems.warn(
                &expiry.path,
                format!(
                    "{} s is outside 10 minutes to 24 hours; Backstage tokens last {} s, clamped as Backstage does",
                    requested.as_secs(),
                    used.as_secs()
                ),
            );
        }
        token.backstage_token_expiration = used;
    }
    token
}

/// A header name option such as `stagepass.assertion.header`; `extra`
/// names further keys the section may hold.
pub fn header_name(
    section: &Field,
    default: &'static str,
    extra: &[&str],
    problems: &mut Problems,
) -> HeaderName {
    section.map(problems);
    let mut known = vec!["header"];
    known.extend_from_slice(extra);
    section.reject_unknown_keys(problems, &known);
    let field = section.child("header");
    field.optional(problems, HeaderName::from_static(default), |f| {
        let text = f.text()?;
        HeaderName::try_from(text.as_str())
            .map_err(|_| format!("{} is not a valid header name", f.got()))
    })
}

/// A true/false option; `default` when absent.
pub fn flag(field: &Field, default: bool, problems: &mut Problems) -> bool {
    field.optional(problems, default, |f| match f.value {
        Some(Value::Bool(b)) => Ok(*b),
        _ => Err(format!("expected true or false, got {}", f.got())),
    })
}

fn collect<T>(problems: &mut Problems, result: Result<T, Vec<ConfigIssue>>) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(issues) => {
            for (path, message) in issues {
                problems.add(&path, message);
            }
            None
        }
    }
}
