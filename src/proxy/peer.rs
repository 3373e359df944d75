//! The client at the other end of a connection, as stagepass sees it.

use std::net::IpAddr;

/// Who is connected: its address, whether over TLS, and whether it is one
/// of `stagepass.trustedProxies`. Made once per connection; the address's
/// text (for `X-Forwarded-For` and the access line) is written then, not
/// on every request.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// Private: `ip_text` is written from it once.
    ip: IpAddr,
    pub tls: bool,
    /// Whether `ip` is in `stagepass.trustedProxies`.
    pub trusted: bool,
    ip_text: IpText,
}

impl Peer {
    pub fn new(ip: IpAddr, tls: bool, trusted: bool) -> Self {
        Peer {
            ip,
            tls,
            trusted,
            ip_text: IpText::of(ip),
        }
    }

    pub fn ip(&self) -> IpAddr {
        self.ip
    }

    /// `ip` as text: `10.0.0.1`, `::1`.
    pub fn ip_text(&self) -> &str {
        self.ip_text.as_str()
    }
}

/// Fits the longest IPv6 text, `ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255`.
const IP_TEXT_MAX: usize = 45;

/// An address's text in a fixed buffer, so that `Peer` stays `Copy`.
#[derive(Debug, Clone, Copy)]
struct IpText {
    bytes: [u8; IP_TEXT_MAX],
    len: u8,
}

impl IpText {
    fn of(ip: IpAddr) -> Self {
        let text = ip.to_string();
        let mut bytes = [0; IP_TEXT_MAX];
        let len = text.len().min(IP_TEXT_MAX);
        bytes[..len].copy_from_slice(&text.as_bytes()[..len]);
        IpText {
            bytes,
            len: len as u8,
        }
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_is_the_address_as_written_everywhere() {
        for ip in [
            "10.0.0.1",
            "255.255.255.255",
            "::1",
            "2001:db8::8a2e:370:7334",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "::ffff:255.255.255.255",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(Peer::new(ip, false, false).ip_text(), ip.to_string());
        }
    }
}
