//! Leaf hashes and stream verification.

use audit_core::{Event, Integrity};

use crate::error::StoreError;
use crate::merkle::{self, Hash};
use crate::row::EventRow;
use crate::tree::{Frontier, Replay};

/// `SHA-256(0x00 ‖ canonical bytes)` as lowercase hex (RFC 9162 leaf hash).
///
/// ```
/// use audit_core::{Action, Actor, Event};
/// let event = Event::builder(Action::new("app.created").unwrap(), Actor::user("u1")).build();
/// let hash = audit_store::leaf_hash(&event);
/// assert_eq!(hash.len(), 64);
/// assert_eq!(hash, audit_store::leaf_hash(&event));
/// ```
pub fn leaf_hash(event: &Event) -> String {
    to_hex(&leaf_digest(event))
}

/// The leaf hash as bytes: the leaf of the stream's Merkle tree.
pub(crate) fn leaf_digest(event: &Event) -> Hash {
    merkle::leaf(&event.canonical_bytes())
}

/// Lowercase hex, as the store keeps leaf hashes.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    hex
}

/// A stored hex leaf hash as bytes; `None` when it is not 64 hex digits.
pub(crate) fn from_hex(hex: &str) -> Option<Hash> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let digit = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut hash = [0; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        hash[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(hash)
}

/// Gives `event` its place in `stream` and its hash; returns the hash as
/// bytes, the stream's next Merkle leaf.
pub(crate) fn seal(event: &mut Event, stream: &str, seq: u64) -> Hash {
    event.set_integrity(Integrity {
        stream: stream.to_owned(),
        seq,
        leaf_hash: String::new(),
    });
    let hash = leaf_digest(event);
    event.set_integrity(Integrity {
        stream: stream.to_owned(),
        seq,
        leaf_hash: to_hex(&hash),
    });
    hash
}

/// What `verify` found wrong first.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The stored hash does not match the event's content: an edited field.
    HashMismatch {
        /// Its place in the stream.
        seq: u64,
        /// The event.
        id: String,
        /// The hash stored with it.
        stored: String,
        /// The hash of what is stored now.
        computed: String,
    },
    /// A `seq` is missing: an event was deleted (or rows were reordered).
    Gap {
        /// The seq that should come next.
        expected: u64,
        /// The seq found instead.
        found: u64,
        /// The event found instead.
        id: String,
    },
    /// The stream's head says more events were written than are stored: the
    /// newest ones were deleted.
    MissingTail {
        /// The last seq stored.
        last_stored: u64,
        /// The seq the head records.
        head: u64,
    },
    /// Events are stored past the seq the stream's head records: the head
    /// was lowered, or its row deleted, behind the store's back (to hide
    /// events deleted after it, say).
    BeyondHead {
        /// The last seq stored.
        last_stored: u64,
        /// The seq the head records (0 when the stream has no head row).
        head: u64,
    },
    /// The event's hash matches a neighbouring seq: rows were swapped or moved.
    Moved {
        /// The seq it is stored at.
        seq: u64,
        /// The event.
        id: String,
        /// The seq its hash was made for.
        sealed_at: u64,
    },
    /// A query column disagrees with the event it belongs to (e.g. `actor_id`
    /// edited without the actor JSON): searches would see a forged value.
    Inconsistent {
        /// Its place in the stream.
        seq: u64,
        /// The event.
        id: String,
        /// The column that disagrees.
        column: &'static str,
    },
    /// The stream starts after `base_seq`, but no `audit.purged` event in it
    /// records a retention purge up to that seq (with that event's hash):
    /// the oldest events were removed behind the store's back.
    UnrecordedPurge {
        /// The seq the stream claims was purged up to.
        base_seq: u64,
        /// What the newest `audit.purged` event records instead, if any.
        recorded: Option<u64>,
    },
    /// The Merkle tree the store keeps disagrees with the one rebuilt from
    /// the events: a stored subtree over these seqs (or the head's frontier,
    /// over the whole stream) was altered, so proofs served from it would
    /// not verify.
    TreeMismatch {
        /// The first seq the disagreeing subtree covers.
        first_seq: u64,
        /// The last.
        last_seq: u64,
    },
    /// The events hash to another root than a signed checkpoint of this
    /// size commits to: events up to that size were changed (and their
    /// hashes rebuilt) after it was signed.
    CheckpointMismatch {
        /// The checkpoint's tree size.
        size: u64,
    },
    /// A signed checkpoint commits to more events than the stream has: the
    /// newest events were removed, or the database was rolled back.
    BehindCheckpoint {
        /// The checkpoint's tree size.
        size: u64,
        /// The stream's size.
        head: u64,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::HashMismatch { seq, id, .. } => {
                write!(
                    f,
                    "event {id} at seq {seq} was altered: its content no longer matches its hash"
                )
            }
            Self::Gap { expected, found, id } => {
                write!(
                    f,
                    "seq {expected} is missing: the next event stored is {id} at seq {found}"
                )
            }
            Self::MissingTail { last_stored, head } => {
                write!(
                    f,
                    "events after seq {last_stored} are missing: the stream head records seq {head}"
                )
            }
            Self::BeyondHead { last_stored, head } => {
                write!(
                    f,
                    "events up to seq {last_stored} are stored but the stream head records seq {head}: the head was moved back or deleted"
                )
            }
            Self::Moved { seq, id, sealed_at } => {
                write!(
                    f,
                    "event {id} is stored at seq {seq} but was sealed at seq {sealed_at}: rows were swapped or moved"
                )
            }
            Self::Inconsistent { seq, id, column } => {
                write!(
                    f,
                    "event {id} at seq {seq}: column `{column}` disagrees with the stored event"
                )
            }
            Self::TreeMismatch { first_seq, last_seq } => write!(
                f,
                "the stored Merkle tree over seqs {first_seq}..={last_seq} disagrees with the events"
            ),
            Self::CheckpointMismatch { size } => write!(
                f,
                "the first {size} events do not hash to the root the signed checkpoint of size {size} commits to: they were changed after it was signed"
            ),
            Self::BehindCheckpoint { size, head } => write!(
                f,
                "a signed checkpoint commits to {size} events but the stream has {head}: events were removed or the database rolled back"
            ),
            Self::UnrecordedPurge { base_seq, recorded } => match recorded {
                Some(recorded) => write!(
                    f,
                    "events up to seq {base_seq} are gone, but the newest audit.purged event records a purge up to seq {recorded}"
                ),
                None => write!(
                    f,
                    "events up to seq {base_seq} are gone, and no audit.purged event records their purge"
                ),
            },
        }
    }
}

