-- The canonical hash (docs/design.md, schema.SecurityHash): one formula for the trigger, the backfill and verifiers.
-- Parameters are utf8mb4 so a latin1 (or other) column is hashed as its UTF-8 bytes; no MD5/SHA1 (gone in MySQL 9).
CREATE FUNCTION IF NOT EXISTS session_security_hash(
    p_session_id TEXT CHARACTER SET utf8mb4,
    p_user_id TEXT CHARACTER SET utf8mb4,
    p_created_epoch BIGINT
) RETURNS CHAR(64) CHARACTER SET ascii
    DETERMINISTIC
    NO SQL
    SQL SECURITY INVOKER
    COMMENT 'sessionsec: canonical security hash, sessionsec/v1'
RETURN SHA2(CONVERT(CONCAT(
    'sessionsec/v1|',
    IF(p_session_id IS NULL, '-', CONCAT(LENGTH(CONVERT(p_session_id USING utf8mb4)), ':', CONVERT(p_session_id USING utf8mb4))),
    '|',
    IF(p_user_id IS NULL, '-', CONCAT(LENGTH(CONVERT(p_user_id USING utf8mb4)), ':', CONVERT(p_user_id USING utf8mb4))),
    '|',
    IF(p_created_epoch IS NULL, '-', CAST(p_created_epoch AS CHAR))
) USING utf8mb4), 256)
