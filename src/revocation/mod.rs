//! Sessions that can be ended before their cookie expires, across replicas.
//!
//! A cookie cannot be taken back, so with a shared store
//! (`stagepass.sessions.store`) each session carries an id, and what ends
//! sessions is recorded there: one session (sign-out), one IdP session
//! (back-channel logout by `sid`), or everything a person signed in before
//! a cut-off time ("sign out everywhere", back-channel logout by `sub`, the
//! admin port). Every replica keeps all of it in memory, current through
//! Redis pub/sub ([`redis`]), so a signed-in request never waits for Redis.
//! While Redis is unreachable, the last synced state keeps serving and new
//! revocations are kept and retried; readiness says so.
//!
//! Without a store this module is inert: cookie-only sessions, as before.

mod redis;
mod wire;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use moka::sync::Cache;

use crate::config::RedisStoreConfig;
use crate::metrics::Metrics;

/// What ended, and until when it matters (Unix seconds: the longest a
/// session it applies to could still live).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// One stagepass session, by its id.
    Session { id: String, until: u64 },
    /// Every session of one IdP sign-in, by the IdP's `sid`.
    IdpSession { sid: String, until: u64 },
    /// Every session of `subject` signed in at or before `cutoff`.
    Subject {
        subject: String,
        cutoff: u64,
        until: u64,
    },
}

impl Revocation {
    /// Every session `subject` signed in to until now; `lifetime`
    /// (`sessionDuration`) is how long any of them could still live.
    pub fn everything_of(subject: String, lifetime: Duration) -> Self {
        Revocation::Subject {
            subject,
            cutoff: now(),
            until: now() + lifetime.as_secs(),
        }
    }

    /// Every session of one IdP sign-in (its `sid`).
    pub fn idp_session(sid: String, lifetime: Duration) -> Self {
        Revocation::IdpSession {
            sid,
            until: now() + lifetime.as_secs(),
        }
    }
}

/// Unix seconds.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The parts of a session revocation looks at.
pub struct SessionRef<'a> {
    pub id: Option<&'a str>,
    pub idp_sid: Option<&'a str>,
    pub subject: &'a str,
    /// When the person signed in (Unix seconds).
    pub signed_in_at: u64,
}

pub struct Revocations {
    /// Id → (until, until).
    sessions: Cache<String, Entry>,
    /// IdP sid → (until, until).
    idp_sessions: Cache<String, Entry>,
    /// Subject → (cut-off, until).
    subjects: Cache<String, Entry>,
    store: Option<redis::Store>,
    /// Unix seconds when this process started keeping revocations.
    started_at: u64,
    /// Whether everything the store held has been loaded once: until then,
    /// a revocation made before `started_at` is unknown here.
    loaded: AtomicBool,
}

/// What an entry says (until, or a cut-off) and until when it matters.
type Entry = (u64, u64);

/// Entries live until their `until` (no longer: memory follows what can
/// still matter) and at most this long; a longer `until` is cut to it (no
/// session outlives `sessionDuration`, 24 h by default; the store keeps
/// the full time and a resync restores it).
const LONGEST: Duration = Duration::from_secs(31 * 24 * 3600);
const MAX_ENTRIES: u64 = 1_000_000;

/// Each entry expires at its own `until`.
struct UntilExpiry;

impl moka::Expiry<String, Entry> for UntilExpiry {
    fn expire_after_create(
        &self,
        _key: &String,
        entry: &Entry,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        Some(left_until(entry.1))
    }

    fn expire_after_update(
        &self,
        _key: &String,
        entry: &Entry,
        _updated_at: std::time::Instant,
        _left: Option<Duration>,
    ) -> Option<Duration> {
        Some(left_until(entry.1))
    }
}

fn left_until(until: u64) -> Duration {
    Duration::from_secs(until.saturating_sub(now())).min(LONGEST)
}

impl Revocations {
    /// Cookie-only sessions: nothing is ever revoked.
    pub fn none() -> Arc<Self> {
        Arc::new(Self::in_memory())
    }

    fn in_memory() -> Self {
        let cache = || {
            Cache::builder()
                .max_capacity(MAX_ENTRIES)
                .expire_after(UntilExpiry)
                .build()
        };
        Revocations {
            sessions: cache(),
            idp_sessions: cache(),
            subjects: cache(),
            store: None,
            started_at: now(),
            loaded: AtomicBool::new(false),
        }
    }

