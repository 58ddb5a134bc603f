-- Guards against what the append-only triggers of 0001 let through.
-- (PostgreSQL has no REPLACE; ON CONFLICT DO UPDATE fires the UPDATE
-- trigger, and COPY the INSERT constraints, so events were safe there.)
--
-- 1. `SET LOCAL audit.purge = 'on'` let any DELETE through, the newest rows
--    included. A purge now moves its stream's base first, and only rows at
--    or below the base may go: the newest rows never can, and moving a base
--    without an audit.purged event to match is what verify reports.
CREATE OR REPLACE FUNCTION audit_events_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF current_setting('audit.purge', true) = 'on'
           AND OLD.seq <= coalesce((SELECT base_seq FROM audit_streams WHERE stream = OLD.stream), 0) THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_events is append-only: DELETE is only allowed through retention purge';
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP;
END;
$$;

-- 2. A stream's head and base only move forward, and its row stays: lowering
--    the head hid deleted newest rows from verify, and deleting the row hid
--    the stream.
CREATE FUNCTION audit_streams_forward_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'audit_streams is append-only: % is not allowed', TG_OP;
    END IF;
    IF NEW.stream IS DISTINCT FROM OLD.stream
       OR NEW.head_seq < OLD.head_seq
       OR (NEW.head_seq = OLD.head_seq AND NEW.head_hash IS DISTINCT FROM OLD.head_hash)
       OR NEW.base_seq < OLD.base_seq
       OR (NEW.base_seq = OLD.base_seq AND NEW.base_hash IS DISTINCT FROM OLD.base_hash)
       OR NEW.base_seq > NEW.head_seq THEN
        RAISE EXCEPTION 'audit_streams only moves forward: a head or base may not go back or be rewritten';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER audit_streams_forward_only BEFORE UPDATE OR DELETE ON audit_streams
    FOR EACH ROW EXECUTE FUNCTION audit_streams_forward_only();
CREATE TRIGGER audit_streams_reject_truncate BEFORE TRUNCATE ON audit_streams
    FOR EACH STATEMENT EXECUTE FUNCTION audit_streams_forward_only();
