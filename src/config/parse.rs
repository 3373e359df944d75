//! Parsers from one [`Field`] to one typed value. Each error message says
//! what was expected and, unless the field is secret, what was found.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use ipnet::IpNet;
use url::{Host, Url};

use super::duration::parse_duration;
use super::field::Field;
use super::types::{Secret, TokenEndpointAuthMethod};

/// Shortest accepted session secret: 32 characters, as Backstage requires
/// of its own session secrets.
const MIN_SECRET_CHARS: usize = 32;
const COOKIE_NAME_MAX_CHARS: usize = 32;
const HEADER_BYTES_RANGE: std::ops::RangeInclusive<usize> = 1024..=1_048_576;
const CONNECTIONS_RANGE: std::ops::RangeInclusive<usize> = 1..=1_000_000;
/// Signature algorithms of asymmetric keys only: `none` and the HMAC
/// family would let anyone who knows the client secret mint ID tokens.
const ALLOWED_ALGORITHMS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// `host:port`; `localhost` stands for 127.0.0.1 since no resolver is asked.
pub(super) fn socket_addr(field: &Field) -> Result<SocketAddr, String> {
    let text = field.text()?;
    let localhost = text
        .strip_prefix("localhost:")
        .and_then(|port| port.parse::<u16>().ok())
        .map(|port| SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
    match localhost {
        Some(addr) => Ok(addr),
        None => text
            .trim()
            .parse()
            .map_err(|_| format!("expected host:port, got {}", field.got())),
    }
}

/// An http or https URL.
fn http_url(field: &Field) -> Result<Url, String> {
    let url = Url::parse(field.text()?.trim())
        .map_err(|err| format!("expected an http or https URL ({err}), got {}", field.got()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "expected an http or https URL, got {}",
            field.got()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        // Not echoed: the URL holds credentials.
        return Err("must not contain a user name or password".to_string());
    }
    Ok(url)
}

/// An http or https URL without query or fragment.
fn plain_url(field: &Field) -> Result<Url, String> {
    let url = http_url(field)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "must not have a query or fragment, got {}",
            field.got()
        ));
    }
    Ok(url)
}

/// An origin: scheme, host and optional port; a lone trailing `/` is fine.
fn origin_url(field: &Field) -> Result<Url, String> {
    let url = plain_url(field)?;
    if url.path() != "/" {
        return Err(format!(
            "must be an origin (scheme://host[:port]) without a path, got {}",
            field.got()
        ));
    }
    Ok(url)
}

pub(super) fn public_url(field: &Field) -> Result<Url, String> {
    origin_url(field)
}

/// `upstream` may carry a path prefix, or be the built-in whoami page.
pub(super) fn upstream_url(field: &Field) -> Result<Url, String> {
    if field
        .text()
        .is_ok_and(|text| text.trim() == super::WHOAMI_UPSTREAM)
    {
        return Url::parse(super::WHOAMI_UPSTREAM).map_err(|e| e.to_string());
    }
    plain_url(field)
}

pub(super) fn redirect_origin(field: &Field) -> Result<url::Origin, String> {
    Ok(origin_url(field)?.origin())
}

pub(super) fn callback_url(field: &Field) -> Result<Url, String> {
    plain_url(field)
}

/// https, or http for loopback hosts only (a local test IdP).
pub(super) fn metadata_url(field: &Field) -> Result<Url, String> {
    let url = http_url(field)?;
    if !is_https_or_loopback(&url) {
        return Err(format!(
            "must use https (http only for localhost, 127.0.0.0/8 or ::1), got {}",
            field.got()
        ));
    }
    Ok(url)
}

/// https, or http on a loopback host: the rule for every URL that receives
/// stagepass's client secret or authorization codes.
pub fn is_https_or_loopback(url: &Url) -> bool {
    url.scheme() == "https" || (url.scheme() == "http" && is_loopback(url))
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A network in CIDR form, or a bare address standing for itself alone.
pub(super) fn ip_net(field: &Field) -> Result<IpNet, String> {
    let text = field.text()?;
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| {
            format!(
                "expected a CIDR (10.0.0.0/8) or IP address, got {}",
                field.got()
            )
        })
}

/// A non-empty name.
pub(super) fn name(field: &Field) -> Result<String, String> {
    let text = field.text()?;
    if text.trim().is_empty() {
        return Err("must not be empty".to_string());
    }
    Ok(text)
}

