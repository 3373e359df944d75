//! Prometheus metrics, rendered in the text exposition format on the admin port.
//!
//! Hand-rolled on purpose: four metric families do not justify a registry
//! crate, and keeping the label sets closed (route classes, status codes,
//! error kinds) keeps cardinality bounded whatever clients send.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// What kind of request a metric line counts. A closed set: never a raw path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RouteClass {
    /// Forwarded to the upstream.
    Proxy,
    /// Answered by stagepass's own auth endpoints (`/api/auth/...`).
    Auth,
    /// Anything stagepass refused before forwarding.
    Rejected,
}

impl RouteClass {
    fn as_str(self) -> &'static str {
        match self {
            RouteClass::Proxy => "proxy",
            RouteClass::Auth => "auth",
            RouteClass::Rejected => "rejected",
        }
    }
}

/// Status codes are counted per code in 100..=599; anything else (which
/// hyper never produces) is folded into 599's neighbour slot 0.
const STATUS_SLOTS: usize = 500;
const ROUTES: [RouteClass; 3] = [RouteClass::Proxy, RouteClass::Auth, RouteClass::Rejected];

/// One route class's counters. Plain atomics: every request updates them,
/// so no lock is shared by all requests.
struct RouteCounters {
    by_status: [AtomicU64; STATUS_SLOTS],
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Default for RouteCounters {
    fn default() -> Self {
        RouteCounters {
            by_status: std::array::from_fn(|_| AtomicU64::new(0)),
            buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }
}

impl RouteCounters {
    fn record(&self, status: u16, elapsed: Duration) {
        let slot = usize::from(status)
            .checked_sub(100)
            .filter(|s| *s < STATUS_SLOTS);
        self.by_status[slot.unwrap_or(0)].fetch_add(1, Ordering::Relaxed);
        let seconds = elapsed.as_secs_f64();
        // Cumulative buckets are summed at render time; here only the first
        // bucket that holds the value counts, so one add per request.
        if let Some(i) = BUCKETS.iter().position(|bound| seconds <= *bound) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// The error counters, rarely touched: a lock is fine here.
#[derive(Default)]
struct Families {
    upstream_errors: BTreeMap<&'static str, u64>,
    idp_errors: BTreeMap<&'static str, u64>,
    revocations: BTreeMap<&'static str, u64>,
}

/// All of stagepass's metrics. One instance per process, shared by `Arc`.
#[derive(Default)]
pub struct Metrics {
    routes: [RouteCounters; ROUTES.len()],
    families: Mutex<Families>,
    open_connections: AtomicI64,
    connection_cap_reached: AtomicU64,
    /// Work that must never happen per request: the load benchmark shows
    /// these flat while requests flow.
    catalog_lookups: AtomicU64,
    tokens_signed: AtomicU64,
    unknown_key_ids: AtomicU64,
    /// `upstreamTls.insecureSkipVerify` is on: shown so nobody forgets it.
    upstream_tls_unverified: std::sync::atomic::AtomicBool,
    /// 1 while the session store is in sync, 0 while it is not; absent
    /// without a store.
    session_store_synced: std::sync::atomic::AtomicI8,
    sessions_started: AtomicU64,
}

impl Metrics {
    pub fn new() -> Self {
        let metrics = Self::default();
        // No store until one says otherwise.
        metrics.session_store_synced.store(-1, Ordering::Relaxed);
        metrics
    }

    pub fn record_request(&self, route: RouteClass, status: u16, elapsed: Duration) {
        self.routes[route as usize].record(status, elapsed);
    }

    /// `kind` is a fixed string such as `connect`, `timeout`, `protocol`.
    pub fn record_upstream_error(&self, kind: &'static str) {
        *self.lock().upstream_errors.entry(kind).or_default() += 1;
    }

    pub fn record_idp_error(&self, kind: &'static str) {
        *self.lock().idp_errors.entry(kind).or_default() += 1;
    }

    /// Identity resolution went to the catalog (a cache miss).
    pub fn record_catalog_lookup(&self) {
        self.catalog_lookups.fetch_add(1, Ordering::Relaxed);
    }

    /// A Backstage token or an assertion was signed (ECDSA/RSA).
    pub fn record_token_signed(&self) {
        self.tokens_signed.fetch_add(1, Ordering::Relaxed);
    }

    /// An ID token named a key stagepass did not have (each may trigger a
    /// coalesced, rate-limited key refetch).
    pub fn record_unknown_key_id(&self) {
        self.unknown_key_ids.fetch_add(1, Ordering::Relaxed);
    }

    /// The session store's sync state (see `revocation`).
    pub fn set_session_store_synced(&self, synced: bool) {
        self.session_store_synced
            .store(i8::from(synced), Ordering::Relaxed);
    }

    /// A session was created (a sign-in completed).
    pub fn record_session_started(&self) {
        self.sessions_started.fetch_add(1, Ordering::Relaxed);
    }

    /// A session, an IdP session or a person's sessions were revoked.
    pub fn record_revocation(&self, kind: &'static str) {
        *self.lock().revocations.entry(kind).or_default() += 1;
    }

    /// `upstreamTls.insecureSkipVerify` is on for this process.
    pub fn set_upstream_tls_unverified(&self) {
        self.upstream_tls_unverified.store(true, Ordering::Relaxed);
    }

    /// The public listener stopped accepting because `maxConnections` were open.
    pub fn record_connection_cap_reached(&self) {
        self.connection_cap_reached.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a connection as open until the returned guard is dropped.
    pub fn connection_opened(self: &Arc<Self>) -> ConnectionGuard {
        self.open_connections.fetch_add(1, Ordering::Relaxed);
        ConnectionGuard(Arc::clone(self))
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        self.render_requests(&mut out);
        self.render_latency(&mut out);
        let f = self.lock();
        render_counter_map(
            &mut out,
            "stagepass_upstream_errors_total",
            "Upstream failures by kind.",
            &f.upstream_errors,
        );
        render_counter_map(
            &mut out,
            "stagepass_idp_errors_total",
            "OpenID Provider failures by kind.",
            &f.idp_errors,
        );
        let open = self.open_connections.load(Ordering::Relaxed);
        out.push_str("# HELP stagepass_open_connections Client connections currently open.\n");
        out.push_str("# TYPE stagepass_open_connections gauge\n");
        let _ = writeln!(out, "stagepass_open_connections {open}");
        for (name, help, counter) in [
            (
                "stagepass_catalog_lookups_total",
                "Identity resolutions that asked the catalog (cache misses).",
                &self.catalog_lookups,
            ),
            (
                "stagepass_tokens_signed_total",
                "Backstage tokens and assertions signed.",
                &self.tokens_signed,
            ),
            (
                "stagepass_unknown_key_ids_total",
                "IdP key sets fetched again for an unknown kid.",
                &self.unknown_key_ids,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {}", counter.load(Ordering::Relaxed));
        }
        let capped = self.connection_cap_reached.load(Ordering::Relaxed);
        out.push_str("# HELP stagepass_connection_cap_reached_total Times the public listener stopped accepting because maxConnections were open.\n");
        out.push_str("# TYPE stagepass_connection_cap_reached_total counter\n");
        let _ = writeln!(out, "stagepass_connection_cap_reached_total {capped}");
        render_counter_map(
            &mut out,
            "stagepass_sessions_revoked_total",
            "Revocations made on this replica, by kind: session (sign-out), idp_session and subject (back-channel logout, sign out everywhere, the admin port).",
            &f.revocations,
        );
        let started = self.sessions_started.load(Ordering::Relaxed);
        out.push_str(
            "# HELP stagepass_sessions_started_total Sign-ins completed on this replica.\n",
        );
        out.push_str("# TYPE stagepass_sessions_started_total counter\n");
        let _ = writeln!(out, "stagepass_sessions_started_total {started}");
        let synced = self.session_store_synced.load(Ordering::Relaxed);
        if synced >= 0 {
            out.push_str("# HELP stagepass_session_store_synced 1 while revocations are in sync with the session store.\n");
            out.push_str("# TYPE stagepass_session_store_synced gauge\n");
            let _ = writeln!(out, "stagepass_session_store_synced {synced}");
        }
        let unverified = u8::from(self.upstream_tls_unverified.load(Ordering::Relaxed));
        out.push_str("# HELP stagepass_upstream_tls_verification_disabled 1 when upstreamTls.insecureSkipVerify accepts any upstream certificate.\n");
        out.push_str("# TYPE stagepass_upstream_tls_verification_disabled gauge\n");
        let _ = writeln!(
            out,
            "stagepass_upstream_tls_verification_disabled {unverified}"
        );
        out
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Families> {
        // A panic while holding the lock cannot leave counters inconsistent in
        // a way that matters; keep serving metrics rather than poisoning.
        self.families.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub struct ConnectionGuard(Arc<Metrics>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.open_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Metrics {
    fn render_requests(&self, out: &mut String) {
        out.push_str("# HELP stagepass_requests_total Requests by route class and status.\n");
        out.push_str("# TYPE stagepass_requests_total counter\n");
        for (route, counters) in ROUTES.iter().zip(&self.routes) {
            for (slot, n) in counters.by_status.iter().enumerate() {
                let n = n.load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "stagepass_requests_total{{route=\"{}\",status=\"{}\"}} {n}",
                        route.as_str(),
                        slot + 100
                    );
                }
            }
        }
    }

    fn render_latency(&self, out: &mut String) {
        let name = "stagepass_request_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time from request received to response headers sent."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (route, h) in ROUTES.iter().zip(&self.routes) {
            let count = h.count.load(Ordering::Relaxed);
            if count == 0 {
                continue;
            }
            let route = route.as_str();
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(h.buckets.iter()) {
                cumulative += n.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "{name}_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "{name}_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
            );
            let sum = h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(out, "{name}_sum{{route=\"{route}\"}} {sum}");
            let _ = writeln!(out, "{name}_count{{route=\"{route}\"}} {count}");
        }
    }
}

fn render_counter_map(out: &mut String, name: &str, help: &str, map: &BTreeMap<&str, u64>) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    for (kind, n) in map {
        let _ = writeln!(out, "{name}{{kind=\"{kind}\"}} {n}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_buckets_and_gauge() {
        let m = Arc::new(Metrics::new());
        m.record_request(RouteClass::Proxy, 200, Duration::from_millis(3));
        m.record_request(RouteClass::Proxy, 200, Duration::from_millis(300));
        m.record_upstream_error("connect");
        let _open = m.connection_opened();
        let text = m.render();
        assert!(text.contains("stagepass_requests_total{route=\"proxy\",status=\"200\"} 2"));
        assert!(
            text.contains(
                "stagepass_request_duration_seconds_bucket{route=\"proxy\",le=\"0.005\"} 1"
            )
        );
        assert!(
            text.contains(
                "stagepass_request_duration_seconds_bucket{route=\"proxy\",le=\"+Inf\"} 2"
            )
        );
        assert!(text.contains("stagepass_upstream_errors_total{kind=\"connect\"} 1"));
        assert!(text.contains("stagepass_open_connections 1"));
    }

    #[test]
    fn connection_guard_decrements() {
        let m = Arc::new(Metrics::new());
        drop(m.connection_opened());
        assert!(m.render().contains("stagepass_open_connections 0"));
    }
}
