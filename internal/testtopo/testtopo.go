// Package testtopo gives tests a fresh database on the production-like topologies scripts/topology.sh starts
// (issue 18): a 3-node MariaDB Galera cluster, PgBouncer in transaction pooling mode, a PostgreSQL hot standby
// and a MariaDB replica.
//
// The topologies come from the environment that scripts/topology.sh writes to /tmp/sessionsec-dbs/topology.env:
// SESSIONSEC_GALERA_DSNS (three go-sql-driver DSNs, comma separated), SESSIONSEC_PGBOUNCER_DSN (and
// SESSIONSEC_PGBOUNCER_PGX_DSN), SESSIONSEC_PG_STANDBY_DSN and SESSIONSEC_MARIADB_REPLICA_DSN. The standby and the
// replica follow the main servers of scripts/dbservers.sh, so their helpers also need SESSIONSEC_POSTGRES_DSN and
// SESSIONSEC_MARIADB_DSN. A missing variable skips the test with the reason - except under CI=true or
// SESSIONSEC_REQUIRE_SERVERS=1, where it fails (the rule of internal/testdb: CI must never count a skip as a pass).
//
// SESSIONSEC_SERVERS, when set, restricts a run to the servers it names (scripts/matrix.sh runs further server
// versions that way); the topologies run only when it names them ("galera", "pgbouncer", "pgstandby",
// "mariadbreplica"), since they belong to the main servers' run.
package testtopo

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // pgx, for PgBouncer's pgx DSN
	_ "github.com/lib/pq"              // lib/pq, the default PostgreSQL driver

	"github.com/agui-go/sessionsec/internal/testdb"
)

// The environment variables scripts/topology.sh exports.
const (
	EnvGalera    = "SESSIONSEC_GALERA_DSNS"
	EnvPgBouncer = "SESSIONSEC_PGBOUNCER_DSN"
	// EnvPgBouncerPgx is optional: without it the pgx DSN is EnvPgBouncer's with the simple protocol.
	EnvPgBouncerPgx   = "SESSIONSEC_PGBOUNCER_PGX_DSN"
	EnvPGStandby      = "SESSIONSEC_PG_STANDBY_DSN"
	EnvMariaDBReplica = "SESSIONSEC_MARIADB_REPLICA_DSN"
	// EnvScript is the path of scripts/topology.sh, for tests that stop and restart a Galera node.
	EnvScript = "SESSIONSEC_TOPOLOGY_SCRIPT"

	envPostgres = "SESSIONSEC_POSTGRES_DSN"
	envMariaDB  = "SESSIONSEC_MARIADB_DSN"
)

// ReplicaDBPrefix starts the name of every database MariaDBReplica creates: the replica replicates only
// these (scripts/topology.sh's --replicate-wild-do-table), not every other test's writes on the main server.
const ReplicaDBPrefix = "ssecrepl_"

// setupTimeout bounds creating a database and waiting for it to appear on the other nodes.
const setupTimeout = 60 * time.Second

// required is internal/testdb's rule: under CI or SESSIONSEC_REQUIRE_SERVERS=1 a missing server fails.
func required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("SESSIONSEC_REQUIRE_SERVERS") == "1"
}

// Need returns the values of the variables topology ("galera", "pgbouncer", "pgstandby",
// "mariadbreplica") needs, or skips (fails where servers are required); a run whose SESSIONSEC_SERVERS
// does not name the topology skips it.
func Need(t testing.TB, topology string, vars ...string) []string {
	t.Helper()
	if only := os.Getenv("SESSIONSEC_SERVERS"); only != "" {
		selected := false
		for _, name := range strings.Split(only, ",") {
			selected = selected || strings.TrimSpace(name) == topology
		}
		if !selected {
			t.Skipf("skipping %s: this run is for SESSIONSEC_SERVERS=%s only", topology, only)
		}
	}
	vals := make([]string, len(vars))
	for i, v := range vars {
		vals[i] = os.Getenv(v)
		if vals[i] != "" {
			continue
		}
		if required() {
			t.Fatalf("%s: %s is not set but servers are required (CI=true or SESSIONSEC_REQUIRE_SERVERS=1): run scripts/topology.sh start and source /tmp/sessionsec-dbs/topology.env", topology, v)
		}
		t.Skipf("skipping %s: %s is not set (run scripts/topology.sh start and source /tmp/sessionsec-dbs/topology.env)", topology, v)
	}
	return vals
}

