//! The Redis side of [`Revocations`]: each revocation is a key with a TTL
//! (`<prefix>rev:s:<id>`, `rev:i:<sid>`, `rev:u:<subject>`) and a message on
//! `<prefix>revocations`. A sync task subscribes, then loads every key, and
//! applies each message as it arrives; a writer task stores and publishes
//! what this replica revokes, retrying until Redis takes it. Neither is on
//! the request path.

use std::sync::{Mutex, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use redis::AsyncCommands;
use tokio::sync::mpsc;

use super::wire::{decode_key, decode_message, encode};
use super::{Revocation, Revocations, now};
use crate::config::RedisStoreConfig;
use crate::metrics::Metrics;

const FIRST_RETRY: Duration = Duration::from_millis(250);
const LAST_RETRY: Duration = Duration::from_secs(5);
/// How often every key is loaded again while subscribed.
const RELOAD_EVERY: Duration = Duration::from_secs(30);

/// KEYS[1] = the key; ARGV = value, TTL, channel, message. A value starts
/// with the number that must not go down (a cut-off, or an `until`).
const STORE_AND_ANNOUNCE: &str = r#"
local current = redis.call('GET', KEYS[1])
local stored = current and tonumber(string.match(current, '^(%d+)'))
if stored and stored >= tonumber(string.match(ARGV[1], '^(%d+)')) then
  redis.call('EXPIRE', KEYS[1], ARGV[2], 'GT')
else
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
"#;
const LOAD_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) struct Store {
    client: redis::Client,
    /// For the rare calls made while serving (a refresh, a logout token):
    /// one managed, reconnecting connection, not one per call.
    requests: tokio::sync::OnceCell<redis::aio::ConnectionManager>,
    prefix: String,
    outbox: mpsc::UnboundedSender<Revocation>,
    /// Why the in-memory state may be behind, if it may.
    sync_problem: std::sync::Arc<Mutex<Option<String>>>,
    write_problem: std::sync::Arc<Mutex<Option<String>>>,
}

impl Store {
    pub fn new(
        config: &RedisStoreConfig,
        revocations: Weak<Revocations>,
        metrics: std::sync::Arc<Metrics>,
    ) -> Result<Self, String> {
        let client = redis::Client::open(config.url.expose()).map_err(|e| e.to_string())?;
        let (outbox, inbox) = mpsc::unbounded_channel();
        let store = Store {
            client,
            requests: tokio::sync::OnceCell::new(),
            prefix: config.key_prefix.clone(),
            outbox,
            sync_problem: std::sync::Arc::new(Mutex::new(Some("not synced with Redis yet".into()))),
            write_problem: std::sync::Arc::default(),
        };
        let sync = Sync {
            client: store.client.clone(),
            prefix: store.prefix.clone(),
            revocations,
            problem: std::sync::Arc::clone(&store.sync_problem),
            metrics,
        };
        tokio::spawn(sync.run());
        let writer = Writer {
            client: store.client.clone(),
            prefix: store.prefix.clone(),
            problem: std::sync::Arc::clone(&store.write_problem),
        };
        tokio::spawn(writer.run(inbox));
        Ok(store)
    }

    pub fn publish(&self, revocation: Revocation) {
        // Fails only once the writer task is gone (shutdown).
        let _ = self.outbox.send(revocation);
    }

    /// `SET <prefix>jti:<jti> NX` with a TTL until `until`.
    pub async fn first_use(&self, jti: &str, until: u64) -> Result<bool, String> {
        self.set_new(&format!("jti:{jti}"), "1", ttl(until) * 1000)
            .await
    }

