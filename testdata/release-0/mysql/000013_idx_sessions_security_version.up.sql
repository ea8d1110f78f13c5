-- One index per online ALTER (concurrent DML allowed, no table copy). Built after the backfill so the backfill
-- does not maintain it. Not all seven in one ALTER: that saves table scans, but on MySQL 9.7 its commit phase,
-- which holds an exclusive metadata lock, stalled writers for about 0.5 s at 1M rows (BENCHMARKS.md); one
-- index at a time keeps each commit short. MySQL has no partial indexes. A re-run fails with 1061 (duplicate
-- key name), which the library reads as "already applied".
ALTER TABLE sessions ADD INDEX idx_sessions_security_version (security_version), ALGORITHM=INPLACE, LOCK=NONE
