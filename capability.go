package sessionsec

import (
	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// The optional capabilities of a dialect (internal/dialect/capability.go), each with its fallback: nil
// statements mean "run the step's file".

func leftovers(d dialect.Dialect, t dialect.Target, srv dialect.Server, step schema.Step, up bool, cat *dialect.Catalog) []string {
	if c, ok := d.(dialect.LeftoverCleaner); ok {
		return c.Leftovers(t, srv, step, up, cat)
	}
	return nil
}

func addColumns(d dialect.Dialect, t dialect.Target, srv dialect.Server, missing []schema.Column) []string {
	if c, ok := d.(dialect.ColumnConverger); ok {
		return c.AddColumns(t, srv, missing)
	}
	return nil
}

func dropColumns(d dialect.Dialect, t dialect.Target, srv dialect.Server, present []string, cat *dialect.Catalog) []string {
	if c, ok := d.(dialect.ColumnConverger); ok {
		return c.DropColumns(t, srv, present, cat)
	}
	return nil
}

func replaceTrigger(d dialect.Dialect, t dialect.Target, srv dialect.Server, step schema.Step, cat *dialect.Catalog) []string {
	if r, ok := d.(dialect.Replacer); ok {
		return r.ReplaceTrigger(t, srv, step, cat)
	}
	return nil
}

func replaceRoutine(d dialect.Dialect, t dialect.Target, srv dialect.Server, step schema.Step, cat *dialect.Catalog) []string {
	if r, ok := d.(dialect.Replacer); ok {
		return r.ReplaceRoutine(t, srv, step, cat)
	}
	return nil
}

// backfillOf is the backfill's batches, or nil: the step's file is the whole job.
func backfillOf(d dialect.Dialect, t dialect.Target, srv dialect.Server) *dialect.Backfill {
	if b, ok := d.(dialect.Backfiller); ok {
		return b.Backfill(t, srv)
	}
	return nil
}
