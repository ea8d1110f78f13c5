-- Index idx_sessions_last_validated, built online (CONCURRENTLY: no write lock; must be alone in its file).
-- Partial: only rows where the indexed value is meaningful.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_sessions_last_validated ON sessions (last_validated_at) WHERE last_validated_at IS NOT NULL;
