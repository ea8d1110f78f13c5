package sessionsec_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
)

// childTable is a table whose rows hold on to sessions (FOREIGN KEY ... RESTRICT), or "" where the
// maintenance session does not enforce foreign keys (SQLite: a connection must turn them on).
func childTable(d *testdb.DB, deferred bool) string {
	switch d.Server.Dialect {
	case "mysql":
		return "CREATE TABLE session_children (id INT PRIMARY KEY, session_id VARCHAR(191) CHARACTER SET latin1 NOT NULL, " +
			"FOREIGN KEY (session_id) REFERENCES sessions (session_id) ON DELETE RESTRICT) ENGINE=InnoDB"
	case "postgres":
		if deferred {
			return "CREATE TABLE session_children (id int PRIMARY KEY, session_id text NOT NULL " +
				"REFERENCES sessions (session_id) DEFERRABLE INITIALLY DEFERRED)"
		}
		return "CREATE TABLE session_children (id int PRIMARY KEY, session_id text NOT NULL REFERENCES sessions (session_id) ON DELETE RESTRICT)"
	}
	return ""
}

// insertSessions inserts sessions prefix-000 ... with the given expiry.
func insertSessions(t *testing.T, d *testdb.DB, prefix string, n int, expires time.Time) []string {
	t.Helper()
	keys := make([]string, n)
	for i := range n {
		keys[i] = fmt.Sprintf("%s-%03d", prefix, i)
		mustExecArgs(t, d.DB, "INSERT INTO sessions (session_id, user_id, expires_at) VALUES ("+ph(d, 1)+", 'u', "+ph(d, 2)+")", keys[i], ts(d, expires))
	}
	return keys
}

func auditSum(t *testing.T, d *testdb.DB, action, field string) (sum, rows int) {
	t.Helper()
	for _, a := range auditRows(t, d, action) {
		sum += a[field]
		rows++
	}
	return sum, rows
}

// TestCleanupBlockedRows (issue 19 item 9 and 11): rows a child row holds on to are passed once and
// counted, on every run, never looped on; the batch size is WithBatchSize's for Cleanup and the risk
// update on every server; ctx stops the run between batches with what was committed kept.
func TestCleanupBlockedRows(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		ctx := ctxT(t)
		createExisting(t, d, 0)
		mustMigrate(t, d.DB)
		keys := insertSessions(t, d, "x", 60, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))
		blocked := 0
		if ddl := childTable(d, false); ddl != "" {
			mustExec(t, d.DB, ddl)
			for i := 0; i < len(keys); i += 10 {
				mustExecArgs(t, d.DB, "INSERT INTO session_children VALUES ("+ph(d, 1)+", "+ph(d, 2)+")", i, keys[i])
				blocked++
			}
		}
		res, err := sessionsec.Cleanup(ctx, d.DB, sessionsec.WithBatchSize(7))
		requireT(t, err == nil, "Cleanup: %v", err)
		requireT(t, res.Rows == int64(60-blocked) && res.Blocked == int64(blocked) && res.Batches == 9,
			"Cleanup: %s; want %d deleted, %d blocked in 9 batches of 7", res, 60-blocked, blocked)
		deleted, batches := auditSum(t, d, "SECURITY_CLEANUP", "deleted")
		requireT(t, deleted == 60-blocked && batches == 9, "cleanup audit: %d deleted in %d rows", deleted, batches)
		requireT(t, countRows(t, d, "SELECT COUNT(*) FROM sessions") == blocked, "sessions left")

		// Again: the blocked rows are passed once more, counted, and the run ends.
		short, cancel := context.WithTimeout(ctx, 30*time.Second)
		res, err = sessionsec.Cleanup(short, d.DB, sessionsec.WithBatchSize(7))
		cancel()
		requireT(t, err == nil, "Cleanup again: %v", err)
		requireT(t, res.Rows == 0 && res.Blocked == int64(blocked), "Cleanup again: %s", res)

		// ctx cancelled after the first batch (a-000 to a-004, before the held x- rows in key order):
		// that batch stays, nothing after it runs.
		insertSessions(t, d, "a", 30, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))
		cctx, stop := context.WithCancel(ctx)
		defer stop()
		res, err = sessionsec.Cleanup(cctx, d.DB, sessionsec.WithBatchSize(5), sessionsec.WithProgress(func(p sessionsec.Progress) {
			if !p.Final {
				stop()
			}
		}))
		requireT(t, errors.Is(err, context.Canceled), "Cleanup with ctx cancelled after a batch: %v", err)
		requireT(t, res != nil && res.Batches == 1, "Cleanup cancelled: %v", res)
		left := countRows(t, d, "SELECT COUNT(*) FROM sessions")
		requireT(t, left == blocked+25 && res.Rows == 5, "after the cancelled Cleanup: %d sessions, %s", left, res)

		// The risk update in batches of 4: every remaining session is expired (score 30).
		eligible := countRows(t, d, "SELECT COUNT(*) FROM sessions WHERE risk_score < 30")
		requireT(t, eligible > 20, "sessions to score: %d", eligible)
		res, err = sessionsec.UpdateRiskScores(ctx, d.DB, sessionsec.WithBatchSize(4))
		requireT(t, err == nil, "UpdateRiskScores: %v", err)
		requireT(t, res.Rows == int64(eligible) && res.Batches == (eligible+3)/4, "UpdateRiskScores: %s; want %d rows in batches of 4", res, eligible)
		updated, audits := auditSum(t, d, "RISK_SCORE_UPDATE", "updated")
		requireT(t, updated == eligible && audits == (eligible+3)/4, "risk audit: %d updated in %d rows", updated, audits)
	})
}

