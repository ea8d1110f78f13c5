package dialect

import (
	"context"
	"database/sql"
)

// RowCounts runs list, whose rows are one table name each, then counts the rows of every table it
// named: what each dialect's Retired reports. The names are read to the end before the first count,
// because on one connection (a *sql.Conn) the list's rows must be closed before another query runs.
// quote quotes a table name the dialect's way.
func RowCounts(ctx context.Context, q Querier, quote func(string) string, list string, args ...any) (map[string]int64, error) {
	var names []string
	err := EachRow(ctx, q, list, args, func(rows *sql.Rows) error {
		var n string
		if err := rows.Scan(&n); err != nil {
			return err
		}
		names = append(names, n)
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(names))
	for _, n := range names {
		var c int64
		if err := q.QueryRowContext(ctx, "SELECT count(*) FROM "+quote(n)).Scan(&c); err != nil {
			return nil, err
		}
		out[n] = c
	}
	return out, nil
}
