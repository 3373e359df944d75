//! Sign-in at an OpenID Provider: discovery and keys, the authorization
//! redirect (PKCE S256, state, nonce), code exchange, refresh, ID-token
//! checks, and the RP-initiated logout URL.
//!
//! This module knows nothing about cookies: it hands the gate a
//! [`PendingLogin`] to keep and takes it back at the callback.

mod bearer;
mod discovery;
mod logout_token;
mod signed_in;
mod verify;

use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreJwsSigningAlgorithm, CoreTokenResponse,
};
use openidconnect::{
    AuthType, AuthorizationCode, ClientId, ClientSecret, CsrfToken, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, Scope,
};
use sha2::Digest;
use url::Url;

use crate::config::{ProviderConfig, TokenEndpointAuthMethod};
use crate::error::{Error, Source};
use crate::http_client::{ApiClient, Outbound, error_chain};
use crate::metrics::Metrics;
use discovery::{Discovered, Discovery};
pub use logout_token::LogoutToken;
pub use signed_in::SignedIn;
use verify::{Expectations, Rejected};

/// What must survive the round trip to the IdP, kept by the caller.
#[derive(Clone)]
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// All three are secrets of one sign-in: never in a log.
impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin").finish_non_exhaustive()
    }
}

pub struct OidcProvider {
    config: ProviderConfig,
    algorithms: Vec<CoreJwsSigningAlgorithm>,
    api: ApiClient,
    discovery: Discovery,
    /// Refreshes in flight or just done, by refresh-token hash: concurrent
    /// requests of one session share one call to the IdP.
    refreshes: moka::future::Cache<[u8; 32], SignedIn>,
    metrics: Arc<Metrics>,
}

