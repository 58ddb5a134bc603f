-- Personal data sealed per subject (crypto-shredding).
--
-- One key per subject (an actor or target id). Erasing a subject sets its
-- key to NULL and stamps erased_at; the row stays so the subject is never
-- given a new key (later events naming it are sealed under a key thrown
-- away at once). A key is never replaced and a row never deleted.
CREATE TABLE audit_subject_keys (
    subject    TEXT    PRIMARY KEY,
    key        BLOB,
    -- Unix microseconds.
    created_at INTEGER NOT NULL,
    erased_at  INTEGER,
    CHECK ((key IS NULL) = (erased_at IS NOT NULL))
) WITHOUT ROWID;

CREATE TRIGGER audit_subject_keys_only_erased BEFORE UPDATE ON audit_subject_keys
WHEN NEW.key IS NOT NULL OR OLD.key IS NULL OR NEW.subject IS NOT OLD.subject
BEGIN
    SELECT RAISE(ABORT, 'audit_subject_keys: a key can only be erased, never replaced or restored');
END;

CREATE TRIGGER audit_subject_keys_kept BEFORE DELETE ON audit_subject_keys
BEGIN
    SELECT RAISE(ABORT, 'audit_subject_keys: rows are never deleted (an erased subject stays erased)');
END;

-- Tenants whose subjects cannot be erased while the hold lasts. Placing
-- and releasing holds is recorded as events; this table is the current
-- state.
CREATE TABLE audit_legal_holds (
    tenant_id TEXT    PRIMARY KEY,
    reason    TEXT    NOT NULL,
    placed_by TEXT    NOT NULL,
    -- Unix microseconds.
    placed_at INTEGER NOT NULL
) WITHOUT ROWID;
