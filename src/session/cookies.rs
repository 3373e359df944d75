//! Cookie names, request `Cookie` parsing and `Set-Cookie` values.
//!
//! Names stagepass uses, for a prefix `p` (`stagepass.cookieName`):
//! - `p`: the session, when its sealed value fits in one cookie;
//! - `p_0` .. `p_7`: the session split in chunks, when it does not;
//! - `p_login`: the pending sign-ins.

use std::fmt;

use cookie::{Cookie, SameSite};
use http::{HeaderMap, HeaderValue};
use url::Url;

use crate::cookie_header;

/// Suffix of the login-flow cookie.
pub(crate) const LOGIN_SUFFIX: &str = "login";
/// Chunk indexes are parsed up to this bound (two digits), so that stale or
/// planted chunks beyond [`super::MAX_CHUNKS`] can still be seen and deleted.
const CHUNK_INDEX_LIMIT: usize = 100;
const MAX_PREFIX_LEN: usize = 64;

/// How stagepass names and flags its cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieSettings {
    prefix: String,
    secure: bool,
}

/// The cookie name prefix is not an RFC 6265 token of 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidCookiePrefix;

impl fmt::Display for InvalidCookiePrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cookie name must be 1 to {MAX_PREFIX_LEN} letters, digits or !#$%&'*+-.^_`|~"
        )
    }
}

impl std::error::Error for InvalidCookiePrefix {}

impl CookieSettings {
    /// `secure` adds the `Secure` attribute; set it when the public URL is https.
    pub fn new(prefix: impl Into<String>, secure: bool) -> Result<Self, InvalidCookiePrefix> {
        let prefix = prefix.into();
        if prefix.is_empty() || prefix.len() > MAX_PREFIX_LEN || !prefix.bytes().all(is_tchar) {
            return Err(InvalidCookiePrefix);
        }
        Ok(CookieSettings { prefix, secure })
    }

    /// Settings for a deployment at `public_url`: `Secure` exactly when it is https.
    pub fn for_public_url(
        prefix: impl Into<String>,
        public_url: &Url,
    ) -> Result<Self, InvalidCookiePrefix> {
        Self::new(prefix, public_url.scheme() == "https")
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn secure(&self) -> bool {
        self.secure
    }

    pub(crate) fn login_name(&self) -> String {
        format!("{}_{LOGIN_SUFFIX}", self.prefix)
    }

    pub(crate) fn moved_name(&self) -> String {
        format!("{}_moved", self.prefix)
    }

    pub(crate) fn chunk_name(&self, index: usize) -> String {
        format!("{}_{index}", self.prefix)
    }

    /// A `Set-Cookie` value storing `value` for `max_age` seconds.
    pub(crate) fn set_cookie(&self, name: &str, value: &str, max_age: u64) -> HeaderValue {
        self.build(name, value, max_age, SameSite::Lax)
    }

    /// The login cookie must come back on the IdP's cross-site POST when it
    /// answers with `response_mode=form_post`, which `SameSite=Lax` forbids.
    /// Browsers accept `SameSite=None` only with `Secure`, so plain-http
    /// deployments keep `Lax` (and form_post callbacks need https). It holds
    /// nothing but sealed, single-use, ten-minute sign-in state.
    pub(crate) fn set_login_cookie(&self, name: &str, value: &str, max_age: u64) -> HeaderValue {
        let same_site = if self.secure {
            SameSite::None
        } else {
            SameSite::Lax
        };
        self.build(name, value, max_age, same_site)
    }

    fn build(&self, name: &str, value: &str, max_age: u64, same_site: SameSite) -> HeaderValue {
        let max_age = cookie::time::Duration::seconds(i64::try_from(max_age).unwrap_or(i64::MAX));
        let cookie = Cookie::build((name, value))
            .path("/")
            .max_age(max_age)
            .http_only(true)
            .same_site(same_site)
            .secure(self.secure)
            .build();
        // The prefix is a token (checked in `new`) and values are base64url, so
        // every byte is visible ASCII and the conversion cannot fail.
        HeaderValue::try_from(cookie.to_string()).expect("cookie line is visible ASCII")
    }

    /// A `Set-Cookie` value that deletes the cookie `name`.
    pub(crate) fn delete_cookie(&self, name: &str) -> HeaderValue {
        self.set_cookie(name, "", 0)
    }
}

/// RFC 9110 `tchar`, which is what RFC 6265 allows in a cookie name.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Whether `name` is one of stagepass's cookies: `<prefix>` or `<prefix>_*`.
/// The proxy strips these from the `Cookie` header it forwards upstream.
pub fn is_stagepass_cookie(name: &str, prefix: &str) -> bool {
    cookie_header::is_own_name(name.as_bytes(), prefix.as_bytes())
}

/// Every `name=value` pair of every `Cookie` header, in order (HTTP/2 clients
/// may split cookies across several headers). Pairs without `=`, with an empty
/// name or with bytes that are not UTF-8 are skipped. Surrounding blanks and
/// one pair of double quotes around the value are removed. Nothing is
/// allocated, so a large header costs time proportional to its size only.
pub fn request_cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    cookie_header::pieces(headers).filter_map(|piece| {
        let (name, value) = cookie_header::name_and_value(piece)?;
        Some((std::str::from_utf8(name).ok()?, cookie_value(value)?))
    })
}

