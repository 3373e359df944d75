//! Reading files into one merged tree: parse YAML, resolve Backstage's
//! `$env` / `$file` / `$include` forms and `${VAR}` substitution per file
//! (relative paths resolve against the file that names them), then
//! deep-merge the files in order.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::ConfigProblem;
use super::substitute::{not_set, substitute};

/// Includes nested deeper than this are almost certainly a mistake.
const MAX_INCLUDE_DEPTH: usize = 16;

/// Keys whose string values are file paths; they are made relative to the
/// directory of the file that names them, since after merging nobody knows
/// which file that was.
/// `*` stands for any list index, `?` for any mapping key.
const PATH_KEYS: &[&[&str]] = &[
    &["stagepass", "tls", "certFile"],
    &["stagepass", "tls", "keyFile"],
    &["stagepass", "catalog", "file"],
    &["stagepass", "catalog", "caFile"],
    &["stagepass", "tls", "caFiles", "*"],
    &["stagepass", "upstreamTls", "caFile"],
    &["stagepass", "upstreamTls", "certFile"],
    &["stagepass", "upstreamTls", "keyFile"],
    &["auth", "providers", "?", "?", "caFile"],
    &["auth", "keyStore", "static", "keys", "*", "publicKeyFile"],
    &["auth", "keyStore", "static", "keys", "*", "privateKeyFile"],
];

/// The merged tree and what went wrong while building it.
pub(super) struct Merged {
    pub tree: Value,
    /// Files that could not be read or parsed.
    pub file_problems: Vec<ConfigProblem>,
    /// Values that could not be resolved; each such value is null in `tree`.
    pub value_problems: Vec<ConfigProblem>,
}

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

/// A value that could not be resolved, at its key path.
struct ValueProblem {
    path: Vec<Seg>,
    message: String,
}

/// Renders a key path as `auth.session.secret[1]`.
fn display_path(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(key) if out.is_empty() => out.push_str(key),
            Seg::Key(key) => {
                out.push('.');
                out.push_str(key);
            }
            Seg::Index(index) => out.push_str(&format!("[{index}]")),
        }
    }
    if out.is_empty() {
        // A directive or substitution replacing a whole file.
        out.push_str("(top level)");
    }
    out
}

pub(super) fn load_files(paths: &[PathBuf], env: &dyn Fn(&str) -> Option<String>) -> Merged {
    let mut loader = Loader {
        env,
        file_problems: Vec::new(),
        value_problems: Vec::new(),
        include_stack: Vec::new(),
    };
    if paths.is_empty() {
        loader
            .file_problems
            .push(ConfigProblem::new("config", "no configuration file given"));
    }
    let mut files = Vec::new();
    for path in paths {
        let start = loader.value_problems.len();
        if let Some(tree) = loader.load_file(path) {
            files.push((tree, loader.value_problems.split_off(start)));
        }
    }
    let value_problems = surviving_problems(&files);
    let mut tree = Value::Object(Map::new());
    for (file_tree, _) in files {
        merge(&mut tree, file_tree);
    }
    Merged {
        tree,
        file_problems: loader.file_problems,
        value_problems,
    }
}

/// Problems of values that a later file replaces do not matter, just as in
/// Backstage a later file may override a `${VAR}` that is not set here.
fn surviving_problems(files: &[(Value, Vec<ValueProblem>)]) -> Vec<ConfigProblem> {
    let mut out = Vec::new();
    for (index, (_, problems)) in files.iter().enumerate() {
        for problem in problems {
            let later = &files[index + 1..];
            if !later.iter().any(|(tree, _)| replaces(tree, &problem.path)) {
                out.push(ConfigProblem::new(
                    display_path(&problem.path),
                    problem.message.clone(),
                ));
            }
        }
    }
    out
}

/// Whether merging `tree` over a config replaces the value at `path`.
fn replaces(tree: &Value, path: &[Seg]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return true;
    };
    match (tree, first) {
        (Value::Object(map), Seg::Key(key)) => map.get(key).is_some_and(|v| replaces(v, rest)),
        // Scalars, lists and maps over a list replace whatever was there.
        _ => true,
    }
}

