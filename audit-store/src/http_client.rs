//! The plain-HTTP client the checkpoint and stream sinks POST with
//! (hyper's; this crate carries no TLS stack), and the URL rules they
//! share.

use std::io;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// A client of plain-HTTP endpoints, keeping connections alive.
pub(crate) type PlainClient = Client<HttpConnector, Full<Bytes>>;

/// A new client.
pub(crate) fn plain_client() -> PlainClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// `url` as an absolute `http://` URI; the error names `what` the URL is
/// for (the URL shown as [`redact_url`] shows it), and for `https://` says
/// how to get TLS (`tls_hint`).
pub(crate) fn parse_http_url(url: &str, what: &str, tls_hint: &str) -> io::Result<http::Uri> {
    let shown = redact_url(url);
    let invalid = |reason: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{what} URL {shown}: {reason}"));
    let uri: http::Uri = url.parse().map_err(|e| invalid(&format!("{e}")))?;
    match uri.scheme_str() {
        Some("http") if uri.host().is_some() => Ok(uri),
        Some("https") => Err(invalid(&format!(
            "https needs TLS, which this crate does not carry: {tls_hint}"
        ))),
        _ => Err(invalid("expected an absolute http:// URL")),
    }
}

/// `uri` without user info, its query shown as `?…` (either may carry a
/// credential: receivers such as Splunk HEC take a token in the query).
pub(crate) fn describe_url(uri: &http::Uri) -> String {
    let port = uri.port().map(|port| format!(":{port}")).unwrap_or_default();
    let query = if uri.query().is_some() { "?…" } else { "" };
    format!(
        "{}://{}{port}{}{query}",
        uri.scheme_str().unwrap_or("http"),
        uri.host().unwrap_or_default(),
        uri.path()
    )
}

/// `url` as it may be shown or logged: without user info, its query as
/// `?…`; what does not parse as a URL is shown as `(an unreadable URL)`.
///
/// ```
/// use audit_store::stream::redact_url;
/// assert_eq!(
///     redact_url("http://user:pw@siem.internal:8088/collector?token=s3cret"),
///     "http://siem.internal:8088/collector?…"
/// );
/// assert_eq!(redact_url("http://127.0.0.1/hook"), "http://127.0.0.1/hook");
/// assert_eq!(redact_url("not a url at all"), "(an unreadable URL)");
/// ```
pub fn redact_url(url: &str) -> String {
    match url.parse::<http::Uri>() {
        Ok(uri) if uri.host().is_some() => describe_url(&uri),
        _ => "(an unreadable URL)".to_owned(),
    }
}
