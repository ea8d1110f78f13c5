-- Copy session_id + the security columns into sessions_security_retired_<ts> when any row carries
-- security data, so that rolling back never loses it.
CALL sessionsec_retire_table('sessions');
