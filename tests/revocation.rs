//! Sessions that can be ended, with real parts: Debian's `redis-server`
//! shared by two stagepass replicas, and the real OpenID Provider with its
//! back-channel logout on. A copied cookie stops working on the other
//! replica once the session is signed out, logged out at the IdP or
//! revoked on the admin port; a Redis restart loses nothing synced.

mod support;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use stagepass::config::{Config, RedisStoreConfig, Secret};
use support::agent::Agent;
use support::redis::Redis;
use support::world::{SP_HOST, World, WorldOptions, world_with};
use support::*;

/// Two replicas with one Redis: `w` (with the OP) and `other`.
struct Replicas {
    w: World,
    other: Stagepass,
}

async fn replicas(redis: &Redis, options: WorldOptions) -> Replicas {
    replicas_with(redis, options, |_| {}).await
}

/// Two replicas, the second started from the first's config changed by
/// `other_config` (as after a restart with a new config).
async fn replicas_with(
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
        cfg.stagepass.bearer.audiences = vec![support::op::API_AUDIENCE.into()];
        *keep.lock().unwrap() = Some(cfg.clone());
    })
    .await;
    let mut config = seen.lock().unwrap().take().unwrap();
    other_config(&mut config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let other = start_on(listener, config).await;
    support::world::wait_until_ready(&other).await;
    Replicas { w, other }
}

/// An API call to `base` with exactly this session cookie.
async fn status_with(base: std::net::SocketAddr, cookie: &str) -> u16 {
    let req = anonymous("GET", &format!("http://{base}/page"))
        .header("cookie", format!("stagepass={cookie}"))
        .header("accept", "application/json")
        .body(Default::default())
        .unwrap();
    send(&client(), req).await.status.as_u16()
}

