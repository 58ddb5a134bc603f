//! [`DeniedLimit`]: how many automatic `auth.denied` events one client may
//! cause per window; the rest are counted into one summary event.
//!
//! Without a limit, every anonymous request that is refused writes a row:
//! anyone can grow the store without bound. With it, a client (its
//! resolved IP) gets its first denials recorded in full each window, and
//! one `auth.denied` event with the count of the others when the window
//! ends (or, without a runtime to wait in, with its next denial after
//! that). Nothing is dropped silently: a summary still pending when the
//! layer is dropped is queued then, or logged as an error if the queue has
//! no room.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use audit_core::{Auditor, EventBuilder, Timestamp};
use tokio::time::Instant;

/// How many `auth.denied` events ([`AuditLayer::record_denied`]) one client
/// may cause per window before the rest are summarised.
///
/// The default records the first 10 denials per client IP per minute in
/// full and one summary event per minute after that, for at most 10,000
/// clients at once; denials from clients beyond that share one count (an
/// attacker cycling through addresses cannot make the layer's memory grow).
/// The summary is an `auth.denied` event like the first it stands for (its
/// actor, tenant and request context), with a description saying how many
/// more requests were denied, and metadata `suppressed` (the count),
/// `window_seconds`, `first_at` and `last_at`.
///
/// ```
/// use std::time::Duration;
/// use audit_core::{Auditor, MemorySink};
/// use audit_tower::{AuditLayer, DeniedLimit};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let layer = AuditLayer::new(Auditor::builder().start(MemorySink::new()))
///     .record_denied(true)
///     .denied_limit(DeniedLimit::new(3, Duration::from_secs(10)).max_clients(1_000));
/// assert!(format!("{layer:?}").contains("per_window: 3"));
/// assert_eq!(DeniedLimit::default(), DeniedLimit::new(10, Duration::from_secs(60)));
/// # }
/// ```
///
/// [`AuditLayer::record_denied`]: crate::AuditLayer::record_denied
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeniedLimit {
    per_window: u32,
    window: Duration,
    max_clients: usize,
}

impl Default for DeniedLimit {
    fn default() -> Self {
        Self::new(10, Duration::from_secs(60))
    }
}

impl DeniedLimit {
    /// The first `per_window` denials of each client per `window` are
    /// recorded in full, the rest summarised in one event.
    ///
    /// # Panics
    /// If `window` is zero (a programming error).
    pub fn new(per_window: u32, window: Duration) -> Self {
        assert!(!window.is_zero(), "a denied-event window must be longer than zero");
        Self {
            per_window,
            window,
            max_clients: 10_000,
        }
    }

    /// Every denial recorded in full, however many: only for deployments
    /// where nothing anonymous reaches the layer.
    pub fn unlimited() -> Self {
        Self {
            per_window: u32::MAX,
            ..Self::default()
        }
    }

    /// How many clients are counted apart at once (default 10,000); the
    /// denials of any more share one count until windows end.
    #[must_use]
    pub fn max_clients(mut self, clients: usize) -> Self {
        self.max_clients = clients.max(1);
        self
    }
}

/// One client's window: what was recorded, and what is to be summarised.
struct Window {
    started: Instant,
    recorded: u32,
    /// The first denial past the limit (the summary's template) and how many
    /// followed it in all.
    pending: Option<Pending>,
}

struct Pending {
    first: Box<EventBuilder>,
    first_at: Timestamp,
    last_at: Timestamp,
    count: u64,
}

impl Pending {
    fn into_summary(self, client: Option<IpAddr>, window: Duration) -> Box<EventBuilder> {
        let Self {
            first,
            first_at,
            last_at,
            count,
        } = self;
        let from = client.map_or_else(|| "clients beyond the tracked limit".to_owned(), |ip| ip.to_string());
        let summary = (*first)
            .description(format!(
                "{count} more denied requests from {from} within {} s",
                window.as_secs()
            ))
            .metadata("suppressed", &count)
            .metadata("window_seconds", &window.as_secs())
            .metadata("first_at", &first_at)
            .metadata("last_at", &last_at);
        Box::new(summary)
    }
}

