//! WebSocket upgrades: once the upstream answers 101, the two connections
//! are spliced and bytes flow both ways untouched, until either side closes
//! or the session that opened the tunnel ends.
//!
//! Only `Upgrade: websocket` on an HTTP/1.1 `GET` is tunnelled. Any other
//! protocol is forwarded as a plain request without its upgrade headers:
//! an `h2c` upgrade in particular would splice the client onto an upstream
//! HTTP/2 connection whose later streams never pass the gate.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Version};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

/// `Upgrade: websocket`, when the client asked for exactly that on an
/// HTTP/1.1 `GET` with `Connection: upgrade`.
pub fn requested_protocol(
    method: &Method,
    version: Version,
    headers: &HeaderMap,
) -> Option<HeaderValue> {
    if method != Method::GET || version != Version::HTTP_11 {
        return None;
    }
    let upgrade = headers.get(header::UPGRADE)?;
    let connection_upgrade = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    (connection_upgrade && upgrade.as_bytes().eq_ignore_ascii_case(b"websocket"))
        .then(|| upgrade.clone())
}

/// Puts back the two headers hop-by-hop removal took, so the upstream sees
/// the upgrade request.
pub fn restore_headers(headers: &mut HeaderMap, protocol: HeaderValue) {
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, protocol);
}

/// Whether the session that opened a tunnel has been ended elsewhere.
pub type SessionEnded = Arc<dyn Fn() -> bool + Send + Sync>;

/// How often an open tunnel asks [`SessionEnded`]: revocations reach every
/// replica within about a second.
const ENDED_CHECK_EVERY: Duration = Duration::from_secs(1);

/// Splices client and upstream once both sides have switched protocols.
/// Runs detached: it ends when either side closes, at `until` (the end of
/// the session that opened it), or once `ended` says the session was
/// signed out or revoked, so an ended session does not keep a live tunnel.
pub fn splice(
    client: OnUpgrade,
    upstream: OnUpgrade,
    until: Option<SystemTime>,
    ended: Option<SessionEnded>,
) {
    tokio::spawn(async move {
        let (client, upstream) = match tokio::try_join!(client, upstream) {
            Ok(pair) => pair,
            Err(err) => {
                tracing::debug!(error = %err, "upgrade did not complete");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut upstream = TokioIo::new(upstream);
        let copy = tokio::io::copy_bidirectional(&mut client, &mut upstream);
        let left = until.map(|t| t.duration_since(SystemTime::now()).unwrap_or_default());
        let expired = async {
            match left {
                Some(left) => tokio::time::sleep(left).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            outcome = copy => if let Err(err) = outcome {
                tracing::debug!(error = %err, "upgraded connection ended with an error");
            },
            () = expired => tracing::debug!("upgraded connection closed: its session expired"),
            () = ended_elsewhere(ended) => {
                tracing::debug!("upgraded connection closed: its session was ended");
            }
        }
    });
}

/// Resolves once `ended` says so; never without it.
async fn ended_elsewhere(ended: Option<SessionEnded>) {
    let Some(ended) = ended else {
        return std::future::pending().await;
    };
    let mut every = tokio::time::interval(ENDED_CHECK_EVERY);
    loop {
        every.tick().await;
        if ended() {
            return;
        }
    }
}
