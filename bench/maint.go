package main

// The maintenance tasks through the library's Go API, under the same paced write load as the migration:
// rows per second and what the writers saw while each task ran.

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// taskRes is one maintenance task's run.
type taskRes struct {
	Task    string
	Rows    int64 // rows the task changed
	Blocked int64
	Batches int
	DurMs   float64
	RowsS   float64
	W       winStats
	Err     string
}

// oldAudit is the share of the table's size written as audit rows 60 days old, for PruneAudit to delete.
const oldAuditShare = 10

// maintenance runs, in this order, UpdateRiskScores (expired rows score 30), Archive of sessions
// expired more than a week ago, Cleanup (the rest of the expired ones) and PruneAudit (the old audit
// rows seeded first), each under the write load.
func (s server) maintenance(ctx context.Context, db, obs *sql.DB, n int, o *options) []taskRes {
	seed := "INSERT INTO session_audit_log (session_id, action, created_at) SELECT session_id, 'BENCH_OLD', NOW(6) - INTERVAL 60 DAY FROM sessions LIMIT %d"
	if s.Dialect == "postgres" {
		seed = "INSERT INTO session_audit_log (session_id, action, created_at) SELECT session_id, 'BENCH_OLD', now() - interval '60 days' FROM sessions LIMIT %d"
	}
	if _, err := obs.ExecContext(ctx, fmt.Sprintf(seed, n/oldAuditShare)); err != nil {
		return []taskRes{{Task: "seeding old audit rows", Err: err.Error()}}
	}
	t0 := time.Now()
	l := startLoad(s, db, loadConfig{writers: o.writers, rate: o.rate, rows: n, seed: o.seed, opTimeout: o.stepTimeout,
		maxRun: 4*o.stepTimeout + time.Minute}, t0)
	sleepCtx(ctx, 2*time.Second)
	type span struct{ a, b time.Time }
	var spans []span
	var out []taskRes
	for _, task := range libTasks {
		cctx, cancel := context.WithTimeout(ctx, o.stepTimeout)
		a := time.Now()
		r, err := task.run(cctx, obs, s.Dialect)
		b := time.Now()
		cancel()
		tr := taskRes{Task: task.name, DurMs: float64(b.Sub(a).Microseconds()) / 1000}
		if err != nil {
			tr.Err = err.Error()
		}
		if r != nil {
			tr.Rows, tr.Blocked, tr.Batches = r.Rows, r.Blocked, r.Batches
			tr.RowsS = float64(r.Rows) / max(b.Sub(a).Seconds(), 1e-3)
		}
		logf("%s: %s: %d rows in %s", s.Key, task.name, tr.Rows, b.Sub(a).Round(time.Millisecond))
		out = append(out, tr)
		spans = append(spans, span{a, b})
		sleepCtx(ctx, time.Second)
	}
	sleepCtx(ctx, time.Second)
	recs := l.finish()
	for i, sp := range spans {
		out[i].W = window(recs, int64(sp.a.Sub(t0)), int64(sp.b.Sub(t0)), "overlap")
	}
	return out
}
