package sessionsec

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math/rand/v2"
	"time"
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
	if prepare {
		if err := p.d.PrepareSession(ctx, conn, cfg.lockWait); err != nil {
			s.close()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("%w: preparing the migration session: %v", ErrNoDatabase, p.serverError(err))
		}
	}
	return s, nil
}

// lock takes golang-migrate's own advisory lock (so the stock CLI and this package exclude each other),
// polling a try-lock instead of blocking: waiting honours ctx, is not capped at golang-migrate's 10s/15s,
// and a waiting replica holds no transaction that a CREATE INDEX CONCURRENTLY would deadlock against.
func (s *session) lock(ctx context.Context) error {
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
