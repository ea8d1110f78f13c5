-- 000008 (SQLite) down: never lose archived sessions. SQLite has no dynamic SQL for a timestamped name,
-- so every row is appended to ONE table, sessions_archive_retired (the archive's columns + retired_at),
-- then sessions_archive is dropped. The retired table is created even when the archive was empty
-- (no conditional DDL); sqlite.DropEmptyRetired removes it then. If sessions_archive_retired exists from
-- an earlier rollback with other columns, this step fails and changes nothing (one transaction):
-- rename that table and roll back again.
CREATE TABLE IF NOT EXISTS sessions_archive_retired AS
    SELECT *, CURRENT_TIMESTAMP AS retired_at FROM sessions_archive WHERE 0;
INSERT INTO sessions_archive_retired SELECT *, CURRENT_TIMESTAMP FROM sessions_archive;
DROP TABLE sessions_archive;
