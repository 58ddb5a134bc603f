-- Stream sinks (webhooks, SIEMs, archives) read the store by seq. What each
-- has delivered is kept here, so a restart resumes where it stopped and a
-- sink that was down catches up from the store.
--
-- Not append-only: a sink's position moves forward as it delivers. The
-- empty stream '' marks a sink the store has seen (see
-- Store::seek_stream_sink), so a sink told to start at the heads is not
-- moved again on its next start.
CREATE TABLE audit_stream_cursors (
    sink          TEXT    NOT NULL,
    stream        TEXT    NOT NULL,
    delivered_seq INTEGER NOT NULL CHECK (delivered_seq >= 0),
    PRIMARY KEY (sink, stream)
) WITHOUT ROWID;

-- Webhook destinations kept in the store: the platform's (tenant_id NULL:
-- every stream) or one tenant's (only that tenant's stream). The secret
-- signs each delivery; it is never read back by the admin API or the CLI.
CREATE TABLE audit_stream_destinations (
    name      TEXT PRIMARY KEY,
    tenant_id TEXT,
    url       TEXT NOT NULL,
    format    TEXT NOT NULL,
    body      TEXT NOT NULL,
    secret    TEXT NOT NULL,
    -- Headers sent with every delivery, a JSON array of [name, value]
    -- pairs (an `Authorization` a SIEM's collector wants): credentials as
    -- much as the secret.
    headers   TEXT NOT NULL DEFAULT '[]'
);
