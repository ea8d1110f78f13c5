-- Index idx_sessions_security_composite, built online (CONCURRENTLY: no write lock; must be alone in its file).
-- Partial: only rows where the indexed value is meaningful.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_sessions_security_composite ON sessions (security_version, risk_score, last_validated_at) WHERE security_hash IS NOT NULL;
