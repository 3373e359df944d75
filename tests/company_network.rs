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
