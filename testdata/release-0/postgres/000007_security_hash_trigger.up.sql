-- Fill the security fields of every NEW row, so that rows written during and after the migration never
-- need the backfill. Installed before the backfill (step 10). Keeps an application-supplied hash.
CREATE OR REPLACE FUNCTION sessions_security_hash_trigger_fn()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF NEW.security_version IS NULL THEN
        NEW.security_version := 1;
    END IF;
    IF NEW.last_validated_at IS NULL THEN
        NEW.last_validated_at := now();
    END IF;
    IF NEW.security_hash IS NULL THEN
        NEW.security_hash := session_security_hash(NEW.session_id, NEW.user_id,
                                                   floor(extract(epoch FROM NEW.created_at))::bigint);
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS sessions_security_hash_trigger ON sessions;
CREATE TRIGGER sessions_security_hash_trigger
    BEFORE INSERT ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_security_hash_trigger_fn();
