package main

// Galera (issue 18 item 4): the application's writes on every node of a MariaDB Galera cluster, with no
// migration (phase A) and while Migrate runs from one node (phase B), on the AG-UI SDK store's table. Every
// write is attempted once: its errors are counted before any retry an application would do, split into
// conflicts (1213: a deadlock, or a certification failure / brute-force abort by a write of another node)
// and the rest. Index builds and the other DDL run under total order isolation, so each step's window shows
// what every node's writers went through while it ran.

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/agui-go/sessionsec/schema"
)

type galeraNode struct {
	Addr string // host:port, for the report (never the DSN: it may carry a password)
	cfg  *mysql.Config
}

func parseGaleraNodes(dsns []string) ([]galeraNode, error) {
	var out []galeraNode
	for i, d := range dsns {
		cfg, err := mysql.ParseDSN(d)
		if err != nil {
			return nil, fmt.Errorf("node %d: %w", i+1, err)
		}
		host := "localhost"
		if cfg.Net != "unix" {
			if h, _, err := net.SplitHostPort(cfg.Addr); err == nil {
				host = h
			} else {
				host = cfg.Addr
			}
		}
		if !isLoopback(host) {
			return nil, fmt.Errorf("node %d points at %q: this benchmark creates and drops databases and only runs against 127.0.0.1/localhost", i+1, host)
		}
		out = append(out, galeraNode{Addr: cfg.Addr, cfg: cfg})
	}
	return out, nil
}

// open opens a pool on the node's database name (interpolate: one round trip per writer statement).
func (n galeraNode) open(dbName string, interpolate bool, conns int) (*sql.DB, error) {
	c := n.cfg.Clone()
	c.DBName, c.InterpolateParams = dbName, interpolate
	db, err := sql.Open("mysql", c.FormatDSN())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	return db, nil
}

// nodeWin is one node's writers over a window.
type nodeWin struct {
	Node        int // 1-based
	Ops         int // every operation (writes and reads)
	Writes      int // INSERTs and UPDATEs attempted
	Conflicts   int // writes that failed with 1213
	OtherErrors int // writes that failed otherwise
	ReadErrors  int
	ErrRate     float64 // (Conflicts + OtherErrors) / Writes
	P50Ms       float64
	P99Ms       float64
	MaxMs       float64
	StallMs     float64 // longest time with no operation completed on this node
}

func nodeWindow(node int, recs []opRec, a, b int64, mode string) nodeWin {
	w := window(recs, a, b, mode)
	nw := nodeWin{Node: node, Ops: w.Ops, P50Ms: w.P50Ms, P99Ms: w.P99Ms, MaxMs: w.MaxMs, StallMs: w.StallMs}
	for _, r := range recs {
		in := false
		switch mode {
		case "endBefore":
			in = r.End >= a && r.End < b
		default:
			in = r.End >= a && r.Start <= b
		}
		if !in {
			continue
		}
		if r.Kind == opSelect {
			if r.Err {
				nw.ReadErrors++
			}
			continue
		}
		nw.Writes++
		switch {
		case r.Conflict:
			nw.Conflicts++
		case r.Err:
			nw.OtherErrors++
		}
	}
	if nw.Writes > 0 {
		nw.ErrRate = float64(nw.Conflicts+nw.OtherErrors) / float64(nw.Writes)
	}
	return nw
}

type galeraPhase struct {
	Phase string // "A: writers only", "B: during Migrate"
	DurS  float64
	Nodes []nodeWin
}

type galeraStep struct {
	Name          string
	Kind          string // "index build", "backfill", "DDL"
	BlocksCluster bool   // the plan says: DDL under total order isolation
	EstimateMs    float64
	DurMs         float64
	Failed        bool // Migrate failed in this step (its window: from the step before's end to Migrate's return)
	Nodes         []nodeWin
}

