//! Strip before inject: nothing a client sends can pose as an identity,
//! and stagepass's own cookies never reach the upstream.

mod support;

use http_body_util::Full;
use support::*;

const IDENTITY_HEADERS: [&str; 11] = [
    "Authorization",
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
        .body(Full::default())
        .unwrap();
    send(&client(), req).await;
    let seen = up.controls.last();
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
        .body(Full::default())
        .unwrap();
    send(&client(), req).await;
    let seen = up.controls.last();
    assert_eq!(
        seen.header("x-forwarded-for"),
        Some("203.0.113.9, 127.0.0.1")
    );
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
