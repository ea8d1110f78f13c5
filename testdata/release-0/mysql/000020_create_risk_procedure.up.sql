-- Recomputes risk_score = LEAST(100, 40*[no hash] + 30*[expired] + 20*[no ip hash] + 10*[not validated in 7 days])
-- in primary-key batches, writing only rows whose score changes, then one RISK_SCORE_UPDATE audit row {"updated": N}.
CREATE PROCEDURE IF NOT EXISTS UpdateSessionRiskScores()
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
    COMMENT 'sessionsec: recomputes sessions.risk_score and audits the count'
BEGIN
    DECLARE v_now DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6);
    DECLARE v_week_ago DATETIME(6) DEFAULT CURRENT_TIMESTAMP(6) - INTERVAL 7 DAY;
    DECLARE v_updated BIGINT DEFAULT 0;
    SET @sessionsec_rs_lo = NULL, @sessionsec_rs_hi = NULL;
    SELECT MIN(session_id) INTO @sessionsec_rs_lo FROM sessions;
    IF @sessionsec_rs_lo IS NOT NULL THEN
        SELECT MAX(session_id) INTO @sessionsec_rs_hi FROM (
            SELECT session_id FROM sessions WHERE session_id >= @sessionsec_rs_lo
            ORDER BY session_id LIMIT 5000) AS b;
        UPDATE sessions
           SET risk_score = LEAST(100, 40 * (security_hash IS NULL) + 30 * COALESCE(expires_at <= v_now, 0)
                 + 20 * (created_ip_hash IS NULL) + 10 * COALESCE(last_validated_at < v_week_ago, 1))
         WHERE session_id >= @sessionsec_rs_lo AND session_id <= @sessionsec_rs_hi
           AND risk_score <> LEAST(100, 40 * (security_hash IS NULL) + 30 * COALESCE(expires_at <= v_now, 0)
                 + 20 * (created_ip_hash IS NULL) + 10 * COALESCE(last_validated_at < v_week_ago, 1));
        SET v_updated = v_updated + ROW_COUNT();
        SET @sessionsec_rs_lo = @sessionsec_rs_hi;
        WHILE @sessionsec_rs_lo IS NOT NULL DO
            SET @sessionsec_rs_hi = NULL;
            SELECT MAX(session_id) INTO @sessionsec_rs_hi FROM (
                SELECT session_id FROM sessions WHERE session_id > @sessionsec_rs_lo
                ORDER BY session_id LIMIT 5000) AS b;
            IF @sessionsec_rs_hi IS NOT NULL THEN
                UPDATE sessions
                   SET risk_score = LEAST(100, 40 * (security_hash IS NULL) + 30 * COALESCE(expires_at <= v_now, 0)
                         + 20 * (created_ip_hash IS NULL) + 10 * COALESCE(last_validated_at < v_week_ago, 1))
                 WHERE session_id > @sessionsec_rs_lo AND session_id <= @sessionsec_rs_hi
                   AND risk_score <> LEAST(100, 40 * (security_hash IS NULL) + 30 * COALESCE(expires_at <= v_now, 0)
                         + 20 * (created_ip_hash IS NULL) + 10 * COALESCE(last_validated_at < v_week_ago, 1));
                SET v_updated = v_updated + ROW_COUNT();
            END IF;
            SET @sessionsec_rs_lo = @sessionsec_rs_hi;
        END WHILE;
    END IF;
    SET @sessionsec_rs_lo = NULL, @sessionsec_rs_hi = NULL;
    INSERT INTO session_audit_log (action, details) VALUES ('RISK_SCORE_UPDATE', JSON_OBJECT('updated', v_updated + 0));
END
