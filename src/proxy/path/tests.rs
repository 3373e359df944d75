use super::*;
use proptest::prelude::*;

fn ok(path: &str) -> String {
    normalize(path)
        .unwrap_or_else(|e| panic!("{path}: {e:?}"))
        .into_owned()
}

#[test]
fn dot_segments_resolve_and_never_climb_above_the_root() {
    assert_eq!(ok("/public/../admin"), "/admin");
    assert_eq!(ok("/public/%2e%2e/admin"), "/admin");
    assert_eq!(ok("/public/%2E./admin"), "/admin");
    assert_eq!(ok("/../app-b/admin"), "/app-b/admin");
    assert_eq!(ok("/a/./b/."), "/a/b/");
    assert_eq!(ok("/a/b/.."), "/a/");
    assert_eq!(ok("/.."), "/");
}

#[test]
fn slashes_merge_and_unreserved_escapes_decode_once() {
    assert_eq!(ok("//admin"), "/admin");
    assert_eq!(ok("/a//b/"), "/a/b/");
    assert_eq!(ok("/%7Euser/%41"), "/~user/A");
    assert_eq!(ok("/"), "/");
}

#[test]
fn other_escapes_stay_escaped_so_they_cannot_become_separators() {
    assert_eq!(ok("/admin%23/x"), "/admin%23/x");
    assert_eq!(ok("/a%3fb"), "/a%3Fb");
    assert_eq!(ok("/caf%C3%A9"), "/caf%C3%A9");
    assert_eq!(
        ok("/ADMIN"),
        "/ADMIN",
        "case is kept (routes refuse other spellings of theirs)"
    );
    assert_eq!(ok("/100%25off"), "/100%25off", "a literal % stays");
    assert_eq!(ok("/a;v=1/b"), "/a;v=1/b", "parameters elsewhere stay");
}

#[test]
fn ambiguous_paths_are_refused_rather_than_guessed() {
    for path in [
        "/admin%2f..",
        "/admin%2F",
        "/a%5cb",
        "/a%00",
        "/%252e%252e/admin",
        "/a%252f",
        "/5/d/%25%32e",
        "/x%25%32%45",
        "/x%25252E",
        "/app/..;/admin",
        "/app/.;x/admin",
        "/;x/admin",
        "/api/;jsessionid=1/admin",
        "/a\\b",
        "/a%2",
        "/a%zz",
        "relative",
    ] {
        assert!(normalize(path).is_err(), "{path} should be refused");
    }
}

proptest! {
    #[test]
    fn normal_paths_have_no_dot_segments_and_are_stable(
        parts in proptest::collection::vec(
            prop_oneof![
                Just("..".to_owned()), Just(".".to_owned()), Just("%2e%2e".to_owned()),
                Just("".to_owned()), Just("%41".to_owned()), Just("%3F".to_owned()),
                "[a-z]{1,4}",
            ],
            0..8,
        )
    ) {
        let path = format!("/{}", parts.join("/"));
        let normal = normalize(&path).unwrap();
        prop_assert!(normal.starts_with('/'));
        prop_assert!(!normal.contains("//"));
        prop_assert!(normal.split('/').all(|s| s != ".." && s != "."));
        // Normalising again changes nothing: one meaning per path.
        prop_assert_eq!(normalize(&normal).unwrap(), normal.clone());
        // Behind any prefix, the result stays under it.
        let joined = format!("/app-a{normal}");
        prop_assert_eq!(normalize(&joined).unwrap().starts_with("/app-a"), true);
    }
}

proptest! {
    /// What the shortcut lets through unchanged, the full rebuild leaves
    /// unchanged too; whatever it declines, the rebuild decides.
    #[test]
    fn the_shortcut_agrees_with_the_rebuild(path in "/[a./%2e;\\\\ A-F]{0,12}") {
        prop_assert_eq!(normalize(&path).map(Cow::into_owned), rebuild(&path));
        if already_normal(&path) {
            prop_assert_eq!(rebuild(&path), Ok(path.clone()));
        }
    }
}

#[test]
fn normal_paths_are_borrowed_as_they_are() {
    for path in [
        "/",
        "/a",
        "/a/",
        "/api/catalog/entities;x",
        "/a/...",
        "/.well-known/x",
    ] {
        assert!(
            matches!(normalize(path), Ok(Cow::Borrowed(p)) if p == path),
            "{path}"
        );
    }
    for path in ["//a", "/a/.", "/a/..;x/b", "/%41", "/a//"] {
        assert!(!already_normal(path), "{path}");
    }
}
