-- Backfill for rows that existed before the insert trigger: keyset batches on the primary key (never a
-- giant UPDATE), idempotent and resumable (security_hash IS NULL), one COMMIT per batch. The batch bounds come
-- from the primary key alone (an index-only scan); the UPDATE skips rows already filled.
CREATE OR REPLACE PROCEDURE BackfillSessionSecurity(p_batch int DEFAULT 5000)
LANGUAGE plpgsql
AS $$
DECLARE
    v_last sessions.session_id%TYPE;
    v_max  sessions.session_id%TYPE;
BEGIN
    IF p_batch IS NULL OR p_batch < 1 THEN
        p_batch := 5000;
    END IF;
    LOOP
        IF v_last IS NULL THEN
            SELECT max(b.session_id) INTO v_max
            FROM (SELECT session_id FROM sessions
                  ORDER BY session_id LIMIT p_batch) b;
        ELSE
            SELECT max(b.session_id) INTO v_max
            FROM (SELECT session_id FROM sessions
                  WHERE session_id > v_last
                  ORDER BY session_id LIMIT p_batch) b;
        END IF;
        EXIT WHEN v_max IS NULL;

        IF v_last IS NULL THEN
            UPDATE sessions
            SET security_hash     = session_security_hash(session_id, user_id,
                                                          floor(extract(epoch FROM created_at))::bigint),
                encryption_key_id = COALESCE(encryption_key_id, 'migration-default-key'),
                last_validated_at = COALESCE(last_validated_at, now())
            WHERE session_id <= v_max AND security_hash IS NULL;
        ELSE
            UPDATE sessions
            SET security_hash     = session_security_hash(session_id, user_id,
                                                          floor(extract(epoch FROM created_at))::bigint),
                encryption_key_id = COALESCE(encryption_key_id, 'migration-default-key'),
                last_validated_at = COALESCE(last_validated_at, now())
            WHERE session_id > v_last AND session_id <= v_max AND security_hash IS NULL;
        END IF;

        v_last := v_max;
        COMMIT;
    END LOOP;
END
$$;
