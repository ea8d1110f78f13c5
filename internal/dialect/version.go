package dialect

import (
	"context"
	"database/sql"

	"github.com/golang-migrate/migrate/v4/database"
)

// ReplaceVersion replaces golang-migrate's version row in one transaction on conn, as golang-migrate's
// SetVersion does: del empties the table, insert (parameters: version, dirty) writes the row. The
// dialects' Migrator.SetVersion spell the two statements and the isolation.
func ReplaceVersion(ctx context.Context, conn *sql.Conn, opts *sql.TxOptions, del, insert string, version int, dirty bool) error {
	tx, err := conn.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, del); err != nil {
		return err
	}
	// golang-migrate writes a row for a nil version only when it is dirty (its issue #330).
	if version >= 0 || (version == database.NilVersion && dirty) {
		if _, err := tx.ExecContext(ctx, insert, version, dirty); err != nil {
			return err
		}
	}
	return tx.Commit()
}
