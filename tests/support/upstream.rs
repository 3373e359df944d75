//! A real HTTP upstream for the tests: a hyper server on 127.0.0.1:0 whose
//! routes let a test see exactly what stagepass forwarded and control when
//! the upstream answers, so streaming is proven by ordering, never by timing.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

/// What the upstream saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub version: http::Version,
    pub headers: Vec<(String, String)>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

#[derive(Default)]
pub struct Controls {
    /// Lets a held response (or request body read) continue.
    pub release: Notify,
    /// Fires when `/upload-gate` has received its first body bytes.
    pub first_bytes: Notify,
    seen: Mutex<Vec<Seen>>,
    connections: AtomicUsize,
}

impl Controls {
    pub fn last(&self) -> Seen {
        self.seen
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("upstream saw no request")
    }
    /// TCP connections the upstream has accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
    pub fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

pub struct Upstream {
    pub addr: SocketAddr,
    pub controls: Arc<Controls>,
    /// Served over https.
    pub tls: bool,
}

impl Upstream {
    pub fn url(&self) -> url::Url {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr).parse().unwrap()
    }
}

pub async fn start() -> Upstream {
    start_with(None).await
}

/// An https upstream with `server`'s TLS configuration (which may require
/// a client certificate). Refused handshakes are counted, not served.
pub async fn start_tls(server: rustls::ServerConfig) -> Upstream {
    start_with(Some(tokio_rustls::TlsAcceptor::from(Arc::new(server)))).await
}

async fn start_with(tls: Option<tokio_rustls::TlsAcceptor>) -> Upstream {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let controls = Arc::new(Controls::default());
    let shared = Arc::clone(&controls);
    let is_tls = tls.is_some();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            shared.connections.fetch_add(1, Ordering::SeqCst);
            let controls = Arc::clone(&shared);
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| route(Arc::clone(&controls), req));
                let builder = auto::Builder::new(TokioExecutor::new());
                let _ = match tls {
                    None => {
                        builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), service)
                            .await
                    }
                    Some(tls) => match tls.accept(stream).await {
                        Ok(stream) => {
                            builder
                                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                                .await
                        }
                        Err(_) => Ok(()),
                    },
                };
            });
        }
    });
    Upstream {
        addr,
        controls,
        tls: is_tls,
    }
}

async fn route(
    controls: Arc<Controls>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    record(&controls, &req);
    let path = req.uri().path().to_owned();
    let response = match path.as_str() {
        "/echo-body" => echo_body(req).await,
        "/count" => count(req).await,
        "/upload-gate" => upload_gate(controls, req).await,
        "/stream-gate" => stream_gate(controls, "text/plain", ["first\n", "second\n"]),
        "/sse" => stream_gate(
            controls,
            "text/event-stream",
            ["data: one\n\n", "data: two\n\n"],
        ),
        "/slow" => {
            controls.release.notified().await;
            text(StatusCode::OK, "finally")
        }
        "/ws" => websocket(req),
        "/response-headers" => response_headers(),
        p if p.starts_with("/status/") => status(p),
        p if p.starts_with("/download/") => download(p),
        _ => echo(req).await,
    };
    Ok(response)
}

fn record(controls: &Controls, req: &Request<Incoming>) {
    let headers = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    controls.seen.lock().unwrap().push(Seen {
        method: req.method().to_string(),
        uri: req.uri().to_string(),
        version: req.version(),
        headers,
    });
}

fn full(bytes: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(bytes.into()).boxed()
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    Response::builder().status(status).body(full(body)).unwrap()
}

/// Answers with a JSON description of the request and the body as text.
async fn echo(req: Request<Incoming>) -> Response<Body> {
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let json = json!({ "method": method, "uri": uri, "body": String::from_utf8_lossy(&body) });
    Response::builder()
        .header("content-type", "application/json")
        .body(full(json.to_string()))
        .unwrap()
}

