package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// Rules are the stored procedures' rules with their time variables as literals: a timestamptz for
// instants, the UTC wall clock for a timestamp without time zone (how the change's triggers write it).
func (Dialect) Rules(t dialect.Target) dialect.Rules { return rules{renderer{t: t}} }

type rules struct{ r renderer }

func times(now time.Time) *strings.Replacer {
	wall := func(at time.Time) string { return at.UTC().Format("2006-01-02 15:04:05.000000") }
	window := now.AddDate(0, 0, -schema.Change.Risk.ValidationWindowDays)
	// Longest names first: the replacer tries its pairs in this order at each position.
	return strings.NewReplacer(
		"v_window_utc", "'"+wall(window)+"'::timestamp", "v_window", "'"+wall(window)+"+00'::timestamptz",
		"v_now_utc", "'"+wall(now)+"'::timestamp", "v_now", "'"+wall(now)+"+00'::timestamptz")
}

func (r rules) Expired(now time.Time) string {
	exp := r.r.t.Col(schema.RoleExpires)
	return times(now).Replace(fmt.Sprintf("%s OPERATOR(pg_catalog.<) %s%s", quote(exp), r.r.nowVar(exp), r.r.inactive()))
}

func (r rules) RiskScore(now time.Time) string { return times(now).Replace(r.r.riskScore()) }

// BatchStart makes deferred constraints (DEFERRABLE INITIALLY DEFERRED foreign keys) immediate for
// the batch: a child row then fails the DELETE of its session, not the batch's COMMIT.
func (Dialect) BatchStart() string { return "SET CONSTRAINTS ALL IMMEDIATE" }

// GeneratedColumns reads attgenerated (stored generated columns; identity columns are plain values).
func (Dialect) GeneratedColumns(ctx context.Context, q dialect.Querier, srv dialect.Server, table string) (map[string]bool, error) {
	return dialect.NameSet(ctx, q, `SELECT a.attname FROM pg_catalog.pg_attribute a
		WHERE a.attrelid = pg_catalog.to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated <> ''`,
		capsOf(srv).quotedSchema+"."+quote(table))
}

// DropNotNull is ALTER COLUMN ... DROP NOT NULL (a catalog change).
func (Dialect) DropNotNull(_ context.Context, _ dialect.Querier, srv dialect.Server, table, col string) (string, error) {
	return fmt.Sprintf("ALTER TABLE %s.%s ALTER COLUMN %s DROP NOT NULL", capsOf(srv).quotedSchema, quote(table), quote(col)), nil
}

// Holds compares format_type's spelling: dst must have the type of src, with a length, timestamp
// precision or numeric (precision, scale) at least as large. A timestamp or time without a precision
// has 6 digits; a varchar or numeric without one is unbounded.
func (Dialect) Holds(src, dst *dialect.Column) bool {
	return dialect.TypeHolds(src.Type, dst.Type, func(base string) (int, bool) {
		switch base {
		case "timestamp", "time":
			return 6, true
		}
		return 0, false
	})
}

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

// IndexColumn lets PostgreSQL name the index (<table>_<column>_idx, numbered where that is taken).
func (Dialect) IndexColumn(table, col string) string {
	return fmt.Sprintf("CREATE INDEX ON %s (%s)", quote(table), quote(col))
}
