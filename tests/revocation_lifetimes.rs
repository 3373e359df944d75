//! How long a revocable session lasts, with real parts (Debian's
//! `redis-server`, the real OpenID Provider): sessions are dated by their
//! sign-in, a lowered `sessionDuration` holds, a replica that has not read
//! the store refuses older sessions, and WebSocket tunnels end with the
//! session or token that opened them.

mod support;

use std::time::{Duration, Instant};

use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use serde_json::json;
use stagepass::config::{RedisStoreConfig, Secret};
use support::redis::Redis;
use support::replicas::*;
use support::world::WorldOptions;
use support::*;

/// Whether the tunnel closes. The 20 s bound only keeps a broken build
/// from hanging the suite.
async fn closes<S, E>(ws: &mut S) -> bool
where
    S: futures_util::Stream<Item = Result<tokio_tungstenite::tungstenite::Message, E>> + Unpin,
{
    use futures_util::StreamExt;
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) => return,
                Some(Ok(message)) if message.is_close() => return,
                Some(Ok(_)) => {}
            }
        }
    });
    closed.await.is_ok()
}

type Tunnel =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket tunnel through `base` to the upstream's echo, opened with
/// one credential header, and shown to carry a message.
async fn open_tunnel(base: std::net::SocketAddr, header: &'static str, value: &str) -> Tunnel {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let mut request = format!("ws://{base}/ws").into_client_request().unwrap();
    request.headers_mut().insert(header, value.parse().unwrap());
    let (mut ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(response.status(), 101);
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hello"));
    ws
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

    // A tunnel ends when the lowered duration ends its session, not when
    // the cookie would have: this one has seconds left of its hour.
    let ending = signed_in(3600 - 10);
    let mut ws = open_tunnel(sp.public, "cookie", &ending).await;
    assert!(
        closes(&mut ws).await,
        "the tunnel outlived the session's hour"
    );
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
    let redis = Redis::start().await;
    let r = replicas(&redis, WorldOptions::default()).await;
    let (mut alice, cookie) = signed_in(&r, "alice").await;
    let cookie = format!("stagepass={cookie}");
    let mut ws = open_tunnel(r.other.public, "cookie", &cookie).await;

    sign_out(&r, &mut alice, "").await;
    // The session lasts hours more: only the sign-out can end the tunnel.
    assert!(
        closes(&mut ws).await,
        "the tunnel outlived its signed-out session"
    );
}

/// A tunnel an API client opened with an IdP token is watched the same way:
/// revoking the token's subject closes it.
#[tokio::test]
async fn a_websocket_tunnel_opened_with_a_bearer_token_closes_when_its_subject_is_revoked() {
    let redis = Redis::start().await;
    let r = replicas(&redis, WorldOptions::default()).await;
    let token = r.w.op.machine_token(&[]).await;
    let bearer = format!("Bearer {token}");
    let mut ws = open_tunnel(r.other.public, "authorization", &bearer).await;

    let revoke = anonymous("POST", &r.w.sp.admin_url("/sessions/revoke"))
        .header("content-type", "application/json")
        .body(json!({"sub": support::op::MACHINE_ID}).to_string().into())
        .unwrap();
    let reply = send(&client(), revoke).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    // The token lasts an hour more: only the revocation can end the tunnel.
    assert!(
        closes(&mut ws).await,
        "the tunnel outlived its revoked token"
    );
}
