//! One run names every problem: a mistake in one part of the config does
//! not hide another.

use super::problems_over;

/// Every one of `paths` has a problem in `errors`.
#[track_caller]
fn names_each(errors: &[String], paths: &[&str]) {
    for path in paths {
        let named = errors.iter().any(|e| e.starts_with(&format!("{path}:")));
        assert!(named, "{path} not named in {errors:?}");
    }
}

#[test]
fn a_catalog_mistake_is_named_next_to_a_broken_stagepass_section() {
    let errors = problems_over("stagepass:\n  maxConnections: 0\n  catalog: {fiel: people.yaml}\n");
    names_each(
        &errors,
        &["stagepass.maxConnections", "stagepass.catalog.fiel"],
    );
}

#[test]
fn a_catalog_mistake_is_named_next_to_a_broken_auth_section() {
    let errors = problems_over(
        "stagepass:\n  catalog: {fiel: people.yaml}\nauth:\n  session: {secret: short}\n",
    );
    names_each(&errors, &["auth.session.secret", "stagepass.catalog.fiel"]);
}

#[test]
fn a_misspelt_catalog_key_gets_the_key_it_was_meant_to_be() {
    let errors = problems_over("stagepass:\n  catalog: {fiel: people.yaml}\n");
    assert!(
        errors.contains(&"stagepass.catalog.fiel: unknown key (did you mean file?)".to_owned()),
        "{errors:?}"
    );
}
