-- 000005 (SQLite) down: nothing to undo; the backfilled values go away with the columns (000002's down),
-- after 000003's down kept a copy.
SELECT 1;
