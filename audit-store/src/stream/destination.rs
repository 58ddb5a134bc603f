//! Webhook destinations kept in the store: the platform's SIEM, or one
//! tenant's own endpoint, added and removed at run time (`audit stream
//! add`, [`Store::add_stream_destination`](crate::Store::add_stream_destination)).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::options::SinkOptions;
use super::stats::SharedStats;
use super::streamer::SinkTask;
use super::{DestinationRow, SINK_PREFIX};
use crate::Store;

use audit_core::format::EventFormat;

use super::webhook::{WebhookBody, WebhookSink};

/// The shortest secret a destination accepts, in bytes.
pub const MIN_SECRET_LEN: usize = 16;

/// Why a destination was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DestinationError {
    /// A field is not acceptable; the message names it.
    #[error("destination {field}: {reason}")]
    Invalid {
        /// `name`, `url`, `secret`, `tenant` or `header`.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A destination of this name is kept already.
    #[error("a destination named {0:?} exists already: remove it first")]
    Exists(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] crate::StoreError),
}

/// A webhook destination kept in the store. A tenant's destination
/// receives that tenant's events only (its stream `tenant:<id>`); one
/// without a tenant receives every stream (the platform's SIEM).
///
/// Its secret signs each delivery (see [`sign`](super::sign)); it is kept
/// in the store's `audit_stream_destinations` table, never shown by
/// [`Debug`], the CLI or the admin API: whoever can read that table can
/// forge deliveries to the destination, so grant it as narrowly as the
/// events themselves. The same holds for its [headers](Self::header)
/// (a collector's token, say): kept beside the secret, only their names
/// shown.
///
/// ```
/// use audit_core::format::EventFormat;
/// use audit_store::stream::Destination;
///
/// let acme = Destination::new("acme-siem", "http://siem.acme.internal/audit", "whsec_0123456789abcdef")
///     .tenant("acme")
///     .format(EventFormat::Ocsf);
/// assert_eq!(acme.sink_name(), "destination:acme-siem");
/// assert!(!format!("{acme:?}").contains("whsec"));
/// assert!(acme.check().is_ok());
///
/// let error = Destination::new("x", "http://127.0.0.1/", "short").check().unwrap_err();
/// assert_eq!(error.to_string(), "destination secret: shorter than 16 bytes");
///
/// // A Splunk HTTP Event Collector wants its token in `Authorization`.
/// let splunk = Destination::new("splunk", "https://splunk.example.com:8088/services/collector/raw", "whsec_0123456789abcdef")
///     .header("Authorization", "Splunk 6a1c0b9e-0000-4000-8000-000000000000");
/// assert!(splunk.check().is_ok());
/// assert_eq!(splunk.header_names().collect::<Vec<_>>(), ["Authorization"]);
/// assert!(!format!("{splunk:?}").contains("6a1c0b9e"));
/// let error = splunk.header("Content-Type", "text/plain").check().unwrap_err();
/// assert_eq!(error.to_string(), "destination header: webhook header Content-Type: set by the sink itself");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Destination {
    name: String,
    tenant: Option<String>,
    url: String,
    format: EventFormat,
    body: WebhookBody,
    secret: String,
    headers: Vec<(String, String)>,
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Destination")
            .field("name", &self.name)
            .field("tenant", &self.tenant)
            .field("url", &self.url)
            .field("format", &self.format)
            .field("body", &self.body)
            .field("headers", &self.header_names().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Destination {
    /// A destination named `name` (letters, digits, `.`, `_`, `-`; up to
    /// 100) POSTing every stream to `url`, signed with `secret`, in the
    /// event's own JSON as NDJSON.
    pub fn new(name: impl Into<String>, url: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            tenant: None,
            url: url.into(),
            format: EventFormat::Native,
            body: WebhookBody::Lines,
            secret: secret.into(),
            headers: Vec::new(),
        }
    }

    /// Only `tenant`'s events.
    #[must_use]
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Each event as `format`.
    #[must_use]
    pub fn format(mut self, format: EventFormat) -> Self {
        self.format = format;
        self
    }

    /// The records laid out as `body`.
    #[must_use]
    pub fn body(mut self, body: WebhookBody) -> Self {
        self.body = body;
        self
    }

    /// Sends `name: value` with every delivery, as
    /// [`WebhookSink::header`] does: the `Authorization` of a Splunk HTTP
    /// Event Collector, Datadog's `DD-API-KEY`. Checked by
    /// [`check`](Self::check); kept with the secret and, like it, never
    /// shown.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The names of the headers it sends, in order.
    pub fn header_names(&self) -> impl Iterator<Item = &str> {
        self.headers.iter().map(|(name, _)| name.as_str())
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tenant it is limited to, if any.
    pub fn tenant_id(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// Where it POSTs.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The format of its records.
    pub fn event_format(&self) -> EventFormat {
        self.format
    }

    /// The layout of its bodies.
    pub fn webhook_body(&self) -> WebhookBody {
        self.body
    }

    /// The sink name its positions are kept under (`destination:<name>`),
    /// as [`Store::stream_positions`](crate::Store::stream_positions) and
    /// the stats name it.
    pub fn sink_name(&self) -> String {
        format!("{SINK_PREFIX}{}", self.name)
    }

    /// The one stream it delivers (`tenant:<id>`), when limited to a
    /// tenant; what [`Store::stream_positions`](crate::Store::stream_positions)
    /// takes to report its progress.
    ///
    /// ```
    /// use audit_store::stream::Destination;
    /// let acme = Destination::new("acme", "http://127.0.0.1/", "whsec_0123456789abcdef").tenant("acme");
    /// assert_eq!(acme.stream().as_deref(), Some("tenant:acme"));
    /// ```
    pub fn stream(&self) -> Option<String> {
        self.tenant.as_ref().map(|tenant| format!("tenant:{tenant}"))
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`DestinationError::Invalid`] naming the field.
    pub fn check(&self) -> Result<(), DestinationError> {
        let invalid = |field, reason: &str| DestinationError::Invalid {
            field,
            reason: reason.to_owned(),
        };
        let name_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if self.name.is_empty() || self.name.len() > 100 || !self.name.chars().all(name_ok) {
            return Err(invalid("name", "expected 1 to 100 letters, digits, `.`, `_` or `-`"));
        }
        if let Some(tenant) = &self.tenant
            && (tenant.is_empty() || tenant.chars().any(char::is_control))
        {
            return Err(invalid("tenant", "empty, or holds a control character"));
        }
        if self.secret.len() < MIN_SECRET_LEN {
            return Err(invalid("secret", &format!("shorter than {MIN_SECRET_LEN} bytes")));
        }
        self.webhook().map(drop)
    }

    /// The sink delivering to it.
    pub(crate) fn webhook(&self) -> Result<WebhookSink, DestinationError> {
        let sink = WebhookSink::new(&self.url).map_err(|error| DestinationError::Invalid {
            field: "url",
            reason: error.to_string(),
        })?;
        let sink = sink.secret(&self.secret).format(self.format).body(self.body);
        self.headers.iter().try_fold(sink, |sink, (name, value)| {
            sink.header(name, value).map_err(|error| DestinationError::Invalid {
                field: "header",
                reason: error.to_string(),
            })
        })
    }

    pub(crate) fn to_row(&self) -> DestinationRow {
        DestinationRow {
            name: self.name.clone(),
            tenant: self.tenant.clone(),
            url: self.url.clone(),
            format: self.format.as_str().to_owned(),
            body: self.body.as_str().to_owned(),
            secret: self.secret.clone(),
            headers: serde_json::to_string(&self.headers).unwrap_or_else(|_| "[]".to_owned()),
        }
    }

    pub(crate) fn from_row(row: DestinationRow) -> Result<Self, crate::StoreError> {
        let corrupt = |reason: String| crate::StoreError::Corrupt {
            id: format!("destination {}", row.name),
            reason,
        };
        let format = row.format.parse().map_err(|error| corrupt(format!("{error}")))?;
        let body = row.body.parse().map_err(corrupt)?;
        let headers = serde_json::from_str(&row.headers).map_err(|error| corrupt(format!("headers: {error}")))?;
        Ok(Self {
            name: row.name.clone(),
            tenant: row.tenant.clone(),
            url: row.url.clone(),
            format,
            body,
            secret: row.secret.clone(),
            headers,
        })
    }
}

/// A running destination's task.
struct Running {
    destination: Destination,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Runs a sink per destination kept in `store`, re-reading them every
/// `refresh` (a changed destination restarts, a removed one stops) until
/// `stopped`; then stops them all and waits for them. `stats` lists the
/// running ones.
pub(crate) async fn supervise(
    store: Store,
    refresh: Duration,
    poll: Duration,
    mut stopped: watch::Receiver<bool>,
    stats: Arc<Mutex<Vec<SharedStats>>>,
) {
    let mut running: HashMap<String, Running> = HashMap::new();
    let stats_of = || stats.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        match store.stream_destinations().await {
            Ok(destinations) => {
                let stale: Vec<String> = running
                    .iter()
                    .filter(|(_, run)| !destinations.contains(&run.destination))
                    .map(|(name, _)| name.clone())
                    .collect();
                for name in stale {
                    if let Some(run) = running.remove(&name) {
                        let _ = run.stop.send(true);
                        let _ = run.task.await;
                        stats_of().retain(|stats| stats.read().name != run.destination.sink_name());
                    }
                }
                for destination in destinations {
                    if running.contains_key(destination.name()) {
                        continue;
                    }
                    let sink = match destination.webhook() {
                        Ok(sink) => sink,
                        Err(error) => {
                            tracing::error!(destination = destination.name(), %error, "stream destination skipped");
                            continue;
                        }
                    };
                    let options = SinkOptions {
                        stream: destination.stream(),
                        ..SinkOptions::default()
                    };
                    let (stop, task_stopped) = watch::channel(false);
                    let task = SinkTask::new(
                        store.clone(),
                        destination.sink_name(),
                        Arc::new(sink),
                        options,
                        poll,
                        task_stopped,
                    );
                    stats_of().push(task.stats.clone());
                    let task = tokio::spawn(task.run());
                    running.insert(
                        destination.name().to_owned(),
                        Running {
                            destination,
                            stop,
                            task,
                        },
                    );
                }
            }
            Err(error) => tracing::warn!(%error, "cannot read the stream destinations; keeping the running ones"),
        }
        tokio::select! {
            () = tokio::time::sleep(refresh) => {}
            _ = stopped.wait_for(|stop| *stop) => break,
        }
    }
    for run in running.values() {
        let _ = run.stop.send(true);
    }
    for (_, run) in running {
        let _ = run.task.await;
    }
}
