//! `stagepass.tls.caFiles`, per-target `caFile`, `outboundProxy` and
//! `upstreamTls`: files read with a clear problem each, relative paths
//! taken from the naming file, proxy credentials never echoed.

use super::{Fixture, MINIMAL, ok, problems};

fn ca_pem() -> String {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().pem()
}

#[test]
fn ca_bundles_proxy_and_upstream_tls_are_read_with_relative_paths() {
    let fixture = Fixture::new();
    let bundle = format!("{}{}", ca_pem(), ca_pem());
    fixture.write("conf/certs/company.pem", &bundle);
    fixture.write("conf/certs/idp.pem", &ca_pem());
    fixture.write("conf/certs/client.pem", "any");
    fixture.write("conf/certs/client.key", "any");
    fixture.write("conf/base.yaml", MINIMAL);
    fixture.write(
        "conf/over.yaml",
        "stagepass:\n  tls: {caFiles: [certs/company.pem]}\n  outboundProxy: {url: 'http://user:hunter2@proxy.internal:3128', noProxy: '.internal,10.0.0.0/8'}\n  upstreamTls: {caFile: certs/idp.pem, certFile: certs/client.pem, keyFile: certs/client.key}\nauth:\n  providers:\n    my-auth-provider:\n      development:\n        caFile: certs/idp.pem\n",
    );
    let config = ok(fixture.load(&["conf/base.yaml", "conf/over.yaml"], &[])).config;
    let outbound = &config.stagepass.outbound;
    assert_eq!(outbound.ca_files, [fixture.path("conf/certs/company.pem")]);
    assert!(
        config.stagepass.tls.is_none(),
        "caFiles alone keeps the listener plain"
    );
    let proxy = outbound.proxy.as_ref().unwrap();
    assert_eq!(
        proxy.url.expose(),
        "http://user:hunter2@proxy.internal:3128"
    );
    assert_eq!(proxy.no_proxy, ".internal,10.0.0.0/8");
    assert_eq!(
        outbound.upstream_tls.client_cert,
        Some((
            fixture.path("conf/certs/client.pem"),
            fixture.path("conf/certs/client.key")
        ))
    );
    let provider = &config.auth.providers["my-auth-provider"];
    assert_eq!(provider.ca_file, Some(fixture.path("conf/certs/idp.pem")));
}

#[test]
fn each_unusable_file_and_value_is_named_and_credentials_are_never_echoed() {
    let fixture = Fixture::new();
    fixture.write("base.yaml", MINIMAL);
    fixture.write(
        "empty.pem",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    fixture.write("key.pem", "key");
    fixture.write(
        "over.yaml",
        "stagepass:\n  tls: {caFiles: [missing.pem, empty.pem]}\n  outboundProxy: 'socks5://user:hunter2@proxy:1080'\n  upstreamTls: {keyFile: key.pem, insecureSkipVerify: true, verify: false}\n  catalog: {file: catalog.yaml, caFile: empty.pem}\n",
    );
    let mut found = problems(fixture.load(&["base.yaml", "over.yaml"], &[]));
    found.sort();
    let text = found.join("\n");
    assert!(!text.contains("hunter2"), "{text}");
    let expect = [
        "stagepass.catalog.caFile: only applies with url",
        "stagepass.outboundProxy: must be an http:// proxy URL",
        "stagepass.tls.caFiles[0]: cannot read",
        "stagepass.tls.caFiles[1]:",
        "stagepass.upstreamTls.certFile: missing: keyFile needs its certFile",
        "stagepass.upstreamTls.verify: unknown key",
    ];
    for (line, prefix) in found.iter().zip(expect) {
        assert!(line.starts_with(prefix), "{line} / {prefix}\n{text}");
    }
    assert!(found[3].contains("holds no certificate"), "{text}");
    assert_eq!(found.len(), expect.len(), "{text}");
}

#[test]
fn skipping_upstream_verification_loads_with_a_warning() {
    let fixture = Fixture::new();
    fixture.write("base.yaml", MINIMAL);
    fixture.write(
        "over.yaml",
        "stagepass:\n  upstreamTls: {insecureSkipVerify: true}\n",
    );
    let loaded = ok(fixture.load(&["base.yaml", "over.yaml"], &[]));
    assert!(
        loaded
            .config
            .stagepass
            .outbound
            .upstream_tls
            .insecure_skip_verify
    );
    let warnings: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert!(
        warnings
            .iter()
            .any(|w| w
                .starts_with("stagepass.upstreamTls.insecureSkipVerify: any upstream certificate")),
        "{warnings:?}"
    );
}
