package sessionsec_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
)

// TestKillMatrix SIGKILLs a migrating process at every step boundary and a few milliseconds into every
// step, and deep into the long steps on a bigger table. The step list comes from the embedded set, so a
// new step is covered automatically. After each crash a plain Migrate must finish the job with no manual
// Force, Validate must pass and the pre-existing rows' base columns must be byte-identical.
func TestKillMatrix(t *testing.T) {
	for _, s := range testdb.Servers {
		t.Run(s.Name, func(t *testing.T) {
			steps := sessionsec.Steps("sessions")
			type kill struct {
				step  sessionsec.Step
				phase string
				delay time.Duration
				rows  int
			}
			var plan []kill
			for _, st := range steps {
				plan = append(plan, kill{st, "before-up", 0, 300}, kill{st, "mid", 5 * time.Millisecond, 300})
				if st.Long && !testing.Short() {
					plan = append(plan, kill{st, "mid", 150 * time.Millisecond, 30_000}, kill{st, "mid", 600 * time.Millisecond, 30_000})
				}
			}
			plan = append(plan, kill{steps[len(steps)-1], "after-up", 0, 300})
			for _, k := range plan {
				name := fmt.Sprintf("%06d_%s/%s+%v/%drows", k.step.Version, k.step.Name, k.phase, k.delay, k.rows)
				t.Run(name, func(t *testing.T) {
					d := testdb.New(t, s)
					createExisting(t, d, k.rows)
					before, n := baseChecksum(t, d)
					out, err := childCmd(d, fmt.Sprintf("SESSIONSEC_KILL_VERSION=%d", k.step.Version),
						"SESSIONSEC_KILL_PHASE="+k.phase, "SESSIONSEC_KILL_DELAY="+k.delay.String()).CombinedOutput()
					if err != nil && !killedBySignal(err) {
						t.Fatalf("child failed instead of being killed: %v\n%s", err, out)
					}
					st, serr := sessionsec.Status(ctxT(t), d.DB)
					if serr == nil {
						t.Logf("after the kill: version %d dirty %t (killed=%t)", st.Version, st.Dirty, err != nil)
					}
					mustMigrate(t, d.DB)
					mustValidate(t, d.DB)
					if after, m := baseChecksum(t, d); after != before || m != n {
						t.Fatalf("base rows changed: %d -> %d rows", n, m)
					}
				})
			}
		})
	}
}

// TestServerSideKill ends the migrating session on the server (KILL / pg_terminate_backend) while a step
// runs - this rolls the running statement back, unlike a client crash - and checks that a plain Migrate
// then finishes.
func TestServerSideKill(t *testing.T) {
	for _, s := range testdb.Servers {
		if s.Dialect == "sqlite" {
			continue // no server
		}
		t.Run(s.Name, func(t *testing.T) {
			for _, st := range sessionsec.Steps("sessions") {
				if !st.Long {
					continue
				}
				t.Run(fmt.Sprintf("%06d_%s", st.Version, st.Name), func(t *testing.T) {
					d := testdb.New(t, s)
					createExisting(t, d, 30_000)
					before, n := baseChecksum(t, d)
					killer := d.Open(t)
					var killed atomic.Int32
					hook := func(v uint, phase string) {
						if v != st.Version || phase != "before-up" {
							return
						}
						go func() {
							deadline := time.Now().Add(20 * time.Second)
							for time.Now().Before(deadline) && killed.Load() == 0 {
								if killActiveQuery(d, killer) {
									killed.Add(1)
									return
								}
								time.Sleep(2 * time.Millisecond)
							}
						}()
					}
					err := sessionsec.Migrate(ctxT(t), d.Open(t), sessionsec.WithStepHook(hook))
					t.Logf("Migrate with its connection killed (killed=%d): %v", killed.Load(), err)
					if killed.Load() > 0 && err == nil {
						t.Log("the step finished before the kill took effect")
					}
					mustMigrate(t, d.DB)
					mustValidate(t, d.DB)
					if after, m := baseChecksum(t, d); after != before || m != n {
						t.Fatalf("base rows changed: %d -> %d rows", n, m)
					}
				})
			}
		})
	}
}

