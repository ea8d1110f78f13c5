-- Keep the security history: rename a non-empty audit log to session_audit_log_retired_<ts>, drop an empty one.
CALL sessionsec_retire_table('session_audit_log');
