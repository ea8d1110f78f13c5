-- 000001 (SQLite) down: deliberately a no-op. Rolling back never drops sessions or its rows:
-- the table may well have existed before the first migration.
SELECT 1;
