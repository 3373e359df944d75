//! Resource limits against hostile clients: a connection must deliver a
//! complete request head in time, or it is closed.

mod support;

use std::time::Duration;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEAD_DEADLINE: Duration = Duration::from_secs(1);

async fn stagepass_with_head_deadline() -> (upstream::Upstream, Stagepass) {
    let up = upstream::start().await;
    let mut cfg = config(up.url());
    cfg.stagepass.timeouts.request_headers = HEAD_DEADLINE;
    let sp = start(cfg).await;
    (up, sp)
}

/// Waits until the server closes `stream` (EOF or reset), discarding what
/// it sends. The bound only keeps a broken build from hanging the suite.
async fn closed_by_server(stream: &mut (impl tokio::io::AsyncRead + Unpin)) -> bool {
    let mut buf = [0u8; 1024];
    let wait = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(20), wait)
        .await
        .is_ok()
}

#[tokio::test]
async fn connections_without_a_complete_request_head_are_closed() {
    let (_up, sp) = stagepass_with_head_deadline().await;
    let openings: [&[u8]; 4] = [
        b"",                                            // nothing at all
        b"PRI * HTTP/2.0\r\n\r\nSM",                    // half an HTTP/2 preface
        b"GET /echo HT",                                // half a request line
        b"GET /echo HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n", // headers, never finished
    ];
    for opening in openings {
        let mut stream = TcpStream::connect(sp.public).await.unwrap();
        stream.write_all(opening).await.unwrap();
        assert!(
            closed_by_server(&mut stream).await,
            "{:?}: still open",
            String::from_utf8_lossy(opening)
        );
    }
}

