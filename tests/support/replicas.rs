//! Two stagepass replicas sharing one Redis, and what the revocation tests
//! ask of them: a person signed in, signed out, and whether a cookie still
//! works on a replica.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use stagepass::config::{Config, RedisStoreConfig, Secret};

use super::agent::Agent;
use super::redis::Redis;
use super::world::{SP_HOST, World, WorldOptions, world_with};
use super::*;

/// Two replicas with one Redis: `w` (with the OP) and `other`.
pub struct Replicas {
    pub w: World,
    pub other: Stagepass,
}

pub async fn replicas(redis: &Redis, options: WorldOptions) -> Replicas {
    replicas_with(redis, options, |_| {}).await
}

/// Two replicas, the second started from the first's config changed by
/// `other_config` (as after a restart with a new config).
pub async fn replicas_with(
    redis: &Redis,
    options: WorldOptions,
    other_config: impl FnOnce(&mut Config),
) -> Replicas {
    let seen: Arc<Mutex<Option<Config>>> = Arc::default();
    let keep = Arc::clone(&seen);
    let url = redis.url();
    let w = world_with(options, move |cfg: &mut Config| {
        cfg.stagepass.session_store = Some(RedisStoreConfig {
            url: Secret::new(url),
            key_prefix: "test:".into(),
        });
        cfg.stagepass.bearer.audiences = vec![super::op::API_AUDIENCE.into()];
        *keep.lock().unwrap() = Some(cfg.clone());
    })
    .await;
    let mut config = seen.lock().unwrap().take().unwrap();
    other_config(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = start_on(listener, config).await;
    super::world::wait_until_ready(&other).await;
    Replicas { w, other }
}

/// An API call to `base` with exactly this session cookie.
pub async fn status_with(base: std::net::SocketAddr, cookie: &str) -> u16 {
    let req = anonymous("GET", &format!("http://{base}/page"))
        .header("cookie", format!("stagepass={cookie}"))
        .header("accept", "application/json")
        .body(Default::default())
        .unwrap();
    send(&client(), req).await.status.as_u16()
}

/// Waits until `base` refuses `cookie`; how long that took. Fails after
/// 10 s (the promise is 1 s; the margin is for a loaded CI machine).
pub async fn refused_within(base: std::net::SocketAddr, cookie: &str) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if status_with(base, cookie).await == 401 {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{base} still accepts the revoked session");
}

pub async fn signed_in(r: &Replicas, login: &str) -> (Agent, String) {
    let mut agent = Agent::new();
    let callback = r.w.sign_in(&mut agent, "/", login).await;
    let cookie = agent.cookie(SP_HOST, "stagepass");
    let Some(cookie) = cookie.map(str::to_owned) else {
        panic!(
            "{login} is not signed in: {} {:?} {}",
            callback.status,
            callback.headers,
            callback.text()
        );
    };
    assert_eq!(status_with(r.other.public, &cookie).await, 200);
    (agent, cookie)
}

pub async fn sign_out(r: &Replicas, agent: &mut Agent, query: &str) {
    let url = r.w.url(&format!("/api/auth/test/logout{query}"));
    let reply = agent
        .request(
            "POST",
            &url,
            &[("x-requested-with", "XMLHttpRequest")],
            Default::default(),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
}
