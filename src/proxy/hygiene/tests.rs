use super::*;

fn map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn strip(h: &mut HeaderMap, names: &[HeaderName], configured: &StripHeaders) {
    let extra = Extra {
        names: names.iter(),
        configured,
    };
    strip_identity_headers(h, extra, None);
}

#[test]
fn configured_names_and_prefixes_go_in_every_spelling() {
    let configured = StripHeaders {
        names: vec!["x-employee-id".into()],
        prefixes: vec!["x-corp-".into()],
    };
    let mut h = map(&[
        ("X-Employee-Id", "1"),
        ("x_employee_id", "2"),
        ("X-CORP-ROLE", "admin"),
        ("x_corp_cost_center", "42"),
        ("x-employee-idx", "kept"),
        ("x-corporate", "kept"),
    ]);
    strip(&mut h, &[], &configured);
    let mut kept: Vec<_> = h.keys().map(HeaderName::as_str).collect();
    kept.sort_unstable();
    assert_eq!(kept, ["x-corporate", "x-employee-idx"]);
}

#[test]
fn hop_by_hop_and_connection_named_headers_go() {
    let mut h = map(&[
        ("connection", "close, X-Custom"),
        ("x-custom", "1"),
        ("keep-alive", "timeout=5"),
        ("te", "trailers"),
        ("x-kept", "yes"),
    ]);
    remove_hop_by_hop(&mut h);
    assert_eq!(h.len(), 1);
    assert_eq!(h["x-kept"], "yes");
}

#[test]
fn identity_headers_go_in_every_spelling() {
    let mut h = map(&[
        ("X-Forwarded-User", "mallory"),
        ("x_forwarded_email", "m@evil"),
        ("X_AUTH_REQUEST_USER", "m"),
        ("x-auth-request-groups", "admins"),
        ("X-Stagepass-Assertion", "forged"),
        ("authorization", "Bearer forged"),
        ("X-MS-CLIENT-PRINCIPAL", "e30="),
        ("x_ms_client_principal_name", "mallory"),
        ("X-MS-TOKEN-AAD-ID-TOKEN", "forged"),
        ("Remote_User", "admin"),
        ("cf-access-authenticated-user-email", "ceo@corp"),
        ("X-Pomerium-Claim-Groups", "admins"),
        ("x-app", "kept"),
    ]);
    strip(&mut h, &[header::AUTHORIZATION], &StripHeaders::default());
    assert_eq!(h.len(), 1, "{h:?}");
}

#[test]
fn a_client_authorization_stays_unless_stagepass_owns_it() {
    let mut h = map(&[
        ("authorization", "Bearer app-key"),
        ("x-forwarded-user", "m"),
    ]);
    strip(&mut h, &[], &StripHeaders::default());
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h["authorization"], "Bearer app-key");
}

#[test]
fn own_cookies_go_others_stay_in_order() {
    let mut h = map(&[
        ("cookie", "a=1; stagepass=x; stagepass_0=y"),
        ("cookie", "stagepass_login=z; stagepassive=keep; b=2"),
    ]);
    strip_own_cookies(&mut h, "stagepass");
    assert_eq!(h["cookie"], "a=1; stagepassive=keep; b=2");
}

#[test]
fn a_cookie_header_without_stagepass_cookies_is_forwarded_as_sent() {
    let mut h = map(&[("cookie", "a=1;b=2 ;  stagepassive=keep")]);
    strip_own_cookies(&mut h, "stagepass");
    assert_eq!(h["cookie"], "a=1;b=2 ;  stagepassive=keep");
    let mut h = map(&[("cookie", "stagepass=x"), ("cookie", "stagepass_0=y")]);
    strip_own_cookies(&mut h, "stagepass");
    assert_eq!(h.get("cookie"), None);
}

#[test]
fn other_cookies_pass_byte_for_byte_even_when_not_utf8() {
    let mut h = HeaderMap::new();
    h.insert(
        header::COOKIE,
        HeaderValue::from_bytes(b"a=\xe9t\xe9; stagepass=x").unwrap(),
    );
    strip_own_cookies(&mut h, "stagepass");
    assert_eq!(h[header::COOKIE].as_bytes(), b"a=\xe9t\xe9");
}

#[test]
fn untrusted_peer_cannot_forge_forwarding() {
    let mut h = map(&[
        ("x-forwarded-for", "1.2.3.4"),
        ("x_forwarded_proto", "https"),
    ]);
    let peer = Peer::new("10.1.1.1".parse().unwrap(), false, false);
    set_forwarding_headers(&mut h, peer, Some(HeaderValue::from_static("app.test")));
    assert_eq!(h["x-forwarded-for"], "10.1.1.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], "app.test");
    assert!(!h.contains_key("x_forwarded_proto"));
}

#[test]
fn trusted_peer_extends_the_chain() {
    let mut h = map(&[
        ("x-forwarded-for", "1.2.3.4"),
        ("x-forwarded-proto", "https"),
    ]);
    let peer = Peer::new("10.1.1.1".parse().unwrap(), false, true);
    set_forwarding_headers(&mut h, peer, None);
    assert_eq!(h["x-forwarded-for"], "1.2.3.4, 10.1.1.1");
    assert_eq!(h["x-forwarded-proto"], "https");
}

#[test]
fn every_identity_header_passes_the_first_letter_filter() {
    let lists = IDENTITY_HEADERS.iter().chain(IDENTITY_PREFIXES.iter());
    for name in lists.chain(PATH_REWRITES.iter()) {
        assert!(is_identity_header(name), "{name}");
    }
    assert!(is_identity_header("x-authentik-username"));
    assert!(!is_identity_header("accept"));
}

/// `stagepass.stripHeaders` may not take stagepass's own request id (nor,
/// by the same list's construction, what a trusted proxy sets).
#[test]
fn no_configured_entry_can_strip_the_request_id() {
    use crate::config::NEVER_STRIPPED;
    let request_id = super::super::request_id::HEADER;
    assert!(NEVER_STRIPPED.contains(&request_id.as_str()));
}

#[test]
fn the_length_shortcut_knows_every_hop_by_hop_length() {
    let none = HeaderMap::new();
    let connection = none.get_all(header::CONNECTION);
    for name in HOP_BY_HOP {
        let name = HeaderName::from_static(name);
        assert!(is_hop_by_hop(&name, &connection), "{name}");
    }
}
