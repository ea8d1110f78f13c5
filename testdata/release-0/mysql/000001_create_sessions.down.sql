-- Never drop sessions: it holds the application's data and may have existed before this migration set.
DO 0
