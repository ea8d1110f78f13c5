-- Index idx_sessions_security_version, built online (CONCURRENTLY: no write lock; must be alone in its file).
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_sessions_security_version ON sessions (security_version);
