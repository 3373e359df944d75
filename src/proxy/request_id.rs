//! Request ids: one per request, taken from a trusted proxy's `X-Request-Id`
//! or made here. It goes upstream, into every log line of the request, onto
//! stagepass's own pages and into every response, so a person can quote it
//! and an operator can find the lines.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};

use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::Peer;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Longest id taken from a proxy; longer ones are replaced.
const MAX_LEN: usize = 128;

#[derive(Debug, Clone)]
pub struct RequestId(HeaderValue);

impl RequestId {
    /// The trusted proxy's id when it sent a usable one, else a new one. A
    /// client's own id is never taken: it could be made to collide with
    /// someone else's in the logs.
    pub fn for_request(headers: &HeaderMap, peer: Peer) -> Self {
        let forwarded = peer
            .trusted
            .then(|| headers.get(HEADER))
            .flatten()
            .filter(|value| usable(value.as_bytes()));
        match forwarded {
            Some(value) => RequestId(value.clone()),
            None => RequestId(generate()),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only visible ASCII gets in (see `usable` and `generate`).
        self.0.to_str().unwrap_or_default()
    }

    pub fn header_value(&self) -> HeaderValue {
        self.0.clone()
    }

    /// Puts the id on the request's head, replacing whatever the client
    /// sent: from here on the head carries it to every phase and to the
    /// upstream (`Forwarder::prepare_head` keeps it through hygiene). In
    /// the head rather than in the request's extensions, which cost three
    /// allocations on every request.
    pub fn set_on(&self, headers: &mut HeaderMap) {
        headers.insert(HEADER, self.header_value());
    }
}

/// The id the server put on a request's head (see [`RequestId::set_on`]).
pub fn of(headers: &HeaderMap) -> Option<&str> {
    headers.get(HEADER).and_then(|value| value.to_str().ok())
}

fn usable(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_LEN && id.iter().all(|b| b.is_ascii_graphic())
}

/// A random per-process prefix and a counter: unique across replicas and
/// restarts in practice, and no system call per request.
fn generate() -> HeaderValue {
    static PREFIX: LazyLock<u32> = LazyLock::new(rand::random);
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    // `{prefix:08x}{n:08x}`, written by hand: this runs on every request.
    let mut text = [0u8; 24];
    let prefix = hex(&mut text[..8], u64::from(*PREFIX));
    let len = prefix + hex(&mut text[8..], n);
    // Shared from the start: the id is cloned into the upstream request,
    // the response and the log, and a first clone of a copied value
    // allocates again.
    let shared = bytes::Bytes::from_owner(Hex { text, len });
    HeaderValue::from_maybe_shared(shared).expect("hex is a header value")
}

struct Hex {
    text: [u8; 24],
    len: usize,
}

impl AsRef<[u8]> for Hex {
    fn as_ref(&self) -> &[u8] {
        &self.text[..self.len]
    }
}

/// Writes `n` in lower-case hex, at least 8 digits, at the start of `out`;
/// returns how many.
fn hex(out: &mut [u8], n: u64) -> usize {
    let digits = (16 - n.leading_zeros() as usize / 4).max(8);
    for (i, slot) in out[..digits].iter_mut().enumerate() {
        let nibble = (n >> (4 * (digits - 1 - i))) & 0xf;
        *slot = b"0123456789abcdef"[nibble as usize];
    }
    digits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(trusted: bool) -> Peer {
        Peer::new("10.0.0.1".parse().unwrap(), false, trusted)
    }

    #[test]
    fn ids_are_made_unique_and_a_clients_own_is_ignored() {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_static("chosen-by-client"));
        let a = RequestId::for_request(&headers, peer(false));
        let b = RequestId::for_request(&headers, peer(false));
        assert_ne!(a.as_str(), "chosen-by-client");
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(a.as_str().len(), 16);
    }

    #[test]
    fn counters_are_written_as_format_would() {
        for n in [0, 1, 0xabc, 0xffff_ffff, 0x1_0000_0000, u64::MAX] {
            let mut out = [0u8; 16];
            let len = hex(&mut out, n);
            assert_eq!(
                std::str::from_utf8(&out[..len]).unwrap(),
                format!("{n:08x}")
            );
        }
    }

    #[test]
    fn a_trusted_proxys_id_is_kept_when_usable() {
        let mut headers = HeaderMap::new();
        headers.insert(HEADER, HeaderValue::from_static("edge-7f3a"));
        assert_eq!(
            RequestId::for_request(&headers, peer(true)).as_str(),
            "edge-7f3a"
        );
        headers.insert(HEADER, HeaderValue::from_static("has space"));
        assert_ne!(
            RequestId::for_request(&headers, peer(true)).as_str(),
            "has space"
        );
    }
}
