//! The admin API's handlers: each opens its own audit event, asks the policy,
//! answers, and completes the event with how it went.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use audit_core::{Action, AuditScope, Category, Draft, Event, Outcome, Severity, Target, Timestamp};
use axum::body::{Body, Bytes};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::ApiError;
use super::policy::{ReadPolicy, ReadScope, Reader};
use crate::log_read::{self, EXPORTED, Via};
use crate::{AuditQuery, CatalogueEntry, ExportFormat, QueryError, Scan, Store};

/// What the handlers share.
pub(crate) struct Api {
    pub(crate) store: Store,
    pub(crate) policy: Arc<dyn ReadPolicy>,
    pub(crate) default_window: Duration,
    pub(crate) read_timeout: Duration,
    pub(crate) security: Vec<super::SecurityScheme>,
    /// The log's key, when the proofs' checkpoints are to be checked here
    /// ([`AdminApi::verifier_key`](super::AdminApi::verifier_key)).
    pub(crate) verifier_key: Option<crate::VerifierKey>,
    /// Whose state `GET /health` reports ([`AdminApi::health`](super::AdminApi::health)).
    pub(crate) auditor: Option<audit_core::Auditor>,
    /// Whose sinks `GET /health` reports ([`AdminApi::streams`](super::AdminApi::streams)).
    pub(crate) streams: Option<crate::stream::StreamerHandle>,
}

pub(super) use crate::log_read::VIEWED;

pub(super) type Pairs = Vec<(String, String)>;

pub(super) fn pairs(raw: Option<&str>) -> Pairs {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// Opens the event recording this read, described as [`log_read::describe`]
/// says (the parameters as `metadata.filters`, `via: http`).
pub(super) fn open_draft(action: &'static str, what: &str, pairs: &Pairs) -> Draft {
    let draft = Draft::open(Action::new(action).unwrap_or_else(|e| unreachable!("a valid action: {e}")));
    draft.update(|builder| log_read::describe(builder, Via::Http, what, pairs));
    draft
}

/// Completes the draft with how the request went, and answers.
pub(super) fn finish(draft: Draft, answer: Result<Response, ApiError>) -> Response {
    match answer {
        Ok(response) => {
            draft.complete();
            response
        }
        Err(error) => {
            draft.update(|builder| builder.reason(error.message()));
            if error.status() == StatusCode::FORBIDDEN {
                draft.set_outcome(Outcome::Denied);
            } else {
                draft.set_outcome(Outcome::Failure);
            }
            draft.complete();
            error.into_response()
        }
    }
}

impl Api {
    /// Runs one store read, bounded by the read timeout: a store that does
    /// not answer (down, its pool waiting for a connection) gets the client
    /// a prompt 503, not a request hanging for the pool's own timeout.
    pub(super) async fn read<T>(
        &self,
        read: impl Future<Output = Result<T, crate::StoreError>>,
    ) -> Result<T, ApiError> {
        Ok(self.read_or_store_error(read).await??)
    }

    /// As [`read`](Self::read), leaving the store's own error to the caller.
    pub(super) async fn read_or_store_error<T>(
        &self,
        read: impl Future<Output = Result<T, crate::StoreError>>,
    ) -> Result<Result<T, crate::StoreError>, ApiError> {
        match tokio::time::timeout(self.read_timeout, read).await {
            Ok(answer) => Ok(answer),
            Err(_) => {
                tracing::warn!(timeout = ?self.read_timeout, "audit admin API: the store did not answer in time");
                Err(ApiError::unavailable(format!(
                    "the audit store did not answer within {} s; retry later",
                    self.read_timeout.as_secs_f64()
                )))
            }
        }
    }

    /// What the current reader may see.
    pub(super) fn scope(&self) -> Result<ReadScope, ApiError> {
        let scope = AuditScope::current().ok_or_else(|| {
            ApiError::internal("the audit admin router must run behind audit_tower::AuditLayer (no audit scope)")
        })?;
        let request = scope.effective_request();
        let reader = Reader {
            actor: &request.actor,
            tenant_id: request.tenant_id.as_deref(),
        };
        self.policy
            .decide(&reader)
            .map_err(|refusal| ApiError::forbidden(refusal.0, None))
    }

    /// The query of `pairs` within what `scope` allows, refusing the
    /// parameters this route does not take.
    pub(super) fn query(&self, scope: &ReadScope, pairs: &Pairs, not_here: &[&str]) -> Result<AuditQuery, ApiError> {
        if let Some((name, _)) = pairs.iter().find(|(name, _)| not_here.contains(&name.as_str())) {
            return Err(QueryError::new(name.clone(), "does not apply to this route").into());
        }
        let query = AuditQuery::from_params(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))?;
        let query = match scope {
            ReadScope::AllTenants => query,
            ReadScope::Tenant(own) => {
                if let Some(asked) = query.tenant_id()
                    && asked != own
                {
                    return Err(ApiError::forbidden(
                        format!("`tenant_id` names another tenant; you may read only your own (`{own}`)"),
                        Some("tenant_id"),
                    ));
                }
                query.tenant(own.clone())
            }
        };
        let window = i64::try_from(self.default_window.as_micros()).unwrap_or(i64::MAX);
        let since = Timestamp::from_unix_micros(Timestamp::now().unix_micros().saturating_sub(window));
        Ok(match since {
            Some(since) => query.default_since(since),
            None => query,
        })
    }
}

