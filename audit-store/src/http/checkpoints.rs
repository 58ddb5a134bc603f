//! `GET /checkpoints` and `GET /consistency`: a stream's signed checkpoints,
//! and the proof that a later one extends an earlier one, for auditors who
//! check the log with its verifier key alone.
//!
//! Both name their stream with `tenant_id`: a tenant reader's own stream
//! when absent (another tenant is a 403, as on the list); a platform
//! reader's `global` stream (events without a tenant) when absent.

use std::sync::Arc;

use audit_core::{Target, Timestamp};
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::error::ApiError;
use super::handlers::{Api, Pairs, VIEWED, finish, json, open_draft, pairs};
use crate::{ConsistencyProof, QueryError, SignedCheckpoint, StoreError, serde_hash};

/// What `/checkpoints` takes.
pub(crate) const CHECKPOINTS_PARAMETERS: [&str; 3] = ["tenant_id", "since", "limit"];
/// What `/consistency` takes.
pub(crate) const CONSISTENCY_PARAMETERS: [&str; 3] = ["tenant_id", "from", "to"];

/// The stream `pairs` name for this reader, and the query of the
/// parameters it shares with the list (`tenant_id`, `since`, `limit`),
/// checked as the list checks them. Anything not in `takes` is refused.
fn stream_of(api: &Api, pairs: &Pairs, takes: &[&str]) -> Result<(String, crate::AuditQuery), ApiError> {
    let scope = api.scope()?;
    if let Some((name, _)) = pairs.iter().find(|(name, _)| !takes.contains(&name.as_str())) {
        return Err(QueryError::new(
            name.clone(),
            format!("does not apply to this route; it takes {}", takes.join(", ")),
        )
        .into());
    }
    let shared: Pairs = pairs
        .iter()
        .filter(|(name, _)| CHECKPOINTS_PARAMETERS.contains(&name.as_str()))
        .cloned()
        .collect();
    let query = api.query(&scope, &shared, &[])?;
    let stream = query
        .tenant_id()
        .map_or_else(|| "global".to_owned(), |tenant| format!("tenant:{tenant}"));
    Ok((stream, query))
}

#[derive(Serialize)]
struct CheckpointRow<'a> {
    stream: &'a str,
    tree_size: u64,
    #[serde(with = "serde_hash")]
    root: crate::merkle::Hash,
    signed_at: Timestamp,
    checkpoint: &'a str,
}

impl<'a> From<&'a SignedCheckpoint> for CheckpointRow<'a> {
    fn from(checkpoint: &'a SignedCheckpoint) -> Self {
        Self {
            stream: &checkpoint.stream,
            tree_size: checkpoint.size,
            root: checkpoint.root,
            signed_at: checkpoint.signed_at,
            checkpoint: &checkpoint.note,
        }
    }
}

#[derive(Serialize)]
struct CheckpointsBody<'a> {
    data: Vec<CheckpointRow<'a>>,
}

/// `GET /checkpoints`
pub(crate) async fn checkpoints(State(api): State<Arc<Api>>, RawQuery(raw): RawQuery) -> Response {
    let pairs = pairs(raw.as_deref());
    let draft = open_draft(VIEWED, "Viewed the audit log's signed checkpoints", &pairs);
    let answer = async {
        let (stream, query) = stream_of(&api, &pairs, &CHECKPOINTS_PARAMETERS)?;
        draft.update(|builder| {
            builder
                .target(Target::new("audit_stream", stream.clone()))
                .description(format!("Viewed the signed checkpoints of {stream}"))
        });
        let kept = api
            .read(api.store.checkpoints(&stream, query.since_bound(), query.page_limit()))
            .await?;
        Ok(json(
            StatusCode::OK,
            &CheckpointsBody {
                data: kept.iter().map(CheckpointRow::from).collect(),
            },
        ))
    };
    let answer = answer.await;
    finish(draft, answer)
}

/// The one value of a required tree size, at least 1.
fn size(pairs: &Pairs, name: &'static str) -> Result<u64, QueryError> {
    let mut values = pairs
        .iter()
        .filter(|(given, _)| given == name)
        .map(|(_, value)| value.trim());
    let value = match (values.next(), values.next()) {
        (Some(value), None) => value,
        (None, _) => return Err(QueryError::new(name, "is required: a tree size, from 1")),
        (Some(_), Some(_)) => return Err(QueryError::new(name, "is given more than once")),
    };
    if value.is_empty() {
        return Err(QueryError::new(name, "is empty: give a tree size, from 1"));
    }
    match value.parse::<u64>() {
        Ok(0) => Err(QueryError::new(
            name,
            "must be at least 1: the empty tree proves nothing",
        )),
        Ok(size) if i64::try_from(size).is_ok() => Ok(size),
        _ => Err(QueryError::new(
            name,
            format!("must be a whole number from 1, got `{}`", value.escape_debug()),
        )),
    }
}

/// `GET /consistency`
pub(crate) async fn consistency(State(api): State<Arc<Api>>, RawQuery(raw): RawQuery) -> Response {
    let pairs = pairs(raw.as_deref());
    let draft = open_draft(VIEWED, "Viewed a consistency proof of the audit log", &pairs);
    let answer = async {
        let (stream, _) = stream_of(&api, &pairs, &CONSISTENCY_PARAMETERS)?;
        let (old_size, new_size) = (size(&pairs, "from")?, size(&pairs, "to")?);
        if old_size > new_size {
            return Err(QueryError::new(
                "from",
                format!("must not be larger than `to` ({new_size}), got {old_size}"),
            )
            .into());
        }
        draft.update(|builder| {
            builder
                .target(Target::new("audit_stream", stream.clone()))
                .description(format!(
                    "Viewed the consistency proof of {stream} from {old_size} to {new_size} events"
                ))
        });
        // With `from` checked, only `to` can be past the head.
        let proof = match api
            .read_or_store_error(api.store.consistency_proof(&stream, old_size, new_size))
            .await?
        {
            Ok(proof) => proof,
            Err(StoreError::Proof { stream, error }) => return Err(ApiError::proof(&stream, &error, "to")),
            Err(other) => return Err(other.into()),
        };
        Ok(json(
            StatusCode::OK,
            &ConsistencyProof {
                stream,
                old_size,
                new_size,
                proof,
            },
        ))
    };
    let answer = answer.await;
    finish(draft, answer)
}
