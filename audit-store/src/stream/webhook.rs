//! [`WebhookSink`]: batches of events POSTed to an HTTP endpoint, signed.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use audit_core::format::{EventFormat, FormatOptions};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER, USER_AGENT};
use http_body_util::{BodyExt as _, Full};
use zeroize::Zeroizing;

use super::signature::{SIGNATURE_HEADER, sign};
use super::sink::{Batch, DeliverFuture, StreamError, StreamSink};
use crate::http_client::{WebClient, describe_url, parse_http_url, web_client};

/// How long a delivery may take (connecting, sending, the answer) before
/// it counts as failed, by default.
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);

/// The header naming a delivery's stream.
pub const STREAM_HEADER: &str = "audit-stream";

/// The header naming the seqs a delivery covers: `<first>-<last>`.
pub const SEQS_HEADER: &str = "audit-seqs";

/// How much of an answer's body is kept (for errors and `audit stream test`).
const ANSWER_EXCERPT: usize = 200;

/// How much of an answer's body is read before the rest is left unread
/// (the connection is then not reused).
const ANSWER_READ: usize = 64 * 1024;

/// How a delivery's events are laid out in its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WebhookBody {
    /// One record per line, each ending with a newline: NDJSON
    /// (`application/x-ndjson`) for the JSON formats, plain lines
    /// (`text/plain`) for CEF and syslog. The default: what Splunk HEC,
    /// Vector, Fluent Bit and Logstash read.
    #[default]
    Lines,
    /// One JSON array (`application/json`) of the records (of strings,
    /// for CEF and syslog).
    JsonArray,
}

impl WebhookBody {
    /// `lines` or `json-array`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Lines => "lines",
            Self::JsonArray => "json-array",
        }
    }
}

impl std::str::FromStr for WebhookBody {
    type Err = String;

    /// ```
    /// use audit_store::stream::WebhookBody;
    /// assert_eq!("json-array".parse::<WebhookBody>(), Ok(WebhookBody::JsonArray));
    /// assert!("xml".parse::<WebhookBody>().unwrap_err().contains("lines, json-array"));
    /// ```
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "lines" | "ndjson" => Ok(Self::Lines),
            "json-array" | "json" => Ok(Self::JsonArray),
            other => Err(format!(
                "unknown webhook body `{other}`: expected one of lines, json-array"
            )),
        }
    }
}

/// What a receiver answered.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookAnswer {
    /// The status code.
    pub status: http::StatusCode,
    /// The start of the body (up to 200 bytes, lossily decoded).
    pub body: String,
    /// The delay a `Retry-After` header asked for.
    pub retry_after: Option<Duration>,
}

/// POSTs each batch to an HTTP endpoint: its records in the chosen
/// [`EventFormat`] laid out as [`WebhookBody`] says, signed with
/// HMAC-SHA256 when given a secret (`Audit-Signature`, see
/// [`sign`](super::sign)), with `Audit-Stream` and `Audit-Seqs`
/// (`<first>-<last>`) headers. Any 2xx answer is success; anything else
/// (a timeout, a reset connection, 3xx, 4xx, 5xx) is retried by the
/// [`Streamer`](super::Streamer), after the delay a `Retry-After` header
/// asks for when there is one.
///
/// `http://`, and `https://` with the crate's `tls` feature (rustls on
/// ring, Mozilla's root certificates compiled in, and a private CA's with
/// `root_certificates_pem`); without it, send to a local TLS-terminating
/// forwarder (Vector, Fluent Bit, an Envoy or nginx sidecar), or implement
/// [`StreamSink`] over your own HTTP client.
///
/// ```
/// use audit_core::format::EventFormat;
/// use audit_store::stream::{WebhookBody, WebhookSink};
///
/// let sink = WebhookSink::new("http://siem.internal:8088/services/collector/raw?token=s3cret")?
///     .secret("whsec_0123456789abcdef")
///     .format(EventFormat::Ocsf)
///     .body(WebhookBody::Lines)
///     .header("authorization", "Splunk 0000-1111")?;
/// // No credential in what it says about itself.
/// assert_eq!(audit_store::stream::StreamSink::describe(&sink), "webhook http://siem.internal:8088/services/collector/raw?… (ocsf, lines)");
/// assert_eq!(WebhookSink::new("https://siem.example.com/").is_ok(), cfg!(feature = "tls"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct WebhookSink {
    url: http::Uri,
    client: WebClient,
    secret: Option<Zeroizing<Vec<u8>>>,
    format: EventFormat,
    format_options: FormatOptions,
    body: WebhookBody,
    headers: Vec<(HeaderName, HeaderValue)>,
    timeout: Duration,
}

