//! [`Scan`]: every event a query selects, batch by batch, in bounded memory.

use audit_core::Event;

use crate::query::{Plan, Position};
use crate::{AuditQuery, ProofScan, Store, StoreError};

/// Events per batch of a scan.
const BATCH: u32 = 500;

/// Every event an [`AuditQuery`] selects, newest first, read in batches of
/// 500 along the same keyset order as pages, so memory stays flat however
/// many events match and no transaction is held open between batches. For
/// exports: the query's `limit` and `offset` are ignored (its `cursor`, if
/// any, is where the scan starts). Personal values are opened (or shown
/// erased) as in [`Store::query`]; [`with_proofs`](Self::with_proofs) keeps
/// them sealed, as their proofs need.
///
#[cfg_attr(feature = "sqlite", doc = "```")]
#[cfg_attr(not(feature = "sqlite"), doc = "```ignore")]
/// use audit_core::{Action, Actor, AuditSink, Event};
/// use audit_store::AuditQuery;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = audit_store::connect("sqlite::memory:").await?;
/// let action = Action::new("app.created")?;
/// let events: Vec<Event> = (0..1200)
///     .map(|n| Event::builder(action.clone(), Actor::user(format!("u{n}"))).tenant("acme").build())
///     .collect();
/// store.write_batch(&events).await?;
///
/// let mut scan = store.scan(&AuditQuery::new().tenant("acme"))?;
/// let mut seen = 0;
/// while let Some(batch) = scan.next_batch().await? {
///     assert!(batch.len() <= 500);
///     seen += batch.len();
/// }
/// assert_eq!(seen, 1200);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Scan {
    store: Store,
    plan: Plan,
    done: bool,
    /// Whether personal values are opened for the reader (`false` for
    /// exports with proofs, whose events must hash to their leaves).
    open: bool,
}

impl Scan {
    pub(crate) fn new(store: Store, query: &AuditQuery) -> Result<Self, StoreError> {
        let mut plan = query.plan(store.cursor_key())?;
        plan.limit = BATCH;
        plan.offset = 0;
        Ok(Self {
            store,
            plan,
            done: false,
            open: true,
        })
    }

    /// The same scan with each event's proof against its stream's newest
    /// signed checkpoint: an export with proofs (see [`ProofScan`]).
    pub fn with_proofs(mut self) -> ProofScan {
        self.open = false;
        let store = self.store.clone();
        ProofScan::new(self, store)
    }

    /// The next batch of up to 500 events; `None` once all were returned.
    ///
    /// # Errors
    /// Database errors, or a stored row that cannot be read back.
    pub async fn next_batch(&mut self) -> Result<Option<Vec<Event>>, StoreError> {
        if self.done {
            return Ok(None);
        }
        let mut events = self.store.fetch(&self.plan).await?;
        let limit = self.plan.limit as usize;
        if events.len() > limit {
            events.truncate(limit);
        } else {
            self.done = true;
        }
        match events.last() {
            Some(last) => {
                self.plan.after = Some(Position {
                    occurred_at: last.occurred_at(),
                    id: last.id(),
                });
                if self.open {
                    self.store.open_events(&mut events).await?;
                }
                Ok(Some(events))
            }
            None => Ok(None),
        }
    }
}
