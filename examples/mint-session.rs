//! Prints a `Cookie` header value holding a valid stagepass session, sealed
//! with the given secret. For load tests and debugging only: anyone who holds
//! `auth.session.secret` can already do this, which is why it must stay secret.
//!
//! Usage: SESSION_SECRET=... cargo run --example mint-session -- --config FILE [subject]
//!
//! The config names the deployment the cookie is bound to (`publicUrl`,
//! the provider and its client id) and the cookie prefix.

use std::time::{SystemTime, UNIX_EPOCH};

use stagepass::session::{CookieSettings, Session, SessionJar, SessionKeys};

fn main() {
    let mut args = std::env::args().skip(1);
    let (flag, path) = (args.next(), args.next());
    let Some(path) = path.filter(|_| flag.as_deref() == Some("--config")) else {
        eprintln!("usage: mint-session --config FILE [subject]");
        std::process::exit(2);
    };
    let config = match stagepass::config::load(&[path.into()]) {
        Ok(loaded) => loaded.config,
        Err(errors) => {
            eprintln!("{errors}");
            std::process::exit(64);
        }
    };
    let subject = args.next().unwrap_or_else(|| "load-test".into());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // Shaped like a real sign-in (an ID token kept as the sign-out hint, a
    // refresh token, a few groups), so the cookie is as large as in use.
    let session = Session {
        subject: subject.clone(),
        email: Some(format!("{subject}@example.com")),
        name: Some(format!("{subject} Example")),
        picture: None,
        preferred_username: Some(subject),
        groups: vec!["team-a".into(), "developers".into()],
        expires_at: now + 24 * 3600,
        access_token_expires_at: Some(now + 24 * 3600),
        refresh_token: Some("r".repeat(43)),
        id_token: Some(format!(
            "{}.{}.{}",
            "h".repeat(100),
            "p".repeat(250),
            "s".repeat(342)
        )),
        issued_at: now,
        claims: Default::default(),
        signed_in_at: None,
        id: None,
        idp_sid: None,
        access_token: None,
    };
    let keys = SessionKeys::from_secrets(&config.auth.session_secrets, &config.session_binding())
        .expect("secret");
    let sp = &config.stagepass;
    let settings = CookieSettings::for_public_url(sp.cookie_name.clone(), &sp.public_url)
        .expect("cookie prefix");
    let cookies = SessionJar::new(&keys, &settings)
        .write_session(&http::HeaderMap::new(), &session, now)
        .expect("session fits");
    let pairs: Vec<&str> = cookies
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap())
        .collect();
    println!("{}", pairs.join("; "));
}
