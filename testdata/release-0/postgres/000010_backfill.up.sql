-- Backfill pre-existing rows. Alone in its file: the procedure COMMITs per batch, which works only when
-- the CALL is not inside a multi-statement transaction.
CALL BackfillSessionSecurity(5000);
