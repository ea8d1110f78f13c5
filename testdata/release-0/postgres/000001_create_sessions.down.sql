-- Never drop sessions on rollback: it holds the application's data (it may have existed before step 1).
SELECT 1;