// TestCleanupConcurrentExtension (issue 19 item 9): while Cleanup runs (small batches, child rows on
// every ninth session so that the batches go row by row), the application extends some expired sessions
// and deletes others. Every session it extended survives, every held one stays and is counted, and
// Cleanup counts exactly the rows it deleted.
func TestCleanupConcurrentExtension(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		if d.Server.Dialect == "sqlite" {
			t.Skip("SQLite runs one write transaction at a time: the application cannot change a row between a batch's statements")
		}
		extensionRace(t, d, func(ctx context.Context) (int64, int64, error) {
			// A pause between batches lets the application's statements interleave with the run.
			res, err := sessionsec.Cleanup(ctx, d.DB, sessionsec.WithBatchSize(10),
				sessionsec.WithProgress(func(sessionsec.Progress) { time.Sleep(5 * time.Millisecond) }))
			if err != nil {
				return 0, 0, err
			}
			return res.Rows, res.Blocked, nil
		})
	})
}

// TestCleanupProcedureConcurrentExtension: the same race against CALL CleanupExpiredSecureSessions(),
// which the stock golang-migrate CLI's users run: its row-by-row fallback visits each row once (it used
// to loop for ever on MySQL on a row that changed under it), re-checks the rule in its DELETE and counts
// only what it deleted. Bounded by a timeout: a loop fails the test instead of hanging it.
func TestCleanupProcedureConcurrentExtension(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		if d.Server.Dialect == "sqlite" {
			t.Skip("skipping sqlite: no stored procedures (its maintenance is Go code)")
		}
		extensionRace(t, d, func(ctx context.Context) (int64, int64, error) {
			call, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			if _, err := d.DB.ExecContext(call, "CALL CleanupExpiredSecureSessions()"); err != nil {
				return 0, 0, err
			}
			deleted, _ := auditSum(t, d, "SECURITY_CLEANUP", "deleted")
			blocked, _ := auditSum(t, d, "SECURITY_CLEANUP", "blocked")
			return int64(deleted), int64(blocked), nil
		})
	})
}

