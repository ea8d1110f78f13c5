-- 000006 (SQLite): the seven indexes on sessions, partial where design.md says so. Built after the
-- backfill. IF NOT EXISTS: safe to re-run.
CREATE INDEX IF NOT EXISTS idx_sessions_security_hash ON sessions (security_hash)
    WHERE security_hash IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_sessions_encryption_key ON sessions (encryption_key_id)
    WHERE encryption_key_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_sessions_ip_hash ON sessions (created_ip_hash)
    WHERE created_ip_hash IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_sessions_security_version ON sessions (security_version);
CREATE INDEX IF NOT EXISTS idx_sessions_last_validated ON sessions (last_validated_at)
    WHERE last_validated_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS idx_sessions_risk_score ON sessions (risk_score)
    WHERE risk_score > 0;
CREATE INDEX IF NOT EXISTS idx_sessions_security_composite
    ON sessions (security_version, risk_score, last_validated_at)
    WHERE security_hash IS NOT NULL;
