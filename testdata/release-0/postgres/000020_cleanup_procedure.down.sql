-- Drop the cleanup procedure.
DROP PROCEDURE IF EXISTS CleanupExpiredSecureSessions();
