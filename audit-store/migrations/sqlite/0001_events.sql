-- Audit events: append-only, one row per event, integrity-chained per stream.
-- Times are Unix microseconds (UTC); JSON columns hold the nested parts of
-- the event exactly as the event model serialises them.
CREATE TABLE audit_events (
    -- An explicit integer key: VACUUM may renumber implicit rowids, and the
    -- search index (0002) refers to rows by this key.
    pk           INTEGER PRIMARY KEY,
    id           TEXT    NOT NULL UNIQUE,
    stream       TEXT    NOT NULL,
    seq          INTEGER NOT NULL,
    leaf_hash    TEXT    NOT NULL,
    occurred_at  INTEGER NOT NULL,
    recorded_at  INTEGER NOT NULL,
    tenant_id    TEXT,
    action       TEXT    NOT NULL,
    category     TEXT    NOT NULL,
    severity     TEXT    NOT NULL,
    outcome      TEXT    NOT NULL,
    reason       TEXT,
    actor_kind   TEXT    NOT NULL,
    actor_id     TEXT    NOT NULL,
    actor_email  TEXT,
    actor_name   TEXT,
    target_type  TEXT,
    target_id    TEXT,
    target_name  TEXT,
    description  TEXT,
    client_ip    TEXT,
    request_id   TEXT,
    truncated    INTEGER NOT NULL,
    lossy_utf8   INTEGER NOT NULL,
    actor        TEXT    NOT NULL,
    target       TEXT,
    targets      TEXT    NOT NULL,
    context      TEXT    NOT NULL,
    changes      TEXT,
    metadata     TEXT    NOT NULL,
    -- Lowercased description, actor and target names and ids, for free-text
    -- search; derived from the event (verify checks it agrees).
    search_text  TEXT    NOT NULL,
    UNIQUE (stream, seq)
) STRICT;

-- One row per stream: the last seq written. Locked (by SQLite's single
-- writer) while a batch is assigned its seqs, so seqs are gapless. base_seq
-- and base_hash are the seq and leaf hash of the last event retention purge
-- removed (0 and '' before any purge): the stream now starts after them.
CREATE TABLE audit_streams (
    stream     TEXT    NOT NULL PRIMARY KEY,
    head_seq   INTEGER NOT NULL,
    head_hash  TEXT    NOT NULL,
    base_seq   INTEGER NOT NULL DEFAULT 0,
    base_hash  TEXT    NOT NULL DEFAULT ''
) STRICT;

-- Retention purge opens this gate inside its own transaction; nothing else does.
CREATE TABLE audit_purge_gate (
    id    INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    open  INTEGER NOT NULL
) STRICT;
INSERT INTO audit_purge_gate (id, open) VALUES (1, 0);

CREATE TRIGGER audit_events_reject_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE is not allowed');
END;

CREATE TRIGGER audit_events_reject_delete BEFORE DELETE ON audit_events
WHEN (SELECT open FROM audit_purge_gate WHERE id = 1) = 0
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: DELETE is only allowed through retention purge');
END;

CREATE INDEX audit_events_tenant_time ON audit_events (tenant_id, occurred_at DESC, id DESC);
CREATE INDEX audit_events_tenant_action_time ON audit_events (tenant_id, action, occurred_at DESC, id DESC);
CREATE INDEX audit_events_tenant_actor_time ON audit_events (tenant_id, actor_id, occurred_at DESC, id DESC);
CREATE INDEX audit_events_tenant_target_time ON audit_events (tenant_id, target_type, target_id, occurred_at DESC, id DESC);
CREATE INDEX audit_events_request ON audit_events (request_id);
