package sqlite

import "github.com/agui-go/sessionsec/internal/dialect"

// Backfill is nil: the step's file is one UPDATE in one transaction (SQLite has one writer at a time,
// so batches would not let the application write any sooner).
func (Dialect) Backfill(dialect.Target, dialect.Server) *dialect.Backfill { return nil }
