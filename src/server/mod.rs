//! Listeners, routes, the admin port and shutdown.
//!
//! [`run`] takes already-bound listeners and a shutdown future from its
//! caller, so the binary binds the configured addresses while tests bind
//! `127.0.0.1:0` and stop the server whenever they like.

mod admin;
mod connection;
mod public;
pub mod respond;
mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use connection::{Connection, Drain, Protocols, Wire};

use crate::config::Config;
use crate::error::StartupProblems;
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
    /// The listener's certificate and the gate's files are independent:
    /// both are tried, so a run names a problem with each.
    pub fn build(config: Config) -> Result<Arc<App>, String> {
        let metrics = Arc::new(Metrics::new());
        let mut problems = StartupProblems::default();
        let tls = problems.keep(config.stagepass.tls.as_ref().map(tls::acceptor).transpose());
        let gate = problems.keep(Gate::new(&config, Arc::clone(&metrics)));
        let (Some(tls), Some(gate)) = (tls, gate) else {
            return Err(problems.message());
        };
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
    let drain = Drain::new();
    let public = Arc::new(Protocols::new(&app, Role::Public));
    let admin = Arc::new(Protocols::new(&app, Role::Admin));
    let public_cap = Arc::new(Semaphore::new(app.config.stagepass.max_connections));
    let admin_cap = Arc::new(Semaphore::new(ADMIN_MAX_CONNECTIONS));
    tokio::select! {
        () = accept_loop(listeners.public, Role::Public, &app, &public, &drain, public_cap) => {}
        () = accept_loop(listeners.admin, Role::Admin, &app, &admin, &drain, admin_cap) => {}
        () = shutdown => tracing::info!("shutdown requested; no longer accepting connections"),
    }
    let grace = app.config.stagepass.shutdown_grace_period;
    match tokio::time::timeout(grace, drain.finish()).await {
        Ok(()) => tracing::info!("all connections finished"),
        Err(_) => tracing::warn!(?grace, "grace period over; closing remaining connections"),
    }
}

#[derive(Clone, Copy)]
enum Role {
    Public,
    Admin,
}

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
    protocols: &Arc<Protocols>,
    drain: &Drain,
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
            protocols,
            drain,
            permit,
        );
    }
}

fn spawn_connection(
    stream: TcpStream,
    peer: SocketAddr,
    role: Role,
    app: Arc<App>,
    protocols: &Arc<Protocols>,
    drain: &Drain,
    permit: OwnedSemaphorePermit,
) {
    // Held for as long as the connection task runs.
    let open = (permit, app.metrics.connection_opened());
    let acceptor = match role {
        Role::Public => app.tls.clone(),
        Role::Admin => None,
    };
    let deadline = app.config.stagepass.timeouts.request_headers;
    let tls = acceptor.is_some();
    let connection = Connection {
        peer: app.peer(peer, tls),
        app,
        role,
        protocols: Arc::clone(protocols),
        drain: drain.watcher(),
    };
    // Two kinds of task: a task is as large as its largest state, and a
    // plain connection's must not carry room for a TLS stream and its
    // handshake (3.6 KB less on every idle keep-alive connection).
    let Some(acceptor) = acceptor else {
        tokio::spawn(async move {
            let _open = open;
            connection::serve_plain(stream, connection, Instant::now() + deadline).await;
        });
        return;
    };
    tokio::spawn(async move {
        let _open = open;
        // A client that connects and never finishes the handshake must not
        // hold a socket forever.
        match tokio::time::timeout(deadline, acceptor.accept(stream)).await {
            Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            Ok(Ok(tls_stream)) => {
                let wire = Wire::from_alpn(tls_stream.get_ref().1.alpn_protocol());
                let head_by = Instant::now() + deadline;
                connection
                    .serve(TokioIo::new(tls_stream), wire, head_by)
                    .await;
            }
            Ok(Err(err)) => tracing::debug!(error = %err, %peer, "TLS handshake failed"),
        }
    });
}
