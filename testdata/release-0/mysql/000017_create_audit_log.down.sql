-- Never lose security history: a non-empty audit log becomes session_audit_log_retired_<UTC ts>; an empty one goes.
CALL sessionsec_retire_table('session_audit_log')
