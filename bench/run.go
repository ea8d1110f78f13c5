package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
)

type results struct {
	Machine   machineInfo
	Started   string
	Finished  string
	Args      string
	Writers   int
	Rate      float64
	WarmS     float64
	CoolS     float64
	TputS     float64
	SkipNaive bool
	Rendered  string `json:",omitempty"` // set when the report was re-rendered with -from
	Servers   []*serverRes
	Galera    *galeraRes      `json:",omitempty"`
	Integrity []*integrityRes `json:",omitempty"`
	Replicas  []*replicaRes   `json:",omitempty"`
}

type serverRes struct {
	Server      string
	Version     string
	Rows        int
	Naive       *runRes `json:",omitempty"`
	Lib         *runRes `json:",omitempty"`
	NoopMigrate callStats
	NoopFresh   callStats
	Validate    callStats
	UpOnly      callStats
	NewUp       callStats
	Trig        trigRes
	Maint       []taskRes
	Err         string
}

type stepRes struct {
	Name        string
	StartNs     int64
	EndNs       int64
	DurMs       float64
	IdentBefore string
	IdentAfter  string
	Copied      bool
	Err         string
	W           winStats
}

type runRes struct {
	Mode          string
	BuildS        float64
	Err           string
	Steps         []stepRes
	MigStartNs    int64
	MigEndNs      int64
	WallMs        float64
	Before        winStats
	During        winStats
	After         winStats
	Series        []point
	Queries       int64
	NullHashAfter int64
	LoadErrors    []string
	BackfillStep  string
	BackfillMs    float64
	BackfillRowsS float64
	BackfillW     winStats
	CopiedSteps   int
}

type trigRes struct {
	InsWith, InsWithout, UpdWith, UpdWithout float64 // ops/s, closed loop, W writers
	InsRatio, UpdRatio                       float64 // with / without
	Errors                                   int
	Err                                      string
}

func goVersion() string { return runtime.Version() }

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func runServer(ctx context.Context, s server, n int, o *options) *serverRes {
	sr := &serverRes{Server: s.Key, Rows: n}
	admin, err := s.open("", false, false, 2)
	if err != nil {
		sr.Err = err.Error()
		return sr
	}
	defer admin.Close()
	sr.Version = s.version(ctx, admin)
	logf("%s: %s", s.Key, sr.Version)
	base := fmt.Sprintf("ssbench_%d_%s_%d", os.Getpid(), s.Key, n)
	if !o.skipNaive {
		sr.Naive = runMode(ctx, s, admin, base+"_naive", "naive", n, o, nil)
	}
	sr.Lib = runMode(ctx, s, admin, base+"_lib", "library", n, o, func(dbName string, db *sql.DB, obs *sql.DB) {
		logf("%s: nothing-pending calls x%d", s.Key, o.reps)
		var err error
		sr.NoopMigrate, sr.NoopFresh, sr.Validate, sr.UpOnly, sr.NewUp, err = s.noopBench(ctx, dbName, o.reps, quietLogger(false))
		if err != nil {
			sr.Err = joinErr(sr.Err, "no-op bench: "+err.Error())
		}
		logf("%s: trigger overhead", s.Key)
		sr.Trig = s.triggerOverhead(ctx, db, obs, n, o)
		logf("%s: maintenance tasks", s.Key)
		sr.Maint = s.maintenance(ctx, db, obs, n, o)
	})
	for _, r := range []*runRes{sr.Naive, sr.Lib} {
		if r != nil && r.Err != "" {
			sr.Err = joinErr(sr.Err, r.Mode+": "+r.Err)
		}
	}
	if sr.Trig.Err != "" {
		sr.Err = joinErr(sr.Err, "trigger overhead: "+sr.Trig.Err)
	}
	for _, t := range sr.Maint {
		if t.Err != "" {
			sr.Err = joinErr(sr.Err, t.Task+": "+t.Err)
		}
	}
	return sr
}

func joinErr(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// stepRecorder collects the library's "sessionsec: step done" log records as they happen (the handler runs
// synchronously in Migrate, between steps) and reads the table identity right after each step.
type stepRecorder struct {
	mu    sync.Mutex
	t0    time.Time
	steps []stepRes
	ident func() string
	last  string
	next  slog.Handler
}

func (h *stepRecorder) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }
func (h *stepRecorder) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *stepRecorder) WithGroup(string) slog.Handler                { return h }

