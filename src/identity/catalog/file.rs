//! A catalog read from a Backstage catalog YAML file, re-read when it changes.
//!
//! The file's modification time and size are checked at most once per
//! `recheck_every` on lookup, rather than watched: no extra thread or
//! platform-specific watcher, and an idle proxy does no I/O at all.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use super::Lookup;
use crate::identity::entity::{Entity, link_memberships};

pub(crate) const RECHECK_EVERY: Duration = Duration::from_secs(1);

pub(crate) struct FileCatalog {
    path: PathBuf,
    recheck_every: Duration,
    state: Mutex<State>,
}

struct State {
    entities: Arc<Vec<Entity>>,
    /// What the file looked like when last read; a change means re-read.
    seen: Option<Fingerprint>,
    checked_at: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    modified: Option<SystemTime>,
    len: u64,
}

impl Fingerprint {
    fn of(metadata: &std::fs::Metadata) -> Self {
        Fingerprint {
            modified: metadata.modified().ok(),
            len: metadata.len(),
        }
    }
}

impl FileCatalog {
    /// Reads the file once, at start-up: a missing or broken catalog file is a
    /// configuration error the operator should see before anyone signs in.
    pub fn load(path: &Path, recheck_every: Duration) -> Result<Self, String> {
        let metadata = std::fs::metadata(path).map_err(|e| read_error(path, &e))?;
        let text = std::fs::read_to_string(path).map_err(|e| read_error(path, &e))?;
        let entities = parse_catalog_yaml(&text)
            .map_err(|e| format!("catalog file {}: {e}", path.display()))?;
        Ok(FileCatalog {
            path: path.to_path_buf(),
            recheck_every,
            state: Mutex::new(State {
                entities: Arc::new(entities),
                seen: Some(Fingerprint::of(&metadata)),
                checked_at: Instant::now(),
            }),
        })
    }

    pub async fn find_users(&self, lookup: &Lookup) -> Vec<Entity> {
        let entities = self.snapshot().await;
        entities
            .iter()
            .filter(|e| lookup.matches(e))
            .cloned()
            .collect()
    }

    pub async fn list_users(&self) -> Vec<Entity> {
        let entities = self.snapshot().await;
        entities
            .iter()
            .filter(|e| e.is_kind("user"))
            .cloned()
            .collect()
    }

    /// The current entities, re-reading the file first if it is due for a
    /// check and has changed. A file that fails to read or parse keeps the last
    /// good entities: an editor saving half a file must not sign everyone out.
    async fn snapshot(&self) -> Arc<Vec<Entity>> {
        let (entities, seen) = {
            let mut state = self.state.lock().expect("catalog file state lock");
            if state.checked_at.elapsed() < self.recheck_every {
                return state.entities.clone();
            }
            // Claim this check so that concurrent lookups do not repeat it.
            state.checked_at = Instant::now();
            (state.entities.clone(), state.seen)
        };
        let metadata = match tokio::fs::metadata(&self.path).await {
            Ok(metadata) => metadata,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "catalog file unreadable; keeping the users read before");
                return entities;
            }
        };
        let now = Fingerprint::of(&metadata);
        if seen == Some(now) {
            return entities;
        }
        self.reread(now).await.unwrap_or(entities)
    }

    async fn reread(&self, fingerprint: Fingerprint) -> Option<Arc<Vec<Entity>>> {
        let parsed = match tokio::fs::read_to_string(&self.path).await {
            Ok(text) => parse_catalog_yaml(&text),
            Err(e) => Err(e.to_string()),
        };
        let mut state = self.state.lock().expect("catalog file state lock");
        // Remember this version even when broken, so it is not re-parsed (and
        // warned about) every second until someone fixes it.
        state.seen = Some(fingerprint);
        match parsed {
            Ok(entities) => {
                tracing::info!(path = %self.path.display(), entities = entities.len(), "catalog file re-read");
                state.entities = Arc::new(entities);
                Some(state.entities.clone())
            }
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "catalog file changed but is invalid; keeping the users read before");
                None
            }
        }
    }
}

fn read_error(path: &Path, error: &std::io::Error) -> String {
    format!("cannot read catalog file {}: {error}", path.display())
}

/// Parses multi-document catalog YAML. Only User and Group entities are kept;
/// other kinds (Component, Location, ...) are skipped, as they may share the
/// file in a Backstage setup.
pub(crate) fn parse_catalog_yaml(text: &str) -> Result<Vec<Entity>, String> {
    let documents: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(text).map_err(|e| format!("invalid YAML: {e}"))?;
    let mut entities = Vec::new();
    for (index, document) in documents.into_iter().enumerate() {
        let kind = document
            .get("kind")
            .and_then(|k| k.as_str())
            .unwrap_or_default()
            .to_string();
        if !kind.eq_ignore_ascii_case("user") && !kind.eq_ignore_ascii_case("group") {
            continue;
        }
        let entity: Entity = serde_json::from_value(document)
            .map_err(|e| format!("document {} ({kind}): {e}", index + 1))?;
        entities.push(entity);
    }
    link_memberships(&mut entities);
    Ok(entities)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATALOG: &str = r#"
apiVersion: backstage.io/v1alpha1
kind: User
metadata:
  name: alice
  annotations:
    corp.io/email: Alice@Corp.io
spec:
  profile: {email: alice@example.com, displayName: Alice A, picture: "https://p/a.png"}
  memberOf: [team-a]
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-b}
spec: {type: team, children: [], members: [alice]}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: svc}
spec: {type: service, owner: team-a, profile: "not a profile"}
---
"#;

    #[test]
    fn parses_users_groups_and_memberships() {
        let entities = parse_catalog_yaml(CATALOG).unwrap();
        assert_eq!(entities.len(), 2);
        let alice = &entities[0];
        assert_eq!(alice.entity_ref(), "user:default/alice");
        assert_eq!(alice.spec.profile.display_name.as_deref(), Some("Alice A"));
        assert_eq!(
            alice.ownership_refs(),
            [
                "user:default/alice",
                "group:default/team-a",
                "group:default/team-b"
            ]
        );
    }

    #[test]
    fn reports_the_broken_document() {
        let err =
            parse_catalog_yaml("kind: User\nmetadata: {name: a}\n---\nkind: User\nmetadata: {}\n")
                .unwrap_err();
        assert!(err.contains("document 2"), "{err}");
        assert!(parse_catalog_yaml("kind: [unclosed").is_err());
    }

    #[tokio::test]
    async fn rereads_a_changed_file_and_keeps_the_last_good_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.yaml");
        std::fs::write(&path, CATALOG).unwrap();
        let catalog = FileCatalog::load(&path, Duration::ZERO).unwrap();
        let bob = Lookup::UserName("bob".into());
        assert!(catalog.find_users(&bob).await.is_empty());

        std::fs::write(&path, "kind: User\nmetadata: {name: bob}\n").unwrap();
        assert_eq!(catalog.find_users(&bob).await.len(), 1);

        std::fs::write(&path, "kind: User\nmetadata: [broken").unwrap();
        assert_eq!(catalog.find_users(&bob).await.len(), 1);
        std::fs::remove_file(&path).unwrap();
        assert_eq!(catalog.list_users().await.len(), 1);
    }

    #[test]
    fn a_missing_file_fails_at_start() {
        let err = FileCatalog::load(Path::new("/nonexistent/catalog.yaml"), RECHECK_EVERY)
            .err()
            .unwrap();
        assert!(err.contains("/nonexistent/catalog.yaml"));
    }
}
