-- Drop the trigger before the function it calls.
DROP TRIGGER IF EXISTS sessions_security_hash_trigger ON sessions;
DROP FUNCTION IF EXISTS sessions_security_hash_trigger_fn();
