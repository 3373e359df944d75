//! A signed-in world: a real upstream, the real OpenID Provider and
//! stagepass configured for it, plus the steps of a browser sign-in.

use std::time::Duration;

use stagepass::config::{Config, TokenEndpointAuthMethod};
use tokio::net::TcpListener;
use url::Url;

use super::agent::{Agent, location};
use super::op::{self, Op, OpOptions};
use super::upstream::{self, Upstream};
use super::{Reply, Stagepass, config, get, start_on};

pub struct WorldOptions {
    pub alg: &'static str,
    pub access_token_ttl: u64,
    pub client_secret_post: bool,
    /// Claim overrides per login for the OP (`null` removes a claim).
    pub accounts: serde_json::Value,
    /// Where browsers reach stagepass when a proxy sits in front of it
    /// (forward auth); stagepass's own address when `None`.
    pub public_url: Option<Url>,
    /// The callback path registered at the OP.
    pub callback_path: &'static str,
    /// Extra claims in the OP's machine-client tokens.
    pub machine_claims: serde_json::Value,
    /// The OP serves https with this certificate and key.
    pub op_tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// Wait for `/readyz` before handing the world over (off for tests of
    /// why it does not get ready).
    pub wait_until_ready: bool,
    /// Register stagepass's back-channel logout endpoint at the OP.
    pub backchannel_logout: bool,
    /// The OP spends a refresh token on use and hands out a new one.
    pub rotate_refresh_tokens: bool,
    /// stagepass serves https, as `https://localhost:<port>`, with a
    /// self-signed certificate (`World::tls_roots` trusts it).
    pub tls: bool,
}

impl Default for WorldOptions {
    fn default() -> Self {
        WorldOptions {
            alg: "RS256",
            access_token_ttl: 3600,
            client_secret_post: false,
            accounts: serde_json::Value::Null,
            public_url: None,
            callback_path: "/api/auth/test/handler/frame",
            machine_claims: serde_json::Value::Null,
            op_tls: None,
            wait_until_ready: true,
            backchannel_logout: false,
            rotate_refresh_tokens: false,
            tls: false,
        }
    }
}

pub struct World {
    pub up: Upstream,
    pub op: Op,
    pub sp: Stagepass,
    pub public_url: Url,
    /// With `WorldOptions::tls`: what a browser needs to trust stagepass.
    pub tls_roots: Option<rustls::RootCertStore>,
    _tls_files: Option<tempfile::TempDir>,
}

pub const OP_HOST: &str = "127.0.0.2";
pub const SP_HOST: &str = "127.0.0.1";

pub async fn world(options: WorldOptions) -> World {
    world_with(options, |_| {}).await
}

/// Starts everything; `tweak` adjusts stagepass's config last.
pub async fn world_with(options: WorldOptions, tweak: impl FnOnce(&mut Config)) -> World {
    let public = TcpListener::bind("127.0.0.1:0").await.unwrap();
    world_on(public, options, tweak).await
}

