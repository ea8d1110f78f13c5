package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// Rules are cleanup's and the risk score's SQL over the current row. Times are compared as whole
// seconds through sessionsec_epoch, which reads every time text the drivers write.
func (Dialect) Rules(t dialect.Target) dialect.Rules { return rules{t} }

type rules struct{ t dialect.Target }

func epochOf(col string) string { return EpochFunction + "(" + quote(col) + ")" }

func (r rules) inactive() string {
	if !r.t.Has(schema.RoleActive) {
		return ""
	}
	return " OR " + quote(r.t.Col(schema.RoleActive)) + " = 0"
}

func (r rules) Expired(now time.Time) string {
	return fmt.Sprintf("%s < %d%s", epochOf(r.t.Col(schema.RoleExpires)), now.Unix(), r.inactive())
}

func (r rules) RiskScore(now time.Time) string {
	rr := schema.Change.Risk
	window := now.AddDate(0, 0, -rr.ValidationWindowDays).Unix()
	terms := []string{
		fmt.Sprintf(`%d * ("security_hash" IS NULL)`, rr.NoHash),
		fmt.Sprintf("%d * (COALESCE(%s <= %d, 0)%s)", rr.Expired, epochOf(r.t.Col(schema.RoleExpires)), now.Unix(), r.inactive()),
	}
	if r.t.Has(schema.RoleIP) {
		terms = append(terms, fmt.Sprintf(`%d * ("created_ip_hash" IS NULL)`, rr.NoIPHash))
	}
	terms = append(terms, fmt.Sprintf(`%d * COALESCE(%s < %d, 1)`, rr.NotValidated, epochOf("last_validated_at"), window))
	return fmt.Sprintf("MIN(%d, %s)", rr.Max, strings.Join(terms, " + "))
}

// GeneratedColumns reads pragma_table_xinfo's hidden flag: 2 is a virtual and 3 a stored generated column.
func (Dialect) GeneratedColumns(ctx context.Context, q dialect.Querier, _ dialect.Server, table string) (map[string]bool, error) {
	return dialect.NameSet(ctx, q, "SELECT name FROM pragma_table_xinfo(?) WHERE hidden IN (2, 3)", table)
}

// DropNotNull refuses: SQLite cannot change a column's constraints in place. The archive the change
// creates (CREATE TABLE ... AS SELECT) has none; only a hand-made one can get here.
func (Dialect) DropNotNull(_ context.Context, _ dialect.Querier, _ dialect.Server, table, col string) (string, error) {
	return "", fmt.Errorf("column %s of %s is NOT NULL without a default and SQLite cannot change that in place: "+
		"rebuild %s without NOT NULL on %s (CREATE TABLE ... AS SELECT, as the change creates it)", col, table, table, col)
}

// Holds is true: SQLite stores a value as given, whatever the column's declared type.
func (Dialect) Holds(_, _ *dialect.Column) bool { return true }

// Before compares whole seconds (sessionsec_epoch of the stored text): SQLite keeps times as text in
// whichever form the writer used.
func (Dialect) Before(col string, _ dialect.Family, at time.Time) string {
	return fmt.Sprintf("%s < %d", epochOf(col), at.Unix())
}

// Param is "?".
func (Dialect) Param(int) string { return "?" }

// Quote quotes an identifier with double quotes.
func (Dialect) Quote(name string) string { return quote(name) }

// IsRowConflict reports SQLITE_CONSTRAINT_FOREIGNKEY, _PRIMARYKEY and _UNIQUE, and the foreign-key
// failure of an ON DELETE RESTRICT child row, which SQLite raises from its foreign-key action as
// SQLITE_CONSTRAINT_TRIGGER (on a connection that turned foreign keys on). A trigger's own RAISE has
// that code too, with its own message: it is not a row conflict.
func (Dialect) IsRowConflict(err error) bool {
	var se *modernc.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY, sqlite3.SQLITE_CONSTRAINT_UNIQUE:
			return true
		case sqlite3.SQLITE_CONSTRAINT_TRIGGER:
			return strings.Contains(se.Error(), "FOREIGN KEY constraint failed")
		}
	}
	return false
}

// Isolation is the level of a maintenance batch's transaction.
func (Dialect) Isolation() sql.IsolationLevel { return sql.LevelDefault }

// AddColumnLike adds col with its declared type (SQLite keeps the declaration as written).
func (Dialect) AddColumnLike(ctx context.Context, q dialect.Querier, _ dialect.Server, from, to, col string) (string, error) {
	var typ string
	if err := q.QueryRowContext(ctx, "SELECT type FROM pragma_table_xinfo(?) WHERE name = ?", from, col).Scan(&typ); err != nil {
		return "", fmt.Errorf("reading the definition of %s.%s: %w", from, col, err)
	}
	return fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s", quote(to), quote(col), typ), nil
}

// IndexColumn names the index after the table (a retired archive's rows move to another table and the
// archive with its indexes is dropped, so the name is free again).
func (Dialect) IndexColumn(table, col string) string {
	return fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)", quote(table+"_"+col+"_idx"), quote(table), quote(col))
}
