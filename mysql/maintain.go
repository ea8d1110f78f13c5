package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

const errDupEntry = 1062 // ER_DUP_ENTRY: the archive already has a row with this key

// Rules are the stored procedures' rules with the time as a UTC literal: the maintenance session runs
// with time_zone '+00:00', as the procedures do.
func (Dialect) Rules(t dialect.Target) dialect.Rules { return rules{renderer{t: t}} }

type rules struct{ r renderer }

func utcLiteral(at time.Time) string {
	return "'" + at.UTC().Format("2006-01-02 15:04:05.000000") + "'"
}

func (r rules) Expired(now time.Time) string { return r.r.expiredPredicate(utcLiteral(now)) }

func (r rules) RiskScore(now time.Time) string {
	return r.r.riskScore(utcLiteral(now), utcLiteral(now.AddDate(0, 0, -schema.Change.Risk.ValidationWindowDays)))
}

// GeneratedColumns reads GENERATION_EXPRESSION: ” on MySQL and NULL on MariaDB for a plain column.
func (Dialect) GeneratedColumns(ctx context.Context, q dialect.Querier, _ dialect.Server, table string) (map[string]bool, error) {
	return dialect.NameSet(ctx, q, `SELECT COLUMN_NAME FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COALESCE(GENERATION_EXPRESSION, '') <> ''`, table)
}

// DropNotNull re-declares the column with its COLUMN_TYPE, character set and collation, NULL.
func (Dialect) DropNotNull(ctx context.Context, q dialect.Querier, _ dialect.Server, table, col string) (string, error) {
	def, err := columnDefinition(ctx, q, table, col)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("ALTER TABLE %s MODIFY COLUMN %s %s NULL", quote(table), quote(col), def), nil
}

// Holds compares the normalized types: dst must have the type of src, with a length, fractional
// seconds or (precision, scale) at least as large. A DATETIME, TIMESTAMP or TIME without digits has 0.
func (Dialect) Holds(src, dst *dialect.Column) bool {
	return dialect.TypeHolds(src.Type, dst.Type, func(base string) (int, bool) {
		switch base {
		case "datetime", "timestamp", "time":
			return 0, true
		}
		return 0, false
	})
}

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
	def, err := columnDefinition(ctx, q, from, col)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s NULL", quote(to), quote(col), def), nil
}

// columnDefinition is a column's type as COLUMN_TYPE spells it, with its character set and collation.
func columnDefinition(ctx context.Context, q dialect.Querier, table, col string) (string, error) {
	var typ string
	var cs, co sql.NullString
	if err := q.QueryRowContext(ctx, queryColumnDefinition, table, col).Scan(&typ, &cs, &co); err != nil {
		return "", fmt.Errorf("reading the definition of %s.%s: %w", table, col, err)
	}
	def := typ
	if cs.Valid && co.Valid {
		def += " CHARACTER SET " + cs.String + " COLLATE " + co.String
	}
	return def, nil
}

// IndexColumn lets MySQL name the index (after the column).
func (Dialect) IndexColumn(table, col string) string {
	return fmt.Sprintf("ALTER TABLE %s ADD INDEX (%s)", quote(table), quote(col))
}
