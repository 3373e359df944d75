//! `stagepass.stripHeaders`: headers no client may send, besides the
//! identity headers stagepass always strips. An app moved from behind
//! another proxy may trust a header of that proxy's (`X-Employee-Id`, a
//! company's `X-Corp-*` family) that no built-in list can know.

use super::field::{Field, Problems};

/// Names and name prefixes in the spelling hygiene compares: lower case,
/// `-` for `_` (CGI-style apps read both spellings as one variable).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StripHeaders {
    pub names: Vec<String>,
    /// From entries ending in `*`: `x-corp-*` strips `X-Corp-Role`.
    pub prefixes: Vec<String>,
}

impl StripHeaders {
    /// Whether `canonical` (lower case, `-` for `_`) is to be stripped.
    pub fn matches(&self, canonical: &str) -> bool {
        self.names.iter().any(|name| name == canonical)
            || (self.prefixes.iter()).any(|prefix| canonical.starts_with(prefix.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.prefixes.is_empty()
    }
}

/// Forwarding headers that only a peer in `stagepass.trustedProxies` may
/// set; header hygiene enforces that, and no entry may strip them either
/// (`X-Forwarded-*` would take the client's address and scheme from the
/// app; the identity headers among `X-Forwarded-*` are stripped already).
pub const FORWARDING_HEADERS: [&str; 8] = [
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-uri",
    "x-real-ip",
];

/// Other headers stagepass or the app needs from the request, which no
/// entry may name or cover with its prefix either: the message's own
/// framing, the WebSocket handshake, the client's credentials
/// (`Authorization` is decided per route: a Backstage token,
/// `passAuthorizationHeader`, `bearer: passthrough`) and the request id.
pub const NEVER_STRIPPED: [&str; 12] = [
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "content-encoding",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "authorization",
    "cookie",
    "x-request-id",
];

enum Entry {
    Name(String),
    Prefix(String),
}

pub(super) fn strip_headers(field: &Field, problems: &mut Problems) -> StripHeaders {
    let mut strip = StripHeaders::default();
    for entry in field.list(problems, entry) {
        match entry {
            Entry::Name(name) => strip.names.push(name),
            Entry::Prefix(prefix) => strip.prefixes.push(prefix),
        }
    }
    strip
}

fn entry(field: &Field) -> Result<Entry, String> {
    let text = field.text()?;
    let (name, prefix) = match text.strip_suffix('*') {
        Some(prefix) => (prefix, true),
        None => (text.as_str(), false),
    };
    if name.is_empty() {
        return Err(format!(
            "expected a header name or a prefix such as X-Corp-*, got {}",
            field.got()
        ));
    }
    if name.contains('*') {
        return Err(format!(
            "{}: only a * at the end is a wildcard (a prefix such as X-Corp-*)",
            field.got()
        ));
    }
    if http::HeaderName::try_from(name).is_err() {
        return Err(format!(
            "{} is not a header name (or a prefix ending in *)",
            field.got()
        ));
    }
    let canonical = name.to_ascii_lowercase().replace('_', "-");
    let covers = |needed: &str| match prefix {
        true => needed.starts_with(canonical.as_str()),
        false => needed == canonical,
    };
    let mut needed = FORWARDING_HEADERS.into_iter().chain(NEVER_STRIPPED);
    if let Some(needed) = needed.find(|needed| covers(needed)) {
        return Err(format!(
            "{} would strip {needed}, which stagepass or the app needs (the identity headers among them are stripped already)",
            field.got()
        ));
    }
    Ok(match prefix {
        true => Entry::Prefix(canonical),
        false => Entry::Name(canonical),
    })
}