/// The layer's count of `auth.denied` events per client and window.
pub(crate) struct DeniedCounter {
    limit: DeniedLimit,
    auditor: Auditor,
    /// By client IP; `None` holds clients without an IP and those beyond
    /// `max_clients`.
    windows: Mutex<HashMap<Option<IpAddr>, Window>>,
}

impl std::fmt::Debug for DeniedCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeniedCounter")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

/// What to queue for one denial.
#[derive(Default)]
pub(crate) struct Admitted {
    /// The denial's own event, unless it was counted into a summary.
    pub(crate) event: Option<Box<EventBuilder>>,
    /// The summary of this client's previous window, when no timer sent it.
    pub(crate) summary: Option<Box<EventBuilder>>,
}

impl DeniedCounter {
    pub(crate) fn new(limit: DeniedLimit, auditor: Auditor) -> Arc<Self> {
        Arc::new(Self {
            limit,
            auditor,
            windows: Mutex::new(HashMap::new()),
        })
    }

    pub(crate) fn limit(&self) -> DeniedLimit {
        self.limit
    }

    /// Counts the denial `event` of `client`: it is recorded, or held as the
    /// template of its window's summary, or only counted.
    pub(crate) fn admit(self: &Arc<Self>, client: Option<IpAddr>, event: Box<EventBuilder>) -> Admitted {
        if self.limit.per_window == u32::MAX {
            return Admitted {
                event: Some(event),
                summary: None,
            };
        }
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let key = if windows.contains_key(&client) || windows.len() < self.limit.max_clients {
            client
        } else {
            // Make room from windows that ended with nothing to report.
            windows.retain(|_, w| w.pending.is_some() || now < w.started + self.limit.window);
            if windows.len() < self.limit.max_clients {
                client
            } else {
                None
            }
        };
        let mut admitted = Admitted::default();
        let window = windows.entry(key).or_insert_with(|| Window {
            started: now,
            recorded: 0,
            pending: None,
        });
        if now >= window.started + self.limit.window {
            admitted.summary = window
                .pending
                .take()
                .map(|pending| pending.into_summary(key, self.limit.window));
            *window = Window {
                started: now,
                recorded: 0,
                pending: None,
            };
        }
        if window.recorded < self.limit.per_window {
            window.recorded += 1;
            admitted.event = Some(event);
            return admitted;
        }
        let at = Timestamp::now();
        match &mut window.pending {
            Some(pending) => {
                pending.count += 1;
                pending.last_at = at;
            }
            None => {
                window.pending = Some(Pending {
                    first: event,
                    first_at: at,
                    last_at: at,
                    count: 1,
                });
                self.send_at_window_end(key, window.started);
            }
        }
        admitted
    }

    /// Sends the summary of `client`'s window started at `started` when it
    /// ends, if a runtime can wait for it (otherwise the client's next
    /// denial, or dropping the layer, sends it).
    fn send_at_window_end(self: &Arc<Self>, client: Option<IpAddr>, started: Instant) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let counter: Weak<Self> = Arc::downgrade(self);
        let end = started + self.limit.window;
        runtime.spawn(async move {
            tokio::time::sleep_until(end).await;
            let Some(counter) = counter.upgrade() else {
                return;
            };
            let summary = {
                let mut windows = counter.windows.lock().unwrap_or_else(PoisonError::into_inner);
                match windows.get_mut(&client) {
                    Some(window) if window.started == started => {
                        window.pending.take().map(|p| p.into_summary(client, counter.limit.window))
                    }
                    _ => None,
                }
            };
            if let Some(summary) = summary
                && counter.auditor.record(summary).await.is_err()
            {
                tracing::error!(client = ?client, "the summary of denied requests was not recorded: the auditor refused it");
            }
        });
    }
}

