-- The six security columns, metadata-only (ALGORITHM=INSTANT fails fast instead of copying a big table).
-- One atomic ALTER: a re-run fails with 1060 (duplicate column), which the library reads as "already applied".
ALTER TABLE sessions
    ADD COLUMN security_hash CHAR(64) CHARACTER SET ascii NULL
        COMMENT 'SHA-256 integrity hash over the canonical session fields (sessionsec/v1)',
    ADD COLUMN encryption_key_id VARCHAR(128) NULL
        COMMENT 'Identifier of the external encryption key protecting this session',
    ADD COLUMN created_ip_hash CHAR(64) CHARACTER SET ascii NULL
        COMMENT 'SHA-256 of the client IP that created the session (privacy-preserving binding)',
    ADD COLUMN security_version INT NOT NULL DEFAULT 1
        COMMENT 'Version of the session security implementation',
    ADD COLUMN last_validated_at DATETIME(6) NULL
        COMMENT 'When the session was last validated',
    ADD COLUMN risk_score SMALLINT NOT NULL DEFAULT 0
        COMMENT 'Session risk score, 0 (none) to 100 (highest)',
    ALGORITHM=INSTANT
