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
/// for, and for `https://` says how to get TLS (`tls_hint`).
pub(crate) fn parse_http_url(url: &str, what: &str, tls_hint: &str) -> io::Result<http::Uri> {
    let invalid = |reason: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{what} URL {url}: {reason}"));
    let uri: http::Uri = url.parse().map_err(|e| invalid(&format!("{e}")))?;
    match uri.scheme_str() {
        Some("http") if uri.host().is_some() => Ok(uri),
        Some("https") => Err(invalid(&format!(
            "https needs TLS, which this crate does not carry: {tls_hint}"
        ))),
        _ => Err(invalid("expected an absolute http:// URL")),
    }
}

/// `uri` without user info or query (either may carry a credential).
pub(crate) fn describe_url(uri: &http::Uri) -> String {
    let port = uri.port().map(|port| format!(":{port}")).unwrap_or_default();
    format!("http://{}{port}{}", uri.host().unwrap_or_default(), uri.path())
}
