package sessionsec_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/agui-go/sessionsec/internal/testtopo"
)

// The topologies of scripts/topology.sh, each checked to be what the issue 18 tests rely on. They skip
// (fail under SESSIONSEC_REQUIRE_SERVERS=1) when its environment is missing.

func topoCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// getLock runs GET_LOCK(name, 0) on a connection that keeps the session (a named lock belongs to it).
func getLock(t *testing.T, ctx context.Context, db *sql.DB, name string) (*sql.Conn, int) {
	t.Helper()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 0)", name).Scan(&got); err != nil {
		t.Fatalf("GET_LOCK: %v", err)
	}
	return conn, int(got.Int64)
}

// TestTopologyGalera: a write on one node is read on the others, and GET_LOCK is local to a node - the
// defect of issue 18: a second node grants a name the first node's session holds.
func TestTopologyGalera(t *testing.T) {
	g := testtopo.Galera(t)
	ctx := topoCtx(t)
	if len(g.Nodes) != 3 {
		t.Fatalf("want 3 Galera nodes, got %d", len(g.Nodes))
	}
	if _, err := g.Nodes[0].ExecContext(ctx, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10))"); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Nodes[0].ExecContext(ctx, "INSERT INTO t VALUES (1, 'one')"); err != nil {
		t.Fatal(err)
	}
	for i, node := range g.Nodes[1:] {
		conn, err := node.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		// wsrep_sync_wait makes the read wait until the node has applied what the cluster committed before it.
		var v string
		if _, err := conn.ExecContext(ctx, "SET SESSION wsrep_sync_wait = 1"); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRowContext(ctx, "SELECT v FROM t WHERE id = 1").Scan(&v); err != nil || v != "one" {
			t.Fatalf("node %d: read %q, %v; want the row written on node 1", i+2, v, err)
		}
		_ = conn.Close()
	}

	lock := "sessionsec_topology_" + g.Name
	if _, got := getLock(t, ctx, g.Nodes[0], lock); got != 1 {
		t.Fatalf("node 1: GET_LOCK = %d, want 1 (free lock)", got)
	}
	// On the same node another session waits for the holder: the lock works within a node...
	if _, got := getLock(t, ctx, g.Nodes[0], lock); got != 0 {
		t.Fatalf("node 1, second session: GET_LOCK = %d, want 0 (held by the first)", got)
	}
	// ...and not across nodes.
	if _, got := getLock(t, ctx, g.Nodes[1], lock); got != 1 {
		t.Fatalf("node 2: GET_LOCK = %d; want 1, the defect issue 18 is about (named locks are node-local in Galera). If this changed, the MariaDB version's behaviour did", got)
	}
}

// TestTopologyGaleraNodeRestart: a node stopped (cleanly, or killed) while the cluster takes writes
// rejoins and has them.
func TestTopologyGaleraNodeRestart(t *testing.T) {
	for _, how := range []string{"stop", "kill"} {
		t.Run(how, func(t *testing.T) {
			g := testtopo.Galera(t)
			ctx := topoCtx(t)
			if _, err := g.Nodes[0].ExecContext(ctx, "CREATE TABLE t (id INT PRIMARY KEY)"); err != nil {
				t.Fatal(err)
			}
			if how == "stop" {
				g.StopNode(t, 2)
			} else {
				g.KillNode(t, 2)
			}
			// A killed node leaves the cluster when the others' timeouts expire (a few seconds).
			size := 0
			for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
				var name string
				if err := g.Nodes[0].QueryRowContext(ctx, "SHOW STATUS LIKE 'wsrep_cluster_size'").Scan(&name, &size); err != nil {
					t.Fatal(err)
				}
				if size == 2 {
					break
				}
			}
			if size != 2 {
				t.Fatalf("node 1 with node 3 down: cluster size %d after 30 s; want 2", size)
			}
			if _, err := g.Nodes[1].ExecContext(ctx, "INSERT INTO t VALUES (1)"); err != nil {
				t.Fatalf("write on node 2 with node 3 down: %v", err)
			}
			g.StartNode(t, 2)
			conn, err := g.Nodes[2].Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var n int
			if _, err := conn.ExecContext(ctx, "SET SESSION wsrep_sync_wait = 1"); err != nil {
				t.Fatal(err)
			}
			if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 1 {
				t.Fatalf("node 3 after rejoining: %d rows, %v; want the row written while it was down", n, err)
			}
			if db := g.TestDB(t, 2); db.DB != g.Nodes[2] || db.Server.Name != "mariadb" || db.Name != g.Name {
				t.Fatalf("TestDB(2) = %+v, want node 3's database", db)
			}
		})
	}
}