impl Drop for DeniedCounter {
    fn drop(&mut self) {
        let windows = std::mem::take(self.windows.get_mut().unwrap_or_else(PoisonError::into_inner));
        for (client, window) in windows {
            let Some(pending) = window.pending else {
                continue;
            };
            let count = pending.count;
            match self.auditor.try_reserve() {
                Ok(room) => room.record(pending.into_summary(client, self.limit.window)),
                Err(e) => tracing::error!(
                    client = ?client,
                    suppressed = count,
                    "the summary of denied requests was not recorded: {e}"
                ),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use audit_core::{Action, Actor, Event, MemorySink};
    use serde_json::json;

    use super::*;

    fn denial() -> Box<EventBuilder> {
        Box::new(Event::builder(
            Action::from_static("auth.denied").unwrap(),
            Actor::anonymous(),
        ))
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    fn quiet(sink: &MemorySink) -> Auditor {
        Auditor::builder().lifecycle_events(false).start(sink.clone())
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_limit_a_window_ends_with_one_summary_and_the_next_starts_afresh() {
        let sink = MemorySink::new();
        let auditor = quiet(&sink);
        let counter = DeniedCounter::new(DeniedLimit::new(2, Duration::from_secs(60)), auditor.clone());
        let recorded: Vec<bool> = (0..5)
            .map(|_| counter.admit(ip("10.0.0.1"), denial()).event.is_some())
            .collect();
        assert_eq!(recorded, [true, true, false, false, false]);
        // Another client has its own window.
        assert!(counter.admit(ip("10.0.0.2"), denial()).event.is_some());

        tokio::time::sleep(Duration::from_secs(61)).await;
        auditor.flush().await.unwrap();
        let events = sink.events();
        assert_eq!(events.len(), 1, "{events:?}");
        let summary = &events[0];
        assert_eq!(summary.action().as_str(), "auth.denied");
        assert_eq!(
            summary.description(),
            Some("3 more denied requests from 10.0.0.1 within 60 s")
        );
        assert_eq!(summary.metadata()["suppressed"], json!(3));
        assert_eq!(summary.metadata()["window_seconds"], json!(60));
        assert!(summary.metadata()["first_at"].as_str().unwrap() <= summary.metadata()["last_at"].as_str().unwrap());

        let next = counter.admit(ip("10.0.0.1"), denial());
        assert!(
            next.event.is_some() && next.summary.is_none(),
            "a new window, nothing left to send"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn clients_beyond_the_tracked_number_share_one_count() {
        let sink = MemorySink::new();
        let auditor = quiet(&sink);
        let limit = DeniedLimit::new(1, Duration::from_secs(60)).max_clients(1);
        let counter = DeniedCounter::new(limit, auditor.clone());
        assert!(counter.admit(ip("10.0.0.1"), denial()).event.is_some());
        // Every other address lands in the shared count, however many.
        assert!(counter.admit(ip("10.0.0.2"), denial()).event.is_some());
        for n in 3..50 {
            assert!(counter.admit(ip(&format!("10.0.0.{n}")), denial()).event.is_none());
        }
        assert_eq!(counter.windows.lock().unwrap().len(), 2);
        tokio::time::sleep(Duration::from_secs(61)).await;
        auditor.flush().await.unwrap();
        let events = sink.events();
        assert_eq!(events.len(), 1);
        assert_eq!(
            events[0].description(),
            Some("47 more denied requests from clients beyond the tracked limit within 60 s")
        );
    }

    #[test]
    fn without_a_runtime_the_next_denial_after_the_window_carries_the_summary() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let sink = MemorySink::new();
        let auditor = runtime.block_on(async { quiet(&sink) });
        let window = Duration::from_millis(5);
        let counter = DeniedCounter::new(DeniedLimit::new(1, window), auditor);
        assert!(counter.admit(ip("10.0.0.1"), denial()).event.is_some());
        assert!(counter.admit(ip("10.0.0.1"), denial()).event.is_none());
        let started = Instant::now();
        while started.elapsed() <= window {
            std::hint::spin_loop();
        }
        let next = counter.admit(ip("10.0.0.1"), denial());
        assert!(next.event.is_some());
        let summary = next.summary.expect("the ended window's summary").build();
        assert_eq!(summary.metadata()["suppressed"], json!(1));
    }

    #[test]
    fn unlimited_records_every_denial() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let auditor = runtime.block_on(async { quiet(&MemorySink::new()) });
        let counter = DeniedCounter::new(DeniedLimit::unlimited(), auditor);
        assert!((0..1_000).all(|_| counter.admit(ip("10.0.0.1"), denial()).event.is_some()));
        assert!(counter.windows.lock().unwrap().is_empty());
    }
}
