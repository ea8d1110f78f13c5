// Package dialecttest is the conformance suite of the dialect contract (internal/dialect): what every
// dialect and flavor must do on a real server, checked through the contract's own methods, the way
// golang-migrate's database/testing and goose's lock/locktesting check their drivers.
//
// A dialect package runs it from its own tests on each of its servers:
//
//	func TestConformance(t *testing.T) {
//		dialecttest.Run(t, postgres.Dialect{}, dialecttest.Server(server), dialecttest.Options{ReadOnly: ...})
//	}
//
// The cases (named subtests, so `-run 'TestConformance/.*/Lock'` picks one):
//
//   - Layouts/<layout>_<table>: the dialect's rendered up files, for each layout (the spec's, the AG-UI SDK's, a
//     custom mapping on another table), applied by golang-migrate through the dialect's Driver on a
//     prepared, pinned connection - as the library and the stock CLI run them - on a table holding
//     sessions; then Inspect must report exactly the declaration's objects (schema.Change's columns with
//     their families, nullability and defaults; the layout's base columns and indexes; every step's
//     Objects: indexes, triggers, routines, checks), the backfill and the insert trigger must have
//     filled every row, and ReadVersion must say the last version, clean. Then the down files: nothing of
//     the change may be left (columns, indexes, triggers, routines, checks, the audit log and the
//     archive), every session row must survive, the security data must be kept in the rollback's copy
//     (Retired), and ReadVersion must say "no version".
//   - ReadVersion: a missing migrations table is "nothing applied", not an error.
//   - DriverKeepsPool: Driver creates the migrations table, and its Close leaves the caller's pool open.
//   - Lock: the lock excludes across two pools: TryLock on one pool's connection, TryLock on another
//     pool's connection fails (within about a second), Unlock, then the other succeeds.
//   - Errors/LockTimeout: a DDL statement blocked by another session's open write transaction fails
//     within the lock wait PrepareSession set, and IsLockTimeout says so (also through golang-migrate's
//     database.Error and fmt's %w); Errors/RowConflict: a duplicate key and an ON DELETE RESTRICT child
//     row are IsRowConflict and not lock timeouts; Errors/ReadOnly: on a read-only session (Options.ReadOnly) Preflight reports KindReadOnly
//     and a write really fails.
//   - Scrub: server errors that carry a value (a duplicate key, a bad cast) lose it in Scrub, also when
//     golang-migrate's database.Error embeds the statement.
//
// The lock cases use only LockKey, TryLock and Unlock, one small function each, so that another lock
// (a lease, a pooler-safe lock) adds its cases beside them.
package dialecttest

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/internal/testdb"
	"github.com/agui-go/sessionsec/schema"
)

// DB is a fresh, empty database on the server under test.
type DB struct {
	// DB is a pool on it. The suite never closes it.
	DB *sql.DB
	// Open opens another, independent pool on the same database (another replica, another process),
	// closed when the test ends.
	Open func(t testing.TB) *sql.DB
	// Driver and DSN open it again, with other settings (Options.ReadOnly).
	Driver, DSN string
}

// Opener returns a fresh, empty database; it skips or fails t when the server is not there (the rule of
// internal/testdb). The suite calls it once per case.
type Opener func(t testing.TB) *DB

// Server is the Opener of a fresh database on one of internal/testdb's servers (skipped or failed, by
// testdb's rules, when its DSN is not set).
func Server(s testdb.Server) Opener {
	return func(t testing.TB) *DB {
		d := testdb.New(t, s)
		return &DB{DB: d.DB, Open: d.Open, Driver: d.DriverName, DSN: d.DSN}
	}
}

// Options are what the suite cannot find out by itself about a server.
type Options struct {
	// ReadOnly opens a pool on db whose sessions cannot write (a session default, a query-only
	// connection, a standby), for Errors/ReadOnly. nil skips that case with ReadOnlySkip as the reason.
	ReadOnly func(t testing.TB, db *DB) *sql.DB
	// ReadOnlySkip says why the server has no read-only session the suite can provoke without
	// disturbing other tests (required when ReadOnly is nil).
	ReadOnlySkip string
	// FilesPool opens the pool golang-migrate runs the rendered files on, as the stock CLI would
	// (nil: db.DB). MySQL's CLI always sets multiStatements, which a trigger revision's file needs.
	FilesPool func(t testing.TB, db *DB) *sql.DB
	// Stock opens golang-migrate's own driver for the dialect - the one the stock CLI runs the
	// committed folders with - on conn where the driver can take a connection (WithConnection), else on
	// db (SQLite's has only WithInstance). The suite applies the rendered files through it and checks
	// that the version rows the dialect's Migrator writes are the ones the driver reads. Required. The
	// suite never closes the driver (WithInstance's Close would close db).
	Stock func(ctx context.Context, db *sql.DB, conn *sql.Conn, table string) (database.Driver, error)
}

