//! [`HttpSink`]: POSTs each checkpoint to a URL (a witness, an anchoring
//! service, your own collector).

use std::io;
use std::time::Duration;

use http_body_util::{BodyExt as _, Full};

use super::sinks::{CheckpointSink, SendFuture};
use crate::SignedCheckpoint;
use crate::http_client::{WebClient, describe_url, parse_http_url, web_client};

/// How long a POST may take before it counts as failed.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

/// POSTs each checkpoint's signed note (`text/plain; charset=utf-8`) to a
/// URL; any 2xx answer is success. `http://`, and `https://` with the
/// crate's `tls` feature (rustls, Mozilla's root certificates); without it,
/// send to a local TLS-terminating proxy, or implement [`CheckpointSink`]
/// over your own HTTP client.
///
/// ```
/// use audit_store::checkpoint::HttpSink;
/// assert!(HttpSink::new("http://witness.internal:8080/add-checkpoint").is_ok());
/// let https = HttpSink::new("https://witness.example.com/");
/// assert_eq!(https.is_ok(), cfg!(feature = "tls"));
/// let error = HttpSink::new("ftp://witness.example.com/").unwrap_err();
/// assert!(error.to_string().contains("expected an absolute http://"), "{error}");
/// ```
#[derive(Debug, Clone)]
pub struct HttpSink {
    url: http::Uri,
    client: WebClient,
}

impl HttpSink {
    /// A sink POSTing to `url`.
    ///
    /// # Errors
    /// When `url` is not an absolute `http://` (or, with `tls`,
    /// `https://`) URL.
    pub fn new(url: &str) -> io::Result<Self> {
        let url = parse_http_url(
            url,
            "checkpoint",
            "post to a local TLS proxy, or implement CheckpointSink with your HTTP client",
        )?;
        Ok(Self {
            url,
            client: web_client(),
        })
    }
}

impl CheckpointSink for HttpSink {
    fn send<'a>(&'a self, checkpoint: &'a SignedCheckpoint) -> SendFuture<'a> {
        Box::pin(async move {
            let request = http::Request::post(self.url.clone())
                .header(http::header::CONTENT_TYPE, "text/plain; charset=utf-8")
                .body(Full::new(bytes::Bytes::from(checkpoint.note.clone())))
                .map_err(io::Error::other)?;
            let response = tokio::time::timeout(POST_TIMEOUT, self.client.request(request))
                .await
                .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer within 10 s"))?
                .map_err(io::Error::other)?;
            let status = response.status();
            // Read the answer so the connection can be reused.
            let _ = response.into_body().collect().await;
            if status.is_success() {
                Ok(())
            } else {
                Err(io::Error::other(format!("answered {status}")))
            }
        })
    }

    fn describe(&self) -> String {
        format!("POST {}", describe_url(&self.url))
    }
}
