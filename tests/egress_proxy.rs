//! The egress proxy, with real parts: Debian's `tinyproxy` between
//! stagepass and the real OpenID Provider (served over https with a
//! certificate from a private CA made in the test), configured in
//! `stagepass.outboundProxy` or in the environment of the binary.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use stagepass::config::{Config, ProxyConfig, Secret};
use support::pki::{Pki, https_op, not_ready_reason, signs_alice_in};
use support::world::{World, WorldOptions, world_with};
use support::*;

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
        // A free port can be taken by another test before tinyproxy binds
        // it; tinyproxy then exits, and another port is tried.
        for _ in 0..5 {
            if let Some(proxy) = Self::try_start(extra).await {
                return proxy;
            }
        }
        panic!("tinyproxy did not start");
    }

    async fn try_start(extra: &str) -> Option<Tinyproxy> {
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
        let mut child = tokio::process::Command::new("/usr/bin/tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("tinyproxy starts");
        for _ in 0..400 {
            if child.try_wait().ok().flatten().is_some() {
                return None;
            }
            // Listening, and it is tinyproxy that listens: its log says so.
            let listening = tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok();
            if listening && std::fs::read_to_string(&log).is_ok_and(|l| l.contains("listening")) {
                return Some(Tinyproxy {
                    port,
                    log,
                    _dir: dir,
                    _child: child,
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        None
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// stagepass trusting `pki`'s CA, with `proxy` as its `outboundProxy`
/// (and `no_proxy`), in front of the OP over https; `ready`: wait for it.
async fn via_proxy(pki: &Pki, proxy: String, no_proxy: &str, ready: bool) -> World {
    let options = WorldOptions {
        wait_until_ready: ready,
        ..https_op(pki)
    };
    let (ca, no_proxy) = (pki.ca_file.clone(), no_proxy.to_owned());
    world_with(options, move |cfg: &mut Config| {
        cfg.stagepass.outbound.ca_files = vec![ca];
        cfg.stagepass.outbound.proxy = through(proxy, &no_proxy);
    })
    .await
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
    let w = via_proxy(&pki, proxy.url(), "", true).await;
    signs_alice_in(&w, &pki).await;
    let op_authority = format!("127.0.0.2:{}", w.op.issuer.port().unwrap());
    let log = proxy.log();
    assert!(
        log.contains(&format!("CONNECT {op_authority}")),
        "discovery, keys and the code exchange went through the proxy: {log}"
    );
    assert!(
        !log.contains(&format!("CONNECT {}", w.up.addr)),
        "the upstream is reached directly: {log}"
    );

    // noProxy keeps a host direct: nothing new in the proxy's log.
    let before = proxy.log().matches("CONNECT").count();
    let w = via_proxy(&pki, proxy.url(), "127.0.0.0/8", true).await;
    signs_alice_in(&w, &pki).await;
    assert_eq!(proxy.log().matches("CONNECT").count(), before);
}

#[tokio::test]
async fn a_stopped_or_refusing_proxy_is_named_in_readyz() {
    let pki = Pki::new();
    let stopped = format!("http://127.0.0.1:{}", free_port());
    let w = via_proxy(&pki, stopped.clone(), "", false).await;
    let reason = not_ready_reason(&w).await;
    let proxy_authority = stopped.trim_start_matches("http://");
    assert!(
        reason.contains(&format!("outbound proxy {proxy_authority}")),
        "{reason}"
    );
    assert!(reason.contains("nothing listens there"), "{reason}");

    // A proxy that allows CONNECT only to port 443 refuses the OP's port.
    let strict = Tinyproxy::start("ConnectPort 443").await;
    let w = via_proxy(&pki, strict.url(), "", false).await;
    let reason = not_ready_reason(&w).await;
    assert!(reason.contains("refused CONNECT"), "{reason}");
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
        backchannel_logout_uri: None,
        rotate_refresh_tokens: false,
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
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        // hyper-util ignores proxy variables in a CGI environment.
        .env_remove("REQUEST_METHOD")
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    for (name, value) in env {
        command.env(name, value);
    }
    let _child = command.spawn().expect("the binary starts");
    // Its log goes to the test's stderr: shown when the test fails.
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

/// A proxy that cannot be used as named is refused at start-up: a SOCKS or
/// https proxy (CONNECT credentials would cross in the clear), or a URL the
/// proxy rules would silently drop, sending every call direct.
#[tokio::test]
async fn the_binary_refuses_a_proxy_it_would_not_use_as_named() {
    let pki = Pki::new();
    for (proxy, says) in [
        (
            "socks5://127.0.0.1:1080",
            "only http:// proxies are supported",
        ),
        (
            "https://user:hunter2@127.0.0.1:3128",
            "only http:// proxies are supported",
        ),
    ] {
        let output = binary_output(&pki, &[("HTTPS_PROXY", proxy.to_owned())]).await;
        assert!(output.contains(says), "{proxy}: {output}");
        assert!(!output.contains("hunter2"), "{output}");
    }
}

/// Runs the binary with `env` until it exits (a refused start-up); its
/// stdout and stderr.
async fn binary_output(pki: &Pki, env: &[(&str, String)]) -> String {
    let (public, admin) = (free_port(), free_port());
    let config = pki.dir.path().join(format!("refused-{public}.yaml"));
    std::fs::write(
        &config,
        format!(
            "stagepass:\n  listen: 127.0.0.1:{public}\n  publicUrl: http://127.0.0.1:{public}\n  \
             upstream: http://127.0.0.1:9\n  provider: corp\n  admin: {{listen: 127.0.0.1:{admin}}}\n\
             auth:\n  session:\n    secret: {SESSION_SECRET}\n  providers:\n    corp:\n      development:\n        \
             metadataUrl: https://idp.example.com/.well-known/openid-configuration\n        clientId: stagepass\n        clientSecret: client-secret\n"
        ),
    )
    .unwrap();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_stagepass"));
    command
        .arg("--config")
        .arg(&config)
        .env_remove("REQUEST_METHOD");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("a refused start-up exits at once")
        .unwrap();
    assert!(!output.status.success());
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
