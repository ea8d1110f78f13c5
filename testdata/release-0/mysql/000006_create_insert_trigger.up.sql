-- New rows: risk_score range check, defaults, and the canonical hash (an application-supplied hash is kept).
-- Installed before the backfill so that rows written meanwhile never keep a NULL hash.
CREATE TRIGGER IF NOT EXISTS sessions_security_hash_trigger
BEFORE INSERT ON sessions
FOR EACH ROW
BEGIN
    IF NEW.risk_score < 0 OR NEW.risk_score > 100 THEN
        SIGNAL SQLSTATE '45000'
            SET MESSAGE_TEXT = 'sessionsec: sessions.risk_score must be between 0 and 100';
    END IF;
    IF NEW.security_version IS NULL THEN
        SET NEW.security_version = 1;
    END IF;
    IF NEW.last_validated_at IS NULL THEN
        SET NEW.last_validated_at = CURRENT_TIMESTAMP(6);
    END IF;
    IF NEW.security_hash IS NULL THEN
        SET NEW.security_hash = session_security_hash(NEW.session_id, NEW.user_id,
            FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', NEW.created_at) / 1000000));
    END IF;
END
