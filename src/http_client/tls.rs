//! What outbound TLS trusts and presents: the system store plus
//! `stagepass.tls.caFiles` plus a target's own `caFile`; for the upstream,
//! optionally a client certificate, or (explicitly, loudly) no verification.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::config::{OutboundConfig, UpstreamTlsConfig, read_pem_certs};

/// The client configuration for a target with its own `ca_file`, if any.
pub fn client_config(
    outbound: &OutboundConfig,
    ca_file: Option<&Path>,
) -> Result<rustls::ClientConfig, String> {
    let roots = roots(outbound, ca_file)?;
    Ok(builder()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The client configuration for the upstream: its CA, its client
/// certificate for mTLS, or no verification when explicitly asked.
pub fn upstream_config(outbound: &OutboundConfig) -> Result<rustls::ClientConfig, String> {
    let tls: &UpstreamTlsConfig = &outbound.upstream_tls;
    let builder = builder()?;
    let builder = if tls.insecure_skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider())))
    } else {
        builder.with_root_certificates(roots(outbound, tls.ca_file.as_deref())?)
    };
    match &tls.client_cert {
        None => Ok(builder.with_no_client_auth()),
        Some((cert_file, key_file)) => {
            let certs = read_pem_certs(cert_file)
                .map_err(|e| format!("stagepass.upstreamTls.certFile: {e}"))?;
            let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
                format!(
                    "stagepass.upstreamTls.keyFile: cannot read a private key from {}: {e}",
                    key_file.display()
                )
            })?;
            builder.with_client_auth_cert(certs, key).map_err(|e| {
                format!("stagepass.upstreamTls: certificate and key do not match: {e}")
            })
        }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn builder() -> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::WantsVerifier>, String> {
    rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())
}

/// The platform's store (an empty one is not fatal: plain `http://` peers
/// never need it, and an `https://` one then fails with a clear certificate
/// error), `caFiles`, and `ca_file`.
fn roots(
    outbound: &OutboundConfig,
    ca_file: Option<&Path>,
) -> Result<rustls::RootCertStore, String> {
    let mut roots = system_roots().clone();
    for file in outbound.ca_files.iter().map(|f| f.as_path()).chain(ca_file) {
        for cert in read_pem_certs(file)? {
            roots
                .add(cert)
                .map_err(|e| format!("{}: not a usable CA certificate: {e}", file.display()))?;
        }
    }
    Ok(roots)
}

/// The platform's store, read once per process: every client shares it.
fn system_roots() -> &'static rustls::RootCertStore {
    static ROOTS: std::sync::OnceLock<rustls::RootCertStore> = std::sync::OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for err in &found.errors {
            tracing::warn!(reason = %err, "part of the system CA store could not be read");
        }
        let mut roots = rustls::RootCertStore::empty();
        let (added, ignored) = roots.add_parsable_certificates(found.certs);
        if ignored > 0 {
            tracing::debug!(added, ignored, "system CA store loaded");
        }
        roots
    })
}

/// `upstreamTls.insecureSkipVerify`: any certificate is accepted (the
/// handshake signatures are still checked, so the session keys are real).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