/// A cookie's value as text, without one pair of surrounding double quotes.
fn cookie_value(value: &[u8]) -> Option<&str> {
    let value = std::str::from_utf8(value).ok()?;
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    Some(value)
}

/// Stagepass's cookies found in one request. When a name occurs more than
/// once the first occurrence wins: browsers send the most specific first, and
/// a later duplicate can only come from another path or domain.
#[derive(Debug, Default)]
pub(crate) struct OwnCookies<'h> {
    /// `<prefix>`: the unchunked session.
    pub session: Option<&'h str>,
    /// `<prefix>_N` for N below [`CHUNK_INDEX_LIMIT`].
    pub chunks: Vec<(usize, &'h str)>,
    /// `<prefix>_login`.
    pub login: Option<&'h str>,
}

impl<'h> OwnCookies<'h> {
    /// One pass over the request's cookies.
    pub fn scan(headers: &'h HeaderMap, prefix: &str) -> Self {
        let mut own = OwnCookies::default();
        let pairs = cookie_header::pieces(headers).filter_map(cookie_header::name_and_value);
        for (name, value) in pairs {
            // Only stagepass's own values are read as text: the others are
            // not looked at beyond their names.
            let Some(rest) = name.strip_prefix(prefix.as_bytes()) else {
                continue;
            };
            let (Ok(rest), Some(value)) = (std::str::from_utf8(rest), cookie_value(value)) else {
                continue;
            };
            if rest.is_empty() {
                own.session.get_or_insert(value);
                continue;
            }
            let Some(suffix) = rest.strip_prefix('_') else {
                continue;
            };
            if suffix == LOGIN_SUFFIX {
                own.login.get_or_insert(value);
            } else if let Some(index) = chunk_index(suffix).filter(|i| !own.has_chunk(*i)) {
                // At most CHUNK_INDEX_LIMIT distinct entries: bounded.
                own.chunks.push((index, value));
            }
        }
        own.chunks.sort_unstable_by_key(|(index, _)| *index);
        own
    }

    pub fn has_chunk(&self, index: usize) -> bool {
        self.chunks.iter().any(|(i, _)| *i == index)
    }
}

/// `0`, `1`, .. `99`: decimal without leading zeros, so each index has one name.
fn chunk_index(digits: &str) -> Option<usize> {
    let canonical = match digits.as_bytes() {
        [d] => d.is_ascii_digit(),
        [first, second] => (b'1'..=b'9').contains(first) && second.is_ascii_digit(),
        _ => false,
    };
    let index = digits.parse().ok().filter(|_| canonical)?;
    (index < CHUNK_INDEX_LIMIT).then_some(index)
}