func randomName(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func open(t testing.TB, driver, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatalf("open %s: %v", driver, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// poll runs f every 100 ms until it reports done, returns an error, or ctx ends.
func poll(ctx context.Context, f func() (bool, error)) error {
	for {
		done, err := f()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// mysqlDSN returns the go-sql-driver DSN of database name on the server of base (with parseTime, as testdb).
func mysqlDSN(t testing.TB, envVar, base, name string) string {
	t.Helper()
	cfg, err := mysql.ParseDSN(base)
	if err != nil {
		t.Fatalf("%s: bad DSN: %v", envVar, err)
	}
	cfg.DBName = name
	cfg.ParseTime = true
	return cfg.FormatDSN()
}

// pgDSN returns base (a postgres:// URL) with its database replaced by name.
func pgDSN(t testing.TB, envVar, base, name string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: bad URL: %v", envVar, err)
	}
	u.Path = "/" + name
	return u.String()
}

// ---- Galera ------------------------------------------------------------------------------------------

// GaleraDB is one fresh database on a Galera cluster, reachable on every node.
type GaleraDB struct {
	Name  string
	Nodes []*sql.DB // one pool per node, in SESSIONSEC_GALERA_DSNS order
	DSNs  []string  // each node's DSN of the database, to open more pools ("another replica")
}

// Galera creates a fresh database on the Galera cluster, waits until every node has it, and drops it when
// the test ends. It fails when the cluster is not whole (3 nodes, each Synced).
func Galera(t testing.TB) *GaleraDB {
	t.Helper()
	bases := strings.Split(Need(t, "galera", EnvGalera)[0], ",")
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	admins := make([]*sql.DB, len(bases))
	for i, base := range bases {
		admins[i] = open(t, "mysql", mysqlDSN(t, EnvGalera, strings.TrimSpace(base), ""))
		var name, size, state string
		if err := admins[i].QueryRowContext(ctx, "SHOW STATUS LIKE 'wsrep_cluster_size'").Scan(&name, &size); err != nil {
			t.Fatalf("galera node %d: %v (is the cluster up? scripts/topology.sh start)", i+1, err)
		}
		if err := admins[i].QueryRowContext(ctx, "SHOW STATUS LIKE 'wsrep_local_state_comment'").Scan(&name, &state); err != nil {
			t.Fatalf("galera node %d: %v", i+1, err)
		}
		if size != fmt.Sprint(len(bases)) || state != "Synced" {
			t.Fatalf("galera node %d: cluster size %s, state %s (want %d, Synced): run scripts/topology.sh start", i+1, size, state, len(bases))
		}
	}
	name := randomName("ssec_")
	if _, err := admins[0].ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("galera: create database: %v", err)
	}
	t.Cleanup(func() {
		// Any node will do (a test may have stopped one): DDL runs cluster-wide.
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		for _, a := range admins {
			if _, err := a.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name); err == nil {
				return
			}
		}
	})
	g := &GaleraDB{Name: name}
	for i, base := range bases {
		// DDL is ordered on every node (total order isolation) but applied asynchronously on the others.
		err := poll(ctx, func() (bool, error) {
			var n int
			err := admins[i].QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n)
			return n == 1, err
		})
		if err != nil {
			t.Fatalf("galera node %d: database %s did not appear: %v", i+1, name, err)
		}
		dsn := mysqlDSN(t, EnvGalera, strings.TrimSpace(base), name)
		g.DSNs = append(g.DSNs, dsn)
		g.Nodes = append(g.Nodes, open(t, "mysql", dsn))
	}
	return g
}

// Open opens another, independent pool on the database on node i (0-based).
func (g *GaleraDB) Open(t testing.TB, i int) *sql.DB {
	t.Helper()
	return open(t, "mysql", g.DSNs[i])
}

// TestDB describes the database on node i (0-based) as an internal/testdb database of server "mariadb",
// for the suite's helpers that take one. Its DB is the node's pool: the GaleraDB owns it.
func (g *GaleraDB) TestDB(t testing.TB, i int) *testdb.DB {
	t.Helper()
	cfg, err := mysql.ParseDSN(g.DSNs[i])
	if err != nil {
		t.Fatal(err)
	}
	user := url.User(cfg.User)
	if cfg.Passwd != "" {
		user = url.UserPassword(cfg.User, cfg.Passwd)
	}
	return &testdb.DB{Server: server(t, "mariadb"), DB: g.Nodes[i], Name: g.Name, DSN: g.DSNs[i], DriverName: "mysql",
		CLIURL: fmt.Sprintf("mysql://%s@tcp(%s)/%s", user.String(), cfg.Addr, g.Name)}
}

func server(t testing.TB, name string) testdb.Server {
	t.Helper()
	for _, s := range testdb.Servers {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("testdb knows no server %q", name)
	return testdb.Server{}
}

// StopNode stops Galera node i (0-based) cleanly with scripts/topology.sh; the test restarts it with
// StartNode, and a cleanup does so anyway, so that the next test finds the cluster whole.
func (g *GaleraDB) StopNode(t testing.TB, i int) {
	t.Helper()
	g.down(t, "stop", i)
}

// KillNode kills Galera node i (0-based) with SIGKILL - a crash: the others notice by their own timeouts
// (a few seconds) - and restarts it like StopNode does.
func (g *GaleraDB) KillNode(t testing.TB, i int) {
	t.Helper()
	g.down(t, "kill", i)
}

func (g *GaleraDB) down(t testing.TB, how string, i int) {
	t.Helper()
	script := Need(t, "galera", EnvScript)[0]
	runScript(t, script, "galera-node", how, fmt.Sprint(i+1))
	t.Cleanup(func() {
		if err := exec.Command(script, "galera-node", "start", fmt.Sprint(i+1)).Run(); err != nil {
			t.Errorf("restarting galera node %d after the test: %v (run scripts/topology.sh start)", i+1, err)
		}
	})
}

// StartNode starts Galera node i (0-based) again and waits until it has rejoined and is Synced.
func (g *GaleraDB) StartNode(t testing.TB, i int) {
	t.Helper()
	runScript(t, Need(t, "galera", EnvScript)[0], "galera-node", "start", fmt.Sprint(i+1))
}

func runScript(t testing.TB, script string, args ...string) {
	t.Helper()
	out, err := exec.Command(script, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", script, strings.Join(args, " "), err, out)
	}
}

// ---- PgBouncer ---------------------------------------------------------------------------------------

// PoolerDB is one fresh database on the PostgreSQL server behind PgBouncer (transaction pooling).
type PoolerDB struct {
	Name string
	DB   *sql.DB // lib/pq, through the pooler
	// DSN is lib/pq's URL of the database through the pooler, as SESSIONSEC_PGBOUNCER_DSN gives it: with
	// binary_parameters=yes there, so that a parameterised statement is one round trip (two, each ending in
	// Sync, can land on two server connections of a transaction pooler).
	DSN string
	// PgxDSN is pgx's URL of the database through the pooler, with default_query_exec_mode=simple_protocol:
	// PgBouncer before 1.21 has no prepared statements, and pgx prepares every parameterised query by default.
	PgxDSN string
	// DirectDSN is the database on the server itself, bypassing the pooler ("" without SESSIONSEC_POSTGRES_DSN).
	DirectDSN string
}

// PgBouncer creates a fresh database through PgBouncer (its `*` entry reaches every database of the server)
// and drops it when the test ends.
func PgBouncer(t testing.TB) *PoolerDB {
	t.Helper()
	base := Need(t, "pgbouncer", EnvPgBouncer)[0]
	pgxBase := os.Getenv(EnvPgBouncerPgx)
	if pgxBase == "" {
		u, err := url.Parse(base)
		if err != nil {
			t.Fatalf("%s: bad URL: %v", EnvPgBouncer, err)
		}
		q := u.Query()
		q.Set("default_query_exec_mode", "simple_protocol")
		u.RawQuery = q.Encode()
		pgxBase = u.String()
	}
	admin := open(t, "postgres", base)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	name := randomName("ssec_")
	// An autocommitted statement: a transaction pooler runs it on one server connection like any other.
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" ENCODING 'UTF8' TEMPLATE template0"); err != nil {
		t.Fatalf("pgbouncer: create database: %v (is PgBouncer up? scripts/topology.sh start)", err)
	}
	p := &PoolerDB{Name: name, DSN: pgDSN(t, EnvPgBouncer, base, name), PgxDSN: pgDSN(t, EnvPgBouncerPgx, pgxBase, name)}
	if direct := os.Getenv(envPostgres); direct != "" {
		p.DirectDSN = pgDSN(t, envPostgres, direct, name)
	}
	p.DB = open(t, "postgres", p.DSN)
	t.Cleanup(func() {
		_ = p.DB.Close()
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		// FORCE ends the pooler's server connections to the database too.
		_, _ = admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	return p
}

// Open opens another, independent pool through the pooler: driver "postgres" (lib/pq) or "pgx".
func (p *PoolerDB) Open(t testing.TB, driver string) *sql.DB {
	t.Helper()
	if driver == "pgx" {
		return open(t, "pgx", p.PgxDSN)
	}
	return open(t, driver, p.DSN)
}

// TestDB describes the database through the pooler (lib/pq) as an internal/testdb database of server
// "postgres", for the suite's helpers that take one. Its DB is p.DB: the PoolerDB owns it.
func (p *PoolerDB) TestDB(t testing.TB) *testdb.DB {
	t.Helper()
	return &testdb.DB{Server: server(t, "postgres"), DB: p.DB, Name: p.Name, DSN: p.DSN, DriverName: "postgres", CLIURL: p.DSN}
}

// Console opens a pool on PgBouncer's admin console (database "pgbouncer": SHOW POOLS, SHOW CLIENTS,
// SHOW CONFIG; simple-protocol statements only, which lib/pq sends for statements without arguments).
func (p *PoolerDB) Console(t testing.TB) *sql.DB {
	t.Helper()
	return open(t, "postgres", pgDSN(t, EnvPgBouncer, p.DSN, "pgbouncer"))
}

// ---- PostgreSQL hot standby --------------------------------------------------------------------------

// StandbyDB is one fresh database on the PostgreSQL primary and the same database on its hot standby.
type StandbyDB struct {
	Name       string
	Primary    *sql.DB
	PrimaryDSN string
	Standby    *sql.DB // read-only: the standby replays the primary's WAL
	StandbyDSN string
}

// PGStandby creates a fresh database on the primary (SESSIONSEC_POSTGRES_DSN), waits until the standby has
// replayed it, and drops it when the test ends.
func PGStandby(t testing.TB) *StandbyDB {
	t.Helper()
	vals := Need(t, "pgstandby", EnvPGStandby, envPostgres)
	standbyBase, primaryBase := vals[0], vals[1]
	primaryAdmin := open(t, "postgres", primaryBase)
	standbyAdmin := open(t, "postgres", standbyBase)
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	name := randomName("ssec_")
	if _, err := primaryAdmin.ExecContext(ctx, "CREATE DATABASE "+name+" ENCODING 'UTF8' TEMPLATE template0"); err != nil {
		t.Fatalf("pgstandby: create database on the primary: %v", err)
	}
	s := &StandbyDB{Name: name, PrimaryDSN: pgDSN(t, envPostgres, primaryBase, name), StandbyDSN: pgDSN(t, EnvPGStandby, standbyBase, name)}
	s.Primary = open(t, "postgres", s.PrimaryDSN)
	s.Standby = open(t, "postgres", s.StandbyDSN)
	t.Cleanup(func() {
		// The standby's sessions on the database go first: replaying DROP DATABASE would cancel them.
		_ = s.Standby.Close()
		_ = s.Primary.Close()
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		_, _ = primaryAdmin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	err := poll(ctx, func() (bool, error) {
		var n int
		err := standbyAdmin.QueryRowContext(ctx, "SELECT COUNT(*) FROM pg_database WHERE datname = $1", name).Scan(&n)
		return n == 1, err
	})
	if err != nil {
		t.Fatalf("pgstandby: database %s did not reach the standby: %v (is %s the standby of %s's server? scripts/topology.sh start)", name, err, EnvPGStandby, envPostgres)
	}
	return s
}

// WaitCaughtUp waits until the standby has replayed everything the primary had written when it was called.
func (s *StandbyDB) WaitCaughtUp(ctx context.Context) error {
	var lsn string
	if err := s.Primary.QueryRowContext(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lsn); err != nil {
		return fmt.Errorf("primary WAL position: %w", err)
	}
	return poll(ctx, func() (bool, error) {
		var done bool
		err := s.Standby.QueryRowContext(ctx, "SELECT COALESCE(pg_last_wal_replay_lsn() >= $1::pg_lsn, false)", lsn).Scan(&done)
		return done, err
	})
}

// CatchUp is WaitCaughtUp bounded by 60 s, failing the test when the standby does not catch up.
func (s *StandbyDB) CatchUp(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := s.WaitCaughtUp(ctx); err != nil {
		t.Fatalf("pgstandby: the standby did not catch up: %v", err)
	}
}

// ---- MariaDB replica ---------------------------------------------------------------------------------

// ReplicaDB is one fresh database on the MariaDB primary and the same database on its replica.
type ReplicaDB struct {
	Name       string
	Primary    *sql.DB
	PrimaryDSN string
	Replica    *sql.DB // read_only; root may still write, which a test must not do
	ReplicaDSN string

	// Pools with no default database: the waits work before the database reaches the replica.
	primaryAdmin, replicaAdmin *sql.DB
}

// MariaDBReplica creates a fresh database (named ReplicaDBPrefix...) on the primary (SESSIONSEC_MARIADB_DSN),
// waits until the replica has it, and drops it when the test ends.
func MariaDBReplica(t testing.TB) *ReplicaDB {
	t.Helper()
	vals := Need(t, "mariadbreplica", EnvMariaDBReplica, envMariaDB)
	replicaBase, primaryBase := vals[0], vals[1]
	primaryAdmin := open(t, "mysql", mysqlDSN(t, envMariaDB, primaryBase, ""))
	replicaAdmin := open(t, "mysql", mysqlDSN(t, EnvMariaDBReplica, replicaBase, ""))
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	name := randomName(ReplicaDBPrefix)
	if _, err := primaryAdmin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("mariadbreplica: create database on the primary: %v", err)
	}
	r := &ReplicaDB{Name: name, PrimaryDSN: mysqlDSN(t, envMariaDB, primaryBase, name), ReplicaDSN: mysqlDSN(t, EnvMariaDBReplica, replicaBase, name),
		primaryAdmin: primaryAdmin, replicaAdmin: replicaAdmin}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		_, _ = primaryAdmin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name) // replicates
	})
	r.Primary = open(t, "mysql", r.PrimaryDSN)
	r.Replica = open(t, "mysql", r.ReplicaDSN)
	if err := r.WaitCaughtUp(ctx); err != nil {
		t.Fatalf("mariadbreplica: %v (is %s a replica of %s's server? scripts/topology.sh start)", err, EnvMariaDBReplica, envMariaDB)
	}
	var n int
	if err := replicaAdmin.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", name).Scan(&n); err != nil || n != 1 {
		t.Fatalf("mariadbreplica: database %s is not on the replica after it caught up (count %d, err %v)", name, n, err)
	}
	return r
}

