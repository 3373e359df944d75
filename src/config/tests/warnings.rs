//! What loads but deserves a warning, and the development-only conveniences
//! that must be asked for explicitly.

use super::{Fixture, ok, problems};

const GUEST: &str = "
stagepass:
  publicUrl: http://localhost:7000
  upstream: builtin:whoami
  provider: guest
  catalog: {file: people.yaml}
auth:
  providers:
    guest: {}
";

fn load(text: &str) -> Result<super::super::Loaded, super::super::ConfigErrors> {
    let fixture = Fixture::new();
    fixture.write("c.yaml", text);
    fixture.load(&["c.yaml"], &[])
}

fn warnings(text: &str) -> Vec<String> {
    ok(load(text))
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn guest_sign_in_needs_development_written_out_and_is_announced() {
    // Missing (or misspelt) environment: refused, never "anyone is anyone".
    let errors = problems(load(GUEST));
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("auth.environment: the guest provider")),
        "{errors:?}"
    );
    let written = GUEST.replace("auth:\n", "auth:\n  environment: development\n");
    let found = warnings(&written);
    assert!(
        found
            .iter()
            .any(|w| w.starts_with("auth.providers.guest: guest sign-in is on")),
        "{found:?}"
    );
}

#[test]
fn development_makes_a_session_secret_for_the_run_and_says_so() {
    let written = GUEST.replace("auth:\n", "auth:\n  environment: development\n");
    let loaded = ok(load(&written));
    assert_eq!(loaded.config.auth.session_secrets.len(), 1);
    assert!(loaded.config.auth.session_secrets[0].expose().len() >= 32);
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.path == "auth.session.secret"),
        "{:?}",
        loaded.warnings
    );
    // Two runs, two secrets: nothing predictable.
    let again = ok(load(&written));
    assert_ne!(
        again.config.auth.session_secrets[0].expose(),
        loaded.config.auth.session_secrets[0].expose()
    );
}

#[test]
fn outside_development_a_missing_secret_is_still_an_error() {
    let text = "
stagepass: {publicUrl: https://p.example.com, upstream: http://127.0.0.1:1, provider: idp}
auth:
  environment: production
  providers:
    idp:
      production: {metadataUrl: https://idp.example.com/.well-known/openid-configuration, clientId: a, clientSecret: b}
";
    assert_eq!(problems(load(text)), ["auth.session.secret: missing"]);
}

#[test]
fn a_key_one_edit_from_one_stagepass_reads_is_flagged_but_loads() {
    let text = GUEST.replace(
        "auth:\n",
        "auth:\n  environment: development\n  enviroment: production\n  session: {secrets: [x]}\n  experimentalExtraAllowedOrigins: [x]\n",
    );
    let found = warnings(&text);
    assert!(
        found.contains(
            &"auth.enviroment: stagepass does not read this key; did you mean environment?"
                .to_owned()
        ),
        "{found:?}"
    );
    assert!(
        found.iter().any(|w| w.starts_with(
            "auth.session.secrets: stagepass does not read this key; did you mean secret?"
        )),
        "{found:?}"
    );
    // Backstage's own keys are not near misses.
    assert!(
        !found
            .iter()
            .any(|w| w.contains("experimentalExtraAllowedOrigins")),
        "{found:?}"
    );
}

#[test]
fn the_quickstart_config_loads_with_its_two_warnings() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/quickstart/stagepass.yaml"
    );
    let loaded = ok(crate::config::load(&[path.into()]));
    assert!(loaded.config.stagepass.upstream_is_whoami());
    let paths: Vec<&str> = loaded.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(paths, ["auth.session.secret", "auth.providers.guest"]);
}

#[test]
fn a_backstage_token_lifetime_out_of_range_is_clamped_and_said_at_load() {
    let written = GUEST.replace(
        "auth:\n",
        "auth:\n  environment: development\n  backstageTokenExpiration: {hours: 48}\n",
    );
    let loaded = ok(load(&written));
    assert_eq!(
        loaded.config.auth.token.backstage_token_expiration,
        std::time::Duration::from_secs(24 * 3600)
    );
    let found: Vec<String> = loaded.warnings.iter().map(ToString::to_string).collect();
    assert!(
        found.iter().any(|w| w.starts_with(
            "auth.backstageTokenExpiration: 172800 s is outside 10 minutes to 24 hours"
        )),
        "{found:?}"
    );
}

#[test]
fn a_provider_key_one_edit_from_one_stagepass_reads_is_announced() {
    let overlay = super::provider_overlay(
        "signIn: {requireVerifedEmail: true}\ntokenSignedResponseAlgs: [ES256]\nadditionalScopes: [groups]",
    );
    let found: Vec<String> = ok(super::load_over(&overlay))
        .warnings
        .iter()
        .map(ToString::to_string)
        .collect();
    for typo in [
        "auth.providers.my-auth-provider.development.signIn.requireVerifedEmail: stagepass does not read this key; did you mean requireVerifiedEmail?",
        "auth.providers.my-auth-provider.development.tokenSignedResponseAlgs: stagepass does not read this key; did you mean tokenSignedResponseAlg?",
    ] {
        assert!(found.iter().any(|w| w == typo), "{found:?}");
    }
    assert_eq!(found.len(), 2, "known keys are not announced: {found:?}");
}
