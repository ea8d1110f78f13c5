-- Remove the security columns (step 4's down already copied any security data to sessions_security_retired_<ts>).
-- An online rebuild (FORCE; concurrent DML allowed), not an instant drop: instant add/drop cycles accumulate in
-- the table's metadata until MySQL refuses (64 row versions) or MariaDB reports the row too large (seen after 19
-- rollback/re-apply cycles). Rebuilding on rollback resets that, so the forward step can stay instant forever.
-- (MariaDB would treat a bare ALGORITHM=INPLACE as "instant allowed"; FORCE makes the rebuild explicit.)
ALTER TABLE sessions
    DROP COLUMN security_hash,
    DROP COLUMN encryption_key_id,
    DROP COLUMN created_ip_hash,
    DROP COLUMN security_version,
    DROP COLUMN last_validated_at,
    DROP COLUMN risk_score,
    FORCE, ALGORITHM=INPLACE, LOCK=NONE
