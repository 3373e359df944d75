//! Defaults, every validation rule with its exact path, and all problems at once.

use std::time::Duration;

use super::{Fixture, MINIMAL, load_over, ok, problems, problems_over, provider_overlay};
use crate::config::TokenEndpointAuthMethod;

#[test]
fn every_default_applies() {
    let config = ok(load_over("")).config;
    let stagepass = &config.stagepass;
    assert_eq!(stagepass.listen.to_string(), "0.0.0.0:7000");
    assert_eq!(stagepass.admin.listen.to_string(), "127.0.0.1:9090");
    assert!(stagepass.tls.is_none());
    assert!(stagepass.trusted_proxies.is_empty());
    assert!(stagepass.allowed_redirect_origins.is_empty());
    assert_eq!(stagepass.timeouts.connect, Duration::from_secs(5));
    assert_eq!(stagepass.timeouts.response_headers, Duration::from_secs(60));
    assert_eq!(stagepass.timeouts.idle, Duration::from_secs(90));
    assert_eq!(stagepass.shutdown_grace_period, Duration::from_secs(25));
    assert_eq!(stagepass.max_request_header_bytes, 16384);
    assert_eq!(
        stagepass.cookie_name, "__Host-stagepass",
        "https publicUrl: cookies no sibling subdomain can plant"
    );
    assert_eq!(config.auth.environment, "development");
    assert_eq!(config.auth.session_secrets.len(), 1);

    let provider = &config.auth.providers["my-auth-provider"];
    assert_eq!(
        provider.callback_url.as_str(),
        "https://portal.example.com/api/auth/my-auth-provider/handler/frame"
    );
    assert_eq!(
        provider.token_endpoint_auth_method,
        TokenEndpointAuthMethod::ClientSecretBasic
    );
    assert_eq!(provider.token_signed_response_alg, ["RS256"]);
    assert_eq!(provider.scopes, ["openid", "profile", "email"]);
    assert_eq!(provider.prompt, None);
    assert_eq!(provider.session_duration, Duration::from_secs(24 * 3600));
    assert_eq!(provider.timeout, Duration::from_secs(10));
    assert!(!provider.require_verified_email);
}

