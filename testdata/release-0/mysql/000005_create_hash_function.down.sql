-- Runs after the triggers that call it are gone (steps 6 and 7 are undone first).
DROP FUNCTION IF EXISTS session_security_hash