/// The result of verifying one stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The stream verified (`tenant:<id>` or `global`).
    pub stream: String,
    /// How many events were checked.
    pub checked: u64,
    /// The seq of the last event checked (the stream's head when intact;
    /// its base when the purge left no event).
    pub last_seq: u64,
    /// The first problem, if any; `None` means the stream is intact.
    pub problem: Option<Problem>,
    /// How many of the checkpoints given were met: the rebuilt tree had
    /// their root at their size.
    pub checkpoints_met: u64,
}

impl VerifyReport {
    /// Whether the stream is intact.
    pub fn is_intact(&self) -> bool {
        self.problem.is_none()
    }
}

/// A stored row made ready for [`Verifier::check`]: the work on one row
/// that needs no other row (rebuilding the event, its leaf hash, comparing
/// the query columns), so that [`prepare_rows`] can spread it over cores.
#[derive(Debug)]
pub(crate) struct PreparedRow {
    seq: u64,
    event: Event,
    digest: Hash,
    inconsistent: Option<&'static str>,
}

impl PreparedRow {
    fn new(row: &EventRow) -> Result<Self, StoreError> {
        let event = row.to_event()?;
        Ok(Self {
            seq: u64::try_from(row.seq).unwrap_or(0),
            digest: leaf_digest(&event),
            inconsistent: row.inconsistent_column(&event),
            event,
        })
    }
}

/// Prepares a page of rows (each as decoded, or the error decoding it
/// gave), in order, on up to as many threads as the machine has cores:
/// rebuilding events and their canonical bytes is most of what verify
/// costs. Blocking: callers run it off the async runtime.
pub(crate) fn prepare_rows(mut rows: Vec<Result<EventRow, StoreError>>) -> Vec<Result<PreparedRow, StoreError>> {
    fn prepare(rows: Vec<Result<EventRow, StoreError>>) -> Vec<Result<PreparedRow, StoreError>> {
        rows.into_iter().map(|row| PreparedRow::new(&row?)).collect()
    }
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    // Below a few hundred rows a thread costs more than it saves.
    if threads < 2 || rows.len() < 256 {
        return prepare(rows);
    }
    let chunk = rows.len().div_ceil(threads);
    let mut parts = Vec::with_capacity(threads);
    while rows.len() > chunk {
        parts.push(rows.split_off(rows.len() - chunk));
    }
    parts.push(rows);
    parts.reverse();
    std::thread::scope(|scope| {
        let workers: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || prepare(part)))
            .collect();
        workers
            .into_iter()
            .flat_map(|worker| worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    })
}

