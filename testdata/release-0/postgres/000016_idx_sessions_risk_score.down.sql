-- Drop idx_sessions_risk_score without blocking writes (alone in its file).
DROP INDEX CONCURRENTLY IF EXISTS idx_sessions_risk_score;
