package sessionsec_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
	"github.com/agui-go/sessionsec/internal/testtopo"
)

// The topologies come from scripts/topology.sh (source /tmp/sessionsec-dbs/topology.env):
// SESSIONSEC_PGBOUNCER_DSN (lib/pq, binary_parameters=yes) and SESSIONSEC_PGBOUNCER_PGX_DSN (pgx,
// simple protocol) reach PgBouncer in transaction pooling mode in front of SESSIONSEC_POSTGRES_DSN's
// server; SESSIONSEC_GALERA_DSNS lists the 3 nodes of a MariaDB Galera cluster.

const topoRows = 50_000

// topoRounds is how many rounds each topology test runs (SESSIONSEC_TOPOLOGY_ROUNDS, default 1).
func topoRounds() int {
	n, err := strconv.Atoi(os.Getenv("SESSIONSEC_TOPOLOGY_ROUNDS"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// needEnv is testtopo.Need: the topology's variables, or a skip (a failure where servers are required;
// a skip in a run whose SESSIONSEC_SERVERS does not name the topology, as scripts/matrix.sh's).
func needEnv(t *testing.T, topology string, vars ...string) []string {
	t.Helper()
	return testtopo.Need(t, topology, vars...)
}

func openT(t *testing.T, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// pooled is a fresh database on the PostgreSQL server, reached directly and through the pooler.
type pooled struct {
	d             *testdb.DB // direct
	pq, pgx, name string     // pooler DSNs
}

func newPooled(t *testing.T) pooled {
	env := needEnv(t, "pgbouncer", "SESSIONSEC_POSTGRES_DSN", "SESSIONSEC_PGBOUNCER_DSN", "SESSIONSEC_PGBOUNCER_PGX_DSN")
	var srv testdb.Server
	for _, s := range testdb.Servers {
		if s.Dialect == "postgres" {
			srv = s
		}
	}
	d := testdb.New(t, srv)
	at := func(dsn string) string {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + d.Name
		return u.String()
	}
	return pooled{d: d, pq: at(env[1]), pgx: at(env[2]), name: d.Name}
}

// sdkFill writes n rows of the AG-UI SDK table in one statement.
func sdkFill(t *testing.T, db *sql.DB, dialectName string, n int) {
	var q string
	if dialectName == "postgres" {
		q = fmt.Sprintf(`INSERT INTO sessions (id, user_id, created_at, last_accessed, expires_at, ip_address, user_agent, is_active, data)
			SELECT 'sdk-' || g, 'user-' || (g %% 7), now() - g * interval '1 second', now(), now() + interval '1 hour',
			       CASE WHEN g %% 3 = 0 THEN NULL ELSE ('10.0.' || (g %% 200) || '.' || (g %% 250))::inet END, 'agent/1.0', g %% 5 <> 0, '{}'
			  FROM generate_series(1, %d) g`, n)
	} else {
		q = fmt.Sprintf(`INSERT INTO sessions (id, user_id, created_at, last_accessed, expires_at, ip_address, user_agent, is_active, data)
			WITH d (x) AS (SELECT 0 UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4
			               UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9),
			     g (n) AS (SELECT 1 + a.x + 10 * b.x + 100 * c.x + 1000 * e.x + 10000 * f.x FROM d a, d b, d c, d e, d f)
			SELECT CONCAT('sdk-', n), CONCAT('user-', n %% 7), UTC_TIMESTAMP() - INTERVAL n SECOND, UTC_TIMESTAMP(), UTC_TIMESTAMP() + INTERVAL 1 HOUR,
			       IF(n %% 3 = 0, NULL, CONCAT('10.0.', n %% 200, '.', n %% 250)), 'agent/1.0', n %% 5 <> 0, '{}' FROM g WHERE n <= %d`, n)
	}
	mustExec(t, db, q)
}

// writer is the application writing through one *sql.DB: new sessions and touches of existing ones,
// until stopped. Conflicts (Galera's 1213 and 1317) are retried, as the application must on a cluster, and counted.
type writer struct {
	ok, conflicts, failed atomic.Int64
	firstErr              atomic.Value
	stop                  chan struct{}
	done                  sync.WaitGroup
}

func startWriters(t *testing.T, dialectName, tag string, dbs ...*sql.DB) *writer {
	w := &writer{stop: make(chan struct{})}
	ins := "INSERT INTO sessions (id, user_id, created_at, last_accessed, expires_at, is_active) VALUES (?, ?, ?, ?, ?, true)"
	touch := "UPDATE sessions SET last_accessed = ? WHERE id = ?"
	if dialectName == "postgres" {
		ins = "INSERT INTO sessions (id, user_id, created_at, last_accessed, expires_at, is_active) VALUES ($1, $2, $3, $4, $5, true)"
		touch = "UPDATE sessions SET last_accessed = $1 WHERE id = $2"
	}
	for k, db := range dbs {
		w.done.Add(1)
		go func() {
			defer w.done.Done()
			for i := 0; ; i++ {
				select {
				case <-w.stop:
					return
				default:
				}
				now := time.Now().UTC().Truncate(time.Second)
				var err error
				for attempt := 0; attempt < 20; attempt++ {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					if i%2 == 0 {
						_, err = db.ExecContext(ctx, ins, fmt.Sprintf("w-%s-%d-%d", tag, k, i), "writer", now, now, now.Add(time.Hour))
					} else {
						_, err = db.ExecContext(ctx, touch, now, fmt.Sprintf("sdk-%d", 1+(i*7919)%topoRows))
					}
					cancel()
					if err == nil || !isDeadlock(err) {
						break
					}
					w.conflicts.Add(1)
					time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
				}
				if err != nil {
					w.failed.Add(1)
					w.firstErr.CompareAndSwap(nil, err.Error())
				} else {
					w.ok.Add(1)
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	return w
}

func (w *writer) finish() { close(w.stop); w.done.Wait() }

// isDeadlock reports what a Galera application retries: a deadlock or failed certification (1213), and a
// statement brute-force aborted while it ran by a replicated write or a DDL under total order isolation
// (1317, "Query execution was interrupted"): both rolled back whole.
func isDeadlock(err error) bool {
	var me *gomysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1213 || me.Number == 1317)
}

// replicasAt runs Migrate from n replicas at once, replica i through open(i).
func replicasAt(t *testing.T, n int, open func(i int) *sql.DB, opts ...sessionsec.Option) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			db := open(i)
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			errs[i] = sessionsec.Migrate(ctx, db, opts...)
		}(i)
	}
	close(start)
	wg.Wait()
	return errs
}

func statusClean(t *testing.T, db *sql.DB, where string) {
	t.Helper()
	st, err := sessionsec.Status(ctxT(t), db)
	requireT(t, err == nil, "%s: Status: %v", where, err)
	requireT(t, !st.Dirty && st.Version == uint(len(sessionsec.Steps("sessions"))), "%s: version %d dirty %t", where, st.Version, st.Dirty)
}

func noNullHash(t *testing.T, db *sql.DB, where string) {
	t.Helper()
	var n int
	err := db.QueryRowContext(ctxT(t), "SELECT COUNT(*) FROM sessions WHERE security_hash IS NULL").Scan(&n)
	requireT(t, err == nil && n == 0, "%s: %d rows without a hash (%v)", where, n, err)
}

// TestPoolerReplicas: 16 replicas call Migrate at once through PgBouncer in transaction pooling mode,
// with lib/pq (binary_parameters=yes) and with pgx (simple protocol), on the AG-UI SDK table with 50k
// rows while the application writes through the pooler. Every call returns nil, the version is clean,
// Validate passes (through the pooler too), no application write failed, and no session advisory lock
// was left on a server connection.
func TestPoolerReplicas(t *testing.T) {
	for _, drv := range []string{"postgres", "pgx"} {
		t.Run(drv, func(t *testing.T) {
			for round := 1; round <= topoRounds(); round++ {
				t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
					p := newPooled(t)
					dsn := map[string]string{"postgres": p.pq, "pgx": p.pgx}[drv]
					sdk{t: t, d: p.d, db: p.d.DB, table: "sessions"}.create()
					sdkFill(t, p.d.DB, "postgres", topoRows)
					w := startWriters(t, "postgres", "pool", openT(t, drv, dsn), openT(t, drv, dsn))
					began := time.Now()
					errs := replicasAt(t, replicas, func(int) *sql.DB { return openT(t, drv, dsn) })
					took := time.Since(began)
					time.Sleep(200 * time.Millisecond)
					w.finish()
					for i, err := range errs {
						requireT(t, err == nil, "replica %d: %v", i, err)
					}
					t.Logf("%d replicas through the pooler (%s) in %v; application writes: %d ok, %d failed", replicas, drv, took.Round(time.Millisecond), w.ok.Load(), w.failed.Load())
					requireT(t, w.failed.Load() == 0, "application writes failed through the pooler: %d (first: %v)", w.failed.Load(), w.firstErr.Load())
					requireT(t, w.ok.Load() > 0, "the writer wrote nothing")
					pooler := openT(t, drv, dsn)
					statusClean(t, pooler, "through the pooler")
					mustValidate(t, pooler)
					mustValidate(t, p.d.DB)
					noNullHash(t, p.d.DB, "direct")
					ls, ok, err := sessionsec.ReadLease(ctxT(t), p.d.DB)
					requireT(t, err == nil && ok && ls.Token >= 1 && ls.Holder == "", "the lease was the lock and is free: %+v ok=%t %v", ls, ok, err)
					var advisory int
					err = p.d.DB.QueryRow("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())").Scan(&advisory)
					requireT(t, err == nil && advisory == 0, "advisory locks left on server connections: %d (%v)", advisory, err)
				})
			}
		})
	}
}

// TestPoolerDeadline: a deadline passed to Migrate through the pooler returns, with the ctx error,
// while a long transaction blocks the step's DDL; nothing hangs in a driver.
func TestPoolerDeadline(t *testing.T) {
	p := newPooled(t)
	sdk{t: t, d: p.d, db: p.d.DB, table: "sessions"}.create()
	sdkFill(t, p.d.DB, "postgres", 1000)
	tx, err := p.d.DB.BeginTx(ctxT(t), nil)
	requireT(t, err == nil, "begin: %v", err)
	defer func() { _ = tx.Rollback() }()
	_, err = tx.Exec("LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE")
	requireT(t, err == nil, "lock: %v", err)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	began := time.Now()
	err = sessionsec.Migrate(ctx, openT(t, "pgx", p.pgx))
	took := time.Since(began)
	requireT(t, errors.Is(err, context.DeadlineExceeded), "want the deadline error, got %v", err)
	requireT(t, took < 10*time.Second, "returned %v after a 4s deadline", took)
	_ = tx.Rollback()
	mustMigrate(t, openT(t, "postgres", p.pq))
	mustValidate(t, p.d.DB)
}

// galera is a fresh database on the Galera cluster, with one *testdb.DB-like DSN per node.
type galera struct {
	name string
	dsns []string
	dbs  []*sql.DB
}

func newGalera(t *testing.T) galera {
	env := needEnv(t, "galera", "SESSIONSEC_GALERA_DSNS")
	nodes := strings.Split(env[0], ",")
	requireT(t, len(nodes) == 3, "SESSIONSEC_GALERA_DSNS must list 3 DSNs, has %d", len(nodes))
	g := galera{name: fmt.Sprintf("ssec_g%d", time.Now().UnixNano()%1e9)}
	for i, n := range nodes {
		cfg, err := gomysql.ParseDSN(strings.TrimSpace(n))
		requireT(t, err == nil, "node %d DSN: %v", i+1, err)
		if i == 0 {
			admin := openT(t, "mysql", cfg.FormatDSN())
			mustExec(t, admin, "CREATE DATABASE "+g.name+" CHARACTER SET utf8mb4")
			t.Cleanup(func() {
				a, err := sql.Open("mysql", cfg.FormatDSN())
				if err == nil {
					ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
					defer cancel()
					_, _ = a.ExecContext(ctx, "DROP DATABASE IF EXISTS "+g.name)
					_ = a.Close()
				}
			})
		}
		cfg.DBName, cfg.ParseTime = g.name, true
		g.dsns = append(g.dsns, cfg.FormatDSN())
		// The test's own checks wait for the node to apply what the cluster committed before them.
		check := cfg.Clone()
		check.Params = map[string]string{"wsrep_sync_wait": "1"}
		g.dbs = append(g.dbs, openT(t, "mysql", check.FormatDSN()))
	}
	// The database reaches the other nodes through replication.
	for i, db := range g.dbs {
		deadline := time.Now().Add(30 * time.Second)
		for db.PingContext(ctxT(t)) != nil {
			requireT(t, time.Now().Before(deadline), "database not on node %d after 30s", i+1)
			time.Sleep(100 * time.Millisecond)
		}
	}
	return g
}

func galeraDB(g galera, i int) *testdb.DB {
	var srv testdb.Server
	for _, s := range testdb.Servers {
		if s.Dialect == "mysql" {
			srv = s
		}
	}
	return &testdb.DB{Server: srv, DB: g.dbs[i], Name: g.name, DSN: g.dsns[i], DriverName: "mysql"}
}

// TestGaleraReplicas: 16 replicas spread over the 3 nodes of a Galera cluster call Migrate at once on
// the SDK table with 50k rows while the application writes on every node. Every call returns nil, the
// version is clean and Validate passes on every node. The application's conflicts (1213, retried by
// the writer) are reported; a write that failed after its retries fails the test.
func TestGaleraReplicas(t *testing.T) {
	for round := 1; round <= topoRounds(); round++ {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			g := newGalera(t)
			sdk{t: t, d: galeraDB(g, 0), db: g.dbs[0], table: "sessions"}.create()
			sdkFill(t, g.dbs[0], "mysql", topoRows)
			w := startWriters(t, "mysql", "g", openT(t, "mysql", g.dsns[0]), openT(t, "mysql", g.dsns[1]), openT(t, "mysql", g.dsns[2]))
			began := time.Now()
			errs := replicasAt(t, replicas, func(i int) *sql.DB { return openT(t, "mysql", g.dsns[i%3]) })
			took := time.Since(began)
			w.finish()
			for i, err := range errs {
				requireT(t, err == nil, "replica %d (node %d): %v", i, i%3+1, err)
			}
			t.Logf("%d replicas over 3 Galera nodes in %v; application writes: %d ok, %d conflicts retried, %d failed",
				replicas, took.Round(time.Millisecond), w.ok.Load(), w.conflicts.Load(), w.failed.Load())
			requireT(t, w.failed.Load() == 0, "application writes failed after retries: %d (first: %v)", w.failed.Load(), w.firstErr.Load())
			ls, ok, err := sessionsec.ReadLease(ctxT(t), g.dbs[1])
			requireT(t, err == nil && ok && ls.Token >= 1 && ls.Holder == "", "the lease was the lock and is free: %+v ok=%t %v", ls, ok, err)
			for i, db := range g.dbs {
				where := fmt.Sprintf("node %d", i+1)
				statusClean(t, db, where)
				mustValidate(t, db)
				noNullHash(t, db, where)
			}
		})
	}
}

