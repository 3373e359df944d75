//! Running inside a company network, with real parts: the real OpenID
//! Provider served over https with a certificate from a private CA made in
//! the test, and an https upstream that requires a client certificate from
//! the same CA. The egress proxy has its own file (`egress_proxy.rs`).

mod support;

use stagepass::config::Config;
use support::agent::Agent;
use support::pki::{Pki, https_op, not_ready_reason, signs_alice_in};
use support::world::{WorldOptions, world_with};
use support::*;

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
    // Said by /readyz, without taking the replica out of service.
    let ready = get(&w.sp.admin_url("/readyz")).await;
    assert_eq!(ready.status, 200);
    assert!(
        ready.text().starts_with("ready, degraded: upstream"),
        "{}",
        ready.text()
    );
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