/// As [`world_with`], on a listener the caller bound, for tests that must
/// know stagepass's address before it starts (an upstream that needs it).
pub async fn world_on(
    public: TcpListener,
    options: WorldOptions,
    tweak: impl FnOnce(&mut Config),
) -> World {
    let up = upstream::start().await;
    let port = public.local_addr().unwrap().port();
    let own_url: Url = match options.tls {
        true => format!("https://localhost:{port}"),
        false => format!("http://127.0.0.1:{port}"),
    }
    .parse()
    .unwrap();
    let public_url = options.public_url.clone().unwrap_or(own_url);
    let mut cfg = config(up.url());
    let (tls_files, tls_roots) = match options.tls {
        true => {
            let (dir, cert) = super::with_self_signed_tls(&mut cfg);
            let mut roots = rustls::RootCertStore::empty();
            roots.add(cert.cert.der().clone()).unwrap();
            (Some(dir), Some(roots))
        }
        false => (None, None),
    };
    cfg.stagepass.public_url = public_url.clone();
    let callback = public_url.join(options.callback_path).unwrap();
    let op = op::start(&OpOptions {
        redirect_uri: callback.clone(),
        post_logout_redirect_uri: public_url.join("/").unwrap(),
        alg: options.alg,
        access_token_ttl: options.access_token_ttl,
        token_endpoint_auth_method: if options.client_secret_post {
            "client_secret_post"
        } else {
            "client_secret_basic"
        },
        accounts: options.accounts,
        machine_claims: options.machine_claims,
        tls: options.op_tls,
        rotate_refresh_tokens: options.rotate_refresh_tokens,
        backchannel_logout_uri: options.backchannel_logout.then(|| {
            public_url
                .join("/api/auth/test/backchannel-logout")
                .unwrap()
        }),
    })
    .await;
    let provider = cfg.auth.providers.get_mut("test").unwrap();
    provider.metadata_url = op.metadata_url();
    provider.client_id = op::CLIENT_ID.into();
    provider.client_secret = stagepass::config::Secret::new(op::CLIENT_SECRET);
    provider.callback_url = callback;
    provider.token_signed_response_alg = vec![options.alg.into()];
    provider.scopes = ["openid", "profile", "email", "groups", "offline_access"]
        .map(String::from)
        .to_vec();
    if options.client_secret_post {
        provider.token_endpoint_auth_method = TokenEndpointAuthMethod::ClientSecretPost;
    }
    tweak(&mut cfg);
    let sp = start_on(public, cfg).await;
    if options.wait_until_ready {
        wait_until_ready(&sp).await;
    }
    World {
        up,
        op,
        sp,
        public_url,
        tls_roots,
        _tls_files: tls_files,
    }
}

/// Polls `/readyz` until discovery has finished (a wait, not a timing check).
pub async fn wait_until_ready(sp: &Stagepass) {
    for _ in 0..200 {
        if get(&sp.admin_url("/readyz")).await.status == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "stagepass never became ready: {}",
        get(&sp.admin_url("/readyz")).await.text()
    );
}

impl World {
    pub fn url(&self, path: &str) -> Url {
        self.public_url.join(path).unwrap()
    }

    /// From a redirect to the IdP, through its login form, up to (not
    /// including) the callback. Returns the callback URL.
    pub async fn log_in_at_idp(&self, agent: &mut Agent, authorize: &Url, login: &str) -> Url {
        let (form_url, form) = agent.follow(authorize, &[OP_HOST]).await;
        // With an IdP session from an earlier sign-in there is no form.
        if let Some(callback) =
            location(&form_url, &form.headers).filter(|u| u.host_str() == Some(SP_HOST))
        {
            return callback;
        }
        assert_eq!(
            form.status,
            200,
            "OP login form at {form_url}: {}",
            form.text()
        );
        let submitted = agent
            .post_form(
                &form_url,
                &[("prompt", "login"), ("login", login), ("password", "x")],
            )
            .await;
        let next = location(&form_url, &submitted.headers)
            .unwrap_or_else(|| panic!("login form did not redirect: {}", submitted.text()));
        let (last, reply) = agent.follow(&next, &[OP_HOST]).await;
        let callback = location(&last, &reply.headers).unwrap_or_else(|| {
            panic!(
                "OP did not redirect back: {} {}",
                reply.status,
                reply.text()
            )
        });
        assert_eq!(
            callback.host_str(),
            self.public_url.host_str(),
            "OP redirected to {callback}"
        );
        callback
    }

    /// A full browser sign-in starting at `path`. Returns the callback's reply.
    pub async fn sign_in(&self, agent: &mut Agent, path: &str, login: &str) -> Reply {
        let first = agent.get(&self.url(path)).await;
        assert_eq!(
            first.status,
            302,
            "an anonymous navigation is sent to sign in: {}",
            first.text()
        );
        let authorize = location(&self.url(path), &first.headers).unwrap();
        assert_eq!(authorize.host_str(), Some(OP_HOST));
        let callback = self.log_in_at_idp(agent, &authorize, login).await;
        agent.get(&callback).await
    }
}
