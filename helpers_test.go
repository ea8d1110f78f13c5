package sessionsec_test

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/internal/testdb"
	_ "github.com/agui-go/sessionsec/mysql"
	_ "github.com/agui-go/sessionsec/postgres"
	"github.com/agui-go/sessionsec/schema"
	_ "github.com/agui-go/sessionsec/sqlite"
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func mustMigrate(t testing.TB, db *sql.DB, opts ...sessionsec.Option) {
	t.Helper()
	if err := sessionsec.Migrate(ctxT(t), db, opts...); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
}

func mustRollback(t testing.TB, db *sql.DB, opts ...sessionsec.Option) {
	t.Helper()
	if _, err := rollback(ctxT(t), db, opts...); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
}

// rollback is Provider.Rollback on db, with opts parted as a package-level function parts them.
func rollback(ctx context.Context, db *sql.DB, opts ...sessionsec.Option) (*sessionsec.RollbackResult, error) {
	handle, call := sessionsec.SplitOptions(opts)
	p, err := sessionsec.New(db, handle...)
	if err != nil {
		return nil, err
	}
	return p.Rollback(ctx, call...)
}

// planOf is Provider.Plan on db.
func planOf(ctx context.Context, db *sql.DB) (*sessionsec.Plan, error) {
	p, err := sessionsec.New(db)
	if err != nil {
		return nil, err
	}
	return p.Plan(ctx)
}

func mustValidate(t testing.TB, db *sql.DB, opts ...sessionsec.Option) *sessionsec.Report {
	t.Helper()
	rep, err := sessionsec.Validate(ctxT(t), db, opts...)
	if err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("Validate returned no error but problems: %s", rep)
	}
	return rep
}

func requireT(t testing.TB, cond bool, format string, args ...any) {
	t.Helper()
	if !cond {
		t.Fatalf(format, args...)
	}
}

func mustExec(t testing.TB, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(ctxT(t), query, args...); err != nil {
		t.Fatalf("%s: %v", firstLine(query), err)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

func dialectOf(d *testdb.DB) dialect.Dialect { return dialect.MustLookup(d.Server.Dialect) }

// catalog reads the dialect's catalog facts for a session table and the change's tables.
func catalog(t testing.TB, d *testdb.DB, table string) *dialect.Catalog {
	t.Helper()
	dl := dialectOf(d)
	srv, err := dl.Identify(ctxT(t), d.DB)
	if err != nil {
		t.Fatal(err)
	}
	n := schema.NamesFor(table)
	cat, err := dl.Inspect(ctxT(t), d.DB, srv, []string{table, n.Archive, n.AuditLog})
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// catalogFingerprint is the full catalog of the change's tables as the dialect reads it.
func catalogFingerprint(t testing.TB, d *testdb.DB) string { return fingerprintOf(t, d, "sessions") }

func fingerprintOf(t testing.TB, d *testdb.DB, table string) string {
	t.Helper()
	cat := catalog(t, d, table)
	var b strings.Builder
	for _, name := range slices.Sorted(maps.Keys(cat.Tables)) {
		for _, c := range cat.Tables[name].Columns {
			fmt.Fprintf(&b, "%s.%s %s %t %v %q;", name, c.Name, c.Type, c.Nullable, deref(c.Default), c.Comment)
		}
	}
	for _, i := range cat.Indexes {
		fmt.Fprintf(&b, "idx %s %s %v %t %q %t;", i.Name, i.Table, i.Columns, i.Unique, i.Predicate, i.Valid)
	}
	for _, tr := range cat.Triggers {
		fmt.Fprintf(&b, "trg %s %s %s %s %x;", tr.Name, tr.Table, tr.Timing, tr.Event, dialect.NormalizeSpace(tr.Body))
	}
	for _, key := range slices.Sorted(maps.Keys(cat.Routines)) {
		fmt.Fprintf(&b, "rtn %s %s %x;", key, cat.Routines[key].Kind, dialect.NormalizeSpace(cat.Routines[key].Body))
	}
	for _, c := range cat.Checks {
		fmt.Fprintf(&b, "chk %s %s %t;", c.Name, c.Expr, c.Validated)
	}
	return b.String()
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// tableExists reports whether a table of that name exists in the connected schema.
func tableExists(t testing.TB, d *testdb.DB, name string) bool {
	t.Helper()
	var q string
	switch d.Server.Dialect {
	case "mysql":
		q = "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?"
	case "postgres":
		q = "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1"
	default:
		q = "SELECT COUNT(*) FROM sqlite_master WHERE name = ?"
	}
	var n int
	if err := d.DB.QueryRow(q, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}