func (h *stepRecorder) Handle(ctx context.Context, r slog.Record) error {
	if h.next != nil {
		_ = h.next.Handle(ctx, r)
	}
	if r.Message != "sessionsec: step done" {
		return nil
	}
	end := time.Now()
	var name, dir string
	var dur time.Duration
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "step":
			name = a.Value.String()
		case "direction":
			dir = a.Value.String()
		case "duration":
			switch a.Value.Kind() {
			case slog.KindDuration:
				dur = a.Value.Duration()
			case slog.KindInt64:
				dur = time.Duration(a.Value.Int64())
			default:
				dur, _ = time.ParseDuration(a.Value.String())
			}
		}
		return true
	})
	if dir != "" && dir != "up" {
		name = dir + " " + name
	}
	id := h.ident()
	h.mu.Lock()
	h.steps = append(h.steps, stepRes{Name: name, StartNs: int64(end.Add(-dur).Sub(h.t0)), EndNs: int64(end.Sub(h.t0)),
		DurMs: float64(dur.Microseconds()) / 1000, IdentBefore: h.last, IdentAfter: id, Copied: id != h.last})
	h.last = id
	h.mu.Unlock()
	return nil
}

// runMode builds a fresh database with n rows, runs the naive script or Migrate under the write load, and
// (library only) calls after with the migrated database before it is dropped.
func runMode(ctx context.Context, s server, admin *sql.DB, dbName, mode string, n int, o *options, after func(string, *sql.DB, *sql.DB)) *runRes {
	rr := &runRes{Mode: mode}
	fail := func(format string, args ...any) *runRes {
		rr.Err = fmt.Sprintf(format, args...)
		logf("%s %s: ERROR %s", s.Key, mode, rr.Err)
		return rr
	}
	if err := s.createDB(ctx, admin, dbName); err != nil {
		return fail("create database: %v", err)
	}
	defer func() {
		if err := s.dropDB(context.Background(), admin, dbName); err != nil {
			logf("%s: drop database %s: %v", s.Key, dbName, err)
		}
	}()
	db, err := s.open(dbName, false, true, o.writers+2)
	if err != nil {
		return fail("%v", err)
	}
	defer db.Close()
	obs, err := s.open(dbName, false, false, 3)
	if err != nil {
		return fail("%v", err)
	}
	defer obs.Close()

	logf("%s %s: building %d rows", s.Key, mode, n)
	bt, err := s.buildTable(ctx, obs, n, o.seed)
	if err != nil {
		return fail("build: %v", err)
	}
	rr.BuildS = bt.Seconds()
	ident := func() string {
		id, err := s.tableIdentity(context.Background(), obs)
		if err != nil {
			return "error: " + err.Error()
		}
		return id
	}
	id0 := ident()

	t0 := time.Now()
	l := startLoad(s, db, loadConfig{writers: o.writers, rate: o.rate, rows: n, seed: o.seed, opTimeout: o.stepTimeout,
		maxRun: o.warm + o.cool + o.stepTimeout + time.Minute}, t0)
	sleepCtx(ctx, o.warm)
	mctx, cancel := context.WithTimeout(ctx, o.stepTimeout)
	logf("%s %s: migrating under load", s.Key, mode)
	migStart := time.Now()
	switch mode {
	case "naive":
		steps, err := s.naiveSteps()
		if err != nil {
			rr.Err = err.Error()
			break
		}
		last := id0
		for _, st := range steps {
			a := time.Now()
			_, err := obs.ExecContext(mctx, st.SQL)
			b := time.Now()
			id := ident()
			sres := stepRes{Name: st.Name, StartNs: int64(a.Sub(t0)), EndNs: int64(b.Sub(t0)), DurMs: float64(b.Sub(a).Microseconds()) / 1000,
				IdentBefore: last, IdentAfter: id, Copied: id != last}
			last = id
			if err != nil {
				sres.Err = err.Error()
				rr.Err = joinErr(rr.Err, st.Name+": "+err.Error())
			}
			rr.Steps = append(rr.Steps, sres)
			if err != nil {
				break
			}
		}
	default:
		cdb, err := s.open(dbName, true, false, 4)
		if err != nil {
			rr.Err = err.Error()
			break
		}
		rec := &stepRecorder{t0: t0, ident: ident, last: id0}
		if o.verbose {
			rec.next = slog.NewTextHandler(os.Stderr, nil)
		}
		qlog.reset()
		migStart = time.Now()
		if err := libMigrate(mctx, cdb, s.Dialect, slog.New(rec)); err != nil {
			rr.Err = err.Error()
		}
		rr.Queries, _, _ = qlog.snapshot()
		cdb.Close()
		rr.Steps = rec.steps
	}
	migEnd := time.Now()
	cancel()
	sleepCtx(ctx, o.cool)
	recs := l.finish()
	rr.LoadErrors = l.firstEr
	rr.MigStartNs, rr.MigEndNs = int64(migStart.Sub(t0)), int64(migEnd.Sub(t0))
	rr.WallMs = float64(migEnd.Sub(migStart).Microseconds()) / 1000
	rr.Before = window(recs, rr.MigStartNs-int64(o.warm), rr.MigStartNs, "endBefore")
	rr.During = window(recs, rr.MigStartNs, rr.MigEndNs, "overlap")
	rr.After = window(recs, rr.MigEndNs, rr.MigEndNs+int64(o.cool), "startAfter")
	for i := range rr.Steps {
		st := &rr.Steps[i]
		st.W = window(recs, st.StartNs, st.EndNs, "overlap")
		if st.Copied {
			rr.CopiedSteps++
		}
		if rr.BackfillStep == "" && isBackfill(st.Name) {
			rr.BackfillStep, rr.BackfillMs, rr.BackfillW = st.Name, st.DurMs, st.W
			if st.DurMs > 0 {
				rr.BackfillRowsS = float64(n) / (st.DurMs / 1000)
			}
		}
	}
	rr.Series = series(recs, rr.MigStartNs, int64(100*time.Millisecond))
	if c, err := s.countNullHash(ctx, obs); err == nil {
		rr.NullHashAfter = c
	}
	logf("%s %s: wall %.0f ms, during p99 %.1f ms max %.1f ms stall %.1f ms, %d steps, copied %d, err=%q",
		s.Key, mode, rr.WallMs, rr.During.P99Ms, rr.During.MaxMs, rr.During.StallMs, len(rr.Steps), rr.CopiedSteps, rr.Err)
	if after != nil && rr.Err == "" && ctx.Err() == nil {
		after(dbName, db, obs)
	}
	return rr
}

