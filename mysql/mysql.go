// Package mysql is the MySQL / MariaDB dialect of sessionsec. Importing it registers the dialect for
// go-sql-driver/mysql connections:
//
//	import _ "github.com/agui-go/sessionsec/mysql"
//
// It holds the catalog queries (inspect.go), the SQL of every step rendered from the declaration
// (render.go, routines.go), the convergence of partially applied steps (converge.go), golang-migrate's
// lock key (lock.go), error classes (errors.go) and the MySQL-only preflight rules (preflight.go).
// Oracle MySQL >= 8.0.29 and MariaDB >= 10.6 are supported.
package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// Dialect implements dialect.Dialect for Oracle MySQL and MariaDB.
type Dialect struct{}

// The contract, and the optional capabilities this dialect has (internal/dialect/capability.go).
var (
	_ dialect.Dialect         = Dialect{}
	_ dialect.ColumnConverger = Dialect{}
	_ dialect.Replacer        = Dialect{}
	_ dialect.LeftoverCleaner = Dialect{}
	_ dialect.Drifter         = Dialect{}
	_ dialect.Planner         = Dialect{}
	_ dialect.Backfiller      = Dialect{}
	_ dialect.Maintainer      = Dialect{}
	_ dialect.RowLocker       = Dialect{}
	_ dialect.Heartbeater     = Dialect{}
	_ dialect.Leaser          = Dialect{}
	_ dialect.SealReader      = Dialect{}
)

func init() {
	dialect.Register(dialect.Registration{
		Dialect: Dialect{},
		Drivers: []string{"*mysql.MySQLDriver"},
		Import:  "github.com/agui-go/sessionsec/mysql",
	})
}

// Name is the folder of the migrations under migrations/.
func (Dialect) Name() string { return "mysql" }

// Identify reads flavor, version and current database and rejects servers below the version gates.
func (Dialect) Identify(ctx context.Context, q dialect.Querier) (dialect.Server, error) {
	var v string
	var comment, db sql.NullString
	if err := q.QueryRowContext(ctx, queryIdentify).Scan(&v, &comment, &db); err != nil {
		return dialect.Server{}, fmt.Errorf("mysql: identify server: %w", err)
	}
	ver, ok := parseVersion(v)
	caps := Caps{flavor: flavorOf(v, comment.String), version: ver}
	srv := dialect.Server{Flavor: caps.flavor, Version: v, Schema: db.String, Caps: caps}
	if err := checkVersion(srv, caps, ok); err != nil {
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

// sessionSQLMode is the sql_mode the migration session runs with: the stored routines and triggers keep
// the sql_mode they were created under, so it must not be whatever the caller's DSN set (ANSI_QUOTES,
// PIPES_AS_CONCAT and NO_BACKSLASH_ESCAPES would change what the routines mean).
const sessionSQLMode = "STRICT_TRANS_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"

// PrepareSession bounds metadata-lock waits of DDL on conn (lock_wait_timeout, whole seconds) and
// puts the session in a known state: autocommit on (golang-migrate's version writes fail with 1568
// inside an open transaction), a fixed sql_mode, UTC.
func (Dialect) PrepareSession(ctx context.Context, conn *sql.Conn, lockWait time.Duration) error {
	secs := max(int64(math.Ceil(lockWait.Seconds())), 1)
	if _, err := conn.ExecContext(ctx, fmt.Sprintf(stmtPrepareSession, secs, sessionSQLMode)); err != nil {
		return fmt.Errorf("mysql: preparing the session: %w", err)
	}
	return nil
}

// ReadVersion reads golang-migrate's migrations table (version, dirty) without taking any lock. It is
// the whole of an up-to-date replica's start-up cost, so it is one query: a missing table (error 1146)
// is "nothing applied", not an error.
func (Dialect) ReadVersion(ctx context.Context, q dialect.Querier, table string) (dialect.VersionState, error) {
	var st dialect.VersionState
	var v int64
	var dirty bool
	err := q.QueryRowContext(ctx, fmt.Sprintf(queryReadVersion, quote(table))).Scan(&v, &dirty)
	switch {
	case errorNumber(err) == errNoSuchTable:
		return st, nil
	case errors.Is(err, sql.ErrNoRows):
		st.TableExists = true
		return st, nil
	case err != nil:
		return st, fmt.Errorf("mysql: read migrations table %s: %w", table, err)
	}
	st.TableExists = true
	st.Dirty = dirty
	if v >= 0 { // golang-migrate's NilVersion (-1) after Force(-1): nothing applied
		st.Version, st.HasVersion = uint(v), true
	}
	return st, nil
}

// quote quotes a MySQL identifier with backticks.
func quote(name string) string { return "`" + strings.ReplaceAll(name, "`", "``") + "`" }

// literal quotes a string literal that needs no backslash escapes (names, fixed texts).
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
