package main

// Replicas: how far a replica falls behind its primary while Migrate runs under the writers, once without the
// lag bound (WithMaxReplicaLag(0)) and once with the bound (-replica-bound: default the library's, 1 s;
// MariaDB's replica given with WithReplicas, PostgreSQL's standby read by the library from pg_stat_replication), each on a fresh database
// with identical data. The lag is the bench's own measure, independent of the library's: the bench writes a
// heartbeat row on the primary every 50 ms (Unix microseconds of this process's clock) and reads it on the
// replica every 100 ms; the lag at a read is the read's time minus the heartbeat the replica has applied.
// Primary, replica and bench run on one machine, so both times come from one clock; a caught-up replica
// reads up to one heartbeat period (50 ms) plus the replication delay.

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
)

const (
	sectionReplicas = "replicas"

	heartbeatEvery = 50 * time.Millisecond
	probeEvery     = 100 * time.Millisecond
	// replicaDBPrefix: the topology's MariaDB replica replicates only databases named so (scripts/topology.sh).
	replicaDBPrefix = "ssecrepl_"
)

// replicaEnv is the environment variable of each server's replica DSN (scripts/topology.sh).
var replicaEnv = map[string]string{
	"mariadb":  "SESSIONSEC_MARIADB_REPLICA_DSN",
	"postgres": "SESSIONSEC_PG_STANDBY_DSN",
}

// replicaTarget is one primary (a -servers server) and its replica.
type replicaTarget struct {
	s    server
	dsn  string // the replica's base DSN (never printed: it may carry a password)
	Addr string // the replica's host:port, for the report
}

// loadReplicaTarget checks the primary's and the replica's DSNs (loopback only: the run creates and drops
// databases, and the drop replicates).
func loadReplicaTarget(key, dsn string) (replicaTarget, error) {
	s, err := loadServer(key)
	if err != nil {
		return replicaTarget{}, err
	}
	if _, ok := replicaEnv[key]; !ok {
		return replicaTarget{}, fmt.Errorf("%s: no replica measurement (want mariadb or postgres)", key)
	}
	if dsn == "" {
		return replicaTarget{}, fmt.Errorf("%s: no replica DSN (set %s or pass its flag)", key, replicaEnv[key])
	}
	t := replicaTarget{s: s, dsn: dsn}
	var host string
	if s.Dialect == "mysql" {
		cfg, err := mysql.ParseDSN(dsn)
		if err != nil {
			return t, fmt.Errorf("%s replica: %w", key, err)
		}
		t.Addr, host = cfg.Addr, "localhost"
		if cfg.Net != "unix" {
			if host, _, err = net.SplitHostPort(cfg.Addr); err != nil {
				host = cfg.Addr
			}
		}
	} else {
		u, err := url.Parse(dsn)
		if err != nil {
			return t, fmt.Errorf("%s standby: bad URL", key) // the error would print the URL
		}
		t.Addr, host = u.Host, u.Hostname()
	}
	if !isLoopback(host) {
		return t, fmt.Errorf("%s replica points at %q: this benchmark only runs against 127.0.0.1/localhost", key, host)
	}
	return t, nil
}

// replicaServer is the replica as a server: same dialect, its own DSN.
func (t replicaTarget) replicaServer() server {
	r := t.s
	r.BaseDSN = t.dsn
	return r
}

// lagRec is one read of the heartbeat on the replica.
type lagRec struct {
	AtNs    int64   // when the read started, ns since the run's t0
	LagMs   float64 // -1: the read failed
	Paused  bool    // replication was stopped or paused on the replica (by someone else: the bench never does)
	applied int64   // the heartbeat the replica had applied (Unix µs)
}

// heartbeat writes the bench's heartbeat row on the primary every heartbeatEvery.
type heartbeat struct {
	stop, done chan struct{}
	mu         sync.Mutex
	last       int64 // the newest heartbeat committed (Unix µs)
	lastAt     time.Time
	maxGap     time.Duration // longest time between two commits: the probe's resolution at worst
	errs       int
}

