-- No-op up: this step exists for its down, which keeps a copy of the security data before step 2's
-- down drops the security columns.
SELECT 1;