/// Checks events read in `seq` order; stops at the first problem.
#[derive(Debug)]
pub(crate) struct Verifier {
    report: VerifyReport,
    expected_seq: u64,
    base: (u64, String),
    last_purge: Option<(u64, String)>,
    replay: Option<Replay>,
}

impl Verifier {
    /// A verifier for `stream`, whose events start after `base_seq` (the
    /// last seq retention purge removed, with its leaf hash; 0 and `""`
    /// before any purge).
    /// `replay` rebuilds the stream's tree as events are checked (`None`
    /// when the store keeps no tree for it).
    pub(crate) fn new(stream: &str, base_seq: u64, base_hash: String, replay: Option<Replay>) -> Self {
        Self {
            report: VerifyReport {
                stream: stream.to_owned(),
                checked: 0,
                last_seq: base_seq,
                problem: None,
                checkpoints_met: 0,
            },
            expected_seq: base_seq + 1,
            base: (base_seq, base_hash),
            last_purge: None,
            replay,
        }
    }

    /// Checks the next row (its event rebuilt with the row's stream, seq and
    /// hash, and its leaf hash computed); returns false once a problem was
    /// found.
    pub(crate) fn check(&mut self, row: PreparedRow) -> bool {
        let PreparedRow {
            seq: row_seq,
            event,
            digest,
            inconsistent,
        } = row;
        if row_seq != self.expected_seq {
            return self.fail(Problem::Gap {
                expected: self.expected_seq,
                found: row_seq,
                id: event.id().to_string(),
            });
        }
        let stored = event.integrity().map(|i| i.leaf_hash.as_str()).unwrap_or_default();
        if from_hex(stored) != Some(digest) {
            let stored = stored.to_owned();
            let id = event.id().to_string();
            let mut probe = event.clone();
            for sealed_at in [row_seq.saturating_sub(1), row_seq + 1]
                .into_iter()
                .filter(|&s| s > 0 && s != row_seq)
            {
                seal(&mut probe, &self.report.stream, sealed_at);
                if probe.integrity().is_some_and(|i| i.leaf_hash == stored) {
                    return self.fail(Problem::Moved {
                        seq: row_seq,
                        id,
                        sealed_at,
                    });
                }
            }
            return self.fail(Problem::HashMismatch {
                seq: row_seq,
                id,
                stored,
                computed: to_hex(&digest),
            });
        }
        if let Some(column) = inconsistent {
            return self.fail(Problem::Inconsistent {
                seq: row_seq,
                id: event.id().to_string(),
                column,
            });
        }
        if let Some(Err(problem)) = self.replay.as_mut().map(|replay| replay.push(digest)) {
            return self.fail(problem);
        }
        if let Some(cut) = crate::retention::purge_cut(&event) {
            self.last_purge = Some(cut);
        }
        self.report.checked += 1;
        self.report.last_seq = row_seq;
        self.expected_seq += 1;
        true
    }

    fn fail(&mut self, problem: Problem) -> bool {
        self.report.problem = Some(problem);
        false
    }

    /// Finishes with the head's seq, catching deleted newest events, a base
    /// that no purge event accounts for, and a kept tree (`stored`) or
    /// checkpoint the events do not rebuild.
    pub(crate) fn finish(mut self, head_seq: u64, stored: Option<&Frontier>) -> VerifyReport {
        if self.report.problem.is_some() {
            return self.report;
        }
        let last_stored = self.expected_seq - 1;
        if head_seq > last_stored {
            self.report.problem = Some(Problem::MissingTail {
                last_stored,
                head: head_seq,
            });
        } else if last_stored > head_seq {
            self.report.problem = Some(Problem::BeyondHead {
                last_stored,
                head: head_seq,
            });
        } else if self.base.0 > 0 && self.last_purge.as_ref() != Some(&self.base) {
            self.report.problem = Some(Problem::UnrecordedPurge {
                base_seq: self.base.0,
                recorded: self.last_purge.map(|(seq, _)| seq),
            });
        } else if let Some(replay) = self.replay {
            match replay.finish(stored) {
                Ok(met) => self.report.checkpoints_met = met,
                Err(problem) => self.report.problem = Some(problem),
            }
        }
        self.report
    }
}
