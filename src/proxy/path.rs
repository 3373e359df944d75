//! One meaning per path: the request path is normalised once, before any
//! decision is made on it, and the normalised path is the one sent upstream.
//! So a path cannot be read one way by stagepass (which route, which rule)
//! and another way by the app, and `..` can never climb out of the
//! upstream's path prefix.
//!
//! - `%XX` of an unreserved character (`A-Z a-z 0-9 - . _ ~`) is decoded,
//!   once; every other escape stays as it is, with upper-case hex.
//! - Empty segments (`//`) are merged, `.` segments dropped, `..` segments
//!   resolved, never above the root.
//! - Refused with a reason: an encoded `/` (`%2F`), `\` (`%5C`) or NUL
//!   (`%00`), anything encoded twice (`%252E`), a dot segment with path
//!   parameters (`..;`), a segment of parameters only (`/;x`), a raw
//!   backslash or control character. Each has a reading in which it changes
//!   which resource is meant, and guessing is how bypasses happen.

use std::borrow::Cow;

/// Why a path is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPath(pub &'static str);

/// The normalised form of `path` (the part of the request target before
/// `?`), which must start with `/`. Borrowed when `path` is normal already,
/// as nearly every request's is.
pub fn normalize(path: &str) -> Result<Cow<'_, str>, BadPath> {
    match already_normal(path) {
        true => Ok(Cow::Borrowed(path)),
        false => rebuild(path).map(Cow::Owned),
    }
}

/// True when `path` is its own normal form, told without building it: no
/// escape, nothing to refuse, no dot segment (with parameters or not), no
/// empty segment but a trailing one. Anything else takes [`rebuild`].
fn already_normal(path: &str) -> bool {
    let Some(rest) = path.strip_prefix('/') else {
        return false;
    };
    if !(path.bytes()).all(|b| b.is_ascii_graphic() && b != b'%' && b != b'\\') {
        return false;
    }
    let mut segments = rest.split('/').peekable();
    while let Some(segment) = segments.next() {
        let dot = matches!(segment.split(';').next(), Some("." | ".."));
        // A segment of parameters only is refused by `rebuild`.
        let parameters_only = segment.starts_with(';');
        if dot || parameters_only || (segment.is_empty() && segments.peek().is_some()) {
            return false;
        }
    }
    true
}

fn rebuild(path: &str) -> Result<String, BadPath> {
    if !path.starts_with('/') {
        return Err(BadPath("the path must start with /"));
    }
    if !path.is_ascii() || path.bytes().any(|b| b == b'\\' || b.is_ascii_control()) {
        return Err(BadPath(
            "backslashes and control characters are not allowed in paths",
        ));
    }
    let mut segments: Vec<String> = Vec::new();
    for raw in path[1..].split('/') {
        let segment = decode_unreserved(raw)?;
        // `..;x` is `..` to Tomcat and Jetty (path parameters): refused.
        if matches!(segment.split(';').next(), Some(".." | ".")) && segment.contains(';') {
            return Err(BadPath(
                "dot segments with parameters (..;) are not allowed in paths",
            ));
        }
        // `;x` alone is an empty segment to them, which they then merge:
        // `/;x/admin` would be `/admin` to the app and `/;x/admin` here.
        if segment.starts_with(';') {
            return Err(BadPath(
                "segments of parameters only (/;x) are not allowed in paths",
            ));
        }
        match segment.as_str() {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            _ => segments.push(segment),
        }
    }
    let trailing = path.len() > 1 && (path.ends_with('/') || ends_with_dot_segment(path));
    let mut out = String::with_capacity(path.len());
    for segment in &segments {
        out.push('/');
        out.push_str(segment);
    }
    if out.is_empty() || trailing {
        out.push('/');
    }
    Ok(out)
}

/// `/a/..` and `/a/.` name a directory: keep the trailing slash they imply.
fn ends_with_dot_segment(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or_default();
    matches!(
        last.to_ascii_lowercase().as_str(),
        "." | ".." | "%2e" | "%2e%2e" | ".%2e" | "%2e."
    )
}

fn decode_unreserved(segment: &str) -> Result<String, BadPath> {
    let bytes = segment.as_bytes();
    let mut out = String::with_capacity(segment.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i] as char);
            i += 1;
            continue;
        }
        let byte = hex_pair(bytes.get(i + 1..i + 3))
            .ok_or(BadPath("a % in the path must start an escape such as %20"))?;
        match byte {
            b'/' | b'\\' | 0 => {
                return Err(BadPath(
                    "encoded /, \\ or NUL characters are not allowed in paths",
                ));
            }
            b if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') => {
                out.push(b as char);
            }
            b => out.push_str(&format!("%{b:02X}")),
        }
        i += 3;
    }
    // Checked on the result: decoding can build the sequence out of parts
    // (`%25%32e` becomes `%252e`).
    if double_encoded(&out) {
        return Err(BadPath(
            "double-encoded characters are not allowed in paths",
        ));
    }
    Ok(out)
}

/// `%25` followed by an escape: a second decoding (by an app or a
/// framework) would turn it into another character, maybe `.`, `/` or `\`.
fn double_encoded(segment: &str) -> bool {
    // Any escape after `%25` counts (`%252E`, and `%25252E` one level up):
    // which level an app decodes to is not stagepass's to guess.
    let bytes = segment.as_bytes();
    (0..bytes.len().saturating_sub(4)).any(|i| {
        bytes[i..i + 3].eq_ignore_ascii_case(b"%25") && hex_pair(bytes.get(i + 3..i + 5)).is_some()
    })
}

fn hex_pair(pair: Option<&[u8]>) -> Option<u8> {
    let pair = std::str::from_utf8(pair?).ok()?;
    u8::from_str_radix(pair, 16).ok()
}

#[cfg(test)]
mod tests;
