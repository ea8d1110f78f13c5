-- 000004 (SQLite) down: drop both triggers (before 000002's down drops the columns they use).
DROP TRIGGER IF EXISTS sessions_validation_timestamp_trigger;
DROP TRIGGER IF EXISTS sessions_security_hash_trigger;
