package sessionsec_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
)

// seedExpired counts the rows seed gives an expiry before at.
func seedExpired(n int, at time.Time) (count int) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range n {
		if base.Add(time.Duration(i%3-1) * 24 * time.Hour * 365).Before(at) {
			count++
		}
	}
	return count
}

func countRows(t *testing.T, d *testdb.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := d.DB.QueryRowContext(ctxT(t), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func detailsText(d *testdb.DB) string {
	return map[string]string{"mysql": "CAST(details AS CHAR)", "postgres": "details::text", "sqlite": "details"}[d.Server.Dialect]
}

// TestMaintenance runs every maintenance task on every server, on a table of 2500 sessions of which
// two thirds are expired (half of those long ago): what each task removes or changes, what it leaves in
// place (a child row holding on to a session), its audit rows (the same JSON text on every server), and
// the metrics before and after.
func TestMaintenance(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		ctx := ctxT(t)
		const rows = 2500
		createExisting(t, d, rows)
		mustMigrate(t, d.DB)
		p, err := sessionsec.New(d.DB)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now().UTC()
		expired := seedExpired(rows, now)

		m, err := p.ReadMetrics(ctx)
		requireT(t, err == nil, "ReadMetrics: %v", err)
		requireT(t, m.Sessions == rows && m.Hashed == rows && m.Expired == int64(expired) && m.Archived == 0 && m.HighRisk == 0,
			"metrics before: %s", m)

		// A child row (FOREIGN KEY ... RESTRICT) on one session the archive would move. SQLite enforces
		// foreign keys only where a connection turns them on, which the maintenance session does not.
		blocked := 0
		cutoffAge := 400 * 24 * time.Hour
		longAgo := seedExpired(rows, now.Add(-cutoffAge))
		if d.Server.Dialect != "sqlite" {
			var victim string
			requireT(t, d.DB.QueryRowContext(ctx, "SELECT session_id FROM sessions WHERE expires_at < "+ph(d, 1)+" ORDER BY session_id LIMIT 1",
				now.Add(-cutoffAge)).Scan(&victim) == nil, "victim")
			mustExec(t, d.DB, map[string]string{
				"mysql":    "CREATE TABLE session_children (id INT PRIMARY KEY, session_id VARCHAR(191) CHARACTER SET latin1 NOT NULL, FOREIGN KEY (session_id) REFERENCES sessions (session_id) ON DELETE RESTRICT) ENGINE=InnoDB",
				"postgres": "CREATE TABLE session_children (id int PRIMARY KEY, session_id text NOT NULL REFERENCES sessions (session_id) ON DELETE RESTRICT)",
			}[d.Server.Dialect])
			mustExecArgs(t, d.DB, "INSERT INTO session_children VALUES (1, "+ph(d, 1)+")", victim)
			blocked = 1
		}
		hashes := map[string]string{}
		hrows, err := d.DB.QueryContext(ctx, "SELECT session_id, security_hash FROM sessions WHERE expires_at < "+ph(d, 1), ts(d, now.Add(-cutoffAge)))
		requireT(t, err == nil, "reading hashes: %v", err)
		for hrows.Next() {
			var k, h string
			requireT(t, hrows.Scan(&k, &h) == nil, "scan")
			hashes[k] = h
		}
		hrows.Close()
		requireT(t, len(hashes) == longAgo, "%d rows expired long ago, want %d", len(hashes), longAgo)

		// Archive: sessions expired more than 400 days ago move, in batches of 300.
		var reports []sessionsec.Progress
		res, err := p.Archive(ctx, sessionsec.WithOlderThan(cutoffAge), sessionsec.WithBatchSize(300),
			sessionsec.WithProgress(func(pr sessionsec.Progress) { reports = append(reports, pr) }))
		requireT(t, err == nil, "Archive: %v", err)
		requireT(t, res.Rows == int64(longAgo-blocked) && res.Blocked == int64(blocked) && res.Batches == (longAgo+299)/300,
			"Archive: %s; want %d archived, %d blocked", res, longAgo-blocked, blocked)
		requireT(t, len(reports) > 1 && reports[len(reports)-1].Final && reports[len(reports)-1].Done == res.Rows, "progress: %+v", reports)
		requireT(t, countRows(t, d, "SELECT COUNT(*) FROM sessions_archive") == longAgo-blocked, "archive rows")
		requireT(t, countRows(t, d, "SELECT COUNT(*) FROM sessions") == rows-longAgo+blocked, "session rows")
		arows, err := d.DB.QueryContext(ctx, "SELECT session_id, security_hash FROM sessions_archive")
		requireT(t, err == nil, "reading the archive: %v", err)
		for arows.Next() {
			var k, h string
			requireT(t, arows.Scan(&k, &h) == nil, "scan")
			requireT(t, hashes[k] == h, "archived %q with hash %q, had %q", k, h, hashes[k])
		}
		arows.Close()
		archived, archBlocked := 0, 0
		for _, a := range auditRows(t, d, "SESSION_ARCHIVE") {
			archived += a["archived"]
			archBlocked += a["blocked"]
		}
		requireT(t, archived == longAgo-blocked && archBlocked == blocked, "archive audit rows: %d archived, %d blocked", archived, archBlocked)
		var details string
		requireT(t, d.DB.QueryRowContext(ctx, "SELECT "+detailsText(d)+" FROM session_audit_log WHERE action = 'SESSION_ARCHIVE' ORDER BY id LIMIT 1").Scan(&details) == nil, "details")
		// The victim has the lowest key: it is in the first batch.
		requireT(t, details == fmt.Sprintf(`{"blocked": %d, "archived": %d}`, blocked, 300-blocked),
			"archive details %q: want the same text on every server", details)

		// Cleanup: the remaining expired sessions go (the blocked one stays, blocked again).
		res, err = p.Cleanup(ctx)
		requireT(t, err == nil, "Cleanup: %v", err)
		requireT(t, res.Rows == int64(expired-longAgo) && res.Blocked == int64(blocked), "Cleanup: %s; want %d deleted, %d blocked", res, expired-longAgo, blocked)
		requireT(t, countRows(t, d, "SELECT COUNT(*) FROM sessions") == rows-expired+blocked, "sessions after cleanup")
		requireT(t, d.DB.QueryRowContext(ctx, "SELECT "+detailsText(d)+" FROM session_audit_log WHERE action = 'SECURITY_CLEANUP' ORDER BY id LIMIT 1").Scan(&details) == nil, "details")
		requireT(t, strings.HasPrefix(details, `{"blocked": `) && strings.Contains(details, `, "deleted": `), "cleanup details %q", details)

		// Risk: rows validated 10 days ago score 10; a score the application set higher stays.
		stale := countRows(t, d, "SELECT COUNT(*) FROM sessions WHERE session_id < 'sess-00001000'")
		requireT(t, stale > 10, "stale rows: %d", stale)
		mustExecArgs(t, d.DB, "UPDATE sessions SET last_validated_at = "+ph(d, 1)+" WHERE session_id < 'sess-00001000'", ts(d, now.Add(-10*24*time.Hour)))
		mustExec(t, d.DB, "UPDATE sessions SET risk_score = 80 WHERE session_id = (SELECT MIN(session_id) FROM (SELECT session_id FROM sessions WHERE session_id < 'sess-00001000' AND expires_at > "+map[string]string{"mysql": "UTC_TIMESTAMP()", "postgres": "now()", "sqlite": "datetime('now')"}[d.Server.Dialect]+") AS x)")
		res, err = p.UpdateRiskScores(ctx)
		requireT(t, err == nil, "UpdateRiskScores: %v", err)
		// The blocked, expired row also scores (30 for expired + 10).
		requireT(t, res.Rows == int64(stale-1), "UpdateRiskScores: %s; want %d raised", res, stale-1)
		requireT(t, countRows(t, d, "SELECT COUNT(*) FROM sessions WHERE risk_score = 80") == 1, "the application's 80 was changed")
		requireT(t, countRows(t, d, "SELECT COUNT(*) FROM sessions WHERE risk_score = 10") == stale-1-blocked, "rows scored 10")

		// Prune: audit rows older than 30 days go, newer ones stay, and the pruning is itself audited.
		for i := range 50 {
			mustExecArgs(t, d.DB, "INSERT INTO session_audit_log (action, created_at) VALUES ('APP_EVENT', "+ph(d, 1)+")", ts(d, now.Add(-time.Duration(31+i)*24*time.Hour)))
		}
		mustExecArgs(t, d.DB, "INSERT INTO session_audit_log (action, created_at) VALUES ('APP_EVENT', "+ph(d, 1)+")", ts(d, now.Add(-29*24*time.Hour)))
		res, err = p.PruneAudit(ctx, sessionsec.WithBatchSize(20))
		requireT(t, err == nil, "PruneAudit: %v", err)
		requireT(t, res.Rows == 50 && res.Batches == 3, "PruneAudit: %s", res)
		requireT(t, countRows(t, d, "SELECT COUNT(*) FROM session_audit_log WHERE action = 'APP_EVENT'") == 1, "the recent audit row went")
		pruned := 0
		for _, a := range auditRows(t, d, "AUDIT_PRUNE") {
			pruned += a["deleted"]
		}
		requireT(t, pruned == 50, "prune audit rows: %d", pruned)

		m, err = p.ReadMetrics(ctx)
		requireT(t, err == nil, "ReadMetrics: %v", err)
		requireT(t, m.Sessions == int64(rows-expired+blocked) && m.Archived == int64(longAgo-blocked) && m.HighRisk == 1 &&
			m.Expired == int64(blocked) && m.CleanupDeletedLastDay == int64(expired-longAgo) && m.AuditRowsLastDay > 0,
			"metrics after: %s (%+v)", m, *m)
	})
}

