package mysql

import (
	"fmt"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// Backfill returns the procedure's batches as statements (the migration session runs with time_zone
// '+00:00', as the procedure does).
func (Dialect) Backfill(t dialect.Target, _ dialect.Server) *dialect.Backfill {
	r := renderer{t: t}
	k, tbl := r.col(schema.RoleKey), quote(t.Names.Table)
	bound := func(where string) string {
		return fmt.Sprintf("SELECT MAX(%s), COUNT(*) FROM (SELECT %s FROM %s%s ORDER BY %s LIMIT ?) AS b", k, k, tbl, where, k)
	}
	fill := func(where string) string {
		return fmt.Sprintf("UPDATE %s SET %s WHERE %s AND %s", tbl, r.backfillSet(), where, r.backfillPending())
	}
	return &dialect.Backfill{
		First:     bound(""),
		Next:      bound(" WHERE " + k + " > ?"),
		FillFirst: fill(k + " <= ?"),
		Fill:      fill(k + " > ? AND " + k + " <= ?"),
		Batch:     schema.Change.BackfillBatch,
	}
}
