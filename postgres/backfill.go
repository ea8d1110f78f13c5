package postgres

import (
	"fmt"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// Backfill returns the procedure's batches as statements, bound to the session table's schema like
// the procedure. The batch's last key is found by ORDER BY ... DESC, not max(): there is no max(uuid).
func (Dialect) Backfill(t dialect.Target, srv dialect.Server) *dialect.Backfill {
	r := renderer{t: t}
	k, tbl := r.col(schema.RoleKey), r.tbl()
	bound := func(where, limit string) string {
		return fmt.Sprintf("WITH b AS MATERIALIZED (SELECT %s AS k FROM %s%s ORDER BY %s LIMIT %s)\n"+
			"SELECT (SELECT b.k FROM b ORDER BY b.k DESC LIMIT 1), (SELECT pg_catalog.count(*) FROM b)", k, tbl, where, k, limit)
	}
	fill := func(where string) string {
		return fmt.Sprintf("UPDATE %s\n   SET %s\n WHERE %s AND %s", tbl, r.backfillSet(), where, r.backfillPending())
	}
	sub := func(s string) string { return strings.ReplaceAll(s, schemaMark, capsOf(srv).quotedSchema) }
	return &dialect.Backfill{
		First:     sub(bound("", "$1")),
		Next:      sub(bound(" WHERE "+k+" OPERATOR(pg_catalog.>) $1", "$2")),
		FillFirst: sub(fill(k + " OPERATOR(pg_catalog.<=) $1")),
		Fill:      sub(fill(k + " OPERATOR(pg_catalog.>) $1 AND " + k + " OPERATOR(pg_catalog.<=) $2")),
		Batch:     schema.Change.BackfillBatch,
	}
}
