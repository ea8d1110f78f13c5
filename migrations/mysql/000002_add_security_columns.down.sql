-- Remove the security columns (step 4's down already copied any security data to sessions_security_retired_<ts>).
ALTER TABLE sessions
    DROP COLUMN security_hash,
    DROP COLUMN encryption_key_id,
    DROP COLUMN created_ip_hash,
    DROP COLUMN security_version,
    DROP COLUMN last_validated_at,
    DROP COLUMN risk_score,
    ALGORITHM=INSTANT
