//! Files, merging, substitution and the `$env` / `$file` / `$include` forms.

use serde_json::{Value, json};

use super::{Fixture, MINIMAL, load_over_with_env, ok, problems};
use crate::config::load::merge;
use crate::config::substitute::substitute;

fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

fn effective(loaded: &crate::config::Loaded, pointer: &str) -> Value {
    loaded
        .effective
        .pointer(pointer)
        .cloned()
        .unwrap_or(Value::Null)
}

#[test]
fn merge_combines_maps_and_replaces_scalars_and_lists() {
    let mut base = json!({"a": {"x": 1, "y": [1, 2]}, "b": "keep", "c": {"deep": 1}});
    merge(
        &mut base,
        json!({"a": {"y": [3], "z": true}, "c": "scalar now"}),
    );
    assert_eq!(
        base,
        json!({"a": {"x": 1, "y": [3], "z": true}, "b": "keep", "c": "scalar now"})
    );
}

#[test]
fn merge_lets_null_unset_and_map_replace_scalar() {
    let mut base = json!({"a": 1, "b": "text"});
    merge(&mut base, json!({"a": null, "b": {"now": "map"}}));
    assert_eq!(base, json!({"a": null, "b": {"now": "map"}}));
}

#[test]
fn later_files_override_earlier_ones() {
    let fixture = Fixture::new();
    fixture.write("a.yaml", MINIMAL);
    fixture.write(
        "b.yaml",
        "stagepass:\n  upstream: http://app:8080\n  listen: 127.0.0.1:1\n",
    );
    fixture.write("c.yaml", "stagepass:\n  listen: 127.0.0.1:2\n");
    let loaded = ok(fixture.load(&["a.yaml", "b.yaml", "c.yaml"], &[]));
    assert_eq!(
        loaded.config.stagepass.upstream.as_str(),
        "http://app:8080/"
    );
    assert_eq!(loaded.config.stagepass.listen.to_string(), "127.0.0.1:2");
    assert_eq!(
        loaded.config.stagepass.public_url.as_str(),
        "https://portal.example.com/"
    );
}

#[test]
fn substitutes_whole_and_embedded_variables() {
    let lookup = env(&[("HOST", "example.com"), ("PORT", "8443")]);
    assert_eq!(substitute("${HOST}", &lookup).unwrap(), "example.com");
    assert_eq!(
        substitute("https://${HOST}:${ PORT }/x", &lookup).unwrap(),
        "https://example.com:8443/x"
    );
    assert_eq!(
        substitute("no variables $ here", &lookup).unwrap(),
        "no variables $ here"
    );
}

#[test]
fn double_dollar_escapes_substitution() {
    let lookup = env(&[("HOST", "example.com")]);
    assert_eq!(substitute("$${HOST}", &lookup).unwrap(), "${HOST}");
    assert_eq!(
        substitute("a$${b} ${HOST}", &lookup).unwrap(),
        "a${b} example.com"
    );
    assert_eq!(
        substitute("unclosed ${HOST", &lookup).unwrap(),
        "unclosed ${HOST"
    );
}

#[test]
fn substitution_errors_name_the_variable() {
    let lookup = env(&[]);
    assert_eq!(
        substitute("x ${MISSING} y", &lookup).unwrap_err(),
        "environment variable MISSING is not set"
    );
    assert!(
        substitute("${}", &lookup)
            .unwrap_err()
            .contains("empty variable name")
    );
}

#[test]
fn unset_variable_is_reported_at_its_key_path() {
    let errors = problems(load_over_with_env(
        "stagepass:\n  upstream: ${UPSTREAM_URL}\n",
        &[],
    ));
    assert_eq!(
        errors,
        ["stagepass.upstream: environment variable UPSTREAM_URL is not set"]
    );
}

#[test]
fn unset_variable_in_list_has_index_path() {
    let errors = problems(load_over_with_env(
        "stagepass:\n  trustedProxies: [10.0.0.0/8, '${NET}']\n",
        &[],
    ));
    assert_eq!(
        errors,
        ["stagepass.trustedProxies[1]: environment variable NET is not set"]
    );
}