#[tokio::test]
async fn a_client_trickling_header_lines_is_cut_off() {
    let (_up, sp) = stagepass_with_head_deadline().await;
    let mut stream = TcpStream::connect(sp.public).await.unwrap();
    stream.write_all(b"GET /echo HTTP/1.1\r\n").await.unwrap();
    // One header line every 200 ms, forever: each arrives well within any
    // per-read timeout, but the head is never complete.
    let trickle = async {
        for i in 0.. {
            let line = format!("X-Slow-{i}: x\r\n");
            if stream.write_all(line.as_bytes()).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let cut = tokio::time::timeout(Duration::from_secs(20), trickle).await;
    assert!(cut.is_ok(), "the trickling connection was never closed");
}

#[tokio::test]
async fn a_connection_that_sent_a_request_is_not_cut_by_the_head_deadline() {
    let (_up, sp) = stagepass_with_head_deadline().await;
    let mut stream = TcpStream::connect(sp.public).await.unwrap();
    let cookie = session_cookie(&test_session());
    let request = format!("GET /echo HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let n = stream.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    // Idle past the head deadline, then a second request on the same
    // connection. The proof that the deadline has passed: a silent
    // connection opened after the first answer has been cut by it.
    let mut silent = TcpStream::connect(sp.public).await.unwrap();
    assert!(
        closed_by_server(&mut silent).await,
        "the head deadline never cut a silent connection"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let n = stream.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
}

#[tokio::test]
async fn tls_connections_get_the_same_deadlines() {
    let up = upstream::start().await;
    let mut cfg = config(up.url());
    let (_dir, cert) = with_self_signed_tls(&mut cfg);
    cfg.stagepass.timeouts.request_headers = HEAD_DEADLINE;
    let sp = start(cfg).await;

    // No handshake at all.
    let mut silent = TcpStream::connect(sp.public).await.unwrap();
    assert!(
        closed_by_server(&mut silent).await,
        "handshake never started"
    );

    // A finished handshake, then nothing.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls));
    let tcp = TcpStream::connect(sp.public).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut stream = connector.connect(name, tcp).await.unwrap();
    assert!(
        closed_by_server(&mut stream).await,
        "TLS connection without a request stayed open"
    );
}

const CALLBACK: &str = "/api/auth/test/handler/frame";

async fn raw_exchange(sp: &Stagepass, head: &str, body: &[u8]) -> String {
    let mut stream = TcpStream::connect(sp.public).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut buf = vec![0u8; 16 * 1024];
    let n = stream.read(&mut buf).await.unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// The form_post callback checks what it can before reading a byte.
#[tokio::test]
async fn callback_bodies_are_checked_before_they_are_read() {
    let (_up, sp) = stagepass_with_head_deadline().await;
    let post = |headers: &str| format!("POST {CALLBACK} HTTP/1.1\r\nHost: x\r\n{headers}\r\n");
    let cases = [
        (
            post("Content-Type: application/json\r\nContent-Length: 2\r\n"),
            "415",
        ),
        (
            post(
                "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n",
            ),
            "411",
        ),
        // Announced too large: refused without waiting for the body.
        (
            post("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000000\r\n"),
            "413",
        ),
    ];
    for (head, status) in cases {
        let reply = raw_exchange(&sp, &head, b"").await;
        assert!(
            reply.starts_with(&format!("HTTP/1.1 {status}")),
            "{head}\n=> {reply}"
        );
    }
    // Announced, then stalled: 408 at the deadline.
    let head = post("Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n");
    let reply = raw_exchange(&sp, &head, b"state=abc").await;
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
}

/// Stalled form bodies cannot pile up: beyond 64 reads in flight the next
/// sign-in response gets 503 with Retry-After at once.
#[tokio::test]
async fn concurrent_callback_body_reads_are_bounded() {
    let up = upstream::start().await;
    let mut cfg = config(up.url());
    cfg.stagepass.timeouts.request_headers = Duration::from_secs(60);
    let sp = start(cfg).await;
    let head = format!(
        "POST {CALLBACK} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nstate="
    );
    let mut stalled = Vec::new();
    for _ in 0..64 {
        let mut stream = TcpStream::connect(sp.public).await.unwrap();
        stream.write_all(head.as_bytes()).await.unwrap();
        stalled.push(stream);
    }
    // Each stalled read holds a permit once its head is parsed; probe (with
    // a complete body, so a probe that gets a permit does not stall) until
    // all 64 are in: a wait for that state, not a timing assertion.
    let probe = format!(
        "POST {CALLBACK} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 7\r\n\r\n"
    );
    let mut reply = String::new();
    for _ in 0..200 {
        reply = raw_exchange(&sp, &probe, b"state=x").await;
        if reply.contains("Too many sign-ins") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(reply.starts_with("HTTP/1.1 503"), "{reply}");
    assert!(reply.contains("Too many sign-ins"), "{reply}");
    assert!(
        reply.to_ascii_lowercase().contains("retry-after: 1"),
        "{reply}"
    );
    drop(stalled);
}

/// Beyond `maxConnections` stagepass stops accepting: the next connection
/// waits in the kernel's backlog and is served once another one closes.
#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let up = upstream::start().await;
    let mut cfg = config(up.url());
    cfg.stagepass.max_connections = 2;
    cfg.stagepass.timeouts.request_headers = Duration::from_secs(60);
    let sp = start(cfg).await;
    let first = TcpStream::connect(sp.public).await.unwrap();
    let _second = TcpStream::connect(sp.public).await.unwrap();
    let mut third = TcpStream::connect(sp.public).await.unwrap();
    let cookie = session_cookie(&test_session());
    let request = format!("GET /echo HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\n\r\n");
    third.write_all(request.as_bytes()).await.unwrap();
    let mut metrics = String::new();
    for _ in 0..500 {
        metrics = get(&sp.admin_url("/metrics")).await.text();
        if metrics.contains("stagepass_connection_cap_reached_total 1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        metrics.contains("stagepass_connection_cap_reached_total 1"),
        "{metrics}"
    );
    drop(first);
    let mut buf = vec![0u8; 64 * 1024];
    let n = tokio::time::timeout(Duration::from_secs(20), third.read(&mut buf))
        .await
        .expect("the waiting connection is served once one closes")
        .unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
}