// ErrReplicaStopped is returned by ReplicaDB.WaitCaughtUp when replication does not run.
var ErrReplicaStopped = errors.New("replication is stopped on the replica")

// WaitCaughtUp waits until the replica has applied every transaction the primary had logged when it was
// called (MASTER_GTID_WAIT on the primary's GTID position: exact, where Seconds_Behind_Master has one-second
// resolution). It returns ErrReplicaStopped at once when replication does not run (a test that stopped it
// on purpose waits with its own bound).
func (r *ReplicaDB) WaitCaughtUp(ctx context.Context) error {
	var pos string
	if err := r.primaryAdmin.QueryRowContext(ctx, "SELECT @@GLOBAL.gtid_binlog_pos").Scan(&pos); err != nil {
		return fmt.Errorf("primary GTID position: %w", err)
	}
	return poll(ctx, func() (bool, error) {
		var res sql.NullInt64
		// Waits in slices of a second so that ctx and a stopped replica are noticed.
		if err := r.replicaAdmin.QueryRowContext(ctx, "SELECT MASTER_GTID_WAIT(?, 1)", pos).Scan(&res); err != nil {
			return false, fmt.Errorf("MASTER_GTID_WAIT: %w", err)
		}
		if res.Valid && res.Int64 == 0 {
			return true, nil
		}
		// Slave_running is ON only while both replication threads run.
		var running string
		if err := r.replicaAdmin.QueryRowContext(ctx, "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'SLAVE_RUNNING'").Scan(&running); err == nil && running != "ON" {
			return false, fmt.Errorf("%w (waiting for GTID %s)", ErrReplicaStopped, pos)
		}
		return false, nil
	})
}

// CatchUp is WaitCaughtUp bounded by 60 s, failing the test when the replica does not catch up.
func (r *ReplicaDB) CatchUp(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := r.WaitCaughtUp(ctx); err != nil {
		t.Fatalf("mariadbreplica: the replica did not catch up: %v", err)
	}
}
