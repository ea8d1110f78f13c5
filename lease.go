package sessionsec

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// LockMode chooses the migration lock (WithLock).
type LockMode int

const (
	// LockAuto chooses per server: the lease on a Galera node (wsrep_on=ON) and on PostgreSQL behind a
	// transaction pooler, golang-migrate's advisory lock otherwise (so that the library and the stock
	// migrate CLI exclude each other on a single server). SQLite always uses its lock file.
	LockAuto LockMode = iota
	// LockAdvisory forces golang-migrate's advisory lock (GET_LOCK / pg_advisory_lock) held by one
	// pinned connection. It is wrong through a transaction pooler and across Galera nodes.
	LockAdvisory
	// LockLease forces the lease lock: a one-row table (<migrations table>_lock) taken and renewed by
	// single autocommitted statements, which holds through poolers and across cluster nodes. It does not
	// exclude the stock migrate CLI.
	LockLease
)

// String names the mode.
func (m LockMode) String() string {
	switch m {
	case LockAdvisory:
		return "advisory"
	case LockLease:
		return "lease"
	}
	return "auto"
}

// DefaultLeaseTTL is how long a lease lasts without renewal: a holder that died (process killed, node
// restarted, connection cut) is replaced at most this long (plus the waiter's poll interval and the clock
// skew between cluster nodes) after its last renewal. The holder renews every third of it.
const DefaultLeaseTTL = 30 * time.Second

// ErrLockLost: the lease lock expired or was taken over while this call held it (its renewals did not
// reach the server for a whole TTL). The call stopped before the next step or batch; what it committed
// stays and every step converges, so calling again finishes the work.
var ErrLockLost = errors.New("sessionsec: the migration lease was lost")

// WithLock chooses the migration lock of Migrate, Rollback, the maintenance tasks and Seal (default
// LockAuto). It configures the handle: every function accepts it, those that take no lock ignore it.
func WithLock(m LockMode) Option {
	return Option{name: "WithLock", ops: opHandle, apply: func(c *config) error {
		if m < LockAuto || m > LockLease {
			return invalid("lock mode %d is not LockAuto, LockAdvisory or LockLease", int(m))
		}
		c.lockMode = m
		return nil
	}}
}

// WithLeaseTTL sets how long the lease lock lasts without renewal (default DefaultLeaseTTL, 30s): the
// bound on how long a dead holder keeps the others waiting. It must be well above the longest pause
// the holder's renewals can suffer (a stalled network, a cluster-wide DDL under TOI delays commits).
func WithLeaseTTL(d time.Duration) Option {
	return Option{name: "WithLeaseTTL", ops: opHandle, apply: func(c *config) error {
		if d < 3*time.Second || d > time.Hour {
			return invalid("lease TTL %v must be between 3s and 1h", d)
		}
		c.leaseTTL = d
		return nil
	}}
}

// LeaseTable is the lease lock's table for a migrations table.
func LeaseTable(migrationsTable string) string { return migrationsTable + "_lock" }

// lease is a held lease lock: its holder id and fencing token, and the goroutine renewing it.
type lease struct {
	p      *Provider
	sql    dialect.Lease
	holder string
	token  int64
	ttl    time.Duration
	cancel context.CancelCauseFunc // cancels the work ctx when the lease is lost
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	lost   bool
}

func newHolder() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// ensureLeaseTable creates the lock table and its row. On a cluster two nodes creating the row at
// once lose certification (1213) and retry; PostgreSQL's CREATE TABLE IF NOT EXISTS can lose a race
// on the catalog (23505) and is retried too.
func (s *session) ensureLeaseTable(ctx context.Context, ls dialect.Lease) error {
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		if _, err = s.p.db.ExecContext(ctx, ls.Create); err == nil {
			if _, err = s.p.db.ExecContext(ctx, ls.Seed); err == nil {
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if s.leaser.IsReadOnly(err) {
			return s.readOnly(err)
		}
		if e := sleep(ctx, time.Duration(attempt+1)*100*time.Millisecond); e != nil {
			return e
		}
	}
	return fmt.Errorf("%w: creating the migration lease table %s: %v", ErrNoDatabase, LeaseTable(s.cfg.migrationsTable), s.p.serverError(err))
}

func (s *session) readOnly(err error) error {
	return fmt.Errorf("%w: the server refuses writes (%v): Migrate, Rollback and the maintenance tasks must run against the primary "+
		"(the writable server); point the *sql.DB at it. Validate, Status and Preflight work on a replica",
		ErrReadOnly, s.p.serverError(err))
}

// tryLease tries once to take the lease: one autocommitted UPDATE of the row when it is free or
// expired. It affects one row for exactly one caller: on one server the row lock serialises the
// updates and the later one re-reads the row the earlier one wrote; across Galera nodes the conflicting
// write sets are certified in one total order and the later one is aborted (1213) or, retried by the
// node, finds the row taken.
func (s *session) tryLease(ctx context.Context, ls dialect.Lease, holder string) (bool, int64, error) {
	res, err := s.p.db.ExecContext(ctx, ls.Acquire, holder, s.cfg.leaseTTL.Microseconds())
	if err != nil {
		if s.leaser.IsConflict(err) {
			return false, 0, nil // another node or session won the row
		}
		if s.leaser.IsReadOnly(err) {
			return false, 0, s.readOnly(err)
		}
		return false, 0, err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return false, 0, err
	}
	var token int64
	if err := s.p.db.QueryRowContext(ctx, ls.Token, holder).Scan(&token); err != nil {
		return false, 0, fmt.Errorf("reading the lease token: %w", err)
	}
	return true, token, nil
}

// start begins renewing the lease every third of its TTL. A renewal that finds the row no longer
// ours (zero rows), or renewals failing for longer than the TTL (the server may have given the lease
// to another holder), cancel the work ctx with ErrLockLost.
func (l *lease) start() {
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(l.done)
		every := l.ttl / 3
		lastOK := time.Now()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), every)
			held, err := l.renew(ctx)
			cancel()
			switch {
			case err == nil && held:
				lastOK = time.Now()
			case err == nil && !held:
				l.lose(fmt.Errorf("%w: the lease row names another holder or token (it expired and was taken over)", ErrLockLost))
				return
			case time.Since(lastOK) >= l.ttl-every/2:
				l.lose(fmt.Errorf("%w: renewals failed for %v (%v); another replica may hold it now", ErrLockLost,
					time.Since(lastOK).Round(time.Second), l.p.serverError(err)))
				return
			}
		}
	}()
}

