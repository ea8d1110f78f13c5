-- Archive table for old sessions, same columns in the same order as sessions (created after the security
-- columns exist), so that INSERT INTO sessions_archive SELECT * FROM sessions works.
CREATE TABLE IF NOT EXISTS sessions_archive (LIKE sessions INCLUDING DEFAULTS);