    /// `SET <prefix><name> <value> NX PX <ttl_ms>`: whether it was not set.
    async fn set_new(&self, name: &str, value: &str, ttl_ms: u64) -> Result<bool, String> {
        let mut conn = self.connection().await?;
        let set: Option<String> = redis::cmd("SET")
            .arg(format!("{}{name}", self.prefix))
            .arg(value)
            .arg("NX")
            .arg("PX")
            .arg(ttl_ms)
            .query_async(&mut conn)
            .await
            .map_err(|e| format!("Redis: {e}"))?;
        Ok(set.is_some())
    }

    async fn connection(&self) -> Result<redis::aio::ConnectionManager, String> {
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_number_of_retries(1)
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)));
        self.requests
            .get_or_try_init(|| {
                redis::aio::ConnectionManager::new_with_config(self.client.clone(), config)
            })
            .await
            .cloned()
            .map_err(|e| format!("Redis: {e}"))
    }

    /// `SET NX PX` with `token` as the value, so only its holder releases it.
    pub async fn claim(&self, name: &str, token: &str, ttl_ms: u64) -> Result<bool, String> {
        self.set_new(name, token, ttl_ms).await
    }

    /// Whether the lock `name` is still held by anyone.
    pub async fn held(&self, name: &str) -> Result<bool, String> {
        let mut conn = self.connection().await?;
        conn.exists(format!("{}{name}", self.prefix))
            .await
            .map_err(|e| format!("Redis: {e}"))
    }

    pub async fn share(&self, name: &str, value: &str, ttl_secs: u64) -> Result<(), String> {
        let mut conn = self.connection().await?;
        conn.set_ex::<_, _, ()>(format!("{}{name}", self.prefix), value, ttl_secs)
            .await
            .map_err(|e| format!("Redis: {e}"))
    }

    pub async fn shared(&self, name: &str) -> Result<Option<String>, String> {
        let mut conn = self.connection().await?;
        conn.get(format!("{}{name}", self.prefix))
            .await
            .map_err(|e| format!("Redis: {e}"))
    }

    /// Deletes the lock only if `token` still holds it: a refresh that
    /// outlived its lock must not release the next holder's.
    pub async fn release(&self, name: &str, token: &str) -> Result<(), String> {
        let mut conn = self.connection().await?;
        redis::cmd("EVAL")
            .arg("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0")
            .arg(1)
            .arg(format!("{}{name}", self.prefix))
            .arg(token)
            .query_async::<i64>(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| format!("Redis: {e}"))
    }

    pub fn degraded(&self) -> Option<String> {
        let read = |m: &Mutex<Option<String>>| m.lock().unwrap_or_else(|e| e.into_inner()).clone();
        read(&self.sync_problem).or_else(|| read(&self.write_problem))
    }
}

fn set_problem(slot: &Mutex<Option<String>>, problem: Option<String>) {
    let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
    if *slot != problem {
        match &problem {
            Some(why) => {
                tracing::warn!(reason = %why, "session store degraded; serving the last synced revocations")
            }
            None => tracing::info!("session store in sync"),
        }
        *slot = problem;
    }
}

