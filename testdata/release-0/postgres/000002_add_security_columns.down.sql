-- Remove the security columns and the risk check. Step 5's down has already copied any security data
-- into sessions_security_retired_<ts>. DROP COLUMN is metadata-only (no rewrite).
ALTER TABLE sessions
    DROP CONSTRAINT IF EXISTS sessions_risk_score_range,
    DROP COLUMN IF EXISTS risk_score,
    DROP COLUMN IF EXISTS last_validated_at,
    DROP COLUMN IF EXISTS security_version,
    DROP COLUMN IF EXISTS created_ip_hash,
    DROP COLUMN IF EXISTS encryption_key_id,
    DROP COLUMN IF EXISTS security_hash;
