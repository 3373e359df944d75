//! `stagepass.routes`: public paths, per-route upstreams and allow rules,
//! decided on the normalised path, end to end with the real OpenID Provider.

mod support;

use bytes::Bytes;
use stagepass::config::{AllowConfig, Config, HeadersConfig, RouteConfig};
use support::agent::{Agent, location};
use support::world::{OP_HOST, World, WorldOptions, world_with};
use support::*;

fn route(path: &str) -> RouteConfig {
    RouteConfig::at(path)
}

fn team_a_only(groups: &[&str]) -> Option<AllowConfig> {
    Some(AllowConfig {
        groups: groups.iter().map(|g| g.to_string()).collect(),
        ..AllowConfig::default()
    })
}

async fn with_routes(catalog: bool, routes: Vec<RouteConfig>) -> World {
    world_with(WorldOptions::default(), move |cfg: &mut Config| {
        if catalog {
            use_test_catalog(cfg);
        }
        cfg.stagepass.routes = routes;
    })
    .await
}

async fn status(agent: &mut Agent, w: &World, path: &str) -> u16 {
    let url = format!("{}{}", w.public_url.as_str().trim_end_matches('/'), path);
    agent
        .request(
            "GET",
            &url.parse().unwrap(),
            &[("accept", "application/json")],
            Bytes::new(),
        )
        .await
        .status
        .as_u16()
}

#[tokio::test]
async fn a_group_rule_admits_members_and_refuses_others_on_the_normalised_path() {
    let admin = RouteConfig {
        allow: team_a_only(&["group:default/team-a"]),
        ..route("/admin")
    };
    let w = with_routes(true, vec![admin]).await;
    let mut alice = Agent::new();
    w.sign_in(&mut alice, "/", "alice").await;
    let mut bob = Agent::new();
    w.sign_in(&mut bob, "/", "bob").await;
    assert_eq!(status(&mut alice, &w, "/admin/users").await, 200);
    let seen = w.up.controls.count();
    // Sent raw (a URL library would resolve the dots before sending).
    let cookie = format!(
        "stagepass={}",
        bob.cookie(support::world::SP_HOST, "stagepass").unwrap()
    );
    for sneaky in [
        "/admin",
        "/admin/x",
        "/public/../admin",
        "/public/%2e%2e/admin/x",
        "//admin",
        "/%61dmin",
    ] {
        let req = anonymous("GET", &format!("http://{}{sneaky}", w.sp.public))
            .header("cookie", &cookie)
            .header("accept", "application/json")
            .body(Default::default())
            .unwrap();
        let reply = send(&client(), req).await;
        assert_eq!(reply.status, 403, "{sneaky}");
        assert_eq!(reply.json()["error"]["name"], "route_forbidden", "{sneaky}");
    }
    assert_eq!(
        w.up.controls.count(),
        seen,
        "nothing of bob's reached the app"
    );
    // Segment-wise: /administrator is another path.
    assert_eq!(status(&mut bob, &w, "/administrator").await, 200);
    // The route in another spelling, which the app may read as the route
    // (Express ignores case; Java servers drop `;parameters`), is refused
    // for everyone rather than matched to a broader rule.
    let seen = w.up.controls.count();
    for spelling in [
        "/ADMIN",
        "/Admin/users",
        "/admin;a/x",
        "/admin;jsessionid=1",
        // An empty segment to those servers, merged away: refused as a path.
        "/;a/admin",
    ] {
        for agent in [&mut bob, &mut alice] {
            let reply = agent
                .request(
                    "GET",
                    &w.url(spelling),
                    &[("accept", "application/json")],
                    Bytes::new(),
                )
                .await;
            assert_eq!(reply.status, 400, "{spelling}");
            let name = reply.json()["error"]["name"].clone();
            assert!(
                name == "ambiguous_path" || name == "bad_path",
                "{spelling}: {name}"
            );
        }
    }
    assert_eq!(
        w.up.controls.count(),
        seen,
        "no other spelling reached the app"
    );
    let page = bob.get(&w.url("/admin")).await;
    assert_eq!(page.status, 403);
    let text = page.text();
    assert!(
        text.contains("/admin is only for members of group:default/team-a"),
        "{text}"
    );
    assert!(
        bob.cookie(support::world::SP_HOST, "stagepass").is_some(),
        "a route refusal keeps the session"
    );
}

#[tokio::test]
async fn without_a_catalog_the_idps_groups_decide() {
    let ops = RouteConfig {
        allow: team_a_only(&["team-a"]),
        ..route("/ops")
    };
    let w = with_routes(false, vec![ops]).await;
    let mut alice = Agent::new();
    w.sign_in(&mut alice, "/", "alice").await; // the test IdP gives groups: [team-a]
    assert_eq!(status(&mut alice, &w, "/ops").await, 200);
}

#[tokio::test]
async fn a_public_route_needs_no_session_and_still_strips_identity_headers() {
    let health = RouteConfig {
        public: true,
        ..route("/health")
    };
    let w = with_routes(false, vec![health]).await;
    let mut stranger = Agent::new();
    let reply = stranger
        .request(
            "GET",
            &w.url("/health/live"),
            &[
                ("x-forwarded-user", "admin"),
                ("authorization", "Bearer forged"),
            ],
            Bytes::new(),
        )
        .await;
    assert_eq!(reply.status, 200);
    let seen = w.up.controls.last();
    assert_eq!(seen.header("x-forwarded-user"), None);
    assert_eq!(
        seen.header("authorization"),
        Some("Bearer forged"),
        "not stagepass's header here"
    );
    // Next to it, everything else still needs sign-in.
    let first = stranger.get(&w.url("/healthz")).await;
    assert_eq!(
        location(&w.url("/"), &first.headers).unwrap().host_str(),
        Some(OP_HOST)
    );
}

