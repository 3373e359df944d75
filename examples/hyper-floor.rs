//! The least a proxy built on hyper can cost: the floor under stagepass's
//! request path, measured alongside it in every `bench/load.sh` run.
//!
//! No sign-in, no session, no hygiene, no log, no timers, no pool: each
//! client connection gets one upstream connection of its own, and each
//! request is sent on it with the client's `Cookie` swapped for a fixed set
//! of headers: those stagepass sent upstream for the same request on the
//! Backstage path (`Host`, the forwarding and identity headers, the
//! Backstage token, the assertion), captured once from a real stagepass by
//! `bench/load.sh`. So the upstream parses the same bytes as behind
//! stagepass, and whatever this costs, a proxy on hyper's HTTP/1 server and
//! client that sends them costs at least.
//!
//!   cargo run --release --example hyper-floor -- LISTEN UPSTREAM HEADERS_FILE
//!
//! LISTEN and UPSTREAM are `host:port`; HEADERS_FILE holds `name: value`
//! lines (`Host` among them). Not a product: it answers 502 on any upstream
//! failure, and nothing in stagepass uses it.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::Bytes;
use http::header::COOKIE;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use http_body_util::{Either, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// The upstream's body, or an empty one for a 502: no box per response.
type Body = Either<Incoming, Empty<Bytes>>;
type Headers = Rc<Vec<(HeaderName, HeaderValue)>>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [listen, upstream, headers] = args.as_slice() else {
        eprintln!("usage: hyper-floor LISTEN UPSTREAM HEADERS_FILE");
        std::process::exit(2);
    };
    let listen: SocketAddr = listen.parse().expect("LISTEN is host:port");
    let upstream: SocketAddr = upstream.parse().expect("UPSTREAM is host:port");
    let headers = Rc::new(read_headers(headers));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, accept(listen, upstream, headers));
}

fn read_headers(path: &str) -> Vec<(HeaderName, HeaderValue)> {
    let text = std::fs::read_to_string(path).expect("HEADERS_FILE readable");
    text.lines()
        .filter_map(|line| line.split_once(": "))
        .map(|(name, value)| {
            let name = HeaderName::from_bytes(name.as_bytes()).expect("header name");
            (name, HeaderValue::from_str(value).expect("header value"))
        })
        .collect()
}

async fn accept(listen: SocketAddr, upstream: SocketAddr, headers: Headers) {
    let listener = TcpListener::bind(listen).await.expect("bind LISTEN");
    println!("listening on {listen}");
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let headers = Rc::clone(&headers);
        tokio::task::spawn_local(async move {
            if let Some(sender) = dial(upstream).await {
                serve(client, sender, headers).await;
            }
        });
    }
}

async fn dial(upstream: SocketAddr) -> Option<SendRequest<Incoming>> {
    let io = TcpStream::connect(upstream).await.ok()?;
    io.set_nodelay(true).ok()?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .ok()?;
    tokio::task::spawn_local(connection);
    Some(sender)
}

async fn serve(client: TcpStream, sender: SendRequest<Incoming>, headers: Headers) {
    let _ = client.set_nodelay(true);
    let sender = Rc::new(RefCell::new(Some(sender)));
    let service = hyper::service::service_fn(move |req| {
        forward(req, Rc::clone(&sender), Rc::clone(&headers))
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(client), service)
        .await;
}

async fn forward(
    mut req: Request<Incoming>,
    sender: Rc<RefCell<Option<SendRequest<Incoming>>>>,
    headers: Headers,
) -> Result<Response<Body>, std::convert::Infallible> {
    let fields = req.headers_mut();
    fields.remove(COOKIE);
    for (name, value) in headers.iter() {
        fields.insert(name.clone(), value.clone());
    }
    // HTTP/1 serves one request at a time per connection: the sender is
    // always back before the next request arrives.
    let Some(mut upstream) = sender.borrow_mut().take() else {
        return Ok(bad_gateway());
    };
    let response = match upstream.ready().await {
        Ok(()) => upstream.send_request(req).await,
        Err(err) => Err(err),
    };
    *sender.borrow_mut() = Some(upstream);
    Ok(match response {
        Ok(response) => response.map(Either::Left),
        Err(_) => bad_gateway(),
    })
}

fn bad_gateway() -> Response<Body> {
    let mut response = Response::new(Either::Right(Empty::new()));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}
