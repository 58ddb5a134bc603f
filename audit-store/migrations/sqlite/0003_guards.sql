-- Guards against what the append-only triggers of 0001 let through.
--
-- 1. REPLACE (INSERT OR REPLACE, REPLACE INTO) resolves a UNIQUE conflict by
--    deleting the stored row without firing DELETE triggers: with the
--    constraints alone it rewrote an event, hash and all, in place. An event
--    whose id or (stream, seq) is already stored is refused before it is
--    inserted. The store never inserts one: it leaves out the ids it finds
--    stored, under the write lock.
CREATE TRIGGER audit_events_reject_existing BEFORE INSERT ON audit_events
WHEN EXISTS (SELECT 1 FROM audit_events WHERE id = NEW.id)
  OR EXISTS (SELECT 1 FROM audit_events WHERE stream = NEW.stream AND seq = NEW.seq)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: an event with this id or (stream, seq) is already stored');
END;

-- 2. Opening the purge gate let any DELETE through, the newest rows
--    included. A purge now moves its stream's base first, and only rows at
--    or below the base may go: the newest rows never can, and moving a base
--    without an audit.purged event to match is what verify reports.
DROP TRIGGER audit_events_reject_delete;
CREATE TRIGGER audit_events_reject_delete BEFORE DELETE ON audit_events
WHEN (SELECT open FROM audit_purge_gate WHERE id = 1) = 0
  OR OLD.seq > coalesce((SELECT base_seq FROM audit_streams WHERE stream = OLD.stream), 0)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: DELETE is only allowed through retention purge');
END;

-- 3. A stream's head and base only move forward, and its row stays: lowering
--    the head hid deleted newest rows from verify, and deleting the row hid
--    the stream. REPLACE is refused as for events.
CREATE TRIGGER audit_streams_forward_only BEFORE UPDATE ON audit_streams
WHEN NEW.stream IS NOT OLD.stream
  OR NEW.head_seq < OLD.head_seq
  OR (NEW.head_seq = OLD.head_seq AND NEW.head_hash IS NOT OLD.head_hash)
  OR NEW.base_seq < OLD.base_seq
  OR (NEW.base_seq = OLD.base_seq AND NEW.base_hash IS NOT OLD.base_hash)
  OR NEW.base_seq > NEW.head_seq
BEGIN
    SELECT RAISE(ABORT, 'audit_streams only moves forward: a head or base may not go back or be rewritten');
END;

CREATE TRIGGER audit_streams_reject_delete BEFORE DELETE ON audit_streams
BEGIN
    SELECT RAISE(ABORT, 'audit_streams is append-only: DELETE is not allowed');
END;

CREATE TRIGGER audit_streams_reject_existing BEFORE INSERT ON audit_streams
WHEN EXISTS (SELECT 1 FROM audit_streams WHERE stream = NEW.stream)
BEGIN
    SELECT RAISE(ABORT, 'audit_streams is append-only: this stream already has its row');
END;