func startHeartbeat(db *sql.DB, update string) *heartbeat {
	h := &heartbeat{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(h.done)
		tick := time.NewTicker(heartbeatEvery)
		defer tick.Stop()
		for {
			select {
			case <-h.stop:
				return
			case <-tick.C:
			}
			ts := time.Now().UnixMicro()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := db.ExecContext(ctx, update, ts)
			cancel()
			now := time.Now()
			h.mu.Lock()
			if err != nil {
				h.errs++
			} else {
				if !h.lastAt.IsZero() {
					h.maxGap = max(h.maxGap, now.Sub(h.lastAt))
				}
				h.last, h.lastAt = ts, now
			}
			h.mu.Unlock()
		}
	}()
	return h
}

func (h *heartbeat) newest() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.last
}

func (h *heartbeat) finish() {
	close(h.stop)
	<-h.done
}

// lagProbe reads the heartbeat on the replica every probeEvery.
type lagProbe struct {
	stop, done chan struct{}
	mu         sync.Mutex
	recs       []lagRec
	firstErr   string
}

func startLagProbe(db *sql.DB, query string, t0 time.Time) *lagProbe {
	p := &lagProbe{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(probeEvery)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			at := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			var ts int64
			var paused bool
			err := db.QueryRowContext(ctx, query).Scan(&ts, &paused)
			cancel()
			r := lagRec{AtNs: int64(at.Sub(t0)), LagMs: -1, Paused: paused, applied: ts}
			if err == nil {
				r.LagMs = max(0, float64(at.UnixMicro()-ts)/1000)
			}
			p.mu.Lock()
			if err != nil && p.firstErr == "" {
				p.firstErr = err.Error()
			}
			p.recs = append(p.recs, r)
			p.mu.Unlock()
		}
	}()
	return p
}

// appliedSince says whether a read started after afterNs found the replica at heartbeat hb or later.
func (p *lagProbe) appliedSince(afterNs, hb int64) (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.recs) - 1; i >= 0 && p.recs[i].AtNs > afterNs; i-- {
		if r := p.recs[i]; r.LagMs >= 0 && r.applied >= hb {
			// The earliest such read of the run of reads that have it.
			j := i
			for j > 0 && p.recs[j-1].AtNs > afterNs && p.recs[j-1].LagMs >= 0 && p.recs[j-1].applied >= hb {
				j--
			}
			return p.recs[j].AtNs, true
		}
	}
	return 0, false
}

func (p *lagProbe) finish() []lagRec {
	close(p.stop)
	<-p.done
	return p.recs
}

