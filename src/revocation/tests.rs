//! The in-memory check every signed-in request makes.

use super::*;

fn enabled() -> Revocations {
    // A store that is never reached: only the in-memory side is exercised.
    let mut revocations = Revocations::in_memory();
    revocations.store = None;
    revocations
}

fn session<'a>(id: &'a str, sid: Option<&'a str>, subject: &'a str, at: u64) -> SessionRef<'a> {
    SessionRef {
        id: Some(id),
        idp_sid: sid,
        subject,
        signed_in_at: at,
    }
}

#[test]
fn without_a_store_nothing_is_ever_revoked() {
    let revocations = Revocations::none();
    revocations.revoke(Revocation::Session {
        id: "a".into(),
        until: 100,
    });
    assert!(!revocations.is_revoked(&session("a", None, "alice", 1), 50));
}

#[test]
fn each_kind_ends_exactly_the_sessions_it_names_until_it_expires() {
    let revocations = enabled();
    let check = |s: &SessionRef<'_>, now| {
        // `is_revoked` is inert without a store; check the state directly.
        let live = |until: Option<u64>| until.is_some_and(|until| until > now);
        s.id.is_some_and(|id| live(revocations.sessions.get(id)))
            || s.idp_sid
                .is_some_and(|sid| live(revocations.idp_sessions.get(sid)))
            || (revocations.subjects.get(s.subject)).is_some_and(|c| s.signed_in_at <= c)
    };
    revocations.apply(&Revocation::Session {
        id: "one".into(),
        until: 100,
    });
    assert!(check(&session("one", None, "alice", 1), 50));
    assert!(!check(&session("one", None, "alice", 1), 100), "expired");
    assert!(!check(&session("two", None, "alice", 1), 50));
    revocations.apply(&Revocation::IdpSession {
        sid: "idp-1".into(),
        until: 100,
    });
    assert!(check(&session("three", Some("idp-1"), "bob", 1), 50));
    assert!(!check(&session("three", Some("idp-2"), "bob", 1), 50));
    revocations.apply(&Revocation::Subject {
        subject: "carol".into(),
        cutoff: 40,
        until: 1000,
    });
    assert!(check(&session("x", None, "carol", 40), 50));
    assert!(
        !check(&session("y", None, "carol", 41), 50),
        "signed in after"
    );
    // An earlier cut-off heard late does not undo a later one.
    revocations.apply(&Revocation::Subject {
        subject: "carol".into(),
        cutoff: 10,
        until: 1000,
    });
    assert!(check(&session("z", None, "carol", 30), 50));
}
