//! Tests through the public entry points, on real files in a temp dir and
//! with an injected environment.

mod all_at_once;
mod duration;
mod headers;
mod load;
mod outbound;
mod properties;
mod redact;
mod routes;
mod strip;
mod validate;
mod warnings;

use std::path::PathBuf;

use tempfile::TempDir;

use super::{ConfigErrors, Loaded, load_with_env};

/// A config with only the required keys; tests layer overrides on top.
pub(super) const MINIMAL: &str = "
stagepass:
  publicUrl: https://portal.example.com
  upstream: http://127.0.0.1:7007
  provider: my-auth-provider
auth:
  session:
    secret: 0123456789abcdef0123456789abcdef
  providers:
    my-auth-provider:
      development:
        metadataUrl: https://idp.example.com/.well-known/openid-configuration
        clientId: stagepass
        clientSecret: client-secret-value
";

/// A temp dir to write config files into.
pub(super) struct Fixture {
    dir: TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        Fixture {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Writes `text` to `name` (which may contain `/`) and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Loads the named files (already written) with `env` as the environment.
    pub fn load(&self, names: &[&str], env: &[(&str, &str)]) -> Result<Loaded, ConfigErrors> {
        let paths: Vec<PathBuf> = names.iter().map(|name| self.path(name)).collect();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let lookup = move |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        load_with_env(&paths, &lookup)
    }
}

/// [`MINIMAL`] with `overlay` merged over it.
pub(super) fn load_over(overlay: &str) -> Result<Loaded, ConfigErrors> {
    load_over_with_env(overlay, &[])
}

pub(super) fn load_over_with_env(
    overlay: &str,
    env: &[(&str, &str)],
) -> Result<Loaded, ConfigErrors> {
    let fixture = Fixture::new();
    fixture.write("base.yaml", MINIMAL);
    fixture.write("over.yaml", overlay);
    fixture.load(&["base.yaml", "over.yaml"], env)
}

/// The loaded config, or a panic listing the problems.
#[track_caller]
pub(super) fn ok(result: Result<Loaded, ConfigErrors>) -> Loaded {
    match result {
        Ok(loaded) => loaded,
        Err(errors) => panic!("expected a valid config, got:\n{errors}"),
    }
}

/// Overrides for the selected provider's `development` entry.
pub(super) fn provider_overlay(lines: &str) -> String {
    let indented: String = lines
        .lines()
        .map(|line| format!("        {line}\n"))
        .collect();
    format!("auth:\n  providers:\n    my-auth-provider:\n      development:\n{indented}")
}

/// Every problem as displayed, one per entry.
#[track_caller]
pub(super) fn problems(result: Result<Loaded, ConfigErrors>) -> Vec<String> {
    match result {
        Ok(loaded) => panic!("expected problems, got {:?}", loaded.config),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

/// The problems of [`MINIMAL`] with `overlay` merged over it.
#[track_caller]
pub(super) fn problems_over(overlay: &str) -> Vec<String> {
    problems(load_over(overlay))
}

#[test]
fn minimal_config_loads() {
    let loaded = ok(load_over(""));
    assert_eq!(loaded.config.stagepass.provider, "my-auth-provider");
}

#[test]
fn errors_display_one_problem_per_line() {
    let errors = ConfigErrors(vec![
        super::ConfigProblem::new("a.b", "missing"),
        super::ConfigProblem::new("c", "bad"),
    ]);
    assert_eq!(errors.to_string(), "a.b: missing\nc: bad");
}
