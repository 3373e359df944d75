//! Sessions that can be ended, with real parts: Debian's `redis-server`
//! shared by two stagepass replicas, and the real OpenID Provider with its
//! back-channel logout on. A copied cookie stops working on the other
//! replica once the session is signed out, logged out at the IdP or
//! revoked on the admin port; a Redis restart loses nothing synced.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::agent::Agent;
use support::redis::Redis;
use support::replicas::*;
use support::world::{SP_HOST, WorldOptions};
use support::*;

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
