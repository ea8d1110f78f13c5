-- Dropped before the hash function (step 5's down).
DROP TRIGGER IF EXISTS sessions_validation_timestamp_trigger
