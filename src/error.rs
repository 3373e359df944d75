//! Errors tagged by where they come from. The server turns them into HTTP
//! responses in exactly one place (`server::respond`), so every failure a user
//! meets has the same shape and a status that names whose fault it is.

use std::fmt;

/// Who caused a failure; decides the status class and the log level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The request itself is wrong (4xx).
    Client,
    /// The OpenID Provider failed or is unreachable.
    Idp,
    /// The catalog (file or Backstage API) failed or is unreachable.
    Catalog,
    /// The app behind stagepass failed or is unreachable.
    Upstream,
    /// A bug or an impossible state in stagepass itself.
    Internal,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Client => "client",
            Source::Idp => "idp",
            Source::Catalog => "catalog",
            Source::Upstream => "upstream",
            Source::Internal => "internal",
        }
    }
}

/// A failure that ends a request. Boxed so that `Result<_, Error>` stays one
/// pointer wide on the happy path; read its fields through `Deref`.
#[derive(Debug)]
pub struct Error(Box<ErrorParts>);

/// `public` is shown to the user; `detail` only goes to the log and must
/// never contain a secret, token or cookie value.
pub struct ErrorParts {
    pub source: Source,
    pub status: http::StatusCode,
    /// Short machine-readable code, e.g. `upstream_unreachable`.
    pub code: &'static str,
    /// One sentence for the person who sees the error page.
    pub public: String,
    /// What went wrong, for operators.
    pub detail: String,
    /// Extra response headers, e.g. `WWW-Authenticate` or cookie deletions.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// What the person can do next, offered on the HTML page.
    pub actions: Vec<NextStep>,
    /// Where to sign in, when that is the way forward (also in JSON).
    pub sign_in_url: Option<String>,
}

/// Header values are left out: they may be cookies (a refreshed session).
impl std::fmt::Debug for ErrorParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let header_names: Vec<&http::HeaderName> = self.headers.iter().map(|(n, _)| n).collect();
        f.debug_struct("ErrorParts")
            .field("source", &self.source)
            .field("status", &self.status)
            .field("code", &self.code)
            .field("public", &self.public)
            .field("detail", &self.detail)
            .field("headers", &header_names)
            .field("actions", &self.actions)
            .field("sign_in_url", &self.sign_in_url)
            .finish()
    }
}

/// A way forward from an error page: a link, or a button posting to `href`.
#[derive(Debug, Clone)]
pub struct NextStep {
    pub label: String,
    pub href: String,
    pub post: bool,
}

impl Error {
    pub fn new(
        source: Source,
        status: http::StatusCode,
        code: &'static str,
        public: impl Into<String>,
    ) -> Self {
        Error(Box::new(ErrorParts {
            source,
            status,
            code,
            public: public.into(),
            detail: String::new(),
            headers: Vec::new(),
            actions: Vec::new(),
            sign_in_url: None,
        }))
    }

    /// Log-only detail. It may carry text from outside (an IdP's
    /// `error_description`, a peer's error), so control characters are
    /// escaped and the length is capped: one request, one log line, and no
    /// forged lines.
    pub fn with_detail(mut self, detail: impl fmt::Display) -> Self {
        self.0.detail = loggable(&detail.to_string());
        self
    }

    /// Names the route whose upstream failed, on the page and in the log:
    /// with several apps behind one gateway, "the application" is not
    /// enough to know which one to look at.
    pub fn on_route(mut self, route: &str) -> Self {
        if self.0.source == Source::Upstream {
            let public = self.0.public.trim_end_matches('.');
            self.0.public = format!("{public} (route {route}).");
            self.0.detail = loggable(&format!("route {route}: {}", self.0.detail));
        }
        self
    }

    pub fn with_header(mut self, name: http::HeaderName, value: http::HeaderValue) -> Self {
        self.0.headers.push((name, value));
        self
    }

    /// A link to offer; the first one offered is the main button.
    pub fn with_action(mut self, label: impl Into<String>, href: impl Into<String>) -> Self {
        self.0.actions.push(NextStep {
            label: label.into(),
            href: href.into(),
            post: false,
        });
        self
    }

    /// A button that posts an empty form to `href` (sign-out).
    pub fn with_post_action(mut self, label: impl Into<String>, href: impl Into<String>) -> Self {
        self.0.actions.push(NextStep {
            label: label.into(),
            href: href.into(),
            post: true,
        });
        self
    }

    /// Signing in is the way forward: a "Sign in" button on the page and
    /// `signInUrl` in JSON.
    pub fn with_sign_in(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        self.0.sign_in_url = Some(url.clone());
        self.with_action("Sign in", url)
    }

    pub fn bad_request(code: &'static str, public: impl Into<String>) -> Self {
        Error::new(Source::Client, http::StatusCode::BAD_REQUEST, code, public)
    }

    pub fn internal(detail: impl fmt::Display) -> Self {
        Error::new(
            Source::Internal,
            http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "stagepass hit an internal error.",
        )
        .with_detail(detail)
    }
}

impl std::ops::Deref for Error {
    type Target = ErrorParts;
    fn deref(&self) -> &ErrorParts {
        &self.0
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.code,
            self.source.as_str(),
            self.public
        )?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Longest detail kept for a log line, in characters.
const MAX_DETAIL_CHARS: usize = 512;

/// `text` with control characters escaped (`\n`, `\u{1b}`, …) and cut to
/// [`MAX_DETAIL_CHARS`], marked with `…` when cut.
pub fn loggable(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_DETAIL_CHARS));
    for (count, c) in text.chars().enumerate() {
        if count == MAX_DETAIL_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod loggable_tests {
    use super::loggable;

    #[test]
    fn control_characters_are_escaped_and_length_is_capped() {
        assert_eq!(
            loggable("bad\n{\"level\":\"INFO\"}\r\u{1b}[31m"),
            "bad\\n{\"level\":\"INFO\"}\\r\\u{1b}[31m"
        );
        let long = "x".repeat(2000);
        let cut = loggable(&long);
        assert_eq!(cut.chars().count(), 513);
        assert!(cut.ends_with('…'));
        assert_eq!(loggable("naïve ok"), "naïve ok");
    }
}

/// What cannot be built at start-up, one line each naming its key path:
/// every part is tried, and all that fail are named in one run.
#[derive(Debug, Default)]
pub struct StartupProblems(Vec<String>);

impl StartupProblems {
    /// The value, or `None` with its problem kept. A problem two parts share
    /// (one client certificate for two upstreams) is named once.
    pub fn keep<T>(&mut self, result: Result<T, String>) -> Option<T> {
        result
            .map_err(|problem| {
                if !self.0.contains(&problem) {
                    self.0.push(problem);
                }
            })
            .ok()
    }

    /// One line per problem.
    pub fn message(&self) -> String {
        self.0.join("\n")
    }
}
