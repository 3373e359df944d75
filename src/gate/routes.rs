//! Which requests stagepass answers itself, and what kind of client asks.

use http::Method;
use http::header::{self, HeaderMap};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /.well-known/stagepass/jwks.json`: the keys stagepass signs with.
    Jwks,
    /// `GET /api/auth/<id>/start`: begin a sign-in.
    Start,
    /// The callback URL's path (default `/api/auth/<id>/handler/frame`).
    Callback,
    /// `/api/auth/<id>/logout`: POST for API clients, GET for browsers.
    Logout,
    /// `GET /api/auth/<id>/refresh`: the session as Backstage's frontend reads it.
    Refresh,
    /// `/.stagepass/auth`: the forward-auth decision for nginx, Caddy, Traefik.
    ForwardAuth,
    /// `POST /api/auth/<id>/backchannel-logout`: the IdP ends sessions.
    BackchannelLogout,
    /// Any other path under `/.stagepass/`: reserved, answered 404.
    Reserved,
    /// Everything else: needs a session, then goes to the upstream.
    Protected,
}

/// Public; not under `/api/auth/` so it never shadows Backstage's own
/// `/api/auth/.well-known/jwks.json` in front of a Backstage backend.
pub const JWKS_PATH: &str = "/.well-known/stagepass/jwks.json";

/// Paths under this prefix are stagepass's and never reach the upstream, so
/// a proxy in front can route the whole prefix to stagepass.
pub const RESERVED_PREFIX: &str = "/.stagepass/";

pub struct AuthRoutes {
    prefix: String,
    callback_path: String,
}

impl AuthRoutes {
    pub fn new(provider_id: &str, callback_path: &str) -> Self {
        AuthRoutes {
            prefix: format!("/api/auth/{provider_id}/"),
            callback_path: callback_path.to_owned(),
        }
    }

    pub fn classify(&self, path: &str) -> Route {
        if path == JWKS_PATH {
            return Route::Jwks;
        }
        if path == self.callback_path {
            return Route::Callback;
        }
        if let Some(own) = path.strip_prefix(RESERVED_PREFIX) {
            return match own {
                "auth" => Route::ForwardAuth,
                "start" => Route::Start,
                "logout" => Route::Logout,
                _ => Route::Reserved,
            };
        }
        match path.strip_prefix(&self.prefix) {
            Some("start") => Route::Start,
            Some("logout") => Route::Logout,
            Some("refresh") => Route::Refresh,
            Some("backchannel-logout") => Route::BackchannelLogout,
            _ => Route::Protected,
        }
    }

    pub fn is_own(&self, path: &str) -> bool {
        self.classify(path) != Route::Protected
    }

    pub fn callback_path(&self) -> &str {
        &self.callback_path
    }

    pub fn start_path(&self) -> String {
        format!("{}start", self.prefix)
    }

    pub fn logout_path(&self) -> String {
        format!("{}logout", self.prefix)
    }
}

/// A top-level browser navigation: the only kind of request that may be
/// redirected to the IdP. Everything else gets a 401 it can act on, because
/// a redirect answering `fetch()` or an API call only produces CORS noise.
pub fn is_navigation(method: &Method, headers: &HeaderMap) -> bool {
    if method != Method::GET && method != Method::HEAD {
        return false;
    }
    if headers.contains_key("x-requested-with") {
        return false;
    }
    if let Some(mode) = headers.get("sec-fetch-mode") {
        return mode == "navigate";
    }
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_own_paths_exactly() {
        let routes = AuthRoutes::new("oidc", "/api/auth/oidc/handler/frame");
        assert_eq!(routes.classify("/api/auth/oidc/start"), Route::Start);
        assert_eq!(
            routes.classify("/api/auth/oidc/handler/frame"),
            Route::Callback
        );
        assert_eq!(routes.classify("/api/auth/oidc/logout"), Route::Logout);
        assert_eq!(routes.classify("/api/auth/oidc/refresh"), Route::Refresh);
        assert_eq!(routes.classify("/api/auth/oidc/start/x"), Route::Protected);
        assert_eq!(routes.classify("/api/auth/github/start"), Route::Protected);
    }

    #[test]
    fn navigation_needs_get_and_html() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, "text/html,*/*".parse().unwrap());
        assert!(is_navigation(&Method::GET, &h));
        assert!(!is_navigation(&Method::POST, &h));
        h.insert("x-requested-with", "XMLHttpRequest".parse().unwrap());
        assert!(!is_navigation(&Method::GET, &h));
        let mut api = HeaderMap::new();
        api.insert(header::ACCEPT, "application/json".parse().unwrap());
        assert!(!is_navigation(&Method::GET, &api));
    }
}
