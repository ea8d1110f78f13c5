-- Drop idx_sessions_security_hash without blocking writes (alone in its file).
DROP INDEX CONCURRENTLY IF EXISTS idx_sessions_security_hash;
