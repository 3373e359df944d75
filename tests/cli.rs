//! The binary: configuration errors are all listed with their key paths and
//! exit 64 before any port is bound; `check` hides secrets; SIGTERM exits 0.

use std::io::Write;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_stagepass");

fn write_config(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.path().join(name);
    std::fs::File::create(&path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The secrets [`VALID`] names, as the environment gives them.
fn with_secrets(command: &mut Command) -> &mut Command {
    command
        .env(
            "TEST_SESSION_SECRET",
            "a-session-secret-that-is-long-enough-123",
        )
        .env("TEST_CLIENT_SECRET", "the-client-secret-value")
}

const VALID: &str = r#"
stagepass:
  listen: 127.0.0.1:PUBLIC
  publicUrl: http://127.0.0.1:PUBLIC
  upstream: http://127.0.0.1:9
  provider: corp
  admin: { listen: 127.0.0.1:ADMIN }
auth:
  session:
    secret: ${TEST_SESSION_SECRET}
  providers:
    corp:
      development:
        metadataUrl: http://127.0.0.2:9/.well-known/openid-configuration
        clientId: stagepass
        clientSecret: ${TEST_CLIENT_SECRET}
"#;

#[test]
fn every_problem_is_listed_with_its_path_and_exit_is_64() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        &dir,
        "bad.yaml",
        r#"
stagepass:
  listen: not-an-address
  pubicUrl: https://portal.example.com
  upstream: ftp://app
  provider: corp
auth:
  session:
    secret: short-but-secret-value
  providers:
    corp:
      development:
        metadataUrl: http://idp.example.com/.well-known/openid-configuration
        clientSecret: hunter2-client-secret
"#,
    );
    let out = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "stagepass.listen:",
        "stagepass.pubicUrl: unknown key (did you mean publicUrl?)",
        "stagepass.publicUrl: missing",
        "stagepass.upstream:",
        "auth.session.secret: must be at least 32 characters",
        "auth.providers.corp.development.metadataUrl:",
        "auth.providers.corp.development.clientId: missing",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("short-but-secret-value") && !stderr.contains("hunter2"),
        "a secret leaked:\n{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing is served or logged");
}

/// A config naming four unusable files: the listener's certificate, the
/// upstream's client certificate (for two upstreams), the catalog and the
/// key store.
fn config_with_unusable_files(dir: &tempfile::TempDir, public: u16) -> std::path::PathBuf {
    let garbage = write_config(dir, "garbage.pem", "not a certificate\n");
    let catalog = write_config(dir, "catalog.yaml", "kind: [not an entity\n");
    let files = format!(
        "  tls: {{ certFile: {g}, keyFile: {g} }}\n  upstreamTls: {{ certFile: {g}, keyFile: {g} }}\n  catalog: {{ file: {c} }}\n  routes: [{{ path: /wiki, upstream: https://127.0.0.1:10 }}]\n",
        g = garbage.display(),
        c = catalog.display()
    );
    let key_store = format!(
        "  keyStore:\n    provider: static\n    static:\n      keys:\n        - {{ publicKeyFile: {g}, privateKeyFile: {g}, keyId: k1, algorithm: ES256 }}\n",
        g = garbage.display()
    );
    let resolvers = "        signIn:\n          resolvers:\n            - resolver: emailMatchingUserEntityProfileEmail\n";
    let text = VALID
        .replace("PUBLIC", &public.to_string())
        .replace("ADMIN", &free_port().to_string())
        .replace("http://127.0.0.1:9", "https://127.0.0.1:9")
        .replace("  provider: corp\n", &format!("  provider: corp\n{files}"))
        .replace("auth:\n", &format!("auth:\n{key_store}"))
        .replace(
            "        clientSecret: ${TEST_CLIENT_SECRET}\n",
            &format!("        clientSecret: ${{TEST_CLIENT_SECRET}}\n{resolvers}"),
        );
    write_config(dir, "files.yaml", &text)
}

#[track_caller]
fn names_the_four_unusable_files(out: &std::process::Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{stderr}");
    let expected = [
        "stagepass.tls.certFile",
        "stagepass.upstreamTls.certFile",
        "stagepass.catalog",
        "auth.keyStore",
    ];
    for expected in expected {
        assert_eq!(
            stderr.matches(expected).count(),
            1,
            "{expected:?} named once in:\n{stderr}"
        );
    }
}

/// Files the config names are read at start-up; every one that cannot be
/// used is named, and nothing is bound.
#[test]
fn unusable_files_are_all_named_at_start_up_with_exit_64() {
    let dir = tempfile::tempdir().unwrap();
    let public = free_port();
    let config = config_with_unusable_files(&dir, public);
    let out = with_secrets(Command::new(BIN).arg("--config").arg(&config))
        .output()
        .unwrap();
    names_the_four_unusable_files(&out);
    assert!(
        std::net::TcpListener::bind(("127.0.0.1", public)).is_ok(),
        "nothing was bound"
    );
}

/// `check` alone passes a config whose files are elsewhere (mounted into a
/// pod later); `check --files` reads them as start-up would.
#[test]
fn check_reads_the_files_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let config = config_with_unusable_files(&dir, free_port());
    let check = |extra: &[&str]| {
        with_secrets(
            Command::new(BIN)
                .arg("check")
                .args(extra)
                .arg("--config")
                .arg(&config),
        )
        .output()
        .unwrap()
    };
    let plain = check(&[]);
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert_eq!(plain.status.code(), Some(0), "{stderr}");
    names_the_four_unusable_files(&check(&["--files"]));

    // Usable files pass: the quickstart's catalog, read as start-up reads it.
    let quickstart = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/quickstart/stagepass.yaml"
    );
    let out = Command::new(BIN)
        .args(["check", "--files", "--config", quickstart])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.ends_with("configuration is valid\n"), "{stderr}");
}

