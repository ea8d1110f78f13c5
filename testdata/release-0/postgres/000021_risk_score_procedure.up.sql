-- Maintenance: recompute risk_score with the rule of docs/design.md, writing only rows whose score
-- changes, and record one audit row with the count.
CREATE OR REPLACE PROCEDURE UpdateSessionRiskScores()
LANGUAGE plpgsql
AS $$
DECLARE
    v_updated bigint;
BEGIN
    UPDATE sessions AS s
    SET risk_score = c.score
    FROM (SELECT session_id,
                 LEAST(100,
                       CASE WHEN security_hash IS NULL THEN 40 ELSE 0 END
                     + CASE WHEN expires_at <= now() THEN 30 ELSE 0 END
                     + CASE WHEN created_ip_hash IS NULL THEN 20 ELSE 0 END
                     + CASE WHEN last_validated_at IS NULL
                              OR last_validated_at < now() - interval '7 days' THEN 10 ELSE 0 END) AS score
          FROM sessions) AS c
    WHERE s.session_id = c.session_id
      AND s.risk_score IS DISTINCT FROM c.score;
    GET DIAGNOSTICS v_updated = ROW_COUNT;
    INSERT INTO session_audit_log (action, details)
    VALUES ('RISK_SCORE_UPDATE', jsonb_build_object('updated', v_updated));
END
$$;
