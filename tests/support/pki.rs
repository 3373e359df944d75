//! A private CA made in the test, as a company's own would be: server
//! certificates for the OP and an upstream on loopback, and a client
//! certificate for mTLS, all written as PEM files.

use std::path::PathBuf;
use std::time::Duration;

use super::agent::Agent;
use super::get;
use super::world::{World, WorldOptions};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

pub struct Pki {
    pub dir: tempfile::TempDir,
    /// The CA certificate: what `caFiles` lists.
    pub ca_file: PathBuf,
    pub ca_pem: String,
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key, as files.
pub struct Issued {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

impl Pki {
    pub fn new() -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Example Corp Internal CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("company-ca.pem");
        let ca_pem = issuer.pem();
        std::fs::write(&ca_file, &ca_pem).unwrap();
        Pki {
            dir,
            ca_file,
            ca_pem,
            issuer,
        }
    }

    /// A server certificate for these IP addresses (and `localhost`).
    pub fn server(&self, name: &str, ips: &[&str]) -> Issued {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        for ip in ips {
            params
                .subject_alt_names
                .push(SanType::IpAddress(ip.parse().unwrap()));
        }
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(name, params)
    }

    /// A client certificate for mTLS.
    pub fn client(&self, name: &str) -> Issued {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(name, params)
    }

    fn issue(&self, name: &str, params: CertificateParams) -> Issued {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let cert_file = self.dir.path().join(format!("{name}.pem"));
        let key_file = self.dir.path().join(format!("{name}.key"));
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        Issued {
            cert_file,
            key_file,
        }
    }

    /// rustls roots holding only this CA.
    pub fn roots(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.issuer.der().clone()).unwrap();
        roots
    }
}

/// Options for a world whose OP serves https with a certificate from `pki`.
pub fn https_op(pki: &Pki) -> WorldOptions {
    let op = pki.server("op", &["127.0.0.2"]);
    WorldOptions {
        op_tls: Some((op.cert_file, op.key_file)),
        ..WorldOptions::default()
    }
}

/// `/readyz` once stagepass has tried the IdP and said why it is not ready
/// (a wait for the first attempt, not a timing assertion).
pub async fn not_ready_reason(w: &World) -> String {
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

/// alice signs in through `w` (trusting `pki` for the OP) and reaches the app.
pub async fn signs_alice_in(w: &World, pki: &Pki) {
    let mut alice = Agent::trusting(pki.roots());
    let done = w.sign_in(&mut alice, "/", "alice").await;
    assert_eq!(done.status, 302, "{}", done.text());
    assert_eq!(alice.get(&w.url("/page")).await.status, 200);
    assert_eq!(
        w.up.controls.last().header("x-forwarded-user"),
        Some("alice")
    );
}
