-- The partition unit is a setting (a month by default; a day, a week or a
-- year on request), and every partition of audit_events is listed with its
-- range, so that neither the store nor a retention purge reads ranges out
-- of names.
--
-- A new partition covers the unit's period that holds its first event (a
-- week starts on Monday, UTC), clipped to the partitions already there: a
-- unit changed on a populated table applies to the periods not yet made,
-- and no two ranges ever overlap.

CREATE TABLE audit_partition_settings (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    unit text NOT NULL CHECK (unit IN ('day', 'week', 'month', 'year'))
);
INSERT INTO audit_partition_settings (unit) VALUES ('month');

CREATE TABLE audit_partitions (
    name text PRIMARY KEY,
    starts timestamptz NOT NULL,
    ends timestamptz NOT NULL,
    CHECK (starts < ends)
);
CREATE INDEX audit_partitions_range ON audit_partitions (starts, ends);
-- Names and ranges only: any role that reads events may read them.
GRANT SELECT ON audit_partition_settings, audit_partitions TO PUBLIC;

-- The months migration 6 and the store made so far.
INSERT INTO audit_partitions (name, starts, ends)
SELECT c.relname, m.starts, m.starts + interval '1 month'
FROM pg_inherits i
JOIN pg_class c ON c.oid = i.inhrelid
CROSS JOIN LATERAL (
    SELECT make_timestamptz(substr(c.relname, 15, 4)::int, substr(c.relname, 20, 2)::int, 1, 0, 0, 0, 'UTC') AS starts
) AS m
WHERE i.inhparent = 'audit_events'::regclass AND c.relname ~ '^audit_events_y[0-9]{4}m[0-9]{2}$';

-- The partition holding `at`: the one listed, or a new one for the unit's
-- period around `at`, clipped to its neighbours, with its TRUNCATE guard.
-- Runs as the owner (migration 7); safe to call from several processes.
CREATE OR REPLACE FUNCTION audit_events_partition_for(at timestamptz) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    found text;
    unit text;
    utc timestamp := at AT TIME ZONE 'UTC';
    lo timestamptz;
    hi timestamptz;
    name text;
BEGIN
    SELECT p.name INTO found FROM audit_partitions AS p WHERE p.starts <= at AND at < p.ends;
    IF found IS NOT NULL THEN
        RETURN found;
    END IF;
    SELECT s.unit INTO unit FROM audit_partition_settings AS s;
    lo := date_trunc(coalesce(unit, 'month'), utc) AT TIME ZONE 'UTC';
    hi := (date_trunc(coalesce(unit, 'month'), utc) + ('1 ' || coalesce(unit, 'month'))::interval) AT TIME ZONE 'UTC';
    lo := greatest(lo, (SELECT max(p.ends) FROM audit_partitions AS p WHERE p.ends <= at));
    hi := least(hi, (SELECT min(p.starts) FROM audit_partitions AS p WHERE p.starts > at));
    -- Whole months keep migration 6's names; any other range is named by
    -- its first day and its length in days.
    IF lo = date_trunc('month', lo AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
       AND hi = (date_trunc('month', lo AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC' THEN
        name := 'audit_events_' || to_char(lo AT TIME ZONE 'UTC', '"y"YYYY"m"MM');
    ELSE
        name := 'audit_events_' || to_char(lo AT TIME ZONE 'UTC', '"y"YYYY"m"MM"d"DD')
            || '_' || extract(day FROM (hi - lo))::int || 'd';
    END IF;
    BEGIN
        EXECUTE format('CREATE TABLE %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
        EXECUTE format(
            'CREATE TRIGGER audit_events_reject_truncate BEFORE TRUNCATE ON %I '
            'FOR EACH STATEMENT EXECUTE FUNCTION audit_events_reject_change()', name);
        INSERT INTO audit_partitions (name, starts, ends) VALUES (name, lo, hi);
    EXCEPTION WHEN duplicate_table OR duplicate_object OR unique_violation OR invalid_object_definition THEN
        -- Another process made it (or an overlapping one) first.
        SELECT p.name INTO found FROM audit_partitions AS p WHERE p.starts <= at AND at < p.ends;
        IF found IS NULL THEN
            RAISE;
        END IF;
        RETURN found;
    END;
    RETURN name;
END;
$$;

-- Every partition from `from` to `until`, so a running service rarely
-- makes one in an append.
CREATE FUNCTION audit_events_partitions_ahead(from_at timestamptz, until timestamptz) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    t timestamptz := from_at;
    made text;
BEGIN
    WHILE t < until LOOP
        made := audit_events_partition_for(t);
        SELECT p.ends INTO t FROM audit_partitions AS p WHERE p.name = made;
    END LOOP;
END;
$$;

-- As in migration 7, and forgetting the dropped partition's range.
CREATE OR REPLACE FUNCTION audit_events_retire_partition(partition text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
    table_oid oid := to_regclass(partition);
    kept boolean;
BEGIN
    IF table_oid IS NULL OR NOT EXISTS (
        SELECT 1 FROM pg_inherits WHERE inhrelid = table_oid AND inhparent = 'audit_events'::regclass
    ) THEN
        RAISE EXCEPTION '% is not a partition of audit_events', partition;
    END IF;
    EXECUTE format('LOCK TABLE %s IN SHARE MODE', table_oid::regclass);
    EXECUTE format(
        'SELECT EXISTS (SELECT 1 FROM audit_streams AS s WHERE EXISTS '
        '(SELECT 1 FROM %s AS e WHERE e.stream = s.stream AND e.seq > s.base_seq))',
        table_oid::regclass) INTO kept;
    IF kept THEN
        RETURN false;
    END IF;
    DELETE FROM audit_partitions AS p WHERE p.name = (SELECT relname FROM pg_class WHERE oid = table_oid);
    EXECUTE format('DROP TABLE %s', table_oid::regclass);
    RETURN true;
END;
$$;
REVOKE EXECUTE ON FUNCTION audit_events_retire_partition(text) FROM PUBLIC;
