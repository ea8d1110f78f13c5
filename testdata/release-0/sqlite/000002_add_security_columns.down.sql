-- 000002 (SQLite) down: drop the six security columns (SQLite >= 3.35). The indexes and triggers that use
-- them were dropped by later steps' downs, and 000003's down copied any security data into
-- sessions_security_retired first. Session rows are kept; the table's CREATE text returns to its
-- pre-migration form. One transaction: all six or none.
ALTER TABLE sessions DROP COLUMN risk_score;
ALTER TABLE sessions DROP COLUMN last_validated_at;
ALTER TABLE sessions DROP COLUMN security_version;
ALTER TABLE sessions DROP COLUMN created_ip_hash;
ALTER TABLE sessions DROP COLUMN encryption_key_id;
ALTER TABLE sessions DROP COLUMN security_hash;
