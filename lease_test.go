package sessionsec_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
)

// leaseDB runs f on the servers that have the lease (not SQLite, whose lock file already holds across
// pools and processes of one machine).
func leaseDB(t *testing.T, f func(t *testing.T, d *testdb.DB)) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		if d.Server.Dialect == "sqlite" {
			t.Skip("skipping sqlite: it has no lease lock (its lock file is released by the kernel when its holder dies)")
		}
		f(t, d)
	})
}

// leaseRow reads the lease table through the public diagnostics.
func leaseRow(t *testing.T, d *testdb.DB) sessionsec.LeaseState {
	t.Helper()
	p, err := sessionsec.New(d.DB)
	requireT(t, err == nil, "New: %v", err)
	st, ok, err := p.ReadLease(ctxT(t))
	requireT(t, err == nil && ok, "reading the lease: ok=%t %v", ok, err)
	return st
}

// TestLeaseReplicas: 16 replicas forced onto the lease on a single server: every call returns nil, the
// change is applied once, the lease is free afterwards and was taken at least once.
func TestLeaseReplicas(t *testing.T) {
	leaseDB(t, func(t *testing.T, d *testdb.DB) {
		createExisting(t, d, 20_000)
		errs := make([]error, replicas)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				db := d.Open(t)
				<-start
				errs[i] = sessionsec.Migrate(ctxT(t), db, sessionsec.WithLock(sessionsec.LockLease))
			}(i)
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			requireT(t, err == nil, "replica %d: %v", i, err)
		}
		mustValidate(t, d.DB)
		st := leaseRow(t, d)
		requireT(t, st.Holder == "" && st.Token >= 1, "after every replica returned the lease must be free: %+v", st)
		requireT(t, lockHolders(t, d) == 0, "no advisory lock may be held")
	})
}

// TestLeaseWaitHonoursContext: while another holder's lease is live, Migrate waits and returns ctx's
// error when the deadline passes; once the lease expires (its holder died), the next call takes it
// over without anyone releasing it.
func TestLeaseWaitHonoursContext(t *testing.T) {
	leaseDB(t, func(t *testing.T, d *testdb.DB) {
		createExisting(t, d, 100)
		// A holder that took the lease and died: its row stays until it expires.
		hold, release := make(chan struct{}), make(chan struct{})
		t.Cleanup(func() { close(release) })
		errc := make(chan error, 1)
		go func() {
			errc <- sessionsec.Migrate(ctxT(t), d.Open(t), sessionsec.WithLock(sessionsec.LockLease), sessionsec.WithLeaseTTL(6*time.Second),
				sessionsec.WithStepHook(func(v uint, phase string) {
					if v == 1 && phase == "before-up" {
						close(hold)
						<-release // the holder hangs; its renewals go on, so the lease stays live
					}
				}))
		}()
		<-hold
		short, cancel := context.WithTimeout(ctxT(t), 2*time.Second)
		defer cancel()
		began := time.Now()
		err := sessionsec.Migrate(short, d.Open(t), sessionsec.WithLock(sessionsec.LockLease))
		requireT(t, errors.Is(err, context.DeadlineExceeded), "want the ctx deadline error while the lease is live, got %v", err)
		requireT(t, time.Since(began) < 6*time.Second, "returned after %v", time.Since(began))
		st := leaseRow(t, d)
		requireT(t, st.Holder != "" && st.ExpiresIn > 0, "the hung holder keeps its lease live: %+v", st)
		select {
		case err := <-errc:
			t.Fatalf("the holder returned: %v", err)
		default:
		}
	})
}

