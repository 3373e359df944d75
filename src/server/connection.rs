//! One client connection: which protocol it speaks, its first-head
//! deadline, and finishing its requests when the server drains.
//!
//! A cleartext connection is looked at (peeked, nothing consumed) before
//! hyper reads it: anything but the start of HTTP/2's preface goes straight
//! to hyper's HTTP/1 server. hyper-util's auto-detection read the first 24
//! bytes of every connection into a buffer of its own and then grew hyper's
//! read buffer to 16 KiB to put them back, and its connection type made
//! every connection's task larger: 1,000 idle keep-alive connections took
//! 32.9 MB against 26.4 MB without it (README, "Memory"). HTTP/2 with prior
//! knowledge, a first read too short to tell, and TLS connections that did
//! not agree on `http/1.1` by ALPN still go through the auto-detection,
//! unchanged.

use std::convert::Infallible;
use std::fmt::Display;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::{App, MAX_CONCURRENT_STREAMS, Role, admin, public};
use crate::proxy::Peer;

/// The most an HTTP/1 connection reads at once (and buffers of a head).
const READ_BUFFER_MAX: usize = 128 * 1024;

/// HTTP/2 with prior knowledge opens with `PRI * HTTP/2.0`; RFC 9113 (3.4)
/// reserves the method, so no HTTP/1 request starts this way.
const HTTP2_PREFACE_START: &[u8] = b"PRI ";

/// hyper's servers for one listener, configured once.
pub(super) struct Protocols {
    http1: http1::Builder,
    negotiated: auto::Builder<TokioExecutor>,
}

impl Protocols {
    pub(super) fn new(app: &App, role: Role) -> Self {
        let limit = app.config.stagepass.max_request_header_bytes;
        let idle = app.config.stagepass.timeouts.idle;
        // hyper's buffer bounds both a request head and each read of a
        // body: at 16 KiB, a 1 GiB upload took twice as long as sent
        // directly (bench/load.sh). Heads are held to the configured limit
        // exactly after parsing (`public::check_header_size`, 431 with a
        // reason); a head beyond this buffer is refused by hyper (431). The
        // admin port takes no uploads and checks no head size of its own:
        // hyper's smallest buffer stays its limit there.
        let read_buffer = match role {
            Role::Public => limit.max(READ_BUFFER_MAX),
            Role::Admin => 8192,
        };
        let mut http1 = http1::Builder::new();
        http1
            .timer(TokioTimer::new())
            .max_buf_size(read_buffer)
            .header_read_timeout(idle);
        let mut negotiated = auto::Builder::new(TokioExecutor::new());
        negotiated
            .http1()
            .timer(TokioTimer::new())
            .max_buf_size(read_buffer)
            .header_read_timeout(idle);
        negotiated
            .http2()
            .timer(TokioTimer::new())
            // Pings find dead HTTP/2 peers, whose streams would otherwise stay open.
            .keep_alive_interval(Some(idle))
            // One connection cannot hold hundreds of stalled streams open.
            .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
            .max_header_list_size(http2_header_list_size(limit));
        Protocols { http1, negotiated }
    }
}

/// HTTP/2's own bound on a request's header list, above stagepass's limit
/// so that `public::check_header_size` answers (431 with a reason) for
/// every head beyond it. HTTP/2 counts a field as name, value and 32 bytes
/// (RFC 7541 4.1), the text of a head as name, value and 4: a head within
/// `limit` has at most `limit / 5` fields, so it counts at most 28 bytes
/// more per field here. The four pseudo-headers count as fields there and
/// as the request line here (about 150 bytes more), and h2 refuses a list
/// that reaches its bound: 256 bytes more cover both.
fn http2_header_list_size(limit: usize) -> u32 {
    let per_field = (limit / 5 + 1).saturating_mul(28);
    let bound = limit.saturating_add(per_field).saturating_add(256);
    u32::try_from(bound).unwrap_or(u32::MAX)
}

/// What a connection's first bytes, or its TLS handshake, say it speaks.
pub(super) enum Wire {
    /// HTTP/1: served by hyper's HTTP/1 server directly.
    Http1,
    /// HTTP/2, or not known yet: hyper-util reads the preface to decide.
    Negotiate,
}

impl Wire {
    /// Waits for a cleartext connection's first bytes without consuming them.
    pub(super) async fn sniff(stream: &TcpStream) -> Wire {
        let mut first = [0u8; HTTP2_PREFACE_START.len()];
        match stream.peek(&mut first).await {
            Ok(read) if read > 0 && !HTTP2_PREFACE_START.starts_with(&first[..read]) => Wire::Http1,
            // The preface, a first read too short to tell, or a closed or
            // failing connection (which hyper-util then reports as before).
            _ => Wire::Negotiate,
        }
    }

    /// A TLS client that agreed on HTTP/1.1 by ALPN speaks it.
    pub(super) fn from_alpn(protocol: Option<&[u8]>) -> Wire {
        match protocol {
            Some(b"http/1.1") => Wire::Http1,
            _ => Wire::Negotiate,
        }
    }
}

/// Everything a connection's task needs besides its socket.
pub(super) struct Connection {
    pub app: Arc<App>,
    pub role: Role,
    pub peer: Peer,
    pub protocols: Arc<Protocols>,
    pub drain: watch::Receiver<bool>,
}

