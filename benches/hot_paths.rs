//! Per-request work stagepass adds on top of forwarding: opening the session
//! cookie and cleaning the request headers.

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderName, HeaderValue};
use stagepass::config::Secret;
use stagepass::proxy::hygiene;
use stagepass::session::{CookieSettings, Session, SessionJar, SessionKeys};

fn session() -> Session {
    Session {
        subject: "alice".into(),
        email: Some("alice@example.com".into()),
        name: Some("Alice Example".into()),
        picture: None,
        preferred_username: Some("alice".into()),
        groups: (0..20).map(|i| format!("group-{i}")).collect(),
        expires_at: u64::MAX / 2,
        access_token_expires_at: None,
        refresh_token: Some("r".repeat(200)),
        id_token: Some("i".repeat(900)),
        issued_at: 0,
        claims: Default::default(),
        signed_in_at: None,
        id: None,
        idp_sid: None,
        access_token: None,
    }
}

fn open_session(c: &mut Criterion) {
    let keys = SessionKeys::from_secrets(
        &[Secret::new("a-benchmark-secret-of-at-least-32-chars")],
        "https://portal.example\noidc\nportal",
    )
    .unwrap();
    let settings = CookieSettings::new("stagepass", true).unwrap();
    let jar = SessionJar::new(&keys, &settings);
    let cookies = jar.write_session(&HeaderMap::new(), &session(), 0).unwrap();
    let mut headers = HeaderMap::new();
    let pairs: Vec<&str> = cookies
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap())
        .collect();
    headers.insert(
        "cookie",
        HeaderValue::from_str(&format!("app=1; {}", pairs.join("; "))).unwrap(),
    );
    c.bench_function("session: open a 1.5 KB session cookie", |b| {
        b.iter(|| jar.read_session(std::hint::black_box(&headers), 1).unwrap())
    });
    c.bench_function("session: seal a 1.5 KB session cookie", |b| {
        b.iter(|| {
            jar.write_session(&HeaderMap::new(), std::hint::black_box(&session()), 0)
                .unwrap()
        })
    });
}

fn clean_headers(c: &mut Criterion) {
    let mut template = HeaderMap::new();
    for (name, value) in [
        ("host", "portal.example.com"),
        (
            "user-agent",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
        ),
        ("accept", "text/html,application/xhtml+xml"),
        ("accept-language", "en-GB,en;q=0.9"),
        ("cookie", "theme=dark; stagepass=abc; other=1"),
        ("x-forwarded-user", "mallory"),
        ("connection", "keep-alive"),
        ("authorization", "Bearer forged"),
    ] {
        template.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    let configured = stagepass::config::StripHeaders::default();
    c.bench_function(
        "proxy: strip hop-by-hop, identity headers and own cookies",
        |b| {
            b.iter(|| {
                let mut headers = template.clone();
                hygiene::remove_hop_by_hop(&mut headers);
                let extra = hygiene::Extra {
                    names: [http::header::AUTHORIZATION].iter(),
                    configured: &configured,
                };
                hygiene::strip_identity_headers(&mut headers, extra, None);
                hygiene::strip_own_cookies(&mut headers, "stagepass");
                headers
            })
        },
    );
}

criterion_group!(benches, open_session, clean_headers);
criterion_main!(benches);
