//! Strip before inject: nothing a client sends can pose as an identity,
//! and stagepass's own cookies never reach the upstream.

mod support;

use http_body_util::Full;
use support::*;

/// Headers stagepass sends, and those other authenticating proxies send and
/// the apps behind them trust (EasyAuth, IAP, Cloudflare Access, ALB,
/// Authentik, Vouch, Gatekeeper, Kubernetes' front proxy, ...).
const IDENTITY_HEADERS: [&str; 27] = [
    "X-Forwarded-User",
    "X-Forwarded-Email",
    "X-Forwarded-Groups",
    "X-Forwarded-Preferred-Username",
    "X-Forwarded-Access-Token",
    "X-Auth-Request-User",
    "X-Auth-Request-Email",
    "X-Auth-Request-Access-Token",
    "X-OAUTH2-PROXY-ID-TOKEN",
    "X-Stagepass-Assertion",
    "X-MS-CLIENT-PRINCIPAL",
    "X-MS-CLIENT-PRINCIPAL-NAME",
    "X-MS-TOKEN-AAD-ACCESS-TOKEN",
    "Remote-User",
    "X-Webauth-User",
    "X-Goog-Authenticated-User-Email",
    "Cf-Access-Authenticated-User-Email",
    "X-Amzn-Oidc-Identity",
    "X-Pomerium-Claim-Email",
    "X-Pomerium-Jwt-Assertion",
    "X-authentik-username",
    "X-authentik-jwt",
    "X-Vouch-User",
    "X-Auth-Username",
    "X-Remote-Group",
    "X-Remote-Extra-Scopes",
    "X-MS-TOKEN-GOOGLE-ACCESS-TOKEN",
];

/// The spellings a client might try: case games and `_` for `-`.
fn spellings(name: &str) -> Vec<String> {
    let under = name.replace('-', "_");
    vec![
        name.to_owned(),
        name.to_ascii_lowercase(),
        name.to_ascii_uppercase(),
        under.clone(),
        under.to_ascii_lowercase(),
        under.to_ascii_uppercase(),
    ]
}

#[tokio::test]
async fn identity_headers_are_stripped_in_every_spelling() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    let client = client();
    for name in IDENTITY_HEADERS {
        for spelling in spellings(name) {
            let req = request("GET", &sp.url("/echo"))
                .header(spelling.as_str(), "forged")
                .header("x-innocent", "kept")
                .body(Full::default())
                .unwrap();
            assert_eq!(send(&client, req).await.status, 200);
            let seen = up.controls.last();
            let leaked: Vec<_> = seen.headers.iter().filter(|(_, v)| v == "forged").collect();
            assert!(
                leaked.is_empty(),
                "{spelling} reached the upstream: {leaked:?}"
            );
            assert_eq!(seen.header("x-innocent"), Some("kept"));
        }
    }
}

/// `stagepass.stripHeaders`: headers an app trusted from the proxy it sat
/// behind before, stripped like the built-in ones, on a public route too.
#[tokio::test]
async fn configured_headers_are_stripped_in_every_spelling_on_every_route() {
    let up = upstream::start().await;
    let mut cfg = config(up.url());
    cfg.stagepass.strip_headers = stagepass::config::StripHeaders {
        names: vec!["x-employee-id".into()],
        prefixes: vec!["x-corp-".into()],
    };
    cfg.stagepass.routes = vec![stagepass::config::RouteConfig {
        public: true,
        ..stagepass::config::RouteConfig::at("/status")
    }];
    let sp = start(cfg).await;
    let client = client();
    let forged = spellings("X-Employee-Id")
        .into_iter()
        .chain(spellings("X-Corp-Role"));
    for name in forged {
        for (path, signed_in) in [("/echo", true), ("/status", false)] {
            let builder = match signed_in {
                true => request("GET", &sp.url(path)),
                false => anonymous("GET", &sp.url(path)),
            };
            let req = builder
                .header(name.as_str(), "forged")
                .header("x-employee-idx", "kept")
                .body(Full::default())
                .unwrap();
            assert_eq!(send(&client, req).await.status, 200, "{path}");
            let seen = up.controls.last();
            let leaked: Vec<_> = seen.headers.iter().filter(|(_, v)| v == "forged").collect();
            assert!(leaked.is_empty(), "{name} reached {path}: {leaked:?}");
            assert_eq!(seen.header("x-employee-idx"), Some("kept"));
        }
    }
}

#[tokio::test]
async fn own_cookies_are_removed_and_others_kept() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    let req = request("GET", &sp.url("/echo"))
        .header("cookie", "theme=dark; stagepass=sealed; stagepass_0=a; stagepass_1=b; stagepass_login=c; session=app")
        .body(Full::default())
        .unwrap();
    send(&client(), req).await;
    assert_eq!(
        up.controls.last().header("cookie"),
        Some("theme=dark; session=app")
    );

    let req = request("GET", &sp.url("/echo"))
        .header("cookie", "stagepass=only")
        .body(Full::default())
        .unwrap();
    send(&client(), req).await;
    assert_eq!(
        up.controls.last().header("cookie"),
        None,
        "an emptied Cookie header is dropped"
    );
}

