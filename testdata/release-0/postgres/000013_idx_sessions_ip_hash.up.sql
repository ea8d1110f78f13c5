-- Index idx_sessions_ip_hash, built online (CONCURRENTLY: no write lock; must be alone in its file).
-- Partial: only rows where the indexed value is meaningful.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_sessions_ip_hash ON sessions (created_ip_hash) WHERE created_ip_hash IS NOT NULL;