// waitApplied waits until a read that started after afterNs finds heartbeat hb applied on the replica, and
// returns that read's time (ns since t0).
func (p *lagProbe) waitApplied(ctx context.Context, afterNs, hb int64, limit time.Duration) (int64, error) {
	deadline := time.Now().Add(limit)
	for {
		if at, ok := p.appliedSince(afterNs, hb); ok {
			return at, nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("the replica had not applied the primary's heartbeat after %s", limit)
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		time.Sleep(probeEvery / 2)
	}
}

// lagWin is the replica's lag over a window.
type lagWin struct {
	Samples     int
	Errors      int     // reads that failed
	MaxLagMs    float64 // of the reads that did not fail
	P50LagMs    float64
	P99LagMs    float64
	OverBoundMs float64 // time the lag was over the bound (each read's lag held until the next read)
	PausedMs    float64 // time replication was stopped or paused on the replica by someone else
	MaxAtNs     int64   // when the max was read
}

func lagWindow(recs []lagRec, a, b int64, bound time.Duration) lagWin {
	var w lagWin
	var lags []float64
	boundMs := float64(bound.Microseconds()) / 1000
	for i, r := range recs {
		if r.AtNs < a || r.AtNs > b {
			continue
		}
		w.Samples++
		next := b
		if i+1 < len(recs) {
			next = min(b, recs[i+1].AtNs)
		}
		if r.Paused {
			w.PausedMs += float64(next-r.AtNs) / 1e6
		}
		if r.LagMs < 0 {
			w.Errors++
			continue
		}
		lags = append(lags, r.LagMs)
		if r.LagMs > w.MaxLagMs || len(lags) == 1 {
			w.MaxLagMs, w.MaxAtNs = r.LagMs, r.AtNs
		}
		if r.LagMs > boundMs {
			w.OverBoundMs += float64(next-r.AtNs) / 1e6
		}
	}
	sort.Float64s(lags)
	w.P50LagMs, w.P99LagMs = pct(lags, 0.50), pct(lags, 0.99)
	return w
}

// replicaStep is one step of Migrate: the slot from the previous step's end to its own (its wait for the
// replicas, if any, comes before it starts), the replica's lag over that slot, and the library's waits in it.
type replicaStep struct {
	Name     string
	DurMs    float64 // the step itself
	SlotMs   float64 // the previous step's end to its own
	Reads    int     // the probe's reads in the slot (none in a slot shorter than its period)
	MaxLagMs float64
	WaitedMs float64 // the library's pauses that ended in the slot
	Waits    int
}

// replicaRun is one Migrate on a fresh database.
type replicaRun struct {
	Mode        string // "no bound", "bound 1s (default)" or "bound <d>"
	Options     string // the options given to Migrate
	DB          string
	BuildS      float64
	SyncS       float64 // the replica had the built table
	StartNs     int64   // Migrate's start and end, ns since t0 (the writers' and the probe's origin)
	EndNs       int64
	WallMs      float64
	Before      lagWin  // the writers and the heartbeat only, before Migrate
	During      lagWin  // from Migrate's start until the replica had caught up with where the primary was at its end
	CaughtUpMs  float64 // after Migrate returned, until the replica had applied the primary's heartbeat of that moment
	LagAtEndMs  float64 // the first read after Migrate returned
	PeakIn      string  // the step whose slot the max lag was read in (or "after Migrate returned")
	HBMaxGapMs  float64 // longest gap between two heartbeat commits on the primary
	HBErrors    int
	ProbeErr    string
	LibWaits    int
	LibWaitedMs float64
	LibLongest  float64 // the longest pause
	LibThrottle int     // Throttled progress reports
	LibMaxLagMs float64 // the largest lag those reports gave
	LibUnknown  int
	LibWarnings []string `json:",omitempty"`
	Waits       []libWait
	Steps       []replicaStep
	Writers     winStats // the writers during Migrate
	LoadErrors  []string `json:",omitempty"`
	RowsPrimary int64    // after the run, with the writers stopped and the replica caught up
	RowsReplica int64
	Series      []lagRec
	Err         string
}

// replicaRes is one server's two runs.
type replicaRes struct {
	Server         string
	Version        string
	ReplicaVersion string
	Replica        string // host:port
	Rows           int
	Started        string
	LoadAvg        string
	Writers        int
	Rate           float64
	WarmS          float64
	BoundMs        float64
	Runs           []*replicaRun
	Err            string
}

func (t replicaTarget) hbSQL() (create, insert, update, probe string) {
	if t.s.Dialect == "postgres" {
		return "CREATE TABLE bench_replica_heartbeat (id int PRIMARY KEY, ts bigint NOT NULL)",
			"INSERT INTO bench_replica_heartbeat VALUES (1, 0)",
			"UPDATE bench_replica_heartbeat SET ts = $1 WHERE id = 1",
			"SELECT ts, pg_is_wal_replay_paused() FROM bench_replica_heartbeat WHERE id = 1"
	}
	return "CREATE TABLE bench_replica_heartbeat (id INT PRIMARY KEY, ts BIGINT NOT NULL) ENGINE=InnoDB",
		"INSERT INTO bench_replica_heartbeat VALUES (1, 0)",
		"UPDATE bench_replica_heartbeat SET ts = ? WHERE id = 1",
		"SELECT ts, COALESCE((SELECT VARIABLE_VALUE <> 'ON' FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVE_RUNNING'), 0) FROM bench_replica_heartbeat WHERE id = 1"
}

// waitReplicaDB waits until the replica has database name.
func (t replicaTarget) waitReplicaDB(ctx context.Context, radmin *sql.DB, name string) error {
	q := "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?"
	if t.s.Dialect == "postgres" {
		q = "SELECT COUNT(*) FROM pg_database WHERE datname = $1"
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var n int
		err := radmin.QueryRowContext(ctx, q, name).Scan(&n)
		if err == nil && n == 1 {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("database %s did not reach the replica in 2 min (last error: %v)", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// replicationRunning checks that the replica replicates (MariaDB: both threads; PostgreSQL: in recovery).
func (t replicaTarget) replicationRunning(ctx context.Context, radmin *sql.DB) error {
	if t.s.Dialect == "postgres" {
		var rec bool
		if err := radmin.QueryRowContext(ctx, "SELECT pg_is_in_recovery()").Scan(&rec); err != nil {
			return err
		}
		if !rec {
			return fmt.Errorf("the standby at %s is not in recovery: not a standby", t.Addr)
		}
		return nil
	}
	var running string
	if err := radmin.QueryRowContext(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVE_RUNNING'").Scan(&running); err != nil {
		return err
	}
	if running != "ON" {
		return fmt.Errorf("the replica at %s does not replicate (Slave_running %s)", t.Addr, running)
	}
	return nil
}

func runReplicas(ctx context.Context, t replicaTarget, o *options) *replicaRes {
	s := t.s
	rs := &replicaRes{Server: s.Key, Replica: t.Addr, Rows: o.replicaRows, Started: time.Now().UTC().Format(time.RFC3339), LoadAvg: loadAvg(),
		Writers: o.writers, Rate: o.rate, WarmS: o.warm.Seconds(), BoundMs: float64(o.replicaBound.Microseconds()) / 1000}
	admin, err := s.open("", false, false, 2)
	if err != nil {
		rs.Err = err.Error()
		return rs
	}
	defer admin.Close()
	rsrv := t.replicaServer()
	radmin, err := rsrv.open("", false, false, 2)
	if err != nil {
		rs.Err = err.Error()
		return rs
	}
	defer radmin.Close()
	rs.Version, rs.ReplicaVersion = s.version(ctx, admin), rsrv.version(ctx, radmin)
	if err := t.replicationRunning(ctx, radmin); err != nil {
		rs.Err = err.Error()
		logf("replicas %s: ERROR %s", s.Key, rs.Err)
		return rs
	}
	logf("replicas %s: %s, replica %s (%s), load average %s", s.Key, rs.Version, t.Addr, rs.ReplicaVersion, rs.LoadAvg)
	for _, bound := range []bool{false, true} {
		if ctx.Err() != nil {
			break
		}
		r := t.runOnce(ctx, admin, radmin, bound, o)
		rs.Runs = append(rs.Runs, r)
		if r.Err != "" {
			rs.Err = joinErr(rs.Err, r.Mode+": "+r.Err)
		}
	}
	return rs
}

func (t replicaTarget) runOnce(ctx context.Context, admin, radmin *sql.DB, bound bool, o *options) *replicaRun {
	s, n := t.s, o.replicaRows
	r := &replicaRun{Mode: "no bound", Options: "WithMaxReplicaLag(0)"}
	tag, limit := "nobound", time.Duration(0)
	if bound {
		tag, limit = "bound", o.replicaBound
		r.Mode, r.Options = "bound "+limit.String(), fmt.Sprintf("WithMaxReplicaLag(%s)", limit)
		if limit == libDefaultMaxReplicaLag {
			r.Mode, r.Options = "bound "+limit.String()+" (default)", "default (WithMaxReplicaLag not given)"
		}
		if s.Dialect == "mysql" {
			r.Options += ", WithReplicas(replica)"
		}
	}
	r.DB = fmt.Sprintf("%sbench_%d_%s_%d_%s", replicaDBPrefix, os.Getpid(), s.Key, n, tag)
	fail := func(format string, args ...any) *replicaRun {
		r.Err = joinErr(r.Err, fmt.Sprintf(format, args...))
		logf("replicas %s %s: ERROR %s", s.Key, r.Mode, r.Err)
		return r
	}
	if err := s.createDB(ctx, admin, r.DB); err != nil {
		return fail("create database: %v", err)
	}
	// The replica's pools are closed before the drop (deferred first, runs last): on a PostgreSQL standby,
	// replaying DROP DATABASE would have to cancel them.
	defer func() {
		if err := s.dropDB(context.Background(), admin, r.DB); err != nil {
			logf("replicas %s: drop database %s: %v", s.Key, r.DB, err)
		}
	}()
	if err := t.waitReplicaDB(ctx, radmin, r.DB); err != nil {
		return fail("%v", err)
	}
	var pools []*sql.DB
	defer func() {
		for _, p := range pools {
			p.Close()
		}
	}()
	openP := func(srv server, conns int, interpolate bool) *sql.DB {
		db, err := srv.open(r.DB, false, interpolate, conns)
		if err != nil {
			panic(err) // sql.Open fails only on an unknown driver
		}
		pools = append(pools, db)
		return db
	}
	rsrv := t.replicaServer()
	obs := openP(s, 3, false)
	wdb := openP(s, o.writers+2, true)
	mig := openP(s, 4, false)
	hbdb := openP(s, 1, true)
	probeDB := openP(rsrv, 2, false)
	libReplica := openP(rsrv, 2, false) // the handle WithReplicas gets: the library's reads, not the probe's

	logf("replicas %s %s: building %d rows", s.Key, r.Mode, n)
	bt, err := s.buildTable(ctx, obs, n, o.seed)
	if err != nil {
		return fail("build: %v", err)
	}
	r.BuildS = bt.Seconds()
	create, insert, update, probeQ := t.hbSQL()
	for _, q := range []string{create, insert} {
		if _, err := obs.ExecContext(ctx, q); err != nil {
			return fail("heartbeat table: %v", err)
		}
	}
	t0 := time.Now()
	hb := startHeartbeat(hbdb, update)
	hbStopped := false
	defer func() {
		if !hbStopped {
			hb.finish()
		}
	}()
	probe := startLagProbe(probeDB, probeQ, t0)
	var series []lagRec
	probeStopped := false
	stopProbe := func() {
		if !probeStopped {
			probeStopped = true
			series = probe.finish()
		}
	}
	defer stopProbe()
	// The replica has the whole table before the run: it applied a heartbeat written after the build.
	sleepCtx(ctx, 2*heartbeatEvery)
	if _, err := probe.waitApplied(ctx, 0, max(1, hb.newest()), o.stepTimeout); err != nil {
		return fail("the replica did not catch up with the built table: %v", err)
	}
	r.SyncS = time.Since(t0).Seconds()
	probe.mu.Lock()
	probe.firstErr = "" // the reads before the heartbeat table reached the replica failed, as they must
	probe.mu.Unlock()
	var rn int64
	if err := probeDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions").Scan(&rn); err != nil || rn != int64(n) {
		return fail("the replica has %d rows of %d (%v)", rn, n, err)
	}

	l := startLoad(s, wdb, loadConfig{writers: o.writers, rate: o.rate, rows: n, seed: o.seed, opTimeout: o.stepTimeout,
		maxRun: o.warm + 3*o.stepTimeout + time.Minute}, t0)
	var recs []opRec
	loadStopped := false
	stopLoad := func() {
		if !loadStopped {
			loadStopped = true
			recs = l.finish()
			r.LoadErrors = l.firstEr
		}
	}
	defer stopLoad()
	sleepCtx(ctx, o.warm)

	var replicas []*sql.DB
	if s.Dialect == "mysql" {
		replicas = []*sql.DB{libReplica}
	}
	logf("replicas %s %s: Migrate under the writers (%s)", s.Key, r.Mode, r.Options)
	mctx, cancel := context.WithTimeout(ctx, o.stepTimeout)
	migStart := time.Now()
	mr, merr := libMigrateReplicas(mctx, mig, s.Dialect, limit, replicas, t0, o.verbose)
	migEnd := time.Now()
	hbEnd := hb.newest()
	cancel()
	if merr != nil {
		r.Err = joinErr(r.Err, "Migrate: "+merr.Error())
	}
	r.StartNs, r.EndNs = int64(migStart.Sub(t0)), int64(migEnd.Sub(t0))
	r.WallMs = float64(migEnd.Sub(migStart).Microseconds()) / 1000
	logf("replicas %s %s: Migrate took %s; waiting for the replica to catch up", s.Key, r.Mode, ms(r.WallMs))
	caught, err := probe.waitApplied(ctx, r.EndNs, hbEnd, o.stepTimeout)
	if err != nil {
		r.Err = joinErr(r.Err, err.Error())
		caught = int64(time.Since(t0))
	}
	r.CaughtUpMs = float64(caught-r.EndNs) / 1e6
	stopLoad()

	// With the writers stopped, the replica applies the rest; then both sides must hold the same rows.
	sleepCtx(ctx, 2*heartbeatEvery)
	if _, err := probe.waitApplied(ctx, int64(time.Since(t0)), max(1, hb.newest()), o.stepTimeout); err != nil {
		r.Err = joinErr(r.Err, "after the writers stopped: "+err.Error())
	}
	hb.finish()
	hbStopped = true
	stopProbe()
	r.HBMaxGapMs, r.HBErrors = float64(hb.maxGap.Microseconds())/1000, hb.errs
	r.ProbeErr = probe.firstErr
	if err := obs.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions").Scan(&r.RowsPrimary); err != nil {
		r.Err = joinErr(r.Err, "count on the primary: "+err.Error())
	}
	if err := probeDB.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions").Scan(&r.RowsReplica); err != nil {
		r.Err = joinErr(r.Err, "count on the replica: "+err.Error())
	}
	if r.RowsPrimary != r.RowsReplica {
		r.Err = joinErr(r.Err, fmt.Sprintf("after catching up the replica has %d rows, the primary %d", r.RowsReplica, r.RowsPrimary))
	}

	r.Series = series
	r.Before = lagWindow(series, r.StartNs-int64(o.warm), r.StartNs, o.replicaBound)
	r.During = lagWindow(series, r.StartNs, caught, o.replicaBound)
	for _, x := range series {
		if x.AtNs >= r.EndNs && x.LagMs >= 0 {
			r.LagAtEndMs = x.LagMs
			break
		}
	}
	r.Writers = window(recs, r.StartNs, r.EndNs, "overlap")
	r.Waits = mr.Waits
	r.LibWaits, r.LibThrottle, r.LibMaxLagMs, r.LibUnknown, r.LibWarnings = len(mr.Waits), mr.Throttled, mr.MaxLagMs, mr.UnknownLags, mr.Warnings
	if merr == nil && mr.Throttled > 0 && len(mr.Waits) == 0 {
		// Every pause that ended logs its end: the bench no longer recognises the record.
		r.Err = joinErr(r.Err, "Migrate sent Throttled reports but logged no end of a pause the bench recognises (lib.go's waitRecorder)")
	}
	for _, w := range mr.Waits {
		r.LibWaitedMs += w.WaitedMs
		r.LibLongest = max(r.LibLongest, w.WaitedMs)
	}
	prev := r.StartNs
	r.PeakIn = "-"
	switch {
	case r.During.Samples == r.During.Errors:
	case r.During.MaxAtNs > r.EndNs:
		r.PeakIn = "after Migrate returned"
	default:
		r.PeakIn = "outside the steps"
	}
	for _, sp := range mr.Steps {
		end := int64(sp.End.Sub(t0))
		lw := lagWindow(series, prev, end, o.replicaBound)
		st := replicaStep{Name: sp.Name, DurMs: float64(sp.End.Sub(sp.Start).Microseconds()) / 1000, SlotMs: float64(end-prev) / 1e6,
			Reads: lw.Samples - lw.Errors, MaxLagMs: lw.MaxLagMs}
		for _, w := range mr.Waits {
			if w.EndNs > prev && w.EndNs <= end {
				st.Waits++
				st.WaitedMs += w.WaitedMs
			}
		}
		if r.During.Samples > r.During.Errors && r.During.MaxAtNs >= prev && r.During.MaxAtNs <= end {
			r.PeakIn = sp.Name
		}
		r.Steps = append(r.Steps, st)
		prev = end
	}
	logf("replicas %s %s: wall %s, replica max lag %s (p99 %s, over the bound %s, peak in %s), caught up %s after Migrate returned; library: %d pauses, %s waited; writers stall %s; err=%q",
		s.Key, r.Mode, ms(r.WallMs), ms(r.During.MaxLagMs), ms(r.During.P99LagMs), ms(r.During.OverBoundMs), r.PeakIn, ms(r.CaughtUpMs),
		r.LibWaits, ms(r.LibWaitedMs), ms(r.Writers.StallMs), r.Err)
	return r
}

func renderReplicas(b *strings.Builder, res *results) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("%s\n## Replicas: their lag during `Migrate`, without and with the bound\n\n", sectionStart(sectionReplicas))
	var per []string
	for _, r := range res.Replicas {
		per = append(per, fmt.Sprintf("%s: %s rows, started %s, load average %s", r.Server, humanRows(r.Rows), r.Started, r.LoadAvg))
	}
	first := res.Replicas[0]
	bound := ms(first.BoundMs)
	boundHow := "`WithMaxReplicaLag(" + time.Duration(first.BoundMs*1e6).String() + ")`"
	if time.Duration(first.BoundMs*1e6) == libDefaultMaxReplicaLag {
		boundHow = "the library's default: `WithMaxReplicaLag` not given"
	}
	w("Generated by `go run ./bench %s`. **Machine:** %s. Per server: %s.\n\n", escape(res.Args), machineLine(res), strings.Join(per, "; "))
	if res.Rendered != "" {
		w("(Section %s; the measurements are unchanged.)\n\n", res.Rendered)
	}
	var topo []string
	for _, r := range res.Replicas {
		topo = append(topo, fmt.Sprintf("%s: primary %s, replica %s at %s", r.Server, r.Version, r.ReplicaVersion, r.Replica))
	}
	w("**Topology** (scripts/topology.sh): %s. The MariaDB replica is asynchronous binlog replication (one applier thread, replicating only `ssecrepl_*` databases); "+
		"the PostgreSQL standby is a streaming hot standby.\n\n", strings.Join(topo, "; "))
	w("Per server, two runs, each on a fresh database with the bench's `sessions` table of N rows (built on the primary, replicated, and applied by the replica before anything starts): "+
		"the paced writers (%d x %.0f ops/s, as in the comparison above) for %.0f s, then `sessionsec.Migrate` under them, "+
		"once with **no bound** (`WithMaxReplicaLag(0)`) and once with the bound of %s (%s; MariaDB: `WithReplicas(replica)`; PostgreSQL: the standby read from `pg_stat_replication`). "+
		"**The lag is the bench's own measure**, not the library's: the bench updates a heartbeat row on the primary every %s with the time (Unix microseconds) and reads it on the replica every %s; "+
		"the lag at a read is the read's time minus the heartbeat it found (one machine, one clock; a caught-up replica reads up to one heartbeat period plus the replication delay). "+
		"*During* runs from `Migrate`'s start until the replica has applied the heartbeat the primary had written when `Migrate` returned (*caught up after*). "+
		"*Over the bound*: the time the lag read above %s, in both runs (each read's lag held until the next read). "+
		"*Library pauses*: the pauses `Migrate` logged (`sessionsec: replicas caught up; resuming`, with the time waited). "+
		"*Writers*: p99 / max op latency / longest stall (no op completed) while `Migrate` ran.\n\n",
		first.Writers, first.Rate, first.WarmS, bound, boundHow, heartbeatEvery, probeEvery, bound)
	for _, r := range res.Replicas {
		if r.Err != "" {
			w("> **%s: error:** %s\n\n", r.Server, escape(truncate(r.Err, 500)))
		}
	}
	w("| server | run | `Migrate` wall | replica max lag | p99 lag | over the bound | max lag in | caught up after | library pauses | library waited (longest) | library's max reported lag | writers during `Migrate` |\n")
	w("|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|\n")
	for _, rs := range res.Replicas {
		for _, r := range rs.Runs {
			lib := "-"
			if r.LibThrottle > 0 {
				lib = ms(r.LibMaxLagMs)
			}
			w("| %s | %s | %s | **%s** | %s | %s | %s | %s | %d | %s (%s) | %s | %s / %s / %s |\n", rs.Server, r.Mode, ms(r.WallMs), ms(r.During.MaxLagMs), ms(r.During.P99LagMs),
				ms(r.During.OverBoundMs), escape(r.PeakIn), ms(r.CaughtUpMs), r.LibWaits, ms(r.LibWaitedMs), ms(r.LibLongest), lib,
				ms(r.Writers.P99Ms), ms(r.Writers.MaxMs), ms(r.Writers.StallMs))
		}
	}
	w("\nThe probe's floor, before `Migrate` (writers and heartbeat only, %.0f s), and its health per run:\n\n", first.WarmS)
	w("| server | run | max lag before | reads during | failed reads | replication paused from outside | longest heartbeat gap on the primary | rows primary / replica after |\n|---|---|---:|---:|---:|---:|---:|---|\n")
	for _, rs := range res.Replicas {
		for _, r := range rs.Runs {
			w("| %s | %s | %s | %d | %d | %s | %s | %d / %d |\n", rs.Server, r.Mode, ms(r.Before.MaxLagMs), r.During.Samples, r.During.Errors,
				ms(r.During.PausedMs+r.Before.PausedMs), ms(r.HBMaxGapMs), r.RowsPrimary, r.RowsReplica)
		}
	}
	for _, rs := range res.Replicas {
		if len(rs.Runs) == 0 {
			continue
		}
		w("\n### %s: per step\n\n", rs.Server)
		w("Each step's slot runs from the previous step's end to its own: a pause for the replicas comes before the step starts. Cells: step wall / replica max lag read in the slot (- when no read fell in it) / the library's pauses in it (count, time).\n\n")
		w("| # | step |")
		for _, r := range rs.Runs {
			w(" %s |", r.Mode)
		}
		w("\n|---:|---|")
		for range rs.Runs {
			w("---|")
		}
		w("\n")
		var names []string
		seen := map[string]bool{}
		for _, r := range rs.Runs {
			for _, st := range r.Steps {
				if !seen[st.Name] {
					seen[st.Name] = true
					names = append(names, st.Name)
				}
			}
		}
		for i, name := range names {
			w("| %d | %s |", i+1, escape(name))
			for _, r := range rs.Runs {
				cell := "-"
				for _, st := range r.Steps {
					if st.Name == name {
						lag := "-"
						if st.Reads > 0 {
							lag = ms(st.MaxLagMs)
						}
						cell = fmt.Sprintf("%s / %s / ", ms(st.DurMs), lag)
						if st.Waits > 0 {
							cell += fmt.Sprintf("%d, %s", st.Waits, ms(st.WaitedMs))
						} else {
							cell += "0"
						}
					}
				}
				w(" %s |", cell)
			}
			w("\n")
		}
		for _, r := range rs.Runs {
			if len(r.LibWarnings) > 0 {
				w("\n%s, %s: the library warned: %s.\n", rs.Server, r.Mode, escape(truncate(strings.Join(r.LibWarnings, "; "), 400)))
			}
			if r.During.Errors > 0 && r.ProbeErr != "" {
				w("\n%s, %s: the probe's first failed read: %s.\n", rs.Server, r.Mode, escape(truncate(r.ProbeErr, 300)))
			}
			if len(r.LoadErrors) > 0 {
				w("\n%s, %s: first writer errors: %s.\n", rs.Server, r.Mode, escape(truncate(strings.Join(r.LoadErrors, "; "), 400)))
			}
		}
	}
	w("\n%s\n", sectionEnd(sectionReplicas))
}
