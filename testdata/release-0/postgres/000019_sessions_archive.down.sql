-- Keep archived sessions: rename a non-empty archive to sessions_archive_retired_<ts>, drop an empty one.
CALL sessionsec_retire_table('sessions_archive');