#[test]
fn unset_variable_overridden_by_a_later_file_is_fine() {
    let fixture = Fixture::new();
    fixture.write("a.yaml", MINIMAL);
    fixture.write(
        "b.yaml",
        "stagepass:\n  upstream: ${UPSTREAM_URL}\n  tls: ${TLS}\n",
    );
    fixture.write("c.yaml", "stagepass:\n  upstream: http://app:1\n  tls: ~\n");
    let loaded = ok(fixture.load(&["a.yaml", "b.yaml", "c.yaml"], &[]));
    assert_eq!(loaded.config.stagepass.upstream.as_str(), "http://app:1/");
}

#[test]
fn substituted_numbers_stay_strings_and_still_validate() {
    let loaded = ok(load_over_with_env(
        "stagepass:\n  maxRequestHeaderBytes: ${BYTES}\n  listen: 0.0.0.0:${PORT}\n",
        &[("BYTES", "32768"), ("PORT", "8000")],
    ));
    assert_eq!(
        effective(&loaded, "/stagepass/maxRequestHeaderBytes"),
        json!("32768")
    );
    assert_eq!(loaded.config.stagepass.max_request_header_bytes, 32768);
    assert_eq!(loaded.config.stagepass.listen.port(), 8000);
}

#[test]
fn keys_are_not_substituted() {
    let loaded = ok(load_over_with_env("other:\n  ${KEY}: 1\n", &[]));
    assert_eq!(effective(&loaded, "/other"), json!({"${KEY}": 1}));
}

#[test]
fn env_directive_reads_the_environment_verbatim() {
    let loaded = ok(load_over_with_env(
        "stagepass:\n  upstream: {$env: UPSTREAM}\nother: {$env: RAW}\n",
        &[("UPSTREAM", "http://app:9"), ("RAW", "keeps ${THIS}")],
    ));
    assert_eq!(loaded.config.stagepass.upstream.as_str(), "http://app:9/");
    assert_eq!(effective(&loaded, "/other"), json!("keeps ${THIS}"));
}

#[test]
fn env_directive_with_unset_variable_is_an_error() {
    let errors = problems(load_over_with_env(
        "stagepass:\n  upstream:\n    $env: NOPE\n",
        &[],
    ));
    assert_eq!(
        errors,
        ["stagepass.upstream: environment variable NOPE is not set"]
    );
}

#[test]
fn file_directive_reads_relative_to_the_naming_file() {
    let fixture = Fixture::new();
    fixture.write("base.yaml", MINIMAL);
    fixture.write("conf/secrets/client", "from-file\n");
    fixture.write(
        "conf/over.yaml",
        "auth:\n  providers:\n    my-auth-provider:\n      development:\n        clientSecret: {$file: secrets/client}\n",
    );
    let loaded = ok(fixture.load(&["base.yaml", "conf/over.yaml"], &[]));
    let provider = &loaded.config.auth.providers["my-auth-provider"];
    // Kept as-is, trailing newline included, as Backstage does.
    assert_eq!(provider.client_secret.expose(), "from-file\n");
}

#[test]
fn file_directive_path_is_substituted() {
    let fixture = Fixture::new();
    fixture.write("base.yaml", MINIMAL);
    fixture.write("dir/name.txt", "hello");
    fixture.write("over.yaml", "other: {$file: '${DIR}/name.txt'}\n");
    let loaded = ok(fixture.load(&["base.yaml", "over.yaml"], &[("DIR", "dir")]));
    assert_eq!(effective(&loaded, "/other"), json!("hello"));
}

#[test]
fn missing_file_directive_is_an_error_at_its_key() {
    let errors = problems(load_over_with_env("other:\n  x: {$file: nope.txt}\n", &[]));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with("other.x: cannot read file "),
        "{errors:?}"
    );
    assert!(errors[0].contains("nope.txt"), "{errors:?}");
}

#[test]
fn include_directive_inserts_a_parsed_file_resolved_relative_to_itself() {
    let fixture = Fixture::new();
    fixture.write("base.yaml", MINIMAL);
    fixture.write(
        "inc/timeouts.yaml",
        "connect: 2s\nidle: {$include: more/idle.json}\n",
    );
    fixture.write("inc/more/idle.json", "\"${IDLE}\"");
    fixture.write(
        "over.yaml",
        "stagepass:\n  timeouts: {$include: inc/timeouts.yaml}\n",
    );
    let loaded = ok(fixture.load(&["base.yaml", "over.yaml"], &[("IDLE", "3m")]));
    let timeouts = &loaded.config.stagepass.timeouts;
    assert_eq!(timeouts.connect.as_secs(), 2);
    assert_eq!(timeouts.idle.as_secs(), 180);
}

