package postgres

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// Call runs one of the change's stored procedures, qualified with the schema it was created in (its
// name was created unquoted, so it is folded to lower case like any unquoted name).
func (Dialect) Call(srv dialect.Server, routine string) string {
	return "CALL " + quote(srv.Schema) + "." + quote(strings.ToLower(routine)) + "()"
}

// Rules is nil: cleanup and risk scores are the stored procedures.
func (Dialect) Rules(dialect.Target) dialect.Rules { return nil }

// Before compares a timestamptz with the instant and a timestamp without time zone with the UTC wall
// clock (how the change's triggers write it).
func (Dialect) Before(col string, f dialect.Family, at time.Time) string {
	wall := at.UTC().Format("2006-01-02 15:04:05.000000")
	if f == dialect.FamWallClock {
		return fmt.Sprintf("%s < '%s'::timestamp", quote(col), wall)
	}
	return fmt.Sprintf("%s < '%s+00'::timestamptz", quote(col), wall)
}

// Param is "$n".
func (Dialect) Param(n int) string { return fmt.Sprintf("$%d", n) }

// Quote quotes an identifier with double quotes.
func (Dialect) Quote(name string) string { return quote(name) }

// LockRows is FOR UPDATE.
func (Dialect) LockRows() string { return " FOR UPDATE" }

// IsRowConflict reports foreign_key_violation (23503), restrict_violation (23001: how PostgreSQL 18
// reports an ON DELETE RESTRICT child row) and unique_violation (23505).
func (Dialect) IsRowConflict(err error) bool {
	switch SQLState(err) {
	case "23503", "23001", "23505":
		return true
	}
	return false
}

// Isolation is the level of a maintenance batch's transaction.
func (Dialect) Isolation() sql.IsolationLevel { return sql.LevelReadCommitted }
