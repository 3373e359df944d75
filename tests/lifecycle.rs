//! The admin port, TLS with ALPN, and graceful shutdown.

mod support;

use http_body_util::{BodyExt, Full};
use support::*;

#[tokio::test]
async fn admin_port_answers_health_readiness_and_metrics() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    assert_eq!(get(&sp.url("/echo")).await.status, 200);
    assert_eq!(get(&sp.admin_url("/healthz")).await.status, 200);
    let ready = get(&sp.admin_url("/readyz")).await;
    assert_eq!(ready.status, 503, "the configured IdP does not exist");
    assert!(
        ready.text().contains("IdP discovery failed"),
        "{}",
        ready.text()
    );
    let metrics = get(&sp.admin_url("/metrics")).await;
    assert!(
        metrics.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = metrics.text();
    assert!(
        text.contains("stagepass_requests_total{route=\"proxy\",status=\"200\"} 1"),
        "{text}"
    );
    assert!(text.contains("stagepass_request_duration_seconds_count{route=\"proxy\"} 1"));
    assert!(text.contains("stagepass_open_connections"));
    assert_eq!(
        get(&sp.admin_url("/healthz/")).await.status,
        404,
        "exact paths only"
    );
    assert_eq!(get(&sp.admin_url("/other")).await.status, 404);
}

#[tokio::test]
async fn admin_paths_do_not_exist_on_the_public_listener() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        let reply = get(&sp.url(path)).await;
        assert_eq!(reply.json()["uri"], path, "{path} must reach the upstream");
    }
}

#[tokio::test]
async fn shutdown_lets_in_flight_requests_finish_and_stops_accepting() {
    let up = upstream::start().await;
    let mut sp = start(config(up.url())).await;
    let url = sp.url("/slow");
    let in_flight = tokio::spawn(async move { get(&url).await });
    // Wait until the upstream holds the request, so it is truly in flight.
    while up.controls.count() == 0 {
        tokio::task::yield_now().await;
    }
    sp.begin_shutdown();
    let public = sp.public;
    // The listener closes: new connections are refused.
    loop {
        match tokio::net::TcpStream::connect(public).await {
            Err(_) => break,
            Ok(_) => tokio::task::yield_now().await,
        }
    }
    up.controls.release.notify_one();
    let reply = in_flight.await.unwrap();
    assert_eq!(reply.status, 200);
    assert_eq!(reply.text(), "finally");
    sp.join().await;
}

#[tokio::test]
async fn tls_listener_negotiates_http2_and_http1() {
    let up = upstream::start().await;
    let mut cfg = config(up.url());
    let (_dir, cert) = with_self_signed_tls(&mut cfg);
    let sp = start(cfg).await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    for (alpn, version) in [
        (b"h2".to_vec(), http::Version::HTTP_2),
        (b"http/1.1".to_vec(), http::Version::HTTP_11),
    ] {
        let mut tls = rustls::ClientConfig::builder()
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        tls.alpn_protocols = vec![alpn];
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(tls));
        let tcp = tokio::net::TcpStream::connect(sp.public).await.unwrap();
        let stream = connector
            .connect("localhost".try_into().unwrap(), tcp)
            .await
            .unwrap();
        let io = hyper_util::rt::TokioIo::new(stream);
        let req = request("GET", "/echo?tls=1")
            .header("host", "localhost")
            .body(Full::<bytes::Bytes>::default())
            .unwrap();
        let response = if version == http::Version::HTTP_2 {
            let (mut sender, conn) =
                hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                    .await
                    .unwrap();
            tokio::spawn(conn);
            let (mut parts, body) = req.into_parts();
            parts.uri = format!("https://localhost:{}/echo?tls=1", sp.public.port())
                .parse()
                .unwrap();
            sender
                .send_request(http::Request::from_parts(parts, body))
                .await
                .unwrap()
        } else {
            let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
            tokio::spawn(conn);
            sender.send_request(req).await.unwrap()
        };
        assert_eq!(response.version(), version);
        assert_eq!(response.status(), 200);
        let _ = response.into_body().collect().await;
        let seen = up.controls.last();
        assert_eq!(seen.uri, "/echo?tls=1");
        assert_eq!(seen.header("x-forwarded-proto"), Some("https"));
    }
}

