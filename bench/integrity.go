package main

// Session integrity (issue 17 item 9), per server: VerifySession against a plain SELECT by key on the same pool;
// Seal, Verify and a key rotation (a new primary key: Seal re-seals every row) in rows/s against the backfill of
// the same run, under the paced writers; RunSealer beside the writers, and whether the oldest unsealed row's
// age stays within the sealer's bound.

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"sort"
	"time"
)

// latStats are the latencies of one kind of call.
type latStats struct {
	N      int
	Errors int
	P50Ms  float64
	P99Ms  float64
	MaxMs  float64
	MeanMs float64
}

func latOf(v []float64, errs int) latStats {
	sort.Float64s(v)
	ls := latStats{N: len(v), Errors: errs, P50Ms: pct(v, 0.5), P99Ms: pct(v, 0.99)}
	if len(v) > 0 {
		ls.MaxMs = v[len(v)-1]
		t := 0.0
		for _, x := range v {
			t += x
		}
		ls.MeanMs = t / float64(len(v))
	}
	return ls
}

// sealerSample is one reading of the unsealed rows while RunSealer runs.
type sealerSample struct {
	T        float64 // s since the sealer started
	Unsealed int64
	AgeMs    float64 // age of the oldest unsealed row (now - created_at), 0 when none
}

type sealerRes struct {
	IntervalMs    float64
	DurS          float64
	Passes        int     // passes that sealed rows
	Sealed        int64   // rows they sealed
	LongestPassMs float64 // longest such pass
	BoundMs       float64 // the documented bound (RunSealer, WithSealInterval): interval + 2 x the longest pass
	// Over the samples after the first two intervals (the first pass seals what piled up before the sealer).
	MaxAgeMs      float64
	MaxUnsealed   int64
	FinalUnsealed int64
	FinalAgeMs    float64
	KeptUp        bool // MaxAgeMs <= worstMs() + the sampling period
	SamplePeriod  float64
	Samples       []sealerSample
	Warnings      []string
	W             winStats
	Err           string
}

// worstMs is the pass loop's worst case: a row written just after a pass read past its key waits for the
// rest of that pass, the interval and the whole next pass - interval + 2 passes, which RunSealer documents.
func (s sealerRes) worstMs() float64 { return s.IntervalMs + 2*s.LongestPassMs }

// held: the oldest unsealed row stayed within bound (plus one sampling period) over the steady samples.
func (s sealerRes) held(bound float64) bool {
	return s.Err == "" && len(s.Samples) > 0 && s.MaxAgeMs <= bound+s.SamplePeriod
}

type integrityRes struct {
	Server        string
	Version       string
	Started       string
	LoadAvg       string
	Rows          int
	BuildS        float64
	Writers       int
	Rate          float64
	MigrateMs     float64
	BackfillStep  string
	BackfillMs    float64
	BackfillRowsS float64
	BackfillW     winStats
	Seal          sealRun // version 1 rows sealed with key 1
	Verify        sealRun
	Rotate        sealRun // key 2 made the primary: every row re-sealed
	// Floor: the index floor of Seal's write (floorRun), under the same writers.
	Floor         sealRun
	Sealer        sealerRes
	Select        latStats // plain SELECT by key
	VerifySession latStats
	Verdicts      map[string]int // VerifySession's statuses
	LoadErrors    []string
	Err           string
}

func (s server) unsealedQuery() string {
	where := "security_version IS NULL OR security_version < 2"
	if s.Dialect == "postgres" {
		return "SELECT COUNT(*), COALESCE(EXTRACT(EPOCH FROM (now() - MIN(created_at))) * 1000, 0)::float8 FROM sessions WHERE " + where
	}
	return "SELECT COUNT(*), COALESCE(TIMESTAMPDIFF(MICROSECOND, MIN(created_at), NOW(6)) / 1000, 0) FROM sessions WHERE " + where
}

