-- Rollback helper (created early, dropped last): downs never lose history. A non-empty session_audit_log /
-- sessions_archive is renamed to <name>_retired_<UTC yyyymmddhhmmss>, an empty one dropped; 'sessions' copies
-- session_id + the six security columns to sessions_security_retired_<ts> when any row carries security data.
CREATE PROCEDURE IF NOT EXISTS sessionsec_retire_table(IN p_table VARCHAR(64))
    MODIFIES SQL DATA
    SQL SECURITY INVOKER
    COMMENT 'sessionsec: keeps history tables and security data on rollback'
BEGIN
    DECLARE v_ts CHAR(14);
    DECLARE v_target VARCHAR(64);
    DECLARE v_cols INT DEFAULT 0;
    IF p_table NOT IN ('sessions', 'session_audit_log', 'sessions_archive') THEN
        SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'sessionsec_retire_table: unsupported table';
    END IF;
    SELECT COUNT(*) INTO v_cols FROM information_schema.TABLES
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = p_table;
    IF v_cols = 1 AND p_table = 'sessions' THEN
        SELECT COUNT(*) INTO v_cols FROM information_schema.COLUMNS
            WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sessions'
              AND COLUMN_NAME IN ('security_hash', 'encryption_key_id', 'created_ip_hash',
                                  'security_version', 'last_validated_at', 'risk_score');
        IF v_cols = 6 THEN
            -- Dynamic, so that the column names are resolved only when the columns exist.
            SET @sessionsec_retire_sql = 'SELECT EXISTS (SELECT 1 FROM sessions WHERE security_hash IS NOT NULL
                OR encryption_key_id IS NOT NULL OR created_ip_hash IS NOT NULL OR last_validated_at IS NOT NULL
                OR security_version <> 1 OR risk_score <> 0) INTO @sessionsec_retire_rows';
            PREPARE sessionsec_retire_stmt FROM @sessionsec_retire_sql;
            EXECUTE sessionsec_retire_stmt;
            DEALLOCATE PREPARE sessionsec_retire_stmt;
        END IF;
        IF v_cols = 6 AND @sessionsec_retire_rows THEN
            SET v_ts = DATE_FORMAT(UTC_TIMESTAMP(), '%Y%m%d%H%i%s');
            WHILE EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()
                          AND TABLE_NAME = CONCAT('sessions_security_retired_', v_ts)) DO
                DO SLEEP(1);
                SET v_ts = DATE_FORMAT(UTC_TIMESTAMP(), '%Y%m%d%H%i%s');
            END WHILE;
            SET @sessionsec_retire_sql = CONCAT('CREATE TABLE `sessions_security_retired_', v_ts,
                '` (PRIMARY KEY (session_id)) ENGINE=InnoDB AS SELECT session_id, security_hash, encryption_key_id,',
                ' created_ip_hash, security_version, last_validated_at, risk_score FROM sessions');
            PREPARE sessionsec_retire_stmt FROM @sessionsec_retire_sql;
            EXECUTE sessionsec_retire_stmt;
            DEALLOCATE PREPARE sessionsec_retire_stmt;
        END IF;
    ELSEIF v_cols = 1 THEN
        SET @sessionsec_retire_sql = CONCAT('SELECT EXISTS (SELECT 1 FROM `', p_table, '`) INTO @sessionsec_retire_rows');
        PREPARE sessionsec_retire_stmt FROM @sessionsec_retire_sql;
        EXECUTE sessionsec_retire_stmt;
        DEALLOCATE PREPARE sessionsec_retire_stmt;
        IF @sessionsec_retire_rows THEN
            SET v_ts = DATE_FORMAT(UTC_TIMESTAMP(), '%Y%m%d%H%i%s');
            WHILE EXISTS (SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()
                          AND TABLE_NAME = CONCAT(p_table, '_retired_', v_ts)) DO
                DO SLEEP(1);
                SET v_ts = DATE_FORMAT(UTC_TIMESTAMP(), '%Y%m%d%H%i%s');
            END WHILE;
            SET @sessionsec_retire_sql = CONCAT('RENAME TABLE `', p_table, '` TO `', p_table, '_retired_', v_ts, '`');
        ELSE
            SET @sessionsec_retire_sql = CONCAT('DROP TABLE `', p_table, '`');
        END IF;
        PREPARE sessionsec_retire_stmt FROM @sessionsec_retire_sql;
        EXECUTE sessionsec_retire_stmt;
        DEALLOCATE PREPARE sessionsec_retire_stmt;
    END IF;
    SET @sessionsec_retire_sql = NULL, @sessionsec_retire_rows = NULL;
END