#[test]
fn include_directive_selects_a_subtree() {
    let fixture = Fixture::new();
    fixture.write("base.yaml", MINIMAL);
    fixture.write("shared.yaml", "net:\n  proxies: [10.0.0.0/8]\n");
    fixture.write(
        "over.yaml",
        "stagepass:\n  trustedProxies: {$include: 'shared.yaml#net.proxies'}\n",
    );
    let loaded = ok(fixture.load(&["base.yaml", "over.yaml"], &[]));
    assert_eq!(loaded.config.stagepass.trusted_proxies.len(), 1);

    fixture.write(
        "bad.yaml",
        "stagepass:\n  trustedProxies: {$include: 'shared.yaml#net.nope'}\n",
    );
    let errors = problems(fixture.load(&["base.yaml", "bad.yaml"], &[]));
    assert_eq!(
        errors,
        ["stagepass.trustedProxies: net.nope not found in included file shared.yaml"]
    );
}

#[test]
fn include_cycles_are_reported() {
    let fixture = Fixture::new();
    fixture.write("base.yaml", MINIMAL);
    fixture.write("a.yaml", "x: {$include: b.yaml}\n");
    fixture.write("b.yaml", "y: {$include: a.yaml}\n");
    fixture.write("over.yaml", "other: {$include: a.yaml}\n");
    let errors = problems(fixture.load(&["base.yaml", "over.yaml"], &[]));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("other.x.y: "), "{errors:?}");
    assert!(errors[0].contains("include cycle"), "{errors:?}");
}

#[test]
fn self_including_top_level_file_is_a_cycle() {
    let fixture = Fixture::new();
    fixture.write(
        "base.yaml",
        &format!("{MINIMAL}other: {{$include: base.yaml}}\n"),
    );
    let errors = problems(fixture.load(&["base.yaml"], &[]));
    assert!(errors[0].contains("include cycle"), "{errors:?}");
}

#[test]
fn include_of_unknown_extension_or_bad_yaml_is_an_error() {
    let fixture = Fixture::new();
    fixture.write("base.yaml", MINIMAL);
    fixture.write("x.txt", "a: 1");
    fixture.write("broken.yaml", "a: [1\n");
    fixture.write(
        "over.yaml",
        "one: {$include: x.txt}\ntwo: {$include: broken.yaml}\n",
    );
    let errors = problems(fixture.load(&["base.yaml", "over.yaml"], &[]));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].starts_with("one: cannot include "), "{errors:?}");
    assert!(
        errors[1].starts_with("two: cannot parse included file "),
        "{errors:?}"
    );
    assert!(errors[1].contains("line 1"), "{errors:?}");
}

#[test]
fn directive_with_other_keys_is_an_error() {
    let errors = problems(load_over_with_env(
        "other: {$env: A, extra: 1}\n",
        &[("A", "a")],
    ));
    assert_eq!(errors, ["other: $env cannot be combined with other keys"]);
}

#[test]
fn directive_with_non_string_value_is_an_error() {
    let errors = problems(load_over_with_env("other: {$file: [a]}\n", &[]));
    assert_eq!(errors, ["other: $file needs a string value"]);
}

#[test]
fn yaml_errors_name_the_file_and_position_without_echoing_lines() {
    let fixture = Fixture::new();
    let path = fixture.write(
        "bad.yaml",
        "auth:\n  session:\n    secret: super-secret-value\n   oops: [\n",
    );
    let errors = problems(fixture.load(&["bad.yaml"], &[]));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(&format!("{}: ", path.display())),
        "{errors:?}"
    );
    assert!(errors[0].contains("line"), "{errors:?}");
    assert!(!errors[0].contains("super-secret-value"), "{errors:?}");
}

