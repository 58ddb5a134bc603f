-- The Merkle tree of each stream (RFC 9162), kept as it grows.
--
-- `tree_frontier`: the hashes of the tree's largest perfect subtrees, left
-- to right, 32 bytes each (one per set bit of head_seq). NULL on streams
-- written before this migration until the store fills it on connect (it
-- stays NULL only for a stream purged before then: its removed leaves are
-- gone, so its tree cannot be rebuilt).
ALTER TABLE audit_streams ADD COLUMN tree_frontier BLOB;

-- Perfect subtrees: every one at level 8, 16, ... as it completes, and what
-- a purge keeps of the leaves it removes. Written once, never changed.
CREATE TABLE audit_tree_nodes (
    stream TEXT    NOT NULL,
    level  INTEGER NOT NULL,
    idx    INTEGER NOT NULL,
    hash   BLOB    NOT NULL,
    PRIMARY KEY (stream, level, idx)
) WITHOUT ROWID;

CREATE TRIGGER audit_tree_nodes_reject_update BEFORE UPDATE ON audit_tree_nodes
BEGIN
    SELECT RAISE(ABORT, 'audit_tree_nodes is append-only: UPDATE is not allowed');
END;

CREATE TRIGGER audit_tree_nodes_reject_delete BEFORE DELETE ON audit_tree_nodes
BEGIN
    SELECT RAISE(ABORT, 'audit_tree_nodes is append-only: DELETE is not allowed');
END;

CREATE TRIGGER audit_tree_nodes_reject_existing BEFORE INSERT ON audit_tree_nodes
WHEN EXISTS (SELECT 1 FROM audit_tree_nodes WHERE stream = NEW.stream AND level = NEW.level AND idx = NEW.idx)
BEGIN
    SELECT RAISE(ABORT, 'audit_tree_nodes is append-only: this node is already stored');
END;

-- The frontier moves with the head: it changes only when the head does,
-- except when a stream written before this migration gets its first one.
-- Once set it is never cleared.
CREATE TRIGGER audit_streams_frontier_moves_with_head BEFORE UPDATE ON audit_streams
WHEN (OLD.tree_frontier IS NOT NULL AND NEW.tree_frontier IS NULL)
  OR (NEW.head_seq = OLD.head_seq AND OLD.tree_frontier IS NOT NULL
      AND NEW.tree_frontier IS NOT OLD.tree_frontier)
BEGIN
    SELECT RAISE(ABORT, 'audit_streams only moves forward: a tree frontier may not be rewritten or cleared');
END;

-- Signed checkpoints: a stream's tree head signed by the store's key
-- (C2SP tlog-checkpoint in a signed note), kept next to the copies sent
-- off the box.
CREATE TABLE audit_checkpoints (
    stream    TEXT    NOT NULL,
    tree_size INTEGER NOT NULL,
    root      BLOB    NOT NULL,
    note      TEXT    NOT NULL,
    signed_at INTEGER NOT NULL,
    PRIMARY KEY (stream, tree_size)
) WITHOUT ROWID;

CREATE TRIGGER audit_checkpoints_reject_update BEFORE UPDATE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only: UPDATE is not allowed');
END;

CREATE TRIGGER audit_checkpoints_reject_delete BEFORE DELETE ON audit_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'audit_checkpoints is append-only: DELETE is not allowed');
END;
