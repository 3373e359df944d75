//! The per-request pipeline: session → refresh → identity → token → proxy.
//!
//! Each phase is a named step over a request context; today only the proxy
//! phase exists, and authentication slots in front of it.

mod redirect;

use std::sync::Arc;

use http::header::HeaderName;
use http::{Request, Response};
use hyper::body::Incoming;

use crate::body::Body;
use crate::config::Config;
use crate::error::Error;
use crate::metrics::Metrics;
use crate::proxy::{Forwarder, Injected, Peer};

pub struct Gate {
    forwarder: Forwarder,
    /// Headers stagepass owns and injects, stripped from every client request.
    owned_headers: Vec<HeaderName>,
}

impl Gate {
    pub fn new(config: &Config, metrics: Arc<Metrics>) -> Result<Self, Error> {
        Ok(Gate {
            forwarder: Forwarder::new(&config.stagepass, metrics),
            owned_headers: vec![http::header::AUTHORIZATION],
        })
    }

    /// Runs one request through the pipeline.
    pub async fn handle(
        &self,
        req: Request<Incoming>,
        peer: Peer,
    ) -> Result<Response<Body>, Error> {
        self.forwarder
            .forward(req, peer, &self.owned_headers, Injected::default())
            .await
    }

    /// Whether `path` is one of stagepass's own auth endpoints.
    pub fn is_auth_route(&self, path: &str) -> bool {
        path.starts_with("/api/auth/")
    }

    /// `Ok` when stagepass can serve sign-ins; otherwise why not.
    pub fn readiness(&self) -> Result<(), String> {
        Ok(())
    }
}
