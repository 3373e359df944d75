//! Backstage catalog entities, as much of them as sign-in needs, and entity
//! references in Backstage's canonical form.

use std::collections::BTreeMap;

use serde::Deserialize;

pub(crate) const DEFAULT_NAMESPACE: &str = "default";
const RELATION_MEMBER_OF: &str = "memberOf";

/// A User or Group entity, from a catalog file or the catalog API.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Entity {
    pub kind: String,
    pub metadata: Metadata,
    #[serde(default)]
    pub spec: Spec,
    /// Present in catalog API answers. A file has none; the file catalog
    /// fills it in from `spec.memberOf` and groups' `spec.members`.
    #[serde(default)]
    pub relations: Option<Vec<Relation>>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Metadata {
    pub name: String,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Spec {
    #[serde(default)]
    pub profile: Profile,
    #[serde(default, rename = "memberOf")]
    pub member_of: Vec<String>,
    /// Group entities only: users listed here are members too.
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Profile {
    pub email: Option<String>,
    #[serde(rename = "displayName")]
    pub display_name: Option<String>,
    pub picture: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Relation {
    #[serde(rename = "type")]
    pub kind: String,
    /// Newer catalogs send `targetRef`; older ones only the compound `target`.
    #[serde(default, rename = "targetRef")]
    pub target_ref: Option<String>,
    #[serde(default)]
    pub target: Option<CompoundRef>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct CompoundRef {
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl Relation {
    pub fn member_of(target_ref: String) -> Self {
        Relation {
            kind: RELATION_MEMBER_OF.to_string(),
            target_ref: Some(target_ref),
            target: None,
        }
    }

    fn target(&self) -> Option<String> {
        match (&self.target_ref, &self.target) {
            (Some(target), _) => Some(target.to_lowercase()),
            (None, Some(t)) => Some(stringify_ref(&t.kind, &t.namespace, &t.name)),
            (None, None) => None,
        }
    }
}

impl Entity {
    pub fn namespace(&self) -> &str {
        self.metadata
            .namespace
            .as_deref()
            .unwrap_or(DEFAULT_NAMESPACE)
    }

    pub fn entity_ref(&self) -> String {
        stringify_ref(&self.kind, self.namespace(), &self.metadata.name)
    }

    pub fn is_kind(&self, kind: &str) -> bool {
        self.kind.eq_ignore_ascii_case(kind)
    }

    /// The refs this user claims ownership through, as Backstage's default
    /// ownership resolver computes them: itself, then every group it is a
    /// direct member of, without duplicates.
    pub fn ownership_refs(&self) -> Vec<String> {
        let groups: Vec<String> = match &self.relations {
            Some(relations) => relations
                .iter()
                .filter(|r| r.kind == RELATION_MEMBER_OF)
                .filter_map(Relation::target)
                .collect(),
            None => self.member_of_refs(),
        };
        let mut refs = vec![self.entity_ref()];
        for group in groups.into_iter().filter(|g| g.starts_with("group:")) {
            if !refs.contains(&group) {
                refs.push(group);
            }
        }
        refs
    }

    /// `spec.memberOf` as full refs; a short name means a group in this
    /// entity's own namespace, as Backstage's catalog processor reads it.
    pub fn member_of_refs(&self) -> Vec<String> {
        let namespace = self.namespace();
        self.spec
            .member_of
            .iter()
            .filter_map(|target| parse_ref(target, "group", namespace))
            .collect()
    }

    /// `spec.members` of a group as full user refs.
    pub fn member_refs(&self) -> Vec<String> {
        let namespace = self.namespace();
        self.spec
            .members
            .iter()
            .filter_map(|member| parse_ref(member, "user", namespace))
            .collect()
    }
}

/// Backstage's canonical string form: every part lower-cased.
pub(crate) fn stringify_ref(kind: &str, namespace: &str, name: &str) -> String {
    format!(
        "{}:{}/{}",
        kind.to_lowercase(),
        namespace.to_lowercase(),
        name.to_lowercase()
    )
}

/// Parses `[kind:][namespace/]name` with defaults, as Backstage does (a `/`
/// before the first `:` means there is no kind), and returns the canonical
/// string. `None` when a part is empty.
pub(crate) fn parse_ref(text: &str, default_kind: &str, default_namespace: &str) -> Option<String> {
    let slash = text.find('/');
    let colon = text.find(':').filter(|c| slash.is_none_or(|s| *c < s));
    let kind = colon.map_or(default_kind, |c| &text[..c]);
    let name_start = match (colon, slash) {
        (_, Some(s)) => s + 1,
        (Some(c), None) => c + 1,
        (None, None) => 0,
    };
    let namespace = slash.map_or(default_namespace, |s| &text[colon.map_or(0, |c| c + 1)..s]);
    let name = &text[name_start..];
    if kind.is_empty() || namespace.is_empty() || name.is_empty() {
        return None;
    }
    Some(stringify_ref(kind, namespace, name))
}

/// Fills in `relations` for entities read from a file, the way the catalog
/// would: a user is a member of the groups in its `spec.memberOf` and of
/// every group that lists it in `spec.members`.
pub(crate) fn link_memberships(entities: &mut [Entity]) {
    let mut members_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for group in entities.iter().filter(|e| e.is_kind("group")) {
        for user in group.member_refs() {
            members_of.entry(user).or_default().push(group.entity_ref());
        }
    }
    for user in entities.iter_mut().filter(|e| e.is_kind("user")) {
        let mut groups = user.member_of_refs();
        groups.extend(members_of.remove(&user.entity_ref()).unwrap_or_default());
        user.relations = Some(groups.into_iter().map(Relation::member_of).collect());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(json: serde_json::Value) -> Entity {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn refs_parse_like_backstage() {
        assert_eq!(
            parse_ref("Team-A", "group", "default").unwrap(),
            "group:default/team-a"
        );
        assert_eq!(
            parse_ref("ops/sre", "group", "default").unwrap(),
            "group:ops/sre"
        );
        assert_eq!(
            parse_ref("Group:Ops/SRE", "group", "x").unwrap(),
            "group:ops/sre"
        );
        assert_eq!(parse_ref("user:bob", "group", "x").unwrap(), "user:x/bob");
        // A slash before the colon: the colon belongs to the name.
        assert_eq!(parse_ref("ns/a:b", "group", "x").unwrap(), "group:ns/a:b");
        assert_eq!(parse_ref(":x", "group", "x"), None);
        assert_eq!(parse_ref("a/", "group", "x"), None);
    }

    #[test]
    fn ownership_from_api_relations_keeps_only_groups() {
        let user = entity(serde_json::json!({
            "kind": "User",
            "metadata": {"name": "Alice"},
            "relations": [
                {"type": "memberOf", "targetRef": "group:default/team-a"},
                {"type": "memberOf", "target": {"kind": "Group", "namespace": "ops", "name": "SRE"}},
                {"type": "memberOf", "targetRef": "group:default/team-a"},
                {"type": "ownerOf", "targetRef": "component:default/x"},
                {"type": "memberOf", "targetRef": "user:default/odd"}
            ]
        }));
        assert_eq!(
            user.ownership_refs(),
            [
                "user:default/alice",
                "group:default/team-a",
                "group:ops/sre"
            ]
        );
    }

    #[test]
    fn ownership_without_relations_reads_member_of() {
        let user = entity(serde_json::json!({
            "kind": "User",
            "metadata": {"name": "bob", "namespace": "eng"},
            "spec": {"memberOf": ["devs", "default/all", "group:ops/sre"]}
        }));
        assert_eq!(
            user.ownership_refs(),
            [
                "user:eng/bob",
                "group:eng/devs",
                "group:default/all",
                "group:ops/sre"
            ]
        );
    }

    #[test]
    fn group_members_become_memberships() {
        let mut entities = vec![
            entity(
                serde_json::json!({"kind": "User", "metadata": {"name": "carol"},
                "spec": {"memberOf": ["a"]}}),
            ),
            entity(
                serde_json::json!({"kind": "Group", "metadata": {"name": "b"},
                "spec": {"members": ["Carol", "dave"]}}),
            ),
        ];
        link_memberships(&mut entities);
        assert_eq!(
            entities[0].ownership_refs(),
            ["user:default/carol", "group:default/a", "group:default/b"]
        );
    }
}
