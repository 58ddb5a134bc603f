//! The HTTP client the checkpoint and stream sinks POST with (hyper's;
//! HTTPS through rustls with the `tls` feature), and the URL rules they
//! share.

use std::io;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How the client connects: plain TCP, and TLS when built with `tls`.
#[cfg(feature = "tls")]
type Connector = hyper_rustls::HttpsConnector<HttpConnector>;
#[cfg(not(feature = "tls"))]
type Connector = HttpConnector;

/// A client of HTTP (and, with `tls`, HTTPS) endpoints, keeping
/// connections alive.
pub(crate) type WebClient = Client<Connector, Full<Bytes>>;

/// Whether this build speaks HTTPS.
pub(crate) const SPEAKS_TLS: bool = cfg!(feature = "tls");

/// A new client trusting Mozilla's root certificates (with `tls`).
pub(crate) fn web_client() -> WebClient {
    #[cfg(feature = "tls")]
    {
        client_trusting(&[]).unwrap_or_else(|error| unreachable!("the built-in roots are valid: {error}"))
    }
    #[cfg(not(feature = "tls"))]
    {
        Client::builder(TokioExecutor::new()).build_http()
    }
}

/// A new client trusting Mozilla's root certificates and those in `pem`
/// (a private CA's).
///
/// # Errors
/// When `pem` holds no certificate, or one rustls refuses.
#[cfg(feature = "tls")]
pub(crate) fn client_trusting_pem(pem: &[u8]) -> io::Result<WebClient> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;

    let invalid = |reason: String| io::Error::new(io::ErrorKind::InvalidInput, reason);
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| invalid(format!("root certificates: {error}")))?;
    if certificates.is_empty() {
        return Err(invalid("root certificates: no PEM CERTIFICATE found".to_owned()));
    }
    client_trusting(&certificates)
}

#[cfg(feature = "tls")]
fn client_trusting(extra: &[rustls::pki_types::CertificateDer<'static>]) -> io::Result<WebClient> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for certificate in extra {
        roots
            .add(certificate.clone())
            .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, format!("root certificate: {error}")))?;
    }
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| std::sync::Arc::new(ring_provider()));
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .build();
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}

/// rustls on ring: it builds with a C compiler alone (aws-lc-rs, rustls's
/// default, needs CMake as well). ring offers no post-quantum key exchange,
/// so rustls 0.23.48 deprecated it; an application that wants one installs
/// its provider process-wide (`rustls::crypto::aws_lc_rs::default_provider()
/// .install_default()`), and the sinks use that instead.
#[cfg(feature = "tls")]
#[allow(deprecated, reason = "ring is the fallback; see above")]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// `url` as an absolute `http://` (or, with `tls`, `https://`) URI; the
/// error names `what` the URL is for (the URL shown as [`redact_url`]
/// shows it), and for `https://` without `tls` says how to get it
/// (`tls_hint`).
pub(crate) fn parse_http_url(url: &str, what: &str, tls_hint: &str) -> io::Result<http::Uri> {
    let shown = redact_url(url);
    let invalid = |reason: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{what} URL {shown}: {reason}"));
    let uri: http::Uri = url.parse().map_err(|e| invalid(&format!("{e}")))?;
    match uri.scheme_str() {
        Some("http") if uri.host().is_some() => Ok(uri),
        Some("https") if SPEAKS_TLS && uri.host().is_some() => Ok(uri),
        Some("https") if !SPEAKS_TLS => Err(invalid(&format!(
            "https needs TLS: build audit-store with its `tls` feature, or {tls_hint}"
        ))),
        _ => Err(invalid(if SPEAKS_TLS {
            "expected an absolute http:// or https:// URL"
        } else {
            "expected an absolute http:// URL"
        })),
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
