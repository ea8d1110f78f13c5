-- Index idx_sessions_encryption_key, built online (CONCURRENTLY: no write lock; must be alone in its file).
-- Partial: only rows where the indexed value is meaningful.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_sessions_encryption_key ON sessions (encryption_key_id) WHERE encryption_key_id IS NOT NULL;