// backfillVersion is the version of the backfill step.
func backfillVersion(t *testing.T) uint {
	for _, s := range sessionsec.Steps("sessions") {
		if s.Long && strings.Contains(s.Name, "backfill") {
			return s.Version
		}
	}
	t.Fatal("no backfill step")
	return 0
}

// killHolder starts a replica process through driver/dsn with a 6s lease, SIGKILLs it 300ms into
// the backfill, and returns once it is dead.
func killHolder(t *testing.T, driver, dsn string) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SESSIONSEC_CHILD=1", "SESSIONSEC_CHILD_DRIVER="+driver, "SESSIONSEC_CHILD_DSN="+dsn,
		fmt.Sprintf("SESSIONSEC_KILL_VERSION=%d", backfillVersion(t)), "SESSIONSEC_KILL_PHASE=mid", "SESSIONSEC_KILL_DELAY=300ms",
		"SESSIONSEC_CHILD_LEASE_TTL=6s")
	out, err := cmd.CombinedOutput()
	requireT(t, killedBySignal(err), "the holder was not killed mid-backfill: %v\n%s", err, out)
}

// TestLeaseHolderKilledThroughPooler: the lease holder is killed mid-backfill through the pooler; a
// replica started at the same moment takes over once the lease expires and finishes.
func TestLeaseHolderKilledThroughPooler(t *testing.T) {
	for round := 1; round <= topoRounds(); round++ {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			p := newPooled(t)
			sdk{t: t, d: p.d, db: p.d.DB, table: "sessions"}.create()
			sdkFill(t, p.d.DB, "postgres", topoRows)
			killHolder(t, "pgx", p.pgx)
			st, ok, err := sessionsec.ReadLease(ctxT(t), p.d.DB)
			requireT(t, err == nil && ok && st.Holder != "", "the dead holder's lease: %+v %v", st, err)
			began := time.Now()
			mustMigrate(t, openT(t, "postgres", p.pq))
			t.Logf("took over and finished %v after the kill (lease had %v left)", time.Since(began).Round(time.Millisecond), st.ExpiresIn.Round(time.Millisecond))
			mustValidate(t, p.d.DB)
			noNullHash(t, p.d.DB, "direct")
			after, _, _ := sessionsec.ReadLease(ctxT(t), p.d.DB)
			requireT(t, after.Token > st.Token && after.Holder == "", "token %d -> %d, holder %q", st.Token, after.Token, after.Holder)
		})
	}
}

