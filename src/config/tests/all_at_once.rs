//! One run names every problem: a mistake in one part of the config does
//! not hide another.

use super::problems_over;

#[test]
fn a_catalog_mistake_is_named_next_to_a_broken_stagepass_section() {
    let errors = problems_over("stagepass:\n  maxConnections: 0\n  catalog: {fiel: people.yaml}\n");
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("stagepass.maxConnections:")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("stagepass.catalog.fiel:")),
        "{errors:?}"
    );
}

#[test]
fn a_catalog_mistake_is_named_next_to_a_broken_auth_section() {
    let errors = problems_over(
        "stagepass:\n  catalog: {fiel: people.yaml}\nauth:\n  session: {secret: short}\n",
    );
    assert!(
        errors.iter().any(|e| e.starts_with("auth.session.secret:")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("stagepass.catalog.fiel:")),
        "{errors:?}"
    );
}

#[test]
fn a_misspelt_catalog_key_gets_the_key_it_was_meant_to_be() {
    let errors = problems_over(
        "stagepass:
  catalog: {fiel: people.yaml}
",
    );
    assert!(
        errors.contains(&"stagepass.catalog.fiel: unknown key (did you mean file?)".to_owned()),
        "{errors:?}"
    );
}
