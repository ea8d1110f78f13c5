-- Base sessions table, created only when the application has not created it already.
-- An existing table is left as it is (Preflight checks that it has the columns the triggers need).
CREATE TABLE IF NOT EXISTS sessions (
    session_id       varchar(255) PRIMARY KEY,
    user_id          varchar(255) NULL,
    created_at       timestamptz  NOT NULL DEFAULT now(),
    expires_at       timestamptz  NULL,
    last_accessed_at timestamptz  NULL
);
