-- Refresh last_validated_at whenever last_accessed_at changes, NULL-safely (IS DISTINCT FROM; a plain
-- <> never fires when either side is NULL). The WHEN clause keeps other updates (the backfill) cheap.
CREATE OR REPLACE FUNCTION sessions_validation_timestamp_trigger_fn()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.last_accessed_at IS DISTINCT FROM OLD.last_accessed_at THEN
        NEW.last_validated_at := now();
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS sessions_validation_timestamp_trigger ON sessions;
CREATE TRIGGER sessions_validation_timestamp_trigger
    BEFORE UPDATE ON sessions
    FOR EACH ROW
    WHEN (NEW.last_accessed_at IS DISTINCT FROM OLD.last_accessed_at)
    EXECUTE FUNCTION sessions_validation_timestamp_trigger_fn();
