//! Real proxies in front of stagepass: Debian's nginx and Caddy, each run
//! from a config the test writes, in a temporary directory, killed on drop.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

pub struct Peer {
    pub port: u16,
    child: Child,
    dir: tempfile::TempDir,
}

impl Peer {
    pub fn url(&self) -> url::Url {
        format!("http://127.0.0.1:{}", self.port).parse().unwrap()
    }

    /// The peer's own error log, for assertion messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn require(binary: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|p| p.join(binary).is_file()));
    assert!(
        found || Path::new("/usr/sbin").join(binary).is_file(),
        "{binary} is missing: run .ci/install-prerequisites first (Debian package {binary})"
    );
}

/// nginx with `server` as the body of its `http` block.
pub async fn nginx(port: u16, server: &str) -> Peer {
    require("nginx");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log info;\nevents {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
         {server}\n}}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
    let child = Command::new("nginx")
        .args(["-p", &d.to_string(), "-c", "nginx.conf", "-e", "error.log"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("nginx starts");
    started(Peer { port, child, dir }).await
}

/// Caddy with `site` as its Caddyfile, after a global block that turns off
/// automatic HTTPS and the admin endpoint.
pub async fn caddy(port: u16, site: &str) -> Peer {
    require("caddy");
    let dir = tempfile::tempdir().unwrap();
    let caddyfile = format!("{{\n  auto_https off\n  admin off\n}}\n{site}\n");
    let path = dir.path().join("Caddyfile");
    std::fs::write(&path, caddyfile).unwrap();
    let log = std::fs::File::create(dir.path().join("error.log")).unwrap();
    let child = Command::new("caddy")
        .args(["run", "--adapter", "caddyfile", "--config"])
        .arg(&path)
        .env("HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("caddy starts");
    started(Peer { port, child, dir }).await
}

/// Waits until the peer accepts connections (a wait, not a timing check).
async fn started(mut peer: Peer) -> Peer {
    for _ in 0..200 {
        // Exited first: a listener on its port is another process's.
        if let Ok(Some(status)) = peer.child.try_wait() {
            panic!("the proxy exited ({status}): {}", peer.log());
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", peer.port))
            .await
            .is_ok()
        {
            return peer;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the proxy never listened on {}: {}", peer.port, peer.log());
}
