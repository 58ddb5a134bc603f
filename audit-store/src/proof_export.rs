//! Exports with proofs: every event of a [`Scan`] with what proves it is in
//! its stream's newest signed checkpoint, one NDJSON line each.
//!
//! A covered event's line is an [`EventProof`], exactly as `audit prove`
//! prints it (`{"event", "leaf_index", "tree_size", "audit_path",
//! "checkpoint"}`), so `audit verify-event` and [`EventProof::verify`] check
//! it as is. An event newer than that checkpoint is not covered yet: its
//! line is `{"event", "leaf_index", "checkpoint": null}` ([`UncoveredEvent`]),
//! which proves nothing until a later checkpoint covers it.
//!
//! Each stream's newest checkpoint is read once, when the export first meets
//! the stream, so every line of a stream is against the same checkpoint; the
//! audit paths of a batch's covered events are read together, one
//! [`Store::audit_paths`] per stream and batch.

use std::collections::HashMap;

use audit_core::Event;
use serde::ser::SerializeStruct as _;
use serde::{Deserialize, Serialize};

use crate::{EventProof, Scan, SignedCheckpoint, Store, StoreError};

/// One line of an NDJSON export with proofs.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum ProofLine {
    /// The event is in its stream's checkpoint: its proof.
    Covered(EventProof),
    /// No signed checkpoint covers the event yet.
    Uncovered(UncoveredEvent),
}

impl ProofLine {
    /// The event the line is about.
    pub fn event(&self) -> &Event {
        match self {
            Self::Covered(proof) => &proof.event,
            Self::Uncovered(uncovered) => &uncovered.event,
        }
    }

    /// Appends `lines` to `out`, one JSON object per line.
    pub fn write_ndjson(lines: &[Self], out: &mut Vec<u8>) {
        for line in lines {
            serde_json::to_writer(&mut *out, line).unwrap_or_else(|e| unreachable!("proof lines serialise: {e}"));
            out.push(b'\n');
        }
    }
}

/// An exported event that no signed checkpoint covers yet (it is newer
/// than its stream's newest checkpoint, or the stream has none). Written as
/// `{"event", "leaf_index", "checkpoint": null}`: the `null` checkpoint is
/// what tells it from an [`EventProof`]; it carries no path.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct UncoveredEvent {
    /// The event as stored, with its integrity (stream, seq, leaf hash).
    pub event: Event,
    /// Its leaf in the stream's tree: its seq − 1.
    pub leaf_index: u64,
}

impl Serialize for UncoveredEvent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut line = serializer.serialize_struct("UncoveredEvent", 3)?;
        line.serialize_field("event", &self.event)?;
        line.serialize_field("leaf_index", &self.leaf_index)?;
        line.serialize_field("checkpoint", &Option::<&str>::None)?;
        line.end()
    }
}

/// Every event of a [`Scan`] as a [`ProofLine`], batch by batch: what
/// `GET /export?format=ndjson&with_proofs=true` and `audit export
/// --with-proofs` write. See the [module docs](self).
///
#[cfg_attr(feature = "sqlite", doc = "```")]
#[cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
/// use audit_core::{Action, Actor, AuditSink, Event};
/// use audit_store::checkpoint::Checkpointer;
/// use audit_store::proof_export::ProofLine;
/// use audit_store::{AuditQuery, SigningKey};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = audit_store::connect("sqlite::memory:").await?;
/// let event = || Event::builder(Action::new("app.created").unwrap(), Actor::user("u1")).tenant("acme").build();
/// store.write_batch(&[event(), event()]).await?;
/// let key = SigningKey::generate("audit.example.com")?;
/// Checkpointer::new(store.clone(), key.clone()).checkpoint_now().await?;
/// store.write_batch(&[event()]).await?; // after the checkpoint
///
/// let mut scan = store.scan(&AuditQuery::new())?.with_proofs();
/// let lines = scan.next_batch().await?.expect("three events");
/// let covered: Vec<bool> = lines.iter().map(|line| matches!(line, ProofLine::Covered(_))).collect();
/// assert_eq!(covered, [false, true, true]); // newest first
/// if let ProofLine::Covered(proof) = &lines[1] {
///     proof.verify(&key.verifier_key(), "audit.example.com")?;
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ProofScan {
    scan: Scan,
    store: Store,
    /// Each stream's newest checkpoint (`None`: it has none), read once.
    checkpoints: HashMap<String, Option<SignedCheckpoint>>,
}

