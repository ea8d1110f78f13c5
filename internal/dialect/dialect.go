// Package dialect is the contract between the dialect-neutral core (Migrate, Validate, Preflight) and the
// dialect packages (mysql, postgres, sqlite). Everything that differs between servers lives behind it.
package dialect

import (
	"context"
	"database/sql"
	"time"

	"github.com/golang-migrate/migrate/v4/database"

	"github.com/agui-go/sessionsec/schema"
)

// Querier is what catalog reads need: a *sql.DB, *sql.Conn or *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Server describes the connected server.
type Server struct {
	Flavor  string // "MySQL", "MariaDB", "PostgreSQL", "SQLite"
	Version string // as reported, e.g. "9.7.0", "10.11.6-MariaDB-0+deb12u1", "15.8"
	Schema  string // the connected database / schema, the only one Validate looks at
}

// VersionState is what the migrations table says, read without taking the lock.
type VersionState struct {
	TableExists bool
	Version     uint // 0 when no row
	HasVersion  bool
	Dirty       bool
}

// Dialect is one family of servers (MySQL+MariaDB, PostgreSQL, SQLite).
type Dialect interface {
	// Name is the dialect name and the folder of its migrations under migrations/.
	Name() string

	// Identify reads flavor, version and current schema, and rejects servers older than the gate
	// (a *ProblemError of KindUnsupportedServer).
	Identify(ctx context.Context, q Querier) (Server, error)

	// Driver wraps the pinned connection in golang-migrate's database driver without taking any lock
	// and without ever closing db. table is the migrations table.
	Driver(ctx context.Context, db *sql.DB, conn *sql.Conn, table string) (database.Driver, error)

	// LockKey is golang-migrate's own advisory-lock key for this database and migrations table, so that
	// the library and the stock CLI exclude each other.
	LockKey(ctx context.Context, q Querier, table string) (string, error)
	// TryLock tries once to take the lock on conn; it must not block for more than about a second.
	TryLock(ctx context.Context, conn *sql.Conn, key string) (bool, error)
	// Unlock releases the lock taken on conn.
	Unlock(ctx context.Context, conn *sql.Conn, key string) error
	// LockHolders counts sessions holding the lock (diagnostics and tests).
	LockHolders(ctx context.Context, q Querier, key string) (int, error)

	// PrepareSession bounds how long DDL on conn waits for table locks (lock_wait_timeout / lock_timeout),
	// so that a queued ALTER never freezes the application behind a long transaction.
	PrepareSession(ctx context.Context, conn *sql.Conn, lockWait time.Duration) error

	// ReadVersion reads the migrations table without locking.
	ReadVersion(ctx context.Context, q Querier, table string) (VersionState, error)

	// Snapshot reads the catalog of the connected schema for the named tables, in a fixed number of
	// queries whatever the number of objects.
	Snapshot(ctx context.Context, q Querier, tables []string) (*Snapshot, error)
	// Expected renders the logical schema into the form Snapshot reports.
	Expected(s schema.Schema) *Snapshot

	// Preflight returns what would stop the migration on this server (privileges, read-only server,
	// binary-log routine restrictions, unsupported column types). It changes nothing.
	Preflight(ctx context.Context, q Querier, s schema.Schema, snap *Snapshot) []Problem

	// IsAlreadyApplied reports whether err, from re-running an up step after a crash, proves that the step
	// had already been applied (duplicate column / index / object). Only single-statement atomic steps
	// rely on it.
	IsAlreadyApplied(err error) bool
	// IsLockTimeout reports whether err is a lock-wait timeout that is worth retrying.
	IsLockTimeout(err error) bool
	// Repair undoes what a killed step can leave behind that a re-run would not fix (PostgreSQL: an
	// INVALID index from an interrupted CREATE INDEX CONCURRENTLY). It returns what it did, for the log.
	Repair(ctx context.Context, conn *sql.Conn, s schema.Schema) ([]string, error)
}

// Snapshot is the concrete, normalized catalog form shared by Expected and Snapshot.
// Types are lower-case (e.g. "char(64)", "varchar(255)", "datetime(6)", "timestamp with time zone");
// defaults are normalized by the dialect (e.g. "0", "1", "now"); nil Default means none.
type Snapshot struct {
	Tables   map[string]*Table
	Indexes  map[string]*Index // by index name
	Triggers map[string]*Trigger
	Routines map[string]*Routine // by lower-case name
	Checks   map[string]*Check   // by constraint name
}

// Table is one table and its columns in ordinal order.
type Table struct {
	Name    string
	Columns []*Column
}

// Column returns the named column, or nil.
func (t *Table) Column(name string) *Column {
	for _, c := range t.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Column is one column.
type Column struct {
	Name     string
	Type     string
	Nullable bool
	Default  *string
	Comment  string
}

// Index is one index.
type Index struct {
	Table     string
	Name      string
	Columns   []string
	Unique    bool
	Predicate string // normalized partial-index predicate, "" for none
	Valid     bool   // PostgreSQL indisvalid; true elsewhere
}

// Trigger is one trigger. Body is the normalized action text; BodyContains (expected side only) lists
// fragments the body must contain (the risk-score rule on MySQL).
type Trigger struct {
	Name         string
	Table        string
	Timing       string
	Event        string
	Body         string
	BodyContains []string
}

// Routine is one stored routine.
type Routine struct {
	Name string
	Kind string // "PROCEDURE" or "FUNCTION"
}

// Check is one CHECK constraint.
type Check struct {
	Table     string
	Name      string
	Expr      string // normalized
	Validated bool
}

// NewSnapshot returns an empty snapshot.
func NewSnapshot() *Snapshot {
	return &Snapshot{
		Tables:   map[string]*Table{},
		Indexes:  map[string]*Index{},
		Triggers: map[string]*Trigger{},
		Routines: map[string]*Routine{},
		Checks:   map[string]*Check{},
	}
}
