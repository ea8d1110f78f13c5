-- The canonical hash (docs/design.md, schema.SecurityHash), defined once; the insert trigger and the
-- backfill call it. Built-in sha256(bytea) (PG 11+), no pgcrypto. Lengths are UTF-8 byte lengths.
-- STABLE, not IMMUTABLE: convert_to() is STABLE, and a SQL function declared less volatile than its body is
-- never inlined; inlined, the 1M-row backfill spends about half as long hashing. The result depends only on
-- the arguments (the database encoding is fixed), so it is as deterministic as the MySQL one.
CREATE OR REPLACE FUNCTION session_security_hash(p_session_id text, p_user_id text, p_created_epoch bigint)
RETURNS text
LANGUAGE sql
STABLE PARALLEL SAFE
AS $$
    SELECT encode(sha256(convert_to(
        'sessionsec/v1'
        || '|' || CASE WHEN p_session_id IS NULL THEN '-'
                       ELSE octet_length(convert_to(p_session_id, 'UTF8'))::text || ':' || p_session_id END
        || '|' || CASE WHEN p_user_id IS NULL THEN '-'
                       ELSE octet_length(convert_to(p_user_id, 'UTF8'))::text || ':' || p_user_id END
        || '|' || COALESCE(p_created_epoch::text, '-'),
        'UTF8')), 'hex')
$$;
