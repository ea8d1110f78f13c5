package dialect

import (
	"context"
	"database/sql"
)

// EachRow runs query and calls f for every row; the rows are closed whatever f returns. The catalog
// readers of every dialect share it.
func EachRow(ctx context.Context, q Querier, query string, args []any, f func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// NameSet runs a query whose rows are one name each and returns them as a set.
func NameSet(ctx context.Context, q Querier, query string, args ...any) (map[string]bool, error) {
	set := map[string]bool{}
	err := EachRow(ctx, q, query, args, func(rows *sql.Rows) error {
		var name string
		if err := rows.Scan(&name); err != nil {
			return err
		}
		set[name] = true
		return nil
	})
	return set, err
}

// ColumnsByTable runs a query whose rows are (table, column), in column order, and groups them by table.
func ColumnsByTable(ctx context.Context, q Querier, query string, args ...any) (map[string][]string, error) {
	out := map[string][]string{}
	err := EachRow(ctx, q, query, args, func(rows *sql.Rows) error {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			return err
		}
		out[t] = append(out[t], c)
		return nil
	})
	return out, err
}