type galeraRes struct {
	Started     string
	LoadAvg     string // /proc/loadavg when the measurement started
	Version     string
	Nodes       []string // host:port
	ClusterSize int
	OSUMethod   string // wsrep_OSU_method: TOI runs DDL on every node at once
	Rows        int
	BuildS      float64
	Writers     int // per node
	Rate        float64
	BaselineS   float64
	MigrateNode int
	MigWallMs   float64
	Phases      []galeraPhase
	Steps       []galeraStep
	LoadErrors  []string
	LibRetries  map[string]int // the library's own retries (conflicts lost, lock waits) by log message
	ValidOn     []string       // nodes where Validate passed after the migration
	Err         string
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// buildSDKTable creates the AG-UI SDK store's table (its own DDL) with n rows on a MySQL-family server: ids as
// the bench's (sessionID(seed, i)), 10% expired, 10% inactive, a third without an IP.
func buildSDKTable(ctx context.Context, db *sql.DB, n int, seed string) (time.Duration, error) {
	start := time.Now()
	digits := "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
	for _, q := range []string{
		`CREATE TABLE sessions (
			id VARCHAR(64) PRIMARY KEY,
			user_id VARCHAR(255) NOT NULL,
			created_at TIMESTAMP NOT NULL,
			last_accessed TIMESTAMP NOT NULL,
			expires_at TIMESTAMP NOT NULL,
			ip_address VARCHAR(45),
			user_agent TEXT,
			is_active BOOLEAN NOT NULL DEFAULT true,
			data JSON,
			metadata JSON,
			INDEX idx_user_id (user_id),
			INDEX idx_expires_at (expires_at),
			INDEX idx_last_accessed (last_accessed),
			INDEX idx_active_expires (is_active, expires_at)
		) ENGINE=InnoDB`,
		"CREATE TABLE bench_seq (n INT NOT NULL PRIMARY KEY) ENGINE=InnoDB",
		"INSERT INTO bench_seq SELECT a.d + 10*b.d + 100*c.d + 1000*e.d + 10000*f.d FROM " +
			digits + " a, " + digits + " b, " + digits + " c, " + digits + " e, " + digits + " f",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return 0, fmt.Errorf("build: %w", err)
		}
	}
	seedLit := sanitizeIdent(seed)
	// 20k rows a statement: one Galera write set each, well under the certification limits.
	const batch = 20000
	for off := 0; off < n; off += batch {
		cnt := min(batch, n-off)
		q := fmt.Sprintf(`INSERT INTO sessions (id, user_id, created_at, last_accessed, expires_at, ip_address, user_agent, is_active, data, metadata)
SELECT LEFT(SHA2(CONCAT('%[1]s:', i), 256), 40), CONCAT('user-', i %% 100000),
       NOW() - INTERVAL (3600 + i %% 86400) SECOND, NOW() - INTERVAL (i %% 3600) SECOND,
       CASE WHEN i %% 10 = 0 THEN NOW() - INTERVAL 60 SECOND ELSE NOW() + INTERVAL (3600 + i %% 86400) SECOND END,
       CASE WHEN i %% 3 = 0 THEN NULL ELSE CONCAT('10.', i %% 250, '.', (i DIV 250) %% 250, '.', 1 + i %% 200) END,
       'agent/1.0', i %% 10 <> 9, '{}', '{}'
FROM (SELECT CAST(%[2]d AS SIGNED) + n + 1 AS i FROM bench_seq WHERE n < %[3]d) x`, seedLit, off, cnt)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return 0, fmt.Errorf("insert rows %d..%d: %w", off+1, off+cnt, err)
		}
	}
	for _, q := range []string{"DROP TABLE bench_seq", "ANALYZE TABLE sessions"} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return 0, fmt.Errorf("%s: %w", q, err)
		}
	}
	var got int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions").Scan(&got); err != nil {
		return 0, err
	}
	if got != n {
		return 0, fmt.Errorf("built %d rows, want %d", got, n)
	}
	return time.Since(start), nil
}

