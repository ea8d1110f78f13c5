package sessionsec

import (
	"context"
	"database/sql"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// backfillLogEvery is how often a running backfill logs how far it is.
const backfillLogEvery = 5 * time.Second

// backfill runs the backfill step's batches itself, one autocommitted UPDATE of at most bf.Batch keys
// at a time, and reports each batch: the same work as the step's CALL (which the stock CLI runs), with
// progress. Interrupted, it leaves filled batches filled; the step's re-run skips them.
func (r *runner) backfill(ctx context.Context, step schema.Step, bf *dialect.Backfill) error {
	total := int64(-1)
	if tbl := r.f.cat.Tables[r.f.t.Names.Table]; tbl != nil {
		total = tbl.Rows // the server's estimate; -1 without statistics
	}
	binaryKey := r.f.t.RoleKind(schema.RoleKey) == dialect.FamBinary
	start, logged := time.Now(), time.Time{}
	var walked, filled int64
	var last any
	batch := bf.Batch
	if r.cfg.backfillBatch > 0 {
		batch = r.cfg.backfillBatch
	}
	for {
		// Each batch starts only with the replicas within the lag bound (WithMaxReplicaLag).
		if err := r.th.wait(ctx, Progress{Task: "migrate", Version: step.Version, Step: "backfill", Unit: UnitRows,
			Done: walked, Total: max(total, walked), Elapsed: time.Since(start)}); err != nil {
			return err
		}
		var upper any
		var n int64
		var err error
		if last == nil {
			err = r.s.conn.QueryRowContext(ctx, bf.First, batch).Scan(&upper, &n)
		} else {
			err = r.s.conn.QueryRowContext(ctx, bf.Next, last, batch).Scan(&upper, &n)
		}
		if err != nil {
			return err
		}
		if upper == nil {
			break
		}
		upper = keyArg(upper, binaryKey)
		args := []any{last, upper}
		q := bf.Fill
		if last == nil {
			args, q = []any{upper}, bf.FillFirst
		}
		// Fencing per batch: a holder that lost the lease stops before its next write.
		if err := r.s.verify(ctx); err != nil {
			return err
		}
		var res sql.Result
		err = r.retryConflict(ctx, func() (err error) { res, err = r.s.exec(ctx, q, args...); return err })
		if err != nil {
			return err
		}
		if c, err := res.RowsAffected(); err == nil {
			filled += c
		}
		walked += n
		last = upper
		r.progress(Progress{Task: "migrate", Version: step.Version, Step: "backfill", Unit: UnitRows,
			Done: walked, Total: max(total, walked), Elapsed: time.Since(start)})
		if time.Since(logged) >= backfillLogEvery {
			logged = time.Now()
			r.log.InfoContext(ctx, "sessionsec: backfill", "rows", walked, "of_about", max(total, walked), "filled", filled,
				"per_second", perSecond(walked, time.Since(start)))
		}
	}
	r.progress(Progress{Task: "migrate", Version: step.Version, Step: "backfill", Unit: UnitRows,
		Done: walked, Total: walked, Elapsed: time.Since(start), Final: true})
	r.log.InfoContext(ctx, "sessionsec: backfill done", "rows", walked, "filled", filled,
		"per_second", perSecond(walked, time.Since(start)), "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// keyArg makes a key read back from the server a parameter the column's type parses: drivers return
// keys of text types (and uuid, dates) as []byte, and []byte is bound as binary data, not as text.
func keyArg(v any, binary bool) any {
	if b, ok := v.([]byte); ok && !binary {
		return string(b)
	}
	return v
}

func perSecond(n int64, d time.Duration) int64 {
	return int64(float64(n) / max(d.Seconds(), 1e-3))
}
