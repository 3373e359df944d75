//! The real OpenID Provider (npm `oidc-provider`, pinned in
//! tests/support/op/package.json), started per test on 127.0.0.2 so its
//! cookies never mix with stagepass's on 127.0.0.1.

use std::path::Path;
use std::process::Stdio;

use http_body_util::Full;
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use url::Url;

use super::{client, send};

pub const CLIENT_ID: &str = "stagepass-tests";
pub const CLIENT_SECRET: &str = "stagepass-tests-client-secret";
/// The OP's second client, for machines: only `client_credentials`, with JWT
/// access tokens for [`API_AUDIENCE`] (or [`OTHER_RESOURCE`] on request).
pub const MACHINE_ID: &str = "ci-robot";
pub const MACHINE_SECRET: &str = "ci-robot-client-secret";
pub const API_AUDIENCE: &str = "https://api.stagepass.test";
pub const OTHER_RESOURCE: &str = "https://other-api.stagepass.test";

pub struct OpOptions {
    pub redirect_uri: Url,
    pub post_logout_redirect_uri: Url,
    pub alg: &'static str,
    pub access_token_ttl: u64,
    pub token_endpoint_auth_method: &'static str,
    /// Claim overrides per login (`null` removes a claim), as the OP's
    /// `--accounts` file; `Value::Null` for none.
    pub accounts: Value,
    /// Extra claims in the machine client's tokens; `Value::Null` for none.
    pub machine_claims: Value,
    /// Serve https with this certificate and key (PEM files).
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// Where the OP posts back-channel logout tokens (and its ID tokens
    /// then carry `sid`).
    pub backchannel_logout_uri: Option<Url>,
    /// Every refresh returns a new refresh token; the old one is spent.
    pub rotate_refresh_tokens: bool,
}

pub struct Op {
    pub issuer: Url,
    _child: Child,
    _accounts: Option<tempfile::NamedTempFile>,
}

/// Fails (never skips) when the fixture is not installed: CI installs it with
/// `.ci/install-prerequisites`, developers run the same script.
pub fn require_installed(dir: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join(dir).join("node_modules").is_dir(),
        "{dir}/node_modules is missing: run .ci/install-prerequisites first"
    );
}

pub async fn start(options: &OpOptions) -> Op {
    require_installed("tests/support/op");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let accounts = (!options.accounts.is_null()).then(|| {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), options.accounts.to_string()).unwrap();
        file
    });
    let mut command = Command::new("node");
    command.arg(root.join("tests/support/op/server.mjs"));
    if let Some(file) = &accounts {
        command.arg("--accounts").arg(file.path());
    }
    let mut child = command
        .args(["--host", "127.0.0.2", "--port", "0"])
        .args(["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET])
        .args(["--redirect-uri", options.redirect_uri.as_str()])
        .args([
            "--post-logout-redirect-uri",
            options.post_logout_redirect_uri.as_str(),
        ])
        .args(["--alg", options.alg])
        .args(
            options
                .rotate_refresh_tokens
                .then_some(["--refresh-token-rotation", "always"])
                .into_iter()
                .flatten(),
        )
        .args(
            options
                .backchannel_logout_uri
                .iter()
                .flat_map(|uri| ["--backchannel-logout-uri".to_owned(), uri.to_string()]),
        )
        .args(options.tls.iter().flat_map(|(cert, key)| {
            [
                "--tls-cert".as_ref(),
                cert.as_os_str(),
                "--tls-key".as_ref(),
                key.as_os_str(),
            ]
        }))
        .args([
            "--machine-client",
            &format!("{MACHINE_ID}:{MACHINE_SECRET}"),
        ])
        .args([
            "--machine-claims",
            &match &options.machine_claims {
                Value::Null => "{}".to_owned(),
                claims => claims.to_string(),
            },
        ])
        .args(["--access-token-ttl", &options.access_token_ttl.to_string()])
        .args([
            "--token-endpoint-auth-method",
            options.token_endpoint_auth_method,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs");
    let ready = super::ready_line(&mut child)
        .await
        .expect("the OpenID Provider exited before it was ready");
    Op {
        issuer: ready["issuer"].as_str().unwrap().parse().unwrap(),
        _child: child,
        _accounts: accounts,
    }
}

impl Op {
    pub fn metadata_url(&self) -> Url {
        self.issuer
            .join(".well-known/openid-configuration")
            .unwrap()
    }

    fn control_url(&self, path: &str) -> String {
        let mut url = self.issuer.clone();
        url.set_path(path);
        url.to_string()
    }

    async fn control(&self, path: &str, body: Value) -> super::Reply {
        let req = http::Request::post(self.control_url(path))
            .header("content-type", "application/json")
            .body(Full::from(body.to_string()))
            .unwrap();
        let reply = send(&client(), req).await;
        assert!(
            reply.status.is_success(),
            "{path}: {} {}",
            reply.status,
            reply.text()
        );
        reply
    }

    /// Makes the OP return broken ID tokens from now on (see the fixture's README).
    pub async fn misbehave(&self, mode: &str) {
        self.control("/__test/misbehave", json!({ "mode": mode }))
            .await;
    }

    pub async fn rotate_keys(&self) {
        self.control("/__test/rotate-keys", json!({})).await;
    }

    pub async fn set_down(&self, down: bool) {
        self.control("/__test/down", json!({ "down": down })).await;
    }

    /// A client-credentials token for the machine client, as a CI job gets
    /// one: `form` adds `scope` or `resource`.
    pub async fn machine_token(&self, form: &[(&str, &str)]) -> String {
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{MACHINE_ID}:{MACHINE_SECRET}"));
        let mut body = url::form_urlencoded::Serializer::new(String::new());
        body.append_pair("grant_type", "client_credentials");
        body.extend_pairs(form);
        let req = http::Request::post(self.control_url("/token"))
            .header("authorization", format!("Basic {basic}"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::from(body.finish()))
            .unwrap();
        let reply = send(&client(), req).await;
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json()["access_token"].as_str().unwrap().to_owned()
    }

    /// `claims` signed with the OP's current key (header `typ: at+jwt`,
    /// `header` overriding): tokens the OP would not issue, such as an
    /// expired one, that still verify with its JWKS.
    pub async fn sign(&self, claims: Value, header: Value) -> String {
        let reply = self
            .control(
                "/__test/sign",
                json!({ "claims": claims, "header": header }),
            )
            .await;
        reply.json()["token"].as_str().unwrap().to_owned()
    }

    /// Ends the person's OP session as the OP's own logout page does (its
    /// form posted with the `_session` cookie `agent` holds); with
    /// back-channel logout on, the OP then posts a logout token.
    pub async fn end_session(&self, agent: &mut super::agent::Agent) {
        let page = agent
            .get(
                &self
                    .issuer
                    .join("session/end?client_id=stagepass-tests")
                    .unwrap(),
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.text());
        let text = page.text();
        let xsrf = text
            .split("name=\"xsrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the logout form carries xsrf")
            .to_owned();
        let done = agent
            .post_form(
                &self.issuer.join("session/end/confirm").unwrap(),
                &[("xsrf", &xsrf), ("logout", "yes")],
            )
            .await;
        assert!(
            done.status.is_redirection() || done.status == 200,
            "{}",
            done.text()
        );
    }

    /// Request counts by endpoint: `discovery`, `jwks`, `token`, `userinfo`.
    pub async fn stats(&self) -> Value {
        let req = http::Request::get(self.control_url("/__test/stats"))
            .body(Full::default())
            .unwrap();
        send(&client(), req).await.json()
    }
}
