-- Drop the risk-score procedure.
DROP PROCEDURE IF EXISTS UpdateSessionRiskScores();
