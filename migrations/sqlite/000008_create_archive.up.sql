-- 000008 (SQLite): sessions_archive with the columns of sessions, in order. SQLite has no
-- CREATE TABLE ... LIKE, so the base and security columns are listed (same types, nullability and
-- defaults; no primary key, so a session may be archived more than once). Columns an application added
-- to its own sessions table are NOT mirrored: archive with an explicit column list in that case.
CREATE TABLE IF NOT EXISTS sessions_archive (
    session_id        TEXT NOT NULL,
    user_id           TEXT,
    created_at        TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    expires_at        TEXT,
    last_accessed_at  TEXT,
    security_hash     TEXT,
    encryption_key_id TEXT,
    created_ip_hash   TEXT,
    security_version  INTEGER NOT NULL DEFAULT 1,
    last_validated_at TEXT,
    risk_score        INTEGER NOT NULL DEFAULT 0
);