/// A non-empty secret; never echoed.
pub(super) fn secret(field: &Field) -> Result<Secret, String> {
    name(field).map(Secret::new)
}

/// One session secret of at least [`MIN_SECRET_CHARS`]; never echoed.
pub(super) fn session_secret(field: &Field) -> Result<Secret, String> {
    let text = field.text()?;
    if text.chars().count() < MIN_SECRET_CHARS {
        return Err(format!("must be at least {MIN_SECRET_CHARS} characters"));
    }
    Ok(Secret::new(text))
}

pub(super) fn cookie_name(field: &Field) -> Result<String, String> {
    let text = field.text()?;
    let token_chars = text
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if text.is_empty() || text.chars().count() > COOKIE_NAME_MAX_CHARS || !token_chars {
        return Err(format!(
            "expected 1 to {COOKIE_NAME_MAX_CHARS} of the characters A-Z a-z 0-9 _ -, got {}",
            field.got()
        ));
    }
    Ok(text)
}

/// An integer in [`HEADER_BYTES_RANGE`].
pub(super) fn header_bytes(field: &Field) -> Result<usize, String> {
    whole_number(field, HEADER_BYTES_RANGE, "a whole number of bytes")
}

/// A whole number of connections in [`CONNECTIONS_RANGE`].
pub(super) fn connections(field: &Field) -> Result<usize, String> {
    whole_number(field, CONNECTIONS_RANGE, "a whole number")
}

/// An integer in `range`; a numeric string counts, since `${VAR}`
/// substitution always yields strings.
fn whole_number(
    field: &Field,
    range: std::ops::RangeInclusive<usize>,
    what: &str,
) -> Result<usize, String> {
    let n: usize = (field.text()?.trim().parse())
        .map_err(|_| format!("expected {what}, got {}", field.got()))?;
    if !range.contains(&n) {
        let (low, high) = (range.start(), range.end());
        return Err(format!("must be between {low} and {high}, got {n}"));
    }
    Ok(n)
}

pub(super) fn duration(field: &Field) -> Result<Duration, String> {
    parse_duration(field.value.unwrap_or(&serde_json::Value::Null))
}

/// A duration that must not be zero (a zero timeout would fail everything).
pub(super) fn positive_duration(field: &Field) -> Result<Duration, String> {
    let duration = duration(field)?;
    if duration.is_zero() {
        return Err("must be greater than zero".to_string());
    }
    Ok(duration)
}

pub(super) fn auth_method(field: &Field) -> Result<TokenEndpointAuthMethod, String> {
    match field.text()?.trim() {
        "client_secret_basic" => Ok(TokenEndpointAuthMethod::ClientSecretBasic),
        "client_secret_post" => Ok(TokenEndpointAuthMethod::ClientSecretPost),
        _ => Err(format!(
            "expected client_secret_basic or client_secret_post, got {}",
            field.got()
        )),
    }
}

pub(super) fn algorithm(field: &Field) -> Result<String, String> {
    let text = field.text()?;
    match ALLOWED_ALGORITHMS.iter().find(|alg| **alg == text.trim()) {
        Some(alg) => Ok(alg.to_string()),
        None => Err(format!(
            "unsupported algorithm {} (allowed: {})",
            field.got(),
            ALLOWED_ALGORITHMS.join(", ")
        )),
    }
}

/// Scopes from a space-separated string (or a list of them).
pub(super) fn scopes(field: &Field) -> Result<Vec<String>, String> {
    Ok(field
        .text()?
        .split_whitespace()
        .map(str::to_string)
        .collect())
}

/// `prompt`: unset or `auto` leave the choice to the IdP.
pub(super) fn prompt(field: &Field) -> Result<Option<String>, String> {
    let text = field.text()?;
    Ok(Some(text).filter(|p| !p.trim().is_empty() && p.trim() != "auto"))
}

pub(super) fn existing_file(field: &Field) -> Result<std::path::PathBuf, String> {
    let path = std::path::PathBuf::from(field.text()?);
    match std::fs::metadata(&path) {
        Ok(meta) if meta.is_file() => Ok(path),
        Ok(_) => Err(format!("{} is not a file", path.display())),
        Err(err) => Err(format!("cannot read {}: {err}", path.display())),
    }
}
