-- Drop the index online, before the columns it covers go.
ALTER TABLE sessions DROP INDEX idx_sessions_encryption_key, ALGORITHM=INPLACE, LOCK=NONE
