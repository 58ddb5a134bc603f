-- Personal data sealed per subject (crypto-shredding).
--
-- One key per subject (an actor or target id). Erasing a subject sets its
-- key to NULL and stamps erased_at; the row stays so the subject is never
-- given a new key (later events naming it are sealed under a key thrown
-- away at once). A key is never replaced and a row never deleted.
CREATE TABLE audit_subject_keys (
    subject    text   PRIMARY KEY,
    key        bytea,
    -- Unix microseconds.
    created_at bigint NOT NULL,
    erased_at  bigint,
    CHECK ((key IS NULL) = (erased_at IS NOT NULL))
);

CREATE FUNCTION audit_subject_keys_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit_subject_keys: rows are never deleted (an erased subject stays erased)';
    END IF;
    IF NEW.key IS NOT NULL OR OLD.key IS NULL OR NEW.subject IS DISTINCT FROM OLD.subject THEN
        RAISE EXCEPTION 'audit_subject_keys: a key can only be erased, never replaced or restored';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER audit_subject_keys_guard BEFORE UPDATE OR DELETE ON audit_subject_keys
FOR EACH ROW EXECUTE FUNCTION audit_subject_keys_guard();

-- Tenants whose subjects cannot be erased while the hold lasts. Placing
-- and releasing holds is recorded as events; this table is the current
-- state.
CREATE TABLE audit_legal_holds (
    tenant_id text   PRIMARY KEY,
    reason    text   NOT NULL,
    placed_by text   NOT NULL,
    -- Unix microseconds.
    placed_at bigint NOT NULL
);