func runIntegrity(ctx context.Context, s server, o *options) *integrityRes {
	n := o.integrityRows
	ir := &integrityRes{Server: s.Key, Rows: n, Started: time.Now().UTC().Format(time.RFC3339), LoadAvg: loadAvg(),
		Writers: o.writers, Rate: o.rate, Verdicts: map[string]int{}}
	fail := func(format string, args ...any) *integrityRes {
		ir.Err = joinErr(ir.Err, fmt.Sprintf(format, args...))
		logf("integrity %s: ERROR %s", s.Key, ir.Err)
		return ir
	}
	admin, err := s.open("", false, false, 2)
	if err != nil {
		return fail("%v", err)
	}
	defer admin.Close()
	ir.Version = s.version(ctx, admin)
	dbName := fmt.Sprintf("ssbench_%d_%s_%d_seal", os.Getpid(), s.Key, n)
	if err := s.createDB(ctx, admin, dbName); err != nil {
		return fail("create database: %v", err)
	}
	defer func() {
		if err := s.dropDB(context.Background(), admin, dbName); err != nil {
			logf("%s: drop database %s: %v", s.Key, dbName, err)
		}
	}()
	db, err := s.open(dbName, false, true, o.writers+2) // the application's pool: the writers, SELECT, VerifySession
	if err != nil {
		return fail("%v", err)
	}
	defer db.Close()
	obs, err := s.open(dbName, false, false, 3)
	if err != nil {
		return fail("%v", err)
	}
	defer obs.Close()
	lib, err := s.open(dbName, false, false, 4) // Migrate, Seal, Verify, RunSealer
	if err != nil {
		return fail("%v", err)
	}
	defer lib.Close()
	logf("integrity %s: building %d rows", s.Key, n)
	bt, err := s.buildTable(ctx, obs, n, o.seed)
	if err != nil {
		return fail("build: %v", err)
	}
	ir.BuildS = bt.Seconds()
	keys, err := newBenchKeys("bench-k1", "bench-k2")
	if err != nil {
		return fail("keys: %v", err)
	}
	ring1, err := keys.ring("bench-k1", "bench-k1")
	if err != nil {
		return fail("keyring: %v", err)
	}
	ring2, err := keys.ring("bench-k2", "bench-k1", "bench-k2")
	if err != nil {
		return fail("keyring: %v", err)
	}

	t0 := time.Now()
	rel := func(t time.Time) int64 { return int64(t.Sub(t0)) }
	l := startLoad(s, db, loadConfig{writers: o.writers, rate: o.rate, rows: n, seed: o.seed, opTimeout: o.stepTimeout,
		maxRun: 5*o.stepTimeout + o.integritySealer + time.Minute}, t0)
	var recs []opRec
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			recs = l.finish()
			ir.LoadErrors = l.firstEr
		}
	}
	defer stop()
	sleepCtx(ctx, 2*time.Second)

	// The migration (its backfill is the rate the seal is compared with).
	logf("integrity %s: Migrate under the writers", s.Key)
	rec := &stepRecorder{t0: t0, ident: func() string { return "" }}
	if o.verbose {
		rec.next = slog.NewTextHandler(os.Stderr, nil)
	}
	mctx, cancel := context.WithTimeout(ctx, o.stepTimeout)
	a := time.Now()
	err = libMigrate(mctx, lib, s.Dialect, slog.New(rec))
	ir.MigrateMs = float64(time.Since(a).Microseconds()) / 1000
	cancel()
	if err != nil {
		return fail("Migrate: %v", err)
	}
	steps := rec.steps
	sleepCtx(ctx, time.Second)

	timed := func(what string, f func(context.Context) sealRun) sealRun {
		logf("integrity %s: %s under the writers", s.Key, what)
		cctx, cancel := context.WithTimeout(ctx, o.stepTimeout)
		defer cancel()
		a := time.Now()
		r := f(cctx)
		r.Start, r.End = rel(a), rel(time.Now())
		if r.Err != "" {
			ir.Err = joinErr(ir.Err, what+": "+r.Err)
		}
		logf("integrity %s: %s: %d rows in %s (%.0f rows/s)", s.Key, what, r.Rows, ms(r.DurMs), r.RowsS)
		sleepCtx(ctx, time.Second)
		return r
	}
	ir.Seal = timed("Seal (key 1)", func(c context.Context) sealRun { return libSeal(c, lib, s.Dialect, ring1) })
	ir.Verify = timed("Verify", func(c context.Context) sealRun { return libVerify(c, lib, s.Dialect, ring1) })
	ir.Rotate = timed("rotation (key 2 primary, Seal)", func(c context.Context) sealRun { return libSeal(c, lib, s.Dialect, ring2) })
	ir.Floor = timed("index floor (server-side UPDATE of Seal's columns, there and back)", func(c context.Context) sealRun { return s.floorRun(c, lib) })

	// RunSealer beside the writers: the unsealed rows sampled every 250 ms.
	logf("integrity %s: RunSealer for %s", s.Key, o.integritySealer)
	const every, period = time.Second, 250 * time.Millisecond
	sr := &ir.Sealer
	sr.IntervalMs, sr.SamplePeriod = float64(every.Milliseconds()), float64(period.Milliseconds())
	sctx, scancel := context.WithTimeout(ctx, o.integritySealer)
	type sealerOut struct {
		passes []sealerPass
		warns  []string
		err    error
	}
	done := make(chan sealerOut, 1)
	sa := time.Now()
	go func() {
		p, w, err := libRunSealer(sctx, lib, s.Dialect, ring2, every)
		done <- sealerOut{p, w, err}
	}()
	uq := s.unsealedQuery()
	for sctx.Err() == nil {
		sleepCtx(sctx, period)
		var smp sealerSample
		smp.T = time.Since(sa).Seconds()
		qctx, qc := context.WithTimeout(context.Background(), 10*time.Second)
		if err := obs.QueryRowContext(qctx, uq).Scan(&smp.Unsealed, &smp.AgeMs); err == nil {
			sr.Samples = append(sr.Samples, smp)
		}
		qc()
	}
	out := <-done
	scancel()
	se := time.Now()
	sr.DurS = se.Sub(sa).Seconds()
	if out.err != nil {
		sr.Err = out.err.Error()
		ir.Err = joinErr(ir.Err, "RunSealer: "+sr.Err)
	}
	sr.Warnings = out.warns
	for _, p := range out.passes {
		sr.Passes++
		sr.Sealed += p.Sealed
		sr.LongestPassMs = max(sr.LongestPassMs, float64(p.Dur.Microseconds())/1000)
	}
	sr.BoundMs = sr.IntervalMs + 2*sr.LongestPassMs
	for _, smp := range sr.Samples {
		if smp.T < 2*every.Seconds() {
			continue
		}
		sr.MaxAgeMs = max(sr.MaxAgeMs, smp.AgeMs)
		sr.MaxUnsealed = max(sr.MaxUnsealed, smp.Unsealed)
	}
	if k := len(sr.Samples); k > 0 {
		sr.FinalUnsealed, sr.FinalAgeMs = sr.Samples[k-1].Unsealed, sr.Samples[k-1].AgeMs
	}
	sr.KeptUp = sr.held(sr.worstMs())
	logf("integrity %s: RunSealer: %d passes sealed %d rows, longest pass %s; oldest unsealed at most %s (bound %s)", s.Key,
		sr.Passes, sr.Sealed, ms(sr.LongestPassMs), ms(sr.MaxAgeMs), ms(sr.BoundMs))
	sleepCtx(ctx, time.Second)
	stop()

	// Windows of the writers.
	for _, st := range steps {
		if isBackfill(st.Name) {
			ir.BackfillStep, ir.BackfillMs = st.Name, st.DurMs
			ir.BackfillW = window(recs, st.StartNs, st.EndNs, "overlap")
			if st.DurMs > 0 {
				ir.BackfillRowsS = float64(n) / (st.DurMs / 1000)
			}
			break
		}
	}
	for _, r := range []*sealRun{&ir.Seal, &ir.Verify, &ir.Rotate, &ir.Floor} {
		r.W = window(recs, r.Start, r.End, "overlap")
	}
	sr.W = window(recs, rel(sa), rel(se), "overlap")

	// VerifySession against a plain SELECT by key, alternating on the application's pool, writers stopped.
	logf("integrity %s: VerifySession vs SELECT, %d calls each", s.Key, o.integrityReps)
	sel := fmt.Sprintf("SELECT session_id, user_id, created_at, expires_at, last_accessed_at FROM sessions WHERE session_id = %s", s.ph(1))
	r := mrand.New(mrand.NewPCG(7, 11))
	var ls, lv []float64
	var es, ev int
	for i := 0; i < o.integrityReps && ctx.Err() == nil; i++ {
		id := sessionID(o.seed, 1+r.IntN(n))
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		var c1, c2, c3, c4, c5 any
		a := time.Now()
		err := db.QueryRowContext(cctx, sel, id).Scan(&c1, &c2, &c3, &c4, &c5)
		d := time.Since(a)
		if err != nil {
			es++
		} else {
			ls = append(ls, float64(d.Microseconds())/1000)
		}
		id = sessionID(o.seed, 1+r.IntN(n))
		a = time.Now()
		st, err := libVerifySession(cctx, db, s.Dialect, ring2, id)
		d = time.Since(a)
		cancel()
		if err != nil {
			ev++
			if ev == 1 {
				ir.Err = joinErr(ir.Err, "VerifySession: "+err.Error())
			}
			continue
		}
		lv = append(lv, float64(d.Microseconds())/1000)
		ir.Verdicts[st]++
	}
	ir.Select, ir.VerifySession = latOf(ls, es), latOf(lv, ev)
	logf("integrity %s: SELECT p50 %s p99 %s; VerifySession p50 %s p99 %s; verdicts %v", s.Key, ms(ir.Select.P50Ms), ms(ir.Select.P99Ms),
		ms(ir.VerifySession.P50Ms), ms(ir.VerifySession.P99Ms), ir.Verdicts)
	return ir
}