pub(super) fn json(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(error) => ApiError::internal(&format!("could not serialise the answer: {error}")).into_response(),
    }
}

#[derive(Serialize)]
struct ListBody<'a> {
    data: &'a [Event],
    next_cursor: Option<&'a str>,
}

/// `GET /`
pub(crate) async fn list(State(api): State<Arc<Api>>, RawQuery(raw): RawQuery) -> Response {
    let pairs = pairs(raw.as_deref());
    let draft = open_draft(VIEWED, log_read::LISTED, &pairs);
    let answer = async {
        let scope = api.scope()?;
        let query = api.query(&scope, &pairs, &[])?;
        let page = api.read(api.store.query(&query)).await?;
        Ok(json(
            StatusCode::OK,
            &ListBody {
                data: &page.events,
                next_cursor: page.next_cursor.as_deref(),
            },
        ))
    };
    finish(draft, answer.await)
}

/// `GET /{id}`
pub(crate) async fn one(State(api): State<Arc<Api>>, Path(id): Path<String>, RawQuery(raw): RawQuery) -> Response {
    let pairs = pairs(raw.as_deref());
    let draft = open_event_draft("Viewed one audit event", &id, &pairs);
    let answer = async {
        let scope = api.scope()?;
        if let Some((name, _)) = pairs.first() {
            return Err(QueryError::new(name.clone(), "does not apply to a single event").into());
        }
        let event = api.event(&scope, &id).await?;
        Ok(json(StatusCode::OK, &event))
    };
    finish(draft, answer.await)
}

/// Opens the draft of a read of event `id` (`GET /{id}` and what hangs
/// below it): `what` it was, the parameters, and the event as its target.
pub(super) fn open_event_draft(what: &str, id: &str, pairs: &Pairs) -> Draft {
    let draft = open_draft(VIEWED, what, pairs);
    draft.update(|builder| builder.target(Target::new("audit_event", id.to_owned())));
    draft
}

impl Api {
    /// Event `id` as `scope` may see it: a malformed id is a 400, and
    /// another tenant's event a 404 indistinguishable from a missing one.
    pub(super) async fn event(&self, scope: &ReadScope, id: &str) -> Result<Event, ApiError> {
        let not_found = || ApiError::not_found(format!("no audit event `{}`", id.escape_debug()));
        let uuid = uuid::Uuid::parse_str(id)
            .map_err(|_| QueryError::new("id", format!("`{}` is not an event id (a UUID)", id.escape_debug())))?;
        let event = self.read(self.store.get(uuid)).await?.ok_or_else(not_found)?;
        if let ReadScope::Tenant(own) = scope
            && event.tenant_id() != Some(own.as_str())
        {
            return Err(not_found());
        }
        Ok(event)
    }
}

#[derive(Serialize)]
struct ActionRow<'a> {
    action: &'a str,
    category: &'a str,
    count: u64,
    /// Whether the store's catalogue declares it.
    declared: bool,
    /// The catalogue's description and default severity.
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<&'a str>,
}

impl<'a> ActionRow<'a> {
    fn new(action: &'a str, category: Category, count: u64, entry: Option<&'a CatalogueEntry>) -> Self {
        Self {
            action,
            category: category.as_str(),
            count,
            declared: entry.is_some(),
            description: entry.map(|entry| entry.description.as_str()),
            severity: entry.and_then(|entry| entry.severity).map(Severity::as_str),
        }
    }
}

