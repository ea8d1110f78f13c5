-- Dropped before the hash function it calls.
DROP TRIGGER IF EXISTS sessions_security_hash_trigger
