//! `GET /health`: the state of the auditor that records the application's
//! events ([`AdminApi::health`](super::AdminApi::health)) and of the stream
//! sinks that deliver them onwards ([`AdminApi::streams`](super::AdminApi::streams)),
//! for the platform's auditors.
//!
//! It reads counters only (no store query), so it answers while the store
//! is down, which is when it matters. Reading it is not a read of the log
//! and records no event.

use std::sync::Arc;

use audit_core::{Auditor, AuditorStats};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::ApiError;
use super::handlers::{Api, json};
use super::policy::ReadScope;
use crate::stream::{SinkStats, StreamerHandle};

/// The body of `GET /health`.
#[derive(Debug, Serialize)]
struct Health {
    /// `ok`; `degraded` (events are safe but waiting: the store is down
    /// and the spool holds them, or a stream sink is failing or behind);
    /// `down` (new events cannot be made durable: requests that need them
    /// are refused).
    status: &'static str,
    /// Absent when no auditor is attached.
    #[serde(flatten)]
    auditor: Option<AuditorHealth>,
    /// `null` when no streamer is attached.
    streams: Option<Vec<SinkStats>>,
}

#[derive(Debug, Serialize)]
struct AuditorHealth {
    /// The auditor's part of the status.
    #[serde(skip)]
    status: &'static str,
    store_reachable: bool,
    queue_depth: u64,
    /// How long ago the oldest event the store is being asked to write
    /// happened, while a write is under way.
    oldest_unwritten_age_ms: Option<u64>,
    /// `null` when the auditor has no spool.
    spool: Option<SpoolHealth>,
    last_error: Option<String>,
    counters: Counters,
}

#[derive(Debug, Serialize)]
struct SpoolHealth {
    bytes: u64,
    pending_events: u64,
    writable: bool,
}

#[derive(Debug, Serialize)]
struct Counters {
    queued: u64,
    written: u64,
    replayed: u64,
    spooled: u64,
    retried: u64,
    dropped: u64,
    refused: u64,
    rejected: u64,
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Health {
    fn of(auditor: Option<&Auditor>, streams: Option<&StreamerHandle>) -> Self {
        let auditor = auditor.map(AuditorHealth::of);
        let streams = streams.map(StreamerHandle::stats);
        let lagging = streams.iter().flatten().any(|sink| sink.failing || sink.behind);
        let status = match auditor.as_ref().map_or("ok", |auditor| auditor.status) {
            "ok" if lagging => "degraded",
            status => status,
        };
        Self {
            status,
            auditor,
            streams,
        }
    }
}

impl AuditorHealth {
    fn of(auditor: &Auditor) -> Self {
        let stats: AuditorStats = auditor.stats();
        let spooled = auditor.has_spool();
        // With a spool, events reach the store through it: a spool that
        // cannot be written stops everything, a store that is down only
        // makes events wait on disk.
        let status = match (spooled, stats.spool_down, stats.sink_down) {
            (true, true, _) | (false, _, true) => "down",
            (true, false, true) => "degraded",
            _ => "ok",
        };
        Self {
            status,
            store_reachable: !stats.sink_down,
            queue_depth: stats.queue_depth,
            oldest_unwritten_age_ms: stats.oldest_unwritten_age.map(millis),
            spool: spooled.then_some(SpoolHealth {
                bytes: stats.spool_bytes,
                pending_events: stats.spool_pending,
                writable: !stats.spool_down,
            }),
            last_error: stats.last_error.clone(),
            counters: Counters {
                queued: stats.queued,
                written: stats.written,
                replayed: stats.replayed,
                spooled: stats.spooled,
                retried: stats.retried,
                dropped: stats.dropped,
                refused: stats.refused,
                rejected: stats.rejected,
            },
        }
    }
}

pub(crate) async fn health(State(api): State<Arc<Api>>) -> Response {
    let answer = (|| {
        if api.scope()? != ReadScope::AllTenants {
            return Err(ApiError::forbidden(
                "the audit pipeline's health is for the platform role `auditor`".into(),
                None,
            ));
        }
        if api.auditor.is_none() && api.streams.is_none() {
            return Err(ApiError::not_found(
                "no auditor or streamer is attached to this admin API (`AdminApi::health`, `AdminApi::streams`)".into(),
            ));
        }
        let health = Health::of(api.auditor.as_ref(), api.streams.as_ref());
        let status = if health.status == "down" {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        };
        Ok(json(status, &health))
    })();
    answer.unwrap_or_else(IntoResponse::into_response)
}
