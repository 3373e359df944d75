//! Path-tracking access to the merged tree: a [`Field`] knows its key path
//! and whether its value is secret, and parse problems are collected in
//! [`Problems`] instead of stopping at the first one.

use serde_json::{Map, Value};

use super::ConfigProblem;
use super::redact::is_secret_key;

/// Sections whose every value is secret, whatever the key is called.
const SECRET_SECTIONS: &[&str] = &["auth.session"];

/// A suggestion is made only for a known key at least this similar.
const SUGGESTION_SIMILARITY: f64 = 0.85;

/// Longest value echoed in a message; the rest is elided.
const MAX_ECHO_CHARS: usize = 80;

/// Problems (the config is refused) and warnings (it loads, but something
/// looks wrong or unsafe).
#[derive(Debug, Default)]
pub(super) struct Problems(Vec<ConfigProblem>, Vec<ConfigProblem>);

impl Problems {
    pub fn add(&mut self, path: &str, message: impl Into<String>) {
        self.0.push(ConfigProblem::new(path, message));
    }
    pub fn warn(&mut self, path: &str, message: impl Into<String>) {
        self.1.push(ConfigProblem::new(path, message));
    }
    pub fn take_warnings(&mut self) -> Vec<ConfigProblem> {
        std::mem::take(&mut self.1)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn into_vec(self) -> Vec<ConfigProblem> {
        self.0
    }
}

/// A possibly absent value at a key path.
#[derive(Debug, Clone)]
pub(super) struct Field<'a> {
    pub path: String,
    /// `None` when the key is absent or null: YAML's `key:` with nothing
    /// after it means "use the default".
    pub value: Option<&'a Value>,
    /// Whether the value must never appear in a message.
    pub secret: bool,
}

impl<'a> Field<'a> {
    /// The top-level section `name` of `tree`.
    pub fn root(tree: &'a Value, name: &str) -> Field<'a> {
        let top = Field {
            path: String::new(),
            value: Some(tree),
            secret: false,
        };
        top.child(name)
    }

    pub fn child(&self, key: &str) -> Field<'a> {
        let path = if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        };
        let value = self.value.and_then(|v| v.get(key)).filter(|v| !v.is_null());
        let secret = self.secret || is_secret_key(key) || SECRET_SECTIONS.contains(&path.as_str());
        Field {
            path,
            value,
            secret,
        }
    }

    pub fn is_set(&self) -> bool {
        self.value.is_some()
    }

    /// The items of a list; a single value counts as a list of one.
    pub fn items(&self) -> Vec<Field<'a>> {
        match self.value {
            None => Vec::new(),
            Some(Value::Array(items)) => (items.iter().enumerate())
                .map(|(index, item)| Field {
                    path: format!("{}[{index}]", self.path),
                    value: Some(item).filter(|v| !v.is_null()),
                    secret: self.secret,
                })
                .collect(),
            Some(_) => vec![self.clone()],
        }
    }

    /// The value as a mapping; a problem if it is set but something else.
    pub fn map(&self, problems: &mut Problems) -> Option<&'a Map<String, Value>> {
        match self.value? {
            Value::Object(map) => Some(map),
            _ => {
                problems.add(
                    &self.path,
                    format!("expected a mapping, got {}", self.got()),
                );
                None
            }
        }
    }

    /// Reports every key of this mapping not in `known`, suggesting the
    /// closest known key when one is close.
    pub fn reject_unknown_keys(&self, problems: &mut Problems, known: &[&str]) {
        let Some(Value::Object(map)) = self.value else {
            return;
        };
        for key in map.keys().filter(|key| !known.contains(&key.as_str())) {
            let message = match closest(key, known) {
                Some(suggestion) => format!("unknown key (did you mean {suggestion}?)"),
                None => format!("unknown key (known keys: {})", known.join(", ")),
            };
            problems.add(&self.child(key).path, message);
        }
    }

    /// Keys of this mapping that are not in `known` but one edit away from
    /// a key that is: (the key's path, the known key).
    pub fn near_misses(&self, known: &[&'a str]) -> Vec<(String, &'a str)> {
        let Some(Value::Object(map)) = self.value else {
            return Vec::new();
        };
        map.keys()
            .filter(|key| !known.contains(&key.as_str()))
            .filter_map(|key| Some((self.child(key).path, closest(key, known)?)))
            .collect()
    }

    /// The value as text: strings as they are, numbers as written (YAML
    /// types `clientId: 12345` as a number).
    pub fn text(&self) -> Result<String, String> {
        match self.value {
            Some(Value::String(text)) => Ok(text.clone()),
            Some(Value::Number(number)) => Ok(number.to_string()),
            _ => Err(format!("expected a string, got {}", self.got())),
        }
    }

    /// The value for a message: quoted and shortened, or only its kind when
    /// secret or a list or mapping (whose contents may hold secrets under
    /// keys nobody validated yet).
    pub fn got(&self) -> String {
        let Some(value) = self.value else {
            return "nothing".to_string();
        };
        if self.secret || value.is_array() || value.is_object() {
            return kind(value).to_string();
        }
        let shown = value.to_string();
        if shown.chars().count() <= MAX_ECHO_CHARS {
            return shown;
        }
        let cut: String = shown.chars().take(MAX_ECHO_CHARS).collect();
        format!("{cut}...")
    }

    /// Parses a value that must be set.
    pub fn required<T>(
        &self,
        problems: &mut Problems,
        parse: impl FnOnce(&Self) -> Result<T, String>,
    ) -> Option<T> {
        if !self.is_set() {
            problems.add(&self.path, "missing");
            return None;
        }
        self.parse(problems, parse)
    }

    /// Parses a value if set; `default` if not set, or after recording why
    /// it is invalid (the result is then never used).
    pub fn optional<T>(
        &self,
        problems: &mut Problems,
        default: T,
        parse: impl FnOnce(&Self) -> Result<T, String>,
    ) -> T {
        if !self.is_set() {
            return default;
        }
        self.parse(problems, parse).unwrap_or(default)
    }

    /// Parses every item of a list (absent: empty), recording each bad item.
    pub fn list<T>(
        &self,
        problems: &mut Problems,
        parse: impl Fn(&Self) -> Result<T, String>,
    ) -> Vec<T> {
        let items = self.items();
        items
            .iter()
            .filter_map(|item| item.required(problems, &parse))
            .collect()
    }

    fn parse<T>(
        &self,
        problems: &mut Problems,
        parse: impl FnOnce(&Self) -> Result<T, String>,
    ) -> Option<T> {
        parse(self)
            .map_err(|message| problems.add(&self.path, message))
            .ok()
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// The known key most similar to `key`, compared case-insensitively.
pub(super) fn closest<'k>(key: &str, known: &[&'k str]) -> Option<&'k str> {
    let key = key.to_lowercase();
    let score = |candidate: &str| strsim::jaro_winkler(&key, &candidate.to_lowercase());
    known
        .iter()
        .map(|candidate| (*candidate, score(candidate)))
        .filter(|(_, similarity)| *similarity >= SUGGESTION_SIMILARITY)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(candidate, _)| candidate)
}
