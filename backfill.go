package sessionsec

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// backfillLogEvery is how often a running backfill logs how far it is.
const backfillLogEvery = 5 * time.Second

// minBackfillBatch is the smallest batch conflicts shrink the backfill's batches to.
const minBackfillBatch = 10

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
	full := bf.Batch
	if r.cfg.backfillBatch > 0 {
		full = r.cfg.backfillBatch
	}
	// batch shrinks while batches lose conflicts and grows back after a run of commits: on Galera the
	// application's writes on other nodes abort a batch at certification, and the smaller the batch the
	// likelier it commits (a fixed batch over a small, busy table can lose every attempt).
	batch, streak := full, 0
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
		fill := func() (err error) { res, err = r.s.exec(ctx, q, args...); return err }
		err = fill()
		if err != nil && r.conflict(err) && batch > minBackfillBatch && ctx.Err() == nil {
			batch, streak = max(batch/2, minBackfillBatch), 0
			r.log.DebugContext(ctx, "sessionsec: backfill batch lost a conflict; halving it", "batch", batch, "err", r.p.serverError(err))
			if err := sleep(ctx, time.Duration(rand.Int64N(int64(20*time.Millisecond)))); err != nil {
				return err
			}
			continue // the same keys again, in a smaller batch
		}
		if err != nil && r.conflict(err) {
			err = r.retryConflict(ctx, fill) // already the smallest batch: back off and retry it
		}
		if err != nil {
			return err
		}
		if streak++; streak >= 8 && batch < full {
			batch, streak = min(batch*2, full), 0
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
