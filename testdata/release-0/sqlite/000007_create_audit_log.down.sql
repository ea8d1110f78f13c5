-- 000007 (SQLite) down: never lose the security history. SQLite has no dynamic SQL and no conditional
-- DDL, so instead of renaming to session_audit_log_retired_<ts> every row is appended to ONE table,
-- session_audit_log_retired (same columns + retired_at), then session_audit_log (and its indexes) is
-- dropped. The retired table is created even if the log was empty; sqlite.DropEmptyRetired removes it.
CREATE TABLE IF NOT EXISTS session_audit_log_retired (
    id              INTEGER,
    session_id      TEXT,
    action          TEXT,
    details         TEXT,
    ip_hash         TEXT,
    user_agent_hash TEXT,
    risk_score      INTEGER,
    created_at      TEXT,
    retired_at      TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO session_audit_log_retired
    (id, session_id, action, details, ip_hash, user_agent_hash, risk_score, created_at, retired_at)
SELECT id, session_id, action, details, ip_hash, user_agent_hash, risk_score, created_at, CURRENT_TIMESTAMP
FROM session_audit_log;
DROP TABLE session_audit_log;
