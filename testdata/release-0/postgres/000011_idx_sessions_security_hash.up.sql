-- Index idx_sessions_security_hash, built online (CONCURRENTLY: no write lock; must be alone in its file).
-- Partial: only rows where the indexed value is meaningful.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_sessions_security_hash ON sessions (security_hash) WHERE security_hash IS NOT NULL;
