package mysql

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/golang-migrate/migrate/v4/database"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// EnsureVersionTable creates golang-migrate's table as its driver does.
func (Dialect) EnsureVersionTable(ctx context.Context, q dialect.Querier, table string) error {
	if _, err := q.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+quote(table)+" (version bigint not null primary key, dirty boolean not null)"); err != nil {
		return fmt.Errorf("mysql: create migrations table %s: %w", table, err)
	}
	return nil
}

// SetVersion replaces the version row in one transaction, as golang-migrate's SetVersion does.
func (Dialect) SetVersion(ctx context.Context, conn *sql.Conn, table string, version int, dirty bool) error {
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelSerializable})
	if err != nil {
		return fmt.Errorf("mysql: set version: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+quote(table)); err != nil {
		return fmt.Errorf("mysql: set version: %w", err)
	}
	// golang-migrate writes a row for a nil version only when it is dirty (its issue #330).
	if version >= 0 || (version == database.NilVersion && dirty) {
		if _, err := tx.ExecContext(ctx, "INSERT INTO "+quote(table)+" (version, dirty) VALUES (?, ?)", version, dirty); err != nil {
			return fmt.Errorf("mysql: set version: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("mysql: set version: %w", err)
	}
	return nil
}