// renew extends the lease; false means it is no longer ours.
func (l *lease) renew(ctx context.Context) (bool, error) {
	res, err := l.p.db.ExecContext(ctx, l.sql.Renew, l.ttl.Microseconds(), l.holder, l.token)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func (l *lease) lose(err error) {
	l.mu.Lock()
	l.lost = true
	l.mu.Unlock()
	l.cancel(err)
}

// verify is the fencing check before a step or a batch: it renews the lease and fails with ErrLockLost
// when the row is no longer ours, so a holder that lost the lease never starts more work.
func (l *lease) verify(ctx context.Context) error {
	l.mu.Lock()
	lost := l.lost
	l.mu.Unlock()
	if lost {
		return fmt.Errorf("%w: stopped before the next step (call again: every step converges)", ErrLockLost)
	}
	var held bool
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if held, err = l.renew(ctx); err == nil || ctx.Err() != nil {
			break
		}
		if e := sleep(ctx, time.Duration(attempt+1)*200*time.Millisecond); e != nil {
			return e
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: verifying the migration lease: %v", ErrNoDatabase, l.p.serverError(err))
	}
	if !held {
		l.lose(fmt.Errorf("%w: the lease row names another holder or token", ErrLockLost))
		return fmt.Errorf("%w: another replica took the lease over; stopped before the next step (call again: every step converges)", ErrLockLost)
	}
	return nil
}

// release stops the renewals and frees the row (when it is still ours), with its own short context:
// the caller's may be cancelled already.
func (l *lease) release(log func(msg string, args ...any)) {
	close(l.stop)
	<-l.done
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := l.p.db.ExecContext(ctx, l.sql.Release, l.holder, l.token); err != nil {
		log("sessionsec: releasing the migration lease failed; it expires by itself", "ttl", l.ttl, "err", l.p.serverError(err))
	}
}

// lockLost turns an error of a call whose work ctx was cancelled by a lost lease into ErrLockLost.
func lockLost(ctx context.Context, err error) error {
	if err == nil || errors.Is(err, ErrLockLost) {
		return err
	}
	if cause := context.Cause(ctx); cause != nil && errors.Is(cause, ErrLockLost) {
		return fmt.Errorf("%w (the call stopped: %v)", cause, err)
	}
	return err
}

// LeaseState is the lease lock's row, for diagnostics and tests.
type LeaseState struct {
	Holder    string        // empty when free
	Token     int64         // incremented by every acquisition
	ExpiresIn time.Duration // negative when expired
}

// ReadLease is [Provider.ReadLease] on db: opts are [New]'s options (no call option applies to it).
func ReadLease(ctx context.Context, db *sql.DB, opts ...Option) (st LeaseState, ok bool, err error) {
	p, call, err := on(db, opLease, opts)
	if err != nil {
		return st, false, err
	}
	return p.ReadLease(ctx, call...)
}

// ReadLease reads the lease lock's row of the handle's migrations table (default
// DefaultMigrationsTable); ok is false when the dialect has no lease or the table cannot be read (no
// lease was ever taken). No call option applies to it; opts is there for the shape every method has.
func (p *Provider) ReadLease(ctx context.Context, opts ...Option) (st LeaseState, ok bool, err error) {
	cfg, err := p.callConfig(opLease, opts)
	if err != nil {
		return st, false, err
	}
	lr, isLeaser := p.d.(dialect.Leaser)
	if !isLeaser {
		return st, false, nil
	}
	var secs float64
	err = p.db.QueryRowContext(ctx, lr.LeaseSQL(LeaseTable(cfg.migrationsTable)).State).Scan(&st.Holder, &st.Token, &secs)
	if errors.Is(err, sql.ErrNoRows) {
		return st, true, nil
	}
	if err != nil {
		return st, false, nil // no table yet: no lease was ever taken
	}
	st.ExpiresIn = time.Duration(secs * float64(time.Second))
	return st, true, nil
}
