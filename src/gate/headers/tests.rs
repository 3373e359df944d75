use super::*;
use crate::config::HeadersConfig;

fn session() -> Session {
    Session {
        subject: "00u1a2b3c4".into(),
        email: Some("jane@example.test".into()),
        name: None,
        picture: None,
        preferred_username: Some("jane".into()),
        groups: vec!["platform".into(), "on-call".into()],
        expires_at: 0,
        access_token_expires_at: None,
        refresh_token: None,
        id_token: Some("h.p.s".into()),
        issued_at: 0,
        claims: Default::default(),
        signed_in_at: None,
        id: None,
        idp_sid: None,
        access_token: Some("at-123".into()),
    }
}

fn identity() -> Identity {
    Identity {
        user_entity_ref: "user:default/jane.doe".into(),
        ownership_entity_refs: vec![
            "user:default/jane.doe".into(),
            "group:default/platform".into(),
        ],
        display_name: None,
        email: None,
        picture: None,
    }
}

fn text(fields: &PersonFields) -> Vec<(&'static str, String)> {
    fields
        .iter()
        .map(|(field, value)| {
            let name = match field {
                PersonField::User => "user",
                PersonField::Email => "email",
                PersonField::PreferredUsername => "preferred_username",
                PersonField::Groups => "groups",
                PersonField::AccessToken => "access_token",
                PersonField::IdToken => "id_token",
                PersonField::AuthorizationIdToken => "authorization",
            };
            (name, value.to_str().unwrap().to_owned())
        })
        .collect()
}

fn with(edit: impl FnOnce(&mut HeadersConfig)) -> PersonHeaders {
    let mut config = HeadersConfig::default();
    edit(&mut config);
    PersonHeaders::new(config)
}

#[test]
fn by_default_the_subject_email_username_and_idp_groups_go_upstream_and_no_token() {
    let fields = with(|_| {}).fill_from_session(&session());
    assert_eq!(
        text(&fields),
        [
            ("user", "00u1a2b3c4".into()),
            ("email", "jane@example.test".into()),
            ("preferred_username", "jane".into()),
            ("groups", "platform,on-call".into()),
        ]
    );
}

#[test]
fn the_user_header_takes_the_configured_claim() {
    let user = |value| {
        let fields = with(|c| c.user = value).fill_from_session(&session());
        text(&fields)
            .into_iter()
            .find(|(n, _)| *n == "user")
            .map(|(_, v)| v)
    };
    assert_eq!(user(UserValue::PreferredUsername).as_deref(), Some("jane"));
    assert_eq!(user(UserValue::Email).as_deref(), Some("jane@example.test"));
    // The entity comes from the catalog, never from the session.
    assert_eq!(user(UserValue::Entity), None);
}

#[test]
fn a_missing_claim_leaves_the_header_out_rather_than_falling_back() {
    let mut no_username = session();
    no_username.preferred_username = None;
    let fields = with(|c| c.user = UserValue::PreferredUsername).fill_from_session(&no_username);
    assert!(
        text(&fields)
            .iter()
            .all(|(n, _)| *n != "user" && *n != "preferred_username")
    );
}

#[test]
fn catalog_mode_fills_user_and_groups_from_the_resolved_entity() {
    let headers = with(|c| {
        c.user = UserValue::Entity;
        c.groups = GroupsSource::Catalog;
    });
    let from_session = text(&headers.fill_from_session(&session()));
    assert!(
        from_session
            .iter()
            .all(|(n, _)| *n != "user" && *n != "groups")
    );
    assert_eq!(
        text(&headers.fill_from_identity(&identity())),
        [
            ("user", "jane.doe".into()),
            (
                "groups",
                "user:default/jane.doe,group:default/platform".into()
            ),
        ]
    );
    // Another namespace keeps its name: never confused with default's.
    let mut other = identity();
    other.user_entity_ref = "user:eng/jane.doe".into();
    let headers_for = with(|c| c.user = UserValue::Entity);
    assert_eq!(
        text(&headers_for.fill_from_identity(&other)),
        [("user", "eng/jane.doe".into())]
    );
    // Without those options the catalog adds nothing.
    assert!(with(|_| {}).fill_from_identity(&identity()).is_empty());
}

#[test]
fn tokens_are_passed_only_when_asked_in_the_forms_consumers_expect() {
    let fields = with(|c| {
        c.pass_access_token = true;
        c.pass_id_token = true;
        c.pass_authorization_header = true;
    })
    .fill_from_session(&session());
    let fields = text(&fields);
    assert!(fields.contains(&("access_token", "at-123".into())));
    assert!(fields.contains(&("id_token", "Bearer h.p.s".into())));
    assert!(fields.contains(&("authorization", "Bearer h.p.s".into())));
}

#[test]
fn values_that_cannot_be_sent_unchanged_are_dropped_not_bent() {
    for bad in [
        "jane\r\nx-forwarded-user: admin",
        "jane\n",
        "ja\tne",
        " jane",
        "jane ",
        "",
        "\u{7f}",
    ] {
        assert_eq!(header_value(bad), None, "{bad:?}");
    }
    assert_eq!(header_value("Jane Doe").unwrap(), "Jane Doe");
    // Beyond ASCII passes as UTF-8 bytes, as oauth2-proxy sends it.
    assert_eq!(header_value("José").unwrap().as_bytes(), "José".as_bytes());
    let mut session = session();
    session.email = Some("jane@example.test\r\nx-forwarded-user: admin".into());
    let fields = with(|_| {}).fill_from_session(&session);
    assert!(text(&fields).iter().all(|(n, _)| *n != "email"));
}

#[test]
fn a_group_holding_the_separator_is_left_out_so_it_cannot_read_as_two() {
    let mut session = session();
    session.groups = vec!["a,admin".into(), "platform".into()];
    let fields = text(&with(|_| {}).fill_from_session(&session));
    assert!(fields.contains(&("groups", "platform".into())));
    session.groups = vec!["a,admin".into()];
    let fields = text(&with(|_| {}).fill_from_session(&session));
    assert!(fields.iter().all(|(n, _)| *n != "groups"));
}
