-- The Merkle tree of each stream (RFC 9162), kept as it grows.
--
-- `tree_frontier`: the hashes of the tree's largest perfect subtrees, left
-- to right, 32 bytes each (one per set bit of head_seq). NULL on streams
-- written before this migration until the store fills it on connect (it
-- stays NULL only for a stream purged before then: its removed leaves are
-- gone, so its tree cannot be rebuilt). New streams start empty.
ALTER TABLE audit_streams ADD COLUMN tree_frontier bytea;
ALTER TABLE audit_streams ALTER COLUMN tree_frontier SET DEFAULT '\x';

-- Perfect subtrees: every one at level 8, 16, ... as it completes, and what
-- a purge keeps of the leaves it removes. Written once, never changed.
CREATE TABLE audit_tree_nodes (
    stream text     NOT NULL,
    level  bigint   NOT NULL,
    idx    bigint   NOT NULL,
    hash   bytea    NOT NULL,
    PRIMARY KEY (stream, level, idx)
);

-- Signed checkpoints: a stream's tree head signed by the store's key
-- (C2SP tlog-checkpoint in a signed note), kept next to the copies sent
-- off the box.
CREATE TABLE audit_checkpoints (
    stream    text        NOT NULL,
    tree_size bigint      NOT NULL,
    root      bytea       NOT NULL,
    note      text        NOT NULL,
    signed_at timestamptz NOT NULL,
    PRIMARY KEY (stream, tree_size)
);

CREATE FUNCTION audit_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP;
END;
$$;

CREATE TRIGGER audit_tree_nodes_append_only BEFORE UPDATE OR DELETE ON audit_tree_nodes
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_tree_nodes_reject_truncate BEFORE TRUNCATE ON audit_tree_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_reject_change();
CREATE TRIGGER audit_checkpoints_reject_truncate BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change();

-- The frontier moves with the head: it changes only when the head does,
-- except when a stream written before this migration gets its first one.
-- Once set it is never cleared.
CREATE FUNCTION audit_streams_frontier_moves_with_head() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (OLD.tree_frontier IS NOT NULL AND NEW.tree_frontier IS NULL)
       OR (NEW.head_seq = OLD.head_seq AND OLD.tree_frontier IS NOT NULL
           AND NEW.tree_frontier IS DISTINCT FROM OLD.tree_frontier) THEN
        RAISE EXCEPTION 'audit_streams only moves forward: a tree frontier may not be rewritten or cleared';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER audit_streams_frontier_moves_with_head BEFORE UPDATE ON audit_streams
    FOR EACH ROW EXECUTE FUNCTION audit_streams_frontier_moves_with_head();
