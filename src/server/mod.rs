//! Listeners, routes, the admin port and shutdown.
//!
//! [`run`] takes already-bound listeners and a shutdown future from its
//! caller, so the binary binds the configured addresses while tests bind
//! `127.0.0.1:0` and stop the server whenever they like.

mod admin;
mod public;
pub mod respond;
mod tls;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;

use crate::config::Config;
use crate::gate::Gate;
use crate::metrics::Metrics;
use crate::proxy::Peer;

/// HTTP/2 streams per connection (hyper's default is 200).
const MAX_CONCURRENT_STREAMS: u32 = 100;

/// Everything a request needs, built once from a validated config.
pub struct App {
    pub config: Arc<Config>,
    pub metrics: Arc<Metrics>,
    pub gate: Gate,
    tls: Option<TlsAcceptor>,
}

impl App {
    /// Builds the application. Fails (before any port is bound) when a file
    /// the config names cannot be used.
    pub fn build(config: Config) -> Result<Arc<App>, String> {
        let metrics = Arc::new(Metrics::new());
        let tls = match &config.stagepass.tls {
            Some(tls_config) => Some(tls::acceptor(tls_config)?),
            None => None,
        };
        let gate = Gate::new(&config, Arc::clone(&metrics)).map_err(|e| e.to_string())?;
        Ok(Arc::new(App {
            config: Arc::new(config),
            metrics,
            gate,
            tls,
        }))
    }

    fn peer(&self, addr: SocketAddr, tls: bool) -> Peer {
        // An IPv4 client on a dual-stack socket shows up as ::ffff:a.b.c.d.
        let ip = addr.ip().to_canonical();
        let trusted = self
            .config
            .stagepass
            .trusted_proxies
            .iter()
            .any(|net| net.contains(&ip));
        Peer::new(ip, tls, trusted)
    }
}

/// The two listeners stagepass serves.
pub struct Listeners {
    pub public: TcpListener,
    pub admin: TcpListener,
}

/// Serves until `shutdown` resolves, then stops accepting and gives in-flight
/// requests `stagepass.shutdownGracePeriod` to finish.
pub async fn run(listeners: Listeners, app: Arc<App>, shutdown: impl Future<Output = ()>) {
    let graceful = GracefulShutdown::new();
    let builder = connection_builder(&app, Role::Public);
    let admin_builder = connection_builder(&app, Role::Admin);
    let public_cap = Arc::new(Semaphore::new(app.config.stagepass.max_connections));
    let admin_cap = Arc::new(Semaphore::new(ADMIN_MAX_CONNECTIONS));
    tokio::select! {
        () = accept_loop(listeners.public, Role::Public, &app, &builder, &graceful, public_cap) => {}
        () = accept_loop(listeners.admin, Role::Admin, &app, &admin_builder, &graceful, admin_cap) => {}
        () = shutdown => tracing::info!("shutdown requested; no longer accepting connections"),
    }
    let grace = app.config.stagepass.shutdown_grace_period;
    match tokio::time::timeout(grace, graceful.shutdown()).await {
        Ok(()) => tracing::info!("all connections finished"),
        Err(_) => tracing::warn!(?grace, "grace period over; closing remaining connections"),
    }
}

#[derive(Clone, Copy)]
enum Role {
    Public,
    Admin,
}

fn connection_builder(app: &App, role: Role) -> auto::Builder<TokioExecutor> {
    let limit = app.config.stagepass.max_request_header_bytes;
    // The admin port takes no uploads and checks no head size of its own:
    // hyper's buffer stays its limit there.
    let read_buffer_max = match role {
        Role::Public => READ_BUFFER_MAX,
        Role::Admin => 8192,
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // hyper's buffer bounds both a request head and each read of a
        // body: at 16 KiB, a 1 GiB upload took twice as long as sent
        // directly (bench/load.sh). Heads are held to the configured limit
        // exactly after parsing (`public::check_header_size`, 431 with a
        // reason); a head beyond this buffer is refused by hyper (431).
        .max_buf_size(limit.max(read_buffer_max))
        .header_read_timeout(app.config.stagepass.timeouts.idle);
    builder
        .http2()
        .timer(TokioTimer::new())
        // Pings find dead HTTP/2 peers, whose streams would otherwise stay open.
        .keep_alive_interval(Some(app.config.stagepass.timeouts.idle))
        // One connection cannot hold hundreds of stalled streams open.
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .max_header_list_size(u32::try_from(limit).unwrap_or(u32::MAX));
    builder
}

/// The most an HTTP/1 connection reads at once (and buffers of a head).
const READ_BUFFER_MAX: usize = 128 * 1024;

/// Probes and scrapes only; a flood there must not starve the public side.
const ADMIN_MAX_CONNECTIONS: usize = 64;

/// Accepts while fewer than `cap` connections are open. At the cap it stops
/// calling `accept`, so new connections wait in the kernel's backlog (and
/// are refused once that is full) instead of costing memory and file
/// descriptors here.
async fn accept_loop(
    listener: TcpListener,
    role: Role,
    app: &Arc<App>,
    builder: &auto::Builder<TokioExecutor>,
    graceful: &GracefulShutdown,
    cap: Arc<Semaphore>,
) {
    // Under sustained overload the cap is hit on every freed slot: warn once
    // a minute, count every time.
    let mut last_warning: Option<std::time::Instant> = None;
    loop {
        let permit = match Arc::clone(&cap).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if matches!(role, Role::Public) {
                    app.metrics.record_connection_cap_reached();
                    if last_warning.is_none_or(|at| at.elapsed() >= Duration::from_secs(60)) {
                        last_warning = Some(std::time::Instant::now());
                        tracing::warn!(
                            max = app.config.stagepass.max_connections,
                            "stagepass.maxConnections reached; new connections wait"
                        );
                    }
                }
                match Arc::clone(&cap).acquire_owned().await {
                    Ok(permit) => permit,
                    Err(_) => return,
                }
            }
        };
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Usually EMFILE: back off instead of spinning on the error.
                tracing::warn!(error = %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        spawn_connection(
            stream,
            peer,
            role,
            Arc::clone(app),
            builder.clone(),
            graceful,
            permit,
        );
    }
}

