package sessionsec_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/golang-migrate/migrate/v4/database"
	mmysql "github.com/golang-migrate/migrate/v4/database/mysql"
	mpostgres "github.com/golang-migrate/migrate/v4/database/postgres"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
	"github.com/agui-go/sessionsec/mysql"
	"github.com/agui-go/sessionsec/postgres"
	"github.com/agui-go/sessionsec/sqlite"
)

const replicas = 16

// lockHolders counts sessions holding the migration lock of d's database.
func lockHolders(t *testing.T, d *testdb.DB) int {
	t.Helper()
	ctx := ctxT(t)
	key, err := dialectOf(d).LockKey(ctx, d.DB, sessionsec.DefaultMigrationsTable)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	switch d.Server.Dialect {
	case "mysql":
		n, err = mysql.LockHolders(ctx, d.DB, key)
	case "postgres":
		n, err = postgres.LockHolders(ctx, d.DB, key)
	default:
		var held bool
		if held, err = sqlite.LockHeld(key); held {
			n = 1
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestConcurrentReplicas: 16 replicas, each with its own pool, call Migrate at the same moment; on a
// fresh database and on one with a large sessions table. Every call returns nil, the change is applied
// once, Validate passes, and nobody holds the lock afterwards.
func TestConcurrentReplicas(t *testing.T) {
	for _, rows := range []int{0, 100_000} {
		testdb.Each(t, func(t *testing.T, d *testdb.DB) {
			if rows > 0 {
				if testing.Short() {
					t.Skip("skipping the 100k-row run in -short mode")
				}
				createExisting(t, d, rows)
			}
			pools := make([]*sql.DB, replicas)
			for i := range pools {
				pools[i] = d.Open(t)
			}
			start := make(chan struct{})
			errs := make([]error, replicas)
			var wg sync.WaitGroup
			for i := range pools {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					<-start
					errs[i] = sessionsec.Migrate(ctxT(t), pools[i])
				}(i)
			}
			close(start)
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("replica %d: %v", i, err)
				}
			}
			mustValidate(t, d.DB)
			requireT(t, lockHolders(t, d) == 0, "the migration lock is still held after all replicas returned")
			var n int
			if err := d.DB.QueryRow("SELECT COUNT(*) FROM sessions WHERE security_hash IS NULL").Scan(&n); err != nil || n != 0 {
				t.Fatalf("rows without hash: %d (%v)", n, err)
			}
		})
	}
}

// TestConcurrentProcesses: the same with 16 separate OS processes.
func TestConcurrentProcesses(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		createExisting(t, d, 5000)
		before, _ := baseChecksum(t, d)
		var wg sync.WaitGroup
		outs := make([][]byte, replicas)
		errs := make([]error, replicas)
		for i := 0; i < replicas; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				outs[i], errs[i] = childCmd(d).CombinedOutput()
			}(i)
		}
		wg.Wait()
		for i := range errs {
			if errs[i] != nil {
				t.Errorf("process %d: %v\n%s", i, errs[i], outs[i])
			}
		}
		mustValidate(t, d.DB)
		if after, _ := baseChecksum(t, d); after != before {
			t.Fatal("base rows changed")
		}
		requireT(t, lockHolders(t, d) == 0, "the migration lock is still held")
	})
}

// TestLockWaitHonoursContext: while someone else holds the migration lock, Migrate waits past
// golang-migrate's 10s/15s caps if ctx allows, and returns ctx's error, holding nothing, when it does not.
func TestLockWaitHonoursContext(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		dl := dialectOf(d)
		ctx := ctxT(t)
		holder, err := d.DB.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer holder.Close()
		key, err := dl.LockKey(ctx, holder, sessionsec.DefaultMigrationsTable)
		if err != nil {
			t.Fatal(err)
		}
		ok, err := dl.TryLock(ctx, holder, key)
		requireT(t, err == nil && ok, "taking the lock: %v %v", ok, err)

		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		began := time.Now()
		err = sessionsec.Migrate(short, d.Open(t))
		requireT(t, errors.Is(err, context.DeadlineExceeded), "want the ctx deadline error, got %v", err)
		requireT(t, time.Since(began) < 10*time.Second, "returned after %v", time.Since(began))
		requireT(t, lockHolders(t, d) == 1, "want only the holder to hold the lock")

		// A caller with patience gets through once the holder lets go (after golang-migrate's own 10s cap).
		done := make(chan error, 1)
		go func() { done <- sessionsec.Migrate(ctx, d.Open(t)) }()
		time.Sleep(11 * time.Second)
		requireT(t, dl.Unlock(ctx, holder, key) == nil, "unlock")
		requireT(t, <-done == nil, "Migrate after the lock was released")
		mustValidate(t, d.DB)

		// Nothing pending: no lock is needed, so a held lock does not delay start-up.
		ok, err = dl.TryLock(ctx, holder, key)
		requireT(t, err == nil && ok, "re-taking the lock: %v %v", ok, err)
		quick, cancel2 := context.WithTimeout(ctx, 3*time.Second)
		defer cancel2()
		requireT(t, sessionsec.Migrate(quick, d.Open(t)) == nil, "an up-to-date Migrate must not wait for the lock")
		requireT(t, dl.Unlock(ctx, holder, key) == nil, "unlock")
	})
}

// TestCLIAndLibraryExcludeEachOther: the lock golang-migrate's CLI takes (opened from a URL, the CLI's
// code path) is the one the library polls, on both dialects.
func TestCLIAndLibraryExcludeEachOther(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		var drv database.Driver
		var err error
		switch d.Server.Dialect {
		case "mysql":
			drv, err = (&mmysql.Mysql{}).Open(cliURL(d))
		case "postgres":
			drv, err = (&mpostgres.Postgres{}).Open(cliURL(d))
		default:
			t.Skip("skipping sqlite: the stock CLI cannot run the SQLite set (see TestGolangMigrateCLI)")
		}
		if err != nil {
			t.Fatal(err)
		}
		defer drv.Close()
		requireT(t, drv.Lock() == nil, "CLI-path lock")
		requireT(t, lockHolders(t, d) == 1, "the library does not see the CLI's lock: keys differ")
		short, cancel := context.WithTimeout(ctxT(t), 2*time.Second)
		defer cancel()
		err = sessionsec.Migrate(short, d.Open(t))
		requireT(t, errors.Is(err, context.DeadlineExceeded), "Migrate must wait for the CLI, got %v", err)
		requireT(t, drv.Unlock() == nil, "CLI-path unlock")
		mustMigrate(t, d.DB)
	})
}

// TestSQLiteManyPoolsOneProcess: 16 pools of one process migrate the same file at once, round after
// round. The lock must exclude pools of one process as well as other processes: every call returns nil.
func TestSQLiteManyPoolsOneProcess(t *testing.T) {
	rounds := 40
	if testing.Short() {
		rounds = 5
	}
	failures := 0
	for round := 0; round < rounds; round++ {
		d := testdb.New(t, testdb.Servers[3])
		pools := make([]*sql.DB, replicas)
		for i := range pools {
			pools[i] = d.Open(t)
		}
		start := make(chan struct{})
		errs := make([]error, replicas)
		var wg sync.WaitGroup
		for i := range pools {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				<-start
				errs[i] = sessionsec.Migrate(ctxT(t), pools[i])
			}(i)
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				failures++
				t.Errorf("round %d, pool %d: %v", round, i, err)
			}
		}
		mustValidate(t, d.DB)
		for _, p := range pools {
			_ = p.Close()
		}
	}
	t.Logf("%d rounds x %d pools: %d failures", rounds, replicas, failures)
}
