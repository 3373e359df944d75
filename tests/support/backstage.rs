//! A real Backstage backend (npm `@backstage/*`, pinned in
//! tests/support/backstage/package.json) with auth, catalog and permission
//! plugins, trusting a key-store key the test also gives stagepass.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::{Child, Command};
use url::Url;

pub const CATALOG: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/support/backstage/catalog.yaml"
);
pub const KEY_ID: &str = "stagepass-test-key";

pub struct Backstage {
    pub base_url: Url,
    /// A `backend.auth.externalAccess` static token.
    pub token: String,
    _child: Child,
}

/// An ES256 key pair in Backstage's key-store format (SPKI and PKCS#8 PEM).
pub struct KeyFiles {
    pub public: PathBuf,
    pub private: PathBuf,
    _dir: tempfile::TempDir,
}

pub fn key_files() -> KeyFiles {
    let dir = tempfile::tempdir().unwrap();
    let (public, private) = (
        dir.path().join("public.pem"),
        dir.path().join("private.pem"),
    );
    let openssl = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .status()
            .expect("openssl runs");
        assert!(status.success(), "openssl {args:?}");
    };
    let private_s = private.to_str().unwrap();
    openssl(&[
        "genpkey",
        "-algorithm",
        "EC",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-out",
        private_s,
    ]);
    openssl(&[
        "pkey",
        "-in",
        private_s,
        "-pubout",
        "-out",
        public.to_str().unwrap(),
    ]);
    KeyFiles {
        public,
        private,
        _dir: dir,
    }
}

pub async fn start(keys: &KeyFiles, permissions: bool) -> Backstage {
    start_with(keys, permissions, &[]).await
}

/// As [`start`], with more `backend.js` arguments (`--oauth2-proxy-resolver`).
pub async fn start_with(keys: &KeyFiles, permissions: bool, extra: &[&str]) -> Backstage {
    super::op::require_installed("tests/support/backstage");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // Backstage cannot listen on port 0; a port just released is free enough.
    let port = super::free_port();
    let mut child = Command::new("node")
        .arg(root.join("tests/support/backstage/backend.js"))
        .args(["--port", &port.to_string()])
        .args(["--permissions", if permissions { "on" } else { "off" }])
        .args(["--catalog", CATALOG])
        .arg("--public-key")
        .arg(&keys.public)
        .arg("--private-key")
        .arg(&keys.private)
        .args(["--key-id", KEY_ID])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let ready = super::ready_line(&mut child)
        .await
        .expect("the Backstage backend exited before it was ready");
    Backstage {
        base_url: ready["baseUrl"].as_str().unwrap().parse().unwrap(),
        token: ready["token"].as_str().unwrap().to_owned(),
        _child: child,
    }
}

impl Backstage {
    /// Points `cfg` at this backend as a deployment would: its catalog API
    /// with the static token, Backstage's email resolver, and the key store
    /// Backstage trusts, so the tokens stagepass mints verify there.
    pub fn serve_identities_to(&self, cfg: &mut stagepass::config::Config, keys: &KeyFiles) {
        use stagepass::config::*;
        cfg.stagepass.catalog = Some(CatalogConfig::new(CatalogSource::Api {
            url: self.base_url.join("/api/catalog").unwrap(),
            token: Some(Secret::new(self.token.clone())),
            timeout: std::time::Duration::from_secs(10),
        }));
        cfg.auth.providers.get_mut("test").unwrap().resolvers = super::email_resolver();
        cfg.auth.token.key_store = Some(keys.key_store());
    }
}

impl KeyFiles {
    /// `auth.keyStore` naming these files, as Backstage's config does.
    pub fn key_store(&self) -> stagepass::config::KeyStoreConfig {
        use stagepass::config::*;
        KeyStoreConfig {
            keys: vec![StaticKey {
                public_key_file: self.public.clone(),
                private_key_file: self.private.clone(),
                key_id: KEY_ID.into(),
                algorithm: Algorithm::ES256,
            }],
        }
    }
}
