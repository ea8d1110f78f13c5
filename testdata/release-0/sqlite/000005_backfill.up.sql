-- 000005 (SQLite): backfill rows that existed before the insert trigger.
-- One plain UPDATE in this file's transaction instead of keyset batches: SQLite has one writer at a time
-- and no stored procedures, and the embedded use is small. Idempotent (security_hash IS NULL), so a re-run
-- is harmless. For a large table, run sqlite.Backfill (keyset batches on session_id, one transaction
-- each) BEFORE migrating: this step then finds nothing to do.
-- security_version / risk_score already hold their column defaults. The UPDATE does not touch
-- last_accessed_at, so sessions_validation_timestamp_trigger does not fire.
UPDATE sessions SET
    security_hash = session_security_hash(session_id, user_id, CAST(strftime('%s', created_at) AS INTEGER)),
    encryption_key_id = COALESCE(encryption_key_id, 'migration-default-key'),
    last_validated_at = COALESCE(last_validated_at, CURRENT_TIMESTAMP)
WHERE security_hash IS NULL;
