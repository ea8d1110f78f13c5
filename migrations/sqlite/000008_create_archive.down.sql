-- 000008 (SQLite) down: never lose archived sessions. Every row is appended to ONE table,
-- sessions_archive_retired (same columns + retired_at; no dynamic SQL for a timestamped name), then
-- sessions_archive is dropped. sqlite.DropEmptyRetired removes the retired table when it stayed empty.
CREATE TABLE IF NOT EXISTS sessions_archive_retired (
    session_id        TEXT,
    user_id           TEXT,
    created_at        TEXT,
    expires_at        TEXT,
    last_accessed_at  TEXT,
    security_hash     TEXT,
    encryption_key_id TEXT,
    created_ip_hash   TEXT,
    security_version  INTEGER,
    last_validated_at TEXT,
    risk_score        INTEGER,
    retired_at        TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO sessions_archive_retired
    (session_id, user_id, created_at, expires_at, last_accessed_at, security_hash, encryption_key_id,
     created_ip_hash, security_version, last_validated_at, risk_score, retired_at)
SELECT session_id, user_id, created_at, expires_at, last_accessed_at, security_hash, encryption_key_id,
       created_ip_hash, security_version, last_validated_at, risk_score, CURRENT_TIMESTAMP
FROM sessions_archive;
DROP TABLE sessions_archive;