// extensionRace runs cleanup (which returns what it says it deleted and left) on 400 expired sessions,
// every ninth held by a child row, while the application extends a third of them and deletes another
// third, walking from the last key back towards cleanup's batches.
func extensionRace(t *testing.T, d *testdb.DB, cleanup func(ctx context.Context) (deleted, blocked int64, err error)) {
	ctx := ctxT(t)
	createExisting(t, d, 0)
	mustMigrate(t, d.DB)
	const n = 400
	keys := insertSessions(t, d, "k", n, time.Now().Add(-time.Hour))
	mustExec(t, d.DB, childTable(d, false))
	children := 0
	for i := 0; i < n; i += 9 {
		mustExecArgs(t, d.DB, "INSERT INTO session_children VALUES ("+ph(d, 1)+", "+ph(d, 2)+")", i, keys[i])
		children++
	}
	extended := map[string]bool{}
	appDeleted := 0
	var wg sync.WaitGroup
	wg.Add(1)
	// Cleanup starts once the application has changed a few rows, so that both run at once whichever
	// is faster on this machine.
	going := make(chan struct{})
	go func() {
		defer wg.Done()
		future := ts(d, time.Now().Add(24*time.Hour))
		for i := len(keys) - 1; i >= 0; i-- {
			if i == len(keys)-30 {
				close(going)
			}
			k := keys[i]
			var r sql.Result
			var err error
			switch {
			case i%9 == 0:
				continue
			case i%3 == 1:
				r, err = d.DB.ExecContext(ctx, "UPDATE sessions SET expires_at = "+ph(d, 1)+" WHERE session_id = "+ph(d, 2), future, k)
			case i%3 == 2:
				r, err = d.DB.ExecContext(ctx, "DELETE FROM sessions WHERE session_id = "+ph(d, 1), k)
			default:
				continue
			}
			if err != nil {
				continue // a deadlock victim: rolled back, the row was not changed
			}
			if a, _ := r.RowsAffected(); a == 1 {
				if i%3 == 1 {
					extended[k] = true
				} else {
					appDeleted++
				}
			}
		}
	}()
	<-going
	deleted, blocked, err := cleanup(ctx)
	wg.Wait()
	requireT(t, err == nil, "cleanup: %v", err)
	requireT(t, len(extended) > 0, "the application extended no session")
	for k := range extended {
		requireT(t, countRows(t, d, "SELECT COUNT(*) FROM sessions WHERE session_id = "+ph(d, 1), k) == 1, "cleanup deleted %s, which the application had extended", k)
	}
	left := countRows(t, d, "SELECT COUNT(*) FROM sessions")
	requireT(t, int64(n-left-appDeleted) == deleted, "cleanup reports %d deleted; %d sessions left of %d, the application deleted %d", deleted, left, n, appDeleted)
	requireT(t, blocked == int64(children), "cleanup: %d blocked, want %d", blocked, children)
	t.Logf("extended %d, application deleted %d, cleanup deleted %d, blocked %d", len(extended), appDeleted, deleted, blocked)
}

// TestMaintenanceDeferredForeignKey (issue 19 item 9): a DEFERRABLE INITIALLY DEFERRED foreign key
// fails the DELETE of the held row (not the batch's COMMIT), so Archive and Cleanup leave it and move on.
func TestMaintenanceDeferredForeignKey(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		if d.Server.Dialect != "postgres" {
			t.Skipf("%s: no deferrable foreign keys (MySQL and MariaDB have none; SQLite's maintenance session does not enforce foreign keys)", d.Server.Name)
		}
		ctx := ctxT(t)
		createExisting(t, d, 0)
		mustMigrate(t, d.DB)
		old := insertSessions(t, d, "old", 20, time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC))
		recent := insertSessions(t, d, "new", 10, time.Now().Add(-time.Hour))
		mustExec(t, d.DB, childTable(d, true))
		mustExecArgs(t, d.DB, "INSERT INTO session_children VALUES (1, $1), (2, $2)", old[3], recent[4])
		res, err := sessionsec.Archive(ctx, d.DB, sessionsec.WithBatchSize(6))
		requireT(t, err == nil, "Archive: %v", err)
		requireT(t, res.Rows == 19 && res.Blocked == 1, "Archive: %s", res)
		requireT(t, countRows(t, d, "SELECT COUNT(*) FROM sessions_archive") == 19, "archive rows")
		res, err = sessionsec.Cleanup(ctx, d.DB, sessionsec.WithBatchSize(6))
		requireT(t, err == nil, "Cleanup: %v", err)
		requireT(t, res.Rows == 9 && res.Blocked == 2, "Cleanup: %s", res)
		requireT(t, countRows(t, d, "SELECT COUNT(*) FROM sessions") == 2, "sessions left")
		// The procedure (the stock CLI's cleanup) passes them too, instead of failing at COMMIT.
		mustExec(t, d.DB, "CALL CleanupExpiredSecureSessions()")
		var details string
		requireT(t, d.DB.QueryRowContext(ctx, "SELECT details::text FROM session_audit_log WHERE action = 'SECURITY_CLEANUP' ORDER BY id DESC LIMIT 1").Scan(&details) == nil, "details")
		requireT(t, details == `{"blocked": 2, "deleted": 0}`, "the procedure's audit row: %s", details)
	})
}

