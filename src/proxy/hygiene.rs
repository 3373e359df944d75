//! Header hygiene: what must never cross stagepass unchanged.
//!
//! Order matters and is fixed by [`super::Forwarder`]: hop-by-hop headers go
//! first, then every identity header a client might forge is stripped, and
//! only then does stagepass add its own. Strip before inject.

use std::borrow::Cow;

use http::header::{self, GetAll, HeaderMap, HeaderName, HeaderValue};

use super::peer::Peer;
use crate::config::{FORWARDING_HEADERS, StripHeaders};
use crate::cookie_header;

/// Hop-by-hop headers (RFC 9110 7.6.1) plus the proxy-specific ones that are
/// hop-by-hop by convention.
const HOP_BY_HOP: [&str; 10] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
    // Connection-specific by RFC 9113 3.2.1 (the h2c upgrade), even when a
    // client does not list it in `Connection`.
    "http2-settings",
];

/// Identity headers stagepass may inject, or that other authenticating
/// proxies inject and the apps behind them trust. A client must never be able
/// to set them: an app moved from behind one of those proxies to behind
/// stagepass may still read them.
const IDENTITY_HEADERS: [&str; 28] = [
    // oauth2-proxy's upstream headers, which stagepass sends too.
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-groups",
    "x-forwarded-preferred-username",
    "x-forwarded-access-token",
    "x-oauth2-proxy-id-token",
    // Authelia, Authentik's proxy outpost and Apache-style remote users.
    "remote-user",
    "remote-groups",
    "remote-name",
    "remote-email",
    // Kubernetes' front proxy (with `x-remote-extra-*` below).
    "x-remote-user",
    "x-remote-group",
    // Keycloak Gatekeeper / Louketo. Not `x-auth-token`, which clients of
    // many APIs send as their own credential.
    "x-auth-username",
    "x-auth-email",
    "x-auth-userid",
    "x-auth-subject",
    "x-auth-roles",
    "x-auth-groups",
    // Grafana's auth-proxy default.
    "x-webauth-user",
    // Google IAP, Cloudflare Access, AWS ALB, Pomerium.
    "x-goog-authenticated-user-email",
    "x-goog-authenticated-user-id",
    "x-goog-iap-jwt-assertion",
    "cf-access-authenticated-user-email",
    "cf-access-jwt-assertion",
    "x-amzn-oidc-data",
    "x-amzn-oidc-identity",
    "x-amzn-oidc-accesstoken",
    "x-pomerium-jwt-assertion",
];

/// Prefixes of identity header families: `X-Auth-Request-*` (oauth2-proxy,
/// nginx auth_request), stagepass's own `X-Stagepass-*` assertion headers,
/// Azure App Service EasyAuth (`X-MS-CLIENT-PRINCIPAL`, `-NAME`, `-ID`,
/// `-IDP`; `X-MS-TOKEN-AAD-ID-TOKEN`, `X-MS-TOKEN-GOOGLE-ACCESS-TOKEN`,
/// ...), Pomerium's claim headers, Authentik's (`X-authentik-username`,
/// `-groups`, `-jwt`, ...), Vouch's (`X-Vouch-User`, `X-Vouch-IdP-Claims-*`)
/// and Kubernetes' front-proxy extras.
const IDENTITY_PREFIXES: [&str; 8] = [
    "x-auth-request-",
    "x-stagepass-",
    "x-ms-client-principal",
    "x-ms-token-",
    "x-pomerium-claim-",
    "x-authentik-",
    "x-vouch-",
    "x-remote-extra-",
];

/// Request rewrites some apps serve instead of the request's own path
/// (Symfony, IIS): one a client set would reach a path the route rules never
/// saw. Proxies in front pass a client's headers on, so they go whoever the
/// peer is, with the identity headers; stagepass never sends them.
const PATH_REWRITES: [&str; 3] = ["x-original-url", "x-original-uri", "x-rewrite-url"];

/// Header names compare equal when they differ only in case or in `_` versus
/// `-`: CGI-style frameworks (Rack, PHP, WSGI) map both spellings to the same
/// variable, so either spelling can smuggle an identity.
/// Borrowed unless the name has a `_` (names are lower case already), so the
/// common request allocates nothing here.
fn canonical(name: &HeaderName) -> Cow<'_, str> {
    let text = name.as_str();
    match text.contains('_') {
        true => Cow::Owned(text.replace('_', "-")),
        false => Cow::Borrowed(text),
    }
}