impl fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSink")
            .field("url", &describe_url(&self.url))
            .field("signed", &self.secret.is_some())
            .field("format", &self.format)
            .field("body", &self.body)
            .field(
                "headers",
                &self.headers.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl WebhookSink {
    /// A sink POSTing to `url`, unsigned, in the event's own JSON, as NDJSON.
    ///
    /// # Errors
    /// When `url` is not an absolute `http://` (or, with `tls`,
    /// `https://`) URL.
    pub fn new(url: &str) -> std::io::Result<Self> {
        let url = parse_http_url(
            url,
            "webhook",
            "send to a local TLS-terminating forwarder, or implement StreamSink with your HTTP client",
        )?;
        Ok(Self {
            url,
            client: web_client(),
            secret: None,
            format: EventFormat::Native,
            format_options: FormatOptions::default(),
            body: WebhookBody::Lines,
            headers: Vec::new(),
            timeout: DEFAULT_WEBHOOK_TIMEOUT,
        })
    }

    /// Also trusts the root certificates in `pem` (a private CA's), besides
    /// Mozilla's.
    ///
    /// # Errors
    /// When `pem` holds no `CERTIFICATE`, or one that is not a valid
    /// certificate.
    #[cfg(feature = "tls")]
    pub fn root_certificates_pem(mut self, pem: &[u8]) -> std::io::Result<Self> {
        self.client = crate::http_client::client_trusting_pem(pem)?;
        Ok(self)
    }

    /// Signs each delivery with `secret` (`Audit-Signature`).
    #[must_use]
    pub fn secret(mut self, secret: impl AsRef<[u8]>) -> Self {
        self.secret = Some(Zeroizing::new(secret.as_ref().to_vec()));
        self
    }

    /// Writes each event as `format` (default [`EventFormat::Native`]).
    #[must_use]
    pub fn format(mut self, format: EventFormat) -> Self {
        self.format = format;
        self
    }

    /// The product names, host and app name the formats write.
    #[must_use]
    pub fn format_options(mut self, options: FormatOptions) -> Self {
        self.format_options = options;
        self
    }

    /// Lays the records out as `body` (default [`WebhookBody::Lines`]).
    #[must_use]
    pub fn body(mut self, body: WebhookBody) -> Self {
        self.body = body;
        self
    }

    /// Sends `name: value` with every delivery (an `Authorization` the
    /// receiver wants, say); its value is never logged.
    ///
    /// # Errors
    /// When `name` or `value` cannot be an HTTP header, or `name` is one
    /// the sink sets itself (`Content-Type`, `Content-Length`, `Host`,
    /// `Transfer-Encoding`, `Connection`, `User-Agent`, the
    /// [signature](super::SIGNATURE_HEADER) and the `Audit-*` headers).
    pub fn header(mut self, name: &str, value: &str) -> std::io::Result<Self> {
        let invalid = |what: &str| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("webhook header {name}: {what}"),
            )
        };
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid("not a header name"))?;
        let set_by_the_sink = [
            "content-type",
            "content-length",
            "host",
            "transfer-encoding",
            "connection",
            "user-agent",
        ];
        if set_by_the_sink.contains(&name.as_str()) || name.as_str().starts_with("audit-") {
            return Err(invalid("set by the sink itself"));
        }
        let mut value = HeaderValue::from_str(value).map_err(|_| invalid("not a header value"))?;
        value.set_sensitive(true);
        self.headers.push((name, value));
        Ok(self)
    }

    /// Fails a delivery that takes longer than `timeout` (default
    /// [`DEFAULT_WEBHOOK_TIMEOUT`]).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The content type and body a delivery of `batch` sends.
    ///
    /// ```
    /// use audit_core::{Action, Actor, Event};
    /// use audit_store::stream::{Batch, WebhookBody, WebhookSink};
    ///
    /// let event = Event::builder(Action::new("app.created")?, Actor::user("u1")).build();
    /// let batch = Batch::new("global", vec![event.clone(), event]);
    /// let sink = WebhookSink::new("http://127.0.0.1:9/")?;
    /// let (content_type, body) = sink.encode(&batch);
    /// assert_eq!(content_type, "application/x-ndjson");
    /// assert_eq!(body.iter().filter(|&&b| b == b'\n').count(), 2);
    /// let (content_type, body) = sink.body(WebhookBody::JsonArray).encode(&batch);
    /// assert_eq!(content_type, "application/json");
    /// assert_eq!(serde_json::from_slice::<Vec<serde_json::Value>>(&body)?.len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn encode(&self, batch: &Batch) -> (&'static str, Vec<u8>) {
        let records = batch
            .events
            .iter()
            .map(|event| self.format.encode(event, &self.format_options));
        match self.body {
            WebhookBody::Lines => {
                let mut body = Vec::new();
                for record in records {
                    body.extend_from_slice(record.as_bytes());
                    body.push(b'\n');
                }
                let content_type = if self.format.is_json() {
                    "application/x-ndjson"
                } else {
                    "text/plain; charset=utf-8"
                };
                (content_type, body)
            }
            WebhookBody::JsonArray => {
                let mut body = vec![b'['];
                for (index, record) in records.enumerate() {
                    if index > 0 {
                        body.push(b',');
                    }
                    if self.format.is_json() {
                        body.extend_from_slice(record.as_bytes());
                    } else {
                        let quoted = serde_json::to_string(&record).unwrap_or_default();
                        body.extend_from_slice(quoted.as_bytes());
                    }
                }
                body.push(b']');
                ("application/json", body)
            }
        }
    }

    /// POSTs `batch` once and returns the receiver's answer, whatever it
    /// is (`audit stream test` prints it).
    ///
    /// # Errors
    /// When no answer came: the connection failed, was reset, or the
    /// timeout passed.
    pub async fn post(&self, batch: &Batch) -> Result<WebhookAnswer, StreamError> {
        let (content_type, body) = self.encode(batch);
        let (first, last) = batch.seqs();
        let mut request = http::Request::post(self.url.clone())
            .header(CONTENT_TYPE, content_type)
            .header(USER_AGENT, concat!("audit-store/", env!("CARGO_PKG_VERSION")))
            .header(STREAM_HEADER, batch.stream.as_str())
            .header(SEQS_HEADER, format!("{first}-{last}"));
        if let Some(secret) = &self.secret {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |since| since.as_secs());
            request = request.header(SIGNATURE_HEADER, sign(secret, now, &body));
        }
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|error| StreamError::new(format!("building the request: {error}")))?;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|error| StreamError::new(format!("{}: {}", self.describe(), error_chain(&error))))?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(parse_retry_after);
            // An answer cut off mid-body is no answer: the receiver may not
            // have finished with the batch, so it is delivered again. Only
            // the start is kept, and at most ANSWER_READ is read at all.
            let mut body = response.into_body();
            let mut excerpt = Vec::new();
            let mut read = 0;
            while read < ANSWER_READ {
                let Some(frame) = body.frame().await else { break };
                let frame = frame.map_err(|error| {
                    StreamError::new(format!(
                        "{}: the answer ({status}) was cut off: {}",
                        self.describe(),
                        error_chain(&error)
                    ))
                })?;
                if let Ok(data) = frame.into_data() {
                    read += data.len();
                    let room = ANSWER_EXCERPT.saturating_sub(excerpt.len());
                    excerpt.extend_from_slice(&data[..data.len().min(room)]);
                }
            }
            Ok(WebhookAnswer {
                status,
                body: String::from_utf8_lossy(&excerpt).into_owned(),
                retry_after,
            })
        };
        tokio::time::timeout(self.timeout, exchange).await.map_err(|_| {
            StreamError::new(format!(
                "{}: no answer within {} ms",
                self.describe(),
                self.timeout.as_millis()
            ))
        })?
    }
}