// TestArchiveRefusesRounding (issue 19 item 10): a column the application widened after the archive
// was made (DECIMAL scale, fractional seconds) makes Archive refuse with an *ArchiveError naming the
// column and the fix, before it moves a row; Validate reports it too. After the fix the values arrive
// exactly. SQLite stores values as given, whatever the declared type: nothing to refuse there.
func TestArchiveRefusesRounding(t *testing.T) {
	ddl := map[string]struct{ add, widen, fix []string }{
		"mysql": {
			add:   []string{"ALTER TABLE sessions ADD COLUMN quota DECIMAL(10,2) NULL, ADD COLUMN seen DATETIME NULL"},
			widen: []string{"ALTER TABLE sessions MODIFY quota DECIMAL(12,4) NULL, MODIFY seen DATETIME(6) NULL"},
			fix:   []string{"ALTER TABLE sessions_archive MODIFY quota DECIMAL(12,4) NULL, MODIFY seen DATETIME(6) NULL"},
		},
		"postgres": {
			add:   []string{"ALTER TABLE sessions ADD COLUMN quota numeric(10,2), ADD COLUMN seen timestamp(0)"},
			widen: []string{"ALTER TABLE sessions ALTER COLUMN quota TYPE numeric(12,4), ALTER COLUMN seen TYPE timestamp(6)"},
			fix:   []string{"ALTER TABLE sessions_archive ALTER COLUMN quota TYPE numeric(12,4), ALTER COLUMN seen TYPE timestamp(6)"},
		},
		"sqlite": {
			add: []string{"ALTER TABLE sessions ADD COLUMN quota NUMERIC(10,2)", "ALTER TABLE sessions ADD COLUMN seen TEXT"},
		},
	}
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		ctx := ctxT(t)
		s := ddl[d.Server.Dialect]
		createExisting(t, d, 0)
		for _, q := range s.add {
			mustExec(t, d.DB, q)
		}
		mustMigrate(t, d.DB)
		for _, q := range s.widen {
			mustExec(t, d.DB, q)
		}
		mustExec(t, d.DB, "INSERT INTO sessions (session_id, user_id, expires_at, quota, seen) VALUES ('wide', 'u', '2001-01-01 00:00:00', 1.2345, '2020-01-02 03:04:05.123456')")
		if len(s.widen) > 0 {
			res, err := sessionsec.Archive(ctx, d.DB)
			var ae *sessionsec.ArchiveError
			requireT(t, errors.Is(err, sessionsec.ErrArchiveMismatch) && errors.As(err, &ae) && len(ae.Problems) == 2, "Archive on a widened table: %v", err)
			msg := err.Error()
			requireT(t, strings.Contains(msg, "sessions_archive.quota") && strings.Contains(msg, "sessions_archive.seen") &&
				strings.Contains(msg, "ALTER TABLE") && !strings.Contains(msg, "run it again"), "the error says what to do: %s", msg)
			requireT(t, res != nil && res.Rows == 0, "Archive refused but moved rows: %v", res)
			requireT(t, countRows(t, d, "SELECT COUNT(*) FROM sessions WHERE session_id = 'wide'") == 1 &&
				countRows(t, d, "SELECT COUNT(*) FROM sessions_archive") == 0, "a refused Archive moved rows")
			rep, err := sessionsec.Validate(ctx, d.DB)
			requireT(t, errors.Is(err, sessionsec.ErrValidation) && rep != nil && strings.Contains(rep.String(), "sessions_archive.quota"),
				"Validate must not say valid when Archive cannot run: %v", err)
			for _, q := range s.fix {
				mustExec(t, d.DB, q)
			}
			mustValidate(t, d.DB)
		}
		res, err := sessionsec.Archive(ctx, d.DB)
		requireT(t, err == nil && res.Rows == 1, "Archive: %v %v", res, err)
		var quota, seen string
		cast := map[string]string{"mysql": "CAST(quota AS CHAR), CAST(seen AS CHAR)", "postgres": "quota::text, seen::text", "sqlite": "CAST(quota AS TEXT), seen"}[d.Server.Dialect]
		requireT(t, d.DB.QueryRowContext(ctx, "SELECT "+cast+" FROM sessions_archive WHERE session_id = 'wide'").Scan(&quota, &seen) == nil, "reading the archive")
		requireT(t, quota == "1.2345" && strings.HasSuffix(seen, "05.123456"), "archived quota %q seen %q: rounded", quota, seen)
	})
}