    /// With the shared store: starts the sync and writer tasks (inside a
    /// Tokio runtime). Fails only on a URL Redis's client cannot use.
    pub fn with_store(
        config: &RedisStoreConfig,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Self>, String> {
        let this = Arc::new_cyclic(|weak| {
            let mut revocations = Self::in_memory();
            revocations.store = redis::Store::new(config, weak.clone(), metrics).ok();
            revocations
        });
        if this.store.is_none() {
            return Err(
                "stagepass.sessions.store.redis.url: not a URL the Redis client accepts".into(),
            );
        }
        Ok(this)
    }

    /// Whether sessions carry ids (there is a store to revoke them in).
    pub fn enabled(&self) -> bool {
        self.store.is_some()
    }

    /// The hot-path check: three in-memory lookups, no I/O.
    pub fn is_revoked(&self, session: &SessionRef<'_>, now: u64) -> bool {
        if self.store.is_none() {
            return false;
        }
        let live = |entry: Option<Entry>| entry.is_some_and(|(_, until)| until > now);
        session.id.is_some_and(|id| live(self.sessions.get(id)))
            || session
                .idp_sid
                .is_some_and(|sid| live(self.idp_sessions.get(sid)))
            || self
                .subjects
                .get(session.subject)
                .is_some_and(|(cutoff, until)| until > now && session.signed_in_at <= cutoff)
    }

    /// Whether `session` may have been revoked without this replica
    /// knowing: it began before this process did, and the store has not
    /// been read yet (Redis out of reach since start-up). Such a session is
    /// refused rather than trusted.
    pub fn unknown_for(&self, session: &SessionRef<'_>) -> bool {
        self.store.is_some()
            && !self.loaded.load(Ordering::Acquire)
            && session.signed_in_at < self.started_at
    }

    /// Everything stored has been applied once.
    fn mark_loaded(&self) {
        self.loaded.store(true, Ordering::Release);
    }

    /// Records `revocation` here at once, and in the store for every
    /// replica (retried until the store takes it).
    pub fn revoke(&self, revocation: Revocation) {
        self.apply(&revocation);
        if let Some(store) = &self.store {
            store.publish(revocation);
        }
    }

    /// Applies a revocation heard from the store (or made here).
    fn apply(&self, revocation: &Revocation) {
        match revocation {
            Revocation::Session { id, until } => self.sessions.insert(id.clone(), (*until, *until)),
            Revocation::IdpSession { sid, until } => {
                self.idp_sessions.insert(sid.clone(), (*until, *until))
            }
            Revocation::Subject {
                subject,
                cutoff,
                until,
            } => {
                // The latest cut-off and the longest life win, whatever
                // order revocations arrive in.
                let merged = self
                    .subjects
                    .get(subject)
                    .map_or((*cutoff, *until), |(c, u)| (c.max(*cutoff), u.max(*until)));
                self.subjects.insert(subject.clone(), merged);
            }
        }
    }

    /// Marks a back-channel logout token's `jti` as used; `Ok(false)` when
    /// it was used before (a replay). Needs the store.
    pub async fn first_use(&self, jti: &str, until: u64) -> Result<bool, String> {
        match &self.store {
            Some(store) => store.first_use(jti, until).await,
            None => Err("no session store is configured".into()),
        }
    }

    /// Takes the store-wide lock `name` for `ttl_ms` as `token`:
    /// `Some(true)` when taken, `Some(false)` when someone holds it, `None`
    /// without a reachable store.
    pub async fn claim(&self, name: &str, token: &str, ttl_ms: u64) -> Option<bool> {
        self.store.as_ref()?.claim(name, token, ttl_ms).await.ok()
    }

    /// Whether anyone still holds the lock `name` (`None`: cannot tell).
    pub async fn held(&self, name: &str) -> Option<bool> {
        self.store.as_ref()?.held(name).await.ok()
    }

    /// Leaves `value` under `name` for `ttl_secs`, for the other replicas.
    pub async fn share(&self, name: &str, value: &str, ttl_secs: u64) {
        if let Some(store) = &self.store {
            let _ = store.share(name, value, ttl_secs).await;
        }
    }

    /// What another replica left under `name`.
    pub async fn shared(&self, name: &str) -> Option<String> {
        self.store.as_ref()?.shared(name).await.ok().flatten()
    }

    /// Gives up the lock `name`, if `token` still holds it.
    pub async fn release(&self, name: &str, token: &str) {
        if let Some(store) = &self.store {
            let _ = store.release(name, token).await;
        }
    }

    /// `Some(reason)` while the store is unreachable or behind: sessions
    /// are still checked against the last synced state.
    pub fn degraded(&self) -> Option<String> {
        self.store.as_ref().and_then(redis::Store::degraded)
    }
}

#[cfg(test)]
mod tests;