/// `error` and its sources, so "connection refused" is not hidden behind
/// "client error (Connect)".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A `Retry-After` value: seconds, or an HTTP date (its distance from now;
/// zero when past).
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let from_now = at.signed_duration_since(chrono::Utc::now());
    Some(from_now.to_std().unwrap_or(Duration::ZERO))
}

impl StreamSink for WebhookSink {
    fn deliver<'a>(&'a self, batch: &'a Batch) -> DeliverFuture<'a> {
        Box::pin(async move {
            let answer = self.post(batch).await?;
            if answer.status.is_success() {
                return Ok(());
            }
            let mut error = StreamError::new(format!(
                "{} answered {}: {}",
                self.describe(),
                answer.status,
                answer.body.trim()
            ));
            if let Some(delay) = answer.retry_after {
                error = error.retry_after(delay);
            }
            Err(error)
        })
    }

    fn describe(&self) -> String {
        format!(
            "webhook {} ({}, {})",
            describe_url(&self.url),
            self.format.as_str(),
            self.body.as_str()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        let soon = (chrono::Utc::now() + chrono::TimeDelta::seconds(120)).to_rfc2822();
        let delay = parse_retry_after(&soon).unwrap();
        assert!(
            delay > Duration::from_secs(100) && delay <= Duration::from_secs(120),
            "{delay:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-5"), None);
    }

    #[test]
    fn header_refuses_what_http_cannot_carry() {
        let sink = WebhookSink::new("http://127.0.0.1:9/").unwrap();
        let error = sink.header("bad header", "x").unwrap_err().to_string();
        assert!(
            error.contains("bad header") && error.contains("not a header name"),
            "{error}"
        );
        let sink = WebhookSink::new("http://127.0.0.1:9/").unwrap();
        let error = sink.header("x-token", "line\nbreak").unwrap_err().to_string();
        assert!(error.contains("not a header value"), "{error}");
    }
}
