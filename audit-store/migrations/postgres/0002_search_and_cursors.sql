-- Free-text search: a trigram index over audit_events.search_text, which
-- serves `LIKE '%term%'`. The text is lowercased by the store before it is
-- written and the search terms before they are matched (plain LIKE, not
-- ILIKE), so both backends fold case the same way. pg_trgm ships with
-- PostgreSQL (contrib) and is a trusted extension: the database owner may
-- create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Scoped by tenant: with btree_gin (contrib too, and trusted), the index
-- leads with tenant_id, so a search lists only that tenant's candidates
-- rather than every tenant's matches. Where btree_gin cannot be created
-- (not installed, or a managed service that does not allow it), the index
-- covers search_text alone: searches give the same answers, slower on
-- large multi-tenant tables. A multi-column GIN index serves conditions on
-- any subset of its columns, so searches without a tenant use it too.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS btree_gin;
    CREATE INDEX audit_events_search ON audit_events USING gin (tenant_id, search_text gin_trgm_ops);
EXCEPTION WHEN undefined_file OR insufficient_privilege OR feature_not_supported THEN
    RAISE NOTICE 'btree_gin is not available (%): the search index is not scoped by tenant', SQLERRM;
    CREATE INDEX audit_events_search ON audit_events USING gin (search_text gin_trgm_ops);
END;
$$;

-- Newest-first listings across every tenant (operators, the CLI).
CREATE INDEX audit_events_time ON audit_events (occurred_at DESC, id DESC);

-- Secrets the store keeps for itself: the key that signs page cursors, made
-- on first connect, so every process on this database accepts the others'
-- cursors.
CREATE TABLE audit_store_keys (
    name  text  NOT NULL PRIMARY KEY,
    key   bytea NOT NULL
);
