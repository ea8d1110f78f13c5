-- Rollback helper used by later down steps so that a rollback never loses history:
-- a non-empty table is renamed to <name>_retired_<UTC yyyymmddhhmmss> (its indexes too, so that a later
-- up can create them again), an empty one is dropped; for 'sessions' (which is never dropped) the
-- session_id and the security columns are copied into sessions_security_retired_<ts> when any row
-- carries security data.
CREATE OR REPLACE PROCEDURE sessionsec_retire_table(p_table text)
LANGUAGE plpgsql
AS $$
DECLARE
    v_ts       text := to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISS');
    v_rel      regclass := to_regclass(quote_ident(p_table));
    v_schema   text;
    v_suffix   text;
    v_target   text;
    v_n        int := 0;
    v_cols     text;
    v_pred     text;
    v_has      boolean;
    v_idx      record;
BEGIN
    IF v_rel IS NULL THEN
        RETURN;
    END IF;
    SELECT n.nspname INTO v_schema
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = v_rel;

    IF p_table = 'sessions' THEN
        SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
               string_agg(CASE a.attname
                              WHEN 'security_version' THEN 'security_version IS DISTINCT FROM 1'
                              WHEN 'risk_score' THEN 'risk_score IS DISTINCT FROM 0'
                              ELSE quote_ident(a.attname) || ' IS NOT NULL' END, ' OR ' ORDER BY a.attnum)
          INTO v_cols, v_pred
        FROM pg_attribute a
        WHERE a.attrelid = v_rel AND a.attnum > 0 AND NOT a.attisdropped
          AND a.attname IN ('security_hash', 'encryption_key_id', 'created_ip_hash',
                            'security_version', 'last_validated_at', 'risk_score');
        IF v_cols IS NULL THEN
            RETURN;
        END IF;
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE %s)', v_rel, v_pred) INTO v_has;
        IF NOT v_has THEN
            RETURN;
        END IF;
        v_target := 'sessions_security_retired_' || v_ts;
        WHILE to_regclass(quote_ident(v_schema) || '.' || quote_ident(v_target)) IS NOT NULL LOOP
            v_n := v_n + 1;
            v_target := 'sessions_security_retired_' || v_ts || '_' || v_n;
        END LOOP;
        EXECUTE format('CREATE TABLE %I.%I AS SELECT session_id, %s FROM %s WHERE %s',
                       v_schema, v_target, v_cols, v_rel, v_pred);
        RETURN;
    END IF;

    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', v_rel) INTO v_has;
    IF NOT v_has THEN
        EXECUTE format('DROP TABLE %s', v_rel);
        RETURN;
    END IF;

    v_suffix := '_retired_' || v_ts;
    WHILE to_regclass(quote_ident(v_schema) || '.' || quote_ident(p_table || v_suffix)) IS NOT NULL LOOP
        v_n := v_n + 1;
        v_suffix := '_retired_' || v_ts || '_' || v_n;
    END LOOP;
    -- Index names are schema-wide: rename them with the table, or a later up would find them "existing".
    FOR v_idx IN
        SELECT ic.relname AS name FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
        WHERE i.indrelid = v_rel
    LOOP
        EXECUTE format('ALTER INDEX %I.%I RENAME TO %I', v_schema, v_idx.name,
                       left(v_idx.name, 63 - length(v_suffix)) || v_suffix);
    END LOOP;
    EXECUTE format('ALTER TABLE %s RENAME TO %I', v_rel, p_table || v_suffix);
END
$$;
