//! The session cookie: one cookie `<prefix>` when the sealed value fits in
//! [`CHUNK_LEN`] bytes, otherwise chunks `<prefix>_0` .. `<prefix>_{n-1}`
//! (n >= 2) of [`CHUNK_LEN`] bytes each but the last. Every chunk is a slice
//! of one sealed value whose associated data is the name `<prefix>`, so chunks
//! cannot be reordered or mixed between sessions.
//!
//! Reading: `<prefix>` wins when present; otherwise the chunks must be exactly
//! `_0` .. `_{n-1}` with 1 <= n <= [`MAX_CHUNKS`] and at most
//! [`MAX_SESSION_LEN`] bytes together. Anything else reads as no session.

use std::borrow::Cow;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue};

use super::cookies::OwnCookies;
use super::model::{self, SESSION_FORMAT_VERSION, Session};
use super::seal::Purpose;

/// How long a browser moved to the public host name is remembered.
const MOVED_MARKER_SECS: u64 = 60;
use super::{CHUNK_LEN, CookieTooLarge, MAX_CHUNKS, MAX_SESSION_LEN, SessionJar};

impl SessionJar<'_> {
    /// The request's session, if it carries an intact one that is live at `now`.
    pub fn read_session(&self, headers: &HeaderMap, now: u64) -> Option<Arc<Session>> {
        let own = OwnCookies::scan(headers, self.settings.prefix());
        let sealed = sealed_session(&own)?;
        let session = match self.opened.and_then(|opened| opened.get(&sealed)) {
            Some(session) => session,
            None => {
                let plain = self.keys.open(
                    Purpose::Session,
                    self.settings.prefix(),
                    &sealed,
                    MAX_SESSION_LEN,
                )?;
                let session: Arc<Session> =
                    Arc::new(model::decode(SESSION_FORMAT_VERSION, &plain)?);
                if let Some(opened) = self.opened.filter(|_| self.is_live(&session, now)) {
                    opened.keep(&sealed, Arc::clone(&session));
                }
                session
            }
        };
        self.is_live(&session, now).then_some(session)
    }

    fn is_live(&self, session: &Session, now: u64) -> bool {
        session.is_live(now, self.lifetime)
    }

    /// `Set-Cookie` values that store `session` until its `expires_at`, and
    /// delete whatever session cookies of the other form or beyond the new
    /// chunk count the request (`headers_in`) carried. The login cookie is
    /// left alone.
    pub fn write_session(
        &self,
        headers_in: &HeaderMap,
        session: &Session,
        now: u64,
    ) -> Result<Vec<HeaderValue>, CookieTooLarge> {
        let prefix = self.settings.prefix();
        let plain = model::encode(SESSION_FORMAT_VERSION, session);
        let too_large = |len| CookieTooLarge {
            len,
            max: MAX_SESSION_LEN,
        };
        let sealed = self
            .keys
            .seal(Purpose::Session, prefix, &plain)
            .ok_or(too_large(plain.len()))?;
        if sealed.len() > MAX_SESSION_LEN {
            return Err(too_large(sealed.len()));
        }
        let max_age = session.expires_at.saturating_sub(now);
        let own = OwnCookies::scan(headers_in, prefix);
        let mut out = Vec::new();
        if sealed.len() <= CHUNK_LEN {
            out.push(self.settings.set_cookie(prefix, &sealed, max_age));
            out.extend(self.delete_chunks_from(&own, 0));
        } else {
            let pieces = split_ascii(&sealed, CHUNK_LEN);
            for (index, piece) in pieces.iter().enumerate() {
                let name = self.settings.chunk_name(index);
                out.push(self.settings.set_cookie(&name, piece, max_age));
            }
            if own.session.is_some() {
                out.push(self.settings.delete_cookie(prefix));
            }
            out.extend(self.delete_chunks_from(&own, pieces.len()));
        }
        Ok(out)
    }

    /// `Set-Cookie` values deleting every stagepass cookie: `<prefix>` and
    /// `<prefix>_login` always, and each chunk the request carried.
    pub fn clear_all(&self, headers_in: &HeaderMap) -> Vec<HeaderValue> {
        let mut out = self.clear_session(headers_in);
        // After `<prefix>`, before the chunks.
        out.insert(1, self.settings.delete_cookie(&self.settings.login_name()));
        out
    }

    /// Marks, for a minute, a browser just sent from another host name to
    /// the public one. Seen again under the other name, the browser is
    /// already where it was sent and a proxy in between rewrites `Host`:
    /// sending it once more would loop.
    pub fn moved_marker(&self) -> HeaderValue {
        self.settings
            .set_cookie(&self.settings.moved_name(), "1", MOVED_MARKER_SECS)
    }

    pub fn carries_moved_marker(&self, headers_in: &HeaderMap) -> bool {
        let name = self.settings.moved_name();
        super::cookies::request_cookies(headers_in).any(|(n, _)| n == name)
    }

    /// Whether the request carries a session cookie, valid or not.
    pub fn carries_session(&self, headers_in: &HeaderMap) -> bool {
        let own = OwnCookies::scan(headers_in, self.settings.prefix());
        own.session.is_some() || !own.chunks.is_empty()
    }

    /// Deletions for the session cookies only (`<prefix>` and each chunk the
    /// request carried). Pending sign-ins in the login cookie are kept: other
    /// tabs may be signing in right now.
    pub fn clear_session(&self, headers_in: &HeaderMap) -> Vec<HeaderValue> {
        let own = OwnCookies::scan(headers_in, self.settings.prefix());
        let mut out = vec![self.settings.delete_cookie(self.settings.prefix())];
        out.extend(self.delete_chunks_from(&own, 0));
        out
    }

    /// Deletions for the request's chunks with an index of `first` or more.
    fn delete_chunks_from<'s>(
        &'s self,
        own: &'s OwnCookies<'_>,
        first: usize,
    ) -> impl Iterator<Item = HeaderValue> + 's {
        own.chunks
            .iter()
            .filter(move |(index, _)| *index >= first)
            .map(|(index, _)| {
                self.settings
                    .delete_cookie(&self.settings.chunk_name(*index))
            })
    }
}

/// The sealed session text the request carries, joined from chunks when
/// needed. Sizes are checked before anything is allocated.
fn sealed_session<'h>(own: &OwnCookies<'h>) -> Option<Cow<'h, str>> {
    if let Some(value) = own.session {
        return Some(Cow::Borrowed(value));
    }
    let count = own.chunks.len();
    // `chunks` is sorted with unique indexes, so it is exactly 0..count when
    // the last index is count - 1: this rejects gaps and indexes past the cap.
    if count == 0 || count > MAX_CHUNKS || own.chunks[count - 1].0 != count - 1 {
        return None;
    }
    let total: usize = own.chunks.iter().map(|(_, value)| value.len()).sum();
    if total > MAX_SESSION_LEN {
        return None;
    }
    let mut joined = String::with_capacity(total);
    for (_, value) in &own.chunks {
        joined.push_str(value);
    }
    Some(Cow::Owned(joined))
}

/// Splits ASCII text into pieces of `len` bytes, the last one shorter.
fn split_ascii(text: &str, len: usize) -> Vec<&str> {
    let mut pieces = Vec::with_capacity(text.len().div_ceil(len));
    let mut rest = text;
    while !rest.is_empty() {
        // Sealed values are base64, so every byte index is a char boundary.
        let (piece, tail) = rest.split_at(rest.len().min(len));
        pieces.push(piece);
        rest = tail;
    }
    pieces
}
