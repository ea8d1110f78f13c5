package postgres

import (
	"context"
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

// queryColumnDefinition reads a column's type as format_type spells it (qualified where the type is
// not visible on the search path) and its collation where it is not the type's default.
const queryColumnDefinition = `SELECT pg_catalog.format_type(a.atttypid, a.atttypmod),
       CASE WHEN a.attcollation <> t.typcollation THEN
         (SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.collname)
            FROM pg_catalog.pg_collation c JOIN pg_catalog.pg_namespace n ON n.oid = c.collnamespace
           WHERE c.oid = a.attcollation) END
  FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
 WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attname = $2 AND NOT a.attisdropped`

// AddColumnLike adds col with its type and collation; without a default the ADD COLUMN changes the
// catalog only.
func (Dialect) AddColumnLike(ctx context.Context, q dialect.Querier, srv dialect.Server, from, to, col string) (string, error) {
	sch := capsOf(srv).quotedSchema
	var typ string
	var coll sql.NullString
	if err := q.QueryRowContext(ctx, queryColumnDefinition, sch+"."+quote(from), col).Scan(&typ, &coll); err != nil {
		return "", fmt.Errorf("reading the definition of %s.%s: %w", from, col, err)
	}
	def := typ
	if coll.Valid {
		def += " COLLATE " + coll.String
	}
	return fmt.Sprintf("ALTER TABLE %s.%s ADD COLUMN %s %s", sch, quote(to), quote(col), def), nil
}
