//! Property tests (proptest) of header hygiene: whatever names, spellings
//! and `Connection` tokens a client sends, no identity header, no stagepass
//! cookie and no hop-by-hop header reaches the upstream, and every other
//! header passes untouched.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;

use super::hygiene::{Extra, remove_hop_by_hop, strip_identity_headers, strip_own_cookies};

const IDENTITY: [&str; 9] = [
    "authorization",
    "x-forwarded-user",
    "x-forwarded-email",
    "x-forwarded-groups",
    "x-forwarded-preferred-username",
    "x-forwarded-access-token",
    "x-oauth2-proxy-id-token",
    "x-auth-request-anything",
    "x-stagepass-assertion",
];
const HOP_BY_HOP: [&str; 4] = ["keep-alive", "te", "upgrade", "http2-settings"];

/// A name in a random spelling: each `-` may become `_` (header names are
/// lower-cased by the `http` crate, as on the wire for HTTP/2).
fn spelled(name: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(any::<bool>(), name.len()).prop_map(move |flips| {
        name.chars()
            .zip(flips)
            .map(|(c, flip)| if c == '-' && flip { '_' } else { c })
            .collect()
    })
}

fn hostile_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(IDENTITY.to_vec()).prop_flat_map(spelled),
        prop::sample::select(HOP_BY_HOP.to_vec()).prop_flat_map(spelled),
    ]
}

fn canonical(name: &str) -> String {
    name.to_ascii_lowercase().replace('_', "-")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn nothing_hostile_survives_and_everything_else_does(
        hostile in prop::collection::vec((hostile_name(), "[ -~]{0,20}"), 0..10),
        benign in prop::collection::vec(("x-app-[a-z]{1,6}", "[ -~]{0,20}"), 0..6),
        named in prop::collection::vec("x-conn-[a-z]{1,4}", 0..3),
    ) {
        let mut headers = HeaderMap::new();
        let mut add = |name: &str, value: &str| {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        };
        for (name, value) in &hostile {
            add(name, value);
        }
        for (name, value) in &benign {
            add(name, value);
        }
        for name in &named {
            add(&name.replace('-', "_"), "hidden");
        }
        add("connection", &named.join(", "));
        add("cookie", "app=1; stagepass=x; stagepass_3=y; stagepass_login=z");

        remove_hop_by_hop(&mut headers);
        let extra = Extra {
            names: [header::AUTHORIZATION].iter(),
            configured: &Default::default(),
        };
        strip_identity_headers(&mut headers, extra, None);
        strip_own_cookies(&mut headers, "stagepass");

        for name in headers.keys() {
            let n = canonical(name.as_str());
            prop_assert!(!IDENTITY.iter().any(|i| *i == n || (i.starts_with("x-auth-request") && n.starts_with("x-auth-request-"))), "{} survived", n);
            prop_assert!(!HOP_BY_HOP.contains(&n.as_str()), "{} survived", n);
            prop_assert!(!n.starts_with("x-conn-"), "{} named in Connection survived", n);
            prop_assert!(n != "connection");
        }
        prop_assert_eq!(headers.get("cookie").map(|v| v.as_bytes()), Some(&b"app=1"[..]));
        for (name, value) in &benign {
            let kept: Vec<&[u8]> = headers.get_all(name.as_str()).iter().map(|v| v.as_bytes()).collect();
            prop_assert!(kept.contains(&value.as_bytes()), "{} lost", name);
        }
    }
}
