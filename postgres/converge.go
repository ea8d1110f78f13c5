package postgres

import (
	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// Leftovers drops an INVALID index with the step's name, left by a cut-off or timed-out CREATE INDEX
// CONCURRENTLY: the step's IF NOT EXISTS would otherwise keep it for good.
func (d Dialect) Leftovers(t dialect.Target, srv dialect.Server, step schema.Step, _ bool, cat *dialect.Catalog) []string {
	if step.Kind != schema.StepIndex {
		return nil
	}
	name := t.Names.Index(*step.Index)
	if ix := cat.IndexNamed(name); ix != nil && !ix.Valid {
		return []string{"DROP INDEX CONCURRENTLY IF EXISTS " + quote(srv.Schema) + "." + quote(name)}
	}
	return nil
}

// DropTable is the statement that drops a table.
func (Dialect) DropTable(name string) string { return "DROP TABLE IF EXISTS " + quote(name) }