async fn echo_body(req: Request<Incoming>) -> Response<Body> {
    let body = req.into_body().collect().await.unwrap().to_bytes();
    Response::new(full(body))
}

/// Counts the body's bytes without keeping them.
async fn count(req: Request<Incoming>) -> Response<Body> {
    let mut body = req.into_body();
    let mut total: u64 = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            total += data.len() as u64;
        }
    }
    Response::new(full(total.to_string()))
}

/// Signals after the first body bytes arrive, then waits for `release`
/// before reading the rest: proves stagepass forwards before it has it all.
async fn upload_gate(controls: Arc<Controls>, req: Request<Incoming>) -> Response<Body> {
    let mut body = req.into_body();
    let mut total = 0usize;
    let mut signalled = false;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame.unwrap().into_data() {
            total += data.len();
        }
        if total > 0 && !signalled {
            signalled = true;
            controls.first_bytes.notify_one();
        }
    }
    Response::new(full(total.to_string()))
}

/// Sends the first part, then holds the second until the test says so.
fn stream_gate(
    controls: Arc<Controls>,
    content_type: &str,
    parts: [&'static str; 2],
) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, Infallible>>(1);
    tokio::spawn(async move {
        let _ = tx
            .send(Ok(Frame::data(Bytes::from_static(parts[0].as_bytes()))))
            .await;
        controls.release.notified().await;
        let _ = tx
            .send(Ok(Frame::data(Bytes::from_static(parts[1].as_bytes()))))
            .await;
    });
    let stream = tokio_stream_from(rx);
    Response::builder()
        .header("content-type", content_type)
        .header("cache-control", "no-cache")
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .unwrap()
}

fn tokio_stream_from<T: Send + 'static>(
    mut rx: mpsc::Receiver<T>,
) -> impl futures_util::Stream<Item = T> + Send {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

fn download(path: &str) -> Response<Body> {
    let total: usize = path.trim_start_matches("/download/").parse().unwrap();
    let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
    let chunks = total.div_ceil(chunk.len());
    let stream = futures_util::stream::iter((0..chunks).map(move |i| {
        let len = (total - i * chunk.len()).min(chunk.len());
        Ok::<_, Infallible>(Frame::data(chunk.slice(..len)))
    }));
    Response::new(BodyExt::boxed(StreamBody::new(stream)))
}

fn status(path: &str) -> Response<Body> {
    let code: u16 = path.trim_start_matches("/status/").parse().unwrap();
    let status = StatusCode::from_u16(code).unwrap();
    let body = if matches!(code, 204 | 304) {
        full("")
    } else {
        full(format!("status {code}"))
    };
    let mut builder = Response::builder()
        .status(status)
        .header("x-upstream", "yes");
    if (300..400).contains(&code) {
        builder = builder.header("location", "/elsewhere?x=1");
    }
    builder.body(body).unwrap()
}

fn response_headers() -> Response<Body> {
    Response::builder()
        .header("set-cookie", "a=1; Path=/")
        .header("set-cookie", "b=2; Path=/; HttpOnly")
        .header("x-multi", "one")
        .header("x-multi", "two")
        .header("connection", "x-hop")
        .header("x-hop", "must not pass")
        .header("keep-alive", "timeout=5")
        .header("X-Case", "Kept")
        .body(full("headers"))
        .unwrap()
}

/// Accepts a WebSocket handshake and echoes every message.
fn websocket(mut req: Request<Incoming>) -> Response<Body> {
    let key = req.headers().get("sec-websocket-key").cloned().unwrap();
    let on_upgrade = hyper::upgrade::on(&mut req);
    tokio::spawn(async move {
        let upgraded = on_upgrade.await.unwrap();
        let mut ws =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        while let Some(Ok(msg)) = ws.next().await {
            if msg.is_close() {
                break;
            }
            if ws.send(msg).await.is_err() {
                break;
            }
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "upgrade")
        .header("upgrade", "websocket")
        .header("sec-websocket-accept", derive_accept_key(key.as_bytes()))
        .body(full(""))
        .unwrap()
}