/// `GET /actions`
pub(crate) async fn actions(State(api): State<Arc<Api>>, RawQuery(raw): RawQuery) -> Response {
    let pairs = pairs(raw.as_deref());
    let draft = open_draft(VIEWED, "Viewed the audit log's action counts", &pairs);
    let answer = async {
        let scope = api.scope()?;
        let query = api.query(&scope, &pairs, &["action", "limit", "cursor", "offset"])?;
        let counts = api.read(api.store.action_counts(&query)).await?;
        let catalogue = api.read(api.store.catalogue()).await?;
        let declared: HashMap<&str, &CatalogueEntry> =
            catalogue.iter().map(|entry| (entry.action.as_str(), entry)).collect();
        let row =
            |action, category: Category, count| ActionRow::new(action, category, count, declared.get(action).copied());
        // Most frequent first, then the declared actions no matching event
        // has, by name (the catalogue's order).
        let mut rows: Vec<ActionRow<'_>> = counts.iter().map(|c| row(&c.action, c.category, c.events)).collect();
        let counted: HashSet<&str> = counts.iter().map(|c| c.action.as_str()).collect();
        rows.extend(
            catalogue
                .iter()
                .filter(|entry| !counted.contains(entry.action.as_str()))
                .filter(|entry| query.admits_action(&entry.action, entry.category))
                .map(|entry| row(&entry.action, entry.category, 0)),
        );
        Ok(json(StatusCode::OK, &rows))
    };
    finish(draft, answer.await)
}

/// `GET /export`: its event is completed when the body ends, with how it
/// ended ([`ExportRecord`]); a refused or malformed request at once.
pub(crate) async fn export(State(api): State<Arc<Api>>, method: Method, RawQuery(raw): RawQuery) -> Response {
    let mut pairs = pairs(raw.as_deref());
    let draft = open_draft(EXPORTED, "Exported the audit log", &pairs);
    let answer = async {
        let scope = api.scope()?;
        let mut formats = pairs.iter().filter(|(name, _)| name == "format");
        let format: ExportFormat = match (formats.next(), formats.next()) {
            (Some((_, value)), None) => value.parse()?,
            (None, _) => return Err(QueryError::new("format", "is required: csv or ndjson").into()),
            (Some(_), Some(_)) => return Err(QueryError::new("format", "is given more than once").into()),
        };
        let with_proofs = with_proofs(&pairs, format)?;
        pairs.retain(|(name, _)| name != "format" && name != "with_proofs");
        let what = log_read::exported(format, with_proofs);
        draft.update(|builder| builder.description(log_read::description(&what, &pairs)));
        let query = api.query(&scope, &pairs, &["limit", "cursor", "offset"])?;
        let scan = api.store.scan(&query)?;
        let rows = if with_proofs {
            Rows::Proofs(scan.with_proofs())
        } else {
            Rows::Events(scan, format)
        };
        let filename = format!(
            "audit-log-{}-{}.{}",
            query.tenant_id().unwrap_or("all"),
            Timestamp::now().as_datetime().format("%Y%m%dT%H%M%SZ"),
            format.extension()
        );
        let disposition = format!("attachment; filename=\"{}\"", filename.replace(['"', '\\'], "_"));
        Ok((rows, format, disposition))
    };
    let (rows, format, disposition) = match answer.await {
        Ok(export) => export,
        Err(error) => return finish(draft, Err(error)),
    };
    // A HEAD request is answered without its body: nothing will end it.
    let record = if method == Method::HEAD {
        draft.complete();
        ExportRecord(None)
    } else {
        ExportRecord(Some((draft, 0)))
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, format.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        Body::from_stream(export_stream(rows, format, api.read_timeout, record)),
    )
        .into_response()
}

/// `with_proofs=true|false` (false when absent): only with NDJSON.
fn with_proofs(pairs: &Pairs, format: ExportFormat) -> Result<bool, QueryError> {
    let mut values = pairs.iter().filter(|(name, _)| name == "with_proofs");
    let with_proofs = match (values.next(), values.next()) {
        (None, _) => false,
        (Some((_, value)), None) => match value.trim() {
            "true" => true,
            "false" => false,
            other => {
                return Err(QueryError::new(
                    "with_proofs",
                    format!("must be true or false; got `{}`", other.escape_debug()),
                ));
            }
        },
        (Some(_), Some(_)) => return Err(QueryError::new("with_proofs", "is given more than once")),
    };
    if with_proofs && format != ExportFormat::Ndjson {
        return Err(QueryError::new(
            "with_proofs",
            "applies only to format=ndjson: a proof is a JSON object per line",
        ));
    }
    Ok(with_proofs)
}

/// What an export reads: events, or events with their proofs.
enum Rows {
    Events(Scan, ExportFormat),
    Proofs(crate::ProofScan),
}

