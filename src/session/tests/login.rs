use super::{Browser, NOW, SECRET_A, SetCookie, flow, keys, request, settings, with_jar};
use crate::session::{LOGIN_FLOW_TTL, MAX_LOGIN_FLOWS, MAX_LOGIN_LEN, SessionJar};

fn states(flows: &[crate::session::LoginFlow]) -> Vec<&str> {
    flows.iter().map(|f| f.state.as_str()).collect()
}

/// A browser that started sign-ins with these states, one second apart.
fn browser_with_flows(jar: SessionJar<'_>, names: &[&str]) -> Browser {
    let mut browser = Browser::default();
    for (i, state) in names.iter().enumerate() {
        let at = NOW + i as u64;
        let set = jar
            .push_login_flow(&browser.request(), flow(state, at), at)
            .unwrap();
        browser.apply(&[set]);
    }
    browser
}

#[test]
fn push_sets_one_short_lived_cookie() {
    with_jar(|jar| {
        let set = jar
            .push_login_flow(&request(&[]), flow("s1", NOW), NOW)
            .unwrap();
        let cookie = SetCookie::parse(&set);
        assert_eq!(cookie.name, "sp_login");
        assert_eq!(
            cookie.attributes,
            ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=600"]
        );
        let browser = browser_with_flows(jar, &["s1"]);
        assert_eq!(
            jar.read_login_flows(&browser.request(), NOW),
            vec![flow("s1", NOW)]
        );
    });
}

#[test]
fn secure_flag_on_login_cookies() {
    let keys = keys(&[SECRET_A]);
    let settings = settings(true);
    let jar = SessionJar::new(&keys, &settings);
    let browser = browser_with_flows(jar, &["a", "b"]);
    let pushed = jar
        .push_login_flow(&request(&[]), flow("s", NOW), NOW)
        .unwrap();
    let (_, kept) = jar.take_login_flow(&browser.request(), "a", NOW);
    let (_, deleted) = jar.take_login_flow(&request(&[]), "a", NOW);
    for set in [pushed, kept, deleted] {
        assert!(SetCookie::parse(&set).attributes.contains(&"Secure".into()));
    }
}

#[test]
fn several_tabs_sign_in_at_once() {
    with_jar(|jar| {
        let mut browser = browser_with_flows(jar, &["tab1", "tab2", "tab3"]);
        assert_eq!(
            states(&jar.read_login_flows(&browser.request(), NOW + 5)),
            ["tab3", "tab2", "tab1"]
        );
        for state in ["tab2", "tab3", "tab1"] {
            let (taken, set) = jar.take_login_flow(&browser.request(), state, NOW + 5);
            assert_eq!(taken.map(|f| f.state), Some(state.to_owned()));
            browser.apply(&[set]);
        }
        assert!(browser.names().is_empty(), "last take deletes the cookie");
    });
}

#[test]
fn at_most_five_newest_flows_are_kept() {
    with_jar(|jar| {
        let browser = browser_with_flows(jar, &["1", "2", "3", "4", "5", "6", "7"]);
        let flows = jar.read_login_flows(&browser.request(), NOW + 10);
        assert_eq!(flows.len(), MAX_LOGIN_FLOWS);
        assert_eq!(states(&flows), ["7", "6", "5", "4", "3"]);
    });
}

#[test]
fn flows_expire_after_ten_minutes() {
    with_jar(|jar| {
        let browser = browser_with_flows(jar, &["old", "new"]);
        let request = browser.request();
        assert_eq!(
            states(&jar.read_login_flows(&request, NOW + LOGIN_FLOW_TTL - 1)),
            ["new", "old"]
        );
        assert_eq!(
            states(&jar.read_login_flows(&request, NOW + LOGIN_FLOW_TTL)),
            ["new"]
        );
        assert!(
            jar.read_login_flows(&request, NOW + LOGIN_FLOW_TTL + 1)
                .is_empty()
        );
        let (taken, _) = jar.take_login_flow(&request, "old", NOW + LOGIN_FLOW_TTL);
        assert_eq!(taken, None);
    });
}

#[test]
fn pushing_drops_expired_flows() {
    with_jar(|jar| {
        let browser = browser_with_flows(jar, &["old"]);
        let later = NOW + LOGIN_FLOW_TTL + 5;
        let set = jar
            .push_login_flow(&browser.request(), flow("new", later), later)
            .unwrap();
        let headers = request(&[&format!("sp_login={}", SetCookie::parse(&set).value)]);
        assert_eq!(states(&jar.read_login_flows(&headers, later)), ["new"]);
    });
}

