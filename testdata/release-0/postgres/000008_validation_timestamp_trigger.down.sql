-- Drop the trigger before the function it calls.
DROP TRIGGER IF EXISTS sessions_validation_timestamp_trigger ON sessions;
DROP FUNCTION IF EXISTS sessions_validation_timestamp_trigger_fn();
