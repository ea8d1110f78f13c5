-- Audit log written by the maintenance procedures (steps 20, 21). New and empty, so plain CREATE INDEX is
-- fine here.
CREATE TABLE IF NOT EXISTS session_audit_log (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id      varchar(255) NULL,
    action          varchar(64)  NOT NULL,
    details         jsonb        NULL,
    ip_hash         char(64)     NULL,
    user_agent_hash char(64)     NULL,
    risk_score      smallint     NULL,
    created_at      timestamptz  NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS idx_session_audit_session_id ON session_audit_log (session_id);
CREATE INDEX IF NOT EXISTS idx_session_audit_action ON session_audit_log (action);
CREATE INDEX IF NOT EXISTS idx_session_audit_created_at ON session_audit_log (created_at);
CREATE INDEX IF NOT EXISTS idx_session_audit_risk_score ON session_audit_log (risk_score);
