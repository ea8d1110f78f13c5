-- Dropped last: every down that needs it (4, 11, 12) has run by now.
DROP PROCEDURE IF EXISTS sessionsec_retire_table
