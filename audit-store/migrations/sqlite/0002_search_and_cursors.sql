-- Free-text search, two ways; the store picks per search (see
-- `SqliteStore::query`). The text is lowercased by the store before it is
-- written and the search terms before they are matched, so case-sensitive
-- matching gives case-insensitive search, with the same Unicode folding as
-- PostgreSQL.
--
-- 1. An FTS5 trigram index listing the rows that contain each run of three
--    characters, for terms with a rare trigram: the AND of a term's
--    trigrams lists a superset of the rows containing it, and the query
--    checks the terms on those rows (`search_text GLOB`). Contentless: the
--    text is never read back from the index (the rows hold it), so it is
--    not stored twice.
--    Its one column is `doc` (not `search_text`, which would clash with the
--    rows' column in the join).
CREATE VIRTUAL TABLE audit_events_search USING fts5(
    doc,
    content = '',
    tokenize = 'trigram case_sensitive 1',
    detail = 'none'
);

CREATE TRIGGER audit_events_search_insert AFTER INSERT ON audit_events
BEGIN
    INSERT INTO audit_events_search (rowid, doc) VALUES (new.pk, new.search_text);
END;

-- Only retention purge deletes (see audit_purge_gate); keep the index in
-- step. A contentless table forgets a row given the text it indexed.
CREATE TRIGGER audit_events_search_delete AFTER DELETE ON audit_events
BEGIN
    INSERT INTO audit_events_search (audit_events_search, rowid, doc)
    VALUES ('delete', old.pk, old.search_text);
END;

-- 2. For terms whose every trigram is common, the tenant's newest rows in
--    order, checked one by one: the tenant-and-time index carries
--    search_text, so that scan reads the index alone, never the rows
--    (~0.4 µs a row instead of several). It replaces 0001's index of the
--    same leading columns.
DROP INDEX audit_events_tenant_time;
CREATE INDEX audit_events_tenant_time ON audit_events (tenant_id, occurred_at DESC, id DESC, search_text);

-- Newest-first listings across every tenant (operators, the CLI).
CREATE INDEX audit_events_time ON audit_events (occurred_at DESC, id DESC);

-- Secrets the store keeps for itself: the key that signs page cursors, made
-- on first connect, so every process on this database accepts the others'
-- cursors.
CREATE TABLE audit_store_keys (
    name  TEXT NOT NULL PRIMARY KEY,
    key   BLOB NOT NULL
) STRICT;