impl Rows {
    /// The next batch, rendered, and how many events it holds; `None` at the end.
    async fn next_chunk(&mut self) -> Result<Option<(Vec<u8>, u64)>, crate::StoreError> {
        let mut chunk = Vec::new();
        let events = match self {
            Self::Events(scan, format) => match scan.next_batch().await? {
                Some(events) => {
                    format.write(&events, &mut chunk);
                    events.len()
                }
                None => return Ok(None),
            },
            Self::Proofs(scan) => match scan.next_batch().await? {
                Some(lines) => {
                    crate::ProofLine::write_ndjson(&lines, &mut chunk);
                    lines.len()
                }
                None => return Ok(None),
            },
        };
        Ok(Some((chunk, events as u64)))
    }
}

/// The open `audit_log.exported` event of an export whose body is being
/// sent, and how many events have been handed to the connection: the body
/// completes it when it ends, so the outcome is how the export ended, not
/// how it began. Dropped before that (the client went away, the connection
/// broke), it records a failure.
struct ExportRecord(Option<(Draft, u64)>);

impl ExportRecord {
    fn sent(&mut self, events: u64) {
        if let Some((_, sent)) = &mut self.0 {
            *sent += events;
        }
    }

    /// Completes the event: a success once every matching event was handed
    /// to the connection, else a failure because of `failure`.
    fn end(&mut self, failure: Option<&str>) {
        let Some((draft, sent)) = self.0.take() else { return };
        draft.update(|builder| log_read::counted(builder, sent));
        if let Some(why) = failure {
            draft.update(|builder| builder.reason(log_read::stopped(sent, why)));
            draft.set_outcome(Outcome::Failure);
        }
        draft.complete();
    }
}

impl Drop for ExportRecord {
    fn drop(&mut self) {
        self.end(Some("the connection closed before the end (the client went away?)"));
    }
}

/// The export body: the header, then one chunk per batch of the scan. A
/// store error mid-way ends the body with an error (the status is already
/// sent), so the client sees a broken transfer, never a silently short file;
/// either way `record` is completed with how it ended.
fn export_stream(
    rows: Rows,
    format: ExportFormat,
    read_timeout: Duration,
    record: ExportRecord,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let header = format.header();
    let start = (!header.is_empty()).then(|| Ok(Bytes::from(header)));
    let rows = futures_util::stream::try_unfold((rows, record), move |(mut rows, mut record)| async move {
        let Ok(batch) = tokio::time::timeout(read_timeout, rows.next_chunk()).await else {
            tracing::error!(timeout = ?read_timeout, "audit export stopped: the store did not answer in time");
            let why = format!("the audit store did not answer within {} s", read_timeout.as_secs_f64());
            record.end(Some(&why));
            return Err(std::io::Error::other(why));
        };
        match batch {
            Ok(Some((chunk, events))) => {
                record.sent(events);
                Ok(Some((Bytes::from(chunk), (rows, record))))
            }
            Ok(None) => {
                record.end(None);
                Ok(None)
            }
            Err(error) => {
                tracing::error!(%error, "audit export failed mid-way");
                record.end(Some(&format!("the audit store failed: {error}")));
                Err(std::io::Error::other(error))
            }
        }
    });
    futures_util::StreamExt::chain(futures_util::stream::iter(start), rows)
}

/// `GET /openapi.json`: public, and it names where the API is nested (the
/// original path without `/openapi.json`) as its server.
pub(crate) async fn openapi(
    State(api): State<Arc<Api>>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> Response {
    match pairs(raw.as_deref()).first() {
        Some((name, _)) => {
            ApiError::invalid(&QueryError::new(name.clone(), "does not apply to this route")).into_response()
        }
        None => {
            let prefix = uri.path().strip_suffix("/openapi.json").unwrap_or_default();
            // The document describes the API whatever the database's state:
            // without the catalogue's actions when it cannot be read.
            let catalogue = api.store.catalogue().await.unwrap_or_else(|error| {
                tracing::warn!(%error, "openapi.json without the action catalogue: cannot read it");
                Vec::new()
            });
            json(
                StatusCode::OK,
                &super::openapi::document(prefix, &api.security, &catalogue),
            )
        }
    }
}

/// A method the route does not answer: 405, with the `Allow` header axum
/// adds, before any authentication (see `AdminApi::route_layer`).
pub(crate) async fn method_not_allowed(method: Method) -> Response {
    ApiError::method_not_allowed(&method).into_response()
}