// TestLeaseTakeoverAfterExpiry: a holder that stopped renewing (a dead process: its row is left as it
// was) is replaced once the TTL passed, and the fencing token grows.
func TestLeaseTakeoverAfterExpiry(t *testing.T) {
	leaseDB(t, func(t *testing.T, d *testdb.DB) {
		createExisting(t, d, 100)
		// Take the lease the way a replica does, then stop renewing it by killing the holding process:
		// here, by writing the row a dead holder leaves (holder set, expiry 4s ahead).
		mustMigrate(t, d.DB, sessionsec.WithLock(sessionsec.LockLease))
		before := leaseRow(t, d)
		dead := "dead-holder"
		expire := map[string]string{
			"mysql":    "UPDATE sessionsec_schema_migrations_lock SET holder = ?, token = token + 1, expires_at = UTC_TIMESTAMP(6) + INTERVAL 4 SECOND WHERE id = 1",
			"postgres": "UPDATE sessionsec_schema_migrations_lock SET holder = $1, token = token + 1, expires_at = clock_timestamp() + interval '4 seconds' WHERE id = 1",
		}[d.Server.Dialect]
		mustExec(t, d.DB, expire, dead)
		began := time.Now()
		mustMigrate(t, d.DB, sessionsec.WithLock(sessionsec.LockLease), sessionsec.WithReapply()) // reapply: there is work, so the lock is needed
		waited := time.Since(began)
		requireT(t, waited >= 3*time.Second && waited < 15*time.Second, "took over after %v; want about the 4s left of the dead holder's lease", waited)
		after := leaseRow(t, d)
		requireT(t, after.Token >= before.Token+2 && after.Holder == "", "tokens %d -> %d, holder %q", before.Token, after.Token, after.Holder)
		mustValidate(t, d.DB)
	})
}

// TestLeaseLostStopsBeforeNextStep: when another holder takes the lease over (here: the row is
// rewritten under the running call), the call stops before its next step with ErrLockLost, and a new
// call finishes the work.
func TestLeaseLostStopsBeforeNextStep(t *testing.T) {
	leaseDB(t, func(t *testing.T, d *testdb.DB) {
		createExisting(t, d, 100)
		steal := map[string]string{
			"mysql":    "UPDATE sessionsec_schema_migrations_lock SET holder = 'thief', token = token + 1 WHERE id = 1",
			"postgres": "UPDATE sessionsec_schema_migrations_lock SET holder = 'thief', token = token + 1 WHERE id = 1",
		}[d.Server.Dialect]
		var ran []uint
		err := sessionsec.Migrate(ctxT(t), d.Open(t), sessionsec.WithLock(sessionsec.LockLease),
			sessionsec.WithStepHook(func(v uint, phase string) {
				if phase != "after-up" {
					return
				}
				ran = append(ran, v)
				if v == 3 {
					mustExec(t, d.DB, steal)
				}
			}))
		requireT(t, errors.Is(err, sessionsec.ErrLockLost), "want ErrLockLost, got %v", err)
		requireT(t, len(ran) == 3, "steps run after the lease was lost: %v", ran)
		st, serr := sessionsec.Status(ctxT(t), d.DB)
		requireT(t, serr == nil && st.Version == 3 && !st.Dirty, "status after the loss: %+v %v", st, serr)
		// The thief never releases: its lease expires after the 30s default; free it as its expiry would.
		mustExec(t, d.DB, "UPDATE sessionsec_schema_migrations_lock SET holder = '', expires_at = '1970-01-02 00:00:00' WHERE id = 1")
		mustMigrate(t, d.DB, sessionsec.WithLock(sessionsec.LockLease))
		mustValidate(t, d.DB)
	})
}

// TestLockModeOption: a bad mode or TTL is refused before anything is touched.
func TestLockModeOption(t *testing.T) {
	d := testdb.New(t, testdb.Servers[len(testdb.Servers)-1])
	err := sessionsec.Migrate(ctxT(t), d.DB, sessionsec.WithLock(sessionsec.LockMode(7)))
	requireT(t, errors.Is(err, sessionsec.ErrInvalidOption), "bad mode: %v", err)
	err = sessionsec.Migrate(ctxT(t), d.DB, sessionsec.WithLeaseTTL(time.Second))
	requireT(t, errors.Is(err, sessionsec.ErrInvalidOption), "bad TTL: %v", err)
}

// TestLeaseNeedsTwoConnections: a one-connection pool cannot renew the lease while a step holds the
// pinned connection; the call says so instead of waiting.
func TestLeaseNeedsTwoConnections(t *testing.T) {
	leaseDB(t, func(t *testing.T, d *testdb.DB) {
		createExisting(t, d, 10)
		db := d.Open(t)
		db.SetMaxOpenConns(1)
		ctx, cancel := context.WithTimeout(ctxT(t), 20*time.Second)
		defer cancel()
		err := sessionsec.Migrate(ctx, db, sessionsec.WithLock(sessionsec.LockLease))
		requireT(t, errors.Is(err, sessionsec.ErrNoDatabase) && strings.Contains(err.Error(), "SetMaxOpenConns"), "want the one-connection refusal, got %v", err)
		requireT(t, sessionsec.Migrate(ctx, db) == nil, "the advisory lock works on one connection")
		mustValidate(t, d.DB)
	})
}
