//! stagepass changes nothing it should not: methods, paths, queries, bodies,
//! statuses and headers pass through; streams stream; upgrades upgrade.

mod support;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use support::*;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn normal_paths_and_every_query_arrive_byte_for_byte() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    for target in [
        "/api/catalog/entities?filter=kind=user,metadata.name=a%2Bb&fields=a&fields=b",
        "/%E2%9C%93?q=%E2%9C%93;semi=1&next=/../x#",
        "/docs/a%20b/",
        "/",
    ] {
        let reply = get(&sp.url(target)).await;
        assert_eq!(reply.status, 200, "{target}");
        let expected = target.trim_end_matches('#');
        assert_eq!(up.controls.last().uri, expected);
    }
}

#[tokio::test]
async fn the_app_gets_the_one_path_stagepass_decided_on() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    for (target, expected) in [
        ("/c/./d/../e?x=1&y=%20&z", "/c/e?x=1&y=%20&z"),
        ("//c/%7Euser", "/c/~user"),
        ("/public/%2e%2e/admin", "/admin"),
    ] {
        assert_eq!(get(&sp.url(target)).await.status, 200, "{target}");
        assert_eq!(up.controls.last().uri, expected, "{target}");
    }
    let seen = up.controls.count();
    for refused in ["/a%2Fb/../c", "/a%5c..", "/a%00", "/%252e%252e/admin"] {
        let reply = get(&sp.url(refused)).await;
        assert_eq!(reply.status, 400, "{refused}");
        assert_eq!(reply.json()["error"]["name"], "bad_path");
    }
    assert_eq!(up.controls.count(), seen, "no refused path reached the app");
}

#[tokio::test]
async fn dot_segments_cannot_climb_out_of_the_upstream_prefix() {
    let up = upstream::start().await;
    let sp = start(config(up.url().join("/app-a/").unwrap())).await;
    assert_eq!(get(&sp.url("/../app-b/admin")).await.status, 200);
    assert_eq!(up.controls.last().uri, "/app-a/app-b/admin");
}

#[tokio::test]
async fn methods_and_bodies_pass_through() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    let client = client();
    for method in ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PURGE"] {
        let req = request(method, &sp.url("/echo"))
            .body(Full::from(format!("body of {method}")))
            .unwrap();
        let reply = send(&client, req).await;
        let json = reply.json();
        assert_eq!(json["method"], method);
        assert_eq!(json["body"], format!("body of {method}"));
    }
}

#[tokio::test]
async fn binary_body_round_trips_unchanged() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    let payload: Vec<u8> = (0..5_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let req = request("POST", &sp.url("/echo-body"))
        .body(Full::from(payload.clone()))
        .unwrap();
    let reply = send(&client(), req).await;
    assert_eq!(reply.status, 200);
    assert!(reply.body == payload, "5 MB body changed on the way");
}

#[tokio::test]
async fn statuses_and_their_headers_pass_through() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    for code in [
        200u16, 201, 204, 301, 302, 304, 400, 403, 404, 409, 500, 503,
    ] {
        let reply = get(&sp.url(&format!("/status/{code}"))).await;
        assert_eq!(reply.status.as_u16(), code);
        assert_eq!(reply.headers["x-upstream"], "yes", "{code}");
        if (300..400).contains(&code) && code != 304 {
            assert_eq!(
                reply.headers["location"], "/elsewhere?x=1",
                "redirects are not rewritten"
            );
        }
        if code >= 400 {
            assert_eq!(
                reply.text(),
                format!("status {code}"),
                "upstream error pages are not replaced"
            );
        }
    }
}

#[tokio::test]
async fn request_headers_pass_through_and_host_is_the_upstreams() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    let req = request("GET", &sp.url("/echo"))
        .header("x-custom", "value with  spaces")
        .header("x-multi", "one")
        .header("x-multi", "two")
        .header("accept", "application/json")
        .header("cookie", "app=1; other=2")
        .body(Full::default())
        .unwrap();
    send(&client(), req).await;
    let seen = up.controls.last();
    assert_eq!(seen.header("x-custom"), Some("value with  spaces"));
    assert_eq!(seen.all("x-multi"), ["one", "two"]);
    assert_eq!(
        seen.header("cookie"),
        Some("app=1; other=2"),
        "only stagepass's cookie is removed"
    );
    assert_eq!(seen.header("host"), Some(up.addr.to_string().as_str()));
    assert_eq!(
        seen.header("x-forwarded-host"),
        Some("127.0.0.1:7000"),
        "publicUrl's host, whatever Host the client sent"
    );
}

#[tokio::test]
async fn response_headers_pass_through_without_hop_by_hop() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    let reply = get(&sp.url("/response-headers")).await;
    let cookies: Vec<_> = reply.headers.get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=2; Path=/; HttpOnly"]);
    let multi: Vec<_> = reply.headers.get_all("x-multi").iter().collect();
    assert_eq!(multi, ["one", "two"]);
    assert_eq!(reply.headers["x-case"], "Kept");
    assert!(
        !reply.headers.contains_key("x-hop"),
        "header named in Connection must go"
    );
    assert!(!reply.headers.contains_key("keep-alive"));
}

