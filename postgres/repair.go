package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/agui-go/sessionsec/schema"
)

// IndexNames lists every index the migrations create.
func IndexNames(s schema.Schema) []string {
	var names []string
	for _, ix := range s.Indexes {
		names = append(names, ix.Name)
	}
	for _, t := range s.Tables {
		for _, ix := range t.Indexes {
			names = append(names, ix.Name)
		}
	}
	return names
}

// Repair drops every INVALID index carrying one of our names (left by an interrupted or failed CREATE
// INDEX CONCURRENTLY, which CREATE INDEX CONCURRENTLY IF NOT EXISTS would otherwise keep for good), with
// DROP INDEX CONCURRENTLY on conn, outside any transaction. It returns what it dropped.
func (*Dialect) Repair(ctx context.Context, conn *sql.Conn, s schema.Schema) ([]string, error) {
	type idx struct{ schema, name, table string }
	var found []idx
	if err := eachRow(ctx, conn, queryInvalidIndexes, []any{textArray(IndexNames(s))}, func(rows *sql.Rows) error {
		var i idx
		if err := rows.Scan(&i.schema, &i.name, &i.table); err != nil {
			return err
		}
		found = append(found, i)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("postgres: look for invalid indexes: %w", err)
	}
	var done []string
	for _, i := range found {
		stmt := "DROP INDEX CONCURRENTLY IF EXISTS " + quoteIdent(i.schema) + "." + quoteIdent(i.name)
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return done, fmt.Errorf("postgres: drop invalid index %s: %w", i.name, err)
		}
		done = append(done, fmt.Sprintf("dropped INVALID index %s on %s (left by an interrupted CREATE INDEX CONCURRENTLY)", i.name, i.table))
	}
	return done, nil
}
