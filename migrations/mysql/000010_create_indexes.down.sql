-- Drop the seven indexes in one online ALTER, before the columns they cover.
ALTER TABLE sessions
    DROP INDEX idx_sessions_security_hash,
    DROP INDEX idx_sessions_encryption_key,
    DROP INDEX idx_sessions_ip_hash,
    DROP INDEX idx_sessions_security_version,
    DROP INDEX idx_sessions_last_validated,
    DROP INDEX idx_sessions_risk_score,
    DROP INDEX idx_sessions_security_composite,
    ALGORITHM=INPLACE, LOCK=NONE
