//! When something is wrong, users get a clear answer with the right status,
//! as HTML for browsers and JSON for API clients, and nothing panics.

mod support;

use std::time::Duration;

use http_body_util::Full;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn dead_upstream() -> url::Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}").parse().unwrap()
}

#[tokio::test]
async fn unreachable_upstream_gives_502_json_to_api_clients() {
    let sp = start(config(dead_upstream().await)).await;
    let req = request("GET", &sp.url("/api/thing"))
        .header("accept", "application/json")
        .body(Full::default())
        .unwrap();
    let reply = send(&client(), req).await;
    assert_eq!(reply.status, 502);
    assert_eq!(reply.headers["content-type"], "application/json");
    let json = reply.json();
    assert_eq!(json["error"]["name"], "upstream_unreachable");
    assert_eq!(json["response"]["statusCode"], 502);
    let metrics = get(&sp.admin_url("/metrics")).await.text();
    assert!(
        metrics.contains("stagepass_upstream_errors_total{kind=\"connect\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn unreachable_upstream_gives_502_page_to_browsers() {
    let sp = start(config(dead_upstream().await)).await;
    let req = request("GET", &sp.url("/"))
        .header("accept", "text/html,application/xhtml+xml")
        .body(Full::default())
        .unwrap();
    let reply = send(&client(), req).await;
    assert_eq!(reply.status, 502);
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(reply.text().contains("could not be reached"));
}

#[tokio::test]
async fn slow_upstream_gives_504() {
    let up = upstream::start().await;
    let mut cfg = config(up.url());
    cfg.stagepass.timeouts.response_headers = Duration::from_millis(200);
    let sp = start(cfg).await;
    let reply = get(&sp.url("/slow")).await;
    assert_eq!(reply.status, 504);
    assert_eq!(reply.json()["error"]["name"], "upstream_timeout");
}

#[tokio::test]
async fn oversized_headers_give_431_with_a_reason() {
    let up = upstream::start().await;
    let mut cfg = config(up.url());
    cfg.stagepass.max_request_header_bytes = 4096;
    let sp = start(cfg).await;
    let req = request("GET", &sp.url("/echo"))
        .header("x-big", "a".repeat(5000))
        .body(Full::default())
        .unwrap();
    let reply = send(&client(), req).await;
    assert_eq!(reply.status, 431);
    assert!(
        reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("4096")
    );
    assert_eq!(up.controls.count(), 0, "nothing was forwarded");
}

#[tokio::test]
async fn a_long_address_counts_toward_the_head_limit() {
    let up = upstream::start().await;
    let mut cfg = config(up.url());
    cfg.stagepass.max_request_header_bytes = 4096;
    let sp = start(cfg).await;
    let long = format!("/{}", "a".repeat(5000));
    assert_eq!(get(&sp.url(&long)).await.status, 431);
    assert_eq!(up.controls.count(), 0, "nothing was forwarded");
    // Just under the limit, the same kind of address goes through.
    let fits = format!("/{}", "a".repeat(3000));
    assert_eq!(get(&sp.url(&fits)).await.status, 200);
}

/// The limit applies to the head as the client sent it, to the byte:
/// nothing stagepass adds (its request id) counts against the client.
#[tokio::test]
async fn the_head_limit_is_exact_and_counts_only_what_the_client_sent() {
    let up = upstream::start().await;
    let mut cfg = config(up.url());
    cfg.stagepass.max_request_header_bytes = 4096;
    let sp = start(cfg).await;
    // Counted as the request line (`GET /x HTTP/1.1` and CRLF: 17 bytes)
    // plus each field as `name: value` and CRLF (`host: x`: 9 bytes,
    // `connection: close`: 19, `x-pad: ...`: 9 plus the value).
    let head = |pad: usize| {
        format!(
            "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: {}\r\n\r\n",
            "a".repeat(pad)
        )
    };
    let exactly = raw_exchange(sp.public, head(4096 - 54).as_bytes()).await;
    assert!(exactly.starts_with("HTTP/1.1 401"), "{exactly}");
    let one_more = raw_exchange(sp.public, head(4096 - 53).as_bytes()).await;
    assert!(one_more.starts_with("HTTP/1.1 431"), "{one_more}");
}

/// HTTP/2 counts 32 bytes more per field than the head's text does (RFC
/// 7541 4.1). The limit is stagepass's, counted the same way for both
/// protocols: many short fields within it are served, and a head beyond it
/// gets stagepass's own 431 with a reason, not a bare one from the HTTP/2
/// layer.
#[tokio::test]
async fn http2_heads_are_held_to_the_same_limit_with_a_reason() {
    let up = upstream::start().await;
    let mut cfg = config(up.url());
    cfg.stagepass.max_request_header_bytes = 4096;
    let sp = start(cfg).await;
    let with_fields = |count: usize, value: &str| {
        let mut req = request("GET", &sp.url("/echo"));
        for i in 0..count {
            req = req.header(format!("x-f{i}"), value);
        }
        req.body(Full::default()).unwrap()
    };
    // 90 fields of about 20 bytes: 2.2 KB as text, 4.7 KB as HTTP/2 counts
    // them. (Not more fields: the test upstream, as hyper, takes 100.)
    let many_short = send(&h2_client(), with_fields(90, &"v".repeat(15))).await;
    assert_eq!(many_short.status, 200, "{}", many_short.text());
    // 40 fields of about 110 bytes: 4.4 KB either way.
    let too_big = send(&h2_client(), with_fields(40, &"a".repeat(100))).await;
    assert_eq!(too_big.status, 431);
    let message = too_big.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("4096"), "{message}");
}

#[tokio::test]
async fn headers_beyond_the_parser_buffer_give_431() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    let raw = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        // Beyond hyper's 128 KiB read buffer: refused before parsing.
        "a".repeat(256 * 1024)
    );
    let answer = raw_exchange(sp.public, raw.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

#[tokio::test]
async fn malformed_requests_give_400() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    for garbage in [
        "GET / HTTP/1.1\r\nHost x\r\n\r\n",
        "NOT A REQUEST\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
    ] {
        let answer = raw_exchange(sp.public, garbage.as_bytes()).await;
        assert!(
            answer.starts_with("HTTP/1.1 400"),
            "{garbage:?} -> {answer}"
        );
    }
    assert_eq!(
        get(&sp.url("/echo")).await.status,
        200,
        "stagepass still serves"
    );
}

