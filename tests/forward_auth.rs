//! stagepass as the sign-in decision behind a proxy that already fronts the
//! app: real nginx (`auth_request`) and real Caddy (`forward_auth`), with the
//! configurations the README gives, a browser signing in at the real OpenID
//! Provider through them.

mod support;

use support::agent::{Agent, location};
use support::peers::{self, Peer};
use support::world::{World, WorldOptions, world_with};
use support::*;
use url::Url;

/// stagepass behind a proxy at `port`: that is where browsers reach it, the
/// callback lives under the reserved `/.stagepass/` prefix, and the proxy
/// (on loopback) is trusted to describe the original request.
async fn behind_proxy(port: u16, options: WorldOptions) -> World {
    let public: Url = format!("http://127.0.0.1:{port}").parse().unwrap();
    let options = WorldOptions {
        public_url: Some(public),
        callback_path: "/.stagepass/callback",
        ..options
    };
    world_with(options, |cfg| {
        trust_loopback(cfg);
        use_test_catalog(cfg);
    })
    .await
}

/// The README's nginx configuration, with the addresses filled in.
fn nginx_server(port: u16, w: &World) -> String {
    let (sp, up) = (w.sp.public, w.up.addr);
    format!(
        r#"server {{
    listen 127.0.0.1:{port};

    # stagepass's own pages: sign-in start, callback, sign-out.
    location /.stagepass/ {{
        proxy_pass http://{sp};
        proxy_set_header Host $http_host;
    }}
    location = /.stagepass/auth {{
        internal;
        proxy_pass http://{sp};
        proxy_pass_request_body off;
        proxy_set_header Content-Length "";
        proxy_set_header X-Forwarded-Uri $request_uri;
        proxy_set_header X-Forwarded-Host $http_host;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Method $request_method;
    }}
    location / {{
        auth_request /.stagepass/auth;
        auth_request_set $sign_in $upstream_http_x_stagepass_sign_in;
        error_page 401 =302 $sign_in;

        auth_request_set $user $upstream_http_x_auth_request_user;
        auth_request_set $email $upstream_http_x_auth_request_email;
        auth_request_set $groups $upstream_http_x_auth_request_groups;
        auth_request_set $token $upstream_http_authorization;
        auth_request_set $assertion $upstream_http_x_stagepass_assertion;
        proxy_set_header X-Forwarded-User $user;
        proxy_set_header X-Forwarded-Email $email;
        proxy_set_header X-Forwarded-Groups $groups;
        proxy_set_header Authorization $token;
        proxy_set_header X-Stagepass-Assertion $assertion;

        # A refreshed session cookie goes back to the browser.
        auth_request_set $session_cookie $upstream_http_set_cookie;
        add_header Set-Cookie $session_cookie;

        proxy_pass http://{up};
    }}
}}"#
    )
}