func runGalera(ctx context.Context, nodes []galeraNode, o *options) *galeraRes {
	gr := &galeraRes{Started: time.Now().UTC().Format(time.RFC3339), LoadAvg: loadAvg(), Rows: o.galeraRows,
		Writers: o.galeraWriters, Rate: o.rate, BaselineS: o.galeraBaseline.Seconds(), MigrateNode: 1}
	for _, n := range nodes {
		gr.Nodes = append(gr.Nodes, n.Addr)
	}
	fail := func(format string, args ...any) *galeraRes {
		gr.Err = joinErr(gr.Err, fmt.Sprintf(format, args...))
		logf("galera: ERROR %s", gr.Err)
		return gr
	}
	admin, err := nodes[0].open("", false, 2)
	if err != nil {
		return fail("%v", err)
	}
	defer admin.Close()
	srv := server{Key: "galera", Dialect: "mysql"}
	if err := admin.QueryRowContext(ctx, "SELECT VERSION()").Scan(&gr.Version); err != nil {
		return fail("node 1: %v", err)
	}
	var name string
	if err := admin.QueryRowContext(ctx, "SHOW STATUS LIKE 'wsrep_cluster_size'").Scan(&name, &gr.ClusterSize); err != nil {
		return fail("node 1 is not a Galera node (wsrep_cluster_size: %v)", err)
	}
	gr.Version = "MariaDB " + gr.Version
	if err := admin.QueryRowContext(ctx, "SELECT @@GLOBAL.wsrep_OSU_method").Scan(&gr.OSUMethod); err != nil {
		gr.OSUMethod = "unknown (" + err.Error() + ")"
	}
	logf("galera: %s, cluster size %d, load average %s", gr.Version, gr.ClusterSize, gr.LoadAvg)
	dbName := fmt.Sprintf("ssbench_%d_galera_%d", os.Getpid(), o.galeraRows)
	if err := srv.createDB(ctx, admin, dbName); err != nil {
		return fail("create database: %v", err)
	}
	defer func() {
		if err := srv.dropDB(context.Background(), admin, dbName); err != nil {
			logf("galera: drop database %s: %v", dbName, err)
		}
	}()
	// Each node's pools; the database reaches the other nodes through replication.
	var wdbs, obs []*sql.DB
	defer func() {
		for _, db := range append(wdbs, obs...) {
			db.Close()
		}
	}()
	for i, n := range nodes {
		w, err := n.open(dbName, true, o.galeraWriters+2)
		if err != nil {
			return fail("node %d: %v", i+1, err)
		}
		wdbs = append(wdbs, w)
		c, err := n.open(dbName, false, 3)
		if err != nil {
			return fail("node %d: %v", i+1, err)
		}
		obs = append(obs, c)
		deadline := time.Now().Add(30 * time.Second)
		for c.PingContext(ctx) != nil {
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fail("the database did not reach node %d in 30 s", i+1)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	logf("galera: building the SDK table with %d rows on node 1", o.galeraRows)
	bt, err := buildSDKTable(ctx, obs[0], o.galeraRows, o.seed)
	if err != nil {
		return fail("%v", err)
	}
	gr.BuildS = bt.Seconds()
	// The other nodes have applied the rows before the writers start (wsrep_sync_wait on this one read).
	for i := 1; i < len(obs); i++ {
		var n int
		conn, err := obs[i].Conn(ctx)
		if err == nil {
			_, err = conn.ExecContext(ctx, "SET SESSION wsrep_sync_wait = 1")
			if err == nil {
				err = conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions").Scan(&n)
			}
			_, _ = conn.ExecContext(ctx, "SET SESSION wsrep_sync_wait = 0")
			conn.Close()
		}
		if err != nil || n != o.galeraRows {
			return fail("node %d sees %d rows (%v)", i+1, n, err)
		}
	}
	plan, err := libPlan(ctx, obs[0], "mysql")
	if err != nil {
		return fail("plan: %v", err)
	}
	indexSteps := map[string]bool{}
	for _, st := range schema.Steps {
		if st.Kind == schema.StepIndex {
			indexSteps[st.Name("sessions")] = true
		}
	}

	t0 := time.Now()
	st := srv.sdkLoadStatements()
	var loads []*load
	for _, w := range wdbs {
		loads = append(loads, startLoad(srv, w, loadConfig{writers: o.galeraWriters, rate: o.rate, rows: o.galeraRows, seed: o.seed,
			opTimeout: o.stepTimeout, maxRun: o.galeraBaseline + o.stepTimeout + time.Minute, stmts: &st}, t0))
	}
	logf("galera: phase A, writers only, %s", o.galeraBaseline)
	sleepCtx(ctx, o.galeraBaseline)
	mig, err := nodes[0].open(dbName, false, 4)
	if err != nil {
		return fail("%v", err)
	}
	defer mig.Close()
	logf("galera: phase B, Migrate from node 1 under the writers")
	mctx, cancel := context.WithTimeout(ctx, o.stepTimeout)
	migStart := time.Now()
	mr, merr := libMigrateSteps(mctx, mig, "mysql", o.verbose)
	gr.LibRetries = mr.Retries
	migEnd := time.Now()
	cancel()
	if merr != nil {
		gr.Err = joinErr(gr.Err, "Migrate: "+merr.Error())
	}
	sleepCtx(ctx, 500*time.Millisecond)
	var recs [][]opRec
	for _, l := range loads {
		recs = append(recs, l.finish())
		seen := map[string]bool{}
		for _, e := range l.firstEr {
			if e = fmt.Sprintf("node %d: %s", len(recs), e); !seen[e] {
				seen[e] = true
				gr.LoadErrors = append(gr.LoadErrors, e)
			}
		}
	}
	a, b := int64(migStart.Sub(t0)), int64(migEnd.Sub(t0))
	gr.MigWallMs = float64(migEnd.Sub(migStart).Microseconds()) / 1000
	pa := galeraPhase{Phase: "A: writers only", DurS: migStart.Sub(t0).Seconds()}
	pb := galeraPhase{Phase: "B: during Migrate", DurS: migEnd.Sub(migStart).Seconds()}
	for i, r := range recs {
		pa.Nodes = append(pa.Nodes, nodeWindow(i+1, r, 0, a, "endBefore"))
		pb.Nodes = append(pb.Nodes, nodeWindow(i+1, r, a, b, "overlap"))
	}
	gr.Phases = []galeraPhase{pa, pb}
	byName := map[string]plannedStep{}
	for _, p := range plan {
		byName[p.Name] = p
	}
	spans := mr.Steps
	if merr != nil { // the step that failed ran from the last step's end to Migrate's
		from := migStart
		if len(spans) > 0 {
			from = spans[len(spans)-1].End
		}
		name := "(Migrate failed)"
		if mr.Failed != "" {
			name = strings.TrimSuffix(strings.TrimSuffix(mr.Failed, ".up.sql"), ".down.sql")
			if i := strings.IndexByte(name, '_'); i > 0 {
				name = name[i+1:]
			}
		}
		spans = append(spans, stepSpan{Name: name, Start: from, End: migEnd, Failed: true})
	}
	for _, sp := range spans {
		p := byName[sp.Name]
		gs := galeraStep{Name: sp.Name, Kind: "DDL", BlocksCluster: p.BlocksCluster, EstimateMs: p.EstimateMs,
			DurMs: float64(sp.End.Sub(sp.Start).Microseconds()) / 1000, Failed: sp.Failed}
		switch {
		case indexSteps[sp.Name]:
			gs.Kind = "index build"
		case isBackfill(sp.Name):
			gs.Kind = "backfill"
		}
		for i, r := range recs {
			gs.Nodes = append(gs.Nodes, nodeWindow(i+1, r, int64(sp.Start.Sub(t0)), int64(sp.End.Sub(t0)), "overlap"))
		}
		gr.Steps = append(gr.Steps, gs)
	}
	if merr == nil {
		for i, c := range obs {
			ok, _, err := libValidate(ctx, c, "mysql", quietLogger(false))
			if err == nil && ok {
				gr.ValidOn = append(gr.ValidOn, fmt.Sprintf("node %d", i+1))
			} else {
				gr.Err = joinErr(gr.Err, fmt.Sprintf("Validate on node %d: ok=%t %v", i+1, ok, err))
			}
		}
	}
	for _, ph := range gr.Phases {
		for _, n := range ph.Nodes {
			logf("galera: %s node %d: %d writes, %d conflicts, %d other errors (%.2f%%), p99 %s, stall %s", ph.Phase, n.Node, n.Writes,
				n.Conflicts, n.OtherErrors, 100*n.ErrRate, ms(n.P99Ms), ms(n.StallMs))
		}
	}
	return gr
}