impl ProofScan {
    pub(crate) fn new(scan: Scan, store: Store) -> Self {
        Self {
            scan,
            store,
            checkpoints: HashMap::new(),
        }
    }

    /// The next batch of up to 500 lines; `None` once all were returned.
    ///
    /// # Errors
    /// Database errors; [`StoreError::Corrupt`] for a stored event without
    /// its integrity; [`StoreError::Proof`] when a checkpointed stream's
    /// tree cannot give a path.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<ProofLine>>, StoreError> {
        let Some(events) = self.scan.next_batch().await? else {
            return Ok(None);
        };
        // Each stream's events, with their places in `events`.
        let mut by_stream: HashMap<String, (Vec<usize>, Vec<Event>)> = HashMap::new();
        let count = events.len();
        for (place, event) in events.into_iter().enumerate() {
            let stream = place_of(&event)?.0.to_owned();
            if !self.checkpoints.contains_key(&stream) {
                let newest = self.store.latest_checkpoint(&stream).await?;
                self.checkpoints.insert(stream.clone(), newest);
            }
            let (places, events) = by_stream.entry(stream).or_default();
            places.push(place);
            events.push(event);
        }
        let mut lines: Vec<Option<ProofLine>> = (0..count).map(|_| None).collect();
        for (stream, (places, events)) in by_stream {
            let checkpoint = self.checkpoints.get(&stream).and_then(Option::as_ref);
            let found = stream_lines(&self.store, &stream, checkpoint, events).await?;
            for (place, line) in places.into_iter().zip(found) {
                lines[place] = Some(line);
            }
        }
        Ok(Some(lines.into_iter().flatten().collect()))
    }
}

/// The lines of `events`, all of `stream`, against `checkpoint` (the one
/// the export reads for the stream, if it has any): each event it covers
/// with its proof, the others uncovered. The covered events' audit paths
/// are read together, in one [`Store::audit_paths`]. What exports with
/// proofs and the archive sink write.
pub(crate) async fn stream_lines(
    store: &Store,
    stream: &str,
    checkpoint: Option<&SignedCheckpoint>,
    events: Vec<Event>,
) -> Result<Vec<ProofLine>, StoreError> {
    let covering = |seq: u64| checkpoint.filter(|checkpoint| checkpoint.size >= seq);
    let seqs = events
        .iter()
        .map(|event| place_of(event).map(|(_, seq)| seq))
        .collect::<Result<Vec<u64>, _>>()?;
    let leaves: Vec<u64> = seqs
        .iter()
        .filter(|&&seq| covering(seq).is_some())
        .map(|seq| seq - 1)
        .collect();
    let mut paths = match checkpoint {
        Some(checkpoint) if !leaves.is_empty() => store.audit_paths(stream, Some(checkpoint.size), &leaves).await?.1,
        _ => Vec::new(),
    }
    .into_iter();
    Ok(events
        .into_iter()
        .zip(seqs)
        .map(|(event, seq)| {
            let covered = covering(seq).and_then(|checkpoint| Some((checkpoint, paths.next()?)));
            match covered {
                Some((checkpoint, audit_path)) => ProofLine::Covered(EventProof {
                    leaf_index: seq - 1,
                    tree_size: checkpoint.size,
                    audit_path,
                    checkpoint: checkpoint.note.clone(),
                    event,
                }),
                None => ProofLine::Uncovered(UncoveredEvent {
                    leaf_index: seq - 1,
                    event,
                }),
            }
        })
        .collect())
}

/// A stored event's stream and seq (from 1).
fn place_of(event: &Event) -> Result<(&str, u64), StoreError> {
    match event.integrity() {
        Some(integrity) if integrity.seq >= 1 => Ok((integrity.stream.as_str(), integrity.seq)),
        _ => Err(StoreError::Corrupt {
            id: event.id().to_string(),
            reason: "the stored event has no stream or seq".to_owned(),
        }),
    }
}
