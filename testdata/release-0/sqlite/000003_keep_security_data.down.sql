-- 000003 (SQLite) down: keep a copy of the security data before 000002's down drops the columns.
-- SQLite cannot compute a table name in SQL (no dynamic SQL), so instead of
-- sessions_security_retired_<UTC yyyymmddhhmmss> the copy goes to ONE table, sessions_security_retired,
-- and the timestamp becomes its retired_at column: every rollback appends, none overwrites.
-- The table is created even when no row carries security data (SQLite has no conditional DDL);
-- sqlite.DropEmptyRetired removes empty *_retired tables.
CREATE TABLE IF NOT EXISTS sessions_security_retired (
    session_id        TEXT NOT NULL,
    security_hash     TEXT,
    encryption_key_id TEXT,
    created_ip_hash   TEXT,
    security_version  INTEGER,
    last_validated_at TEXT,
    risk_score        INTEGER,
    retired_at        TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO sessions_security_retired
    (session_id, security_hash, encryption_key_id, created_ip_hash, security_version, last_validated_at,
     risk_score, retired_at)
SELECT session_id, security_hash, encryption_key_id, created_ip_hash, security_version, last_validated_at,
       risk_score, CURRENT_TIMESTAMP
FROM sessions
WHERE security_hash IS NOT NULL OR encryption_key_id IS NOT NULL OR created_ip_hash IS NOT NULL
   OR last_validated_at IS NOT NULL OR risk_score <> 0 OR security_version <> 1;