// TestArchiveGeneratedColumns (issue 19 item 10): generated columns - made before the migration (the
// archive may copy them as generated) and after it - never make Archive fail, and their values arrive.
func TestArchiveGeneratedColumns(t *testing.T) {
	ddl := map[string][2]string{
		"mysql":    {"ALTER TABLE sessions ADD COLUMN uid_len INT GENERATED ALWAYS AS (CHAR_LENGTH(user_id)) STORED", "ALTER TABLE sessions ADD COLUMN uid_up VARCHAR(100) GENERATED ALWAYS AS (UPPER(user_id)) VIRTUAL"},
		"postgres": {"ALTER TABLE sessions ADD COLUMN uid_len int GENERATED ALWAYS AS (length(user_id)) STORED", "ALTER TABLE sessions ADD COLUMN uid_up text GENERATED ALWAYS AS (upper(user_id)) STORED"},
		"sqlite":   {"ALTER TABLE sessions ADD COLUMN uid_len INT GENERATED ALWAYS AS (length(user_id)) VIRTUAL", "ALTER TABLE sessions ADD COLUMN uid_up TEXT GENERATED ALWAYS AS (upper(user_id)) VIRTUAL"},
	}
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		ctx := ctxT(t)
		createExisting(t, d, 5)
		mustExec(t, d.DB, ddl[d.Server.Dialect][0])
		mustMigrate(t, d.DB)
		mustExec(t, d.DB, ddl[d.Server.Dialect][1])
		mustExec(t, d.DB, "INSERT INTO sessions (session_id, user_id, expires_at) VALUES ('gen', 'abc', '2001-01-01 00:00:00')")
		for range 2 { // the second run finds the archive already following the table
			res, err := sessionsec.Archive(ctx, d.DB)
			requireT(t, err == nil, "Archive with generated columns: %v", err)
			_ = res
		}
		var n int
		var up string
		requireT(t, d.DB.QueryRowContext(ctx, "SELECT uid_len, uid_up FROM sessions_archive WHERE session_id = 'gen'").Scan(&n, &up) == nil, "reading the archive")
		requireT(t, n == 3 && up == "ABC", "archived generated values: %d %q", n, up)
		mustValidate(t, d.DB)
	})
}

