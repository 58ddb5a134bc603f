-- Free-text search: a trigram index over audit_events.search_text, which
-- serves `LIKE '%term%'`. The text is lowercased by the store before it is
-- written and the search terms before they are matched (plain LIKE, not
-- ILIKE), so both backends fold case the same way. pg_trgm ships with
-- PostgreSQL (contrib) and is a trusted extension: the database owner may
-- create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX audit_events_search ON audit_events USING gin (search_text gin_trgm_ops);

-- Newest-first listings across every tenant (operators, the CLI).
CREATE INDEX audit_events_time ON audit_events (occurred_at DESC, id DESC);

-- Secrets the store keeps for itself: the key that signs page cursors, made
-- on first connect, so every process on this database accepts the others'
-- cursors.
CREATE TABLE audit_store_keys (
    name  text  NOT NULL PRIMARY KEY,
    key   bytea NOT NULL
);
