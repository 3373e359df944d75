//! Keep-alive connections to the upstream, against an upstream that ends
//! them as real ones do: Node (Backstage) closes an idle connection after
//! 5 s without a word, nginx after 75 s. A request must not fail because
//! the upstream closed the connection it was about to use, and stagepass
//! must not hold idle connections open forever either.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// An HTTP/1.1 upstream on raw sockets, so that when it closes a connection
/// is up to the test, not to a server library's keep-alive settings.
struct RawUpstream {
    url: url::Url,
    /// Connections accepted.
    accepted: Arc<AtomicUsize>,
    /// Connections ended, by either side; changes are announced.
    ended: watch::Receiver<usize>,
}

impl RawUpstream {
    /// Answers `per_connection` requests on each connection (all of them
    /// when `None`), then, after a moment idle, closes it without
    /// `Connection: close`, as a server whose keep-alive timeout ran out
    /// does.
    async fn start(per_connection: Option<usize>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let (ended_tx, ended) = watch::channel(0);
        let ended_tx = Arc::new(ended_tx);
        let counter = Arc::clone(&accepted);
        tokio::spawn(async move {
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                counter.fetch_add(1, Ordering::SeqCst);
                let ended_tx = Arc::clone(&ended_tx);
                tokio::spawn(async move {
                    serve(socket, per_connection).await;
                    ended_tx.send_modify(|n| *n += 1);
                });
            }
        });
        RawUpstream {
            url: url.parse().unwrap(),
            accepted,
            ended,
        }
    }

    /// Waits until `n` connections have ended (a deadline, not a pause:
    /// it returns as soon as they have).
    async fn wait_for_ended(&mut self, n: usize) {
        let ended = self.ended.wait_for(|ended| *ended >= n);
        tokio::time::timeout(Duration::from_secs(10), ended)
            .await
            .unwrap_or_else(|_| panic!("{n} upstream connections did not end within 10 s"))
            .unwrap();
    }
}

async fn serve(mut socket: TcpStream, per_connection: Option<usize>) {
    let mut pending = Vec::new();
    let mut served = 0;
    let mut chunk = [0u8; 4096];
    loop {
        match socket.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
        }
        // Requests without bodies: a head ends each.
        while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            pending.drain(..end + 4);
            let reply = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
            if socket.write_all(reply).await.is_err() {
                return;
            }
            served += 1;
            if Some(served) == per_connection {
                // Idle long enough for stagepass to keep the connection.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return;
            }
        }
    }
}

#[tokio::test]
async fn a_connection_the_upstream_closed_while_idle_costs_no_request() {
    let mut up = RawUpstream::start(Some(1)).await;
    let sp = start(config(up.url.clone())).await;
    for round in 1..=10 {
        let reply = get(&sp.url("/x")).await;
        assert_eq!(reply.status, 200, "round {round}: {}", reply.text());
        // The upstream has closed the connection stagepass keeps idle; the
        // next request is sent only then.
        up.wait_for_ended(round).await;
    }
    assert_eq!(up.accepted.load(Ordering::SeqCst), 10);
}

#[tokio::test]
async fn idle_upstream_connections_are_closed_after_the_idle_timeout() {
    let mut up = RawUpstream::start(None).await;
    let mut cfg = config(up.url.clone());
    cfg.stagepass.timeouts.idle = Duration::from_millis(300);
    let sp = start(cfg).await;
    for _ in 0..3 {
        assert_eq!(get(&sp.url("/x")).await.status, 200);
    }
    assert_eq!(
        up.accepted.load(Ordering::SeqCst),
        1,
        "one connection, reused"
    );
    // The upstream never closes it: stagepass does, once it has been idle.
    up.wait_for_ended(1).await;
    assert_eq!(get(&sp.url("/x")).await.status, 200);
    assert_eq!(up.accepted.load(Ordering::SeqCst), 2);
}
