//! `stagepass.headers`: defaults, values, and the options that need
//! something else configured.

use super::{load_over, ok, problems_over, provider_overlay};
use crate::config::{GroupsSource, HeadersConfig, UserValue};

#[test]
fn by_default_the_subject_and_idp_groups_go_and_no_token() {
    let config = ok(load_over("")).config;
    assert_eq!(config.stagepass.headers, HeadersConfig::default());
    assert_eq!(config.stagepass.headers.user, UserValue::Subject);
    assert!(
        !config.stagepass.injects_authorization(),
        "no catalog: the client's Authorization passes"
    );
}

#[test]
fn every_option_is_read() {
    let catalog = "stagepass:\n  catalog: {file: people.yaml}\n  backstageToken: {header: x-backstage-token}\n";
    let headers = "  headers:\n    user: entity\n    groups: catalog\n    passAccessToken: true\n    passIdToken: true\n    passAuthorizationHeader: true\n";
    let overlay = format!("{catalog}{headers}");
    let config = ok(load_over(&overlay)).config;
    let h = &config.stagepass.headers;
    assert_eq!(h.user, UserValue::Entity);
    assert_eq!(h.groups, GroupsSource::Catalog);
    assert!(h.pass_access_token && h.pass_id_token && h.pass_authorization_header);
    assert!(config.stagepass.injects_authorization());
}

#[test]
fn bad_values_and_unknown_keys_name_their_path() {
    let errors = problems_over(
        "stagepass:\n  headers:\n    user: login\n    groups: ldap\n    passIdToken: yes-please\n    passAcessToken: true\n",
    );
    assert_eq!(
        errors,
        [
            "stagepass.headers.passAcessToken: unknown key (did you mean passAccessToken?)",
            "stagepass.headers.user: expected sub, preferred_username, email or entity, got \"login\"",
            "stagepass.headers.groups: expected idp or catalog, got \"ldap\"",
            "stagepass.headers.passIdToken: expected true or false, got a string",
        ]
    );
}

#[test]
fn catalog_values_without_a_catalog_are_refused() {
    let errors = problems_over("stagepass:\n  headers: {user: entity, groups: catalog}\n");
    assert_eq!(
        errors,
        [
            "stagepass.headers.user: entity needs the catalog identity: configure sign-in resolvers and stagepass.catalog",
            "stagepass.headers.groups: catalog needs the catalog identity: configure sign-in resolvers and stagepass.catalog",
        ]
    );
}

#[test]
fn two_values_for_authorization_are_refused() {
    let resolvers = provider_overlay(
        "signIn:\n  resolvers:\n    - resolver: emailMatchingUserEntityProfileEmail",
    );
    let overlay = format!(
        "{resolvers}stagepass:\n  catalog: {{file: people.yaml}}\n  headers: {{passAuthorizationHeader: true}}\n"
    );
    assert_eq!(
        problems_over(&overlay),
        [
            "stagepass.headers.passAuthorizationHeader: Authorization already carries the Backstage token; \
          set stagepass.backstageToken.enabled to false or stagepass.backstageToken.header to another header"
        ]
    );
}