/// The README's Caddyfile, with the addresses filled in.
fn caddy_site(port: u16, w: &World) -> String {
    let (sp, up) = (w.sp.public, w.up.addr);
    format!(
        r#"http://127.0.0.1:{port} {{
    handle /.stagepass/* {{
        reverse_proxy {sp}
    }}
    handle {{
        forward_auth {sp} {{
            uri /.stagepass/auth
            copy_headers X-Auth-Request-User>X-Forwarded-User X-Auth-Request-Email>X-Forwarded-Email X-Auth-Request-Groups>X-Forwarded-Groups Authorization X-Stagepass-Assertion
            @sign_in status 401
            handle_response @sign_in {{
                redir * {{rp.header.X-Stagepass-Sign-In}}
            }}
        }}
        reverse_proxy {up}
    }}
}}"#
    )
}

/// From a first visit of `page` through the proxy, through the sign-in at
/// the OP, back to `page`. Returns the proxy's final answer.
async fn sign_in_through(proxy: &Peer, w: &World, agent: &mut Agent, page: &str) -> Reply {
    let page = proxy.url().join(page).unwrap();
    let first = agent.get(&page).await;
    assert_eq!(first.status, 302, "{}: {}", first.text(), proxy.log());
    let start = location(&page, &first.headers).unwrap();
    assert_eq!(start.path(), "/.stagepass/start");
    let rd = start
        .query_pairs()
        .find(|(k, _)| k == "rd")
        .map(|(_, v)| v.into_owned());
    assert_eq!(
        rd.as_deref(),
        Some(page.as_str()),
        "the way back is the page asked for"
    );
    let to_idp = agent.get(&start).await;
    assert_eq!(to_idp.status, 302, "{}", to_idp.text());
    let authorize = location(&start, &to_idp.headers).unwrap();
    let callback = w.log_in_at_idp(agent, &authorize, "alice").await;
    assert_eq!(
        callback.origin(),
        proxy.url().origin(),
        "the callback goes through the proxy"
    );
    let back = agent.get(&callback).await;
    assert_eq!(location(&callback, &back.headers), Some(page.clone()));
    agent.get(&page).await
}

fn assert_identity_reached_upstream(w: &World) {
    let seen = w.up.controls.last();
    assert_eq!(seen.header("x-forwarded-user"), Some("alice"));
    assert_eq!(seen.header("x-forwarded-email"), Some("alice@example.com"));
    let token = seen
        .header("authorization")
        .expect("Backstage token copied");
    let (_, claims) = jwt::decode(token.strip_prefix("Bearer ").unwrap());
    assert_eq!(claims["sub"], "user:default/alice");
    assert!(seen.header("x-stagepass-assertion").is_some());
}

#[tokio::test]
async fn nginx_auth_request_signs_a_browser_in_and_hands_the_identity_upstream() {
    let port = free_port();
    let options = WorldOptions {
        // Every request is due for refresh: its new cookie must come back
        // through nginx.
        access_token_ttl: 30,
        accounts: serde_json::json!({"alice": {"preferred_username": "alice"}}),
        ..WorldOptions::default()
    };
    let w = behind_proxy(port, options).await;
    let nginx = peers::nginx(port, &nginx_server(port, &w)).await;
    let mut agent = Agent::new();
    let page = sign_in_through(&nginx, &w, &mut agent, "/docs/page?x=1&y=a%20b").await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(w.up.controls.last().uri, "/docs/page?x=1&y=a%20b");
    assert_identity_reached_upstream(&w);
    assert!(
        page.headers
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("stagepass=")),
        "the refreshed session reaches the browser: {:?}",
        page.headers
    );
}

#[tokio::test]
async fn caddy_forward_auth_signs_a_browser_in_and_hands_the_identity_upstream() {
    let port = free_port();
    let w = behind_proxy(port, WorldOptions::default()).await;
    let caddy = peers::caddy(port, &caddy_site(port, &w)).await;
    let mut agent = Agent::new();
    let page = sign_in_through(&caddy, &w, &mut agent, "/catalog?kind=component").await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert_identity_reached_upstream(&w);
}

#[tokio::test]
async fn only_trusted_proxies_get_an_answer_so_page_scripts_cannot_read_tokens() {
    // Signed in, but asking directly (a script on the site could): no
    // tokens, no identity, whatever forwarded headers say.
    let w = support::world::world(WorldOptions::default()).await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    let reply = agent
        .request(
            "GET",
            &w.url("/.stagepass/auth"),
            &[
                ("x-forwarded-uri", "/phish"),
                ("x-forwarded-host", "evil.example"),
            ],
            Default::default(),
        )
        .await;
    assert_eq!(reply.status, 403, "{}", reply.text());
    assert_eq!(reply.json()["error"]["name"], "forward_auth_untrusted");
    for header in [
        "authorization",
        "x-auth-request-user",
        "x-stagepass-assertion",
    ] {
        assert!(reply.headers.get(header).is_none(), "{header} leaked");
    }
}

#[tokio::test]
async fn a_trusted_proxy_cannot_send_sign_in_to_another_origin() {
    let w = world_with(WorldOptions::default(), |cfg| {
        trust_loopback(cfg);
    })
    .await;
    let ask = |host: &'static str| {
        anonymous("GET", &w.sp.url("/.stagepass/auth"))
            .header("x-forwarded-uri", "/wiki?a=1&b=2")
            .header("x-forwarded-host", host)
            .header("x-forwarded-proto", "http")
            .body(Default::default())
            .unwrap()
    };
    let rd = |reply: &Reply| -> String {
        let url: Url = reply.headers["x-stagepass-sign-in"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        url.query_pairs()
            .find(|(k, _)| k == "rd")
            .unwrap()
            .1
            .into_owned()
    };
    let own = w.public_url.host_str().unwrap().to_owned()
        + ":"
        + &w.public_url.port().unwrap().to_string();
    let own: &'static str = Box::leak(own.into_boxed_str());
    let reply = send(&client(), ask(own)).await;
    assert_eq!(rd(&reply), w.url("/wiki?a=1&b=2").as_str());
    let reply = send(&client(), ask("evil.example")).await;
    assert_eq!(rd(&reply), w.url("/").as_str());
}

#[tokio::test]
async fn a_signed_in_answer_carries_the_person_and_no_body() {
    let w = world_with(WorldOptions::default(), |cfg| {
        trust_loopback(cfg);
    })
    .await;
    let mut agent = Agent::new();
    w.sign_in(&mut agent, "/", "alice").await;
    let reply = agent
        .request("GET", &w.url("/.stagepass/auth"), &[], Default::default())
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.body.is_empty());
    assert!(reply.headers.get("x-auth-request-user").is_some());
    assert_eq!(reply.headers["x-auth-request-email"], "alice@example.com");
    assert_eq!(reply.headers["cache-control"], "no-store");
    // The rest of the reserved prefix is stagepass's, never the app's.
    let other = agent
        .request(
            "GET",
            &w.url("/.stagepass/anything"),
            &[],
            Default::default(),
        )
        .await;
    assert_eq!(other.status, 404);
    assert_eq!(w.up.controls.count(), 0, "nothing reached the upstream");
}

async fn ask(w: &World, agent: &mut Agent, uri: Option<&str>) -> Reply {
    let headers: Vec<(&str, &str)> = uri.map(|u| ("x-forwarded-uri", u)).into_iter().collect();
    agent
        .request(
            "GET",
            &w.url("/.stagepass/auth"),
            &headers,
            Default::default(),
        )
        .await
}

/// The same routes decide for forward auth as for proxied requests: the
/// proxy names the path, stagepass normalises it and applies its route.
/// No catalog here: groups are the IdP's (alice is in team-a).
#[tokio::test]
async fn routes_and_bearer_tokens_decide_forward_auth_on_the_path_the_proxy_names() {
    use stagepass::config::{AllowConfig, HeadersConfig, RouteBearer, RouteConfig};
    let route = RouteConfig::at;
    let routes = vec![
        RouteConfig {
            public: true,
            ..route("/healthz")
        },
        RouteConfig {
            public: true,
            headers: Some(HeadersConfig::default()),
            ..route("/status")
        },
        RouteConfig {
            allow: Some(AllowConfig {
                groups: vec!["team-b".into()],
                ..AllowConfig::default()
            }),
            ..route("/admin")
        },
        RouteConfig {
            bearer: RouteBearer::Passthrough,
            ..route("/external")
        },
    ];
    let options = WorldOptions {
        machine_claims: serde_json::json!({"groups": ["ci"]}),
        ..WorldOptions::default()
    };
    let w = world_with(options, move |cfg| {
        trust_loopback(cfg);
        cfg.stagepass.routes = routes;
        cfg.stagepass.bearer.audiences = vec![support::op::API_AUDIENCE.into()];
    })
    .await;
    let mut alice = Agent::new();
    w.sign_in(&mut alice, "/", "alice").await;
    let reply = ask(&w, &mut alice, Some("/docs")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.headers["x-auth-request-user"], "alice");
    for sneaky in ["/admin", "/healthz/../admin", "/%61dmin/x"] {
        let reply = ask(&w, &mut alice, Some(sneaky)).await;
        assert_eq!(reply.status, 403, "{sneaky}: {}", reply.text());
    }
    let mut stranger = Agent::new();
    let public = ask(&w, &mut stranger, Some("/healthz")).await;
    assert_eq!(public.status, 200);
    assert!(public.headers.get("x-auth-request-user").is_none());
    assert_eq!(ask(&w, &mut stranger, Some("/docs")).await.status, 401);
    // A public route that asks for headers names a visitor who is signed in.
    let named = ask(&w, &mut alice, Some("/status")).await;
    assert_eq!(named.headers["x-auth-request-user"], "alice");
    let anonymous_status = ask(&w, &mut stranger, Some("/status")).await;
    assert_eq!(anonymous_status.status, 200);
    assert!(
        anonymous_status
            .headers
            .get("x-auth-request-user")
            .is_none()
    );
    // Routes exist, so a proxy that does not name the path gets no answer
    // it could mistake for a decision.
    let blind = ask(&w, &mut alice, None).await;
    assert_eq!(blind.status, 400, "{}", blind.text());
    assert_eq!(blind.json()["error"]["name"], "forward_auth_needs_uri");
    // A CI job's token, through the proxy: no cookie, the machine answered.
    let token = w.op.machine_token(&[]).await;
    let with_token = |uri: &str, token: &str| {
        anonymous("GET", w.url("/.stagepass/auth").as_str())
            .header("x-forwarded-uri", uri)
            .header("authorization", format!("Bearer {token}"))
            .body(Default::default())
            .unwrap()
    };
    let reply = send(&client(), with_token("/docs", &token)).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.headers["x-auth-request-user"],
        support::op::MACHINE_ID
    );
    assert_eq!(reply.headers["x-auth-request-groups"], "ci");
    let refused = send(&client(), with_token("/docs", "not-a-jwt")).await;
    assert_eq!(refused.status, 401);
    // A passthrough route lets any bearer request through, with no identity.
    let through = send(&client(), with_token("/external/x", "not-a-jwt")).await;
    assert_eq!(through.status, 200);
    assert!(through.headers.get("x-auth-request-user").is_none());
}
