//! Rebuilding a stream's tree from its events while `verify` reads them,
//! and checking what the store keeps of it (and any checkpoints) against
//! the rebuilt one.

use std::collections::HashMap;

use super::Frontier;
use crate::integrity::Problem;
use crate::merkle::{Hash, Node};

/// The tree rebuilt from recomputed leaf hashes, and what it is checked
/// against.
#[derive(Debug)]
pub(crate) struct Replay {
    frontier: Frontier,
    stored_nodes: HashMap<Node, Hash>,
    /// Tree heads to meet, largest first (popped from the back).
    checkpoints: Vec<(u64, Hash)>,
    checkpoints_met: u64,
    /// Why the tree cannot be rebuilt at all, reported when done.
    unbuildable: Option<Problem>,
}

impl Replay {
    /// Replays from `frontier` (the tree of the leaves before the first
    /// event read), checking the nodes the store keeps at stored levels and
    /// the `checkpoints` (size, root).
    pub(crate) fn new(
        frontier: Frontier,
        stored_nodes: HashMap<Node, Hash>,
        mut checkpoints: Vec<(u64, Hash)>,
    ) -> Self {
        checkpoints.sort_unstable_by_key(|&(size, _)| std::cmp::Reverse(size));
        let mut replay = Self {
            frontier,
            stored_nodes,
            checkpoints,
            checkpoints_met: 0,
            unbuildable: None,
        };
        // Checkpoints inside the purged prefix cannot be met by replaying;
        // the store's consistency proofs answer for them.
        while replay
            .checkpoints
            .last()
            .is_some_and(|(size, _)| *size < replay.frontier.size())
        {
            replay.checkpoints.pop();
        }
        replay
    }

    /// A replay that cannot start (what the purges kept of the removed
    /// leaves is gone): `problem` is reported once the events are checked.
    pub(crate) fn unbuildable(problem: Problem) -> Self {
        Self {
            frontier: Frontier::empty(),
            stored_nodes: HashMap::new(),
            checkpoints: Vec::new(),
            checkpoints_met: 0,
            unbuildable: Some(problem),
        }
    }

    /// Appends a recomputed leaf; the first disagreement, if any.
    pub(crate) fn push(&mut self, leaf: Hash) -> Result<(), Problem> {
        if self.unbuildable.is_some() {
            return Ok(());
        }
        let mut mismatch = None;
        let stored_nodes = &self.stored_nodes;
        self.frontier.push(leaf, |node, hash| {
            if mismatch.is_none() && stored_nodes.get(&node) != Some(&hash) {
                mismatch = Some(Problem::TreeMismatch {
                    first_seq: node.first_leaf() + 1,
                    last_seq: node.first_leaf() + node.leaves(),
                });
            }
        });
        if let Some(problem) = mismatch {
            return Err(problem);
        }
        self.meet_checkpoints()
    }

    fn meet_checkpoints(&mut self) -> Result<(), Problem> {
        while let Some(&(size, root)) = self.checkpoints.last() {
            if size != self.frontier.size() {
                break;
            }
            if self.frontier.root() != root {
                return Err(Problem::CheckpointMismatch { size });
            }
            self.checkpoints.pop();
            self.checkpoints_met += 1;
        }
        Ok(())
    }

    /// Finishes at the stream's head: the tree the store keeps must be the
    /// one rebuilt, and no checkpoint may reach past it.
    pub(crate) fn finish(mut self, stored: Option<&Frontier>) -> Result<u64, Problem> {
        if let Some(problem) = self.unbuildable {
            return Err(problem);
        }
        self.meet_checkpoints()?;
        if let Some(&(size, _)) = self.checkpoints.first() {
            return Err(Problem::BehindCheckpoint {
                size,
                head: self.frontier.size(),
            });
        }
        if stored != Some(&self.frontier) {
            return Err(Problem::TreeMismatch {
                first_seq: 1,
                last_seq: self.frontier.size(),
            });
        }
        Ok(self.checkpoints_met)
    }
}