/// `prefix` as a literal in a SCAN pattern.
fn glob_escape(prefix: &str) -> String {
    let mut escaped = String::with_capacity(prefix.len());
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

fn ttl(until: u64) -> u64 {
    until.saturating_sub(now()).max(1)
}

struct Sync {
    client: redis::Client,
    prefix: String,
    revocations: Weak<Revocations>,
    problem: std::sync::Arc<Mutex<Option<String>>>,
    metrics: std::sync::Arc<Metrics>,
}

impl Sync {
    async fn run(self) {
        let mut delay = FIRST_RETRY;
        loop {
            if self.revocations.strong_count() == 0 {
                return;
            }
            let why = match self.follow().await {
                Ok(()) => "the connection to Redis closed".to_owned(),
                Err(err) => format!("cannot sync with Redis: {err}"),
            };
            set_problem(&self.problem, Some(why));
            self.metrics.set_session_store_synced(false);
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(LAST_RETRY);
        }
    }

    /// Subscribes, loads everything stored, then applies messages until the
    /// connection ends. Subscribing first means nothing published while
    /// loading is missed.
    async fn follow(&self) -> redis::RedisResult<()> {
        let mut pubsub = self.client.get_async_pubsub().await?;
        pubsub
            .subscribe(format!("{}revocations", self.prefix))
            .await?;
        self.load_all().await?;
        if let Some(revocations) = self.revocations.upgrade() {
            revocations.mark_loaded();
        }
        set_problem(&self.problem, None);
        self.metrics.set_session_store_synced(true);
        let mut messages = pubsub.on_message();
        // A connection can die without a word (a half-open TCP connection):
        // loading everything again now and then both notices that (the
        // load fails) and makes up for any message lost.
        let mut reload = tokio::time::interval(RELOAD_EVERY);
        reload.tick().await;
        loop {
            tokio::select! {
                message = messages.next() => {
                    let Some(message) = message else { return Ok(()) };
                    let Ok(text) = message.get_payload::<String>() else {
                        continue;
                    };
                    let Some(revocations) = self.revocations.upgrade() else {
                        return Ok(());
                    };
                    if let Some(revocation) = decode_message(&text) {
                        revocations.apply(&revocation);
                    }
                }
                _ = reload.tick() => {
                    tokio::time::timeout(LOAD_TIMEOUT, self.load_all())
                        .await
                        .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "no answer to a periodic reload")))??;
                }
            }
        }
    }

    async fn load_all(&self) -> redis::RedisResult<()> {
        let mut conn = self.client.get_multiplexed_async_connection().await?;
        let pattern = format!("{}rev:*", glob_escape(&self.prefix));
        let mut cursor: u64 = 0;
        loop {
            let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .query_async(&mut conn)
                .await?;
            if !keys.is_empty() {
                let values: Vec<Option<String>> = conn.mget(&keys).await?;
                if let Some(revocations) = self.revocations.upgrade() {
                    for (key, value) in keys.iter().zip(values) {
                        let found = value.and_then(|v| decode_key(&self.prefix, key, &v));
                        if let Some(revocation) = found {
                            revocations.apply(&revocation);
                        }
                    }
                }
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }
}

struct Writer {
    client: redis::Client,
    prefix: String,
    problem: std::sync::Arc<Mutex<Option<String>>>,
}

impl Writer {
    async fn run(self, mut inbox: mpsc::UnboundedReceiver<Revocation>) {
        let mut conn: Option<redis::aio::MultiplexedConnection> = None;
        while let Some(revocation) = inbox.recv().await {
            let mut delay = FIRST_RETRY;
            loop {
                match self.write(&mut conn, &revocation).await {
                    Ok(()) => {
                        set_problem(&self.problem, None);
                        break;
                    }
                    Err(err) => {
                        conn = None;
                        set_problem(
                            &self.problem,
                            Some(format!("a revocation is waiting to reach Redis: {err}")),
                        );
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(LAST_RETRY);
                    }
                }
            }
        }
    }

    async fn write(
        &self,
        conn: &mut Option<redis::aio::MultiplexedConnection>,
        revocation: &Revocation,
    ) -> redis::RedisResult<()> {
        if conn.is_none() {
            *conn = Some(self.client.get_multiplexed_async_connection().await?);
        }
        let Some(conn) = conn.as_mut() else {
            return Ok(());
        };
        let (key, value, message, until) = encode(&self.prefix, revocation);
        // Stored and announced in one step; a person's stored cut-off never
        // moves back (a write retried after an outage, or from a replica
        // with a slow clock, may carry an earlier one), and its life only
        // grows.
        redis::cmd("EVAL")
            .arg(STORE_AND_ANNOUNCE)
            .arg(1)
            .arg(&key)
            .arg(value)
            .arg(ttl(until))
            .arg(format!("{}revocations", self.prefix))
            .arg(message)
            .query_async::<i64>(conn)
            .await
            .map(|_| ())
    }
}
