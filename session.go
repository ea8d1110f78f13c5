package sessionsec

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// session is one connection pinned for the whole migration. It carries the advisory lock and the
// session settings (lock_wait_timeout / lock_timeout), and is discarded at the end instead of being
// returned to the caller's pool, so none of that state can leak into the application's queries.
type session struct {
	p      *Provider
	cfg    config
	conn   *sql.Conn
	key    string
	locked bool
	// leaser is the dialect's lease support (nil on SQLite); topo what it saw of the topology.
	leaser dialect.Leaser
	topo   dialect.Topology
	// pooled: the connection goes through a transaction pooler, so the session settings are not set on
	// the session (they would stay on a server connection other clients get) but per transaction.
	pooled   bool
	settings []string
	// lease is the held lease lock, when the lease is the lock.
	lease  *lease
	cancel context.CancelCauseFunc
}

// open pins a connection and prepares it for migrating (bounded lock waits, known session settings).
func (p *Provider) open(ctx context.Context, cfg config, prepare bool) (*session, error) {
	conn, err := p.db.Conn(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %v (check that the *sql.DB is open, the server is up and the credentials are right)", ErrNoDatabase, p.serverError(err))
	}
	s := &session{p: p, cfg: cfg, conn: conn}
	s.leaser, _ = p.d.(dialect.Leaser)
	if prepare && s.leaser != nil {
		// Find the topology before anything is set on the session: through a transaction pooler a
		// session SET would land on a server connection the pooler then gives to other clients.
		topo, err := s.leaser.Topology(ctx, conn, p.db)
		if err != nil {
			s.close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("%w: probing the connection (pooler, cluster): %v", ErrNoDatabase, p.serverError(err))
		}
		s.topo = topo
		if topo.Pooled {
			s.pooled = true
			if ts, ok := p.d.(dialect.TxSettings); ok {
				s.settings = ts.SessionSettings(cfg.lockWait)
			}
		}
	}
	if prepare && !s.pooled {
		if err := p.d.PrepareSession(ctx, conn, cfg.lockWait); err != nil {
			s.close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("%w: preparing the migration session: %v", ErrNoDatabase, p.serverError(err))
		}
	}
	if prepare && !s.pooled {
		for _, stmt := range s.topo.Session {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				s.close()
				return nil, fmt.Errorf("%w: preparing the migration session (%s): %v", ErrNoDatabase, statementHead(stmt), p.serverError(err))
			}
		}
	}
	return s, nil
}

// useLease tells whether this session's lock is the lease (see LockMode).
func (s *session) useLease() bool {
	if s.leaser == nil {
		return false // SQLite: its lock file holds across pools and processes of one machine
	}
	switch s.cfg.lockMode {
	case LockLease:
		return true
	case LockAdvisory:
		return false
	}
	return s.topo.Cluster || s.topo.Pooled
}

// lock takes the migration lock and returns the context the locked work runs under: with the lease, it
// is cancelled (cause ErrLockLost) when the lease is lost.
func (s *session) lock(ctx context.Context) (context.Context, error) {
	if s.useLease() {
		return s.lockLease(ctx)
	}
	return ctx, s.lockAdvisory(ctx)
}

// lockLease waits for the lease lock, polling its one-statement acquire with backoff and jitter.
func (s *session) lockLease(ctx context.Context) (context.Context, error) {
	if s.p.db.Stats().MaxOpenConnections == 1 {
		// The renewals need a connection besides the pinned one: a long statement (an index build)
		// holds the pinned one for longer than the TTL.
		return ctx, fmt.Errorf("%w: the lease lock needs a second connection for its renewals, and the pool allows one "+
			"(db.SetMaxOpenConns(1)): allow at least 2", ErrNoDatabase)
	}
	ls := s.leaser.LeaseSQL(LeaseTable(s.cfg.migrationsTable))
	if err := s.ensureLeaseTable(ctx, ls); err != nil {
		return ctx, err
	}
	holder := newHolder()
	s.cfg.logger.DebugContext(ctx, "sessionsec: using the lease lock", "why", s.topo.Why, "mode", s.cfg.lockMode.String(), "ttl", s.cfg.leaseTTL)
	wait, logged := 50*time.Millisecond, false
	for {
		ok, token, err := s.tryLease(ctx, ls, holder)
		if ctx.Err() != nil {
			return ctx, fmt.Errorf("sessionsec: waiting for the migration lease (another replica is migrating): %w", ctx.Err())
		}
		if errors.Is(err, ErrReadOnly) {
			return ctx, err
		}
		if err != nil {
			return ctx, fmt.Errorf("%w: taking the migration lease: %v", ErrNoDatabase, s.p.serverError(err))
		}
		if ok {
			work, cancel := context.WithCancelCause(ctx)
			s.lease = &lease{p: s.p, sql: ls, holder: holder, token: token, ttl: s.cfg.leaseTTL, cancel: cancel}
			s.cancel = cancel
			s.lease.start()
			s.locked = true
			return work, nil
		}
		if !logged {
			s.cfg.logger.InfoContext(ctx, "sessionsec: another process holds the migration lease; waiting",
				"table", LeaseTable(s.cfg.migrationsTable), "ttl", s.cfg.leaseTTL)
			logged = true
		}
		jitter := time.Duration(rand.Int64N(int64(wait) / 2))
		if err := sleep(ctx, wait+jitter); err != nil {
			return ctx, fmt.Errorf("sessionsec: waiting for the migration lease (another replica is migrating): %w", err)
		}
		wait = min(wait*2, s.cfg.pollInterval)
	}
}