// TestTopologyPgBouncer: PgBouncer pools transactions (checked on its admin console), and lib/pq and pgx
// (simple protocol) write and read through it.
func TestTopologyPgBouncer(t *testing.T) {
	p := testtopo.PgBouncer(t)
	ctx := topoCtx(t)

	admin := p.Open(t, "postgres")
	rows, err := p.Console(t).QueryContext(ctx, "SHOW CONFIG")
	if err != nil {
		t.Fatalf("PgBouncer admin console: %v", err)
	}
	mode := ""
	for rows.Next() {
		cols, _ := rows.Columns()
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		if vals[0].String == "pool_mode" {
			mode = vals[1].String
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	_ = rows.Close()
	if mode != "transaction" {
		t.Fatalf("PgBouncer pool_mode = %q, want transaction", mode)
	}

	if _, err := admin.ExecContext(ctx, "CREATE TABLE t (id int PRIMARY KEY, v text)"); err != nil {
		t.Fatal(err)
	}
	for i, driver := range []string{"postgres", "pgx"} {
		db := p.Open(t, driver)
		if _, err := db.ExecContext(ctx, "INSERT INTO t VALUES ($1, $2)", i, driver); err != nil {
			t.Fatalf("%s through PgBouncer: insert: %v", driver, err)
		}
		var v string
		if err := db.QueryRowContext(ctx, "SELECT v FROM t WHERE id = $1", i).Scan(&v); err != nil || v != driver {
			t.Fatalf("%s through PgBouncer: read %q, %v", driver, v, err)
		}
	}
	// More clients than the pool has server connections (20), each running parameterised statements outside
	// a transaction: every statement must be one pooled unit. lib/pq without binary_parameters=yes failed
	// here ("unnamed prepared statement does not exist"): 13 of these 4000 in one run.
	for _, driver := range []string{"postgres", "pgx"} {
		db := p.Open(t, driver)
		db.SetMaxOpenConns(40)
		var wg sync.WaitGroup
		var failures atomic.Int64
		var firstErr atomic.Value
		for range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 100 {
					var n int
					if err := db.QueryRowContext(ctx, "SELECT $1::int + 1", i).Scan(&n); err != nil || n != i+1 {
						failures.Add(1)
						firstErr.CompareAndSwap(nil, fmt.Sprint(n, err))
					}
				}
			}()
		}
		wg.Wait()
		if f := failures.Load(); f > 0 {
			t.Errorf("%s through PgBouncer, 40 clients: %d of 4000 parameterised statements failed, first: %v", driver, f, firstErr.Load())
		}
	}
	if p.DirectDSN != "" {
		direct, err := sql.Open("postgres", p.DirectDSN)
		if err != nil {
			t.Fatal(err)
		}
		defer direct.Close()
		var n int
		if err := direct.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil || n != 2 {
			t.Fatalf("on the server itself: %d rows, %v; want the 2 written through the pooler", n, err)
		}
	}
}

