//! The whole in-process work of one signed-in request on the path a Backstage
//! deployment runs, without sockets: open the session cookie, resolve the
//! person against a catalog file, pick up the cached Backstage token and
//! assertion, clean and rewrite the request head for the upstream.
//!
//! It runs `Gate::upstream_head`, the same phases `protect` runs before
//! handing the request to the HTTP client. Each iteration also pays one
//! `block_on` on a current-thread runtime (a few hundred nanoseconds).

use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, Request};
use stagepass::gate::Gate;
use stagepass::metrics::Metrics;
use stagepass::proxy::Peer;
use stagepass::session::{CookieSettings, Session, SessionJar, SessionKeys};

const CATALOG: &str = "\
apiVersion: backstage.io/v1alpha1
kind: User
metadata: { name: alice }
spec:
  profile: { email: alice@example.com, displayName: Alice Example }
  memberOf: [team-a]
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: { name: team-a }
spec: { type: team, children: [] }
";

fn config(dir: &std::path::Path) -> stagepass::config::Config {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    std::fs::write(dir.join("private.pem"), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("public.pem"), key.public_key_pem()).unwrap();
    std::fs::write(dir.join("catalog.yaml"), CATALOG).unwrap();
    let dir = dir.display();
    let yaml = format!(
        "stagepass:
  publicUrl: https://portal.example.com
  upstream: http://127.0.0.1:9
  provider: oidc
  catalog: {{ file: {dir}/catalog.yaml }}
auth:
  environment: production
  session: {{ secret: a-benchmark-secret-of-at-least-32-chars }}
  keyStore:
    provider: static
    static:
      keys:
        - {{ publicKeyFile: {dir}/public.pem, privateKeyFile: {dir}/private.pem, keyId: bench, algorithm: ES256 }}
  providers:
    oidc:
      production:
        # Never contacted: the session is not due for refresh.
        metadataUrl: http://127.0.0.1:9/.well-known/openid-configuration
        clientId: portal
        clientSecret: portal-secret
        signIn:
          resolvers:
            - resolver: emailMatchingUserEntityProfileEmail
"
    );
    let path = format!("{dir}/stagepass.yaml");
    std::fs::write(&path, yaml).unwrap();
    stagepass::config::load(&[path.into()]).unwrap().config
}

/// Shaped like a real sign-in: an ID token kept as the sign-out hint, a
/// refresh token, a few groups (about 1.3 KB of cookie).
fn session(now: u64) -> Session {
    Session {
        subject: "0f6c8a52-alice".into(),
        email: Some("alice@example.com".into()),
        name: None,
        picture: None,
        preferred_username: Some("alice".into()),
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
    }
}

fn browser_request(config: &stagepass::config::Config) -> Request<()> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let keys =
        SessionKeys::from_secrets(&config.auth.session_secrets, &config.session_binding()).unwrap();
    let sp = &config.stagepass;
    let settings = CookieSettings::for_public_url(sp.cookie_name.clone(), &sp.public_url).unwrap();
    let cookies = SessionJar::new(&keys, &settings)
        .write_session(&HeaderMap::new(), &session(now), now)
        .unwrap();
    let pairs: Vec<&str> = cookies
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap())
        .collect();
    Request::get("/api/catalog/entities?filter=kind=component")
        .header("host", "portal.example.com")
        .header("user-agent", "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0")
        .header("accept", "application/json")
        .header("accept-encoding", "gzip, deflate, br")
        .header("accept-language", "en-GB,en;q=0.9")
        .header("referer", "https://portal.example.com/catalog")
        .header("cookie", format!("_ga=GA1.1.1; {}", pairs.join("; ")))
        .body(())
        .unwrap()
}

fn whole_request_path(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let gate = {
        let _inside = runtime.enter();
        Gate::new(&config, std::sync::Arc::new(Metrics::new())).unwrap()
    };
    let (template, ()) = browser_request(&config).into_parts();
    let peer = Peer::new("10.0.0.7".parse().unwrap(), true, false);
    // The first request resolves the person and signs the token; the
    // benchmark measures every later one.
    let mut first = clone_head(&template);
    runtime
        .block_on(gate.upstream_head(&mut first, peer))
        .unwrap();
    assert!(
        first.headers.contains_key("authorization"),
        "the Backstage token is injected"
    );
    c.bench_function(
        "request path: signed-in request head, session to upstream head",
        |b| {
            b.iter_batched(
                || clone_head(&template),
                |mut head| {
                    runtime
                        .block_on(gate.upstream_head(&mut head, peer))
                        .unwrap();
                    head
                },
                criterion::BatchSize::SmallInput,
            )
        },
    );
}

fn clone_head(template: &http::request::Parts) -> http::request::Parts {
    let mut request = Request::new(());
    *request.method_mut() = template.method.clone();
    *request.uri_mut() = template.uri.clone();
    *request.headers_mut() = template.headers.clone();
    request.into_parts().0
}

criterion_group!(benches, whole_request_path);
criterion_main!(benches);