fn spawn_connection(
    stream: TcpStream,
    peer: SocketAddr,
    role: Role,
    app: Arc<App>,
    builder: auto::Builder<TokioExecutor>,
    graceful: &GracefulShutdown,
    permit: OwnedSemaphorePermit,
) {
    let watcher = graceful.watcher();
    // Held for as long as the connection task runs.
    let open = (permit, app.metrics.connection_opened());
    let acceptor = match role {
        Role::Public => app.tls.clone(),
        Role::Admin => None,
    };
    // Two kinds of task: a task is as large as its largest state, and a
    // plain connection's must not carry room for a TLS stream and its
    // handshake (3.6 KB less on every idle keep-alive connection).
    let Some(acceptor) = acceptor else {
        tokio::spawn(async move {
            let _open = open;
            let peer = app.peer(peer, false);
            serve(TokioIo::new(stream), peer, role, app, builder, watcher).await;
        });
        return;
    };
    tokio::spawn(async move {
        let _open = open;
        // A client that connects and never finishes the handshake must not
        // hold a socket forever.
        let deadline = app.config.stagepass.timeouts.request_headers;
        match tokio::time::timeout(deadline, acceptor.accept(stream)).await {
            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            Ok(Ok(tls_stream)) => {
                let peer = app.peer(peer, true);
                serve(TokioIo::new(tls_stream), peer, role, app, builder, watcher).await;
            }
            Ok(Err(err)) => tracing::debug!(error = %err, %peer, "TLS handshake failed"),
        }
    });
}

async fn serve<I>(
    io: I,
    peer: Peer,
    role: Role,
    app: Arc<App>,
    builder: auto::Builder<TokioExecutor>,
    watcher: Watcher,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let head_deadline = app.config.stagepass.timeouts.request_headers;
    let first_head = Arc::new(Notify::new());
    let head_arrived = Arc::clone(&first_head);
    let service = service_fn(move |req| {
        // A stored permit: the deadline below stops at the first request.
        head_arrived.notify_one();
        let app = Arc::clone(&app);
        // Boxed: hyper keeps room for the in-flight request's future inside
        // every connection, and the whole pipeline's state machine is large;
        // boxed, an idle keep-alive connection holds only a pointer.
        Box::pin(async move {
            let response = match role {
                Role::Public => public::handle(&app, req, peer).await,
                Role::Admin => admin::handle(&app, req, peer.ip()).await,
            };
            Ok::<_, Infallible>(response)
        })
    });
    let conn = watcher.watch(
        builder
            .serve_connection_with_upgrades(io, service)
            .into_owned(),
    );
    tokio::pin!(conn);
    // Slow-loris defence: a connection that has not delivered one complete
    // request head (HTTP/1 request line and headers, or the HTTP/2 preface
    // and a HEADERS frame) within the deadline is dropped, which closes it.
    // Later heads on HTTP/1 keep-alive are bounded by `idle` (hyper's
    // header read timeout).
    tokio::select! {
        result = &mut conn => return log_connection_end(result),
        () = first_head.notified() => {}
        () = tokio::time::sleep(head_deadline) => {
            tracing::debug!(?head_deadline, "no complete request head in time; closing the connection");
            return;
        }
    }
    log_connection_end(conn.await);
}

fn log_connection_end(result: Result<(), Box<dyn std::error::Error + Send + Sync>>) {
    if let Err(err) = result {
        tracing::debug!(error = %err, "connection ended with an error");
    }
}