// TestMaintenanceNeedsTheChange: on a database the change was not applied to, every task refuses with
// ErrNotMigrated and writes nothing; options that mean nothing to a task are refused before that.
func TestMaintenanceNeedsTheChange(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		ctx := ctxT(t)
		createExisting(t, d, 10)
		for name, f := range map[string]func() error{
			"cleanup": func() error { _, err := sessionsec.Cleanup(ctx, d.DB); return err },
			"risk":    func() error { _, err := sessionsec.UpdateRiskScores(ctx, d.DB); return err },
			"archive": func() error { _, err := sessionsec.Archive(ctx, d.DB); return err },
			"prune":   func() error { _, err := sessionsec.PruneAudit(ctx, d.DB); return err },
			"metrics": func() error { _, err := sessionsec.ReadMetrics(ctx, d.DB); return err },
		} {
			err := f()
			requireT(t, errors.Is(err, sessionsec.ErrNotMigrated), "%s on an unmigrated database: %v", name, err)
		}
		requireT(t, !tableExists(t, d, "session_audit_log"), "a refused task created the audit log")
		_, err := sessionsec.Cleanup(ctx, d.DB, sessionsec.WithOlderThan(time.Hour*48))
		requireT(t, errors.Is(err, sessionsec.ErrInvalidOption), "WithOlderThan on Cleanup: %v", err)
		_, err = sessionsec.Archive(ctx, d.DB, sessionsec.WithBatchSize(0))
		requireT(t, errors.Is(err, sessionsec.ErrInvalidOption), "WithBatchSize(0): %v", err)
	})
}