// floorBatch is the floor's keys per statement: Seal's default batch.
const floorBatch = 1000

// floorRun measures the index floor of Seal's write: the least a seal of a version 1 row can cost the server with
// the change's indexes in place - the same three indexed columns changed (security_hash to a value of the same
// length, encryption_key_id, security_version 1 <-> 2), in keyset batches of Seal's size, each one autocommitted
// UPDATE computed by the server (no read, no HMAC, no round trip per row). The backfill runs before the indexes
// are built, so it does not pay for them; Seal does. The rows the rotation sealed are taken to version 1 and back
// (REVERSE twice restores the seal), so the steps after this one see the table as the rotation left it; the rows
// the writers insert meanwhile (version 1, the default key id) are not touched. Rows is both passes' rows.
func (s server) floorRun(ctx context.Context, db *sql.DB) sealRun {
	var out sealRun
	a := time.Now()
	for _, pass := range [][2]string{{"2", "bench-k2"}, {"1", "bench-floor"}} {
		set := "security_hash = REVERSE(security_hash), encryption_key_id = 'bench-floor', security_version = 1"
		if pass[0] == "1" {
			set = "security_hash = REVERSE(security_hash), encryption_key_id = 'bench-k2', security_version = 2"
		}
		where := fmt.Sprintf("security_version = %s AND encryption_key_id = '%s'", pass[0], pass[1])
		var last any
		for {
			q := fmt.Sprintf("SELECT MAX(session_id) FROM (SELECT session_id FROM sessions ORDER BY session_id LIMIT %d) t", floorBatch)
			args := []any{}
			if last != nil {
				q = fmt.Sprintf("SELECT MAX(session_id) FROM (SELECT session_id FROM sessions WHERE session_id > %s ORDER BY session_id LIMIT %d) t", s.ph(1), floorBatch)
				args = append(args, last)
			}
			var upper sql.NullString
			if err := db.QueryRowContext(ctx, q, args...).Scan(&upper); err != nil {
				out.Err = err.Error()
				return out
			}
			if !upper.Valid {
				break
			}
			u := fmt.Sprintf("UPDATE sessions SET %s WHERE session_id <= %s AND %s", set, s.ph(1), where)
			args = []any{upper.String}
			if last != nil {
				u = fmt.Sprintf("UPDATE sessions SET %s WHERE session_id > %s AND session_id <= %s AND %s", set, s.ph(1), s.ph(2), where)
				args = []any{last, upper.String}
			}
			res, err := db.ExecContext(ctx, u, args...)
			if err != nil {
				out.Err = err.Error()
				return out
			}
			n, _ := res.RowsAffected()
			out.Rows += n
			out.Batches++
			last = upper.String
		}
	}
	out.DurMs = float64(time.Since(a).Microseconds()) / 1000
	if out.DurMs > 0 {
		out.RowsS = float64(out.Rows) / (out.DurMs / 1000)
	}
	return out
}
