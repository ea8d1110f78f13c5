-- All seven indexes in ONE online ALTER (one table scan, concurrent DML allowed). MySQL has no partial indexes.
-- Atomic: a re-run fails with 1061 (duplicate key name), which the library reads as "already applied".
ALTER TABLE sessions
    ADD INDEX idx_sessions_security_hash (security_hash),
    ADD INDEX idx_sessions_encryption_key (encryption_key_id),
    ADD INDEX idx_sessions_ip_hash (created_ip_hash),
    ADD INDEX idx_sessions_security_version (security_version),
    ADD INDEX idx_sessions_last_validated (last_validated_at),
    ADD INDEX idx_sessions_risk_score (risk_score),
    ADD INDEX idx_sessions_security_composite (security_version, risk_score, last_validated_at),
    ALGORITHM=INPLACE, LOCK=NONE
