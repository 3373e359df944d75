use serde_json::json;

use super::profile;
use crate::principal::Identity;
use crate::session::Session;

fn session(email: Option<&str>, name: Option<&str>, picture: Option<&str>) -> Session {
    Session {
        subject: "jane".into(),
        email: email.map(Into::into),
        name: name.map(Into::into),
        picture: picture.map(Into::into),
        preferred_username: None,
        groups: Vec::new(),
        expires_at: 0,
        access_token_expires_at: None,
        refresh_token: None,
        id_token: None,
        issued_at: 0,
        claims: Default::default(),
        signed_in_at: None,
        id: None,
        idp_sid: None,
        access_token: None,
    }
}

fn catalog_user(display_name: Option<&str>, picture: Option<&str>) -> Identity {
    Identity {
        user_entity_ref: "user:default/jane".into(),
        ownership_entity_refs: vec!["user:default/jane".into()],
        display_name: display_name.map(Into::into),
        email: Some("jane@catalog.example".into()),
        picture: picture.map(Into::into),
    }
}

#[test]
fn fields_without_a_value_are_left_out_never_null() {
    let p = profile(&session(Some("jane@example.test"), None, None), None);
    assert_eq!(p, json!({"email": "jane@example.test"}));
    assert_eq!(profile(&session(None, None, None), None), json!({}));
}

#[test]
fn empty_strings_count_as_no_value() {
    let p = profile(&session(Some(""), Some(""), Some("")), None);
    assert_eq!(p, json!({}));
}

#[test]
fn the_catalog_profile_fills_what_the_idp_did_not_send() {
    let catalog = catalog_user(Some("Jane Example"), Some("https://img.example/jane.png"));
    let p = profile(
        &session(Some("jane@example.test"), None, None),
        Some(&catalog),
    );
    assert_eq!(
        p,
        json!({
            "email": "jane@example.test",
            "displayName": "Jane Example",
            "picture": "https://img.example/jane.png",
        })
    );
}

#[test]
fn what_the_idp_sent_wins_over_the_catalog() {
    let catalog = catalog_user(Some("Jane Example"), None);
    let p = profile(&session(None, Some("JANE"), None), Some(&catalog));
    assert_eq!(
        p,
        json!({"email": "jane@catalog.example", "displayName": "JANE"})
    );
}

#[test]
fn the_injection_key_is_the_identity_cache_key_of_the_sessions_claims() {
    let mut with = session(Some("j@example.com"), None, Some("https://p/j.png"));
    with.preferred_username = Some("jane.d".into());
    for s in [with, session(None, Some("Jane"), None)] {
        assert_eq!(
            crate::identity::claims_key_of(super::claim_parts(&s)),
            crate::identity::claims_key_of(super::claims(&s).parts())
        );
    }
}
