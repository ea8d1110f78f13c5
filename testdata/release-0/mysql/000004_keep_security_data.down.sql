-- Keep the security data before step 2's down drops the columns: copy to sessions_security_retired_<UTC ts>.
CALL sessionsec_retire_table('sessions')
