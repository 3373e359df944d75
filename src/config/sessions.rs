//! `stagepass.sessions.store`: an optional shared store (Redis or Valkey)
//! that lets sessions be ended before their cookie expires: sign-out,
//! "sign out everywhere", OIDC back-channel logout and the admin port's
//! revoke, across every replica. Without it sessions are cookie-only.

use url::Url;

use super::Secret;
use super::field::{Field, Problems};

const STORE_KEYS: &[&str] = &["redis"];
const REDIS_KEYS: &[&str] = &["url", "keyPrefix"];
const DEFAULT_KEY_PREFIX: &str = "stagepass:";

#[derive(Debug, Clone)]
pub struct RedisStoreConfig {
    /// `redis://[user:password@]host:port[/db]`, or `rediss://` for TLS
    /// (trusting the system store). A secret: it may carry a password.
    pub url: Secret,
    /// `keyPrefix`, default `stagepass:`: keys and the pub/sub channel start
    /// with it, so several deployments can share one Redis.
    pub key_prefix: String,
}

pub(super) fn store(section: &Field, problems: &mut Problems) -> Option<RedisStoreConfig> {
    let store = section.child("store");
    store.map(problems)?;
    store.reject_unknown_keys(problems, STORE_KEYS);
    let redis = store.child("redis");
    if !redis.is_set() {
        problems.add(
            &redis.path,
            "missing: the only store is redis: {url: redis://host:6379}",
        );
        return None;
    }
    redis.map(problems)?;
    redis.reject_unknown_keys(problems, REDIS_KEYS);
    let url = redis.child("url").required(problems, redis_url)?;
    let key_prefix =
        redis
            .child("keyPrefix")
            .optional(problems, DEFAULT_KEY_PREFIX.to_owned(), Field::text);
    Some(RedisStoreConfig { url, key_prefix })
}

fn redis_url(field: &Field) -> Result<Secret, String> {
    let text = field.text()?;
    // Never echoed: it may carry the password.
    let url = Url::parse(&text).map_err(|e| format!("is not a URL ({e})"))?;
    if !matches!(url.scheme(), "redis" | "rediss") || url.host_str().is_none() {
        return Err("must be redis://host:6379 or rediss://host:6380".to_owned());
    }
    Ok(Secret::new(text))
}
