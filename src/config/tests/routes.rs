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
            "stagepass.routes[3].allow: lists nobody: add users, groups, emails or emailDomains (or remove allow)",
            "stagepass.routes[4].path: /x is already a route: only the first would ever match",
            "stagepass.routes[5].path: must be a plain path prefix such as /admin (no trailing /, no . or .. segments, no escapes), got \"/%61\"",
            "stagepass.routes[6].upstream: builtin:whoami can only be stagepass.upstream",
        ]
    );
}