/// Shutdown closes the connections that have nothing in flight at once
/// rather than waiting out the grace period: an HTTP/1 keep-alive connection
/// between requests, an HTTP/2 one, and one that has not sent a byte yet.
#[tokio::test]
async fn shutdown_closes_idle_connections_without_waiting_out_the_grace_period() {
    let up = upstream::start().await;
    let mut cfg = config(up.url());
    let long = std::time::Duration::from_secs(600);
    cfg.stagepass.shutdown_grace_period = long;
    cfg.stagepass.timeouts.request_headers = long;
    let mut sp = start(cfg).await;
    // Accepted first (the listener hands connections out in order).
    let silent = tokio::net::TcpStream::connect(sp.public).await.unwrap();
    let http1 = kept_alive_after_one_request(&sp, false).await;
    let http2 = kept_alive_after_one_request(&sp, true).await;
    sp.begin_shutdown();
    // The bound only keeps a broken build from hanging the suite; the
    // grace period is ten times longer.
    let bound = std::time::Duration::from_secs(60);
    tokio::time::timeout(bound, sp.join())
        .await
        .expect("shutdown waited for idle connections");
    for (name, (_sender, conn)) in [("HTTP/1", http1), ("HTTP/2", http2)] {
        let closed = tokio::time::timeout(bound, conn).await;
        assert!(closed.is_ok(), "{name}: the connection stayed open");
    }
    drop(silent);
}

/// Opens a client connection, serves one request over it, and returns its
/// sender (the client keeps the connection while it holds one) and the task
/// driving it, which ends when the server closes the connection.
async fn kept_alive_after_one_request(
    sp: &Stagepass,
    http2: bool,
) -> (Box<dyn std::any::Any>, tokio::task::JoinHandle<()>) {
    let io = hyper_util::rt::TokioIo::new(tokio::net::TcpStream::connect(sp.public).await.unwrap());
    let req = request("GET", &sp.url("/echo"))
        .body(Full::<bytes::Bytes>::default())
        .unwrap();
    let (response, sender, conn) = if http2 {
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                .await
                .unwrap();
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        let response = sender.send_request(req).await.unwrap();
        (response, Box::new(sender) as Box<dyn std::any::Any>, conn)
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        let (mut parts, body) = req.into_parts();
        parts.uri = "/echo".parse().unwrap();
        parts.headers.insert("host", "localhost".parse().unwrap());
        let req = http::Request::from_parts(parts, body);
        let response = sender.send_request(req).await.unwrap();
        (response, Box::new(sender) as Box<dyn std::any::Any>, conn)
    };
    assert_eq!(response.status(), 200);
    let _ = response.into_body().collect().await;
    (sender, conn)
}

/// A client halfway through its first request head when shutdown begins
/// does not hold the shutdown for the whole grace period: its head
/// deadline still applies.
#[tokio::test]
async fn shutdown_does_not_wait_for_a_first_head_that_never_finishes() {
    use tokio::io::AsyncWriteExt;
    let up = upstream::start().await;
    let mut cfg = config(up.url());
    cfg.stagepass.shutdown_grace_period = std::time::Duration::from_secs(600);
    cfg.stagepass.timeouts.request_headers = std::time::Duration::from_secs(2);
    let mut sp = start(cfg).await;
    let mut half = tokio::net::TcpStream::connect(sp.public).await.unwrap();
    half.write_all(b"GET /echo HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Accepted after the half head's connection (the listener hands them
    // out in order), which is by then being read.
    assert_eq!(get(&sp.url("/echo")).await.status, 200);
    sp.begin_shutdown();
    // The bound only keeps a broken build from hanging the suite; the
    // grace period is ten times longer.
    tokio::time::timeout(std::time::Duration::from_secs(60), sp.join())
        .await
        .expect("shutdown waited for a head that never finished");
    drop(half);
}
