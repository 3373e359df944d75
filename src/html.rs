//! Every HTML page stagepass renders (errors, the development sign-in page,
//! the sign-out confirmation, the built-in whoami page) comes from the one
//! template here: the site's name, what happened in a plain sentence, what
//! the person can do next, and the request id and time to quote.
//!
//! No script and no external asset; the one stylesheet is inline and
//! allowed by its hash in a strict `Content-Security-Policy`.

use std::sync::LazyLock;

use base64::Engine;
use http::header::{self, HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};

/// Readable in light and dark mode (contrast above 7:1 for text), large
/// touch targets, a visible keyboard focus ring, one column on a phone.
const STYLE: &str = "\
:root{color-scheme:light dark;--fg:#1f2328;--bg:#fff;--muted:#57606a;--line:#d0d7de;--accent:#0b57d0;--on-accent:#fff}\
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--bg:#0d1117;--muted:#9da7b3;--line:#30363d;--accent:#7cacf8;--on-accent:#0d1117}}\
*{box-sizing:border-box}\
body{margin:0;font:1rem/1.5 system-ui,-apple-system,'Segoe UI',sans-serif;color:var(--fg);background:var(--bg)}\
header{border-bottom:1px solid var(--line);padding:.75rem 1.25rem;font-weight:600}\
main{max-width:42rem;margin:0 auto;padding:2rem 1.25rem}\
h1{font-size:1.5rem;line-height:1.25;margin:0 0 1rem}\
p{margin:0 0 1rem}\
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:.9em}\
pre{white-space:pre-wrap;word-break:break-all;border:1px solid var(--line);border-radius:6px;padding:.75rem;margin:0 0 1rem}\
table{border-collapse:collapse;width:100%;margin:0 0 1rem}\
th,td{text-align:left;vertical-align:top;border-bottom:1px solid var(--line);padding:.4rem .5rem .4rem 0;word-break:break-word}\
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin:1.5rem 0}\
.actions form{margin:0}\
a.button,button{display:inline-block;min-height:2.75rem;padding:.6rem 1.1rem;border-radius:6px;border:1px solid var(--accent);\
font:inherit;text-decoration:none;cursor:pointer;color:var(--accent);background:transparent}\
.primary{color:var(--on-accent)!important;background:var(--accent)!important}\
a{color:var(--accent)}\
a:focus-visible,button:focus-visible,input:focus-visible,select:focus-visible{outline:3px solid var(--accent);outline-offset:2px}\
label{display:block;font-weight:600;margin:0 0 .25rem}\
select,input{font:inherit;min-height:2.75rem;padding:.4rem;width:100%;max-width:24rem;color:var(--fg);background:var(--bg);border:1px solid var(--muted);border-radius:6px}\
footer{color:var(--muted);font-size:.875rem;border-top:1px solid var(--line);margin-top:2rem;padding-top:1rem}";

static POLICY: LazyLock<HeaderValue> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE));
    HeaderValue::from_str(&format!(
        "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    ))
    .expect("a valid header value")
});

/// What the person can do next. The first action is the main button.
pub enum Action<'a> {
    Link {
        label: &'a str,
        href: &'a str,
    },
    /// A button posting a small form (sign-out).
    Post {
        label: &'a str,
        action: &'a str,
        fields: &'a [(&'a str, &'a str)],
    },
}

pub struct Page<'a> {
    /// The site's name: Backstage's `app.title`, or "stagepass".
    pub site: &'a str,
    /// The heading, and the page title after the site's name.
    pub title: &'a str,
    /// Safe HTML: escape anything that came from outside.
    pub body: &'a str,
    pub actions: &'a [Action<'a>],
    /// Shown with the time, to quote when asking for help.
    pub request_id: Option<&'a str>,
}

impl Page<'_> {
    pub fn render(&self) -> String {
        let actions: String = self
            .actions
            .iter()
            .enumerate()
            .map(|(i, action)| action.render(i == 0))
            .collect();
        let actions = if actions.is_empty() {
            actions
        } else {
            format!("<div class=\"actions\">{actions}</div>")
        };
        let footer = match self.request_id {
            Some(id) => format!(
                "<footer><p>Request <code>{}</code> at {}. Quote both when you ask for help.</p></footer>",
                escape(id),
                chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC"),
            ),
            None => String::new(),
        };
        format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta name=\"robots\" content=\"noindex\"><title>{title} · {site}</title><style>{STYLE}</style></head>\
<body><header>{site}</header><main><h1>{title}</h1>{body}{actions}{footer}</main></body></html>",
            title = escape(self.title),
            site = escape(self.site),
            body = self.body,
        )
    }
}

impl Action<'_> {
    fn render(&self, primary: bool) -> String {
        let class = if primary { "button primary" } else { "button" };
        match self {
            Action::Link { label, href } => format!(
                "<a class=\"{class}\" href=\"{}\">{}</a>",
                escape(href),
                escape(label)
            ),
            Action::Post {
                label,
                action,
                fields,
            } => {
                let hidden: String = fields
                    .iter()
                    .map(|(name, value)| {
                        format!(
                            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                            escape(name),
                            escape(value)
                        )
                    })
                    .collect();
                format!(
                    "<form method=\"post\" action=\"{}\">{hidden}<button type=\"submit\" class=\"{class}\">{}</button></form>",
                    escape(action),
                    escape(label)
                )
            }
        }
    }
}

/// The headers every page of stagepass's carries: HTML, never cached (pages
/// depend on cookies), the strict policy, no sniffing, no referrer.
pub fn set_page_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::CONTENT_SECURITY_POLICY, POLICY.clone());
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // No page of stagepass's works inside another site's frame (a sign-out
    // button must not be clickable there); for browsers that predate CSP.
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// Whether the client is a browser that wants a page rather than JSON.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.contains("text/html"))
}

/// Escapes text for HTML element content and double- or single-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn the_policy_allows_exactly_the_inline_style_and_no_script() {
        let policy = POLICY.to_str().unwrap();
        assert!(policy.starts_with("default-src 'none';"));
        assert!(!policy.contains("unsafe"));
        let page = Page {
            site: "Portal <dev>",
            title: "Signed out",
            body: "<p>Bye.</p>",
            actions: &[Action::Link {
                label: "Sign in",
                href: "/x?a=1&b=\"2\"",
            }],
            request_id: Some("abc123"),
        }
        .render();
        assert!(page.contains(&format!("<style>{STYLE}</style>")));
        assert!(page.contains("Portal &lt;dev&gt;"));
        assert!(page.contains("href=\"/x?a=1&amp;b=&quot;2&quot;\""));
        assert!(page.contains("<code>abc123</code>"));
        assert!(!page.contains("<script"));
    }
}
