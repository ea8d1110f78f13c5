-- 000008 (SQLite): sessions_archive with exactly the columns of sessions, in order, so that
-- INSERT INTO sessions_archive SELECT * FROM sessions works - including columns the application added to
-- its own sessions table. SQLite has no CREATE TABLE ... LIKE; CREATE TABLE ... AS SELECT copies every
-- column's name, order and type affinity (declared as TEXT / INT / NUM / REAL / none), but no NOT NULL,
-- DEFAULT, CHECK or PRIMARY KEY: the archive only ever receives rows copied from sessions.
-- Runs after the security columns exist. IF NOT EXISTS: safe to re-run.
CREATE TABLE IF NOT EXISTS sessions_archive AS SELECT * FROM sessions WHERE 0;
