// Package postgres is the PostgreSQL dialect of sessionsec: golang-migrate driver wiring, golang-migrate's
// own advisory-lock key, catalog snapshots, preflight checks, error classification and the repair of
// INVALID indexes left by an interrupted CREATE INDEX CONCURRENTLY.
//
// It works with any database/sql driver that speaks to PostgreSQL (lib/pq "postgres", pgx stdlib "pgx").
package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/golang-migrate/migrate/v4/database"
	mpg "github.com/golang-migrate/migrate/v4/database/postgres"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// Dialect is the PostgreSQL dialect. The zero value is ready to use.
type Dialect struct{}

// New returns the PostgreSQL dialect.
func New() *Dialect { return &Dialect{} }

var _ dialect.Dialect = (*Dialect)(nil)

// Name is the dialect name and the folder of its migrations.
func (*Dialect) Name() string { return "postgres" }

// Identify reads version and current schema and rejects servers older than PostgreSQL 12.
func (d *Dialect) Identify(ctx context.Context, q dialect.Querier) (dialect.Server, error) {
	var (
		version string
		num     int
		schema  sql.NullString
	)
	if err := q.QueryRowContext(ctx, queryIdentify).Scan(&version, &num, &schema); err != nil {
		return dialect.Server{}, fmt.Errorf("postgres: identify server: %w", err)
	}
	srv := dialect.Server{Flavor: "PostgreSQL", Version: version, Schema: schema.String}
	if err := d.checkVersion(num, version); err != nil {
		return srv, err
	}
	if !schema.Valid {
		return srv, &dialect.ProblemError{Problem: dialect.Problem{
			Kind:    dialect.KindOther,
			Object:  "search_path",
			Message: "no current schema: current_schema() is NULL (search_path names no existing schema)",
			Fix:     "set search_path to the schema that holds (or will hold) the sessions table",
		}}
	}
	return srv, nil
}

// Driver wraps conn in golang-migrate's postgres driver with WithConnection (never WithInstance: its
// Close would close the caller's pool). DatabaseName is "/"+current_database(), like the stock CLI, so
// the advisory-lock key is the CLI's. Note that WithConnection creates the migrations table if needed
// under golang-migrate's own (blocking, re-entrant) advisory lock: take TryLock on conn first.
func (*Dialect) Driver(ctx context.Context, _ *sql.DB, conn *sql.Conn, table string) (database.Driver, error) {
	var db string
	if err := conn.QueryRowContext(ctx, queryCurrentDatabase).Scan(&db); err != nil {
		return nil, fmt.Errorf("postgres: read current database: %w", err)
	}
	drv, err := mpg.WithConnection(ctx, conn, &mpg.Config{
		MigrationsTable: table,
		DatabaseName:    "/" + db,
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: migrate driver: %w", err)
	}
	return drv, nil
}

// PrepareSession sets a session-level lock_timeout on conn, so that DDL waiting behind a long
// transaction gives up (SQLSTATE 55P03) instead of queueing every later query on the table.
func (*Dialect) PrepareSession(ctx context.Context, conn *sql.Conn, lockWait time.Duration) error {
	ms := lockWait.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("SET lock_timeout = '%dms'", ms)); err != nil {
		return fmt.Errorf("postgres: set lock_timeout: %w", err)
	}
	return nil
}

// ReadVersion reads golang-migrate's table in current_schema() without any lock.
func (*Dialect) ReadVersion(ctx context.Context, q dialect.Querier, table string) (dialect.VersionState, error) {
	var st dialect.VersionState
	var schema sql.NullString
	if err := q.QueryRowContext(ctx, queryMigrationsTableExists, table).Scan(&st.TableExists, &schema); err != nil {
		return st, fmt.Errorf("postgres: look for migrations table %q: %w", table, err)
	}
	if !st.TableExists {
		return st, nil
	}
	var (
		version int64
		dirty   bool
	)
	query := "SELECT version, dirty FROM " + quoteIdent(schema.String) + "." + quoteIdent(table) + " LIMIT 1"
	err := q.QueryRowContext(ctx, query).Scan(&version, &dirty)
	switch {
	case err == sql.ErrNoRows:
		return st, nil
	case err != nil:
		return st, fmt.Errorf("postgres: read migrations table %q: %w", table, err)
	}
	if version >= 0 {
		st.Version = uint(version)
		st.HasVersion = true
	}
	st.Dirty = dirty
	return st, nil
}
