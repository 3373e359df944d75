//! Backstage's catalog REST API, called with an external-access static token.

use serde::Deserialize;
use url::Url;

use super::{Lookup, Unavailable};
use crate::config::Secret;
use crate::http_client::ApiClient;
use crate::identity::entity::{DEFAULT_NAMESPACE, Entity};

/// Enough for a development sign-in page; not meant to page through a big org.
const LIST_LIMIT: usize = 500;

pub(crate) struct ApiCatalog {
    /// The base URL without a trailing slash, e.g. `http://backstage:7007/api/catalog`.
    base: String,
    token: Option<Secret>,
    client: ApiClient,
}

/// The answer of `GET /entities/by-query`.
#[derive(Deserialize)]
struct QueryPage {
    items: Vec<Entity>,
    #[serde(default, rename = "totalItems")]
    total_items: Option<u64>,
}

impl ApiCatalog {
    pub fn new(url: &Url, token: Option<Secret>, client: ApiClient) -> Self {
        ApiCatalog {
            base: url.as_str().trim_end_matches('/').to_string(),
            token,
            client,
        }
    }

    /// Every User entity answering `lookup`. What the API returns is checked
    /// again here with [`Lookup::matches`]: the API's filter language splits
    /// on `,` and `=` after decoding and trims values, so it is a pre-filter,
    /// never the decision.
    pub async fn find_users(&self, lookup: &Lookup) -> Result<Vec<Entity>, Unavailable> {
        if !lookup.is_safe_in_a_filter() {
            tracing::warn!(
                "catalog lookup refused: the value contains ',' or '=', which Backstage's filter syntax would read as more statements"
            );
            return Ok(Vec::new());
        }
        let found = self.query(lookup).await?;
        Ok(found.into_iter().filter(|e| lookup.matches(e)).collect())
    }

    async fn query(&self, lookup: &Lookup) -> Result<Vec<Entity>, Unavailable> {
        let filter = match lookup {
            Lookup::UserName(name) => return self.by_name(name).await,
            Lookup::ProfileEmail(email) => {
                filter(&[("kind", "user"), ("spec.profile.email", email)])
            }
            Lookup::Annotation { key, value } => filter(&[
                ("kind", "user"),
                (&format!("metadata.annotations.{key}"), value),
            ]),
        };
        // Two are enough to tell "one" from "several"; totalItems has the count.
        let page = self.by_query(&format!("filter={filter}&limit=2")).await?;
        if page.items.len() > 1 {
            tracing::debug!(total = ?page.total_items, "catalog lookup matched several users");
        }
        Ok(page.items)
    }

    pub async fn list_users(&self) -> Result<Vec<Entity>, Unavailable> {
        let query = format!("filter=kind=user&orderField=metadata.name,asc&limit={LIST_LIMIT}");
        Ok(self.by_query(&query).await?.items)
    }

    async fn by_name(&self, name: &str) -> Result<Vec<Entity>, Unavailable> {
        let path = format!(
            "/entities/by-name/user/{DEFAULT_NAMESPACE}/{}",
            encode_component(name)
        );
        match self.get(&path).await? {
            None => Ok(Vec::new()),
            Some(body) => Ok(vec![parse_json(&body, &path)?]),
        }
    }

    async fn by_query(&self, query: &str) -> Result<QueryPage, Unavailable> {
        let path = format!("/entities/by-query?{query}");
        let body = self.get(&path).await?.ok_or_else(|| {
            Unavailable(format!("catalog API answered 404 for {}/entities/by-query; is the URL the catalog's base, like http://backstage:7007/api/catalog?", self.base))
        })?;
        parse_json(&body, "/entities/by-query")
    }

    /// `None` for 404; the body for 200; every other outcome is an outage.
    async fn get(&self, path_and_query: &str) -> Result<Option<Vec<u8>>, Unavailable> {
        let mut request = http::Request::get(format!("{}{path_and_query}", self.base))
            .header(http::header::ACCEPT, "application/json");
        if let Some(token) = &self.token {
            request = request.header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", token.expose()),
            );
        }
        let request = request
            .body(Vec::new())
            .map_err(|e| Unavailable(format!("cannot build catalog request: {e}")))?;
        let response = self
            .client
            .send(request)
            .await
            .map_err(|e| Unavailable(format!("catalog API {} unreachable: {e}", self.base)))?;
        match response.status() {
            http::StatusCode::OK => Ok(Some(response.into_body())),
            http::StatusCode::NOT_FOUND => Ok(None),
            status @ (http::StatusCode::UNAUTHORIZED | http::StatusCode::FORBIDDEN) => {
                Err(Unavailable(format!(
                    "catalog API refused stagepass (HTTP {status}); set stagepass.catalog.token to a static token from Backstage's backend.auth.externalAccess"
                )))
            }
            status => Err(Unavailable(format!("catalog API answered HTTP {status}"))),
        }
    }
}

fn parse_json<T: for<'de> Deserialize<'de>>(body: &[u8], what: &str) -> Result<T, Unavailable> {
    serde_json::from_slice(body).map_err(|e| {
        Unavailable(format!(
            "catalog API answer for {what} is not what Backstage sends: {e}"
        ))
    })
}

/// The catalog's `filter` parameter: `key=value` pairs joined by commas, each
/// part URL-encoded like Backstage's own catalog client does.
fn filter(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| format!("{}={}", encode_component(key), encode_component(value)))
        .collect::<Vec<_>>()
        .join(",")
}

/// JavaScript's `encodeURIComponent`: everything but `A-Z a-z 0-9 - _ . ! ~ * ' ( )`
/// is percent-encoded, so `+`, `@`, `,`, `=` and `/` in a value survive the trip.
pub(crate) fn encode_component(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&byte) {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_encode_uri_component() {
        assert_eq!(encode_component("a+b@x.com"), "a%2Bb%40x.com");
        assert_eq!(encode_component("google.com/email"), "google.com%2Femail");
        assert_eq!(encode_component("é, =&"), "%C3%A9%2C%20%3D%26");
        assert_eq!(encode_component("A-z_0.!~*'()"), "A-z_0.!~*'()");
    }

    #[test]
    fn builds_filters() {
        assert_eq!(
            filter(&[
                ("kind", "user"),
                ("metadata.annotations.corp.io/email", "a+b@x")
            ]),
            "kind=user,metadata.annotations.corp.io%2Femail=a%2Bb%40x"
        );
    }
}