/// Deep merge as Backstage does: maps merge key by key; anything else
/// (scalars, null, lists) replaces.
pub(super) fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, over) => *base = over,
    }
}

struct Loader<'e> {
    env: &'e dyn Fn(&str) -> Option<String>,
    file_problems: Vec<ConfigProblem>,
    value_problems: Vec<ValueProblem>,
    /// Files being included, outermost first, to detect cycles.
    include_stack: Vec<PathBuf>,
}

impl Loader<'_> {
    /// Reads, parses and resolves one top-level config file.
    fn load_file(&mut self, path: &Path) -> Option<Value> {
        let name = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(err) => return self.file_problem(name, format!("cannot read file: {err}")),
        };
        let tree = match parse_yaml(&text) {
            Ok(Value::Null) => Value::Object(Map::new()),
            Ok(tree @ Value::Object(_)) => tree,
            Ok(_) => return self.file_problem(name, "expected a mapping at the top level"),
            Err(message) => return self.file_problem(name, message),
        };
        let dir = parent_dir(path);
        self.include_stack.push(canonical(path));
        let tree = self.resolve(tree, &dir, &mut Vec::new());
        self.include_stack.pop();
        Some(tree)
    }

    fn file_problem(&mut self, name: String, message: impl Into<String>) -> Option<Value> {
        self.file_problems.push(ConfigProblem::new(name, message));
        None
    }

    /// Records a problem at `path` and yields the null left in its place.
    fn value_problem(&mut self, path: &[Seg], message: impl Into<String>) -> Value {
        self.value_problems.push(ValueProblem {
            path: path.to_vec(),
            message: message.into(),
        });
        Value::Null
    }

    /// Resolves directives and substitutions in `value`, found at `path` in
    /// a file in `dir`.
    fn resolve(&mut self, value: Value, dir: &Path, path: &mut Vec<Seg>) -> Value {
        let resolved = match value {
            Value::Object(map) => match directive(&map) {
                Some(name) => self.directive(map, name, dir, path),
                None => Value::Object(self.resolve_map(map, dir, path)),
            },
            Value::Array(items) => Value::Array(self.resolve_list(items, dir, path)),
            Value::String(text) => self.substitute_or_null(&text, path),
            other => other,
        };
        resolve_path_key(resolved, dir, path)
    }

    fn resolve_map(
        &mut self,
        map: Map<String, Value>,
        dir: &Path,
        path: &mut Vec<Seg>,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        for (key, value) in map {
            path.push(Seg::Key(key.clone()));
            out.insert(key, self.resolve(value, dir, path));
            path.pop();
        }
        out
    }

    fn resolve_list(&mut self, items: Vec<Value>, dir: &Path, path: &mut Vec<Seg>) -> Vec<Value> {
        let mut out = Vec::with_capacity(items.len());
        for (index, item) in items.into_iter().enumerate() {
            path.push(Seg::Index(index));
            out.push(self.resolve(item, dir, path));
            path.pop();
        }
        out
    }

    fn substitute_or_null(&mut self, text: &str, path: &[Seg]) -> Value {
        match substitute(text, self.env) {
            Ok(text) => Value::String(text),
            Err(message) => self.value_problem(path, message),
        }
    }

    /// A `{$env|$file|$include: ...}` map, replaced by what it names.
    fn directive(
        &mut self,
        map: Map<String, Value>,
        name: &str,
        dir: &Path,
        path: &mut Vec<Seg>,
    ) -> Value {
        if map.len() != 1 {
            return self.value_problem(path, format!("{name} cannot be combined with other keys"));
        }
        let Some(Value::String(raw)) = map.get(name) else {
            return self.value_problem(path, format!("{name} needs a string value"));
        };
        let argument = match substitute(raw, self.env) {
            Ok(argument) => argument,
            Err(message) => return self.value_problem(path, message),
        };
        let result = match name {
            "$env" => (self.env)(&argument)
                .ok_or_else(|| not_set(&argument))
                .map(Value::String),
            "$file" => read_file(&dir.join(&argument)).map(Value::String),
            _ => return self.include(&argument, dir, path),
        };
        result.unwrap_or_else(|message| self.value_problem(path, message))
    }

    /// `$include: file.yaml` or `file.yaml#some.path`: the parsed file (or
    /// the part at `some.path`), itself resolved relative to its own directory.
    fn include(&mut self, argument: &str, dir: &Path, path: &mut Vec<Seg>) -> Value {
        let (file, subpath) = argument.split_once('#').unwrap_or((argument, ""));
        let full = dir.join(file);
        if let Err(message) = self.check_include(&full) {
            return self.value_problem(path, message);
        }
        let parsed = read_file(&full).and_then(|text| parse_by_extension(&full, &text));
        let selected = parsed.and_then(|tree| select(tree, subpath, file));
        let value = match selected {
            Ok(value) => value,
            Err(message) => return self.value_problem(path, message),
        };
        self.include_stack.push(canonical(&full));
        let resolved = self.resolve(value, &parent_dir(&full), path);
        self.include_stack.pop();
        resolved
    }

    fn check_include(&self, file: &Path) -> Result<(), String> {
        if self.include_stack.len() > MAX_INCLUDE_DEPTH {
            return Err(format!(
                "includes nested deeper than {MAX_INCLUDE_DEPTH} levels"
            ));
        }
        if self.include_stack.contains(&canonical(file)) {
            return Err(format!(
                "{} includes itself (include cycle)",
                file.display()
            ));
        }
        Ok(())
    }
}