// TestLeaseHolderKilledGalera: the holder on node 1 is killed mid-backfill; a replica on node 2 takes
// over and finishes; every node validates.
func TestLeaseHolderKilledGalera(t *testing.T) {
	for round := 1; round <= topoRounds(); round++ {
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			g := newGalera(t)
			sdk{t: t, d: galeraDB(g, 0), db: g.dbs[0], table: "sessions"}.create()
			sdkFill(t, g.dbs[0], "mysql", topoRows)
			killHolder(t, "mysql", g.dsns[0])
			mustMigrate(t, openT(t, "mysql", g.dsns[1]))
			for i, db := range g.dbs {
				statusClean(t, db, fmt.Sprintf("node %d", i+1))
				mustValidate(t, db)
			}
		})
	}
}

// TestStandbyReadOnly: on a PostgreSQL hot standby, Status, Validate and Plan work; Migrate refuses
// with ErrReadOnly, with the advisory lock and with the lease (whose table the standby cannot write),
// and says to point it at the primary.
func TestStandbyReadOnly(t *testing.T) {
	env := needEnv(t, "pgstandby", "SESSIONSEC_PG_STANDBY_DSN")
	p := newPooled(t)
	sdk{t: t, d: p.d, db: p.d.DB, table: "sessions"}.create()
	sdkFill(t, p.d.DB, "postgres", 1000)
	u, err := url.Parse(env[0])
	requireT(t, err == nil, "standby DSN: %v", err)
	u.Path = "/" + p.name
	standby := openT(t, "postgres", u.String())
	waitFor := func(what, q string) {
		deadline := time.Now().Add(60 * time.Second)
		for {
			var n int
			if err := standby.QueryRowContext(ctxT(t), q).Scan(&n); err == nil && n > 0 {
				return
			}
			requireT(t, time.Now().Before(deadline), "the standby did not replay %s within 60s", what)
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitFor("the table", "SELECT COUNT(*) FROM sessions")
	for _, mode := range []sessionsec.LockMode{sessionsec.LockAuto, sessionsec.LockLease} {
		err := sessionsec.Migrate(ctxT(t), standby, sessionsec.WithLock(mode))
		requireT(t, errors.Is(err, sessionsec.ErrReadOnly), "%s: want ErrReadOnly, got %v", mode, err)
		requireT(t, strings.Contains(err.Error(), "primary"), "%s: the message must say to use the primary: %v", mode, err)
	}
	mustMigrate(t, p.d.DB)
	waitFor("the migration", "SELECT COUNT(*) FROM sessionsec_schema_migrations WHERE NOT dirty AND version = "+strconv.Itoa(len(sessionsec.Steps("sessions"))))
	statusClean(t, standby, "standby")
	mustValidate(t, standby)
	pl, err := planOf(ctxT(t), standby)
	requireT(t, err == nil && len(pl.Steps) == 0, "plan on the standby: %v %v", pl, err)
	requireT(t, sessionsec.Migrate(ctxT(t), standby) == nil, "an up-to-date Migrate on a standby reads the version and returns nil")
}

// TestGaleraPlanTOI: plan on a Galera node marks every DDL step as blocking the whole cluster (TOI)
// and the backfill (row changes) as not.
func TestGaleraPlanTOI(t *testing.T) {
	g := newGalera(t)
	sdk{t: t, d: galeraDB(g, 0), db: g.dbs[0], table: "sessions"}.create()
	sdkFill(t, g.dbs[0], "mysql", 1000)
	pl, err := planOf(ctxT(t), g.dbs[2])
	requireT(t, err == nil && len(pl.Steps) > 0, "plan: %v", err)
	for _, s := range pl.Steps {
		backfill := strings.Contains(s.Name, "backfill") && !strings.Contains(s.Name, "procedure")
		requireT(t, s.BlocksCluster != backfill, "step %d %s: blocks_cluster=%t", s.Version, s.Name, s.BlocksCluster)
	}
	requireT(t, strings.Contains(pl.String(), "BLOCKS THE WHOLE CLUSTER"), "the text plan must say so:\n%s", pl)
	// On a single server nothing is marked.
	d := testdb.New(t, galeraDB(g, 0).Server)
	createExisting(t, d, 10)
	single, err := planOf(ctxT(t), d.DB)
	requireT(t, err == nil, "plan: %v", err)
	for _, s := range single.Steps {
		requireT(t, !s.BlocksCluster, "single server: step %s marked as blocking a cluster", s.Name)
	}
}
