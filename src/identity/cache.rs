//! Resolved identities, kept so that the catalog is not asked on every
//! request and so that an outage does not sign anyone out.
//!
//! An entry is *fresh* for `fresh_for`: used without asking the catalog. After
//! that the catalog is asked again; only if it cannot answer is the entry used
//! anyway, for up to `stale_for` after it was resolved. A definite answer
//! (user gone, now ambiguous) replaces or drops the entry at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::future::Cache;

use super::{Claims, Identity};

pub(crate) struct IdentityCache {
    entries: Cache<String, Arc<Entry>>,
    fresh_for: Duration,
    stale_for: Duration,
}

struct Entry {
    identity: Identity,
    resolved_at: Instant,
}

impl IdentityCache {
    pub fn new(fresh_for: Duration, stale_for: Duration, max_entries: u64) -> Self {
        // moka evicts by its own clock; the age checks below are what decide.
        let keep_for = stale_for.max(fresh_for).max(Duration::from_secs(1));
        IdentityCache {
            entries: Cache::builder()
                .max_capacity(max_entries)
                .time_to_live(keep_for)
                .build(),
            fresh_for,
            stale_for,
        }
    }

    pub async fn fresh(&self, key: &str) -> Option<Identity> {
        self.younger_than(key, self.fresh_for)
            .await
            .map(|(identity, _)| identity)
    }

    /// The identity and its age, while still within the stale window.
    pub async fn stale(&self, key: &str) -> Option<(Identity, Duration)> {
        self.younger_than(key, self.stale_for).await
    }

    pub async fn store(&self, key: String, identity: Identity) {
        let entry = Entry {
            identity,
            resolved_at: Instant::now(),
        };
        self.entries.insert(key, Arc::new(entry)).await;
    }

    pub async fn forget(&self, key: &str) {
        self.entries.invalidate(key).await;
    }

    async fn younger_than(&self, key: &str, limit: Duration) -> Option<(Identity, Duration)> {
        let entry = self.entries.get(key).await?;
        let age = entry.resolved_at.elapsed();
        (age < limit).then(|| (entry.identity.clone(), age))
    }
}

/// Every claim a resolver or the resulting identity reads, so that a change in
/// any of them (a new email, a new display name) resolves afresh.
pub fn cache_key(claims: &Claims) -> String {
    key_of(claims.parts())
}

/// [`cache_key`] from the claims in [`Claims::parts`]' order, for a caller
/// that holds them elsewhere (a session) and should not copy them first:
/// this runs on every signed-in request.
pub fn key_of(parts: [Option<&str>; 5]) -> String {
    let len: usize = parts.iter().flatten().map(|p| p.len() + 8).sum();
    let mut key = String::with_capacity(len + 2 * parts.len());
    // Length-prefixed so that no two different claim sets share a key.
    for part in parts {
        match part {
            Some(text) => {
                push_decimal(&mut key, text.len());
                key.push(':');
                key.push_str(text);
                key.push('|');
            }
            None => key.push_str("-|"),
        }
    }
    key
}

/// `n` in decimal, without the formatting machinery.
fn push_decimal(out: &mut String, n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut rest = n;
    loop {
        at -= 1;
        digits[at] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    out.extend(digits[at..].iter().map(|&d| char::from(d)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            user_entity_ref: "user:default/a".into(),
            ownership_entity_refs: vec!["user:default/a".into()],
            display_name: None,
            email: None,
            picture: None,
        }
    }

    #[test]
    fn keys_tell_claims_apart() {
        let a = Claims {
            subject: "a|b".into(),
            ..Claims::default()
        };
        let b = Claims {
            subject: "a".into(),
            email: Some("b".into()),
            ..Claims::default()
        };
        assert_ne!(cache_key(&a), cache_key(&b));
        assert_eq!(cache_key(&a), cache_key(&a.clone()));
        let long = Claims {
            subject: "s".repeat(1234),
            name: Some(String::new()),
            ..Claims::default()
        };
        assert_eq!(cache_key(&long), format!("1234:{}|-|-|0:|-|", long.subject));
    }

    #[tokio::test]
    async fn fresh_then_stale_then_gone() {
        let cache = IdentityCache::new(Duration::from_millis(300), Duration::from_millis(900), 10);
        cache.store("k".into(), identity()).await;
        assert!(cache.fresh("k").await.is_some());
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert!(cache.fresh("k").await.is_none());
        assert!(cache.stale("k").await.is_some());
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(cache.stale("k").await.is_none());
        cache.store("k".into(), identity()).await;
        cache.forget("k").await;
        assert!(cache.stale("k").await.is_none());
    }
}
