-- 000003 (SQLite): nothing to do going up. This step exists for its down, which runs before 000002's
-- down drops the security columns.
SELECT 1;