#[test]
fn take_consumes_so_a_replay_finds_nothing() {
    with_jar(|jar| {
        let mut browser = browser_with_flows(jar, &["s1", "s2"]);
        let replayed = browser.request();
        let (taken, set) = jar.take_login_flow(&replayed, "s1", NOW);
        assert_eq!(taken, Some(flow("s1", NOW)));
        browser.apply(&[set]);
        let (again, _) = jar.take_login_flow(&browser.request(), "s1", NOW);
        assert_eq!(again, None);
        assert_eq!(
            states(&jar.read_login_flows(&browser.request(), NOW)),
            ["s2"]
        );
    });
}

#[test]
fn last_take_deletes_the_cookie() {
    with_jar(|jar| {
        let browser = browser_with_flows(jar, &["only"]);
        let (taken, set) = jar.take_login_flow(&browser.request(), "only", NOW);
        assert!(taken.is_some());
        let cookie = SetCookie::parse(&set);
        assert_eq!(
            (cookie.name.as_str(), cookie.is_deletion()),
            ("sp_login", true)
        );
    });
}

#[test]
fn wrong_state_finds_nothing_and_keeps_the_rest() {
    with_jar(|jar| {
        let mut browser = browser_with_flows(jar, &["right"]);
        for wrong in ["wrong", "righ", "right!", "RIGHT", ""] {
            let (taken, set) = jar.take_login_flow(&browser.request(), wrong, NOW);
            assert_eq!(taken, None, "{wrong:?}");
            browser.apply(&[set]);
        }
        assert_eq!(
            states(&jar.read_login_flows(&browser.request(), NOW)),
            ["right"]
        );
    });
}

#[test]
fn kept_cookie_lives_as_long_as_its_youngest_flow() {
    with_jar(|jar| {
        let browser = browser_with_flows(jar, &["a", "b"]);
        let (_, set) = jar.take_login_flow(&browser.request(), "b", NOW + 100);
        assert_eq!(SetCookie::parse(&set).max_age(), LOGIN_FLOW_TTL - 100);
    });
}

#[test]
fn pushing_the_same_state_replaces_it() {
    with_jar(|jar| {
        let browser = browser_with_flows(jar, &["s", "t"]);
        let mut again = flow("s", NOW + 9);
        again.return_to = "https://app.example.com/other".into();
        let set = jar
            .push_login_flow(&browser.request(), again.clone(), NOW + 9)
            .unwrap();
        let headers = request(&[&format!("sp_login={}", SetCookie::parse(&set).value)]);
        assert_eq!(
            jar.read_login_flows(&headers, NOW + 9),
            vec![again, flow("t", NOW + 1)]
        );
    });
}

#[test]
fn long_return_urls_push_out_the_oldest_flows() {
    with_jar(|jar| {
        let mut browser = Browser::default();
        for state in ["a", "b", "c"] {
            let mut long = flow(state, NOW);
            long.return_to = format!("https://app.example.com/{}", "p".repeat(1000));
            browser.apply(&[jar.push_login_flow(&browser.request(), long, NOW).unwrap()]);
        }
        assert!(browser.cookies["sp_login"].len() <= MAX_LOGIN_LEN);
        assert_eq!(
            states(&jar.read_login_flows(&browser.request(), NOW)),
            ["c", "b"]
        );
    });
}

#[test]
fn a_flow_too_large_on_its_own_is_refused() {
    with_jar(|jar| {
        for size in [4000, 100_000] {
            let mut huge = flow("s", NOW);
            huge.return_to = "p".repeat(size);
            let error = jar.push_login_flow(&request(&[]), huge, NOW).unwrap_err();
            assert_eq!(error.max, MAX_LOGIN_LEN);
        }
    });
}

#[test]
fn tampered_or_foreign_login_cookie_is_empty() {
    with_jar(|jar| {
        let browser = browser_with_flows(jar, &["s"]);
        let value = browser.cookies["sp_login"].clone();
        let truncated = &value[..value.len() - 2];
        for bad in [truncated, "garbage", ""] {
            let headers = request(&[&format!("sp_login={bad}")]);
            assert!(jar.read_login_flows(&headers, NOW).is_empty(), "{bad:?}");
        }
        let as_session = request(&[&format!("sp={value}")]);
        assert_eq!(jar.read_session(&as_session, NOW), None);
        let other_keys = keys(&[super::SECRET_B]);
        let settings = settings(false);
        let other = SessionJar::new(&other_keys, &settings);
        assert!(other.read_login_flows(&browser.request(), NOW).is_empty());
    });
}

#[test]
fn login_flow_debug_hides_secrets() {
    let debug = format!("{:?}", flow("state-value", NOW));
    assert!(
        !debug.contains("state-value") && !debug.contains("verifier-") && !debug.contains("nonce-")
    );
    assert!(debug.contains("app.example.com"));
}
