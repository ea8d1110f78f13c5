-- Maintenance: delete expired or risky sessions and always record one audit row with the count (0 too).
-- No COMMIT inside, so it also works inside a caller's transaction.
CREATE OR REPLACE PROCEDURE CleanupExpiredSecureSessions()
LANGUAGE plpgsql
AS $$
DECLARE
    v_deleted bigint;
BEGIN
    DELETE FROM sessions
    WHERE (expires_at IS NOT NULL AND expires_at < now())
       OR risk_score > 50;
    GET DIAGNOSTICS v_deleted = ROW_COUNT;
    INSERT INTO session_audit_log (action, details)
    VALUES ('SECURITY_CLEANUP', jsonb_build_object('deleted', v_deleted));
END
$$;
