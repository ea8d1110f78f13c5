-- Backfill of pre-existing rows: keyset batches over the primary key (ORDER BY, never a bare LIMIT), each UPDATE its
-- own autocommit statement, idempotent and resumable (security_hash IS NULL). The batch bounds are user variables
-- read from session_id itself, so they carry the column's own collation (a latin1/other-collation key still uses
-- the primary key range; a DECLAREd utf8mb4 variable would force a conversion and a scan per batch).
CREATE PROCEDURE IF NOT EXISTS BackfillSessionSecurity(IN p_batch INT)
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
    COMMENT 'sessionsec: fills security columns of pre-existing sessions in primary-key batches'
BEGIN
    IF p_batch IS NULL OR p_batch < 1 THEN
        SET p_batch = 5000;
    END IF;
    SET @sessionsec_bf_lo = NULL, @sessionsec_bf_hi = NULL;
    SELECT MIN(session_id) INTO @sessionsec_bf_lo FROM sessions;
    IF @sessionsec_bf_lo IS NOT NULL THEN
        -- First batch includes the smallest key (>=); later batches start after the previous upper bound (>).
        SELECT MAX(session_id) INTO @sessionsec_bf_hi FROM (
            SELECT session_id FROM sessions WHERE session_id >= @sessionsec_bf_lo
            ORDER BY session_id LIMIT p_batch) AS b;
        UPDATE sessions
           SET security_hash = session_security_hash(session_id, user_id,
                   FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created_at) / 1000000)),
               encryption_key_id = COALESCE(encryption_key_id, 'migration-default-key'),
               last_validated_at = COALESCE(last_validated_at, CURRENT_TIMESTAMP(6))
         WHERE session_id >= @sessionsec_bf_lo AND session_id <= @sessionsec_bf_hi AND security_hash IS NULL;
        SET @sessionsec_bf_lo = @sessionsec_bf_hi;
        WHILE @sessionsec_bf_lo IS NOT NULL DO
            SET @sessionsec_bf_hi = NULL;
            SELECT MAX(session_id) INTO @sessionsec_bf_hi FROM (
                SELECT session_id FROM sessions WHERE session_id > @sessionsec_bf_lo
                ORDER BY session_id LIMIT p_batch) AS b;
            IF @sessionsec_bf_hi IS NOT NULL THEN
                UPDATE sessions
                   SET security_hash = session_security_hash(session_id, user_id,
                           FLOOR(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', created_at) / 1000000)),
                       encryption_key_id = COALESCE(encryption_key_id, 'migration-default-key'),
                       last_validated_at = COALESCE(last_validated_at, CURRENT_TIMESTAMP(6))
                 WHERE session_id > @sessionsec_bf_lo AND session_id <= @sessionsec_bf_hi
                   AND security_hash IS NULL;
            END IF;
            SET @sessionsec_bf_lo = @sessionsec_bf_hi;
        END WHILE;
    END IF;
    SET @sessionsec_bf_lo = NULL, @sessionsec_bf_hi = NULL;
END
