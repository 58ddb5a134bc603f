-- The application role of the crate docs ("Roles") does not own
-- audit_events, so it could not create a month's partition (the store does
-- on connect and for a batch's new months) nor drop one for retention.
-- Both now go through functions that run as their owner (the role that
-- migrates) and do only that:
--
-- 1. audit_events_partition_for(at) creates the partition of at's month.
--    Its search_path is fixed at this migration's, so a caller's cannot
--    redirect the tables it names.
ALTER FUNCTION audit_events_partition_for(timestamptz) SECURITY DEFINER SET search_path FROM CURRENT;

-- 2. audit_events_retire_partition(name) drops a partition of audit_events
--    only when every row in it is at or below its stream's base (what a
--    retention purge has moved past, with an audit.purged event to say
--    so): the same rule the DELETE trigger applies row by row. DROP fires
--    no trigger, so this check is what guards it. It returns false, and
--    drops nothing, when a row is above its base. The caller's lock_timeout
--    applies to the locks it takes.
CREATE FUNCTION audit_events_retire_partition(partition text) RETURNS boolean
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
    -- SHARE: no event can be added to the partition (a back-dated one)
    -- between the check and the drop; readers go on.
    EXECUTE format('LOCK TABLE %s IN SHARE MODE', table_oid::regclass);
    -- One probe of the partition's (stream, seq) index per stream.
    EXECUTE format(
        'SELECT EXISTS (SELECT 1 FROM audit_streams AS s WHERE EXISTS '
        '(SELECT 1 FROM %s AS e WHERE e.stream = s.stream AND e.seq > s.base_seq))',
        table_oid::regclass) INTO kept;
    IF kept THEN
        RETURN false;
    END IF;
    EXECUTE format('DROP TABLE %s', table_oid::regclass);
    RETURN true;
END;
$$;
REVOKE EXECUTE ON FUNCTION audit_events_retire_partition(text) FROM PUBLIC;
