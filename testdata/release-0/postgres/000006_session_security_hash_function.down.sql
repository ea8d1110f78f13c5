-- Drop the hash function (the triggers calling it were dropped by the later steps' downs).
DROP FUNCTION IF EXISTS session_security_hash(text, text, bigint);
