package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// EnsureVersionTable creates golang-migrate's table in current_schema() as its driver does, checking
// first so that a user without CREATE can still read it.
func (Dialect) EnsureVersionTable(ctx context.Context, q dialect.Querier, table string) error {
	var exists bool
	if err := q.QueryRowContext(ctx, queryVersionTableExists, table).Scan(&exists); err != nil {
		return fmt.Errorf("postgres: look for migrations table %q: %w", table, err)
	}
	if exists {
		return nil
	}
	if _, err := q.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+quote(table)+" (version bigint not null primary key, dirty boolean not null)"); err != nil {
		return fmt.Errorf("postgres: create migrations table %q: %w", table, err)
	}
	return nil
}

// SetVersion replaces the version row in one transaction, as golang-migrate's SetVersion does (a
// DELETE where it TRUNCATEs: TRUNCATE's ACCESS EXCLUSIVE lock would block the other replicas' version
// reads).
func (Dialect) SetVersion(ctx context.Context, conn *sql.Conn, table string, version int, dirty bool) error {
	if err := dialect.ReplaceVersion(ctx, conn, nil,
		"DELETE FROM "+quote(table), "INSERT INTO "+quote(table)+" (version, dirty) VALUES ($1::bigint, $2::boolean)", version, dirty); err != nil {
		return fmt.Errorf("postgres: set version: %w", err)
	}
	return nil
}
