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
    /// On a free port; another one when a concurrent test took it first.
    pub async fn start() -> Redis {
        for _ in 0..5 {
            if let Some(redis) = Self::try_start_on(super::free_port()).await {
                return redis;
            }
        }
        panic!("redis-server could not listen on any of five free ports");
    }

    /// On `port` (to restart where a stopped one was).
    pub async fn start_on(port: u16) -> Redis {
        (Self::try_start_on(port).await)
            .unwrap_or_else(|| panic!("redis-server could not listen on {port}"))
    }

    /// `None` when the port is taken: the server exits, or the Redis that
    /// answers there is another process.
    async fn try_start_on(port: u16) -> Option<Redis> {
        assert!(
            std::path::Path::new(SERVER).exists(),
            "redis-server is missing: run .ci/install-prerequisites first"
        );
        let mut child = Command::new(SERVER)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server starts");
        let pid = child.id().expect("a running child has an id");
        for _ in 0..200 {
            if let Ok(Some(_)) = child.try_wait() {
                return None;
            }
            if let Some(answering) = process_id(port).await {
                return (answering == pid).then_some(Redis {
                    port,
                    child: Some(child),
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("redis-server never listened on {port}");
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

/// The process id of the Redis answering on `port` (`INFO server`).
async fn process_id(port: u16) -> Option<u32> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    stream.write_all(b"INFO server\r\n").await.ok()?;
    let mut answer = String::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some((_, rest)) = answer.split_once("process_id:")
            && let Some((id, _)) = rest.split_once("\r\n")
        {
            return id.trim().parse().ok();
        }
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        answer.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}
