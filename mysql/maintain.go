package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
)

const errDupEntry = 1062 // ER_DUP_ENTRY: the archive already has a row with this key

// Call runs one of the change's stored procedures, qualified with the schema it was created in.
func (Dialect) Call(srv dialect.Server, routine string) string {
	return "CALL " + quote(srv.Schema) + "." + quote(routine) + "()"
}

// Rules is nil: cleanup and risk scores are the stored procedures.
func (Dialect) Rules(dialect.Target) dialect.Rules { return nil }

// Before compares with a UTC literal: the maintenance session runs with time_zone '+00:00', where a
// DATETIME is read as a UTC wall clock and a TIMESTAMP literal is taken as UTC.
func (Dialect) Before(col string, _ dialect.Family, at time.Time) string {
	return fmt.Sprintf("%s < '%s'", quote(col), at.UTC().Format("2006-01-02 15:04:05.000000"))
}

// Param is "?".
func (Dialect) Param(int) string { return "?" }

// Quote quotes an identifier with backticks.
func (Dialect) Quote(name string) string { return quote(name) }

// LockRows is FOR UPDATE.
func (Dialect) LockRows() string { return " FOR UPDATE" }

// IsRowConflict reports 1451 (a child row holds on to the row) and 1062 (duplicate key).
func (Dialect) IsRowConflict(err error) bool {
	switch errorNumber(err) {
	case errRowIsReferenced, errDupEntry:
		return true
	}
	return false
}

// Isolation is the level of a maintenance batch's transaction.
func (Dialect) Isolation() sql.IsolationLevel { return sql.LevelReadCommitted }

const queryColumnDefinition = `SELECT COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME
	FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = ?`

// AddColumnLike adds col as COLUMN_TYPE reports it (enum and set values in their case, unsigned,
// precision), with its character set and collation.
func (Dialect) AddColumnLike(ctx context.Context, q dialect.Querier, _ dialect.Server, from, to, col string) (string, error) {
	var typ string
	var cs, co sql.NullString
	if err := q.QueryRowContext(ctx, queryColumnDefinition, from, col).Scan(&typ, &cs, &co); err != nil {
		return "", fmt.Errorf("reading the definition of %s.%s: %w", from, col, err)
	}
	def := typ
	if cs.Valid && co.Valid {
		def += " CHARACTER SET " + cs.String + " COLLATE " + co.String
	}
	return fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s NULL", quote(to), quote(col), def), nil
}
