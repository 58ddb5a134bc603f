-- Audit events: append-only, one row per event, integrity-chained per stream.
-- Same logical schema as the SQLite store; JSON columns hold the nested parts
-- of the event as the event model serialises them.
CREATE TABLE audit_events (
    id           uuid        NOT NULL PRIMARY KEY,
    stream       text        NOT NULL,
    seq          bigint      NOT NULL,
    leaf_hash    text        NOT NULL,
    occurred_at  timestamptz NOT NULL,
    recorded_at  timestamptz NOT NULL,
    tenant_id    text,
    -- Byte order whatever the database's locale: `prefix.*` filters are
    -- index range scans, and action lists sort the same on every server.
    action       text        COLLATE "C" NOT NULL,
    category     text        NOT NULL,
    severity     text        NOT NULL,
    outcome      text        NOT NULL,
    reason       text,
    actor_kind   text        NOT NULL,
    actor_id     text        NOT NULL,
    actor_email  text,
    actor_name   text,
    target_type  text,
    target_id    text,
    target_name  text,
    description  text,
    client_ip    text,
    request_id   text,
    truncated    boolean     NOT NULL,
    lossy_utf8   boolean     NOT NULL,
    actor        jsonb       NOT NULL,
    target       jsonb,
    targets      jsonb       NOT NULL,
    context      jsonb       NOT NULL,
    changes      jsonb,
    metadata     jsonb       NOT NULL,
    -- Lowercased description, actor and target names and ids, for free-text
    -- search; derived from the event (verify checks it agrees).
    search_text  text        NOT NULL,
    UNIQUE (stream, seq)
);

-- One row per stream: the last seq written, locked (SELECT … FOR UPDATE)
-- while a batch is assigned its seqs, so seqs are gapless. Never a bare
-- sequence: a rolled-back transaction would leave a gap that looks like a
-- deletion. base_seq and base_hash are the seq and leaf hash of the last
-- event retention purge removed (0 and '' before any purge).
CREATE TABLE audit_streams (
    stream     text   NOT NULL PRIMARY KEY,
    head_seq   bigint NOT NULL,
    head_hash  text   NOT NULL,
    base_seq   bigint NOT NULL DEFAULT 0,
    base_hash  text   NOT NULL DEFAULT ''
);

-- Retention purge runs `SET LOCAL audit.purge = 'on'` in its own
-- transaction; nothing else may remove or change a row.
CREATE FUNCTION audit_events_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF current_setting('audit.purge', true) = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'audit_events is append-only: DELETE is only allowed through retention purge';
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP;
END;
$$;

CREATE TRIGGER audit_events_reject_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_reject_change();
CREATE TRIGGER audit_events_reject_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_reject_change();

CREATE INDEX audit_events_tenant_time ON audit_events (tenant_id, occurred_at DESC, id DESC);
CREATE INDEX audit_events_tenant_action_time ON audit_events (tenant_id, action, occurred_at DESC, id DESC);
CREATE INDEX audit_events_tenant_actor_time ON audit_events (tenant_id, actor_id, occurred_at DESC, id DESC);
CREATE INDEX audit_events_tenant_target_time ON audit_events (tenant_id, target_type, target_id, occurred_at DESC, id DESC);
CREATE INDEX audit_events_request ON audit_events (request_id);
