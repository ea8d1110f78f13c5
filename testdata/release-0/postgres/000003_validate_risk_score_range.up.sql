-- Validate the NOT VALID risk check in its own step: VALIDATE takes only SHARE UPDATE EXCLUSIVE,
-- so reads and writes continue while existing rows are scanned. Validating again is a no-op.
ALTER TABLE sessions VALIDATE CONSTRAINT sessions_risk_score_range;
