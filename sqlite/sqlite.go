// Package sqlite is the SQLite dialect of sessionsec: the embedded default, built on the pure-Go
// modernc.org/sqlite driver (driver name "sqlite").
//
// SQLite has no stored routines. Importing this package registers, for every modernc.org/sqlite
// connection opened afterwards, the deterministic SQL function
//
//	session_security_hash(session_id, user_id, created_epoch)
//
// that the insert trigger and the backfill step call (it is schema.SecurityHash). Consequence: the
// SQLite migration set (migrations/sqlite) runs through this library, or through any program that
// imports this package, and NOT through the stock golang-migrate CLI binary, whose connections lack the
// function ("no such function: session_security_hash"). Likewise every program that inserts into the
// migrated sessions table must import this package (the insert trigger calls the function); a
// connection without it fails the INSERT.
//
// The procedures of the server dialects are Go functions here: Backfill, CleanupExpiredSecureSessions and
// UpdateSessionRiskScores.
//
// Rollback keeps history in fixed-name tables (SQLite cannot compute a table name in SQL):
// sessions_security_retired, session_audit_log_retired and sessions_archive_retired, each with a
// retired_at column; every rollback appends. DropEmptyRetired removes the ones that stayed empty.
//
// Locking across processes uses a row in the sessionsec_lock table (see TryLock).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4/database"
	msqlite "github.com/golang-migrate/migrate/v4/database/sqlite"
	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// MinVersion is the oldest SQLite the migrations support: ALTER TABLE DROP COLUMN (rollback) needs 3.35.
const MinVersion = "3.35.0"

// Dialect is the SQLite dialect.
type Dialect struct{}

// New returns the SQLite dialect.
func New() *Dialect { return &Dialect{} }

var _ dialect.Dialect = (*Dialect)(nil)

// Name is "sqlite", the folder of the migrations.
func (*Dialect) Name() string { return "sqlite" }

// Identify reads the SQLite library version and rejects versions older than MinVersion. The schema is
// always "main" (attached databases are not looked at).
func (*Dialect) Identify(ctx context.Context, q dialect.Querier) (dialect.Server, error) {
	var v string
	if err := q.QueryRowContext(ctx, qVersion).Scan(&v); err != nil {
		return dialect.Server{}, fmt.Errorf("sqlite: reading sqlite_version(): %w", err)
	}
	srv := dialect.Server{Flavor: "SQLite", Version: v, Schema: "main"}
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

// Driver returns golang-migrate's sqlite driver on db. That driver only has WithInstance(*sql.DB): it
// runs every file in a transaction of its own on a connection of db's pool, so conn (the pinned session
// holding the sessionsec_lock row) is not used by it. Consequences: db's pool must allow at least two
// connections (SetMaxOpenConns(1) would deadlock against the pinned conn), and pool connections should get
// a busy timeout from the DSN (e.g. "?_pragma=busy_timeout(10000)").
//
// The driver's own Close closes the *sql.DB; the returned driver wraps it so that Close is a no-op and
// the caller's pool is never closed. Its in-process Lock/Unlock stay as golang-migrate implements them.
func (*Dialect) Driver(_ context.Context, db *sql.DB, _ *sql.Conn, table string) (database.Driver, error) {
	// The core holds one pinned connection for the whole run and golang-migrate writes through the pool:
	// a single-connection pool would wait on itself forever. Say so instead.
	if db.Stats().MaxOpenConnections == 1 {
		return nil, errors.New("sqlite: the *sql.DB allows one connection (SetMaxOpenConns(1)); migrating needs two - raise the limit while Migrate runs, then lower it again")
	}
	drv, err := msqlite.WithInstance(db, &msqlite.Config{MigrationsTable: table})
	if err != nil {
		return nil, err
	}
	return noCloseDriver{drv}, nil
}

// noCloseDriver is a golang-migrate driver whose Close does not close the caller's *sql.DB.
type noCloseDriver struct{ database.Driver }

// Close does nothing: the *sql.DB belongs to the caller.
func (noCloseDriver) Close() error { return nil }

// PrepareSession sets the busy timeout of conn: how long a statement waits for another connection's
// write lock before failing with SQLITE_BUSY. lockWait <= 0 leaves the connection's setting.
func (*Dialect) PrepareSession(ctx context.Context, conn *sql.Conn, lockWait time.Duration) error {
	if lockWait <= 0 {
		return nil
	}
	_, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", lockWait.Milliseconds()))
	return err
}

// ReadVersion reads golang-migrate's migrations table (version, dirty) without locking.
func (*Dialect) ReadVersion(ctx context.Context, q dialect.Querier, table string) (dialect.VersionState, error) {
	var st dialect.VersionState
	var n int
	if err := q.QueryRowContext(ctx, qTableExists, table).Scan(&n); err != nil {
		return st, fmt.Errorf("sqlite: looking for the migrations table %q: %w", table, err)
	}
	if n == 0 {
		return st, nil
	}
	st.TableExists = true
	var v int64
	var dirty bool
	err := q.QueryRowContext(ctx, "SELECT version, dirty FROM "+quoteIdent(table)+" LIMIT 1").Scan(&v, &dirty)
	if errors.Is(err, sql.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("sqlite: reading the migrations table %q: %w", table, err)
	}
	if v >= 0 {
		st.Version, st.HasVersion = uint(v), true
	}
	st.Dirty = dirty
	return st, nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// IsAlreadyApplied reports a duplicate-object error from re-running an up step: "duplicate column
// name" (000002, one transaction) or "already exists".
func (*Dialect) IsAlreadyApplied(err error) bool {
	if err == nil {
		return false
	}
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "duplicate column name") || strings.Contains(msg, "already exists")
}

// IsLockTimeout reports SQLITE_BUSY / SQLITE_LOCKED ("database is locked"): another connection held the
// write lock longer than the busy timeout.
func (*Dialect) IsLockTimeout(err error) bool {
	if err == nil {
		return false
	}
	var se *modernc.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	// golang-migrate's database.Error has no Unwrap: fall back to the message.
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "sqlite_busy") ||
		strings.Contains(msg, "database table is locked")
}

// Repair does nothing: every SQLite step runs in one transaction, so a killed step leaves nothing behind.
func (*Dialect) Repair(context.Context, *sql.Conn, schema.Schema) ([]string, error) { return nil, nil }
