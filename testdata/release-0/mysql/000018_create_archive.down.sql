-- Never lose archived sessions: a non-empty archive becomes sessions_archive_retired_<UTC ts>; an empty one goes.
CALL sessionsec_retire_table('sessions_archive')
