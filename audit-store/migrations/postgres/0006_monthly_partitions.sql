-- audit_events partitioned by occurred_at, one partition per calendar month
-- (UTC): queries with a time window read only the months in it, and
-- retention can drop a month whole instead of deleting its rows.
--
-- A partitioned table's unique constraints must include the partition key:
-- the primary key becomes (id, occurred_at) and the stream order
-- (stream, seq, occurred_at). An event's id and occurred_at never change,
-- so a retried event still finds itself; seqs stay gapless and unique per
-- stream because they are assigned under the stream's head lock
-- (audit_streams), as before, and verify checks them.
--
-- Every event already stored is moved, with its integrity columns as they
-- are: leaf hashes, seqs, Merkle nodes and checkpoints stay valid.

ALTER TABLE audit_events RENAME TO audit_events_unpartitioned;

-- Same columns, types, NOT NULLs and collations (action stays COLLATE "C").
CREATE TABLE audit_events (LIKE audit_events_unpartitioned) PARTITION BY RANGE (occurred_at);

-- The partition holding `at`, created with its own TRUNCATE guard if it is
-- missing (a statement trigger on the parent does not fire for a TRUNCATE
-- of one partition). Safe to call from several processes at once.
CREATE FUNCTION audit_events_partition_for(at timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    month_start timestamptz := date_trunc('month', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
    name text := 'audit_events_' || to_char(month_start AT TIME ZONE 'UTC', '"y"YYYY"m"MM');
BEGIN
    IF to_regclass(name) IS NULL THEN
        BEGIN
            EXECUTE format(
                'CREATE TABLE %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)',
                name, month_start, month_start + interval '1 month');
            EXECUTE format(
                'CREATE TRIGGER audit_events_reject_truncate BEFORE TRUNCATE ON %I '
                'FOR EACH STATEMENT EXECUTE FUNCTION audit_events_reject_change()', name);
        EXCEPTION WHEN duplicate_table OR duplicate_object OR unique_violation THEN
            -- Another process created it first: it has its guard.
            NULL;
        END;
    END IF;
    RETURN name;
END;
$$;

SELECT audit_events_partition_for(month)
FROM (SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS month
      FROM audit_events_unpartitioned) AS months;
SELECT audit_events_partition_for(now() + months * interval '1 month') FROM generate_series(0, 2) AS months;

INSERT INTO audit_events SELECT * FROM audit_events_unpartitioned;
-- DROP fires no row trigger: the rows are in audit_events now.
DROP TABLE audit_events_unpartitioned;

ALTER TABLE audit_events ADD CONSTRAINT audit_events_pkey PRIMARY KEY (id, occurred_at);
ALTER TABLE audit_events ADD CONSTRAINT audit_events_stream_seq_key UNIQUE (stream, seq, occurred_at);

CREATE TRIGGER audit_events_reject_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_reject_change();
CREATE TRIGGER audit_events_reject_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_reject_change();

-- The indexes of 0001 and 0002, now on every partition (present and future).
CREATE INDEX audit_events_tenant_time ON audit_events (tenant_id, occurred_at DESC, id DESC);
CREATE INDEX audit_events_tenant_action_time ON audit_events (tenant_id, action, occurred_at DESC, id DESC);
CREATE INDEX audit_events_tenant_actor_time ON audit_events (tenant_id, actor_id, occurred_at DESC, id DESC);
CREATE INDEX audit_events_tenant_target_time ON audit_events (tenant_id, target_type, target_id, occurred_at DESC, id DESC);
CREATE INDEX audit_events_request ON audit_events (request_id);
CREATE INDEX audit_events_time ON audit_events (occurred_at DESC, id DESC);
-- As in 0002 and 0003: scoped by tenant where btree_gin exists, and a
-- small pending list, which every partition's index inherits.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'btree_gin') THEN
        CREATE INDEX audit_events_search ON audit_events
            USING gin (tenant_id, search_text gin_trgm_ops) WITH (gin_pending_list_limit = 256);
    ELSE
        CREATE INDEX audit_events_search ON audit_events
            USING gin (search_text gin_trgm_ops) WITH (gin_pending_list_limit = 256);
    END IF;
END;
$$;