impl Connection {
    /// Serves the connection until it closes. It must deliver one complete
    /// request head (HTTP/1 request line and headers, or the HTTP/2 preface
    /// and a HEADERS frame) by `head_by`, or it is dropped, which closes it
    /// (slow-loris defence). Later heads on HTTP/1 keep-alive are bounded by
    /// `idle` (hyper's header read timeout).
    pub(super) async fn serve<I>(self, io: I, wire: Wire, head_by: Instant)
    where
        I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    {
        let Connection {
            app,
            role,
            peer,
            protocols,
            drain,
        } = self;
        let first_head = Arc::new(Notify::new());
        let head_arrived = Arc::clone(&first_head);
        let service = service_fn(move |req| {
            // A stored permit: the head deadline stops at the first request.
            head_arrived.notify_one();
            let app = Arc::clone(&app);
            // Boxed before the future below captures it (see `ClientRequest`).
            let req = Box::new(req);
            // Boxed: hyper keeps room for the in-flight request's future
            // inside every connection, and the whole pipeline's state
            // machine is large; boxed, an idle keep-alive connection holds
            // only a pointer.
            Box::pin(async move {
                let response = match role {
                    Role::Public => public::handle(&app, req, peer).await,
                    Role::Admin => admin::handle(&app, *req, peer.ip()).await,
                };
                Ok::<_, Infallible>(response)
            })
        });
        // Boxed: the task then holds a pointer, and each kind of connection
        // only the room its own protocol needs.
        match wire {
            Wire::Http1 => {
                Box::pin(async move {
                    let conn = pin!(
                        protocols
                            .http1
                            .serve_connection(io, service)
                            .with_upgrades()
                    );
                    let close =
                        |conn: Pin<&mut _>| http1::UpgradeableConnection::graceful_shutdown(conn);
                    drive(conn, close, drain, &first_head, head_by).await;
                })
                .await;
            }
            Wire::Negotiate => {
                Box::pin(async move {
                    let conn = pin!(
                        protocols
                            .negotiated
                            .serve_connection_with_upgrades(io, service)
                    );
                    let close =
                        |conn: Pin<&mut _>| auto::UpgradeableConnection::graceful_shutdown(conn);
                    drive(conn, close, drain, &first_head, head_by).await;
                })
                .await;
            }
        }
    }
}

/// Drives `conn` to its end. It is dropped, which closes it, when no
/// complete request head has arrived by `head_by`; once the server drains,
/// it is asked (`close`) to finish its in-flight requests and close.
///
/// The connection comes pinned by the caller: an async fn keeps its
/// arguments for its whole life, so one passed by value would take its room
/// twice in every connection's task.
async fn drive<C, E: Display>(
    mut conn: Pin<&mut C>,
    close: impl FnOnce(Pin<&mut C>),
    mut drain: watch::Receiver<bool>,
    first_head: &Notify,
    head_by: Instant,
) where
    C: Future<Output = Result<(), E>>,
{
    let mut head_arrived = false;
    tokio::select! {
        result = conn.as_mut() => return log_connection_end(result),
        () = first_head.notified() => head_arrived = true,
        () = tokio::time::sleep_until(head_by) => {
            tracing::debug!("no complete request head in time; closing the connection");
            return;
        }
        _ = drain.wait_for(|draining| *draining) => {}
    }
    if head_arrived {
        tokio::select! {
            result = conn.as_mut() => return log_connection_end(result),
            // Also when the server is gone without a word.
            _ = drain.wait_for(|draining| *draining) => {}
        }
    }
    close(conn.as_mut());
    if head_arrived {
        return log_connection_end(conn.await);
    }
    // A connection closing in the middle of its first head would wait for
    // the rest of it: the deadline still holds, or one slow client would
    // hold every shutdown for the whole grace period.
    match tokio::time::timeout_at(head_by, conn).await {
        Ok(result) => log_connection_end(result),
        Err(_) => tracing::debug!("no complete request head in time; closing the connection"),
    }
}

fn log_connection_end(result: Result<(), impl Display>) {
    if let Err(err) = result {
        tracing::debug!(error = %err, "connection ended with an error");
    }
}

/// Tells every connection to finish, and waits until they have.
pub(super) struct Drain(watch::Sender<bool>);

impl Drain {
    pub(super) fn new() -> Self {
        Drain(watch::channel(false).0)
    }

    pub(super) fn watcher(&self) -> watch::Receiver<bool> {
        self.0.subscribe()
    }

    /// Resolves once every connection's task has ended.
    pub(super) async fn finish(&self) {
        self.0.send_replace(true);
        self.0.closed().await;
    }
}

/// The cleartext path: the first bytes decide the protocol.
pub(super) async fn serve_plain(stream: TcpStream, mut connection: Connection, head_by: Instant) {
    let wire = tokio::select! {
        wire = tokio::time::timeout_at(head_by, Wire::sniff(&stream)) => wire,
        _ = connection.drain.wait_for(|draining| *draining) => return,
    };
    let Ok(wire) = wire else {
        tracing::debug!("no request bytes in time; closing the connection");
        return;
    };
    connection.serve(TokioIo::new(stream), wire, head_by).await;
}
