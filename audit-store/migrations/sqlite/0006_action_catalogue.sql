-- The actions applications declare in their audit.toml, published by
-- Store::publish_catalogue when they start: what the admin API, the web
-- page and `audit catalogue` list, with the actions no event has yet.
--
-- Not append-only: a catalogue describes actions, it records nothing. A
-- publish replaces an action's entry; actions no longer declared stay,
-- because events of them may remain.
CREATE TABLE audit_action_catalogue (
    action       TEXT    PRIMARY KEY,
    category     TEXT    NOT NULL,
    severity     TEXT,
    description  TEXT    NOT NULL,
    -- JSON: {"key": "string" | "integer" | "number" | "boolean" | "object" | "array"}
    metadata     TEXT    NOT NULL DEFAULT '{}',
    -- Unix microseconds of the publish that wrote this entry.
    published_at INTEGER NOT NULL
) WITHOUT ROWID;
