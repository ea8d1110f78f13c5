-- Drop the backfill procedure.
DROP PROCEDURE IF EXISTS BackfillSessionSecurity(int);