#[test]
fn every_setting_is_read() {
    let fixture = Fixture::new();
    fixture.write("base.yaml", MINIMAL);
    fixture.write("cert.pem", "c");
    fixture.write("key.pem", "k");
    fixture.write(
        "over.yaml",
        "
stagepass:
  listen: '[::1]:8000'
  publicUrl: https://portal.example.com/
  upstream: https://app.internal:8443/prefix
  admin: {listen: localhost:9999}
  tls: {certFile: cert.pem, keyFile: key.pem}
  trustedProxies: [10.0.0.0/8, 192.168.1.7, '::1']
  allowedRedirectOrigins: [https://other.example.com, 'http://localhost:3000/']
  timeouts: {connect: 1s, responseHeaders: 2m, idle: PT3M}
  shutdownGracePeriod: 0s
  maxRequestHeaderBytes: 1024
  cookieName: my_cookie-1
auth:
  environment: production
  session:
    secret: [0123456789abcdef0123456789abcdef, ffffffffffffffffffffffffffffffffff]
  providers:
    my-auth-provider:
      production:
        metadataUrl: http://127.0.0.5:8080/.well-known/openid-configuration
        clientId: 12345
        clientSecret: s
        callbackUrl: https://portal.example.com/cb
        tokenEndpointAuthMethod: client_secret_post
        tokenSignedResponseAlg: [ES256, EdDSA]
        scope: openid groups  offline_access
        additionalScopes: groups extra
        prompt: consent
        sessionDuration: {hours: 8}
        timeout: 500ms
        signIn: {resolvers: [{resolver: emailMatchingUserEntityProfileEmail}], requireVerifiedEmail: true}
",
    );
    let config = ok(fixture.load(&["base.yaml", "over.yaml"], &[])).config;
    let stagepass = &config.stagepass;
    assert_eq!(stagepass.listen.to_string(), "[::1]:8000");
    assert_eq!(stagepass.public_url.as_str(), "https://portal.example.com/");
    assert_eq!(stagepass.upstream.path(), "/prefix");
    assert_eq!(stagepass.admin.listen.to_string(), "127.0.0.1:9999");
    assert!(
        stagepass
            .tls
            .as_ref()
            .unwrap()
            .cert_file
            .ends_with("cert.pem")
    );
    let proxies: Vec<String> = stagepass
        .trusted_proxies
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(proxies, ["10.0.0.0/8", "192.168.1.7/32", "::1/128"]);
    let origins: Vec<String> = stagepass
        .allowed_redirect_origins
        .iter()
        .map(|o| o.ascii_serialization())
        .collect();
    assert_eq!(
        origins,
        ["https://other.example.com", "http://localhost:3000"]
    );
    assert_eq!(
        stagepass.timeouts.response_headers,
        Duration::from_secs(120)
    );
    assert_eq!(stagepass.timeouts.idle, Duration::from_secs(180));
    assert_eq!(stagepass.shutdown_grace_period, Duration::ZERO);
    assert_eq!(stagepass.max_request_header_bytes, 1024);
    assert_eq!(stagepass.cookie_name, "my_cookie-1");
    assert_eq!(config.auth.environment, "production");
    let secrets: Vec<&str> = config
        .auth
        .session_secrets
        .iter()
        .map(|s| s.expose())
        .collect();
    assert_eq!(secrets[1], "ffffffffffffffffffffffffffffffffff");

    let provider = &config.auth.providers["my-auth-provider"];
    assert_eq!(provider.client_id, "12345");
    assert_eq!(provider.client_secret.expose(), "s");
    assert_eq!(
        provider.callback_url.as_str(),
        "https://portal.example.com/cb"
    );
    assert_eq!(
        provider.token_endpoint_auth_method,
        TokenEndpointAuthMethod::ClientSecretPost
    );
    assert_eq!(provider.token_signed_response_alg, ["ES256", "EdDSA"]);
    assert_eq!(
        provider.scopes,
        [
            "openid",
            "profile",
            "email",
            "groups",
            "offline_access",
            "extra"
        ]
    );
    assert_eq!(provider.prompt.as_deref(), Some("consent"));
    assert_eq!(provider.session_duration, Duration::from_secs(8 * 3600));
    assert_eq!(provider.timeout, Duration::from_millis(500));
    assert!(provider.require_verified_email);
}

#[test]
fn prompt_auto_means_none_and_additional_scopes_may_be_a_list() {
    let config = ok(load_over(&provider_overlay(
        "prompt: auto\nadditionalScopes: [groups, openid]",
    )))
    .config;
    let provider = &config.auth.providers["my-auth-provider"];
    assert_eq!(provider.prompt, None);
    assert_eq!(provider.scopes, ["openid", "profile", "email", "groups"]);
}

#[test]
fn required_keys_missing_are_all_reported_at_once() {
    let fixture = Fixture::new();
    fixture.write("empty.yaml", "app: {title: Backstage}\n");
    let errors = problems(fixture.load(&["empty.yaml"], &[]));
    assert_eq!(
        errors,
        [
            "stagepass.publicUrl: missing",
            "stagepass.upstream: missing",
            "stagepass.provider: missing",
            "auth.session.secret: missing",
        ]
    );
}

#[test]
fn selected_provider_missing_keys_have_full_paths() {
    let errors = problems_over(&provider_overlay(
        "metadataUrl: ~\nclientId: ~\nclientSecret: ~",
    ));
    assert_eq!(
        errors,
        [
            "auth.providers.my-auth-provider.development.metadataUrl: missing",
            "auth.providers.my-auth-provider.development.clientId: missing",
            "auth.providers.my-auth-provider.development.clientSecret: missing",
        ]
    );
}

#[test]
fn many_bad_values_are_all_reported_with_their_paths() {
    let errors = problems_over(
        "
stagepass:
  listen: abc
  publicUrl: ftp://portal.example.com
  upstream: not a url
  admin: {listen: 99999}
  trustedProxies: [10.0.0.0/8, nonsense]
  allowedRedirectOrigins: [https://ok.example.com/path]
  timeouts: {connect: 0s, idle: 5}
  shutdownGracePeriod: soon
  maxRequestHeaderBytes: 10
  cookieName: bad name
",
    );
    assert_eq!(
        errors,
        [
            "stagepass.listen: expected host:port, got \"abc\"",
            "stagepass.publicUrl: expected an http or https URL, got \"ftp://portal.example.com\"",
            "stagepass.upstream: expected an http or https URL (relative URL without a base), got \"not a url\"",
            "stagepass.admin.listen: expected host:port, got 99999",
            "stagepass.trustedProxies[1]: expected a CIDR (10.0.0.0/8) or IP address, got \"nonsense\"",
            "stagepass.allowedRedirectOrigins[0]: must be an origin (scheme://host[:port]) without a path, got \"https://ok.example.com/path\"",
            "stagepass.timeouts.connect: must be greater than zero",
            "stagepass.timeouts.idle: a bare number is ambiguous: add a unit, e.g. \"30s\", \"500ms\" or {seconds: 30}",
            "stagepass.shutdownGracePeriod: expected a duration such as \"30s\", \"1h30m\", \"2 days\" or \"PT1H\", got \"soon\"",
            "stagepass.maxRequestHeaderBytes: must be between 1024 and 1048576, got 10",
            "stagepass.cookieName: expected 1 to 32 of the characters A-Z a-z 0-9 _ -, got \"bad name\"",
        ]
    );
}

#[test]
fn cookie_name_defaults_to_a_host_cookie_over_https_only() {
    let plain = ok(load_over(
        "stagepass:\n  publicUrl: http://localhost:7000\n",
    ))
    .config;
    assert_eq!(plain.stagepass.cookie_name, "stagepass");
    let chosen = ok(load_over("stagepass:\n  cookieName: portal\n")).config;
    assert_eq!(chosen.stagepass.cookie_name, "portal");
    for name in ["__Host-portal", "__Secure-portal", "__host-portal"] {
        let errors = problems_over(&format!(
            "stagepass:\n  publicUrl: http://localhost:7000\n  cookieName: {name}\n"
        ));
        assert_eq!(errors.len(), 1, "{name}: {errors:?}");
        assert!(
            errors[0].starts_with("stagepass.cookieName: the __") && errors[0].contains("https"),
            "{errors:?}"
        );
    }
}

#[test]
fn url_rules() {
    let cases = [
        (
            "publicUrl: https://p.example.com/app",
            "must be an origin (scheme://host[:port]) without a path",
        ),
        (
            "publicUrl: https://p.example.com/?a=1",
            "must not have a query or fragment",
        ),
        (
            "publicUrl: 'https://p.example.com/#x'",
            "must not have a query or fragment",
        ),
        (
            "upstream: http://app/?q",
            "must not have a query or fragment",
        ),
        (
            "upstream: http://user:pw@app/",
            "must not contain a user name or password",
        ),
    ];
    for (line, expected) in cases {
        let errors = problems_over(&format!("stagepass:\n  {line}\n"));
        assert_eq!(errors.len(), 1, "{line}: {errors:?}");
        assert!(errors[0].contains(expected), "{line}: {errors:?}");
        assert!(!errors[0].contains("pw@"), "{errors:?}");
    }
}

#[test]
fn metadata_url_must_be_https_except_for_loopback() {
    for host in ["localhost", "127.0.0.1", "127.9.9.9", "[::1]"] {
        ok(load_over(&provider_overlay(&format!(
            "metadataUrl: http://{host}:1/x"
        ))));
    }
    let errors = problems_over(&provider_overlay("metadataUrl: http://idp.example.com/x"));
    assert_eq!(
        errors,
        [
            "auth.providers.my-auth-provider.development.metadataUrl: must use https (http only for localhost, 127.0.0.0/8 or ::1), got \"http://idp.example.com/x\""
        ]
    );
}

#[test]
fn provider_value_rules() {
    let prefix = "auth.providers.my-auth-provider.development";
    let cases = [
        (
            "tokenEndpointAuthMethod: private_key_jwt",
            "tokenEndpointAuthMethod: expected client_secret_basic or client_secret_post, got \"private_key_jwt\"",
        ),
        (
            "tokenSignedResponseAlg: HS256",
            "tokenSignedResponseAlg: unsupported algorithm \"HS256\" (allowed: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA)",
        ),
        (
            "tokenSignedResponseAlg: [RS256, none]",
            "tokenSignedResponseAlg[1]: unsupported algorithm \"none\"",
        ),
        (
            "tokenSignedResponseAlg: []",
            "tokenSignedResponseAlg: must list at least one algorithm",
        ),
        (
            "sessionDuration: 0s",
            "sessionDuration: must be greater than zero",
        ),
        (
            "timeout: {hours: x}",
            "timeout: hours: expected a non-negative number, got \"x\"",
        ),
        (
            "callbackUrl: /relative",
            "callbackUrl: expected an http or https URL",
        ),
        ("clientId: ''", "clientId: must not be empty"),
        (
            "scope: [a, {b: c}]",
            "scope[1]: expected a string, got a mapping",
        ),
    ];
    for (line, expected) in cases {
        let errors = problems_over(&provider_overlay(line));
        assert_eq!(errors.len(), 1, "{line}: {errors:?}");
        assert!(
            errors[0].starts_with(&format!("{prefix}.{expected}")),
            "{line}: {errors:?}"
        );
    }
}

#[test]
fn session_secret_rules() {
    let short = "auth.session.secret: must be at least 32 characters";
    assert_eq!(
        problems_over("auth:\n  session:\n    secret: tooShortValue\n"),
        [short]
    );
    assert_eq!(
        problems_over(
            "auth:\n  session:\n    secret: [0123456789abcdef0123456789abcdef, shortOne]\n"
        ),
        ["auth.session.secret[1]: must be at least 32 characters"]
    );
    assert_eq!(
        problems_over("auth:\n  session:\n    secret: []\n"),
        ["auth.session.secret: must list at least one secret"]
    );
    assert_eq!(
        problems_over("auth:\n  session: ~\n"),
        ["auth.session.secret: missing"]
    );
    assert_eq!(
        problems_over("auth:\n  session:\n    secret: {nested: value}\n"),
        ["auth.session.secret: expected a string, got a mapping"]
    );
}

#[test]
fn numeric_strings_are_accepted_where_numbers_are_expected() {
    let config = ok(load_over("stagepass:\n  maxRequestHeaderBytes: '2048'\n")).config;
    assert_eq!(config.stagepass.max_request_header_bytes, 2048);
}

#[test]
fn unknown_stagepass_keys_suggest_the_closest_known_key() {
    let errors = problems_over(
        "stagepass:\n  pubicUrl: x\n  timeouts: {conect: 1s}\n  admin: {listn: 1}\n  zzz: 1\n",
    );
    assert_eq!(
        errors,
        [
            "stagepass.pubicUrl: unknown key (did you mean publicUrl?)",
            "stagepass.zzz: unknown key (known keys: listen, publicUrl, upstream, provider, admin, tls, trustedProxies, allowedRedirectOrigins, timeouts, shutdownGracePeriod, maxRequestHeaderBytes, maxConnections, cookieName, catalog, backstageToken, assertion, headers, stripHeaders, routes, bearer, outboundProxy, upstreamTls, sessions)",
            "stagepass.admin.listn: unknown key (did you mean listen?)",
            "stagepass.timeouts.conect: unknown key (did you mean connect?)",
        ]
    );
}

#[test]
fn unknown_keys_outside_stagepass_are_ignored() {
    let overlay = "
app: {title: x}
backend: {baseUrl: y}
auth:
  someBackstageThing: 1
  session: {secret: 0123456789abcdef0123456789abcdef, other: 1}
  providers:
    my-auth-provider:
      development: {audience: api, signIn: {resolvers: [{resolver: emailMatchingUserEntityProfileEmail}]}}
";
    ok(load_over(overlay));
}

#[test]
fn sections_of_the_wrong_type_are_reported() {
    assert_eq!(
        problems_over("stagepass:\n  timeouts: 5s\n  tls: yes\n"),
        [
            "stagepass.tls: expected a mapping, got true",
            "stagepass.timeouts: expected a mapping, got \"5s\"",
        ]
    );
}

#[test]
fn tls_needs_both_existing_files() {
    let errors = problems_over("stagepass:\n  tls: {certFile: /nonexistent/cert.pem}\n");
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].starts_with("stagepass.tls.certFile: cannot read /nonexistent/cert.pem"),
        "{errors:?}"
    );
    assert_eq!(errors[1], "stagepass.tls.keyFile: missing");
}

