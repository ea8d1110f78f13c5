-- 000002 (SQLite): the six security columns of sessions.
-- SQLite has no ADD COLUMN IF NOT EXISTS. golang-migrate's sqlite driver runs the file in one
-- transaction, so the six columns are added all together or not at all; a re-run after a crash that
-- fails with "duplicate column name" proves the step had been applied (Dialect.IsAlreadyApplied).
-- SQLite has no column comments; the comments below are the documentation.
--
-- security_hash: SHA-256 integrity hash over the canonical session fields (sessionsec/v1)
ALTER TABLE sessions ADD COLUMN security_hash TEXT;
-- encryption_key_id: identifier of the external encryption key protecting this session
ALTER TABLE sessions ADD COLUMN encryption_key_id TEXT;
-- created_ip_hash: SHA-256 of the client IP that created the session (privacy-preserving binding)
ALTER TABLE sessions ADD COLUMN created_ip_hash TEXT;
-- security_version: version of the session security implementation. ON CONFLICT REPLACE makes an
-- explicit NULL take the default 1 (SQLite's equivalent of the "security_version := 1 when NULL" that
-- the BEFORE INSERT trigger does on MySQL/PostgreSQL; an AFTER trigger would come too late for NOT NULL).
ALTER TABLE sessions ADD COLUMN security_version INTEGER NOT NULL ON CONFLICT REPLACE DEFAULT 1;
-- last_validated_at: when the session was last validated (ISO-8601 UTC text)
ALTER TABLE sessions ADD COLUMN last_validated_at TEXT;
-- risk_score: session risk score, 0 (none) to 100 (highest), enforced on every write by the column CHECK
-- (SQLite checks it against the existing rows when the column is added).
ALTER TABLE sessions ADD COLUMN risk_score INTEGER NOT NULL DEFAULT 0
    CONSTRAINT sessions_risk_score_range CHECK (risk_score BETWEEN 0 AND 100);
