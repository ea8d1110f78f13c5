-- Nothing to undo: the values go away with the columns (after step 4's down kept a copy).
DO 0
