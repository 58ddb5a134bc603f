//! The web page: one HTML document, a script and a style sheet, embedded in
//! the binary and served by the admin router under `ui`.
//!
//! The page is static. It needs no authentication to load: everything it
//! shows comes from the JSON API next to it, fetched with the browser's own
//! credentials (`credentials: "same-origin"`), so the API's policy decides
//! what a reader sees and records the reads. Serving the page and its assets
//! opens no audit event.
//!
//! Every answer carries a strict Content-Security-Policy (no inline script
//! or style, no other origin, no framing), `X-Content-Type-Options: nosniff`
//! and `Referrer-Policy: no-referrer`, and an `ETag` over its bytes with
//! `Cache-Control: no-cache`, so a browser revalidates (a `304` without a
//! body) and never runs a stale script after an upgrade.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

const INDEX_HTML: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const APP_CSS: &str = include_str!("app.css");
const ICON_SVG: &str = include_str!("icon.svg");

/// The Content-Security-Policy of every page answer.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The routes of the page, relative to where the admin router is nested.
pub(crate) const ROUTES: [&str; 5] = ["/ui", "/ui/", "/ui/app.js", "/ui/app.css", "/ui/icon.svg"];

/// One embedded file, ready to answer with.
struct Asset {
    body: Bytes,
    content_type: &'static str,
    etag: HeaderValue,
}

impl Asset {
    fn new(body: Bytes, content_type: &'static str) -> Self {
        let digest = Sha256::digest(&body);
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        let etag = HeaderValue::from_str(&format!("\"{hex}\"")).unwrap_or_else(|_| HeaderValue::from_static("\"0\""));
        Self {
            body,
            content_type,
            etag,
        }
    }

    /// The asset, or a `304` when the browser's copy is current.
    fn answer(&self, request: &HeaderMap) -> Response {
        let fresh = request
            .get_all(header::IF_NONE_MATCH)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .any(|tag| {
                let tag = tag.trim();
                tag == "*" || tag.trim_start_matches("W/").as_bytes() == self.etag.as_bytes()
            });
        let mut response = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let mut response = self.body.clone().into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(self.content_type));
            response
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, self.etag.clone());
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        secure(headers);
        response
    }
}

/// The headers every page answer carries.
fn secure(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// The page's files, built once per router.
pub(crate) struct Page {
    index: Asset,
    script: Asset,
    style: Asset,
    icon: Asset,
}

impl Page {
    /// The page, telling the script where the application's sign-in is.
    pub(crate) fn new(sign_in_url: Option<&str>) -> Self {
        let index = INDEX_HTML.replace("{{sign_in_url}}", &escape_attribute(sign_in_url.unwrap_or_default()));
        Self {
            index: Asset::new(Bytes::from(index), "text/html; charset=utf-8"),
            script: Asset::new(Bytes::from_static(APP_JS.as_bytes()), "text/javascript; charset=utf-8"),
            style: Asset::new(Bytes::from_static(APP_CSS.as_bytes()), "text/css; charset=utf-8"),
            icon: Asset::new(Bytes::from_static(ICON_SVG.as_bytes()), "image/svg+xml"),
        }
    }
}

/// Escapes text for a double-quoted HTML attribute.
fn escape_attribute(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            c => escaped.push(c),
        }
    }
    escaped
}

/// `GET /ui`
pub(crate) async fn index(State(page): State<Arc<Page>>, headers: HeaderMap) -> Response {
    page.index.answer(&headers)
}

/// `GET /ui/`: to `../ui`, keeping the query, so the page's relative URLs
/// resolve the same under any prefix (and behind a proxy that strips one).
pub(crate) async fn slash(RawQuery(raw): RawQuery) -> Response {
    let location = match raw {
        Some(query) if !query.is_empty() => format!("../ui?{query}"),
        _ => "../ui".to_owned(),
    };
    let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
    if let Ok(location) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    secure(response.headers_mut());
    response
}

/// `GET /ui/app.js`
pub(crate) async fn script(State(page): State<Arc<Page>>, headers: HeaderMap) -> Response {
    page.script.answer(&headers)
}

/// `GET /ui/app.css`
pub(crate) async fn style(State(page): State<Arc<Page>>, headers: HeaderMap) -> Response {
    page.style.answer(&headers)
}

/// `GET /ui/icon.svg`
pub(crate) async fn icon(State(page): State<Arc<Page>>, headers: HeaderMap) -> Response {
    page.icon.answer(&headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sign_in_url_is_escaped_into_its_attribute() {
        let page = Page::new(Some("/login?a=1&b=\"><script>x</script>"));
        let html = std::str::from_utf8(&page.index.body).unwrap();
        assert!(html.contains("content=\"/login?a=1&amp;b=&quot;&gt;&lt;script&gt;x&lt;/script&gt;\""));
        assert!(!html.contains("{{"));
        assert_eq!(html.matches("<script").count(), 1);
    }

    #[test]
    fn the_page_loads_no_inline_script_or_style() {
        // The CSP forbids them; this catches one slipping in.
        assert!(!INDEX_HTML.contains("<style"));
        assert!(!INDEX_HTML.contains(" style="));
        // No inline event handler: ` on…=` inside a tag.
        for (at, _) in INDEX_HTML.match_indices(" on") {
            let name: String = INDEX_HTML[at + 1..]
                .chars()
                .take_while(char::is_ascii_alphabetic)
                .collect();
            assert!(
                !INDEX_HTML[at + 1 + name.len()..].starts_with('='),
                "inline handler {name}"
            );
        }
        for tag in INDEX_HTML.match_indices("<script").map(|(i, _)| &INDEX_HTML[i..]) {
            assert!(tag.starts_with("<script src=\"ui/app.js\""), "{}", &tag[..40]);
        }
    }

    #[test]
    fn the_script_never_writes_markup() {
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
            "new Function",
        ] {
            assert!(!APP_JS.contains(sink), "app.js uses {sink}");
        }
    }
}