// TestArchiveDroppedNotNullColumn (issue 19 item 10): a NOT NULL column without a default that the
// archive copied from the table, and that the application then dropped, is made nullable in the archive
// by Archive (logged), so Archive runs; Validate says valid because Archive can run.
func TestArchiveDroppedNotNullColumn(t *testing.T) {
	ddl := map[string][]string{
		"mysql":    {"ALTER TABLE sessions ADD COLUMN tenant VARCHAR(32) NOT NULL DEFAULT 'x'", "ALTER TABLE sessions ALTER COLUMN tenant DROP DEFAULT"},
		"postgres": {"ALTER TABLE sessions ADD COLUMN tenant text NOT NULL DEFAULT 'x'", "ALTER TABLE sessions ALTER COLUMN tenant DROP DEFAULT"},
		"sqlite":   {"ALTER TABLE sessions ADD COLUMN tenant TEXT NOT NULL DEFAULT 'x'"},
	}
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		ctx := ctxT(t)
		createExisting(t, d, 0)
		for _, q := range ddl[d.Server.Dialect] {
			mustExec(t, d.DB, q)
		}
		mustMigrate(t, d.DB)
		mustExec(t, d.DB, "ALTER TABLE sessions DROP COLUMN tenant")
		mustValidate(t, d.DB)
		mustExec(t, d.DB, "INSERT INTO sessions (session_id, user_id, expires_at) VALUES ('gone', 'u', '2001-01-01 00:00:00')")
		res, err := sessionsec.Archive(ctx, d.DB)
		requireT(t, err == nil && res.Rows == 1, "Archive after the application dropped a NOT NULL column: %v %v", res, err)
		var tenant sql.NullString
		requireT(t, d.DB.QueryRowContext(ctx, "SELECT tenant FROM sessions_archive WHERE session_id = 'gone'").Scan(&tenant) == nil, "reading the archive")
		requireT(t, !tenant.Valid, "tenant %v", tenant)
		mustValidate(t, d.DB)
	})
}

// TestArchiveKeyArchivedTwice (issue 19 item 10): a key the archive already holds (the application used
// it again) is not stored twice nor counted as archived: the session stays, counted as blocked, on every
// server; the other rows of its batch move.
func TestArchiveKeyArchivedTwice(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		ctx := ctxT(t)
		createExisting(t, d, 0)
		mustMigrate(t, d.DB)
		old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
		insertSessions(t, d, "dup", 1, old)
		res, err := sessionsec.Archive(ctx, d.DB)
		requireT(t, err == nil && res.Rows == 1, "first Archive: %v %v", res, err)
		insertSessions(t, d, "dup", 1, old)
		insertSessions(t, d, "other", 2, old)
		res, err = sessionsec.Archive(ctx, d.DB)
		requireT(t, err == nil, "Archive: %v", err)
		requireT(t, res.Rows == 2 && res.Blocked == 1 && res.Batches == 1, "Archive of a key archived before: %s", res)
		requireT(t, countRows(t, d, "SELECT COUNT(*) FROM sessions_archive WHERE session_id = 'dup-000'") == 1, "the key was archived twice")
		requireT(t, countRows(t, d, "SELECT COUNT(*) FROM sessions WHERE session_id = 'dup-000'") == 1, "the session was deleted")
		requireT(t, countRows(t, d, "SELECT COUNT(*) FROM sessions_archive") == 3, "archive rows")
		var details string
		requireT(t, d.DB.QueryRowContext(ctx, "SELECT "+detailsText(d)+" FROM session_audit_log WHERE action = 'SESSION_ARCHIVE' ORDER BY id DESC LIMIT 1").Scan(&details) == nil, "details")
		requireT(t, details == `{"blocked": 1, "archived": 2}`, "audit details %q", details)
		// The batches look their keys up in the archive through an index on the key, made once (MySQL's
		// archive has the table's primary key; PostgreSQL's and SQLite's get one from the first Archive).
		keyed := 0
		for _, ix := range catalog(t, d, "sessions").TableIndexes("sessions_archive") {
			if len(ix.Columns) > 0 && ix.Columns[0] == "session_id" {
				keyed++
			}
		}
		requireT(t, keyed == 1, "%d indexes on sessions_archive start with its key, want 1", keyed)
		// A rollback retires the archive with its index; the next archive gets one of its own.
		mustRollback(t, d.DB)
		mustMigrate(t, d.DB)
		res, err = sessionsec.Archive(ctx, d.DB)
		requireT(t, err == nil && res.Rows == 1, "Archive after a rollback and a new migration: %v %v", res, err)
		mustValidate(t, d.DB)
	})
}
