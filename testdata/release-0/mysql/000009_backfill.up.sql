-- Backfill pre-existing rows (the insert trigger already covers new ones). Safe to re-run: it skips filled rows.
CALL BackfillSessionSecurity(5000)