#[tokio::test]
async fn a_route_can_send_its_requests_to_another_upstream() {
    let other = upstream::start().await;
    let app_b = RouteConfig {
        upstream: Some(other.url()),
        ..route("/app-b")
    };
    let w = with_routes(false, vec![app_b]).await;
    let mut alice = Agent::new();
    w.sign_in(&mut alice, "/", "alice").await;
    assert_eq!(status(&mut alice, &w, "/app-b/page").await, 200);
    assert_eq!(other.controls.last().uri, "/app-b/page");
    assert_eq!(
        other.controls.last().header("x-forwarded-user"),
        Some("alice")
    );
    let before = other.controls.count();
    assert_eq!(status(&mut alice, &w, "/app-c").await, 200);
    assert_eq!(
        other.controls.count(),
        before,
        "other paths go to the default upstream"
    );
}

#[tokio::test]
async fn a_claim_rule_reads_the_idps_custom_claim_kept_in_the_session() {
    let finance = RouteConfig {
        allow: Some(AllowConfig {
            claims: vec![("department".into(), "finance".into())],
            ..AllowConfig::default()
        }),
        ..route("/finance")
    };
    let options = WorldOptions {
        accounts: serde_json::json!({"alice": {"department": "finance"}, "bob": {"department": "sales"}}),
        ..WorldOptions::default()
    };
    let w = world_with(options, move |cfg: &mut Config| {
        cfg.stagepass.routes = vec![finance];
    })
    .await;
    let mut alice = Agent::new();
    w.sign_in(&mut alice, "/", "alice").await;
    let mut bob = Agent::new();
    w.sign_in(&mut bob, "/", "bob").await;
    assert_eq!(status(&mut alice, &w, "/finance/reports").await, 200);
    let page = bob.get(&w.url("/finance")).await;
    assert_eq!(page.status, 403);
    assert!(
        page.text()
            .contains("only for people whose sign-in says department=finance"),
        "{}",
        page.text()
    );
}

#[tokio::test]
async fn a_public_route_that_asks_for_headers_names_a_visitor_who_is_signed_in() {
    let status_page = RouteConfig {
        public: true,
        headers: Some(HeadersConfig::default()),
        ..route("/status")
    };
    let w = with_routes(false, vec![status_page]).await;
    let mut alice = Agent::new();
    w.sign_in(&mut alice, "/", "alice").await;
    let reply = alice
        .request(
            "GET",
            &w.url("/status"),
            &[("x-forwarded-user", "admin")],
            Bytes::new(),
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        w.up.controls.last().header("x-forwarded-user"),
        Some("alice")
    );
    let mut stranger = Agent::new();
    let reply = stranger
        .request(
            "GET",
            &w.url("/status"),
            &[("x-forwarded-user", "admin")],
            Bytes::new(),
        )
        .await;
    assert_eq!(reply.status, 200, "still public");
    assert_eq!(w.up.controls.last().header("x-forwarded-user"), None);
}

/// Decoded claims of the assertion the upstream received.
fn assertion_claims(seen: &upstream::Seen) -> serde_json::Value {
    use base64::Engine;
    let token = seen.header("x-stagepass-assertion").expect("an assertion");
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

#[tokio::test]
async fn each_upstream_gets_assertions_for_itself_and_errors_name_the_route() {
    let app_b = upstream::start().await;
    let app_c = upstream::start().await;
    let routes = vec![
        RouteConfig {
            upstream: Some(app_b.url()),
            ..route("/app-b")
        },
        RouteConfig {
            upstream: Some(app_c.url()),
            assertion_audience: Some("app-c".into()),
            ..route("/app-c")
        },
        RouteConfig {
            upstream: Some(format!("http://127.0.0.1:{}", free_port()).parse().unwrap()),
            ..route("/gone")
        },
    ];
    let w = with_routes(true, routes).await;
    let mut alice = Agent::new();
    w.sign_in(&mut alice, "/", "alice").await;
    assert_eq!(status(&mut alice, &w, "/app-b/x").await, 200);
    assert_eq!(status(&mut alice, &w, "/app-c/x").await, 200);
    assert_eq!(status(&mut alice, &w, "/x").await, 200);
    let origin = |url: url::Url| url.origin().ascii_serialization();
    assert_eq!(
        assertion_claims(&app_b.controls.last())["aud"],
        origin(app_b.url())
    );
    assert_eq!(assertion_claims(&app_c.controls.last())["aud"], "app-c");
    // Only the default upstream gets the Backstage token: another app could
    // use it as the person, against Backstage and against stagepass.
    assert_eq!(app_b.controls.last().header("authorization"), None);
    assert!(
        w.up.controls
            .last()
            .header("authorization")
            .is_some_and(|a| a.starts_with("Bearer ey"))
    );
    assert_eq!(
        assertion_claims(&w.up.controls.last())["aud"],
        origin(w.up.url())
    );
    // Same person, each assertion only for its own app.
    assert_eq!(
        assertion_claims(&app_b.controls.last())["sub"],
        assertion_claims(&w.up.controls.last())["sub"]
    );
    let page = alice.get(&w.url("/gone/page")).await;
    assert_eq!(page.status, 502);
    assert!(page.text().contains("(route /gone)"), "{}", page.text());
}