#[test]
fn duplicate_keys_are_reported() {
    let fixture = Fixture::new();
    fixture.write("dup.yaml", "a: 1\na: 2\n");
    let errors = problems(fixture.load(&["dup.yaml"], &[]));
    assert!(errors[0].contains("duplicate mapping key"), "{errors:?}");
    assert!(!errors[0].contains("DuplicateKeyPolicy"), "{errors:?}");
}

#[test]
fn unreadable_and_non_mapping_files_are_reported_and_skip_validation() {
    let fixture = Fixture::new();
    fixture.write("list.yaml", "- 1\n- 2\n");
    let errors = problems(fixture.load(&["missing.yaml", "list.yaml"], &[]));
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors[0].contains("missing.yaml: cannot read file"),
        "{errors:?}"
    );
    assert!(
        errors[1].ends_with("list.yaml: expected a mapping at the top level"),
        "{errors:?}"
    );
}

#[test]
fn empty_file_is_an_empty_mapping() {
    let fixture = Fixture::new();
    fixture.write("base.yaml", MINIMAL);
    fixture.write("empty.yaml", "# nothing here\n");
    ok(fixture.load(&["base.yaml", "empty.yaml"], &[]));
}

#[test]
fn no_files_is_an_error() {
    let errors = problems(Fixture::new().load(&[], &[]));
    assert_eq!(errors, ["config: no configuration file given"]);
}

#[test]
fn tls_paths_resolve_against_the_file_that_names_them() {
    let fixture = Fixture::new();
    fixture.write("base.yaml", MINIMAL);
    let cert = fixture.write("etc/tls/cert.pem", "cert");
    let key = fixture.write("etc/tls/key.pem", "key");
    fixture.write(
        "etc/tls.yaml",
        "certFile: tls/cert.pem\nkeyFile: tls/key.pem\n",
    );
    fixture.write("etc/over.yaml", "stagepass:\n  tls: {$include: tls.yaml}\n");
    let loaded = ok(fixture.load(&["base.yaml", "etc/over.yaml"], &[]));
    let tls = loaded.config.stagepass.tls.expect("tls configured");
    assert_eq!(tls.cert_file, cert);
    assert_eq!(tls.key_file, key);
}

#[test]
fn a_value_that_failed_to_load_is_not_also_reported_missing() {
    let errors = problems(load_over_with_env(
        "auth:\n  providers:\n    my-auth-provider:\n      development:\n        clientSecret: ${AUTH_MY_CLIENT_SECRET}\n",
        &[],
    ));
    assert_eq!(
        errors,
        [
            "auth.providers.my-auth-provider.development.clientSecret: environment variable AUTH_MY_CLIENT_SECRET is not set"
        ]
    );
}

#[test]
fn problems_are_grouped_by_section_stagepass_first() {
    let errors = problems(load_over_with_env(
        "auth:\n  session:\n    secret: ${SESSION_SECRET}\nstagepass:\n  cookieName: 'a b'\n  upstream: ${UP}\n",
        &[],
    ));
    assert_eq!(
        errors,
        [
            "stagepass.upstream: environment variable UP is not set",
            "stagepass.cookieName: expected 1 to 32 of the characters A-Z a-z 0-9 _ -, got \"a b\"",
            "auth.session.secret: environment variable SESSION_SECRET is not set",
        ]
    );
}

#[test]
fn deep_include_chains_are_bounded() {
    let fixture = Fixture::new();
    fixture.write("base.yaml", MINIMAL);
    for level in 0..20 {
        fixture.write(
            &format!("chain{level}.yaml"),
            &format!("next: {{$include: chain{}.yaml}}\n", level + 1),
        );
    }
    fixture.write("over.yaml", "other: {$include: chain0.yaml}\n");
    let errors = problems(fixture.load(&["base.yaml", "over.yaml"], &[]));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].contains("nested deeper than 16 levels"),
        "{errors:?}"
    );
}

#[test]
fn load_reads_the_process_environment() {
    let plain_name = |name: &str| name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    let (name, value) = std::env::vars()
        .find(|(name, value)| plain_name(name) && !value.is_empty())
        .expect("some environment variable is set");
    let fixture = Fixture::new();
    fixture.write("base.yaml", &format!("{MINIMAL}other: ${{{name}}}\n"));
    let loaded = ok(crate::config::load(&[fixture.path("base.yaml")]));
    assert_eq!(effective(&loaded, "/other"), json!(value));
}
