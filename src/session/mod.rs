//! The login session, kept in encrypted cookies.
//!
//! - [`SessionKeys`] seals and opens cookie values (AES-256-GCM, HKDF-SHA256
//!   keys, secret rotation through a key id); see `seal.rs` for the format.
//! - [`SessionJar`] reads and writes the session cookie (split into chunks
//!   when large) and the login-flow cookie of pending sign-ins.
//! - [`OpenedSessions`] keeps sessions already opened, so a browser's
//!   repeated cookie is decrypted once.
//! - [`request_cookies`] and [`is_stagepass_cookie`] parse and classify the
//!   request's cookies.
//!
//! Every read is total: a missing, tampered, truncated, foreign, expired or
//! oversize cookie reads as "no session" / "no flow", never as an error.

mod cookies;
mod jar;
mod login;
mod model;
mod opened;
mod seal;

#[cfg(test)]
mod tests;

use std::fmt;
use std::time::Duration;

pub use cookies::{CookieSettings, InvalidCookiePrefix, is_stagepass_cookie, request_cookies};
pub use model::{LOGIN_FORMAT_VERSION, LoginFlow, SESSION_FORMAT_VERSION, Session};
pub use opened::OpenedSessions;
pub use seal::SessionKeys;

/// A sealed session longer than this is split into chunks of this size. With
/// the name and attributes a `Set-Cookie` stays under the 4096 bytes browsers
/// accept per cookie.
pub const CHUNK_LEN: usize = 3800;
/// Most chunks a session may use; a request carrying more has no session.
pub const MAX_CHUNKS: usize = 8;
/// Most bytes of sealed session, all chunks together. Checked before anything
/// is joined or decoded. Note that `maxRequestHeaderBytes` (default 16 KiB)
/// bounds what a browser can send back in practice.
pub const MAX_SESSION_LEN: usize = 24 * 1024;
/// Most bytes of the sealed login-flow cookie, which is never chunked.
pub const MAX_LOGIN_LEN: usize = CHUNK_LEN;
/// Most sign-ins pending at once (one per tab); the oldest is dropped first.
pub const MAX_LOGIN_FLOWS: usize = 5;
/// Seconds a sign-in may take; also the login cookie's `Max-Age`.
pub const LOGIN_FLOW_TTL: u64 = 600;

/// Reads and writes stagepass's cookies for one request/response.
#[derive(Debug, Clone, Copy)]
pub struct SessionJar<'a> {
    keys: &'a SessionKeys,
    settings: &'a CookieSettings,
    opened: Option<&'a OpenedSessions>,
    /// Today's `sessionDuration` (see [`Session::is_live`]).
    lifetime: Option<Duration>,
}

impl<'a> SessionJar<'a> {
    pub fn new(keys: &'a SessionKeys, settings: &'a CookieSettings) -> Self {
        SessionJar {
            keys,
            settings,
            opened: None,
            lifetime: None,
        }
    }

    /// Sessions that know their sign-in time end `lifetime` after it, even
    /// when their cookie was written to last longer.
    pub fn with_lifetime(self, lifetime: Duration) -> Self {
        SessionJar {
            lifetime: Some(lifetime),
            ..self
        }
    }

    /// Reads sessions through `opened`, and keeps what it opens there.
    pub fn with_opened(self, opened: &'a OpenedSessions) -> Self {
        SessionJar {
            opened: Some(opened),
            ..self
        }
    }
}

/// A value to store does not fit in the cookies allowed for it: too many
/// groups or too long tokens for a session, too long a return URL for a
/// sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieTooLarge {
    /// Length of the sealed value, in bytes.
    pub len: usize,
    /// The limit it exceeds.
    pub max: usize,
}

impl fmt::Display for CookieTooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sealed cookie value of {} bytes exceeds the limit of {} bytes",
            self.len, self.max
        )
    }
}

impl std::error::Error for CookieTooLarge {}
