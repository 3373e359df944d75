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
    // Entries expire at their `until` by the wall clock: use real times.
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let check = |s: &SessionRef<'_>, now: u64| {
        // `is_revoked` is inert without a store; check the state directly.
        let live = |entry: Option<Entry>| entry.is_some_and(|(_, until)| until > now);
        s.id.is_some_and(|id| live(revocations.sessions.get(id)))
            || s.idp_sid
                .is_some_and(|sid| live(revocations.idp_sessions.get(sid)))
            || (revocations.subjects.get(s.subject))
                .is_some_and(|(cutoff, until)| until > now && s.signed_in_at <= cutoff)
    };
    revocations.apply(&Revocation::Session {
        id: "one".into(),
        until: t + 100,
    });
    assert!(check(&session("one", None, "alice", t - 10), t));
    assert!(
        !check(&session("one", None, "alice", t - 10), t + 100),
        "expired"
    );
    assert!(!check(&session("two", None, "alice", t - 10), t));
    revocations.apply(&Revocation::IdpSession {
        sid: "idp-1".into(),
        until: t + 100,
    });
    assert!(check(&session("three", Some("idp-1"), "bob", t - 10), t));
    assert!(!check(&session("three", Some("idp-2"), "bob", t - 10), t));
    revocations.apply(&Revocation::Subject {
        subject: "carol".into(),
        cutoff: t - 5,
        until: t + 1000,
    });
    assert!(check(&session("x", None, "carol", t - 5), t));
    assert!(
        !check(&session("y", None, "carol", t - 4), t),
        "signed in after"
    );
    // An earlier cut-off heard late does not undo a later one.
    revocations.apply(&Revocation::Subject {
        subject: "carol".into(),
        cutoff: t - 50,
        until: t + 1000,
    });
    assert!(check(&session("z", None, "carol", t - 20), t));
}

#[test]
fn an_entry_whose_time_has_passed_takes_no_memory() {
    let revocations = enabled();
    revocations.apply(&Revocation::Session {
        id: "old".into(),
        until: 100, // 1970: expired on arrival
    });
    revocations.sessions.run_pending_tasks();
    assert_eq!(revocations.sessions.get("old"), None);
}