#[tokio::test]
async fn untrusted_clients_cannot_forge_forwarding_headers() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    let req = request("GET", &sp.url("/echo"))
        .header("x-forwarded-for", "203.0.113.9")
        .header("X_Forwarded_For", "203.0.113.10")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "evil.example")
        .header("forwarded", "for=203.0.113.9;proto=https")
        .header("x-real-ip", "203.0.113.9")
        // Symfony and IIS serve these instead of the request's own path.
        .header("x-original-url", "/admin")
        .header("X_Rewrite_Url", "/admin")
        .header("x-forwarded-uri", "/admin")
        .body(Full::default())
        .unwrap();
    send(&client(), req).await;
    let seen = up.controls.last();
    for rewrite in ["x-original-url", "x_rewrite_url", "x-forwarded-uri"] {
        assert_eq!(seen.header(rewrite), None, "{rewrite}");
    }
    assert_eq!(seen.all("x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(seen.header("x-forwarded-proto"), Some("http"));
    assert_eq!(
        seen.header("x-forwarded-host"),
        Some("127.0.0.1:7000"),
        "the public host comes from publicUrl, not from the client"
    );
    assert_eq!(seen.header("forwarded"), None);
    assert_eq!(seen.header("x-real-ip"), None);
    assert_eq!(seen.header("x_forwarded_for"), None);
}

#[tokio::test]
async fn trusted_proxies_may_set_forwarding_headers() {
    let up = upstream::start().await;
    let mut cfg = config(up.url());
    cfg.stagepass.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    let sp = start(cfg).await;
    let req = request("GET", &sp.url("/echo"))
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "portal.example.com")
        // Passed through by the proxy from its client: a CGI-style app
        // reads it as X-Forwarded-For, and Symfony serves X-Original-URL.
        .header("X_Forwarded_For", "198.51.100.7")
        .header("x-original-url", "/admin")
        .body(Full::default())
        .unwrap();
    send(&client(), req).await;
    let seen = up.controls.last();
    assert_eq!(seen.header("x-original-url"), None);
    assert_eq!(
        seen.header("x-forwarded-for"),
        Some("203.0.113.9, 127.0.0.1")
    );
    assert_eq!(seen.header("x_forwarded_for"), None);
    assert_eq!(seen.header("x-forwarded-proto"), Some("https"));
    assert_eq!(seen.header("x-forwarded-host"), Some("portal.example.com"));

    // A proxy that appends to what the client sent: its own value is last.
    let req = request("GET", &sp.url("/echo"))
        .header("x-forwarded-proto", "http, https")
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-host", "portal.example.com")
        .body(Full::default())
        .unwrap();
    send(&client(), req).await;
    let seen = up.controls.last();
    assert_eq!(seen.header("x-forwarded-proto"), Some("https"));
    assert_eq!(seen.header("x-forwarded-host"), Some("portal.example.com"));
}

#[tokio::test]
async fn hop_by_hop_request_headers_do_not_reach_the_upstream() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    let req = request("GET", &sp.url("/echo"))
        .header("connection", "x-private, keep-alive")
        .header("x-private", "hop only")
        .header("keep-alive", "timeout=5")
        .header("proxy-authorization", "Basic c2VjcmV0")
        .header("te", "trailers")
        .body(Full::default())
        .unwrap();
    send(&client(), req).await;
    let seen = up.controls.last();
    for name in ["x-private", "keep-alive", "proxy-authorization", "te"] {
        assert_eq!(seen.header(name), None, "{name} leaked");
    }
}

/// `Upgrade: h2c` (with an `HTTP2-Settings` header it does not list in
/// `Connection`) would splice the client onto an upstream HTTP/2 connection
/// whose later streams never pass the gate. Only WebSocket is tunnelled;
/// anything else goes upstream as a plain request without the upgrade.
#[tokio::test]
async fn only_websocket_upgrades_are_tunnelled() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    for (method, upgrade) in [("GET", "h2c"), ("GET", "tls/1.2"), ("POST", "websocket")] {
        let req = request(method, &sp.url("/echo"))
            .header("connection", "Upgrade")
            .header("upgrade", upgrade)
            .header("http2-settings", "AAMAAABkAAQAoAAAAAIAAAAA")
            .body(Full::default())
            .unwrap();
        let reply = send(&client(), req).await;
        assert_eq!(reply.status, 200, "{method} {upgrade}: a plain request");
        let seen = up.controls.last();
        for name in ["upgrade", "http2-settings", "connection"] {
            assert_eq!(
                seen.header(name),
                None,
                "{method} {upgrade}: {name} reached the upstream"
            );
        }
    }
}

/// A WebSocket tunnel lives no longer than the session that opened it.
#[tokio::test]
async fn a_websocket_tunnel_closes_when_its_session_ends() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    let mut session = test_session();
    session.expires_at = now() + 2;
    let mut ws_request = format!("ws://{}/ws", sp.public)
        .into_client_request()
        .unwrap();
    let cookie = session_cookie(&session).parse().unwrap();
    ws_request.headers_mut().insert("cookie", cookie);
    let (mut ws, response) = tokio_tungstenite::connect_async(ws_request).await.unwrap();
    assert_eq!(response.status(), 101);
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hello"));
    // Nothing more is sent: the tunnel must end on its own, by the session's
    // end (the bound only keeps a broken build from hanging the suite).
    let ended = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            match ws.next().await {
                None | Some(Err(_)) => return,
                Some(Ok(msg)) if msg.is_close() => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the tunnel outlived its session");
}
