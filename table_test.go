package sessionsec_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
)

// recordedTable reads the session table the change recorded for the default migrations table ("" when
// there is no row or no table).
func recordedTable(t testing.TB, d *testdb.DB) string {
	t.Helper()
	if !tableExists(t, d, sessionsec.TargetTable) {
		return ""
	}
	var table string
	err := d.DB.QueryRow("SELECT session_table FROM "+sessionsec.TargetTable+" WHERE migrations_table = "+ph(d, 1),
		sessionsec.DefaultMigrationsTable).Scan(&table)
	if errors.Is(err, sql.ErrNoRows) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return table
}

// requireWrongTable checks a refusal: ErrWrongTable through errors.Is and *TableError through
// errors.As, and a message that names every table given and the exact fix for the API and the command.
func requireWrongTable(t testing.TB, what string, err error, mention ...string) {
	t.Helper()
	var te *sessionsec.TableError
	if !errors.Is(err, sessionsec.ErrWrongTable) || !errors.As(err, &te) {
		t.Fatalf("%s: want ErrWrongTable, got %v", what, err)
	}
	for _, m := range mention {
		if !strings.Contains(err.Error(), m) {
			t.Fatalf("%s: the message does not mention %q:\n%v", what, m, err)
		}
	}
}

// everyCall runs each call that takes the session table with opts and returns its error.
func everyCall(ctx context.Context, db *sql.DB, opts ...sessionsec.Option) map[string]error {
	out := map[string]error{}
	out["Migrate"] = sessionsec.Migrate(ctx, db, opts...)
	out["Preflight"] = sessionsec.Preflight(ctx, db, opts...)
	_, out["Validate"] = sessionsec.Validate(ctx, db, opts...)
	_, out["Status"] = sessionsec.Status(ctx, db, opts...)
	_, out["Cleanup"] = sessionsec.Cleanup(ctx, db, opts...)
	_, out["UpdateRiskScores"] = sessionsec.UpdateRiskScores(ctx, db, opts...)
	_, out["Archive"] = sessionsec.Archive(ctx, db, opts...)
	_, out["PruneAudit"] = sessionsec.PruneAudit(ctx, db, opts...)
	_, out["ReadMetrics"] = sessionsec.ReadMetrics(ctx, db, opts...)
	_, out["Rollback"] = rollback(ctx, db, opts...) // last: were it let through, it would undo the change
	return out
}

// TestTableUnderAnotherName (issue 19 item 1): a database whose only session table is the AG-UI SDK's
// under another name. With no table named, Migrate creates nothing and refuses with the table found
// and the fix; once the change is on that table (and recorded), every call with no table or another
// table refuses the same way and changes nothing; after a complete rollback the record is gone.
func TestTableUnderAnotherName(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		ctx := ctxT(t)
		s := sdk{t: t, d: d, db: d.DB, table: "agui_sessions"}
		s.create()
		now := time.Now().UTC().Truncate(time.Second)
		for _, x := range s.rows(20, now) {
			s.insert(x)
		}
		before := fingerprintOf(t, d, "agui_sessions")
		fix := []string{"agui_sessions (agui layout)", `WithTable("agui_sessions")`, "-table agui_sessions", "sessions"}
		requireWrongTable(t, "Migrate with no table", sessionsec.Migrate(ctx, d.DB), fix...)
		requireWrongTable(t, "Preflight with no table", sessionsec.Preflight(ctx, d.DB), fix...)
		_, err := sessionsec.Validate(ctx, d.DB)
		requireWrongTable(t, "Validate with no table", err, fix...)
		requireT(t, !tableExists(t, d, "sessions"), "Migrate created an empty sessions table")
		requireT(t, !tableExists(t, d, sessionsec.TargetTable), "a refused Migrate recorded a table")
		requireT(t, fingerprintOf(t, d, "agui_sessions") == before, "a refused Migrate changed the database")
		if st, err := sessionsec.Status(ctx, d.DB); err != nil || st.HasVersion || st.Dirty {
			t.Fatalf("a refused Migrate left a version: %+v %v", st, err)
		}

		on := sessionsec.WithTable("agui_sessions")
		mustMigrate(t, d.DB, on)
		requireT(t, recordedTable(t, d) == "agui_sessions", "recorded %q, want agui_sessions", recordedTable(t, d))
		mustValidate(t, d.DB, on)
		migrated := fingerprintOf(t, d, "agui_sessions")

		for _, other := range [][]sessionsec.Option{nil, {sessionsec.WithTable("other_sessions")}} {
			requested := "sessions"
			if other != nil {
				requested = "other_sessions"
			}
			for call, err := range everyCall(ctx, d.DB, other...) {
				requireWrongTable(t, call+" on "+requested, err, "table "+requested, "on table agui_sessions", `WithTable("agui_sessions")`, "-table agui_sessions")
			}
		}
		requireT(t, !tableExists(t, d, "sessions") && !tableExists(t, d, "other_sessions"), "a refused call created a table")
		requireT(t, fingerprintOf(t, d, "agui_sessions") == migrated, "a refused call changed the database")
		if st, err := sessionsec.Status(ctx, d.DB, on); err != nil || st.Version != 22 || st.Dirty {
			t.Fatalf("status after the refusals: %+v %v", st, err)
		}
		mustValidate(t, d.DB, on)

		// A database the stock CLI or an older release migrated has no record: the triggers tell the table.
		mustExec(t, d.DB, "DROP TABLE "+sessionsec.TargetTable)
		requireWrongTable(t, "Migrate with no table and no record", sessionsec.Migrate(ctx, d.DB), "on table agui_sessions", "its triggers are on it")
		_, err = sessionsec.Validate(ctx, d.DB)
		requireWrongTable(t, "Validate with no table and no record", err, "on table agui_sessions")
		mustMigrate(t, d.DB, on, sessionsec.WithReapply()) // records the table again
		requireT(t, recordedTable(t, d) == "agui_sessions", "Migrate did not record the table again")

		mustRollback(t, d.DB, on)
		requireT(t, !tableExists(t, d, sessionsec.TargetTable), "a complete rollback left %s", sessionsec.TargetTable)
		mustValidate(t, d.DB, on, sessionsec.ExpectRolledBack())
		requireWrongTable(t, "Migrate with no table after the rollback", sessionsec.Migrate(ctx, d.DB), fix...)
		requireT(t, !tableExists(t, d, "sessions"), "Migrate created an empty sessions table")
	})
}

