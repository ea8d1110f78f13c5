-- Deletes expired (expires_at < now; NULL never expires) OR risky (risk_score > 50) sessions in primary-key batches,
-- each DELETE its own autocommit statement, then always writes one SECURITY_CLEANUP audit row {"deleted": N}.
CREATE PROCEDURE IF NOT EXISTS CleanupExpiredSecureSessions()
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
    COMMENT 'sessionsec: deletes expired or risky sessions and audits the count'
BEGIN
    DECLARE v_now DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6);
    DECLARE v_deleted BIGINT DEFAULT 0;
    SET @sessionsec_cl_lo = NULL, @sessionsec_cl_hi = NULL;
    SELECT MIN(session_id) INTO @sessionsec_cl_lo FROM sessions;
    IF @sessionsec_cl_lo IS NOT NULL THEN
        SELECT MAX(session_id) INTO @sessionsec_cl_hi FROM (
            SELECT session_id FROM sessions WHERE session_id >= @sessionsec_cl_lo
            ORDER BY session_id LIMIT 5000) AS b;
        DELETE FROM sessions
         WHERE session_id >= @sessionsec_cl_lo AND session_id <= @sessionsec_cl_hi
           AND ((expires_at IS NOT NULL AND expires_at < v_now) OR risk_score > 50);
        SET v_deleted = v_deleted + ROW_COUNT();
        SET @sessionsec_cl_lo = @sessionsec_cl_hi;
        WHILE @sessionsec_cl_lo IS NOT NULL DO
            SET @sessionsec_cl_hi = NULL;
            SELECT MAX(session_id) INTO @sessionsec_cl_hi FROM (
                SELECT session_id FROM sessions WHERE session_id > @sessionsec_cl_lo
                ORDER BY session_id LIMIT 5000) AS b;
            IF @sessionsec_cl_hi IS NOT NULL THEN
                DELETE FROM sessions
                 WHERE session_id > @sessionsec_cl_lo AND session_id <= @sessionsec_cl_hi
                   AND ((expires_at IS NOT NULL AND expires_at < v_now) OR risk_score > 50);
                SET v_deleted = v_deleted + ROW_COUNT();
            END IF;
            SET @sessionsec_cl_lo = @sessionsec_cl_hi;
        END WHILE;
    END IF;
    SET @sessionsec_cl_lo = NULL, @sessionsec_cl_hi = NULL;
    INSERT INTO session_audit_log (action, details) VALUES ('SECURITY_CLEANUP', JSON_OBJECT('deleted', v_deleted + 0));
END