/// Removes hop-by-hop headers, including every header named in `Connection`.
/// One pass over the names; nothing is allocated unless a header other
/// than `Connection` itself goes (most requests have none).
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let connection = headers.get_all(header::CONNECTION);
    let mut doomed = Vec::new();
    for name in headers.keys() {
        if *name != header::CONNECTION && is_hop_by_hop(name, &connection) {
            doomed.push(name.clone());
        }
    }
    for name in doomed {
        headers.remove(name);
    }
    // Last: until now it named what else goes.
    headers.remove(header::CONNECTION);
}

/// Tokens are compared in place (case and `_`/`-` folded byte by byte).
fn is_hop_by_hop(name: &HeaderName, connection: &GetAll<'_, HeaderValue>) -> bool {
    let name = name.as_str().as_bytes();
    // Most names have a length no hop-by-hop header has (`host`, `cookie`,
    // `content-type`): told without comparing ten names.
    let listed_length = matches!(name.len(), 2 | 7 | 10 | 14 | 16 | 17 | 18 | 19);
    (listed_length && HOP_BY_HOP.iter().any(|h| same_name(name, h.as_bytes())))
        || (connection.iter())
            .flat_map(|v| v.as_bytes().split(|b| *b == b','))
            .any(|token| same_name(name, token.trim_ascii()))
}

/// Header names equal up to case and `_` versus `-` (see [`canonical`]).
fn same_name(a: &[u8], b: &[u8]) -> bool {
    let fold = |c: u8| match c {
        b'_' => b'-',
        c => c.to_ascii_lowercase(),
    };
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| fold(*x) == fold(*y))
}

/// What else [`strip_identity_headers`] removes.
pub struct Extra<'a, I> {
    /// Names such as the header stagepass injects its own token into
    /// (usually `Authorization`).
    pub names: I,
    /// `stagepass.stripHeaders`.
    pub configured: &'a StripHeaders,
}

/// Removes every identity header in every spelling, the path rewrites
/// ([`PATH_REWRITES`], in the same pass), and the `extra` ones. `keep` is a
/// header stagepass itself put on the request (its request id): it stays,
/// and only its other spellings go.
pub fn strip_identity_headers<'a>(
    headers: &mut HeaderMap,
    extra: Extra<'_, impl Iterator<Item = &'a HeaderName> + Clone>,
    keep: Option<&HeaderName>,
) {
    let configured = (!extra.configured.is_empty()).then_some(extra.configured);
    remove_where(headers, |name, n| {
        is_identity_header(n)
            || (extra.names.clone()).any(|e| same_name(n.as_bytes(), e.as_str().as_bytes()))
            || configured.is_some_and(|strip| strip.matches(n))
            || keep.is_some_and(|own| n == own.as_str() && name != own)
    });
}

/// Whether `name` (canonical) is one of [`IDENTITY_HEADERS`], in one of
/// [`IDENTITY_PREFIXES`] or one of [`PATH_REWRITES`]. Every one of them
/// starts with `x`, `r` or `c` (a test holds the lists to it): most of a
/// request's headers are told apart by their first letter, not by 39
/// comparisons.
fn is_identity_header(name: &str) -> bool {
    match name.as_bytes().first() {
        Some(b'x') => {
            IDENTITY_HEADERS.contains(&name)
                || IDENTITY_PREFIXES.iter().any(|p| name.starts_with(p))
                || PATH_REWRITES.contains(&name)
        }
        Some(b'r' | b'c') => IDENTITY_HEADERS.contains(&name),
        _ => false,
    }
}

/// Removes stagepass's own cookies (`<prefix>` and `<prefix>_*`) from the
/// `Cookie` header, keeping every other cookie byte-for-byte and in order.
/// HTTP/2 clients may send several `Cookie` fields; they are joined with `; `
/// as RFC 9113 8.2.3 allows.
pub fn strip_own_cookies(headers: &mut HeaderMap, prefix: &str) {
    let mut values = headers.get_all(header::COOKIE).iter();
    match (values.next(), values.next()) {
        (None, _) => return,
        // One header and nothing of stagepass's in it: it goes as it came.
        (Some(only), None)
            if !cookie_header::split(only.as_bytes())
                .any(|pair| is_own_cookie(pair, prefix.as_bytes())) =>
        {
            return;
        }
        _ => {}
    }
    // Bytes, not text: other apps' cookie values pass unchanged even when
    // they are not UTF-8.
    let kept: Vec<&[u8]> = cookie_header::pieces(headers)
        .filter(|pair| !is_own_cookie(pair, prefix.as_bytes()))
        .collect();
    let joined = kept.join(&b"; "[..]);
    headers.remove(header::COOKIE);
    if joined.is_empty() {
        return;
    }
    if let Ok(value) = HeaderValue::from_bytes(&joined) {
        headers.insert(header::COOKIE, value);
    }
}

