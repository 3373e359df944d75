//! stagepass: a reverse authenticating proxy sidecar.
//!
//! A browser without a session is signed in at an OpenID Provider; every
//! request is then forwarded to the app behind with the person's identity.
//!
//! # Layout
//!
//! Dependencies point one way, top to bottom:
//!
//! - [`server`]: listeners, routes, the admin port, the one error→response
//!   mapping, shutdown. Uses `gate`.
//! - [`gate`]: the per-request pipeline (session → refresh → identity →
//!   token → proxy). Composes the domain modules.
//! - Domain modules, which use only the bottom layer:
//!   - [`session`]: seal/open cookies (AES-GCM, HKDF, rotation), chunking,
//!     the login-flow cookie.
//!   - [`oidc`]: discovery and JWKS, authorize redirect, code exchange,
//!     refresh, ID-token checks.
//!   - [`identity`]: Backstage's sign-in resolvers and catalog sources, cached.
//!   - [`token`]: signing keys, the Backstage token, assertions, JWKS.
//!   - [`proxy`]: forwarding, hop-by-hop and identity-header hygiene.
//!   - [`revocation`]: sessions ended before their cookie expires, kept in
//!     memory and in sync across replicas through an optional Redis.
//! - Bottom layer: [`config`] (load, merge, substitute, validate),
//!   [`error`] (errors tagged by source), [`metrics`], [`body`],
//!   [`http_client`] (outbound HTTP shared by the domain modules), [`html`],
//!   [`cookie_header`] (the pieces of request `Cookie` headers),
//!   [`principal`] (the `Claims` and `Identity` types shared by `identity`
//!   and `token`), [`log_writer`] (log lines to stdout in batches), [`log_format`]
//!   (their JSON shape, the access line written directly).
//!
//! No domain module imports `gate` or `server`.

#![forbid(unsafe_code)]

pub mod body;
pub mod config;
pub mod cookie_header;
pub mod error;
pub mod gate;
pub mod html;
pub mod http_client;
pub mod identity;
pub mod log_format;
pub mod log_writer;
pub mod metrics;
pub mod oidc;
pub mod principal;
pub mod proxy;
pub mod revocation;
pub mod server;
pub mod session;
pub mod token;
