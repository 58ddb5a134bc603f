//! Leaf hashes and stream verification.

use audit_core::{Event, Integrity};

use crate::error::StoreError;
use crate::row::EventRow;

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
    to_hex(&crate::merkle::leaf(&event.canonical_bytes()))
}

/// `bytes` as lowercase hex, the form `Integrity::leaf_hash` holds.
pub(crate) fn to_hex(bytes: &[u8]) -> String {
    let mut hex = String::with_capacity(2 * bytes.len());
    for byte in bytes {
        use std::fmt::Write as _;
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// Gives `event` its place in `stream` and its hash.
pub(crate) fn seal(event: &mut Event, stream: &str, seq: u64) {
    event.set_integrity(Integrity {
        stream: stream.to_owned(),
        seq,
        leaf_hash: String::new(),
    });
    let hash = leaf_hash(event);
    event.set_integrity(Integrity {
        stream: stream.to_owned(),
        seq,
        leaf_hash: hash,
    });
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
}

impl VerifyReport {
    /// Whether the stream is intact.
    pub fn is_intact(&self) -> bool {
        self.problem.is_none()
    }
}

/// Checks events read in `seq` order; stops at the first problem.
#[derive(Debug)]
pub(crate) struct Verifier {
    report: VerifyReport,
    expected_seq: u64,
    base: (u64, String),
    last_purge: Option<(u64, String)>,
}

impl Verifier {
    /// A verifier for `stream`, whose events start after `base_seq` (the
    /// last seq retention purge removed, with its leaf hash; 0 and `""`
    /// before any purge).
    pub(crate) fn new(stream: &str, base_seq: u64, base_hash: String) -> Self {
        Self {
            report: VerifyReport {
                stream: stream.to_owned(),
                checked: 0,
                last_seq: base_seq,
                problem: None,
            },
            expected_seq: base_seq + 1,
            base: (base_seq, base_hash),
            last_purge: None,
        }
    }

    /// Checks the next row (its event rebuilt with the row's stream, seq and
    /// hash); returns false once a problem was found.
    pub(crate) fn check(&mut self, row_seq: u64, event: &Event, inconsistent: Option<&'static str>) -> bool {
        let id = event.id().to_string();
        if row_seq != self.expected_seq {
            return self.fail(Problem::Gap {
                expected: self.expected_seq,
                found: row_seq,
                id,
            });
        }
        let stored = event.integrity().map(|i| i.leaf_hash.clone()).unwrap_or_default();
        let computed = leaf_hash(event);
        if computed != stored {
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
                computed,
            });
        }
        if let Some(column) = inconsistent {
            return self.fail(Problem::Inconsistent {
                seq: row_seq,
                id,
                column,
            });
        }
        if let Some(cut) = crate::retention::purge_cut(event) {
            self.last_purge = Some(cut);
        }
        self.report.checked += 1;
        self.report.last_seq = row_seq;
        self.expected_seq += 1;
        true
    }

    /// Checks the next stored row: rebuilds its event, then [`check`](Self::check)s
    /// it together with the row's query columns.
    pub(crate) fn check_row(&mut self, row: EventRow) -> Result<bool, StoreError> {
        let seq = u64::try_from(row.seq).unwrap_or(0);
        let event = row.clone().into_event()?;
        let inconsistent = row.inconsistent_column(&event);
        Ok(self.check(seq, &event, inconsistent))
    }

    fn fail(&mut self, problem: Problem) -> bool {
        self.report.problem = Some(problem);
        false
    }

    /// Finishes with the head's seq, catching deleted newest events, and a
    /// base that no purge event accounts for.
    pub(crate) fn finish(mut self, head_seq: u64) -> VerifyReport {
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
        }
        self.report
    }
}
