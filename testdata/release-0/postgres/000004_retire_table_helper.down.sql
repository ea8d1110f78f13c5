-- The helper is dropped last on rollback (every down step that needs it has run by now).
DROP PROCEDURE IF EXISTS sessionsec_retire_table(text);