// killActiveQuery ends the server session running a statement in d's database, other than killer's own.
func killActiveQuery(d *testdb.DB, killer *sql.DB) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var id int64
	var err error
	switch d.Server.Dialect {
	case "mysql":
		err = killer.QueryRowContext(ctx, `SELECT ID FROM information_schema.PROCESSLIST
			WHERE DB = DATABASE() AND COMMAND = 'Query' AND ID <> CONNECTION_ID() AND INFO IS NOT NULL
			AND INFO NOT LIKE '%GET_LOCK%' AND INFO NOT LIKE 'SELECT%' ORDER BY TIME DESC LIMIT 1`).Scan(&id)
		if err == nil {
			_, err = killer.ExecContext(ctx, fmt.Sprintf("KILL %d", id))
		}
	case "postgres":
		err = killer.QueryRowContext(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = current_database()
			AND pid <> pg_backend_pid() AND state = 'active' AND query NOT ILIKE '%advisory%'
			AND query NOT ILIKE 'SELECT%' ORDER BY query_start LIMIT 1`).Scan(&id)
		if err == nil {
			_, err = killer.ExecContext(ctx, "SELECT pg_terminate_backend($1)", id)
		}
	}
	return err == nil
}

// TestRollbackReapplyCycles rolls back and re-applies 20 times: the catalog ends identical to the first
// migration's and no base row changes.
func TestRollbackReapplyCycles(t *testing.T) {
	cycles := 20
	if testing.Short() {
		cycles = 3
	}
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		createExisting(t, d, 500)
		before, n := baseChecksum(t, d)
		mustMigrate(t, d.DB)
		first := catalogFingerprint(t, d)
		for i := 0; i < cycles; i++ {
			if _, err := rollback(ctxT(t), d.DB); err != nil {
				t.Fatalf("cycle %d: Rollback: %v", i, err)
			}
			mustValidate(t, d.DB, sessionsec.ExpectRolledBack())
			mustMigrate(t, d.DB)
			mustValidate(t, d.DB)
			if got := catalogFingerprint(t, d); got != first {
				t.Fatalf("cycle %d: catalog differs from the first migration:\nfirst: %s\nnow:   %s", i, first, got)
			}
		}
		if after, m := baseChecksum(t, d); after != before || m != n {
			t.Fatalf("base rows changed over %d cycles", cycles)
		}
	})
}

// TestLockWaitBoundsDDL: a long transaction holds the table; the migration's DDL gives up after the
// bound instead of queueing (and freezing every later query behind it), retries with backoff, reports
// ErrLockWait when it finally gives up, and succeeds once the transaction ends.
func TestLockWaitBoundsDDL(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		if d.Server.Dialect == "sqlite" {
			t.Skip("skipping sqlite: no table-level metadata locks")
		}
		createExisting(t, d, 100)
		ctx := ctxT(t)
		long, err := d.DB.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := long.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions").Scan(&n); err != nil {
			t.Fatal(err)
		}
		// While Migrate retries, the application's queries must keep flowing: the queued ALTER gives up
		// after one second each time, so no reader waits longer than about that.
		stop := make(chan struct{})
		worst := make(chan time.Duration, 1)
		app := d.Open(t)
		go func() {
			var max time.Duration
			for {
				select {
				case <-stop:
					worst <- max
					return
				default:
				}
				began := time.Now()
				var c int
				if err := app.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions WHERE session_id = 'sess-00000001'").Scan(&c); err != nil {
					t.Error(err)
				}
				if el := time.Since(began); el > max {
					max = el
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		err = sessionsec.Migrate(ctx, d.Open(t), sessionsec.WithLockWait(time.Second), sessionsec.WithRetries(2, 100*time.Millisecond))
		close(stop)
		requireT(t, errors.Is(err, sessionsec.ErrLockWait), "want ErrLockWait, got %v", err)
		var se *sessionsec.StepError
		requireT(t, errors.As(err, &se), "want a *StepError, got %T", err)
		w := <-worst
		t.Logf("gave up as designed: %v; slowest application query meanwhile: %v", err, w)
		requireT(t, w < 3*time.Second, "application queries stalled %v behind the migration", w)
		requireT(t, long.Rollback() == nil, "ending the long transaction")
		mustMigrate(t, d.DB)
		mustValidate(t, d.DB)
	})
}

// TestUnrecoverableDirtyState: a step is dirty and re-running it fails for a reason the step itself
// cannot mend (here the hash function of an earlier step, which the backfill calls, was dropped by hand). Migrate must not guess: it
// returns a *DirtyError naming the step, what it found and the fix; the fix it names then works.
func TestUnrecoverableDirtyState(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		if d.Server.Dialect == "sqlite" {
			t.Skip("skipping sqlite: its hash function is a Go function registered with the driver, not an object to remove")
		}
		drop := "DROP FUNCTION session_security_hash"
		if d.Server.Dialect == "postgres" {
			drop += "(text, text, bigint)"
		}
		createExisting(t, d, 50)
		mustMigrate(t, d.DB)
		var step sessionsec.Step
		for _, s := range sessionsec.Steps("sessions") {
			if s.Name == "backfill" {
				step = s
			}
		}
		requireT(t, step.Version != 0, "no backfill step")
		for _, stmt := range []string{drop,
			fmt.Sprintf("UPDATE %s SET version = %d, dirty = true", sessionsec.DefaultMigrationsTable, step.Version)} {
			mustExec(t, d.DB, stmt)
		}
		err := sessionsec.Migrate(ctxT(t), d.DB)
		var de *sessionsec.DirtyError
		requireT(t, errors.Is(err, sessionsec.ErrDirty) && errors.As(err, &de), "want a *DirtyError, got %v", err)
		requireT(t, de.Version == step.Version && strings.Contains(err.Error(), step.Up) && strings.Contains(de.Fix, "WithReapply"),
			"the error must name the step and the fix: %v", err)
		t.Log(err)
		st, err := sessionsec.Status(ctxT(t), d.DB)
		requireT(t, err == nil && st.Dirty && st.Version == step.Version, "status after the failed recovery: %+v %v", st, err)
		mustMigrate(t, d.DB, sessionsec.WithReapply())
		mustValidate(t, d.DB)
	})
}

// history is what a rollback must never lose: the keys of the sessions that carried security data, and
// the audit rows, wherever they now are (the live tables or their retired copies).
type history struct {
	keys  map[string]bool
	audit int
}

func readHistory(t *testing.T, d *testdb.DB) history {
	t.Helper()
	h := history{keys: map[string]bool{}}
	cat := catalog(t, d, "sessions")
	if tbl := cat.Tables["sessions"]; tbl != nil && tbl.Column("security_hash") != nil {
		collectKeys(t, d, "sessions", "security_hash IS NOT NULL", h.keys)
	}
	for _, name := range retiredTables(t, d) {
		switch {
		case strings.HasPrefix(name, "sessions_security_retired"):
			collectKeys(t, d, name, "1=1", h.keys)
		case strings.HasPrefix(name, "session_audit_log_retired"):
			h.audit += count(t, d, name)
		}
	}
	if tableExists(t, d, "session_audit_log") {
		h.audit += count(t, d, "session_audit_log")
	}
	return h
}

func collectKeys(t *testing.T, d *testdb.DB, table, where string, into map[string]bool) {
	t.Helper()
	rows, err := d.DB.Query("SELECT session_id FROM " + table + " WHERE " + where)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		into[k] = true
	}
}

func count(t *testing.T, d *testdb.DB, table string) int {
	t.Helper()
	var n int
	if err := d.DB.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func retiredTables(t *testing.T, d *testdb.DB) []string {
	t.Helper()
	var q string
	switch d.Server.Dialect {
	case "mysql":
		q = "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE '%retired%'"
	case "postgres":
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name LIKE '%retired%'"
	default:
		q = "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%retired%'"
	}
	rows, err := d.DB.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

// TestRollbackKillMatrix is the up matrix's twin for the emergency path: a rolling-back process is
// SIGKILLed at every step boundary and inside every step, and deep into the steps that copy data. Then a
// plain Rollback (or, for the cases killed inside a step, a plain Migrate) must converge with no manual
// force, every base row must be byte-identical, and no row of security history may be lost.
func TestRollbackKillMatrix(t *testing.T) {
	for _, s := range testdb.Servers {
		t.Run(s.Name, func(t *testing.T) {
			type kill struct {
				step   sessionsec.Step
				phase  string
				delay  time.Duration
				rows   int
				finish string // "rollback" or "migrate"
			}
			var plan []kill
			for _, st := range sessionsec.Steps("sessions") {
				plan = append(plan, kill{st, "before-down", 0, 300, "rollback"}, kill{st, "mid", 5 * time.Millisecond, 300, "migrate"})
				if (st.Name == "keep_security_data" || st.Name == "add_security_columns") && !testing.Short() {
					plan = append(plan, kill{st, "mid", 40 * time.Millisecond, 30_000, "rollback"}, kill{st, "mid", 150 * time.Millisecond, 30_000, "rollback"})
				}
			}
			for _, k := range plan {
				name := fmt.Sprintf("%06d_%s/%s+%v/%drows/then-%s", k.step.Version, k.step.Name, k.phase, k.delay, k.rows, k.finish)
				t.Run(name, func(t *testing.T) {
					d := testdb.New(t, s)
					createExisting(t, d, k.rows)
					before, n := baseChecksum(t, d)
					mustMigrate(t, d.DB)
					// Some audit history to keep.
					mustExec(t, d.DB, "INSERT INTO session_audit_log (action, details) VALUES ('TEST', NULL)")
					want := readHistory(t, d)
					out, err := childCmd(d, "SESSIONSEC_CHILD_OP=rollback", fmt.Sprintf("SESSIONSEC_KILL_VERSION=%d", k.step.Version),
						"SESSIONSEC_KILL_PHASE="+k.phase, "SESSIONSEC_KILL_DELAY="+k.delay.String()).CombinedOutput()
					if err != nil && !killedBySignal(err) {
						t.Fatalf("child failed instead of being killed: %v\n%s", err, out)
					}
					if st, serr := sessionsec.Status(ctxT(t), d.DB); serr == nil {
						t.Logf("after the kill: version %d dirty %t (killed=%t)", st.Version, st.Dirty, err != nil)
					}
					if k.finish == "migrate" {
						mustMigrate(t, d.DB)
						mustValidate(t, d.DB)
					} else {
						mustRollback(t, d.DB)
						mustValidate(t, d.DB, sessionsec.ExpectRolledBack())
					}
					if after, m := baseChecksum(t, d); after != before || m != n {
						t.Fatalf("base rows changed: %d -> %d rows", n, m)
					}
					got := readHistory(t, d)
					for key := range want.keys {
						if !got.keys[key] {
							t.Fatalf("the security data of %q is gone (kept %d of %d sessions)", key, len(got.keys), len(want.keys))
						}
					}
					requireT(t, got.audit >= want.audit, "audit rows: %d, want at least %d", got.audit, want.audit)
				})
			}
		})
	}
}

// TestServerSideKillRollback ends the rolling-back session on the server while a step that copies or
// drops data runs (the retire copy, the column drop): the statement is rolled back, golang-migrate's
// version says "previous step, dirty". A plain Rollback must then resume that same step's down - the
// one that keeps the security data - not skip it.
func TestServerSideKillRollback(t *testing.T) {
	for _, s := range testdb.Servers {
		if s.Dialect == "sqlite" {
			continue // no server
		}
		t.Run(s.Name, func(t *testing.T) {
			for _, st := range sessionsec.Steps("sessions") {
				if st.Name != "keep_security_data" && st.Name != "add_security_columns" && st.Name != "create_audit_log" {
					continue
				}
				t.Run(fmt.Sprintf("%06d_%s", st.Version, st.Name), func(t *testing.T) {
					d := testdb.New(t, s)
					createExisting(t, d, 30_000)
					before, n := baseChecksum(t, d)
					mustMigrate(t, d.DB)
					mustExec(t, d.DB, "INSERT INTO session_audit_log (action, details) VALUES ('TEST', NULL)")
					want := readHistory(t, d)
					killer := d.Open(t)
					var killed atomic.Int32
					hook := func(v uint, phase string) {
						if v != st.Version || phase != "before-down" {
							return
						}
						go func() {
							deadline := time.Now().Add(20 * time.Second)
							for time.Now().Before(deadline) && killed.Load() == 0 {
								if killActiveQuery(d, killer) {
									killed.Add(1)
									return
								}
								time.Sleep(2 * time.Millisecond)
							}
						}()
					}
					_, err := rollback(ctxT(t), d.Open(t), sessionsec.WithStepHook(hook))
					t.Logf("Rollback with its connection killed (killed=%d): %v", killed.Load(), err)
					mustRollback(t, d.DB)
					mustValidate(t, d.DB, sessionsec.ExpectRolledBack())
					if after, m := baseChecksum(t, d); after != before || m != n {
						t.Fatalf("base rows changed: %d -> %d rows", n, m)
					}
					got := readHistory(t, d)
					requireT(t, len(got.keys) >= len(want.keys), "security data kept for %d of %d sessions", len(got.keys), len(want.keys))
					requireT(t, got.audit >= want.audit, "audit rows: %d, want at least %d", got.audit, want.audit)
				})
			}
		})
	}
}
