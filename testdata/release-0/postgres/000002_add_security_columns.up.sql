-- Security columns on sessions. Constant defaults only (metadata-only since PG 11, no table rewrite);
-- the risk range check is added NOT VALID (no scan, enforced for new rows) and validated in step 3.
ALTER TABLE sessions
    ADD COLUMN IF NOT EXISTS security_hash     char(64)     NULL,
    ADD COLUMN IF NOT EXISTS encryption_key_id varchar(128) NULL,
    ADD COLUMN IF NOT EXISTS created_ip_hash   char(64)     NULL,
    ADD COLUMN IF NOT EXISTS security_version  integer      NOT NULL DEFAULT 1,
    ADD COLUMN IF NOT EXISTS last_validated_at timestamptz  NULL,
    ADD COLUMN IF NOT EXISTS risk_score        smallint     NOT NULL DEFAULT 0;

COMMENT ON COLUMN sessions.security_hash IS 'SHA-256 integrity hash over the canonical session fields (sessionsec/v1)';
COMMENT ON COLUMN sessions.encryption_key_id IS 'Identifier of the external encryption key protecting this session';
COMMENT ON COLUMN sessions.created_ip_hash IS 'SHA-256 of the client IP that created the session (privacy-preserving binding)';
COMMENT ON COLUMN sessions.security_version IS 'Version of the session security implementation';
COMMENT ON COLUMN sessions.last_validated_at IS 'When the session was last validated';
COMMENT ON COLUMN sessions.risk_score IS 'Session risk score, 0 (none) to 100 (highest)';

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = 'sessions'::regclass AND conname = 'sessions_risk_score_range') THEN
        ALTER TABLE sessions
            ADD CONSTRAINT sessions_risk_score_range CHECK (risk_score BETWEEN 0 AND 100) NOT VALID;
    END IF;
END
$$;
