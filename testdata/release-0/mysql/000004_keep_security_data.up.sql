-- Nothing to do going up: this step exists for its down, which runs just before the security columns are dropped.
DO 0
