//! A tiny stand-in for Backstage's catalog API, for tests: serves
//! `entities/by-name` and `entities/by-query` from a list of entities, decodes
//! the query the way Express does (`+` is a space) *before* parsing the filter
//! the way the catalog does (so an encoded `,` splits it, as in Backstage),
//! and can be switched to fail.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use url::Url;

pub(crate) struct FakeCatalog {
    pub url: Url,
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    entities: Mutex<Vec<Value>>,
    failing: AtomicBool,
    /// Misbehave: answer every query with every entity.
    ignore_filters: AtomicBool,
    /// Misbehave: hold every answer this many milliseconds.
    delay_ms: std::sync::atomic::AtomicU64,
    requests: AtomicUsize,
    last_authorization: Mutex<Option<String>>,
}

impl FakeCatalog {
    pub async fn start(entities: Vec<Value>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!(
            "http://{}/api/catalog",
            listener.local_addr().unwrap()
        ))
        .unwrap();
        let state = Arc::new(State {
            entities: Mutex::new(entities),
            ..State::default()
        });
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = shared.clone();
                let service = service_fn(move |req| {
                    let state = state.clone();
                    async move {
                        let delay = state.delay_ms.load(Ordering::SeqCst);
                        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
                        Ok::<_, Infallible>(handle(&state, &req))
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        FakeCatalog { url, state }
    }

    pub fn set_entities(&self, entities: Vec<Value>) {
        *self.state.entities.lock().unwrap() = entities;
    }

    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    pub fn set_delay(&self, delay: std::time::Duration) {
        let ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        self.state.delay_ms.store(ms, Ordering::SeqCst);
    }

    pub fn set_ignore_filters(&self, ignore: bool) {
        self.state.ignore_filters.store(ignore, Ordering::SeqCst);
    }

    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    pub fn last_authorization(&self) -> Option<String> {
        self.state.last_authorization.lock().unwrap().clone()
    }
}

type Response = http::Response<Full<Bytes>>;

fn handle(state: &State, req: &http::Request<hyper::body::Incoming>) -> Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let auth = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap().to_string());
    *state.last_authorization.lock().unwrap() = auth;
    if state.failing.load(Ordering::SeqCst) {
        return respond(503, json!({"error": "down"}));
    }
    let entities = state.entities.lock().unwrap().clone();
    let path = req.uri().path();
    if let Some(name) = path.strip_prefix("/api/catalog/entities/by-name/user/default/") {
        let name = decode(name);
        return match entities
            .iter()
            .find(|e| is_user(e) && same(&e["metadata"]["name"], &name))
        {
            Some(entity) => respond(200, entity.clone()),
            None => respond(404, json!({"error": "not found"})),
        };
    }
    if path == "/api/catalog/entities/by-query" {
        let query = match state.ignore_filters.load(Ordering::SeqCst) {
            true => "",
            false => req.uri().query().unwrap_or_default(),
        };
        return by_query(&entities, query);
    }
    respond(404, json!({"error": "no route"}))
}

fn by_query(entities: &[Value], query: &str) -> Response {
    // Express decodes the whole query string first; only then does the
    // catalog split the filter, exactly as below.
    let params: Vec<(String, String)> = query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let filter = parse_entity_filter_string(&param("filter").unwrap_or_default());
    let matching: Vec<Value> = entities
        .iter()
        .filter(|e| filter.iter().all(|f| f.matches(e)))
        .cloned()
        .collect();
    let limit = param("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(usize::MAX);
    let total = matching.len();
    let items: Vec<Value> = matching.into_iter().take(limit).collect();
    respond(
        200,
        json!({"items": items, "totalItems": total, "pageInfo": {}}),
    )
}

/// One key of a catalog filter: the field equals any of `values` (a repeated
/// key becomes `IN (…)`), or merely exists when no value was given.
struct FieldFilter {
    key: String,
    values: Option<Vec<String>>,
}

impl FieldFilter {
    fn matches(&self, entity: &Value) -> bool {
        let value = field(entity, &self.key);
        match &self.values {
            None => !value.is_null(),
            Some(values) => values.iter().any(|v| same(value, v)),
        }
    }
}

/// Backstage's `parseEntityFilterString` (plugin-catalog-backend): split on
/// `,`, trim, split each statement at its first `=`, trim again, and group
/// the values of a repeated key.
fn parse_entity_filter_string(filter: &str) -> Vec<FieldFilter> {
    let mut filters: Vec<FieldFilter> = Vec::new();
    for statement in filter.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (key, value) = match statement.split_once('=') {
            Some((key, value)) => (key.trim(), Some(value.trim().to_owned())),
            None => (statement, None),
        };
        let index = match filters.iter().position(|f| f.key == key) {
            Some(index) => index,
            None => {
                filters.push(FieldFilter {
                    key: key.to_owned(),
                    values: None,
                });
                filters.len() - 1
            }
        };
        if let Some(value) = value {
            filters[index]
                .values
                .get_or_insert_with(Vec::new)
                .push(value);
        }
    }
    filters
}

fn field<'a>(entity: &'a Value, key: &str) -> &'a Value {
    match key.strip_prefix("metadata.annotations.") {
        Some(annotation) => &entity["metadata"]["annotations"][annotation],
        None => key.split('.').fold(entity, |value, part| &value[part]),
    }
}

fn is_user(entity: &Value) -> bool {
    same(&entity["kind"], "user")
}

fn same(value: &Value, text: &str) -> bool {
    value
        .as_str()
        .is_some_and(|v| v.to_lowercase() == text.to_lowercase())
}

/// Percent-decoding with `+` as space, as Express's query parser does.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn respond(status: u16, body: Value) -> Response {
    http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}