// migrationsTable is the migrations table of the suite's runs (golang-migrate's default name).
const migrationsTable = "schema_migrations"

// lockWait is the bound PrepareSession is given: short, so that the lock-timeout case is quick.
const lockWait = time.Second

// Layouts are the layouts the suite applies: the two built-in ones, and a custom mapping with both
// optional roles on a table of another name (derived object names, a layout without a base of its own).
func Layouts() []schema.Layout {
	custom := schema.Spec.Map(map[schema.Role]string{schema.RoleIP: "client_ip", schema.RoleActive: "active"}).WithTable("app_sessions")
	return []schema.Layout{schema.Spec, schema.AGUI, custom}
}

// Run runs every case on fresh databases from open.
func Run(t *testing.T, d dialect.Dialect, open Opener, opts Options) {
	if opts.Stock == nil {
		t.Fatal("dialecttest: Options.Stock is nil: give golang-migrate's own driver for the dialect")
	}
	t.Run("Layouts", func(t *testing.T) {
		for _, l := range Layouts() {
			t.Run(l.Name+"_"+l.Table, func(t *testing.T) { testLayout(t, d, open(t), l, opts) })
		}
	})
	t.Run("ReadVersion", func(t *testing.T) { testReadVersionMissing(t, d, open(t)) })
	t.Run("VersionTable", func(t *testing.T) { testVersionTable(t, d, open(t), opts) })
	t.Run("Lock", func(t *testing.T) { testLockAcrossPools(t, d, open(t)) })
	if l, ok := d.(dialect.Leaser); ok {
		t.Run("Lease", func(t *testing.T) {
			db := open(t)
			RunLease(t, l, db.DB, db.Open(t))
		})
	}
	t.Run("Errors", func(t *testing.T) {
		t.Run("LockTimeout", func(t *testing.T) { testLockTimeout(t, d, open(t)) })
		t.Run("RowConflict", func(t *testing.T) { testRowConflict(t, d, open(t)) })
		t.Run("ReadOnly", func(t *testing.T) {
			if opts.ReadOnly == nil {
				if opts.ReadOnlySkip == "" {
					t.Fatal("dialecttest: Options.ReadOnly is nil and ReadOnlySkip gives no reason")
				}
				t.Skip("skipping: " + opts.ReadOnlySkip)
			}
			db := open(t)
			testReadOnly(t, d, db, opts.ReadOnly(t, db))
		})
	})
	t.Run("Scrub", func(t *testing.T) { testScrub(t, d, open(t)) })
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func exec(t testing.TB, q dialect.Querier, query string) {
	t.Helper()
	if _, err := q.ExecContext(ctxT(t), query); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// pinned returns a connection of db prepared for migrating, discarded (not pooled) when the test ends.
func pinned(t testing.TB, d dialect.Dialect, db *sql.DB) *sql.Conn {
	t.Helper()
	conn, err := db.Conn(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if err := d.PrepareSession(ctxT(t), conn, lockWait); err != nil {
		t.Fatalf("PrepareSession: %v", err)
	}
	return conn
}

// Files renders every step of target t as golang-migrate files, the way the committed folders hold them.
func Files(d dialect.Renderer, t dialect.Target) (fstest.MapFS, error) {
	fsys := fstest.MapFS{}
	for _, step := range t.Steps() {
		f, err := d.Render(t, step)
		if err != nil {
			return nil, fmt.Errorf("render step %d: %w", step.Version, err)
		}
		up, down := step.FileNames(t.Names.Table)
		fsys[up] = &fstest.MapFile{Data: []byte(f.Up)}
		fsys[down] = &fstest.MapFile{Data: []byte(f.Down)}
	}
	return fsys, nil
}

// migrator is golang-migrate over the rendered files and golang-migrate's own driver (Options.Stock) on
// a pinned, prepared connection: the stock CLI's way of running the committed folders.
func migrator(t testing.TB, d dialect.Dialect, db *sql.DB, target dialect.Target, opts Options) *migrate.Migrate {
	t.Helper()
	fsys, err := Files(d, target)
	if err != nil {
		t.Fatal(err)
	}
	src, err := iofs.New(fsys, ".")
	if err != nil {
		t.Fatal(err)
	}
	conn := pinned(t, d, db)
	drv, err := opts.Stock(ctxT(t), db, conn, migrationsTable)
	if err != nil {
		t.Fatalf("golang-migrate's driver: %v", err)
	}
	m, err := migrate.NewWithInstance("iofs", src, d.Name(), drv)
	if err != nil {
		t.Fatal(err)
	}
	// Not m.Close(): the driver's Close would close the connection (or, on a driver built on the pool,
	// the caller's *sql.DB); the pinned connection is closed by pinned's cleanup.
	return m
}

// Catalog identifies the server and reads the catalog of a session table and the change's other tables
// (its archive, the audit log), failing t on an error.
func Catalog(t testing.TB, d dialect.Dialect, q dialect.Querier, table string) (dialect.Server, *dialect.Catalog) {
	t.Helper()
	srv, err := d.Identify(ctxT(t), q)
	if err != nil {
		t.Fatalf("Identify: %v", err)
	}
	n := schema.NamesFor(table)
	cat, err := d.Inspect(ctxT(t), q, srv, []string{table, n.Archive, n.AuditLog})
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	return srv, cat
}

// sessionKeys lists the session table's keys, sorted.
func sessionKeys(t testing.TB, q dialect.Querier, l schema.Layout) []string {
	t.Helper()
	rows, err := q.QueryContext(ctxT(t), "SELECT "+l.Column(schema.RoleKey)+" FROM "+l.Table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

// insertSession inserts a session with fixed, valid values for the layout's roles. The values are
// literals every dialect parses (a wall-clock time, a documentation IPv4 address).
func insertSession(t testing.TB, q dialect.Querier, l schema.Layout, key string) {
	t.Helper()
	cols := []string{l.Column(schema.RoleKey), l.Column(schema.RoleUser), l.Column(schema.RoleCreated),
		l.Column(schema.RoleLastAccessed), l.Column(schema.RoleExpires)}
	vals := []string{"'" + key + "'", "'user-" + key + "'", "'2026-01-02 03:04:05'", "'2026-01-02 04:05:06'", "'2030-01-01 00:00:00'"}
	if l.Has(schema.RoleIP) {
		cols, vals = append(cols, l.Column(schema.RoleIP)), append(vals, "'192.0.2.1'")
	}
	exec(t, q, "INSERT INTO "+l.Table+" ("+strings.Join(cols, ", ")+") VALUES ("+strings.Join(vals, ", ")+")")
}

func testLayout(t *testing.T, d dialect.Dialect, db *DB, l schema.Layout, opts Options) {
	target := dialect.NewTarget(d, l, nil)
	pool := db.DB
	if opts.FilesPool != nil {
		pool = opts.FilesPool(t, db)
	}
	m := migrator(t, d, pool, target, opts)
	n := target.Names

	// Step 1 creates the session table; it then holds sessions before the change, as in production.
	if err := m.Migrate(1); err != nil {
		t.Fatalf("up to step 1: %v", err)
	}
	before := []string{"conform-1", "conform-2", "conform-3"}
	for _, k := range before {
		insertSession(t, db.DB, l, k)
	}
	if err := m.Up(); err != nil {
		t.Fatalf("up: %v", err)
	}
	insertSession(t, db.DB, l, "conform-4") // through the insert trigger
	want := append(before, "conform-4")

	srv, cat := Catalog(t, d, db.DB, l.Table)
	for _, p := range UpProblems(d, srv, target, cat) {
		t.Errorf("after up: %s", p)
	}
	var unfilled int
	if err := db.DB.QueryRowContext(ctxT(t), "SELECT COUNT(*) FROM "+l.Table+" WHERE security_hash IS NULL").Scan(&unfilled); err != nil {
		t.Fatal(err)
	}
	if unfilled != 0 {
		t.Errorf("after up: %d sessions without security_hash (the backfill or the insert trigger did not fill them)", unfilled)
	}
	checkVersion(t, d, db.DB, dialect.VersionState{TableExists: true, HasVersion: true, Version: target.Steps()[len(target.Steps())-1].Version})

	if err := m.Down(); err != nil {
		t.Fatalf("down: %v", err)
	}
	srv, cat = Catalog(t, d, db.DB, l.Table)
	for _, p := range DownProblems(d, srv, target, cat) {
		t.Errorf("after down: %s", p)
	}
	if got := sessionKeys(t, db.DB, l); !slices.Equal(got, want) {
		t.Errorf("after down: sessions %v, want %v (a rollback must keep every session)", got, want)
	}
	// The prefix without its trailing "_", as the core asks: SQLite keeps one fixed-name copy table.
	copyPrefix := strings.TrimSuffix(n.SecurityCopy, "_")
	kept, err := d.Retired(ctxT(t), db.DB, srv, copyPrefix)
	if err != nil {
		t.Fatalf("Retired: %v", err)
	}
	var rows int64
	for _, c := range kept {
		rows += c
	}
	if rows != int64(len(want)) {
		t.Errorf("after down: the copies of the security data (%s*) hold %d rows (%v), want %d", copyPrefix, rows, kept, len(want))
	}
	checkVersion(t, d, db.DB, dialect.VersionState{TableExists: true})
}

func checkVersion(t testing.TB, d dialect.Dialect, q dialect.Querier, want dialect.VersionState) {
	t.Helper()
	got, err := d.ReadVersion(ctxT(t), q, migrationsTable)
	if err != nil {
		t.Fatalf("ReadVersion: %v", err)
	}
	if got != want {
		t.Errorf("ReadVersion = %+v, want %+v", got, want)
	}
}

// UpProblems compares the catalog after every step of target ran with the declaration: the layout's base
// columns and indexes, schema.Change's columns (family of the type the dialect creates, nullability,
// default, comment) and audit-log columns, the archive's columns, and every step's Objects (indexes,
// triggers, routines, checks) against what Inspect reports. It returns what differs, nothing when all
// is right.
func UpProblems(d dialect.Dialect, srv dialect.Server, target dialect.Target, cat *dialect.Catalog) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	l, n := target.Layout, target.Names
	tbl := cat.Tables[n.Table]
	if tbl == nil {
		return []string{"table " + n.Table + " missing"}
	}
	for _, bc := range l.Base() {
		name := l.ColumnName(bc)
		c := tbl.Column(name)
		switch {
		case c == nil:
			add("base column %s.%s missing", n.Table, name)
		case c.Family != d.Family(bc.Types[d.Name()]):
			add("base column %s.%s: family %v (type %s), the layout declares %s (family %v)", n.Table, name, c.Family, c.Type, bc.Types[d.Name()], d.Family(bc.Types[d.Name()]))
		}
	}
	for _, bi := range l.BaseIndexes() {
		name := bi.Name(d.Name(), n.Table)
		if ix := cat.Index(n.Table, name); ix == nil {
			add("base index %s missing", name)
		} else if !slices.Equal(ix.Columns, bi.ColumnsIn(l)) {
			add("base index %s on %v, want %v", name, ix.Columns, bi.ColumnsIn(l))
		}
	}
	out = append(out, columnProblems(d, n.Table, tbl, schema.Change.Columns, true)...)
	audit := cat.Tables[n.AuditLog]
	if audit == nil {
		add("table %s missing", n.AuditLog)
	} else {
		out = append(out, columnProblems(d, n.AuditLog, audit, schema.Change.AuditColumns, false)...)
	}
	if arch := cat.Tables[n.Archive]; arch == nil {
		add("table %s missing", n.Archive)
	} else {
		for _, c := range tbl.Columns {
			if arch.Column(c.Name) == nil {
				add("archive %s lacks %s", n.Archive, c.Name)
			}
		}
	}
	top := target.Steps()[len(target.Steps())-1].Version
	for _, step := range target.Steps() {
		if schema.Superseded(target.Steps(), step, top) {
			continue // a later step installed another revision of this trigger
		}
		objs := d.Objects(target, step, srv)
		for _, w := range objs.Indexes {
			g := cat.Index(w.Table, w.Name)
			switch {
			case g == nil:
				add("step %d: index %s on %s missing", step.Version, w.Name, w.Table)
			case !g.Valid:
				add("step %d: index %s is not valid", step.Version, w.Name)
			case !slices.Equal(g.Columns, w.Columns) || g.Unique != w.Unique || !sameText(g.Predicate, w.Predicate):
				add("step %d: index %s is %v unique=%t where %q, Objects says %v unique=%t where %q", step.Version, w.Name,
					g.Columns, g.Unique, g.Predicate, w.Columns, w.Unique, w.Predicate)
			}
		}
		for _, w := range objs.Triggers {
			g := cat.Trigger(w.Table, w.Name)
			switch {
			case g == nil:
				add("step %d: trigger %s on %s missing", step.Version, w.Name, w.Table)
			case !strings.EqualFold(g.Timing, w.Timing) || !strings.EqualFold(g.Event, w.Event):
				add("step %d: trigger %s is %s %s, Objects says %s %s", step.Version, w.Name, g.Timing, g.Event, w.Timing, w.Event)
			case !sameText(g.Body, w.Body):
				add("step %d: trigger %s: the catalog's body differs from Objects'\ncatalog: %s\nObjects: %s", step.Version, w.Name,
					dialect.NormalizeSpace(g.Body), dialect.NormalizeSpace(w.Body))
			}
		}
		for _, w := range objs.Routines {
			g := cat.Routine(w.Name)
			switch {
			case g == nil:
				add("step %d: %s %s missing", step.Version, w.Kind, w.Name)
			case !strings.EqualFold(g.Kind, w.Kind):
				add("step %d: %s is a %s, Objects says %s", step.Version, w.Name, g.Kind, w.Kind)
			case !sameText(g.Body, w.Body):
				add("step %d: %s: the catalog's body differs from Objects'\ncatalog: %s\nObjects: %s", step.Version, w.Name,
					dialect.NormalizeSpace(g.Body), dialect.NormalizeSpace(w.Body))
			}
		}
		for _, w := range objs.Checks {
			g := cat.Check(w.Name)
			switch {
			case g == nil:
				add("step %d: check %s missing", step.Version, w.Name)
			case !sameText(g.Expr, w.Expr):
				add("step %d: check %s is %q, Objects says %q", step.Version, w.Name, g.Expr, w.Expr)
			case w.Validated && !g.Validated:
				add("step %d: check %s is NOT VALID", step.Version, w.Name)
			}
		}
	}
	return out
}

// columnProblems compares a table's columns with the declaration's: the family of the type the
// dialect creates, nullability (where strict), the default and the comment.
func columnProblems(d dialect.Dialect, table string, tbl *dialect.Table, cols []schema.Column, strict bool) []string {
	var out []string
	defaults := map[schema.Default]string{schema.DefaultOne: "1", schema.DefaultZero: "0"}
	for _, w := range cols {
		g := tbl.Column(w.Name)
		if g == nil {
			out = append(out, fmt.Sprintf("column %s.%s missing", table, w.Name))
			continue
		}
		if fam := d.Family(d.ColumnType(w.Type)); g.Family != fam {
			out = append(out, fmt.Sprintf("column %s.%s: family %v (type %s), the declaration's type %s is family %v", table, w.Name, g.Family, g.Type, d.ColumnType(w.Type), fam))
		}
		if strict && g.Nullable != w.Nullable {
			out = append(out, fmt.Sprintf("column %s.%s: nullable %t, declared %t", table, w.Name, g.Nullable, w.Nullable))
		}
		if wd, ok := defaults[w.Default]; ok && (g.Default == nil || *g.Default != wd) {
			out = append(out, fmt.Sprintf("column %s.%s: default %v, declared %s", table, w.Name, deref(g.Default), wd))
		}
		if g.Comment != "" && g.Comment != w.Comment {
			out = append(out, fmt.Sprintf("column %s.%s: comment %q, declared %q", table, w.Name, g.Comment, w.Comment))
		}
	}
	return out
}

// DownProblems lists what is left of the change after every down step ran: security columns, the audit
// log and the archive (empty here: nothing to keep), every step's indexes, triggers, routines and
// checks, and any trigger or index named after the table or on a security column. A lost base column
// is reported too.
func DownProblems(d dialect.Dialect, srv dialect.Server, target dialect.Target, cat *dialect.Catalog) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	n := target.Names
	tbl := cat.Tables[n.Table]
	if tbl == nil {
		return []string{"table " + n.Table + " was dropped: the session table must survive a rollback"}
	}
	for _, c := range schema.Change.Columns {
		if tbl.Column(c.Name) != nil {
			add("column %s.%s left", n.Table, c.Name)
		}
	}
	for _, bc := range target.Layout.Base() {
		if tbl.Column(target.Layout.ColumnName(bc)) == nil {
			add("base column %s.%s lost", n.Table, target.Layout.ColumnName(bc))
		}
	}
	for _, name := range []string{n.AuditLog, n.Archive} {
		if cat.Tables[name] != nil {
			add("table %s left (empty: nothing to keep)", name)
		}
	}
	for _, step := range target.Steps() {
		objs := d.Objects(target, step, srv)
		for _, ix := range objs.Indexes {
			if cat.Index(ix.Table, ix.Name) != nil {
				add("index %s left", ix.Name)
			}
		}
		for _, tr := range objs.Triggers {
			if cat.Trigger("", tr.Name) != nil {
				add("trigger %s left", tr.Name)
			}
		}
		for _, r := range objs.Routines {
			if cat.Routine(r.Name) != nil {
				add("%s %s left", r.Kind, r.Name)
			}
		}
		for _, c := range objs.Checks {
			if cat.Check(c.Name) != nil {
				add("check %s left", c.Name)
			}
		}
	}
	// Whatever the dialect names after the table or the change and the catalog still reports.
	for _, tr := range cat.Triggers {
		if strings.HasPrefix(tr.Name, n.Table+"_") {
			add("trigger %s left", tr.Name)
		}
	}
	for _, ix := range cat.TableIndexes(n.Table) {
		if strings.HasPrefix(ix.Name, "idx_"+n.Table+"_security") || slices.ContainsFunc(ix.Columns, func(c string) bool {
			_, ours := schema.Change.Column(c)
			return ours
		}) {
			add("index %s left", ix.Name)
		}
	}
	return out
}

func sameText(a, b string) bool {
	return strings.EqualFold(dialect.NormalizeSpace(a), dialect.NormalizeSpace(b))
}

func deref(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}

func testReadVersionMissing(t *testing.T, d dialect.Dialect, db *DB) {
	checkVersion(t, d, db.DB, dialect.VersionState{})
}

// testVersionTable: the Migrator keeps golang-migrate's version table as golang-migrate's own driver
// does, in both directions: what SetVersion writes the driver reads, what the driver writes ReadVersion
// reads, and EnsureVersionTable accepts a table the driver created (and itself, again).
func testVersionTable(t *testing.T, d dialect.Dialect, db *DB, opts Options) {
	c := pinned(t, d, db.DB)
	for range 2 {
		if err := d.EnsureVersionTable(ctxT(t), c, migrationsTable); err != nil {
			t.Fatalf("EnsureVersionTable: %v", err)
		}
	}
	checkVersion(t, d, db.DB, dialect.VersionState{TableExists: true})
	drv, err := opts.Stock(ctxT(t), db.DB, pinned(t, d, db.DB), migrationsTable)
	if err != nil {
		t.Fatalf("golang-migrate's driver on the table EnsureVersionTable made: %v", err)
	}
	stock := func(wantV int, wantDirty bool) {
		t.Helper()
		v, dirty, err := drv.Version()
		if err != nil || v != wantV || dirty != wantDirty {
			t.Errorf("golang-migrate reads (%d, %v, %v), want (%d, %v)", v, dirty, err, wantV, wantDirty)
		}
	}
	for _, w := range []struct {
		v     int
		dirty bool
		want  dialect.VersionState
	}{
		{5, true, dialect.VersionState{TableExists: true, HasVersion: true, Version: 5, Dirty: true}},
		{22, false, dialect.VersionState{TableExists: true, HasVersion: true, Version: 22}},
		// golang-migrate's nil version: no row when clean, a dirty row when dirty (its issue #330).
		{database.NilVersion, false, dialect.VersionState{TableExists: true}},
	} {
		if err := d.SetVersion(ctxT(t), c, migrationsTable, w.v, w.dirty); err != nil {
			t.Fatalf("SetVersion(%d, %v): %v", w.v, w.dirty, err)
		}
		checkVersion(t, d, db.DB, w.want)
		stock(w.v, w.dirty)
	}
	if err := drv.SetVersion(7, true); err != nil {
		t.Fatalf("golang-migrate's SetVersion: %v", err)
	}
	checkVersion(t, d, db.DB, dialect.VersionState{TableExists: true, HasVersion: true, Version: 7, Dirty: true})
	if err := d.SetVersion(ctxT(t), c, migrationsTable, 8, false); err != nil {
		t.Fatalf("SetVersion over golang-migrate's row: %v", err)
	}
	stock(8, false)
	if err := db.DB.PingContext(ctxT(t)); err != nil {
		t.Fatalf("the caller's pool: %v", err)
	}
}

// Lock cases: each uses only the Locker methods, so that another lock adds its own beside them.

func conn(t testing.TB, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// tryLock calls TryLock and checks that it answered within its bound (about a second; 5s of slack for
// a loaded machine).
func tryLock(t testing.TB, d dialect.Locker, c *sql.Conn, key string) bool {
	t.Helper()
	start := time.Now()
	ok, err := d.TryLock(ctxT(t), c, key)
	if err != nil {
		t.Fatalf("TryLock: %v", err)
	}
	if el := time.Since(start); el > 6*time.Second {
		t.Errorf("TryLock took %v: it must not block for more than about a second", el)
	}
	return ok
}

func unlock(t testing.TB, d dialect.Locker, c *sql.Conn, key string) {
	t.Helper()
	if err := d.Unlock(ctxT(t), c, key); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
}

func testLockAcrossPools(t *testing.T, d dialect.Dialect, db *DB) {
	a, b := conn(t, db.DB), conn(t, db.Open(t))
	key, err := d.LockKey(ctxT(t), a, migrationsTable)
	if err != nil {
		t.Fatalf("LockKey: %v", err)
	}
	if other, err := d.LockKey(ctxT(t), b, migrationsTable); err != nil || other != key {
		t.Fatalf("LockKey on another pool = %q, %v; want %q: pools of one database must agree on the key", other, err, key)
	}
	if !tryLock(t, d, a, key) {
		t.Fatal("TryLock on a free lock failed")
	}
	if tryLock(t, d, b, key) {
		t.Fatal("TryLock on another pool's connection succeeded while the first held the lock")
	}
	unlock(t, d, a, key)
	if !tryLock(t, d, b, key) {
		t.Fatal("TryLock on another pool's connection failed after Unlock")
	}
	if tryLock(t, d, a, key) {
		t.Fatal("TryLock succeeded while the other pool held the lock")
	}
	unlock(t, d, b, key)
}

// Error classes.

// probeTable is a small table every dialect's SQL can create and write.
const probeTable = "conform_probe"

func createProbe(t testing.TB, q dialect.Querier) {
	t.Helper()
	exec(t, q, "CREATE TABLE "+probeTable+" (id INTEGER NOT NULL PRIMARY KEY, k VARCHAR(100), v INTEGER)")
	exec(t, q, "INSERT INTO "+probeTable+" (id, k, v) VALUES (1, 'one', 0)")
}

// wrappings are the forms a server error reaches the classifier in: as the driver returns it, wrapped
// with %w, and inside golang-migrate's database.Error (which has no Unwrap), as drv.Run returns it.
func wrappings(err error, query string) map[string]error {
	return map[string]error{
		"raw":            err,
		"%w":             fmt.Errorf("step 7: %w", err),
		"database.Error": database.Error{OrigErr: err, Err: "migration failed", Query: []byte(query)},
	}
}

func testLockTimeout(t *testing.T, d dialect.Dialect, db *DB) {
	createProbe(t, db.DB)
	// The blocker: an open write transaction on another pool, as an application's long transaction.
	blocker, err := db.Open(t).BeginTx(ctxT(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = blocker.Rollback() }()
	if _, err := blocker.ExecContext(ctxT(t), "UPDATE "+probeTable+" SET v = 1 WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	c := pinned(t, d, db.DB)
	const ddl = "ALTER TABLE " + probeTable + " ADD COLUMN w INTEGER"
	start := time.Now()
	_, err = c.ExecContext(ctxT(t), ddl)
	el := time.Since(start)
	if err == nil {
		t.Fatal("ALTER TABLE succeeded while another session had an open write transaction on the table")
	}
	if el > 8*time.Second {
		t.Errorf("the blocked ALTER TABLE failed after %v: PrepareSession(%v) must bound the wait", el, lockWait)
	}
	for how, e := range wrappings(err, ddl) {
		if !d.IsLockTimeout(e) {
			t.Errorf("IsLockTimeout(%s %v) = false", how, err)
		}
	}
	if d.IsRowConflict(err) {
		t.Errorf("IsRowConflict(%v) = true for a lock timeout", err)
	}
}

func testRowConflict(t *testing.T, d dialect.Dialect, db *DB) {
	createProbe(t, db.DB)
	c := pinned(t, d, db.DB)
	if d.Name() == "sqlite" {
		// SQLite enforces foreign keys only on connections that ask for it (the application's choice).
		exec(t, c, "PRAGMA foreign_keys = ON")
	}
	exec(t, c, "CREATE TABLE conform_child (id INTEGER NOT NULL PRIMARY KEY, probe_id INTEGER NOT NULL, "+
		"FOREIGN KEY (probe_id) REFERENCES "+probeTable+" (id) ON DELETE RESTRICT)")
	exec(t, c, "INSERT INTO conform_child (id, probe_id) VALUES (1, 1)")
	for what, stmt := range map[string]string{
		"a duplicate key":                  "INSERT INTO " + probeTable + " (id, k, v) VALUES (1, 'again', 0)",
		"a child row (ON DELETE RESTRICT)": "DELETE FROM " + probeTable + " WHERE id = 1",
	} {
		_, err := c.ExecContext(ctxT(t), stmt)
		if err == nil {
			t.Errorf("%s: %s succeeded", what, stmt)
			continue
		}
		for _, e := range []error{err, fmt.Errorf("batch: %w", err)} {
			if !d.IsRowConflict(e) {
				t.Errorf("IsRowConflict(%v) = false for %s", e, what)
			}
		}
		if d.IsLockTimeout(err) {
			t.Errorf("IsLockTimeout(%v) = true for %s", err, what)
		}
	}
}

func testReadOnly(t *testing.T, d dialect.Dialect, db *DB, ro *sql.DB) {
	srv, cat := Catalog(t, d, ro, schema.Spec.Table)
	target := dialect.NewTarget(d, schema.Spec, cat)
	problems := d.Preflight(ctxT(t), ro, srv, target, cat, target.Steps())
	if !slices.ContainsFunc(problems, func(p dialect.Problem) bool { return p.Kind == dialect.KindReadOnly }) {
		t.Errorf("Preflight on a read-only session reported no KindReadOnly problem: %+v", problems)
	}
	if _, err := ro.ExecContext(ctxT(t), "CREATE TABLE conform_ro (id INTEGER)"); err == nil {
		t.Error("the read-only session could create a table: the case provoked nothing")
	}
	// The same database read-write: no read-only problem (the answer depends on the session).
	srv, cat = Catalog(t, d, db.DB, schema.Spec.Table)
	for _, p := range d.Preflight(ctxT(t), db.DB, srv, target, cat, target.Steps()) {
		if p.Kind == dialect.KindReadOnly {
			t.Errorf("Preflight on a read-write session: %+v", p)
		}
	}
}

func testScrub(t *testing.T, d dialect.Dialect, db *DB) {
	createProbe(t, db.DB)
	const secret = "conform-secret-4711"
	c := pinned(t, d, db.DB) // the migration session's settings (MySQL: a strict sql_mode)
	statements := []string{
		// a duplicate key: MySQL quotes the value in the message, PostgreSQL in DETAIL
		"INSERT INTO " + probeTable + " (id, k) VALUES (2, '" + secret + "')",
		"INSERT INTO " + probeTable + " (id, k) VALUES (2, '" + secret + "')",
		// a value the column's type cannot take: MySQL and PostgreSQL quote it
		"UPDATE " + probeTable + " SET v = '" + secret + "' WHERE id = 1",
	}
	failed := 0
	for i, stmt := range statements {
		_, err := c.ExecContext(ctxT(t), stmt)
		if i == 0 {
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err == nil {
			continue // SQLite stores text in an INTEGER column
		}
		failed++
		for how, e := range wrappings(err, stmt) {
			got := d.Scrub(e)
			if got == "" {
				t.Errorf("Scrub(%s) is empty", how)
			}
			if strings.Contains(got, secret) {
				t.Errorf("Scrub(%s) = %q: it keeps the value", how, got)
			}
		}
	}
	if failed == 0 {
		t.Fatal("no statement failed: the case provoked nothing")
	}
}
