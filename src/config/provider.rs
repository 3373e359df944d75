//! One entry of `auth.providers.<id>.<environment>`: the IdP client
//! (Backstage's OIDC provider keys) plus stagepass's `signIn` additions.

use std::time::Duration;

use serde_json::Value;
use url::Url;

use super::backstage;
use super::field::{Field, Problems};
use super::parse;
use super::types::*;

const DEFAULT_SESSION_DURATION: Duration = Duration::from_secs(24 * 60 * 60);
const DEFAULT_IDP_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_ALGORITHM: &str = "RS256";
/// Always requested: stagepass needs the subject, name and email.
const BASE_SCOPES: &[&str] = &["openid", "profile", "email"];

/// The keys stagepass reads in a provider entry and its `signIn`. Backstage
/// may read more there (fine); a key one edit away from one of these is
/// most likely a typo that leaves a setting at its default without a word
/// (`requireVerifedEmail: true` would leave unverified emails usable).
const PROVIDER_KEYS: &[&str] = &[
    "metadataUrl",
    "clientId",
    "clientSecret",
    "callbackUrl",
    "tokenEndpointAuthMethod",
    "tokenSignedResponseAlg",
    "scope",
    "additionalScopes",
    "prompt",
    "sessionDuration",
    "timeout",
    "signIn",
    "caFile",
];
const SIGN_IN_KEYS: &[&str] = &["resolvers", "requireVerifiedEmail"];

pub(super) fn provider(
    entry: &Field,
    id: &str,
    public_url: Option<&Url>,
    problems: &mut Problems,
) -> Option<ProviderConfig> {
    entry.map(problems)?;
    let near_misses = (entry.near_misses(PROVIDER_KEYS).into_iter())
        .chain(entry.child("signIn").near_misses(SIGN_IN_KEYS));
    for (path, known) in near_misses {
        problems.warn(
            &path,
            format!("stagepass does not read this key; did you mean {known}?"),
        );
    }
    let child = |key| entry.child(key);
    let metadata_url = child("metadataUrl").required(problems, parse::metadata_url);
    let client_id = child("clientId").required(problems, parse::name);
    let client_secret = child("clientSecret").required(problems, parse::secret);
    let callback_url = callback_url(&child("callbackUrl"), id, public_url, problems);
    let token_endpoint_auth_method = child("tokenEndpointAuthMethod").optional(
        problems,
        TokenEndpointAuthMethod::ClientSecretBasic,
        parse::auth_method,
    );
    let token_signed_response_alg = algorithms(&child("tokenSignedResponseAlg"), problems);
    let scopes = scopes(entry, problems);
    let prompt = child("prompt").optional(problems, None, parse::prompt);
    let session_duration = child("sessionDuration").optional(
        problems,
        DEFAULT_SESSION_DURATION,
        parse::positive_duration,
    );
    let timeout =
        child("timeout").optional(problems, DEFAULT_IDP_TIMEOUT, parse::positive_duration);
    let resolvers = backstage::resolvers(entry, problems);
    let require_verified_email = backstage::flag(
        &entry.child("signIn").child("requireVerifiedEmail"),
        false,
        problems,
    );
    Some(ProviderConfig {
        metadata_url: metadata_url?,
        client_id: client_id?,
        client_secret: client_secret?,
        callback_url: callback_url?,
        token_endpoint_auth_method,
        token_signed_response_alg,
        scopes,
        prompt,
        session_duration,
        timeout,
        resolvers,
        require_verified_email,
        ca_file: child("caFile")
            .optional(problems, None, |f| super::outbound::ca_file(f).map(Some)),
    })
}

/// `callbackUrl`, by default where Backstage's own handler would be. With
/// no valid `publicUrl` there is no default, and that problem is reported.
fn callback_url(
    field: &Field,
    id: &str,
    public_url: Option<&Url>,
    problems: &mut Problems,
) -> Option<Url> {
    if field.is_set() {
        return field.required(problems, parse::callback_url);
    }
    public_url?
        .join(&format!("api/auth/{id}/handler/frame"))
        .ok()
}

fn algorithms(field: &Field, problems: &mut Problems) -> Vec<String> {
    if matches!(field.value, Some(Value::Array(items)) if items.is_empty()) {
        problems.add(&field.path, "must list at least one algorithm");
    }
    let algorithms = field.list(problems, parse::algorithm);
    if field.is_set() {
        algorithms
    } else {
        vec![DEFAULT_ALGORITHM.to_string()]
    }
}

/// The base scopes, then `scope`, then `additionalScopes`, without repeats.
fn scopes(entry: &Field, problems: &mut Problems) -> Vec<String> {
    let mut scopes: Vec<String> = BASE_SCOPES.iter().map(|s| s.to_string()).collect();
    let configured = entry.child("scope").list(problems, parse::scopes);
    let additional = entry
        .child("additionalScopes")
        .list(problems, parse::scopes);
    for scope in configured.into_iter().chain(additional).flatten() {
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    scopes
}