func isBackfill(name string) bool {
	l := strings.ToLower(name)
	return strings.Contains(l, "backfill") && !strings.Contains(l, "procedure")
}

// triggerOverhead measures closed-loop INSERT and UPDATE throughput with the triggers and without them,
// alternating with/without twice, on the migrated table.
func (s server) triggerOverhead(ctx context.Context, db, obs *sql.DB, n int, o *options) trigRes {
	tr := trigRes{}
	files, err := s.triggerFiles()
	if err != nil {
		tr.Err = err.Error()
		return tr
	}
	var iw, io_, uw, uo []float64
	sample := func() (float64, float64) {
		ins, e1 := throughput(s, db, o.writers, opInsert, o.tputDur, o.seed, n)
		upd, e2 := throughput(s, db, o.writers, opUpdate, o.tputDur, o.seed, n)
		tr.Errors += e1 + e2
		return ins, upd
	}
	// with, without, without, with: a linear drift (the table grows, the machine is shared) cancels out.
	setTriggers := func(on bool) error {
		if !on {
			for _, q := range s.dropTriggerSQL() {
				if _, err := obs.ExecContext(ctx, q); err != nil {
					return err
				}
			}
			return nil
		}
		for _, f := range files {
			if _, err := obs.ExecContext(ctx, f.sql); err != nil {
				return fmt.Errorf("re-creating triggers: %w", err)
			}
		}
		return nil
	}
	for _, on := range []bool{true, false, false, true} {
		if ctx.Err() != nil {
			break
		}
		if err := setTriggers(on); err != nil {
			tr.Err = err.Error()
			return tr
		}
		a, b := sample()
		if on {
			iw, uw = append(iw, a), append(uw, b)
		} else {
			io_, uo = append(io_, a), append(uo, b)
		}
	}
	mean := func(v []float64) float64 {
		t := 0.0
		for _, x := range v {
			t += x
		}
		return t / float64(max(1, len(v)))
	}
	tr.InsWith, tr.InsWithout, tr.UpdWith, tr.UpdWithout = mean(iw), mean(io_), mean(uw), mean(uo)
	if tr.InsWithout > 0 {
		tr.InsRatio = tr.InsWith / tr.InsWithout
	}
	if tr.UpdWithout > 0 {
		tr.UpdRatio = tr.UpdWith / tr.UpdWithout
	}
	return tr
}
