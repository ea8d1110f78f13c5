// Package mysql is the MySQL / MariaDB dialect of sessionsec: catalog queries, version gates, the
// golang-migrate lock key, error classification and the rendering of the logical schema into the form
// information_schema reports. Oracle MySQL >= 8.0.29 and MariaDB >= 10.6 are supported.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4/database"
	migratemysql "github.com/golang-migrate/migrate/v4/database/mysql"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// Dialect implements dialect.Dialect for Oracle MySQL and MariaDB.
type Dialect struct{}

// New returns the MySQL/MariaDB dialect.
func New() *Dialect { return &Dialect{} }

var _ dialect.Dialect = (*Dialect)(nil)

// Name is the folder of the migrations under migrations/.
func (*Dialect) Name() string { return "mysql" }

// Identify reads flavor, version and current database and rejects servers below the version gates.
func (d *Dialect) Identify(ctx context.Context, q dialect.Querier) (dialect.Server, error) {
	var version string
	var comment, db sql.NullString
	if err := q.QueryRowContext(ctx, queryIdentify).Scan(&version, &comment, &db); err != nil {
		return dialect.Server{}, fmt.Errorf("mysql: identify server: %w", err)
	}
	srv := dialect.Server{Flavor: flavorOf(version, comment.String), Version: version, Schema: db.String}
	if err := d.CheckVersion(srv); err != nil {
		return srv, err
	}
	if srv.Schema == "" {
		return srv, &dialect.ProblemError{Problem: dialect.Problem{
			Kind:    dialect.KindOther,
			Object:  "connection",
			Message: "no database selected (DATABASE() is NULL)",
			Fix:     "put the database name in the DSN, e.g. user:pass@tcp(host:3306)/appdb",
		}}
	}
	return srv, nil
}

// Driver wraps the pinned connection in golang-migrate's MySQL driver. It uses WithConnection, never
// WithInstance (whose Close would close the caller's pool); the driver's own GET_LOCK calls are
// re-entrant on this session, so when the caller already holds the lock (TryLock on conn) they return
// at once and leave the caller's hold unchanged.
func (*Dialect) Driver(ctx context.Context, _ *sql.DB, conn *sql.Conn, table string) (database.Driver, error) {
	drv, err := migratemysql.WithConnection(ctx, conn, &migratemysql.Config{MigrationsTable: table})
	if err != nil {
		return nil, fmt.Errorf("mysql: golang-migrate driver: %w", err)
	}
	return drv, nil
}

// PrepareSession bounds metadata-lock waits of DDL on conn (lock_wait_timeout, whole seconds, at least 1).
func (*Dialect) PrepareSession(ctx context.Context, conn *sql.Conn, lockWait time.Duration) error {
	secs := int64(math.Ceil(lockWait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(stmtSetLockWait, secs)); err != nil {
		return fmt.Errorf("mysql: set lock_wait_timeout: %w", err)
	}
	return nil
}

// ReadVersion reads golang-migrate's migrations table (version, dirty) without taking any lock. It is the
// whole of an up-to-date replica's start-up cost, so it is one query: a missing table (error 1146) is
// "nothing applied", not an error.
func (*Dialect) ReadVersion(ctx context.Context, q dialect.Querier, table string) (dialect.VersionState, error) {
	var st dialect.VersionState
	var version int64
	var dirty bool
	err := q.QueryRowContext(ctx, fmt.Sprintf(queryReadVersion, quoteIdent(table))).Scan(&version, &dirty)
	switch {
	case ErrorNumber(err) == errNoSuchTable:
		return st, nil
	case errors.Is(err, sql.ErrNoRows):
		st.TableExists = true
		return st, nil
	case err != nil:
		return st, fmt.Errorf("mysql: read migrations table %s: %w", table, err)
	}
	st.TableExists = true
	if version < 0 {
		// golang-migrate's NilVersion (-1) after Force(-1): nothing applied.
		st.Dirty = dirty
		return st, nil
	}
	st.Version, st.HasVersion, st.Dirty = uint(version), true, dirty
	return st, nil
}

// Repair has nothing to do on MySQL/MariaDB: every DDL step is atomic (InnoDB atomic DDL), and the
// routine / trigger steps use IF NOT EXISTS, so a re-run finishes whatever a killed step left.
func (*Dialect) Repair(context.Context, *sql.Conn, schema.Schema) ([]string, error) {
	return nil, nil
}

// quoteIdent quotes a MySQL identifier with backticks.
func quoteIdent(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}
