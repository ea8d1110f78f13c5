-- Index idx_sessions_risk_score, built online (CONCURRENTLY: no write lock; must be alone in its file).
-- Partial: only rows where the indexed value is meaningful.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_sessions_risk_score ON sessions (risk_score) WHERE risk_score > 0;
