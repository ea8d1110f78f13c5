-- The backfill procedure is part of this change only.
DROP PROCEDURE IF EXISTS BackfillSessionSecurity
