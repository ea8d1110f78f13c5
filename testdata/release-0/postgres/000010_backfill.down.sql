-- Nothing to undo: the backfilled values go away with the columns (after step 5's down copied them).
SELECT 1;
