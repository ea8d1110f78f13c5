// Package dialect is the contract between the dialect-neutral core and the dialect packages (mysql,
// postgres, sqlite): small interfaces for what only a dialect knows - its catalog, its SQL, its lock, its
// error classes and the few rules that are really its own (grants, read-only, binary log). The rules
// that hold on every server live in the core and run over the facts a dialect reads (Catalog).
//
// A dialect registers itself from its package's init (Register), the way golang-migrate's drivers do.
package dialect

import (
	"context"
	"database/sql"
	"time"

	"github.com/agui-go/sessionsec/schema"
)

// Querier is what catalog reads need: a *sql.DB, *sql.Conn or *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Server describes the connected server, read once per call by Identify.
type Server struct {
	Flavor  string // "MySQL", "MariaDB", "PostgreSQL", "SQLite"
	Version string // as reported, e.g. "9.7.4", "10.11.19-MariaDB-0+deb12u1", "15.18"
	Schema  string // the database / schema the change lives in
	// Caps is the dialect's own capability value (flavor, version gates), built once by Identify and
	// read by the same dialect's other methods.
	Caps any
}

// String is "<flavor> <version>".
func (s Server) String() string { return s.Flavor + " " + s.Version }

// VersionState is what the migrations table says.
type VersionState struct {
	TableExists bool
	Version     uint // 0 when no row
	HasVersion  bool
	Dirty       bool
}

// Target is what SQL is rendered for: the layout, and the family of each column the SQL reads (a
// binary key is hashed as hex, a MySQL TIMESTAMP read as an instant, a PostgreSQL inet address through
// host(), a timestamp without time zone compared with UTC). The committed migration folders are rendered
// for the built-in layouts with the families of their declared types; the library renders for the
// table it finds.
type Target struct {
	Layout schema.Layout
	Names  schema.Names
	Kinds  map[string]Family // by column name: base columns and security columns
	// Types are the catalog's types (Column.Type) of the columns that exist, by name; a column the change
	// would create is absent. For the few spellings a family does not settle (PostgreSQL date).
	Types map[string]string
	// Extras are extension steps appended after the shipped ones.
	Extras []schema.Step
}

// NewTarget builds a target for layout l: each column's family comes from the catalog when the column
// exists (cat may be nil), otherwise from the type the change would create it with.
func NewTarget(d Renderer, l schema.Layout, cat *Catalog, extras ...schema.Step) Target {
	k := map[string]Family{}
	for _, c := range l.Base() {
		if c.Role == 0 || l.Has(c.Role) {
			k[l.ColumnName(c)] = d.Family(c.Types[d.Name()])
		}
	}
	for _, c := range schema.Change.Columns {
		k[c.Name] = d.Family(d.ColumnType(c.Type))
	}
	types := map[string]string{}
	if cat != nil {
		if t := cat.Tables[l.Table]; t != nil {
			for _, c := range t.Columns {
				k[c.Name] = c.Family
				types[c.Name] = c.Type
			}
		}
	}
	return Target{Layout: l, Names: schema.NamesFor(l.Table), Kinds: k, Types: types, Extras: extras}
}

// Col returns the column playing role r.
func (t Target) Col(r schema.Role) string { return t.Layout.Column(r) }

// Has reports whether the layout maps role r.
func (t Target) Has(r schema.Role) bool { return t.Layout.Has(r) }

// Kind returns the family of a column.
func (t Target) Kind(column string) Family { return t.Kinds[column] }

// RoleKind returns the family of the column playing role r.
func (t Target) RoleKind(r schema.Role) Family { return t.Kinds[t.Layout.Column(r)] }

// Steps is the whole step list of the target: the shipped steps and any extensions.
func (t Target) Steps() []schema.Step {
	return append(append([]schema.Step(nil), schema.Steps...), t.Extras...)
}

// Files are a step's two migration files.
type Files struct{ Up, Down string }

// Objects are the concrete objects a step creates, as the catalog reports them when they are right.
// Columns and tables are judged by the core from the schema declaration; these are the parts only the
// dialect can spell.
type Objects struct {
	Indexes  []*Index
	Triggers []*Trigger
	Routines []*Routine
	Checks   []*Check
}

// Identifier reads the server's identity and capabilities.
type Identifier interface {
	// Identify reads flavor, version and current schema, and rejects servers older than the gate
	// (a *ProblemError of KindUnsupportedServer).
	Identify(ctx context.Context, q Querier) (Server, error)
}

// Inspector reads catalog facts.
type Inspector interface {
	// Inspect reads the named tables (their columns, indexes, checks) and every trigger and routine of
	// the schema, in a fixed number of queries whatever the number of objects.
	Inspect(ctx context.Context, q Querier, srv Server, tables []string) (*Catalog, error)
	// Retired counts the rows of every table of the schema whose name starts with prefix: the copies of
	// history a rollback keeps.
	Retired(ctx context.Context, q Querier, srv Server, prefix string) (map[string]int64, error)
	// TableColumns lists the column names of every base table of the schema, in one query: how a
	// session table of a known layout under another name is found.
	TableColumns(ctx context.Context, q Querier, srv Server) (map[string][]string, error)
}