// verify is the fencing check before each step and batch (a no-op under the advisory lock, which
// cannot be lost while its session lives).
func (s *session) verify(ctx context.Context) error {
	if s.lease == nil {
		return nil
	}
	return s.lease.verify(ctx)
}

// exec runs one of the library's statements on the session. Through a transaction pooler it runs in a
// transaction of its own that carries the session settings (SET LOCAL); a statement that cannot run in
// a transaction (CREATE INDEX CONCURRENTLY) runs bare.
func (s *session) exec(ctx context.Context, stmt string, args ...any) (sql.Result, error) {
	if !s.pooled || len(s.settings) == 0 || noTransaction(stmt) {
		return s.conn.ExecContext(ctx, stmt, args...)
	}
	tx, err := s.conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback() }()
	for _, set := range s.settings {
		if _, err := tx.ExecContext(ctx, set); err != nil {
			return nil, err
		}
	}
	res, err := tx.ExecContext(ctx, stmt, args...)
	if err != nil {
		return nil, err
	}
	return res, tx.Commit()
}

// file runs a migration file as one statement string (one implicit transaction on PostgreSQL). Through
// a pooler the settings travel at its head as SET LOCAL, unless the file is a CREATE INDEX
// CONCURRENTLY, which must be alone.
func (s *session) file(ctx context.Context, body string) error {
	if s.pooled && len(s.settings) > 0 && !noTransaction(body) {
		body = strings.Join(s.settings, ";\n") + ";\n" + body
	}
	return dialect.RunFile(ctx, s.p.d, s.conn, body)
}

// noTransaction reports SQL that must run outside a transaction block.
func noTransaction(stmt string) bool {
	return strings.Contains(strings.ToUpper(stmt), "CONCURRENTLY")
}

// lockAdvisory takes golang-migrate's own advisory lock (so the stock CLI and this package exclude each other),
// polling a try-lock instead of blocking: waiting honours ctx, is not capped at golang-migrate's 10s/15s,
// and a waiting replica holds no transaction that a CREATE INDEX CONCURRENTLY would deadlock against.
func (s *session) lockAdvisory(ctx context.Context) error {
	key, err := s.p.d.LockKey(ctx, s.conn, s.cfg.migrationsTable)
	if err != nil {
		return fmt.Errorf("%w: computing the migration lock key: %v", ErrNoDatabase, s.p.serverError(err))
	}
	s.key = key
	wait := 50 * time.Millisecond
	logged := false
	for {
		ok, err := s.p.d.TryLock(ctx, s.conn, key)
		if ctx.Err() != nil {
			return fmt.Errorf("sessionsec: waiting for the migration lock (another replica or the migrate CLI is migrating): %w", ctx.Err())
		}
		if err != nil {
			return fmt.Errorf("%w: taking the migration lock: %v", ErrNoDatabase, s.p.serverError(err))
		}
		if ok {
			s.locked = true
			return nil
		}
		if !logged {
			s.cfg.logger.InfoContext(ctx, "sessionsec: another process holds the migration lock; waiting", "table", s.cfg.migrationsTable)
			logged = true
		}
		jitter := time.Duration(rand.Int64N(int64(wait) / 2))
		select {
		case <-ctx.Done():
			return fmt.Errorf("sessionsec: waiting for the migration lock (another replica or the migrate CLI is migrating): %w", ctx.Err())
		case <-time.After(wait + jitter):
		}
		wait = min(wait*2, s.cfg.pollInterval)
	}
}

// close releases the lock and discards the physical connection. It uses its own short context: the
// caller's may already be cancelled, and the lock must not outlive the call.
func (s *session) close() {
	if s.lease != nil {
		s.lease.release(s.cfg.logger.Warn)
		s.cancel(nil)
		s.lease, s.locked = nil, false
	}
	if s.locked {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := s.p.d.Unlock(ctx, s.conn, s.key); err != nil {
			s.cfg.logger.Warn("sessionsec: releasing the migration lock failed; discarding the connection releases it", "err", s.p.serverError(err))
		}
		cancel()
		s.locked = false
	}
	// Returning driver.ErrBadConn from Raw makes database/sql close this connection instead of
	// pooling it: session variables and any lock die with it.
	_ = s.conn.Raw(func(any) error { return driver.ErrBadConn })
	_ = s.conn.Close()
}
