package mysql

import (
	"context"
	"database/sql"
	"fmt"

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
	if err := dialect.ReplaceVersion(ctx, conn, &sql.TxOptions{Isolation: sql.LevelSerializable},
		"DELETE FROM "+quote(table), "INSERT INTO "+quote(table)+" (version, dirty) VALUES (?, ?)", version, dirty); err != nil {
		return fmt.Errorf("mysql: set version: %w", err)
	}
	return nil
}
