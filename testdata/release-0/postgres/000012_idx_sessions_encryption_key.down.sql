-- Drop idx_sessions_encryption_key without blocking writes (alone in its file).
DROP INDEX CONCURRENTLY IF EXISTS idx_sessions_encryption_key;
