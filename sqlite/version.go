package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// EnsureVersionTable creates golang-migrate's version table as its sqlite driver does (an untyped
// version column with a unique index named version_unique), so that the stock CLI reads it as its own.
func (Dialect) EnsureVersionTable(ctx context.Context, q dialect.Querier, table string) error {
	if _, err := q.ExecContext(ctx, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (version uint64, dirty bool);\n"+
		"CREATE UNIQUE INDEX IF NOT EXISTS version_unique ON %s (version)", quote(table), quote(table))); err != nil {
		return fmt.Errorf("sqlite: create migrations table %s: %w", table, err)
	}
	return nil
}

// SetVersion replaces the version row in one transaction on conn, as golang-migrate's SetVersion does.
func (Dialect) SetVersion(ctx context.Context, conn *sql.Conn, table string, version int, dirty bool) error {
	if err := dialect.ReplaceVersion(ctx, conn, nil,
		"DELETE FROM "+quote(table), "INSERT INTO "+quote(table)+" (version, dirty) VALUES (?, ?)", version, dirty); err != nil {
		return fmt.Errorf("sqlite: set version: %w", err)
	}
	return nil
}

// RunFile runs a step's file in one transaction on conn, as golang-migrate's sqlite driver runs it: a
// file cut off half way leaves nothing behind.
func (Dialect) RunFile(ctx context.Context, conn *sql.Conn, body string) error {
	return inTx(ctx, conn, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, body)
		return err
	})
}

func inTx(ctx context.Context, conn *sql.Conn, f func(*sql.Tx) error) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}