/// `check --files` runs start-up's build and stops there: neither the IdP
/// nor the session store hears from it.
#[test]
fn check_with_files_contacts_nobody() {
    let listener = || {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        listener
    };
    let (idp, redis) = (listener(), listener());
    let text = VALID
        .replace("PUBLIC", &free_port().to_string())
        .replace("ADMIN", &free_port().to_string())
        .replace("127.0.0.2:9", &idp.local_addr().unwrap().to_string())
        .replace(
            "  provider: corp\n",
            &format!(
                "  provider: corp\n  sessions: {{ store: {{ redis: {{ url: redis://{} }} }} }}\n",
                redis.local_addr().unwrap()
            ),
        );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(&dir, "contacts.yaml", &text);
    let out = with_secrets(
        Command::new(BIN)
            .args(["check", "--files", "--config"])
            .arg(&config),
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    // The process has exited: a connection it made would be waiting here.
    for (name, listener) in [("the IdP", idp), ("Redis", redis)] {
        let accepted = listener.accept();
        assert!(
            accepted
                .as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
            "{name} was contacted: {accepted:?}"
        );
    }
}

#[test]
fn later_files_merge_over_earlier_ones_and_check_hides_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let base = write_config(
        &dir,
        "base.yaml",
        &VALID.replace("PUBLIC", "7000").replace("ADMIN", "9090"),
    );
    let local = write_config(
        &dir,
        "local.yaml",
        "stagepass:\n  upstream: http://backstage:7007\n",
    );
    let out = with_secrets(Command::new(BIN).args(["check", "--config"]).arg(&base))
        .arg("--config")
        .arg(&local)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("upstream: http://backstage:7007"),
        "{stdout}"
    );
    assert!(stdout.contains("clientId: stagepass"));
    assert!(
        !stdout.contains("the-client-secret-value") && !stdout.contains("a-session-secret"),
        "{stdout}"
    );
    assert!(stdout.contains("***"));
}

#[test]
fn the_example_config_is_valid() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.yaml");
    let out = Command::new(BIN)
        .args(["check", "--config", example])
        .env("SESSION_SECRET", "a-session-secret-that-is-long-enough-123")
        .env("AUTH_MY_CLIENT_ID", "client")
        .env("AUTH_MY_CLIENT_SECRET", "secret")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn check_says_what_is_risky_in_the_quickstart_config() {
    let quickstart = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/quickstart/stagepass.yaml"
    );
    let out = Command::new(BIN)
        .args(["check", "--config", quickstart])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("stagepass: warning: auth.providers.guest: guest sign-in is on"),
        "{stderr}"
    );
    assert!(
        stderr.contains("stagepass: warning: auth.session.secret: missing; a random secret"),
        "{stderr}"
    );
}

#[test]
fn help_names_exit_codes_environment_and_docs() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for expected in ["64", "69", "STAGEPASS_LOG", "STAGEPASS_CONFIG", "README.md"] {
        assert!(
            help.contains(expected),
            "{expected} missing from --help:\n{help}"
        );
    }
}

#[test]
fn sigterm_stops_the_process_with_status_0() {
    let dir = tempfile::tempdir().unwrap();
    let (public, admin) = (free_port(), free_port());
    let config = write_config(
        &dir,
        "ok.yaml",
        &VALID
            .replace("PUBLIC", &public.to_string())
            .replace("ADMIN", &admin.to_string()),
    );
    let mut child = with_secrets(Command::new(BIN).arg("--config").arg(&config))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it serves (a wait, not a timing assertion).
    let mut up = false;
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", admin)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    assert!(up, "stagepass did not start");
    let request_id = one_request_id(public);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0));
    let mut logs = String::new();
    std::io::Read::read_to_string(child.stdout.as_mut().unwrap(), &mut logs).unwrap();
    assert!(logs.contains("shutdown requested"), "{logs}");
    assert!(!logs.contains("the-client-secret-value"), "secret in logs");
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("log line is not JSON ({e}): {line}"))
        })
        .collect();
    // The access line carries the id the response named.
    let access = lines
        .iter()
        .find(|l| l["target"] == "access")
        .unwrap_or_else(|| panic!("no access line: {logs}"));
    assert_eq!(access["id"], request_id.as_str(), "{access}");
}

/// One plain HTTP/1.1 request to the public port; its `X-Request-Id`.
fn one_request_id(port: u16) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .write_all(b"GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).unwrap();
    reply
        .lines()
        .find_map(|l| l.strip_prefix("x-request-id: "))
        .unwrap_or_else(|| panic!("no request id: {reply}"))
        .trim()
        .to_owned()
}

#[test]
fn the_quickstart_config_is_valid() {
    let quickstart = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/quickstart/stagepass.yaml"
    );
    let out = Command::new(BIN)
        .args(["check", "--config", quickstart])
        .env("SESSION_SECRET", "a-session-secret-that-is-long-enough-123")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("quickstart/catalog.yaml"),
        "catalog path resolved against the config file"
    );
}

#[test]
fn guest_sign_in_is_refused_outside_development() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        &dir,
        "guest.yaml",
        r#"
stagepass:
  publicUrl: https://portal.example.com
  upstream: http://127.0.0.1:9
  provider: guest
auth:
  environment: production
  session:
    secret: a-session-secret-that-is-long-enough-123
  providers:
    guest: {}
"#,
    );
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("dangerouslyAllowOutsideDevelopment"),
        "{stderr}"
    );
}
