//! Prints a `Cookie` header value holding a valid stagepass session, sealed
//! with the given secret. For load tests and debugging only: anyone who holds
//! `auth.session.secret` can already do this, which is why it must stay secret.
//!
//! Usage: SESSION_SECRET=... cargo run --example mint-session -- [subject] [cookie-prefix]

use std::time::{SystemTime, UNIX_EPOCH};

use stagepass::config::Secret;
use stagepass::session::{CookieSettings, Session, SessionJar, SessionKeys};

fn main() {
    let secret = std::env::var("SESSION_SECRET").expect("set SESSION_SECRET");
    let mut args = std::env::args().skip(1);
    let subject = args.next().unwrap_or_else(|| "load-test".into());
    let prefix = args.next().unwrap_or_else(|| "stagepass".into());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let session = Session {
        subject: subject.clone(),
        email: Some(format!("{subject}@example.com")),
        name: None,
        picture: None,
        preferred_username: Some(subject),
        groups: vec![],
        expires_at: now + 24 * 3600,
        access_token_expires_at: None,
        refresh_token: None,
        id_token: None,
        issued_at: now,
    };
    let keys = SessionKeys::from_secrets(&[Secret::new(secret)]).expect("secret");
    let settings = CookieSettings::new(prefix, false).expect("cookie prefix");
    let cookies = SessionJar::new(&keys, &settings)
        .write_session(&http::HeaderMap::new(), &session, now)
        .expect("session fits");
    let pairs: Vec<&str> = cookies
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap())
        .collect();
    println!("{}", pairs.join("; "));
}