#[test]
fn selected_provider_must_exist_for_the_environment() {
    assert_eq!(
        problems_over("stagepass:\n  provider: nope\n"),
        ["stagepass.provider: no provider \"nope\" under auth.providers"]
    );
    assert_eq!(
        problems_over("auth:\n  environment: production\n"),
        [
            "stagepass.provider: auth.providers.my-auth-provider has no entry for environment \"production\""
        ]
    );
}

#[test]
fn other_providers_are_kept_only_if_valid_and_never_reported() {
    let overlay = "
auth:
  providers:
    github:
      development: {clientId: a, clientSecret: b}
    other-oidc:
      development:
        metadataUrl: https://other.example.com/.well-known/openid-configuration
        clientId: other
        clientSecret: other-secret
    prod-only:
      production: {metadataUrl: https://x.example.com, clientId: p, clientSecret: q}
";
    let config = ok(load_over(overlay)).config;
    let ids: Vec<&str> = config.auth.providers.keys().map(String::as_str).collect();
    assert_eq!(ids, ["my-auth-provider", "other-oidc"]);
    assert_eq!(
        config.auth.providers["other-oidc"].callback_url.as_str(),
        "https://portal.example.com/api/auth/other-oidc/handler/frame"
    );
}

#[test]
fn an_invalid_public_url_does_not_hide_provider_problems() {
    let errors = problems_over(&format!(
        "stagepass:\n  publicUrl: nope\n{}",
        provider_overlay("clientId: ~")
    ));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("stagepass.publicUrl: "), "{errors:?}");
    assert_eq!(
        errors[1],
        "auth.providers.my-auth-provider.development.clientId: missing"
    );
}