// TestFreshDatabaseCreatesSessions: with no session table at all, Migrate with no table still
// creates sessions, and records it; a table of no known layout is not taken for a session table.
func TestFreshDatabaseCreatesSessions(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		mustExec(t, d.DB, "CREATE TABLE users (id VARCHAR(64) PRIMARY KEY, user_id VARCHAR(64), created_at VARCHAR(32))")
		mustMigrate(t, d.DB)
		requireT(t, tableExists(t, d, "sessions"), "sessions was not created")
		requireT(t, recordedTable(t, d) == "sessions", "recorded %q, want sessions", recordedTable(t, d))
		mustValidate(t, d.DB)
		mustMigrate(t, d.DB) // the start-up fast path
		mustMigrate(t, d.DB, sessionsec.WithTable("sessions"))
		// A row that the triggers contradict (the stock CLI moved the change without knowing of it): the
		// triggers tell where the change is.
		mustExec(t, d.DB, "UPDATE "+sessionsec.TargetTable+" SET session_table = 'elsewhere'")
		mustMigrate(t, d.DB)
		mustValidate(t, d.DB)
		_, err := rollback(ctxT(t), d.DB, sessionsec.WithTable("elsewhere"))
		requireWrongTable(t, "Rollback of the table a stale row names", err, "on table sessions", "its triggers are on it")
		mustRollback(t, d.DB)
		mustValidate(t, d.DB, sessionsec.ExpectRolledBack())
		requireT(t, !tableExists(t, d, sessionsec.TargetTable), "a complete rollback left %s", sessionsec.TargetTable)
	})
}

// TestRollbackOfAnotherTable (issue 19 item 2): Rollback on a table the change was never applied to -
// one of a known layout, one that does not exist - refuses up front: no routine dropped, the version
// neither moved nor dirtied, with or without the record.
func TestRollbackOfAnotherTable(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		ctx := ctxT(t)
		mustMigrate(t, d.DB)
		s := sdk{t: t, d: d, db: d.DB, table: "other"}
		s.create()
		migrated := catalogFingerprint(t, d)
		check := func(what string) {
			t.Helper()
			for _, table := range []string{"other", "no_such_table"} {
				_, err := rollback(ctx, d.DB, sessionsec.WithTable(table))
				requireWrongTable(t, what+": Rollback of "+table, err, "table "+table, `WithTable("sessions")`, "-table sessions")
				p, perr := sessionsec.New(d.DB, sessionsec.WithTable(table))
				if perr != nil {
					t.Fatal(perr)
				}
				_, err = p.Rollback(ctx, sessionsec.WithTargetVersion(5))
				requireWrongTable(t, what+": Provider.Rollback of "+table, err, "table "+table)
			}
			requireT(t, catalogFingerprint(t, d) == migrated, "%s: a refused Rollback changed the database", what)
			if st, err := sessionsec.Status(ctx, d.DB); err != nil || st.Version != 22 || st.Dirty {
				t.Fatalf("%s: status after the refused Rollback: %+v %v", what, st, err)
			}
			mustValidate(t, d.DB)
		}
		check("recorded")
		mustExec(t, d.DB, "DROP TABLE "+sessionsec.TargetTable)
		check("not recorded")
	})
}