/// The `$`-directive a map stands for, if any.
fn directive(map: &Map<String, Value>) -> Option<&'static str> {
    ["$env", "$file", "$include"]
        .into_iter()
        .find(|name| map.contains_key(*name))
}

/// Makes a relative file path at one of [`PATH_KEYS`] relative to `dir`.
fn resolve_path_key(value: Value, dir: &Path, path: &[Seg]) -> Value {
    let is_path_key = PATH_KEYS.iter().any(|keys| {
        keys.len() == path.len()
            && keys.iter().zip(path).all(|(k, seg)| match seg {
                Seg::Key(s) => s == k || *k == "?",
                Seg::Index(_) => *k == "*",
            })
    });
    match value {
        Value::String(file) if is_path_key && Path::new(&file).is_relative() => {
            Value::String(dir.join(file).display().to_string())
        }
        other => other,
    }
}

fn read_file(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read file {}: {err}", path.display()))
}

/// Parses YAML into a JSON tree. The message carries the line and column
/// but no source snippet, since the offending line may hold a secret.
pub(super) fn parse_yaml(text: &str) -> Result<Value, String> {
    serde_saphyr::from_str(text).map_err(|err| {
        let options = serde_saphyr::render_options! { snippets: serde_saphyr::SnippetMode::Off };
        err.render_with_options(options)
            .replace(", set DuplicateKeyPolicy in Options if acceptable", "")
    })
}

fn parse_by_extension(path: &Path, text: &str) -> Result<Value, String> {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let parsed = match extension {
        "yaml" | "yml" => parse_yaml(text),
        "json" => serde_json::from_str(text).map_err(|err| err.to_string()),
        _ => {
            return Err(format!(
                "cannot include {}: use a .yaml, .yml or .json file",
                path.display()
            ));
        }
    };
    parsed.map_err(|message| format!("cannot parse included file {}: {message}", path.display()))
}

/// The value at dotted `subpath` of an included file's `tree`.
fn select(tree: Value, subpath: &str, file: &str) -> Result<Value, String> {
    if subpath.is_empty() {
        return Ok(tree);
    }
    let mut value = tree;
    for key in subpath.split('.') {
        value = match value {
            Value::Object(mut map) => map.remove(key),
            _ => None,
        }
        .ok_or_else(|| format!("{subpath} not found in included file {file}"))?;
    }
    Ok(value)
}

pub(super) fn parent_dir(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    absolute.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}