/// Waits until `base` refuses `cookie`; how long that took. Fails after
/// 10 s (the promise is 1 s; the margin is for a loaded CI machine).
async fn refused_within(base: std::net::SocketAddr, cookie: &str) -> Duration {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if status_with(base, cookie).await == 401 {
            return start.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{base} still accepts the revoked session");
}

async fn signed_in(r: &Replicas, login: &str) -> (Agent, String) {
    let mut agent = Agent::new();
    r.w.sign_in(&mut agent, "/", login).await;
    let cookie = agent.cookie(SP_HOST, "stagepass").unwrap().to_owned();
    assert_eq!(status_with(r.other.public, &cookie).await, 200);
    (agent, cookie)
}

async fn sign_out(r: &Replicas, agent: &mut Agent, query: &str) {
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

#[tokio::test]
async fn a_copied_cookie_stops_working_on_every_replica_after_sign_out() {
    let redis = Redis::start().await;
    let r = replicas(&redis, WorldOptions::default()).await;
    let (mut alice, copied) = signed_in(&r, "alice").await;
    let (_bob, bobs) = signed_in(&r, "bob").await;
    sign_out(&r, &mut alice, "").await;
    let took = refused_within(r.other.public, &copied).await;
    eprintln!("revocation reached the other replica in {took:?}");
    assert_eq!(status_with(r.w.sp.public, &copied).await, 401);
    assert_eq!(
        status_with(r.other.public, &bobs).await,
        200,
        "bob is not affected"
    );
}

#[tokio::test]
async fn sign_out_everywhere_ends_each_of_the_persons_sessions() {
    let redis = Redis::start().await;
    let r = replicas(&redis, WorldOptions::default()).await;
    let (mut laptop, _) = signed_in(&r, "alice").await;
    let (_phone, phone) = signed_in(&r, "alice").await;
    let (_bob, bobs) = signed_in(&r, "bob").await;
    sign_out(&r, &mut laptop, "?everywhere=true").await;
    refused_within(r.other.public, &phone).await;
    assert_eq!(status_with(r.other.public, &bobs).await, 200);
    // Signing in again afterwards works. Cut-offs are in whole seconds and
    // a sign-in in the cut-off's own second is ended too (fail closed), so
    // wait for the clock's next second first (a wait, not a timing check).
    let cutoff = now();
    while now() == cutoff {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_again, fresh) = signed_in(&r, "alice").await;
    assert_eq!(status_with(r.w.sp.public, &fresh).await, 200);
}

/// A session is dated by when its person signed in, not by its expiry less
/// today's `sessionDuration`: a replica restarted with a shorter
/// `sessionDuration` would otherwise date an earlier sign-in after the
/// cut-off and keep it.
#[tokio::test]
async fn sign_out_everywhere_holds_on_a_replica_with_a_shorter_session_duration() {
    let redis = Redis::start().await;
    let r = replicas_with(&redis, WorldOptions::default(), |cfg| {
        let provider = cfg.auth.providers.get_mut("test").unwrap();
        provider.session_duration = Duration::from_secs(3600);
    })
    .await;
    let (mut laptop, _) = signed_in(&r, "alice").await;
    let (_phone, phone) = signed_in(&r, "alice").await;
    sign_out(&r, &mut laptop, "?everywhere=true").await;
    refused_within(r.other.public, &phone).await;
}

/// With a store, a session knows when its person signed in: a lowered
/// `sessionDuration` ends those signed in longer ago than it, whatever their
/// cookie says, so no session outlives the cut-offs kept that long.
#[tokio::test]
async fn a_lowered_session_duration_ends_sessions_signed_in_longer_ago() {
    let redis = Redis::start().await;
    let up = upstream::start().await;
    let mut cfg = config(up.url());
    cfg.stagepass.session_store = Some(RedisStoreConfig {
        url: Secret::new(redis.url()),
        key_prefix: "test:".into(),
    });
    let provider = cfg.auth.providers.get_mut("test").unwrap();
    provider.session_duration = Duration::from_secs(3600);
    let sp = start(cfg).await;
    // Both written under the old 24 hours: 22 hours left on each cookie.
    let signed_in = |ago: u64| {
        session_cookie(&stagepass::session::Session {
            signed_in_at: Some(now() - ago),
            expires_at: now() - ago + 24 * 3600,
            ..test_session()
        })
    };
    let (recent, older) = (signed_in(1800), signed_in(2 * 3600));
    let value = |cookie: &str| cookie.strip_prefix("stagepass=").unwrap().to_owned();
    let (recent, older) = (value(&recent), value(&older));
    let start = Instant::now();
    // Until the replica has read the store, sessions older than it get 503.
    while status_with(sp.public, &recent).await != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never read the store"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        status_with(sp.public, &older).await,
        401,
        "signed in two hours ago"
    );
}

#[tokio::test]
async fn the_admin_port_locks_a_person_out_now() {
    let redis = Redis::start().await;
    let r = replicas(&redis, WorldOptions::default()).await;
    let (_alice, alices) = signed_in(&r, "alice").await;
    let req = anonymous("POST", &r.w.sp.admin_url("/sessions/revoke"))
        .header("content-type", "application/json")
        .body(json!({"sub": "alice"}).to_string().into())
        .unwrap();
    let reply = send(&client(), req).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.json()["revoked"].is_string(), "{}", reply.text());
    refused_within(r.other.public, &alices).await;
    // A machine's API token is covered too: issued before the revocation.
    let token = r.w.op.machine_token(&[]).await;
    let bearer = |base: std::net::SocketAddr, token: &str| {
        let req = anonymous("GET", &format!("http://{base}/page"))
            .header("authorization", format!("Bearer {token}"))
            .header("accept", "application/json")
            .body(Default::default())
            .unwrap();
        async move { send(&client(), req).await.status.as_u16() }
    };
    assert_eq!(bearer(r.other.public, &token).await, 200);
    let revoke = |body: serde_json::Value| {
        anonymous("POST", &r.w.sp.admin_url("/sessions/revoke"))
            .header("content-type", "application/json")
            .body(body.to_string().into())
            .unwrap()
    };
    let reply = send(&client(), revoke(json!({"sub": support::op::MACHINE_ID}))).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let start = Instant::now();
    while bearer(r.other.public, &token).await != 401 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the token still works"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Only JSON: a form another web page could post is refused.
    let form = anonymous("POST", &r.w.sp.admin_url("/sessions/revoke"))
        .header("content-type", "text/plain")
        .body(json!({"sub": "bob"}).to_string().into())
        .unwrap();
    let refused = send(&client(), form).await;
    assert_eq!(refused.status, 415);
    assert_eq!(
        refused.json()["error"]["name"],
        "json_only",
        "{}",
        refused.text()
    );
    let unknown = send(&client(), revoke(json!({"who": "bob"}))).await;
    assert_eq!(unknown.status, 400);
    assert!(
        unknown.json()["error"]["message"].is_string(),
        "{}",
        unknown.text()
    );
    let metrics = get(&r.w.sp.admin_url("/metrics")).await.text();
    assert!(
        metrics.contains("stagepass_sessions_revoked_total{kind=\"subject\"} 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("stagepass_session_store_synced 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn while_redis_is_down_synced_revocations_hold_and_new_ones_arrive_later() {
    let mut redis = Redis::start().await;
    let r = replicas(&redis, WorldOptions::default()).await;
    let (mut first, firsts) = signed_in(&r, "alice").await;
    let (mut second, seconds) = signed_in(&r, "bob").await;
    sign_out(&r, &mut first, "").await;
    refused_within(r.other.public, &firsts).await;

    redis.stop().await;
    // Readiness stays 200 and says why it is degraded.
    let start = Instant::now();
    let degraded = loop {
        let ready = get(&r.other.admin_url("/readyz")).await;
        assert_eq!(ready.status, 200, "{}", ready.text());
        if ready.text().contains("degraded") {
            break ready.text();
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "never said degraded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(degraded.contains("Redis"), "{degraded}");
    // What was synced still holds, and sessions still work without Redis.
    assert_eq!(status_with(r.other.public, &firsts).await, 401);
    assert_eq!(status_with(r.other.public, &seconds).await, 200);
    // A sign-out during the outage is kept and retried...
    sign_out(&r, &mut second, "").await;
    assert_eq!(
        status_with(r.w.sp.public, &seconds).await,
        401,
        "at once here"
    );

    // ...and reaches the other replica once Redis is back (empty: it kept
    // nothing), as does nothing else being lost.
    let _redis = Redis::start_on(redis.port).await;
    refused_within(r.other.public, &seconds).await;
    assert_eq!(status_with(r.other.public, &firsts).await, 401);
}

#[tokio::test]
async fn the_idps_back_channel_logout_ends_the_persons_sessions_everywhere() {
    let redis = Redis::start().await;
    let options = WorldOptions {
        backchannel_logout: true,
        ..WorldOptions::default()
    };
    let r = replicas(&redis, options).await;
    let (mut alice, alices) = signed_in(&r, "alice").await;
    let (_bob, bobs) = signed_in(&r, "bob").await;
    // alice signs out at the IdP (another app's "sign out", say).
    r.w.op.end_session(&mut alice).await;
    refused_within(r.other.public, &alices).await;
    assert_eq!(status_with(r.w.sp.public, &alices).await, 401);
    assert_eq!(status_with(r.other.public, &bobs).await, 200);
}

#[tokio::test]
async fn forged_replayed_and_misaddressed_logout_tokens_are_refused() {
    let redis = Redis::start().await;
    let r = replicas(&redis, WorldOptions::default()).await;
    let (_alice, alices) = signed_in(&r, "alice").await;
    let issuer = r.w.op.issuer.as_str().trim_end_matches('/').to_owned();
    let claims = |changes: serde_json::Value| {
        let mut claims = json!({"iss": issuer, "aud": support::op::CLIENT_ID, "iat": now(), "exp": now() + 120,
            "jti": format!("jti-{}", now()), "sub": "alice",
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}}});
        for (key, value) in changes.as_object().unwrap() {
            claims[key] = value.clone();
        }
        claims
    };
    let post = |token: String| {
        let body = format!("logout_token={token}");
        let req = anonymous(
            "POST",
            r.w.url("/api/auth/test/backchannel-logout").as_str(),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.into())
        .unwrap();
        async move { send(&client(), req).await }
    };
    let header = json!({"typ": "logout+jwt"});
    for (change, reason) in [
        (json!({"aud": "another-client"}), "aud"),
        (json!({"nonce": "n"}), "nonce"),
        (json!({"events": {}}), "events"),
    ] {
        let token = r.w.op.sign(claims(change.clone()), header.clone()).await;
        let reply = post(token).await;
        assert_eq!(reply.status, 400, "{change}");
        assert_eq!(reply.json()["error"], "invalid_request");
        assert!(reply.text().contains(reason), "{}", reply.text());
    }
    let genuine = r.w.op.sign(claims(json!({})), header.clone()).await;
    let (head, rest) = genuine.split_once('.').unwrap();
    let (_, signature) = rest.rsplit_once('.').unwrap();
    let forged_claims = claims(json!({"sub": "bob"})).to_string();
    use base64::Engine;
    let forged = format!(
        "{head}.{}.{signature}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged_claims)
    );
    assert_eq!(post(forged).await.status, 400, "a forged signature");
    assert_eq!(
        status_with(r.other.public, &alices).await,
        200,
        "nothing refused revoked anyone"
    );
    assert_eq!(post(genuine.clone()).await.status, 200);
    refused_within(r.other.public, &alices).await;
    let replay = post(genuine).await;
    assert_eq!(replay.status, 400);
    assert!(replay.text().contains("used before"), "{}", replay.text());
}

/// Requests to both replicas at once, each needing a refresh, with an OP
/// that spends a refresh token on use: without coordination one replica
/// would present a spent token and end the session.
#[tokio::test]
async fn concurrent_refreshes_on_two_replicas_keep_the_session() {
    let redis = Redis::start().await;
    let options = WorldOptions {
        access_token_ttl: 30, // inside the refresh margin: every request refreshes
        rotate_refresh_tokens: true,
        ..WorldOptions::default()
    };
    let r = replicas(&redis, options).await;
    let mut alice = Agent::new();
    r.w.sign_in(&mut alice, "/", "alice").await;
    let mut cookie = alice.cookie(SP_HOST, "stagepass").unwrap().to_owned();
    let before = r.w.op.stats().await["token_refresh_token"]
        .as_u64()
        .unwrap();
    for round in 0..5 {
        let ask = |base| {
            let req = anonymous("GET", &format!("http://{base}/page"))
                .header("cookie", format!("stagepass={cookie}"))
                .header("accept", "application/json")
                .body(Default::default())
                .unwrap();
            async move { send(&client(), req).await }
        };
        let (a, b) = tokio::join!(ask(r.w.sp.public), ask(r.other.public));
        assert_eq!(
            (a.status.as_u16(), b.status.as_u16()),
            (200, 200),
            "round {round}"
        );
        let renewed = |reply: &Reply| {
            reply
                .headers
                .get_all("set-cookie")
                .iter()
                .filter_map(|v| v.to_str().ok()?.strip_prefix("stagepass="))
                .map(|v| v.split(';').next().unwrap().to_owned())
                .next()
        };
        // Each replica writes the renewed session in its own cookie (sealed
        // anew); both must carry the one renewal: use them in turn.
        let (a, b) = (renewed(&a).expect("renewed"), renewed(&b).expect("renewed"));
        cookie = if round % 2 == 0 { a } else { b };
    }
    let refreshes = r.w.op.stats().await["token_refresh_token"]
        .as_u64()
        .unwrap()
        - before;
    assert_eq!(refreshes, 5, "one refresh per round, not one per replica");
    // The last renewal still works on both replicas.
    assert_eq!(status_with(r.w.sp.public, &cookie).await, 200);
}

/// A replica that starts while Redis is out of reach cannot know which
/// sessions were revoked before it started: a session older than the
/// replica gets a 503 and never reaches the app, until the replica has read
/// the store.
#[tokio::test]
async fn a_replica_that_never_read_the_store_refuses_older_sessions_until_it_has() {
    let port = free_port();
    let up = upstream::start().await;
    let mut cfg = config(up.url());
    cfg.stagepass.session_store = Some(RedisStoreConfig {
        url: Secret::new(format!("redis://127.0.0.1:{port}")),
        key_prefix: "test:".into(),
    });
    let sp = start(cfg).await;
    // Signed in hours before this replica started.
    let cookie = session_cookie(&test_session());
    let client = client();
    let call = || {
        let req = anonymous("GET", &sp.url("/page"))
            .header("cookie", &cookie)
            .header("accept", "application/json")
            .body(Default::default())
            .unwrap();
        send(&client, req)
    };
    let refused = call().await;
    assert_eq!(refused.status, 503, "{}", refused.text());
    assert_eq!(refused.json()["error"]["name"], "session_store_unavailable");
    assert_eq!(up.controls.count(), 0, "nothing reached the app");

    let _redis = Redis::start_on(port).await;
    let start = Instant::now();
    while call().await.status != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "never read the store"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(up.controls.count(), 1);
}

/// A WebSocket tunnel ends with the session that opened it: signed out on
/// one replica, a tunnel open through another closes too.
#[tokio::test]
async fn a_websocket_tunnel_closes_when_its_session_is_signed_out_elsewhere() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let redis = Redis::start().await;
    let r = replicas(&redis, WorldOptions::default()).await;
    let (mut alice, cookie) = signed_in(&r, "alice").await;
    let mut ws_request = format!("ws://{}/ws", r.other.public)
        .into_client_request()
        .unwrap();
    let header = format!("stagepass={cookie}").parse().unwrap();
    ws_request.headers_mut().insert("cookie", header);
    let (mut ws, response) = tokio_tungstenite::connect_async(ws_request).await.unwrap();
    assert_eq!(response.status(), 101);
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hello"));

    sign_out(&r, &mut alice, "").await;
    // The session lasts hours more: only the sign-out can end the tunnel
    // (the bound only keeps a broken build from hanging the suite).
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) => return,
                Some(Ok(message)) if message.is_close() => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the tunnel outlived its signed-out session");
}
