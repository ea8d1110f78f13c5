-- Drop idx_sessions_security_version without blocking writes (alone in its file).
DROP INDEX CONCURRENTLY IF EXISTS idx_sessions_security_version;