// Renderer writes the dialect's SQL from the declaration.
type Renderer interface {
	// Name is the dialect name and the folder of its migrations under migrations/.
	Name() string
	// Family maps a type as declared (schema.Layout, ColumnType) to its family.
	Family(declaredType string) Family
	// ColumnType is the concrete type the change creates a column of logical type t with.
	ColumnType(t schema.Type) string
	// Render writes a step's up and down files.
	Render(t Target, step schema.Step) (Files, error)
	// Released reports whether body is a definition of the trigger or routine name that an earlier
	// release of this change created: such an object is replaced, anything else with our name refused.
	Released(name, body string) bool
	// Objects lists what a step creates in the form Inspect reports it, for Validate and the
	// convergence checks, on the identified server (PostgreSQL bodies name its schema).
	Objects(t Target, step schema.Step, srv Server) Objects
}

// Locker is the migration lock, golang-migrate's own where it has one.
type Locker interface {
	// LockKey is golang-migrate's own advisory-lock key for this database and migrations table, so that
	// the library and the stock CLI exclude each other.
	LockKey(ctx context.Context, q Querier, table string) (string, error)
	// TryLock tries once to take the lock on conn; it must not block for more than about a second.
	TryLock(ctx context.Context, conn *sql.Conn, key string) (bool, error)
	// Unlock releases the lock taken on conn.
	Unlock(ctx context.Context, conn *sql.Conn, key string) error
}

// Migrator keeps golang-migrate's version table, on the pinned connection and bounded by ctx: not
// through golang-migrate's drivers, which run every statement with context.Background(), take a blocking
// session advisory lock when they open (it hangs through a pooler), and on SQLite run on the caller's
// pool rather than the pinned connection. The rows written are the ones golang-migrate writes (one row:
// version, dirty), so the stock CLI reads them as its own; the conformance suite proves it with
// golang-migrate's own driver.
type Migrator interface {
	// PrepareSession puts the pinned connection in a known state for migrating: bounded lock waits
	// (lock_wait_timeout / lock_timeout / busy_timeout), autocommit, a fixed sql_mode, and whatever else
	// the dialect's SQL relies on. The connection is discarded afterwards, so nothing leaks to the pool.
	PrepareSession(ctx context.Context, conn *sql.Conn, lockWait time.Duration) error
	// ReadVersion reads the migrations table without locking, in one round trip where possible.
	ReadVersion(ctx context.Context, q Querier, table string) (VersionState, error)
	// EnsureVersionTable creates golang-migrate's version table if it is missing, as golang-migrate does.
	EnsureVersionTable(ctx context.Context, q Querier, table string) error
	// SetVersion replaces the version row in one transaction on conn, as golang-migrate's SetVersion does.
	SetVersion(ctx context.Context, conn *sql.Conn, table string, version int, dirty bool) error
}

// Classifier sorts server errors.
type Classifier interface {
	// IsLockTimeout reports a lock-wait timeout or deadlock: the statement was rolled back whole and
	// is worth retrying.
	IsLockTimeout(err error) bool
	// IsRowConflict reports an error that one row causes and that leaves the others alone: a child row
	// (FOREIGN KEY ... RESTRICT) holds on to it, or a row with its key exists in the target table.
	IsRowConflict(err error) bool
	// Refusal reports a statement the server refused for lack of a privilege (KindPrivileges) or
	// because it is read-only (KindReadOnly), else 0: running it again as it is cannot help.
	Refusal(err error) Kind
	// Scrub returns err's message with anything that may be row data (quoted values) removed.
	Scrub(err error) string
}

// Checker holds the rules that are really the dialect's own.
type Checker interface {
	// Preflight returns what would stop the pending steps on this server: privileges, a read-only
	// server, MySQL's binary-log rule, storage features the online DDL cannot handle. It changes nothing.
	Preflight(ctx context.Context, q Querier, srv Server, t Target, cat *Catalog, pending []schema.Step) []Problem
}

// Spelling is the SQL the core writes itself (the maintenance batches, the seal's reads and writes, the
// metrics, the core's own bookkeeping table) in the dialect's words.
type Spelling interface {
	// Quote quotes an identifier.
	Quote(name string) string
	// Param is the n-th (1-based) bind parameter.
	Param(n int) string
	// Before is a predicate: column col, of family f, holds a time earlier than at (a UTC instant),
	// whatever the connection's time zone (the core runs on a prepared session).
	Before(col string, f Family, at time.Time) string
	// Isolation is the isolation level of a batch's transaction: READ COMMITTED where the server has
	// it, so that a batch locks the rows it changes and not every row its search passes over.
	Isolation() sql.IsolationLevel
	// DropTable is the statement that drops a table if it exists.
	DropTable(name string) string
}

// Dialect is what every dialect must supply: its identity, catalog, rendering, SQL spelling, version
// table, lock, error classes and own rules. Everything else is an optional capability (capability.go)
// that the core finds by type assertion, with one documented fallback each.
type Dialect interface {
	Identifier
	Inspector
	Renderer
	Spelling
	Locker
	Migrator
	Classifier
	Checker
}

// Registration is what a dialect package registers.
type Registration struct {
	// Name is what WithDialect selects the dialect by; empty means Dialect.Name(). A flavor - a type in
	// a package of its own that embeds a dialect and overrides or adds capabilities - registers under a
	// name of its own while its Name() stays the SQL family its files are rendered for ("mysql").
	Name    string
	Dialect Dialect
	// Drivers are the database/sql driver types (fmt's %T of db.Driver()) this dialect serves.
	Drivers []string
	// Import is the package path that registers it, for the "import this" error.
	Import string
}
