//! Running inside a company network, with real parts: the real OpenID
//! Provider served over https with a certificate from a private CA made in
//! the test, Debian's `tinyproxy` as the egress proxy, and an https upstream
//! that requires a client certificate from the same CA.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use stagepass::config::{Config, ProxyConfig, Secret};
use support::agent::Agent;
use support::pki::Pki;
use support::world::{World, WorldOptions, world_with};
use support::*;

fn https_op(pki: &Pki) -> WorldOptions {
    let op = pki.server("op", &["127.0.0.2"]);
    WorldOptions {
        op_tls: Some((op.cert_file, op.key_file)),
        ..WorldOptions::default()
    }
}

/// `/readyz` once stagepass has tried the IdP and said why it is not ready
/// (a wait for the first attempt, not a timing assertion).
async fn not_ready_reason(w: &World) -> String {
    for _ in 0..200 {
        let reply = get(&w.sp.admin_url("/readyz")).await;
        assert_ne!(reply.status, 200, "ready after all: {}", reply.text());
        let text = reply.text();
        if text.contains("discovery failed") {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("stagepass never said why it is not ready");
}

async fn signs_alice_in(w: &World, pki: &Pki) {
    let mut alice = Agent::trusting(pki.roots());
    let done = w.sign_in(&mut alice, "/", "alice").await;
    assert_eq!(done.status, 302, "{}", done.text());
    assert_eq!(alice.get(&w.url("/page")).await.status, 200);
    assert_eq!(
        w.up.controls.last().header("x-forwarded-user"),
        Some("alice")
    );
}

#[tokio::test]
async fn an_idp_behind_a_company_ca_signs_people_in_once_the_ca_is_trusted() {
    let pki = Pki::new();
    let ca = pki.ca_file.clone();
    let w = world_with(https_op(&pki), move |cfg: &mut Config| {
        cfg.stagepass.outbound.ca_files = vec![ca];
    })
    .await;
    signs_alice_in(&w, &pki).await;

    // The same, trusted for this IdP only (auth.providers.<id>.<env>.caFile).
    let ca = pki.ca_file.clone();
    let w = world_with(https_op(&pki), move |cfg: &mut Config| {
        cfg.auth.providers.get_mut("test").unwrap().ca_file = Some(ca);
    })
    .await;
    signs_alice_in(&w, &pki).await;
}

#[tokio::test]
async fn without_the_ca_readyz_names_the_unknown_issuer() {
    let pki = Pki::new();
    let options = WorldOptions {
        wait_until_ready: false,
        ..https_op(&pki)
    };
    let w = world_with(options, |_| {}).await;
    let reason = not_ready_reason(&w).await;
    assert!(reason.contains("issuer is not trusted"), "{reason}");
    assert!(reason.contains("stagepass.tls.caFiles"), "{reason}");
    assert!(reason.contains("UnknownIssuer"), "{reason}");
}

/// Debian's tinyproxy on a free loopback port, logging every request.
struct Tinyproxy {
    port: u16,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
    _child: tokio::process::Child,
}

impl Tinyproxy {
    /// `extra` adds configuration lines (`ConnectPort 443` refuses others).
    async fn start(extra: &str) -> Tinyproxy {
        assert!(
            Path::new("/usr/bin/tinyproxy").exists(),
            "tinyproxy is missing: run .ci/install-prerequisites first"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = dir.path().join("tinyproxy.log");
        let conf = dir.path().join("tinyproxy.conf");
        std::fs::write(
            &conf,
            format!(
                "Port {port}\nListen 127.0.0.1\nAllow 127.0.0.1\nTimeout 30\nMaxClients 20\n\
                 LogFile \"{}\"\nLogLevel Info\n{extra}\n",
                log.display()
            ),
        )
        .unwrap();
        let child = tokio::process::Command::new("/usr/bin/tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("tinyproxy starts");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Tinyproxy {
            port,
            log,
            _dir: dir,
            _child: child,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn through(proxy: String, no_proxy: &str) -> Option<ProxyConfig> {
    Some(ProxyConfig {
        url: Secret::new(proxy),
        no_proxy: no_proxy.to_owned(),
    })
}

#[tokio::test]
async fn the_idp_is_reached_through_the_egress_proxy_and_the_upstream_never_is() {
    let pki = Pki::new();
    let proxy = Tinyproxy::start("").await;
    let (ca, url) = (pki.ca_file.clone(), proxy.url());
    let w = world_with(https_op(&pki), move |cfg: &mut Config| {
        cfg.stagepass.outbound.ca_files = vec![ca];
        cfg.stagepass.outbound.proxy = through(url, "");
    })
    .await;
    signs_alice_in(&w, &pki).await;
    let op_authority = format!("127.0.0.2:{}", w.op.issuer.port().unwrap());
    let log = proxy.log();
    assert!(
        log.contains(&format!("CONNECT {op_authority}")),
        "discovery, keys and the code exchange went through the proxy: {log}"
    );
    assert!(
        !log.contains(&w.up.addr.port().to_string()),
        "the upstream is reached directly: {log}"
    );

    // noProxy keeps a host direct: nothing new in the proxy's log.
    let (ca, url) = (pki.ca_file.clone(), proxy.url());
    let before = proxy.log().matches("CONNECT").count();
    let w = world_with(https_op(&pki), move |cfg: &mut Config| {
        cfg.stagepass.outbound.ca_files = vec![ca];
        cfg.stagepass.outbound.proxy = through(url, "127.0.0.0/8");
    })
    .await;
    signs_alice_in(&w, &pki).await;
    assert_eq!(proxy.log().matches("CONNECT").count(), before);
}

#[tokio::test]
async fn a_stopped_or_refusing_proxy_is_named_in_readyz() {
    let pki = Pki::new();
    let stopped = format!("http://127.0.0.1:{}", free_port());
    let (ca, url) = (pki.ca_file.clone(), stopped.clone());
    let options = WorldOptions {
        wait_until_ready: false,
        ..https_op(&pki)
    };
    let w = world_with(options, move |cfg: &mut Config| {
        cfg.stagepass.outbound.ca_files = vec![ca];
        cfg.stagepass.outbound.proxy = through(url, "");
    })
    .await;
    let reason = not_ready_reason(&w).await;
    let proxy_authority = stopped.trim_start_matches("http://");
    assert!(
        reason.contains(&format!("outbound proxy {proxy_authority}")),
        "{reason}"
    );
    assert!(reason.contains("nothing listens there"), "{reason}");

    // A proxy that allows CONNECT only to port 443 refuses the OP's port.
    let strict = Tinyproxy::start("ConnectPort 443").await;
    let (ca, url) = (pki.ca_file.clone(), strict.url());
    let options = WorldOptions {
        wait_until_ready: false,
        ..https_op(&pki)
    };
    let w = world_with(options, move |cfg: &mut Config| {
        cfg.stagepass.outbound.ca_files = vec![ca];
        cfg.stagepass.outbound.proxy = through(url, "");
    })
    .await;
    let reason = not_ready_reason(&w).await;
    assert!(reason.contains("refused CONNECT"), "{reason}");
}

/// An https upstream that, like an mTLS mesh without a sidecar, only talks
/// to clients with a certificate from the company CA.
async fn mtls_upstream(pki: &Pki) -> upstream::Upstream {
    use rustls::pki_types::pem::PemObject;
    let server = pki.server("upstream", &["127.0.0.1"]);
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(&server.cert_file)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_file(&server.key_file).unwrap();
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let clients = rustls::server::WebPkiClientVerifier::builder_with_provider(
        std::sync::Arc::new(pki.roots()),
        std::sync::Arc::clone(&provider),
    )
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(clients)
        .with_single_cert(certs, key)
        .unwrap();
    upstream::start_tls(config).await
}

#[tokio::test]
async fn an_mtls_upstream_gets_the_configured_client_certificate_and_is_refused_cleanly_without() {
    let pki = Pki::new();
    let app = mtls_upstream(&pki).await;
    let client = pki.client("stagepass");
    let (ca, url) = (pki.ca_file.clone(), app.url());
    let w = world_with(WorldOptions::default(), move |cfg: &mut Config| {
        cfg.stagepass.upstream = url;
        cfg.stagepass.outbound.upstream_tls.ca_file = Some(ca);
        cfg.stagepass.outbound.upstream_tls.client_cert = Some((client.cert_file, client.key_file));
    })
    .await;
    let mut alice = Agent::new();
    w.sign_in(&mut alice, "/", "alice").await;
    let reply = alice.get(&w.url("/reports?q=1")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(app.controls.last().uri, "/reports?q=1");
    assert_eq!(
        app.controls.last().header("x-forwarded-user"),
        Some("alice")
    );

    // Without the client certificate the upstream ends the handshake:
    // a clear 502, never a hang or a panic.
    let (ca, url) = (pki.ca_file.clone(), app.url());
    let w = world_with(WorldOptions::default(), move |cfg: &mut Config| {
        cfg.stagepass.upstream = url;
        cfg.stagepass.outbound.upstream_tls.ca_file = Some(ca);
    })
    .await;
    let mut alice = Agent::new();
    w.sign_in(&mut alice, "/", "alice").await;
    let seen = app.controls.count();
    let reply = alice.api_get(&w.url("/reports")).await;
    assert_eq!(reply.status, 502, "{}", reply.text());
    assert_eq!(reply.json()["error"]["name"], "upstream_unreachable");
    assert_eq!(app.controls.count(), seen, "nothing reached the app");
    let ready = get(&w.sp.admin_url("/readyz")).await;
    assert_eq!(ready.status, 503);
    assert!(ready.text().contains("TLS failed"), "{}", ready.text());

    // Without the upstream's CA, its certificate does not verify: 502 too.
    let url = app.url();
    let w = world_with(WorldOptions::default(), move |cfg: &mut Config| {
        cfg.stagepass.upstream = url;
    })
    .await;
    let mut alice = Agent::new();
    w.sign_in(&mut alice, "/", "alice").await;
    assert_eq!(alice.api_get(&w.url("/reports")).await.status, 502);
    let ready = get(&w.sp.admin_url("/readyz")).await.text();
    assert!(
        ready.contains(&format!(
            "upstream {}",
            app.url().as_str().trim_end_matches('/')
        )),
        "{ready}"
    );
    assert!(ready.contains("issuer is not trusted"), "{ready}");

    // insecureSkipVerify: accepted, and it shows in /metrics.
    let client = pki.client("stagepass-2");
    let url = app.url();
    let w = world_with(WorldOptions::default(), move |cfg: &mut Config| {
        cfg.stagepass.upstream = url;
        cfg.stagepass.outbound.upstream_tls.insecure_skip_verify = true;
        cfg.stagepass.outbound.upstream_tls.client_cert = Some((client.cert_file, client.key_file));
    })
    .await;
    let mut alice = Agent::new();
    w.sign_in(&mut alice, "/", "alice").await;
    assert_eq!(alice.api_get(&w.url("/reports")).await.status, 200);
    let metrics = get(&w.sp.admin_url("/metrics")).await.text();
    assert!(
        metrics.contains("stagepass_upstream_tls_verification_disabled 1"),
        "{metrics}"
    );
}

/// The binary as deployed: no outboundProxy in the config, the egress
/// proxy in `HTTPS_PROXY` as the platform sets it, `NO_PROXY` honoured.
#[tokio::test]
async fn the_binary_honours_https_proxy_and_no_proxy_from_the_environment() {
    let pki = Pki::new();
    let op_cert = pki.server("op", &["127.0.0.2"]);
    let op = support::op::start(&support::op::OpOptions {
        redirect_uri: "http://127.0.0.1:9/callback".parse().unwrap(),
        post_logout_redirect_uri: "http://127.0.0.1:9/".parse().unwrap(),
        alg: "RS256",
        access_token_ttl: 3600,
        token_endpoint_auth_method: "client_secret_basic",
        accounts: serde_json::Value::Null,
        machine_claims: serde_json::Value::Null,
        tls: Some((op_cert.cert_file, op_cert.key_file)),
    })
    .await;
    let proxy = Tinyproxy::start("").await;
    let op_authority = format!("127.0.0.2:{}", op.issuer.port().unwrap());
    let connects = || {
        proxy
            .log()
            .matches(&format!("CONNECT {op_authority}"))
            .count()
    };

    assert_eq!(connects(), 0);
    run_until_ready(&pki, &op, &[("HTTPS_PROXY", proxy.url())]).await;
    assert!(connects() > 0, "discovery went through the proxy");

    let before = connects();
    let env = [
        ("HTTPS_PROXY", proxy.url()),
        ("NO_PROXY", "localhost,127.0.0.2".into()),
    ];
    run_until_ready(&pki, &op, &env).await;
    assert_eq!(connects(), before, "NO_PROXY kept the IdP direct");
}

/// Starts the binary with `env` and a config trusting the company CA, and
/// waits until `/readyz` is 200 (discovery done); stops it.
async fn run_until_ready(pki: &Pki, op: &support::op::Op, env: &[(&str, String)]) {
    let (public, admin) = (free_port(), free_port());
    let config = pki.dir.path().join(format!("stagepass-{public}.yaml"));
    std::fs::write(
        &config,
        format!(
            "stagepass:\n  listen: 127.0.0.1:{public}\n  publicUrl: http://127.0.0.1:{public}\n  \
             upstream: http://127.0.0.1:9\n  provider: corp\n  admin: {{listen: 127.0.0.1:{admin}}}\n  \
             tls: {{caFiles: [{ca}]}}\nauth:\n  session:\n    secret: {SESSION_SECRET}\n  providers:\n    \
             corp:\n      development:\n        metadataUrl: {metadata}\n        clientId: {id}\n        \
             clientSecret: {secret}\n",
            ca = pki.ca_file.display(),
            metadata = op.metadata_url(),
            id = support::op::CLIENT_ID,
            secret = support::op::CLIENT_SECRET,
        ),
    )
    .unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_stagepass"));
    command
        .arg("--config")
        .arg(&config)
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let _child = command.spawn().expect("the binary starts");
    let readyz = format!("http://127.0.0.1:{admin}/readyz");
    for _ in 0..400 {
        let req = anonymous("GET", &readyz).body(Default::default()).unwrap();
        if let Ok(Ok(response)) =
            tokio::time::timeout(Duration::from_secs(1), client().request(req)).await
            && response.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the binary never became ready with {env:?}");
}

#[tokio::test]
async fn a_name_that_does_not_resolve_is_said_plainly() {
    let options = WorldOptions {
        wait_until_ready: false,
        ..WorldOptions::default()
    };
    let w = world_with(options, |cfg: &mut Config| {
        cfg.auth.providers.get_mut("test").unwrap().metadata_url =
            "https://idp.corp.invalid/.well-known/openid-configuration"
                .parse()
                .unwrap();
    })
    .await;
    let reason = not_ready_reason(&w).await;
    assert!(
        reason.contains("cannot connect to idp.corp.invalid:443: the name does not resolve"),
        "{reason}"
    );
}
