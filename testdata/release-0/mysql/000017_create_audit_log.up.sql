-- Security audit log (written by the maintenance procedures), with its four indexes.
CREATE TABLE IF NOT EXISTS session_audit_log (
    id              BIGINT       NOT NULL AUTO_INCREMENT,
    session_id      VARCHAR(255) NULL,
    action          VARCHAR(64)  NOT NULL,
    details         JSON         NULL,
    ip_hash         CHAR(64) CHARACTER SET ascii NULL,
    user_agent_hash CHAR(64) CHARACTER SET ascii NULL,
    risk_score      SMALLINT     NULL,
    created_at      DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    INDEX idx_session_audit_session_id (session_id),
    INDEX idx_session_audit_action (action),
    INDEX idx_session_audit_created_at (created_at),
    INDEX idx_session_audit_risk_score (risk_score)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
