//! `stagepass.bearer`: API clients (CI jobs, CLIs, other services) that
//! call with `Authorization: Bearer <JWT>` instead of a session cookie.
//!
//! A token is accepted when the configured IdP signed it for stagepass (an
//! audience listed here; there is no default), or when stagepass minted it
//! (a Backstage token it handed out). A route may
//! instead pass the client's token through untouched (`bearer: passthrough`,
//! for Backstage `externalAccess` static tokens that Backstage checks).

use super::field::{Field, Problems};

const KEYS: &[&str] = &["enabled", "audiences", "requiredScope"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerConfig {
    /// `enabled`, default true. Off: a bearer token never stands in for a
    /// session (it still is never redirected to sign in).
    pub enabled: bool,
    /// `audiences`: `aud` values accepted in IdP tokens. Empty: no IdP token
    /// is accepted (Backstage tokens stagepass minted still are).
    pub audiences: Vec<String>,
    /// `requiredScope`: a scope an IdP token must carry (in `scope` or `scp`).
    pub required_scope: Option<String>,
}

impl Default for BearerConfig {
    fn default() -> Self {
        BearerConfig {
            enabled: true,
            audiences: Vec::new(),
            required_scope: None,
        }
    }
}

/// What a route does with a client's `Authorization: Bearer`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RouteBearer {
    /// Checked by stagepass and accepted as that identity (the default).
    #[default]
    Verify,
    /// Forwarded untouched, with no identity injected: the upstream checks it.
    Passthrough,
}

pub(super) fn bearer(section: &Field, problems: &mut Problems) -> BearerConfig {
    let default = BearerConfig::default();
    if section.map(problems).is_none() {
        return default;
    }
    section.reject_unknown_keys(problems, KEYS);
    let audiences = section.child("audiences");
    let audiences_list = audiences.list(problems, non_empty_text);
    if audiences.is_set() && audiences_list.is_empty() {
        problems.add(
            &audiences.path,
            "lists no audience: name the aud of the IdP's API tokens, or remove it",
        );
    }
    BearerConfig {
        enabled: super::backstage::flag(&section.child("enabled"), true, problems),
        audiences: audiences_list,
        required_scope: section
            .child("requiredScope")
            .optional(problems, None, |f| non_empty_text(f).map(Some)),
    }
}

pub(super) fn route_bearer(field: &Field) -> Result<RouteBearer, String> {
    match field.text()?.as_str() {
        "verify" => Ok(RouteBearer::Verify),
        "passthrough" => Ok(RouteBearer::Passthrough),
        _ => Err(format!(
            "expected verify or passthrough, got {}",
            field.got()
        )),
    }
}

/// Listing the sign-in client's id also admits its ID tokens that carry
/// nothing only ID tokens carry (refreshed ones may not): worth a warning.
pub(super) fn warn_on_client_id(bearer: &BearerConfig, client_id: &str, problems: &mut Problems) {
    if bearer.audiences.iter().any(|a| a == client_id) {
        problems.warn(
            "stagepass.bearer.audiences",
            "lists the sign-in clientId: an ID token from a refresh that carries no nonce or \
             at_hash would then pass as an API token; prefer the audience of your IdP's API \
             access tokens (Entra ID: api://<client id>)",
        );
    }
}

fn non_empty_text(field: &Field) -> Result<String, String> {
    let text = field.text()?;
    if text.trim().is_empty() || text.contains(char::is_whitespace) {
        return Err(format!(
            "expected one word without spaces, got {}",
            field.got()
        ));
    }
    Ok(text)
}
