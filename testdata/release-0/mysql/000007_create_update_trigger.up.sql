-- Updates: risk_score range check; a NULL-safe change of last_accessed_at refreshes last_validated_at.
CREATE TRIGGER IF NOT EXISTS sessions_validation_timestamp_trigger
BEFORE UPDATE ON sessions
FOR EACH ROW
BEGIN
    IF NEW.risk_score < 0 OR NEW.risk_score > 100 THEN
        SIGNAL SQLSTATE '45000'
            SET MESSAGE_TEXT = 'sessionsec: sessions.risk_score must be between 0 and 100';
    END IF;
    IF NOT (NEW.last_accessed_at <=> OLD.last_accessed_at) THEN
        SET NEW.last_validated_at = CURRENT_TIMESTAMP(6);
    END IF;
END