async fn raw_exchange(addr: std::net::SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn api_clients_without_session_get_401_and_nothing_is_forwarded() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    for (method, accept) in [
        ("GET", "application/json"),
        ("POST", "text/html"),
        ("GET", "*/*"),
    ] {
        let req = anonymous(method, &sp.url("/api/catalog/entities"))
            .header("accept", accept)
            .body(Full::default())
            .unwrap();
        let reply = send(&client(), req).await;
        assert_eq!(reply.status, 401, "{method} {accept}");
        assert!(
            reply.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("/api/auth/test/start")
        );
        assert!(
            reply.headers.get("location").is_none(),
            "no redirect for API clients"
        );
    }
    assert_eq!(up.controls.count(), 0);
}

#[tokio::test]
async fn tampered_session_cookie_means_no_session() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    let good = session_cookie(&test_session());
    let (name, value) = good.split_once('=').unwrap();
    let mut bytes = value.as_bytes().to_vec();
    let middle = bytes.len() / 2;
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    for forged in [
        format!("{name}={}", String::from_utf8(bytes).unwrap()),
        format!("{name}={}", &value[..value.len() / 2]),
        format!("{name}=garbage"),
        format!("{name}_login={value}"),
    ] {
        let req = anonymous("GET", &sp.url("/x"))
            .header("cookie", forged.as_str())
            .body(Full::default())
            .unwrap();
        let reply = send(&client(), req).await;
        assert_eq!(reply.status, 401, "{forged}");
        let deletions: Vec<_> = reply
            .headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        if !forged.contains("_login=") {
            assert!(
                deletions.iter().any(|c| c.contains("Max-Age=0")),
                "stale cookie is deleted: {deletions:?}"
            );
        }
    }
    assert_eq!(up.controls.count(), 0);
}

#[tokio::test]
async fn browser_without_session_gets_503_page_while_idp_is_down() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    let req = anonymous("GET", &sp.url("/catalog"))
        .header("accept", "text/html")
        // As browsers reach it (publicUrl's host), or it is first moved there.
        .header("host", PUBLIC_HOST)
        .body(Full::default())
        .unwrap();
    let reply = send(&client(), req).await;
    assert_eq!(reply.status, 503, "no redirect loop into a dead IdP");
    assert!(
        reply.text().contains("identity provider cannot be reached"),
        "{}",
        reply.text()
    );
    assert_eq!(up.controls.count(), 0);
}

#[tokio::test]
async fn expired_session_means_no_session() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    let mut session = test_session();
    session.issued_at = now() - 7200;
    session.expires_at = now() - 1;
    let req = anonymous("GET", &sp.url("/x"))
        .header("cookie", session_cookie(&session))
        .header("accept", "application/json")
        .body(Full::default())
        .unwrap();
    assert_eq!(send(&client(), req).await.status, 401);
    assert_eq!(up.controls.count(), 0);
}

/// An upstream that promises 1000 bytes, sends a few and hangs up.
async fn upstream_that_dies_mid_body() -> url::Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = [0u8; 4096];
                let _ = stream.read(&mut head).await;
                let answer = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\npartial";
                let _ = stream.write_all(answer).await;
            });
        }
    });
    format!("http://{addr}").parse().unwrap()
}

/// A response cut off upstream must reach the client cut off too, never as
/// a complete (shorter) body, and stagepass carries on serving.
#[tokio::test]
async fn an_upstream_reset_mid_body_is_not_passed_off_as_complete() {
    use http_body_util::BodyExt;
    let sp = start(config(upstream_that_dies_mid_body().await)).await;
    for _ in 0..2 {
        let req = request("GET", &sp.url("/file"))
            .body(Full::default())
            .unwrap();
        let response = client().request(req).await.unwrap();
        assert_eq!(response.status(), 200, "the head was already on its way");
        let body = response.into_body().collect().await;
        assert!(
            body.is_err(),
            "a truncated body must fail on the client side"
        );
    }
    assert_eq!(get(&sp.admin_url("/healthz")).await.status, 200);
}