// TestTopologyPGStandby: a table created on the primary is read on the standby, which refuses writes.
func TestTopologyPGStandby(t *testing.T) {
	s := testtopo.PGStandby(t)
	ctx := topoCtx(t)
	if _, err := s.Primary.ExecContext(ctx, "CREATE TABLE t (id int PRIMARY KEY, v text)"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Primary.ExecContext(ctx, "INSERT INTO t VALUES (1, 'one')"); err != nil {
		t.Fatal(err)
	}
	s.CatchUp(t)
	var v string
	if err := s.Standby.QueryRowContext(ctx, "SELECT v FROM t WHERE id = 1").Scan(&v); err != nil || v != "one" {
		t.Fatalf("standby: read %q, %v; want the row written on the primary", v, err)
	}
	var recovery bool
	if err := s.Standby.QueryRowContext(ctx, "SELECT pg_is_in_recovery()").Scan(&recovery); err != nil || !recovery {
		t.Fatalf("standby: pg_is_in_recovery = %v, %v; want true", recovery, err)
	}
	_, err := s.Standby.ExecContext(ctx, "INSERT INTO t VALUES (2, 'two')")
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) || pqErr.Code != "25006" {
		t.Fatalf("standby: insert returned %v, want read_only_sql_transaction (25006)", err)
	}
}

// TestTopologyMariaDBReplica: a table, trigger and procedure created on the primary reach the replica, and
// WaitCaughtUp returns ErrReplicaStopped rather than waiting when replication does not run.
func TestTopologyMariaDBReplica(t *testing.T) {
	r := testtopo.MariaDBReplica(t)
	ctx := topoCtx(t)
	for _, q := range []string{
		"CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(10), h VARCHAR(10))",
		"CREATE TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW SET NEW.h = UPPER(NEW.v)",
		"CREATE PROCEDURE p() SELECT 1",
		"INSERT INTO t (id, v) VALUES (1, 'one')",
	} {
		if _, err := r.Primary.ExecContext(ctx, q); err != nil {
			t.Fatalf("primary: %s: %v", q, err)
		}
	}
	r.CatchUp(t)
	var v, h string
	if err := r.Replica.QueryRowContext(ctx, "SELECT v, h FROM t WHERE id = 1").Scan(&v, &h); err != nil || v != "one" || h != "ONE" {
		t.Fatalf("replica: read (%q, %q), %v; want the row written on the primary, with its trigger's value", v, h, err)
	}
	var n int
	if err := r.Replica.QueryRowContext(ctx, "SELECT (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()) + (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = DATABASE())").Scan(&n); err != nil || n != 2 {
		t.Fatalf("replica: %d triggers and routines, %v; want the trigger and the procedure", n, err)
	}
	var readOnly int
	if err := r.Replica.QueryRowContext(ctx, "SELECT @@read_only").Scan(&readOnly); err != nil || readOnly != 1 {
		t.Fatalf("replica: read_only = %d, %v; want 1", readOnly, err)
	}

	// Replication stopped on purpose: a wait must say so, not hang.
	if _, err := r.Replica.ExecContext(ctx, "STOP SLAVE SQL_THREAD"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = r.Replica.ExecContext(context.Background(), "START SLAVE SQL_THREAD") })
	if _, err := r.Primary.ExecContext(ctx, "INSERT INTO t (id, v) VALUES (2, 'two')"); err != nil {
		t.Fatal(err)
	}
	if err := r.WaitCaughtUp(ctx); !errors.Is(err, testtopo.ErrReplicaStopped) {
		t.Fatalf("WaitCaughtUp with the SQL thread stopped: %v, want ErrReplicaStopped", err)
	}
	if _, err := r.Replica.ExecContext(ctx, "START SLAVE SQL_THREAD"); err != nil {
		t.Fatal(err)
	}
	r.CatchUp(t)
	if err := r.Replica.QueryRowContext(ctx, "SELECT COUNT(*) FROM t").Scan(&n); err != nil || n != 2 {
		t.Fatalf("replica after START SLAVE: %d rows, %v; want 2", n, err)
	}
}
