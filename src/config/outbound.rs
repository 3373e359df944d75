//! Outbound connections in company networks: CA bundles to trust besides
//! the system store (`stagepass.tls.caFiles`, and per target `caFile`),
//! the egress proxy for the IdP and the catalog (`stagepass.outboundProxy`,
//! else `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY`), and TLS to the upstream
//! (`stagepass.upstreamTls`: its CA, a client certificate for mTLS).

use std::path::{Path, PathBuf};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use url::Url;

use super::Secret;
use super::field::{Field, Problems};

const PROXY_KEYS: &[&str] = &["url", "noProxy"];
const UPSTREAM_TLS_KEYS: &[&str] = &["caFile", "certFile", "keyFile", "insecureSkipVerify"];

#[derive(Debug, Clone, Default)]
pub struct OutboundConfig {
    /// `stagepass.tls.caFiles`: trusted for every outbound connection, on
    /// top of the system store.
    pub ca_files: Vec<PathBuf>,
    /// `stagepass.outboundProxy`; `None`: what the environment says.
    pub proxy: Option<ProxyConfig>,
    pub upstream_tls: UpstreamTlsConfig,
}

/// The egress proxy for the IdP and the catalog (never the upstream).
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// `http://[user:password@]host:port`: credentials make it a secret.
    pub url: Secret,
    /// `noProxy`, in `NO_PROXY`'s syntax: hosts, `.domain` suffixes, CIDRs, `*`.
    pub no_proxy: String,
}

/// `stagepass.upstreamTls`
#[derive(Debug, Clone, Default)]
pub struct UpstreamTlsConfig {
    /// Trusted for the upstream only, on top of the system store and `caFiles`.
    pub ca_file: Option<PathBuf>,
    /// `certFile` and `keyFile`: the client certificate for mTLS.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Accept any upstream certificate; logged at start-up, shown in `/metrics`.
    pub insecure_skip_verify: bool,
}

pub(super) fn outbound(section: &Field, problems: &mut Problems) -> OutboundConfig {
    OutboundConfig {
        ca_files: section
            .child("tls")
            .child("caFiles")
            .list(problems, ca_file),
        proxy: proxy(&section.child("outboundProxy"), problems),
        upstream_tls: upstream_tls(&section.child("upstreamTls"), problems),
    }
}

/// A PEM file with one or more certificates rustls can use as trust anchors.
pub(super) fn ca_file(field: &Field) -> Result<PathBuf, String> {
    let path = PathBuf::from(field.text()?);
    let mut store = rustls::RootCertStore::empty();
    for (index, cert) in read_pem_certs(&path)?.into_iter().enumerate() {
        store.add(cert).map_err(|e| {
            format!(
                "{}: certificate {} is not a usable CA certificate: {e}",
                path.display(),
                index + 1
            )
        })?;
    }
    Ok(path)
}

/// The certificates of a PEM file, at least one: for loading here and for
/// building TLS clients from the files loading accepted.
pub fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect())
        .map_err(|e| format!("cannot read {shown} as PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "{shown} holds no certificate (expected -----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(certs)
}

/// `outboundProxy: http://proxy:3128` or `{url, noProxy}`.
fn proxy(field: &Field, problems: &mut Problems) -> Option<ProxyConfig> {
    let (url_field, no_proxy) = match field.value? {
        serde_json::Value::Object(_) => {
            field.reject_unknown_keys(problems, PROXY_KEYS);
            let no_proxy = field
                .child("noProxy")
                .optional(problems, String::new(), Field::text);
            (field.child("url"), no_proxy)
        }
        _ => (field.clone(), String::new()),
    };
    let url = url_field.required(problems, proxy_url)?;
    Some(ProxyConfig { url, no_proxy })
}

fn proxy_url(field: &Field) -> Result<Secret, String> {
    let text = field.text()?;
    // Never echo it: the URL may carry credentials.
    let url = Url::parse(&text).map_err(|e| format!("is not a URL ({e})"))?;
    if url.scheme() != "http" || url.host_str().is_none() {
        return Err(
            "must be an http:// proxy URL such as http://proxy.internal:3128 (CONNECT is used for https targets)"
                .to_owned(),
        );
    }
    Ok(Secret::new(text))
}

fn upstream_tls(field: &Field, problems: &mut Problems) -> UpstreamTlsConfig {
    if field.map(problems).is_none() {
        return UpstreamTlsConfig::default();
    }
    field.reject_unknown_keys(problems, UPSTREAM_TLS_KEYS);
    let cert = field.child("certFile");
    let key = field.child("keyFile");
    let client_cert = match (cert.is_set(), key.is_set()) {
        (false, false) => None,
        (true, false) => {
            problems.add(&key.path, "missing: certFile needs its keyFile");
            None
        }
        (false, true) => {
            problems.add(&cert.path, "missing: keyFile needs its certFile");
            None
        }
        (true, true) => {
            let cert = cert.required(problems, super::parse::existing_file);
            let key = key.required(problems, super::parse::existing_file);
            cert.zip(key)
        }
    };
    let insecure = field.child("insecureSkipVerify");
    let insecure_skip_verify = super::backstage::flag(&insecure, false, problems);
    if insecure_skip_verify {
        problems.warn(
            &insecure.path,
            "any upstream certificate is accepted: anyone on the path to the upstream can read and change its traffic",
        );
    }
    UpstreamTlsConfig {
        ca_file: field
            .child("caFile")
            .optional(problems, None, |f| ca_file(f).map(Some)),
        client_cert,
        insecure_skip_verify,
    }
}
