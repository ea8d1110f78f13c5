-- Nothing to undo: the constraint itself is dropped by step 2's down.
SELECT 1;
