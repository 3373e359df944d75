//! Keep-alive connections to one upstream, reused most-recent first.
//!
//! Why not hyper-util's pooled client: on every request it hashed a pool
//! key, took one mutex shared by every request, formatted `Host` from the
//! URI and rebuilt the URI in origin form; about an eighth of a signed-in
//! request's instructions. Here the idle connections are split into one
//! list per worker thread, so a request only ever takes its own worker's
//! lock (shared with nothing but the once-in-a-while sweep), and the
//! request arrives already in origin form with its `Host` set.
//!
//! What the pooled client did that matters is kept: a connection the
//! upstream closed while idle is noticed before use, a request that never
//! left because such a connection closed under it is sent again on a new
//! one, a connection still streaming a body goes back only once it is
//! free, and idle connections are closed after `timeouts.idle`.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use http::{Request, Response, Uri};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_rustls::HttpsConnector;
use tower_service::Service;

use crate::body::{Body, BoxError};
use crate::http_client::Connector;

/// More idle connections than this per worker are closed, oldest first.
const MAX_IDLE_PER_WORKER: usize = 1024;

pub(super) struct Pool {
    inner: Arc<Inner>,
}

struct Inner {
    connector: HttpsConnector<Connector>,
    /// `scheme://authority/`: what the connector dials.
    target: Uri,
    idle_timeout: Duration,
    /// One list per worker thread (see [`worker_index`]).
    idle: Box<[Mutex<VecDeque<Idle>>]>,
    sweeping: AtomicBool,
}

struct Idle {
    sender: SendRequest<Body>,
    since: Instant,
}

impl Idle {
    /// Idle for `timeout` or longer: to be closed, not used.
    fn outlived(&self, timeout: Duration) -> bool {
        self.since.elapsed() >= timeout
    }
}

/// Why a request got no response from the upstream.
#[derive(Debug)]
pub(super) enum SendError {
    /// No connection: refused, unresolvable, timed out, TLS failed.
    Connect(BoxError),
    /// The connection failed while the request or response was under way.
    Exchange(hyper::Error),
}

impl Pool {
    pub fn new(connector: HttpsConnector<Connector>, target: Uri, idle_timeout: Duration) -> Self {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let idle = (0..workers).map(|_| Mutex::default()).collect();
        Pool {
            inner: Arc::new(Inner {
                connector,
                target,
                idle_timeout,
                idle,
                sweeping: AtomicBool::new(false),
            }),
        }
    }

    /// Sends `req` (origin form, `Host` set) on an idle connection, or a
    /// new one.
    pub async fn send(&self, mut req: Request<Body>) -> Result<Response<Incoming>, SendError> {
        loop {
            let (mut sender, reused) = match self.inner.take_idle() {
                Some(sender) => (sender, true),
                // Boxed: dialling is rare, and its future is large; inline
                // it would be moved along with every request's future.
                None => (Box::pin(self.inner.connect()).await?, false),
            };
            match sender.try_send_request(req).await {
                Ok(response) => {
                    Inner::check_in_when_free(&self.inner, sender);
                    return Ok(response);
                }
                // The upstream closed the idle connection just as the
                // request was handed to it: nothing was sent, so sending
                // again elsewhere is safe, whatever the method.
                Err(mut err) => match err.take_message() {
                    Some(unsent) if reused => req = unsent,
                    _ => return Err(SendError::Exchange(err.into_error())),
                },
            }
        }
    }
}

impl Inner {
    fn worker_list(&self) -> &Mutex<VecDeque<Idle>> {
        &self.idle[worker_index() % self.idle.len()]
    }

    fn take_idle(&self) -> Option<SendRequest<Body>> {
        let mut idle = lock(self.worker_list());
        while let Some(conn) = idle.pop_back() {
            if conn.sender.is_ready() && !conn.outlived(self.idle_timeout) {
                return Some(conn.sender);
            }
        }
        None
    }

    async fn connect(&self) -> Result<SendRequest<Body>, SendError> {
        let mut connector = self.connector.clone();
        poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(SendError::Connect)?;
        let io = connector
            .call(self.target.clone())
            .await
            .map_err(SendError::Connect)?;
        let (sender, connection) = http1::handshake(io)
            .await
            .map_err(|err| SendError::Connect(err.into()))?;
        tokio::spawn(async move {
            // How it ended reaches the request it failed, if any.
            let _ = connection.with_upgrades().await;
        });
        Ok(sender)
    }

    /// Back to the idle list now, or once the response body has been read
    /// (a connection is free for the next request only then).
    fn check_in_when_free(inner: &Arc<Inner>, mut sender: SendRequest<Body>) {
        if sender.is_ready() {
            return inner.check_in(sender);
        }
        let inner = Arc::clone(inner);
        tokio::spawn(async move {
            if sender.ready().await.is_ok() {
                inner.check_in(sender);
            }
        });
    }

    fn check_in(self: &Arc<Self>, sender: SendRequest<Body>) {
        let mut idle = lock(self.worker_list());
        if idle.len() >= MAX_IDLE_PER_WORKER {
            idle.pop_front();
        }
        idle.push_back(Idle {
            sender,
            since: Instant::now(),
        });
        drop(idle);
        if !self.sweeping.swap(true, Ordering::Relaxed) {
            tokio::spawn(sweep(Arc::downgrade(self), self.idle_timeout));
        }
    }

    /// Closes connections idle for longer than `idle_timeout`, and those
    /// the upstream has closed.
    fn drop_expired(&self) {
        for list in &self.idle {
            lock(list).retain(|conn| !conn.sender.is_closed() && !conn.outlived(self.idle_timeout));
        }
    }
}

/// Runs while the pool lives: every half idle timeout, so a connection is
/// closed at most half a timeout late.
async fn sweep(pool: Weak<Inner>, idle_timeout: Duration) {
    let mut every = tokio::time::interval((idle_timeout / 2).max(Duration::from_millis(10)));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        match pool.upgrade() {
            Some(pool) => pool.drop_expired(),
            None => return,
        }
    }
}

/// This thread's index, handed out in order of first use: each worker
/// thread of the runtime gets its own idle list.
fn worker_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    INDEX.with(|index| *index)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
