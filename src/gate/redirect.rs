//! Where a browser may be sent after sign-in: only the configured public
//! origin or an allow-listed origin, never anywhere a crafted link says.
//!
//! The candidate is parsed with the WHATWG URL rules browsers use (so `\`,
//! `//host` and `https:host` mean what they mean to a browser), its origin is
//! compared exactly, and the absolute URL stagepass re-serialises is what
//! goes into `Location`: the browser never re-interprets the raw input.

use url::{Origin, Url};

pub struct RedirectPolicy {
    public_url: Url,
    allowed: Vec<Origin>,
}

impl RedirectPolicy {
    pub fn new(public_url: Url, allowed: Vec<Origin>) -> Self {
        RedirectPolicy {
            public_url,
            allowed,
        }
    }

    /// The safe absolute URL for `candidate`, or the public root.
    pub fn resolve(&self, candidate: Option<&str>) -> Url {
        candidate
            .and_then(|c| self.check(c))
            .unwrap_or_else(|| self.root())
    }

    /// Whether `host` (a `Host` header: name and optional port) is the one
    /// browsers use for `publicUrl`. Names compare without case; a default
    /// port may be written or left out.
    pub fn is_public_host(&self, host: &str) -> bool {
        let Ok(seen) = Url::parse(&format!("{}://{host}/", self.public_url.scheme())) else {
            return false;
        };
        seen.host() == self.public_url.host()
            && seen.port_or_known_default() == self.public_url.port_or_known_default()
    }

    pub fn root(&self) -> Url {
        let mut root = self.public_url.clone();
        root.set_path("/");
        root.set_query(None);
        root.set_fragment(None);
        root
    }

    fn check(&self, candidate: &str) -> Option<Url> {
        // Browsers strip tabs and newlines inside URLs and treat other
        // controls loosely; a legitimate return URL never contains them.
        if candidate.is_empty()
            || candidate
                .chars()
                .any(|c| c.is_control() || c.is_whitespace())
        {
            return None;
        }
        let url = self.public_url.join(candidate).ok()?;
        let origin = url.origin();
        let allowed = origin == self.public_url.origin() || self.allowed.contains(&origin);
        // A path starting with `//` is harmless in the absolute URL sent, but
        // becomes an off-site link if an app ever echoes the path back.
        let sane =
            url.username().is_empty() && url.password().is_none() && !url.path().starts_with("//");
        (allowed && sane).then_some(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RedirectPolicy {
        let other: Url = "https://docs.example.com".parse().unwrap();
        RedirectPolicy::new(
            "https://portal.example.com".parse().unwrap(),
            vec![other.origin()],
        )
    }

    #[test]
    fn the_public_host_is_recognised_in_the_forms_browsers_send() {
        let p = policy();
        assert!(p.is_public_host("portal.example.com"));
        assert!(p.is_public_host("PORTAL.example.com:443"));
        assert!(!p.is_public_host("portal.example.com:8443"));
        assert!(!p.is_public_host("10.0.0.7"));
        assert!(!p.is_public_host("portal.example.com.evil"));
        assert!(!p.is_public_host("a/b@portal.example.com"));
    }

    #[test]
    fn same_origin_paths_and_urls_are_kept() {
        let p = policy();
        assert_eq!(
            p.resolve(Some("/catalog?x=1#top")).as_str(),
            "https://portal.example.com/catalog?x=1#top"
        );
        assert_eq!(
            p.resolve(Some("https://portal.example.com/a")).as_str(),
            "https://portal.example.com/a"
        );
        assert_eq!(
            p.resolve(Some("https://docs.example.com/b")).as_str(),
            "https://docs.example.com/b"
        );
    }

    #[test]
    fn open_redirect_tricks_go_to_root() {
        let p = policy();
        for evil in [
            "//evil.com",
            "/\\evil.com",
            "\\\\evil.com",
            "/\t/evil.com",
            "https://evil.com",
            "http://portal.example.com/",
            "https://evil-portal.example.com/",
            "https://portal.example.com.evil.com/",
            "https://portal.example.com@evil.com/",
            "https://user:pw@portal.example.com/",
            "javascript:alert(1)",
            "data:text/html,hi",
            "/./\\evil.com",
            "https:\\\\evil.com",
            "//evil.com/%2F..",
            "\u{0}/x",
            "",
        ] {
            let resolved = p.resolve(Some(evil));
            assert_eq!(
                resolved.origin(),
                p.root().origin(),
                "{evil:?} escaped to {resolved}"
            );
            assert_eq!(resolved.as_str(), "https://portal.example.com/", "{evil:?}");
        }
    }

    #[test]
    fn encoded_tricks_stay_on_origin() {
        let p = policy();
        for tricky in [
            "/%09/evil.com",
            "https:evil.com",
            "/%2F%2Fevil.com",
            "/%5Cevil.com",
        ] {
            let resolved = p.resolve(Some(tricky));
            assert_eq!(
                resolved.host_str(),
                Some("portal.example.com"),
                "{tricky:?} -> {resolved}"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]

        /// Whatever a link carries as `redirectUrl`, the browser is sent to
        /// the public origin or an allowed one, with no credentials and no
        /// `//` path an app could echo back as an off-site link.
        #[test]
        fn every_candidate_lands_on_an_allowed_origin(
            candidate in proptest::prop_oneof![
                "[ -~]{0,40}",
                "(https?:|//|/|\\\\|javascript:)?[a-z@:./\\%0-9]{0,30}",
                proptest::string::string_regex(".{0,20}").unwrap(),
            ]
        ) {
            let p = policy();
            let url = p.resolve(Some(&candidate));
            let docs: Url = "https://docs.example.com".parse().unwrap();
            proptest::prop_assert!(
                url.origin() == p.root().origin() || url.origin() == docs.origin(),
                "{:?} -> {}", candidate, url
            );
            proptest::prop_assert!(url.username().is_empty() && url.password().is_none());
            proptest::prop_assert!(!url.path().starts_with("//"), "{:?} -> {}", candidate, url);
        }
    }
}