#[tokio::test]
async fn download_streams_before_upstream_finishes() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    let response = client()
        .request(
            request("GET", &sp.url("/stream-gate"))
                .body(Full::default())
                .unwrap(),
        )
        .await
        .unwrap();
    let mut body = response.into_body();
    // The upstream holds its second part until released: the first part can
    // only arrive here if stagepass passed it on without waiting for the end.
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(first, "first\n");
    up.controls.release.notify_one();
    let rest = body.collect().await.unwrap().to_bytes();
    assert_eq!(rest, "second\n");
}

#[tokio::test]
async fn server_sent_events_arrive_one_by_one() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    let req = request("GET", &sp.url("/sse"))
        .header("accept", "text/event-stream")
        .body(Full::default())
        .unwrap();
    let response = client().request(req).await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(first, "data: one\n\n");
    up.controls.release.notify_one();
    let second = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(second, "data: two\n\n");
}

#[tokio::test]
async fn upload_streams_before_client_finishes() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::convert::Infallible>>(1);
    let stream = futures_util::stream::poll_fn({
        let mut rx = rx;
        move |cx| rx.poll_recv(cx)
    });
    let body = http_body_util::combinators::BoxBody::new(StreamBody::new(stream));
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http();
    let req = request("POST", &sp.url("/upload-gate")).body(body).unwrap();
    let pending = tokio::spawn(async move { client.request(req).await });
    tx.send(Ok(Frame::data(Bytes::from_static(b"part one"))))
        .await
        .unwrap();
    // Only the first part has been sent; the upstream sees it now or never.
    up.controls.first_bytes.notified().await;
    tx.send(Ok(Frame::data(Bytes::from_static(b" part two"))))
        .await
        .unwrap();
    drop(tx);
    let response = pending.await.unwrap().unwrap();
    let total = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(total, "17");
}

#[tokio::test]
async fn websocket_echoes_through_stagepass() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut ws_request = format!("ws://{}/ws", sp.public)
        .into_client_request()
        .unwrap();
    let cookie = session_cookie(&test_session());
    ws_request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    let (mut ws, response) = tokio_tungstenite::connect_async(ws_request).await.unwrap();
    assert_eq!(response.status(), 101);
    for text in ["hello", "über", "third"] {
        ws.send(Message::text(text)).await.unwrap();
        let echoed = ws.next().await.unwrap().unwrap();
        assert_eq!(echoed, Message::text(text));
    }
    ws.send(Message::binary(vec![0u8, 159, 146, 150]))
        .await
        .unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::binary(vec![0u8, 159, 146, 150])
    );
    ws.close(None).await.unwrap();
}

#[tokio::test]
async fn http2_clients_are_served() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    let req = request("POST", &sp.url("/echo?h2=1"))
        .body(Full::from("over h2"))
        .unwrap();
    let response = h2_client().request(req).await.unwrap();
    assert_eq!(response.version(), http::Version::HTTP_2);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["body"], "over h2");
    let seen = up.controls.last();
    assert_eq!(seen.uri, "/echo?h2=1");
    assert_eq!(seen.version, http::Version::HTTP_11);
    assert_eq!(seen.header("host"), Some(up.addr.to_string().as_str()));
}

#[tokio::test]
async fn large_download_streams_completely() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    let size = 64 * 1024 * 1024 + 7;
    let response = client()
        .request(
            request("GET", &sp.url(&format!("/download/{size}")))
                .body(Full::default())
                .unwrap(),
        )
        .await
        .unwrap();
    let mut body = response.into_body();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        total += frame.unwrap().into_data().map(|d| d.len()).unwrap_or(0);
    }
    assert_eq!(total, size);
}

#[tokio::test]
async fn upstream_connections_are_reused() {
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    for _ in 0..20 {
        assert_eq!(get(&sp.url("/echo")).await.status, 200);
    }
    assert_eq!(up.controls.count(), 20);
    let connections = up.controls.connections();
    assert!(
        connections <= 2,
        "20 sequential requests used {connections} upstream connections"
    );
}

/// A client whose request arrives in pieces, a byte at first, is served
/// like any other: whether a connection speaks HTTP/2 is told from its
/// first bytes, and "P" (POST, PUT, PATCH or HTTP/2's preface) cannot tell.
#[tokio::test]
async fn requests_arriving_in_pieces_are_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let up = upstream::start().await;
    let sp = start(config(up.url())).await;
    let cookie = session_cookie(&test_session());
    for method in ["GET", "POST", "PUT"] {
        let head = format!(
            "{method} /echo?pieces=1 HTTP/1.1\r\nHost: x\r\nCookie: {cookie}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
        );
        let mut stream = tokio::net::TcpStream::connect(sp.public).await.unwrap();
        stream.set_nodelay(true).unwrap();
        let (first, rest) = head.as_bytes().split_at(1);
        stream.write_all(first).await.unwrap();
        // Only to let the first byte travel alone; nothing is timed.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        for piece in rest.chunks(7) {
            stream.write_all(piece).await.unwrap();
        }
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{method}: {response}");
        let seen = up.controls.last();
        assert_eq!(
            (seen.method.as_str(), seen.uri.as_str()),
            (method, "/echo?pieces=1")
        );
        let (_, body) = response.split_once("\r\n\r\n").unwrap();
        let echoed: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(echoed["body"], "hi", "{method}");
    }
}