/// A piece without `=` is all name: `stagepass` alone is stripped too.
fn is_own_cookie(pair: &[u8], prefix: &[u8]) -> bool {
    let name = pair.split(|b| *b == b'=').next().unwrap_or_default();
    cookie_header::is_own_name(name.trim_ascii(), prefix)
}

/// Sets `X-Forwarded-For`, `-Proto` and `-Host` for the upstream. Values a
/// client sent survive only when the peer is a trusted proxy; otherwise every
/// forwarding header (in every spelling) is replaced by what stagepass saw.
pub fn set_forwarding_headers(headers: &mut HeaderMap, peer: Peer, host: Option<HeaderValue>) {
    let chain = peer
        .trusted
        .then(|| joined(headers, "x-forwarded-for"))
        .flatten();
    let proto = peer
        .trusted
        .then(|| last_value(headers, "x-forwarded-proto"))
        .flatten();
    let fwd_host = peer
        .trusted
        .then(|| last_value(headers, "x-forwarded-host"))
        .flatten();
    if peer.trusted {
        // What the proxy set passes; a `_` spelling it let through is the
        // client's, and CGI-style apps read it as the same variable.
        // (Names are lower case: only a `_` makes the canonical one differ.)
        remove_where(headers, |name, n| {
            name.as_str() != n && FORWARDING_HEADERS.contains(&n)
        });
    } else {
        remove_where(headers, |_, n| FORWARDING_HEADERS.contains(&n));
    }
    let ip = peer.ip_text();
    let xff = match chain {
        Some(chain) => HeaderValue::from_str(&format!("{chain}, {ip}")),
        None => HeaderValue::from_str(ip),
    };
    insert(headers, X_FORWARDED_FOR, xff.ok());
    let own_proto = HeaderValue::from_static(if peer.tls { "https" } else { "http" });
    insert(headers, X_FORWARDED_PROTO, Some(proto.unwrap_or(own_proto)));
    insert(headers, X_FORWARDED_HOST, fwd_host.or(host));
}

// Constants: `HeaderName::from_static` called at run time checks its text
// on every call.
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// The URL of the request a trusted proxy asks a forward-auth decision for,
/// from `X-Forwarded-Proto`, `-Host` and `-Uri` (what nginx is configured to
/// send, and what Caddy and Traefik send). `None` when the peer is not a
/// trusted proxy, whatever it sent, or when a part is missing.
pub fn forwarded_request_url(headers: &HeaderMap, peer: Peer) -> Option<String> {
    if !peer.trusted {
        return None;
    }
    let part = |name| last_value(headers, name).and_then(|v| v.to_str().ok().map(str::to_owned));
    // The last field, the nearest proxy's; not split at commas, which a
    // URI may hold.
    let uri = headers
        .get_all("x-forwarded-uri")
        .iter()
        .next_back()?
        .to_str()
        .ok()?;
    let (proto, host) = (part("x-forwarded-proto")?, part("x-forwarded-host")?);
    uri.starts_with('/')
        .then(|| format!("{proto}://{host}{uri}"))
}

/// The last `X-Forwarded-Host` value (the one the nearest proxy set), as
/// text; call only for a trusted peer.
pub fn last_forwarded_host(headers: &HeaderMap) -> Option<String> {
    last_value(headers, "x-forwarded-host").and_then(|v| v.to_str().ok().map(str::to_owned))
}

/// One pass; nothing is allocated when nothing goes, as usual.
fn remove_where(headers: &mut HeaderMap, doomed: impl Fn(&HeaderName, &str) -> bool) {
    let mut names = Vec::new();
    for name in headers.keys() {
        if doomed(name, &canonical(name)) {
            names.push(name.clone());
        }
    }
    for name in names {
        headers.remove(name);
    }
}

fn joined(headers: &HeaderMap, name: &'static str) -> Option<String> {
    let parts: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// The value the nearest trusted proxy set: the last element of the last
/// field. A proxy that appends (rather than overwrites) leaves the client's
/// own value in front, which must not count.
fn last_value(headers: &HeaderMap, name: &'static str) -> Option<HeaderValue> {
    let field = headers.get_all(name).iter().next_back()?;
    let last = field.as_bytes().rsplit(|b| *b == b',').next()?.trim_ascii();
    (!last.is_empty())
        .then(|| HeaderValue::from_bytes(last).ok())
        .flatten()
}

fn insert(headers: &mut HeaderMap, name: HeaderName, value: Option<HeaderValue>) {
    if let Some(value) = value {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests;
