//! `GET /{id}/proof`: an event with the proof that it is in a signed
//! checkpoint of its stream, the [`EventProof`] JSON that `audit prove`
//! prints and `audit verify-event` checks.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use super::error::ApiError;
use super::handlers::{Api, Pairs, finish, json, open_event_draft, pairs};
use crate::proof::{EventProof, InvalidProof};
use crate::{QueryError, VerifierKey};

/// The `checkpoint` parameter: `latest` (also when left out) or the tree
/// size of a kept checkpoint.
fn checkpoint_size(pairs: &Pairs) -> Result<Option<u64>, QueryError> {
    let mut size = None;
    let mut seen = false;
    for (name, value) in pairs {
        if name != "checkpoint" {
            return Err(QueryError::new(name.clone(), "does not apply to an event's proof"));
        }
        if seen {
            return Err(QueryError::new("checkpoint", "is given more than once"));
        }
        seen = true;
        let value = value.trim();
        size = match value {
            "" => return Err(QueryError::new("checkpoint", "is empty: give `latest` or a tree size")),
            "latest" => None,
            digits if digits.bytes().all(|b| b.is_ascii_digit()) => match digits.parse::<u64>() {
                Ok(0) => {
                    return Err(QueryError::new(
                        "checkpoint",
                        "is 0: a checkpoint of no events covers none",
                    ));
                }
                Ok(size) => Some(size),
                Err(_) => return Err(QueryError::new("checkpoint", "is larger than any tree size")),
            },
            other => {
                return Err(QueryError::new(
                    "checkpoint",
                    format!("`{}` is neither `latest` nor a tree size", other.escape_debug()),
                ));
            }
        };
    }
    Ok(size)
}

/// The answer: the proof, and what the server's own check of it found when
/// it holds the log's verifier key. `audit verify-event` reads it as an
/// [`EventProof`]; the added fields are ignored there.
#[derive(Serialize)]
struct ProofBody<'a> {
    #[serde(flatten)]
    proof: &'a EventProof,
    /// The key whose signature on the checkpoint the server checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    signature_checked_by: Option<&'a str>,
    /// Why the proof does not verify under that key.
    #[serde(skip_serializing_if = "Option::is_none")]
    server_verify_error: Option<String>,
}

impl<'a> ProofBody<'a> {
    fn new(proof: &'a EventProof, key: Option<&'a VerifierKey>) -> Self {
        let mut body = Self {
            proof,
            signature_checked_by: None,
            server_verify_error: None,
        };
        let Some(key) = key else { return body };
        let verified = proof.verify(key, key.name());
        // Every check after the signature's ran on a checkpoint it holds for.
        if !matches!(verified, Err(InvalidProof::Signature(_))) {
            body.signature_checked_by = Some(key.name());
        }
        if let Err(error) = verified {
            tracing::warn!(event = %proof.event.id(), %error, "audit admin API: an event's proof does not verify");
            body.server_verify_error = Some(error.to_string());
        }
        body
    }
}

/// `GET /{id}/proof`
pub(crate) async fn event_proof(
    State(api): State<Arc<Api>>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let pairs = pairs(raw.as_deref());
    let draft = open_event_draft("Viewed the proof of one audit event", &id, &pairs);
    let answer = async {
        let scope = api.scope()?;
        let size = checkpoint_size(&pairs)?;
        let against = match size {
            Some(size) => format!("against its stream's checkpoint of {size} events"),
            None => "against its stream's latest checkpoint".to_owned(),
        };
        draft.update(|builder| builder.description(format!("Viewed the proof of one audit event, {against}")));
        // The reader's view of the event first, so another tenant's event
        // is a 404 before anything says whether it is checkpointed.
        let event = api.event(&scope, &id).await?;
        let proof = api.read(api.store.event_proof(event.id(), size)).await?;
        let proof = proof.ok_or_else(|| ApiError::not_found(format!("no audit event `{}`", id.escape_debug())))?;
        Ok(json(StatusCode::OK, &ProofBody::new(&proof, api.verifier_key.as_ref())))
    };
    let answer = answer.await;
    finish(draft, answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(query: &str) -> Result<Option<u64>, String> {
        checkpoint_size(&pairs(Some(query))).map_err(|e| format!("{}: {e}", e.parameter()))
    }

    #[test]
    fn the_checkpoint_is_latest_or_a_positive_tree_size() {
        assert_eq!(size(""), Ok(None));
        assert_eq!(size("checkpoint=latest"), Ok(None));
        assert_eq!(size("checkpoint=42"), Ok(Some(42)));
        assert_eq!(size("checkpoint=18446744073709551615"), Ok(Some(u64::MAX)));
        for bad in [
            "",
            "0",
            "-1",
            "%2B1",
            "1.5",
            "newest",
            "18446744073709551616",
            "1&checkpoint=2",
        ] {
            let error = size(&format!("checkpoint={bad}")).unwrap_err();
            assert!(error.starts_with("checkpoint: "), "{bad}: {error}");
        }
        assert!(size("limit=5").unwrap_err().starts_with("limit: "));
    }

    #[tokio::test]
    async fn with_the_key_the_answer_says_whether_the_proof_verifies() {
        use audit_core::{Action, Actor, AuditSink as _, Event, Integrity};

        let store = crate::connect("sqlite::memory:").await.unwrap();
        let event = Event::builder(Action::new("app.created").unwrap(), Actor::user("u1")).build();
        store.write_batch(std::slice::from_ref(&event)).await.unwrap();
        let key = crate::SigningKey::generate("audit.example.com/log").unwrap();
        crate::checkpoint::Checkpointer::new(store.clone(), key.clone())
            .checkpoint_now()
            .await
            .unwrap();
        let proof = store.event_proof(event.id(), None).await.unwrap().unwrap();
        let answer =
            |proof: &EventProof, key: Option<&VerifierKey>| serde_json::to_value(ProofBody::new(proof, key)).unwrap();

        let checked = answer(&proof, Some(&key.verifier_key()));
        assert_eq!(checked["signature_checked_by"], "audit.example.com/log");
        assert!(checked.get("server_verify_error").is_none(), "{checked}");
        // Still an EventProof to `audit verify-event`.
        assert_eq!(serde_json::from_value::<EventProof>(checked).unwrap(), proof);
        assert!(answer(&proof, None).get("signature_checked_by").is_none());

        let other = crate::SigningKey::generate("audit.example.com/log")
            .unwrap()
            .verifier_key();
        let refused = answer(&proof, Some(&other));
        assert!(refused.get("signature_checked_by").is_none(), "{refused}");
        assert!(
            refused["server_verify_error"]
                .as_str()
                .unwrap()
                .contains("not signed by the key")
        );

        let mut altered = proof.clone();
        let integrity = altered.event.integrity().unwrap().clone();
        altered.event.set_integrity(Integrity {
            leaf_hash: "00".repeat(32),
            ..integrity
        });
        let altered = answer(&altered, Some(&key.verifier_key()));
        assert_eq!(altered["signature_checked_by"], "audit.example.com/log");
        assert!(
            altered["server_verify_error"].as_str().unwrap().contains("was altered"),
            "{altered}"
        );
    }
}
