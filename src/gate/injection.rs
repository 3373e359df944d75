//! What a signed-in request carries upstream for a given person: the
//! Backstage token and the assertion, as ready header values, kept per set
//! of claims for as long as each part stays valid.
//!
//! Without this, every request would resolve the identity (a cache lookup
//! keyed by the claims), look up the token and the assertion (two more,
//! keyed by hashes of the identity), format `Bearer …` and validate the
//! header bytes anew. With it, a request does one lookup and clones a few
//! reference-counted header values.

use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderName, HeaderValue};
use moka::sync::Cache;

use super::headers::PersonFields;

/// Ready-made headers for one set of claims, and until when they hold.
pub(super) struct Injection {
    /// The Backstage token and the assertion, under their configured names.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Identity headers filled from the catalog (`headers.user: entity`,
    /// `headers.groups: catalog`).
    pub person: PersonFields,
    /// The User entity ref and ownership refs, for route rules.
    pub user_ref: String,
    pub ownership: Vec<String>,
    /// Unix seconds: the earliest of the identity's freshness, the token's
    /// reuse deadline and the assertion's.
    pub valid_until: u64,
}

pub(super) struct Injections {
    entries: Cache<String, Arc<Injection>>,
}

/// As many people as the identity cache holds by default.
const MAX_ENTRIES: u64 = 10_000;

impl Injections {
    /// `longest` bounds every entry's life (the identity's `fresh_for`).
    pub(super) fn new(longest: Duration) -> Self {
        Injections {
            entries: Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .time_to_live(longest.max(Duration::from_secs(1)))
                .build(),
        }
    }

    /// The entry for `key`, if it is still valid at `now`.
    pub(super) fn get(&self, key: &str, now: u64) -> Option<Arc<Injection>> {
        self.entries
            .get(key)
            .filter(|entry| entry.valid_until > now)
    }

    /// Keeps `injection` unless it is already stale at `now` (an identity
    /// cache with `fresh_for: 0` wants every request resolved).
    pub(super) fn store(&self, key: String, injection: Arc<Injection>, now: u64) {
        if injection.valid_until > now {
            self.entries.insert(key, injection);
        }
    }
}
