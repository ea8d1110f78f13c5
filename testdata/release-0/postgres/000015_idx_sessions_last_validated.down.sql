-- Drop idx_sessions_last_validated without blocking writes (alone in its file).
DROP INDEX CONCURRENTLY IF EXISTS idx_sessions_last_validated;
