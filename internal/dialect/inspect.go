package dialect

import (
	"context"
	"database/sql"
	"fmt"
)

// The frame of every dialect's Inspect: a sequence of reads, one catalog query each (a fixed number of
// queries whatever the number of objects), each adding what it reads to the catalog.

// Reads runs an Inspect's reads in order and stops at the first error. Order matters where a read
// uses what an earlier one found (MySQL's columns use the checks).
func Reads(ctx context.Context, reads ...func(context.Context) error) error {
	for _, read := range reads {
		if err := read(ctx); err != nil {
			return err
		}
	}
	return nil
}

// ReadRows is EachRow for one read of an Inspect: an error starts with what, which names the dialect
// and what was being read ("mysql: inspect columns").
func ReadRows(ctx context.Context, q Querier, what, query string, args []any, f func(*sql.Rows) error) error {
	if err := EachRow(ctx, q, query, args, f); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
