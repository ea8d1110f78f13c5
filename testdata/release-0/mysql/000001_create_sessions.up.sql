-- Base sessions table for fresh databases; an existing table (with its own columns, triggers, indexes) is kept as is.
CREATE TABLE IF NOT EXISTS sessions (
    session_id       VARCHAR(255) NOT NULL,
    user_id          VARCHAR(255) NULL,
    created_at       DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    expires_at       DATETIME(6)  NULL,
    last_accessed_at DATETIME(6)  NULL,
    PRIMARY KEY (session_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
