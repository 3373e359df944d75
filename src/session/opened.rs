//! Sessions already opened, by their sealed cookie value.
//!
//! Opening a session cookie (base64, AES-256-GCM, JSON) was about a fifth of
//! the instructions of a signed-in request, and a browser sends the same
//! cookie with every request until it is refreshed. A sealed value only ever
//! opens to one session, so the result is kept, keyed by the whole value
//! (compared in full, never by a digest an attacker could aim at). What a
//! session's liveness depends on (`expires_at` against the clock, a
//! revocation) is still checked on every request by the callers.
//!
//! Bounded by bytes, and an entry unused for a few minutes is dropped: a
//! miss only costs the open it saves.

use std::collections::hash_map::{DefaultHasher, RandomState};
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use super::model::Session;

/// At most this many bytes of sealed values and sessions together.
const MAX_BYTES: u64 = 4 * 1024 * 1024;
/// An entry nobody used for this long is dropped.
const IDLE: Duration = Duration::from_secs(300);

pub struct OpenedSessions {
    entries: Cache<Box<str>, Arc<Session>, TailHash>,
}

impl OpenedSessions {
    pub fn new() -> Self {
        OpenedSessions {
            entries: Cache::<Box<str>, Arc<Session>>::builder()
                .max_capacity(MAX_BYTES)
                .weigher(|sealed, session| {
                    u32::try_from(weight(sealed, session)).unwrap_or(u32::MAX)
                })
                .time_to_idle(IDLE)
                .build_with_hasher(TailHash::default()),
        }
    }

    pub(super) fn get(&self, sealed: &str) -> Option<Arc<Session>> {
        self.entries.get(sealed)
    }

    pub(super) fn keep(&self, sealed: &str, session: Arc<Session>) {
        self.entries.insert(sealed.into(), session);
    }
}

/// Hashes a sealed value by its length and its last bytes: the AES-GCM tag
/// and the end of the ciphertext, unpredictable to anyone without the key.
/// Hashing the whole value (1 KB and up) cost a fiftieth of a request; a match
/// still compares the whole value, and only values that opened are stored,
/// so colliding tails buy an attacker nothing. Keyed per process, as
/// `HashMap`'s own hasher is.
#[derive(Clone, Default)]
struct TailHash(RandomState);

const HASHED_TAIL: usize = 32;

impl BuildHasher for TailHash {
    type Hasher = Tail;

    fn build_hasher(&self) -> Tail {
        Tail(self.0.build_hasher())
    }
}

struct Tail(DefaultHasher);

impl Hasher for Tail {
    fn write(&mut self, bytes: &[u8]) {
        self.0.write_usize(bytes.len());
        self.0
            .write(&bytes[bytes.len().saturating_sub(HASHED_TAIL)..]);
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

/// Roughly the bytes an entry holds: the key, the session's text (never more
/// than its sealed form) and the bookkeeping of each of its strings.
fn weight(sealed: &str, session: &Session) -> usize {
    const PER_STRING: usize = 48;
    let strings = session.groups.len() + session.claims.values().map(Vec::len).sum::<usize>();
    2 * sealed.len() + size_of::<Session>() + PER_STRING * (strings + 12)
}

impl Default for OpenedSessions {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for OpenedSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the entries: they hold tokens.
        f.debug_struct("OpenedSessions")
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_that_end_alike_are_still_different_sessions() {
        let opened = OpenedSessions::new();
        let tail = "T".repeat(2 * HASHED_TAIL);
        let alice = Session {
            subject: "alice".into(),
            ..Session::default()
        };
        opened.keep(&format!("A{tail}"), Arc::new(alice));
        assert_eq!(opened.get(&format!("A{tail}")).unwrap().subject, "alice");
        assert!(opened.get(&format!("B{tail}")).is_none());
        assert!(opened.get(&tail).is_none());
    }
}
