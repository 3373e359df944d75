//! A real Redis (Debian's `redis-server`), started per test on a free
//! loopback port without persistence: a restart loses everything, which is
//! what the tests of "nothing synced is lost" need.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

pub struct Redis {
    pub port: u16,
    child: Option<Child>,
}

const SERVER: &str = "/usr/bin/redis-server";

impl Redis {
    pub async fn start() -> Redis {
        Self::start_on(super::free_port()).await
    }

    pub async fn start_on(port: u16) -> Redis {
        assert!(
            std::path::Path::new(SERVER).exists(),
            "redis-server is missing: run .ci/install-prerequisites first"
        );
        let child = Command::new(SERVER)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server starts");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Redis {
            port,
            child: Some(child),
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops it and waits until it is gone.
    pub async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
            let _ = child.wait().await;
        }
    }
}
