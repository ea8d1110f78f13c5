package sqlite

import (
	"context"
	"regexp"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

var withoutRowid = regexp.MustCompile(`(?i)\bWITHOUT\s+ROWID\b`)

// Preflight reports what would stop the pending steps on SQLite: a connection without the registered
// functions (not a modernc.org/sqlite connection of a program importing this package), a read-only
// connection, and a WITHOUT ROWID session table (the triggers update the new row by rowid).
func (d Dialect) Preflight(ctx context.Context, q dialect.Querier, _ dialect.Server, t dialect.Target, cat *dialect.Catalog, _ []schema.Step) []dialect.Problem {
	var out []dialect.Problem
	var a, b, c any
	if err := q.QueryRowContext(ctx, qHashProbe).Scan(&a, &b, &c); err != nil {
		out = append(out, dialect.Problem{Kind: dialect.KindOther, Object: "function " + HashFunction,
			Message: "the connection cannot call the functions the triggers use: " + d.Scrub(err),
			Fix: "open the database with the modernc.org/sqlite driver (driver name \"sqlite\") in a program that " +
				"imports github.com/agui-go/sessionsec/sqlite; the stock migrate CLI cannot run these migrations"})
	}
	var ro int
	if err := q.QueryRowContext(ctx, qQueryOnly).Scan(&ro); err == nil && ro != 0 {
		out = append(out, dialect.Problem{Kind: dialect.KindReadOnly, Object: "database main",
			Message: "the connection is query_only", Fix: "open the database read-write"})
	}
	if tbl := cat.Tables[t.Names.Table]; tbl != nil && withoutRowid.MatchString(tbl.SQL) {
		out = append(out, dialect.Problem{Kind: dialect.KindIncompatibleTable, Object: "table " + t.Names.Table,
			Message: "is WITHOUT ROWID: the SQLite triggers update the inserted row by rowid",
			Fix:     "rebuild it as an ordinary rowid table, then retry"})
	}
	return out
}
