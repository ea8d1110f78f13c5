-- 000007 (SQLite): the security audit log and its four indexes. id is the rowid (INTEGER PRIMARY KEY);
-- details holds JSON text.
CREATE TABLE IF NOT EXISTS session_audit_log (
    id              INTEGER PRIMARY KEY,
    session_id      TEXT,
    action          TEXT NOT NULL,
    details         TEXT,
    ip_hash         TEXT,
    user_agent_hash TEXT,
    risk_score      INTEGER,
    created_at      TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS idx_session_audit_session_id ON session_audit_log (session_id);
CREATE INDEX IF NOT EXISTS idx_session_audit_action ON session_audit_log (action);
CREATE INDEX IF NOT EXISTS idx_session_audit_created_at ON session_audit_log (created_at);
CREATE INDEX IF NOT EXISTS idx_session_audit_risk_score ON session_audit_log (risk_score);
