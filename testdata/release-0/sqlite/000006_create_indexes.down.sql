-- 000006 (SQLite) down: drop the seven indexes (SQLite cannot drop an indexed column).
DROP INDEX IF EXISTS idx_sessions_security_composite;
DROP INDEX IF EXISTS idx_sessions_risk_score;
DROP INDEX IF EXISTS idx_sessions_last_validated;
DROP INDEX IF EXISTS idx_sessions_security_version;
DROP INDEX IF EXISTS idx_sessions_ip_hash;
DROP INDEX IF EXISTS idx_sessions_encryption_key;
DROP INDEX IF EXISTS idx_sessions_security_hash;