impl OidcProvider {
    /// `outbound` is how the IdP is reached (its `caFile` added).
    pub fn new(
        config: &ProviderConfig,
        outbound: &Outbound,
        metrics: Arc<Metrics>,
    ) -> Result<Arc<Self>, String> {
        let api = outbound.api(config.ca_file.as_deref(), config.timeout)?;
        Ok(Arc::new(OidcProvider {
            algorithms: config
                .token_signed_response_alg
                .iter()
                .filter_map(|a| parse_alg(a))
                .collect(),
            discovery: Discovery::new(config.metadata_url.clone(), api.clone()),
            api,
            config: config.clone(),
            refreshes: moka::future::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(30))
                .build(),
            metrics,
        }))
    }

    /// Starts discovery in the background; it retries until the IdP answers.
    pub fn spawn_discovery(self: &Arc<Self>) {
        let this = Arc::clone(self);
        tokio::spawn(async move { this.discovery.run_until_ready().await });
    }

    pub fn readiness(&self) -> Result<(), String> {
        self.discovery.current().map(|_| ())
    }

    /// The authorization URL to send the browser to, and what to remember.
    /// The authorization URL for a new sign-in. `prompt` (`select_account`
    /// for "sign in as someone else") overrides the configured one.
    pub fn begin(&self, prompt: Option<&str>) -> Result<(Url, PendingLogin), Error> {
        let found = self.discovered()?;
        let client = self.client(&found);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.config.scopes {
            if scope != "openid" {
                request = request.add_scope(Scope::new(scope.clone()));
            }
        }
        if let Some(prompt) = prompt.or(self.config.prompt.as_deref()) {
            request = request.add_extra_param("prompt", prompt.to_owned());
        }
        let (url, state, nonce) = request.url();
        let pending = PendingLogin {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        };
        Ok((url, pending))
    }

    /// Exchanges the code from the callback and checks the ID token.
    pub async fn finish(&self, code: &str, pending: &PendingLogin) -> Result<SignedIn, Error> {
        let found = self.discovered()?;
        let client = self.client(&found);
        let http = self.http();
        let exchange = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| idp_broken("token_endpoint_missing", e))?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()));
        let tokens = exchange
            .request_async(&http)
            .await
            .map_err(|e| self.token_error(&e))?;
        self.signed_in(&tokens, Some(&pending.nonce), None).await
    }

    /// Uses a refresh token; concurrent calls with the same token share one
    /// request to the IdP. Only successes are cached, so a short outage is
    /// retried by the next request. An outage answers 503 (`idp_unavailable`),
    /// a refused grant 401 (`refresh_failed`): callers keep the session on the
    /// first and end it on the second.
    pub async fn refresh(&self, refresh_token: &str) -> Result<SignedIn, Error> {
        let key: [u8; 32] = sha2::Sha256::digest(refresh_token.as_bytes()).into();
        let outcome = self
            .refreshes
            .try_get_with(key, self.refresh_once(refresh_token))
            .await;
        outcome.map_err(|err| {
            if err.status == StatusCode::SERVICE_UNAVAILABLE {
                return self.unavailable(err.detail.clone());
            }
            Error::new(
                Source::Idp,
                StatusCode::UNAUTHORIZED,
                "refresh_failed",
                "Your session could not be renewed; please sign in again.",
            )
            .with_detail(&err.detail)
        })
    }

    async fn refresh_once(&self, refresh_token: &str) -> Result<SignedIn, Error> {
        let found = self.discovered()?;
        let client = self.client(&found);
        let token = RefreshToken::new(refresh_token.to_owned());
        let tokens = client
            .exchange_refresh_token(&token)
            .map_err(|e| idp_broken("token_endpoint_missing", e))?
            .request_async(&self.http())
            .await
            .map_err(|e| self.token_error(&e))?;
        self.signed_in(&tokens, None, Some(refresh_token)).await
    }

    /// The IdP's `end_session_endpoint` URL for RP-initiated logout, if any.
    pub fn end_session_url(&self, id_token_hint: Option<&str>, post_logout: &Url) -> Option<Url> {
        let found = self.discovery.current().ok()?;
        let endpoint = found
            .metadata
            .additional_metadata()
            .end_session_endpoint
            .as_ref()?;
        let mut url = endpoint.url().clone();
        {
            let mut query = url.query_pairs_mut();
            if let Some(hint) = id_token_hint {
                query.append_pair("id_token_hint", hint);
            }
            query.append_pair("post_logout_redirect_uri", post_logout.as_str());
            query.append_pair("client_id", &self.config.client_id);
        }
        Some(url)
    }

    async fn signed_in(
        &self,
        tokens: &CoreTokenResponse,
        nonce: Option<&str>,
        previous_refresh: Option<&str>,
    ) -> Result<SignedIn, Error> {
        let id_token = tokens.extra_fields().id_token();
        let claims = match (id_token, nonce) {
            (Some(id_token), _) => Some(
                self.verify(id_token, nonce, Some(tokens.access_token()))
                    .await?,
            ),
            // A refresh response may omit the ID token (OIDC Core 12.2).
            (None, None) => None,
            (None, Some(_)) => return Err(rejected("the token response has no ID token")),
        };
        Ok(SignedIn::from_tokens(
            tokens,
            claims,
            id_token,
            previous_refresh,
            self.config.require_verified_email,
        ))
    }

    async fn verify(
        &self,
        token: &CoreIdToken,
        nonce: Option<&str>,
        access_token: Option<&openidconnect::AccessToken>,
    ) -> Result<serde_json::Value, Error> {
        let expect = Expectations {
            client_id: &self.config.client_id,
            algorithms: &self.algorithms,
            nonce,
            access_token,
        };
        let found = self.discovered()?;
        match verify::verify(token, &found, &expect) {
            Ok(claims) => return Ok(claims),
            Err(Rejected::Invalid(reason)) => return Err(rejected(&reason)),
            Err(Rejected::UnknownKey) => {}
        }
        // The IdP may have rotated its keys: fetch them once, then retry.
        self.metrics.record_unknown_key_id();
        self.discovery
            .refresh_keys(found.generation)
            .await
            .map_err(|e| self.unavailable(e))?;
        let found = self.discovered()?;
        match verify::verify(token, &found, &expect) {
            Ok(claims) => Ok(claims),
            Err(Rejected::UnknownKey) => {
                Err(rejected("no key in the IdP's JWKS matches the ID token"))
            }
            Err(Rejected::Invalid(reason)) => Err(rejected(&reason)),
        }
    }

    fn client(
        &self,
        found: &Discovered,
    ) -> openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        let auth_type = match self.config.token_endpoint_auth_method {
            TokenEndpointAuthMethod::ClientSecretBasic => AuthType::BasicAuth,
            TokenEndpointAuthMethod::ClientSecretPost => AuthType::RequestBody,
        };
        CoreClient::from_provider_metadata(
            found.metadata.clone(),
            ClientId::new(self.config.client_id.clone()),
            Some(ClientSecret::new(
                self.config.client_secret.expose().to_owned(),
            )),
        )
        .set_redirect_uri(RedirectUrl::from_url(self.config.callback_url.clone()))
        .set_auth_type(auth_type)
    }

    fn http(
        &self,
    ) -> impl Fn(
        openidconnect::HttpRequest,
    ) -> std::pin::Pin<
        Box<
            dyn Future<Output = Result<openidconnect::HttpResponse, crate::http_client::ApiError>>
                + Send,
        >,
    > {
        let api = self.api.clone();
        move |req| {
            let api = api.clone();
            Box::pin(async move { api.send(req).await })
        }
    }

    fn discovered(&self) -> Result<Arc<Discovered>, Error> {
        self.discovery
            .current()
            .map_err(|reason| self.unavailable(reason))
    }

    fn unavailable(&self, reason: String) -> Error {
        self.metrics.record_idp_error("unavailable");
        Error::new(
            Source::Idp,
            StatusCode::SERVICE_UNAVAILABLE,
            "idp_unavailable",
            "Sign-in is unavailable right now because the identity provider cannot be reached or is failing. Please try again shortly.",
        )
        .with_detail(reason)
    }

    fn token_error(
        &self,
        err: &openidconnect::RequestTokenError<
            crate::http_client::ApiError,
            openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>,
        >,
    ) -> Error {
        use openidconnect::RequestTokenError as R;
        match err {
            // RFC 6749 5.2 / OIDC: the IdP itself is in trouble, not the grant.
            R::ServerResponse(resp) if is_outage(resp.error()) => {
                self.unavailable(error_chain(err))
            }
            R::ServerResponse(_) => {
                self.metrics.record_idp_error("token_refused");
                Error::new(
                    Source::Idp,
                    StatusCode::UNAUTHORIZED,
                    "sign_in_refused",
                    "The identity provider refused this sign-in (the link may have been used already). Please sign in again.",
                )
                .with_detail(error_chain(err))
            }
            R::Request(_) => self.unavailable(error_chain(err)),
            _ => {
                self.metrics.record_idp_error("token_invalid_response");
                idp_broken("token_invalid_response", error_chain(err))
            }
        }
    }
}

fn is_outage(code: &openidconnect::core::CoreErrorResponseType) -> bool {
    matches!(code.as_ref(), "temporarily_unavailable" | "server_error")
}

fn parse_alg(name: &str) -> Option<CoreJwsSigningAlgorithm> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).ok()
}

fn rejected(reason: &str) -> Error {
    Error::new(
        Source::Idp,
        StatusCode::UNAUTHORIZED,
        "id_token_rejected",
        "The sign-in response could not be verified. Please sign in again.",
    )
    .with_detail(reason)
}

/// RFC 6750's `invalid_token`: the token is not one stagepass accepts.
pub fn invalid_token(reason: &str) -> Error {
    Error::new(
        Source::Client,
        StatusCode::UNAUTHORIZED,
        "invalid_token",
        format!("The bearer token is not accepted: it {reason}."),
    )
}

fn idp_broken(code: &'static str, detail: impl std::fmt::Display) -> Error {
    Error::new(
        Source::Idp,
        StatusCode::BAD_GATEWAY,
        code,
        "The identity provider answered in a way stagepass cannot use.",
    )
    .with_detail(detail)
}
