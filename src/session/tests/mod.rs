//! Unit tests of the session module, one file per source file.

mod chunks;
mod cookies;
mod jar;
mod login;
mod properties;
mod seal;

use std::collections::BTreeMap;

use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};

use super::{CookieSettings, LoginFlow, Session, SessionJar, SessionKeys};
use crate::config::Secret;

const SECRET_A: &str = "a-first-secret-that-is-at-least-32-chars";
const SECRET_B: &str = "b-second-secret-that-is-at-least-32-chars";
const NOW: u64 = 1_700_000_000;
const DEPLOYMENT: &str = "https://portal.example\noidc\nportal";

fn keys(secrets: &[&str]) -> SessionKeys {
    let secrets: Vec<Secret> = secrets.iter().map(|s| Secret::new(*s)).collect();
    SessionKeys::from_secrets(&secrets, DEPLOYMENT).expect("non-empty")
}

fn settings(secure: bool) -> CookieSettings {
    CookieSettings::new("sp", secure).expect("valid prefix")
}

/// A request carrying the given `Cookie` header lines.
fn request(lines: &[&str]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in lines {
        headers.append(COOKIE, HeaderValue::from_str(line).expect("ascii"));
    }
    headers
}

fn session_with(groups: usize) -> Session {
    Session {
        subject: "user-123".into(),
        email: Some("jane@example.com".into()),
        name: Some("Jane Doe".into()),
        picture: None,
        preferred_username: Some("jane".into()),
        groups: (0..groups).map(|i| format!("group-{i:05}")).collect(),
        expires_at: NOW + 86_400,
        access_token_expires_at: Some(NOW + 300),
        refresh_token: Some("refresh-token-value".into()),
        id_token: Some("header.payload.signature".into()),
        issued_at: NOW,
        claims: Default::default(),
        signed_in_at: None,
        id: None,
        idp_sid: None,
        access_token: None,
    }
}

fn flow(state: &str, created_at: u64) -> LoginFlow {
    LoginFlow {
        state: state.into(),
        nonce: format!("nonce-{state}"),
        pkce_verifier: format!("verifier-{state}"),
        return_to: "https://app.example.com/catalog".into(),
        created_at,
    }
}

/// The parts of one `Set-Cookie` value the tests look at.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SetCookie {
    name: String,
    value: String,
    attributes: Vec<String>,
}

impl SetCookie {
    fn parse(header: &HeaderValue) -> Self {
        let text = header.to_str().expect("ascii");
        let mut parts = text.split("; ");
        let (name, value) = parts.next().unwrap().split_once('=').unwrap();
        SetCookie {
            name: name.into(),
            value: value.into(),
            attributes: parts.map(str::to_owned).collect(),
        }
    }

    fn max_age(&self) -> u64 {
        self.attributes
            .iter()
            .find_map(|a| a.strip_prefix("Max-Age="))
            .expect("Max-Age set")
            .parse()
            .unwrap()
    }

    fn is_deletion(&self) -> bool {
        self.max_age() == 0
    }
}

fn parse_all(headers: &[HeaderValue]) -> Vec<SetCookie> {
    headers.iter().map(SetCookie::parse).collect()
}

/// A browser's cookie store for one origin and `Path=/`.
#[derive(Debug, Default)]
struct Browser {
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn apply(&mut self, set_cookies: &[HeaderValue]) {
        for cookie in parse_all(set_cookies) {
            if cookie.is_deletion() {
                self.cookies.remove(&cookie.name);
            } else {
                self.cookies.insert(cookie.name, cookie.value);
            }
        }
    }

    fn set(&mut self, name: &str, value: &str) {
        self.cookies.insert(name.into(), value.into());
    }

    fn request(&self) -> HeaderMap {
        let line: Vec<String> = self
            .cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        if line.is_empty() {
            return HeaderMap::new();
        }
        request(&[&line.join("; ")])
    }

    fn names(&self) -> Vec<&str> {
        self.cookies.keys().map(String::as_str).collect()
    }
}

/// Runs `f` with a jar over fresh keys (`SECRET_A`) and insecure settings.
/// Runs `f` on a jar that opens every cookie, then again on one that keeps
/// what it opened (as the gate's does): every reading rule holds for both.
fn with_jar<T>(f: impl Fn(SessionJar<'_>) -> T) -> T {
    let keys = keys(&[SECRET_A]);
    let settings = settings(false);
    f(SessionJar::new(&keys, &settings));
    let opened = crate::session::OpenedSessions::new();
    f(SessionJar::new(&keys, &settings).with_opened(&opened))
}

/// Writes `session` into a fresh browser and returns it.
fn browser_with(jar: SessionJar<'_>, session: &Session) -> Browser {
    let mut browser = Browser::default();
    let set = jar.write_session(&browser.request(), session, NOW).unwrap();
    browser.apply(&set);
    browser
}
