-- 000001 (SQLite): create the base sessions table when the application has none yet.
-- An existing sessions table is left untouched (Preflight checks that it has the base columns).
-- Timestamps are ISO-8601 TEXT in UTC ('YYYY-MM-DD HH:MM:SS', CURRENT_TIMESTAMP).
CREATE TABLE IF NOT EXISTS sessions (
    session_id       TEXT NOT NULL PRIMARY KEY,
    user_id          TEXT,
    created_at       TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
    expires_at       TEXT,
    last_accessed_at TEXT
);
