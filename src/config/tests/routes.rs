//! `stagepass.routes`: what a route may say, and every mistake with its path.

use super::{load_over, ok, problems_over};

#[test]
fn routes_are_read_with_their_rules() {
    let config = ok(load_over(
        "stagepass:\n  routes:\n    - {path: /health, public: true}\n    - path: /admin\n      upstream: http://127.0.0.1:9000/admin-app\n      allow: {groups: [group:default/platform], emailDomains: [Ops.Example.com]}\n",
    ))
    .config;
    let routes = &config.stagepass.routes;
    assert_eq!(routes.len(), 2);
    assert!(routes[0].public && routes[0].allow.is_none());
    let allow = routes[1].allow.as_ref().unwrap();
    assert_eq!(allow.groups, ["group:default/platform"]);
    assert_eq!(allow.email_domains, ["ops.example.com"]);
    assert_eq!(
        routes[1].upstream.as_ref().unwrap().as_str(),
        "http://127.0.0.1:9000/admin-app"
    );
}

#[test]
fn every_mistake_is_named_with_its_path() {
    let errors = problems_over(
        "stagepass:\n  routes:\n    - {path: /admin/, alow: {}}\n    - {path: /a/../b}\n    - {path: /x, public: true, allow: {users: [u]}}\n    - {path: /y, allow: {}}\n    - {path: /x}\n    - {path: '/%61'}\n    - {path: /w, upstream: 'builtin:whoami'}\n",
    );
    assert_eq!(
        errors,
        [
            "stagepass.routes[0].alow: unknown key (did you mean allow?)",
            "stagepass.routes[0].path: must be a plain path prefix such as /admin (no trailing /, no . or .. segments, no escapes), got \"/admin/\"",
            "stagepass.routes[1].path: must be a plain path prefix such as /admin (no trailing /, no . or .. segments, no escapes), got \"/a/../b\"",
            "stagepass.routes[2].allow: a public route lets everyone in; allow rules on it would never be checked",
            "stagepass.routes[3].allow: lists nobody: add users, groups, emails, emailDomains or claims (or remove allow)",
            "stagepass.routes[4].path: /x is already a route: only the first would ever match",
            "stagepass.routes[5].path: must be a plain path prefix such as /admin (no trailing /, no . or .. segments, no escapes), got \"/%61\"",
            "stagepass.routes[6].upstream: builtin:whoami can only be stagepass.upstream",
        ]
    );
}

#[test]
fn bearer_clients_claims_headers_and_audiences_are_read() {
    let config = ok(load_over(
        "stagepass:\n  bearer: {audiences: [https://api.example.com], requiredScope: 'api:read'}\n  routes:\n    - path: /api/external\n      bearer: passthrough\n    - path: /ops\n      upstream: http://127.0.0.1:9001\n      headers: {user: email}\n      allow: {claims: {department: platform, admin: true}}\n    - {path: /legacy, upstream: http://127.0.0.1:9002, assertion: {audience: legacy-app}}\n",
    ))
    .config;
    let sp = &config.stagepass;
    assert!(sp.bearer.enabled);
    assert_eq!(sp.bearer.audiences, ["https://api.example.com"]);
    assert_eq!(sp.bearer.required_scope.as_deref(), Some("api:read"));
    let routes = &sp.routes;
    assert_eq!(routes[0].bearer, crate::config::RouteBearer::Passthrough);
    assert_eq!(routes[1].bearer, crate::config::RouteBearer::Verify);
    assert_eq!(
        routes[1].headers.as_ref().unwrap().user,
        crate::config::UserValue::Email
    );
    assert_eq!(
        routes[1].allow.as_ref().unwrap().claims,
        [
            ("admin".to_owned(), "true".to_owned()),
            ("department".to_owned(), "platform".to_owned())
        ]
    );
    assert_eq!(routes[2].assertion_audience.as_deref(), Some("legacy-app"));
    assert_eq!(sp.policy_claims(), ["admin", "department"]);
}

#[test]
fn bearer_and_route_mistakes_are_named_with_their_paths() {
    let mut errors = problems_over(
        "stagepass:\n  bearer: {audiences: [], requiredScope: 'a b', enabled: yes-please, audience: x}\n  routes:\n    - {path: /a, bearer: trust, assertion: {audiance: x}}\n    - {path: /b, public: true, bearer: passthrough}\n    - {path: /c, allow: {claims: {groups: [a, b]}}, headers: {user: name}}\n    - {path: /d, bearer: passthrough, allow: {users: [u]}, backstageToken: maybe}\n    - {path: /e, assertion: {audience: backstage}}\n",
    );
    errors.sort();
    assert_eq!(
        errors,
        [
            "stagepass.bearer.audience: unknown key (did you mean audiences?)",
            "stagepass.bearer.audiences: lists no audience: name the aud of the IdP's API tokens, or remove it",
            "stagepass.bearer.enabled: expected true or false, got \"yes-please\"",
            "stagepass.bearer.requiredScope: expected one word without spaces, got \"a b\"",
            "stagepass.routes[0].assertion.audiance: unknown key (did you mean audience?)",
            "stagepass.routes[0].assertion.audience: missing",
            "stagepass.routes[0].bearer: expected verify or passthrough, got \"trust\"",
            "stagepass.routes[1].bearer: a public route already forwards every request; passthrough changes nothing there",
            "stagepass.routes[2].allow.claims.groups: expected a string, got a list",
            "stagepass.routes[2].allow: lists nobody: add users, groups, emails, emailDomains or claims (or remove allow)",
            "stagepass.routes[2].headers.user: expected sub, preferred_username, email or entity, got \"name\"",
            "stagepass.routes[3].allow: bearer: passthrough lets any bearer request through unchecked; allow rules would not hold there",
            "stagepass.routes[3].backstageToken: expected true or false, got a string",
            "stagepass.routes[4].assertion.audience: backstage is the audience of Backstage tokens; an assertion must not pass for one",
        ]
    );
}

#[test]
fn listing_the_sign_in_client_id_as_an_api_audience_warns() {
    let loaded = ok(load_over(
        "stagepass:\n  bearer: {audiences: [stagepass]}\n  routes:\n    - {path: /wiki, upstream: http://wiki:8080, backstageToken: true}\n",
    ));
    let warnings: Vec<String> = loaded.warnings.iter().map(|w| w.to_string()).collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("stagepass.bearer.audiences: lists the sign-in clientId")),
        "{warnings:?}"
    );
    assert_eq!(
        loaded.config.stagepass.routes[0].backstage_token,
        Some(true)
    );
}
