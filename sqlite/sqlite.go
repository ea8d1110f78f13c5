// Package sqlite is the SQLite dialect of sessionsec, the embedded default, on the pure-Go
// modernc.org/sqlite driver (driver name "sqlite"). Importing it registers the dialect:
//
//	import _ "github.com/agui-go/sessionsec/sqlite"
//
// SQLite has no stored routines. Importing this package also registers, for every modernc.org/sqlite
// connection opened afterwards, the deterministic SQL functions the triggers and the backfill call
// (funcs.go): session_security_hash, sessionsec_epoch (which reads every time text the common Go
// SQLite drivers write) and sessionsec_ip_hash. So the SQLite migrations run through this package (or
// any program that imports it), not through the stock golang-migrate CLI, and every program that writes
// the session table must import it too: the insert trigger calls the functions.
//
// The maintenance routines of the server dialects are Go code here (the core's maintenance tasks).
// Rollback keeps history in fixed-name tables (SQLite cannot compute a table name in SQL):
// <table>_security_retired, session_audit_log_retired and <table>_archive_retired, each with a
// retired_at column; every rollback appends.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// MinVersion is the oldest SQLite the migrations support: ALTER TABLE DROP COLUMN (rollback) needs 3.35.
const MinVersion = "3.35.0"

// Dialect implements dialect.Dialect for SQLite.
type Dialect struct{}

// The contract, and the optional capabilities this dialect has (internal/dialect/capability.go).
var (
	_ dialect.Dialect         = Dialect{}
	_ dialect.ColumnConverger = Dialect{}
	_ dialect.Planner         = Dialect{}
	_ dialect.Maintainer      = Dialect{}
	_ dialect.FileRunner      = Dialect{}
	_ dialect.SealReader      = Dialect{}
)

func init() {
	dialect.Register(dialect.Registration{
		Dialect: Dialect{},
		Drivers: []string{"*sqlite.Driver"},
		Import:  "github.com/agui-go/sessionsec/sqlite",
	})
}

// Name is "sqlite", the folder of the migrations.
func (Dialect) Name() string { return "sqlite" }

// Caps is what the identified library can do, read once by Identify.
type Caps struct {
	file string // the main database file ("" for an in-memory database)
}

func capsOf(srv dialect.Server) Caps {
	c, _ := srv.Caps.(Caps)
	return c
}

// Identify reads the SQLite library version and the main database file, and rejects versions older
// than MinVersion. The schema is always "main" (attached databases are not looked at).
func (Dialect) Identify(ctx context.Context, q dialect.Querier) (dialect.Server, error) {
	var v, file string
	if err := q.QueryRowContext(ctx, qIdentify).Scan(&v, &file); err != nil {
		return dialect.Server{}, fmt.Errorf("sqlite: reading sqlite_version(): %w", err)
	}
	srv := dialect.Server{Flavor: "SQLite", Version: v, Schema: "main", Caps: Caps{file: file}}
	if versionLess(v, MinVersion) {
		return srv, &dialect.ProblemError{Problem: dialect.Problem{
			Kind:    dialect.KindUnsupportedServer,
			Object:  "SQLite " + v,
			Message: "SQLite " + MinVersion + " or newer is required (ALTER TABLE DROP COLUMN)",
			Fix:     "upgrade modernc.org/sqlite",
		}}
	}
	return srv, nil
}

// versionLess compares dotted numeric versions.
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// PrepareSession sets the busy timeout of conn: how long a statement waits for another connection's
// write lock before failing with SQLITE_BUSY.
func (Dialect) PrepareSession(ctx context.Context, conn *sql.Conn, lockWait time.Duration) error {
	if lockWait <= 0 {
		return nil
	}
	_, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", lockWait.Milliseconds()))
	return err
}

// ReadVersion reads golang-migrate's migrations table (version, dirty) without locking.
func (Dialect) ReadVersion(ctx context.Context, q dialect.Querier, table string) (dialect.VersionState, error) {
	var st dialect.VersionState
	var v int64
	var dirty bool
	err := q.QueryRowContext(ctx, "SELECT version, dirty FROM "+quote(table)+" LIMIT 1").Scan(&v, &dirty)
	switch {
	case err != nil && strings.Contains(err.Error(), "no such table"):
		return st, nil
	case errors.Is(err, sql.ErrNoRows):
		st.TableExists = true
		return st, nil
	case err != nil:
		return st, fmt.Errorf("sqlite: reading the migrations table %q: %w", table, err)
	}
	st.TableExists = true
	if v >= 0 {
		st.Version, st.HasVersion = uint(v), true
	}
	st.Dirty = dirty
	return st, nil
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
