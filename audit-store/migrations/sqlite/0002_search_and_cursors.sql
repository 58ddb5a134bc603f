-- Free-text search: an FTS5 trigram index over audit_events.search_text
-- (external content, so the text is stored once). The text is lowercased by
-- the store before it is written and the search terms before they are
-- matched, so a case-sensitive index gives case-insensitive search, with the
-- same Unicode folding as PostgreSQL.
CREATE VIRTUAL TABLE audit_events_search USING fts5(
    search_text,
    content = 'audit_events',
    content_rowid = 'pk',
    tokenize = 'trigram case_sensitive 1',
    detail = 'none'
);

CREATE TRIGGER audit_events_search_insert AFTER INSERT ON audit_events
BEGIN
    INSERT INTO audit_events_search (rowid, search_text) VALUES (new.pk, new.search_text);
END;

-- Only retention purge deletes (see audit_purge_gate); keep the index in step.
CREATE TRIGGER audit_events_search_delete AFTER DELETE ON audit_events
BEGIN
    INSERT INTO audit_events_search (audit_events_search, rowid, search_text)
    VALUES ('delete', old.pk, old.search_text);
END;

-- Newest-first listings across every tenant (operators, the CLI).
CREATE INDEX audit_events_time ON audit_events (occurred_at DESC, id DESC);

-- Secrets the store keeps for itself: the key that signs page cursors, made
-- on first connect, so every process on this database accepts the others'
-- cursors.
CREATE TABLE audit_store_keys (
    name  TEXT NOT NULL PRIMARY KEY,
    key   BLOB NOT NULL
) STRICT;
