-- 000004 (SQLite): the two triggers. SQLite triggers cannot assign NEW, so both are AFTER triggers that
-- UPDATE the row by rowid. Neither UPDATE touches last_accessed_at, so neither can fire
-- sessions_validation_timestamp_trigger (AFTER UPDATE OF last_accessed_at), whatever recursive_triggers is.
-- The risk range is enforced by the column CHECK sessions_risk_score_range (000002), not here.
--
-- session_security_hash(session_id, user_id, created_epoch) is NOT built into SQLite: it is a Go function
-- that package github.com/agui-go/sessionsec/sqlite registers for every modernc.org/sqlite connection.
-- These migrations therefore run through that library (or any program importing the package), not
-- through the stock golang-migrate CLI binary, where the trigger would fail with "no such function".
--
-- Insert: keeps an application-supplied security_hash / last_validated_at and fills only the NULL ones.
-- created_epoch = whole seconds since 1970-01-01 UTC of created_at (ISO-8601 UTC text); NULL or
-- unparsable -> NULL -> '-' in the hash input.
CREATE TRIGGER IF NOT EXISTS sessions_security_hash_trigger
AFTER INSERT ON sessions
FOR EACH ROW
WHEN NEW.security_hash IS NULL OR NEW.last_validated_at IS NULL
BEGIN
    UPDATE sessions SET
        security_hash = COALESCE(security_hash,
            session_security_hash(session_id, user_id, CAST(strftime('%s', created_at) AS INTEGER))),
        last_validated_at = COALESCE(last_validated_at, CURRENT_TIMESTAMP)
    WHERE rowid = NEW.rowid;
END;

-- Update: a NULL-safe change of last_accessed_at (IS NOT) refreshes last_validated_at.
CREATE TRIGGER IF NOT EXISTS sessions_validation_timestamp_trigger
AFTER UPDATE OF last_accessed_at ON sessions
FOR EACH ROW
WHEN NEW.last_accessed_at IS NOT OLD.last_accessed_at
BEGIN
    UPDATE sessions SET last_validated_at = CURRENT_TIMESTAMP
    WHERE rowid = NEW.rowid;
END;
