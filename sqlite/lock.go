package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// The migration lock.
//
// golang-migrate's sqlite driver locks in-process only (an atomic flag), so two processes migrating the
// same file would both run. SQLite's own write lock cannot be held for the whole run either: the driver
// writes through other connections of the pool, which would then wait on the pinned connection.
//
// Instead the lock is a committed row in sessionsec_lock (created on first use), keyed by LockKey and
// carrying the holder's host name, pid, a per-process random token and a per-acquisition owner token.
// (A row in the database file rather than a lock file next to it: it works wherever the file is
// reachable and needs no extra path.)
// Taking it is one atomic INSERT OR IGNORE (SQLite serializes writers); releasing it is a DELETE of our
// own owner token. A row left by a crashed process is taken over when it is provably stale: same host
// and the pid is gone, or same host and pid but another process token (the pid was reused, e.g. pid 1
// in a restarted container), or this process's own row that no connection holds any more. A row from another host is never taken over automatically: delete it by
// hand (DELETE FROM sessionsec_lock) once that host's migration is known to be dead.
//
// The stock golang-migrate CLI does not take this lock; it cannot run these migrations anyway (see the
// package comment).

const lockTable = "sessionsec_lock"

var (
	processToken = newToken()
	hostName, _  = os.Hostname()

	heldMu sync.Mutex
	held   = map[heldKey]string{} // (conn, key) -> owner token
)

type heldKey struct {
	conn *sql.Conn
	key  string
}

func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// LockKey is "<table>" prefixed with "sessionsec:": one lock per migrations table of the database file.
func (*Dialect) LockKey(_ context.Context, _ dialect.Querier, table string) (string, error) {
	return "sessionsec:" + table, nil
}

// TryLock tries once to insert the lock row (taking over a provably stale one). It gives up after about a
// second when another connection holds SQLite's write lock, and then reports false.
func (*Dialect) TryLock(ctx context.Context, conn *sql.Conn, key string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	ok, err := tryLock(ctx, conn, key)
	if err != nil && (ctx.Err() != nil || (*Dialect)(nil).IsLockTimeout(err)) {
		if parent := context.Cause(ctx); parent != nil && !errors.Is(parent, context.DeadlineExceeded) {
			return false, parent
		}
		return false, nil
	}
	return ok, err
}

func tryLock(ctx context.Context, conn *sql.Conn, key string) (bool, error) {
	hk := heldKey{conn, key}
	heldMu.Lock()
	_, mine := held[hk]
	heldMu.Unlock()
	if mine {
		return true, nil
	}
	if _, err := conn.ExecContext(ctx, qCreateLockTable); err != nil {
		return false, fmt.Errorf("sqlite: creating %s: %w", lockTable, err)
	}
	owner := newToken()
	for attempt := 0; attempt < 2; attempt++ {
		res, err := conn.ExecContext(ctx, qInsertLock, key, owner, hostName, os.Getpid(), processToken)
		if err != nil {
			return false, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			heldMu.Lock()
			held[hk] = owner
			heldMu.Unlock()
			return true, nil
		}
		if attempt > 0 {
			break
		}
		// Held: take it over only when the holder is provably gone.
		var o, h, pt string
		var pid int
		err = conn.QueryRowContext(ctx, qReadLock, key).Scan(&o, &h, &pid, &pt)
		if errors.Is(err, sql.ErrNoRows) {
			continue // released meanwhile
		}
		if err != nil {
			return false, err
		}
		if !stale(o, h, pid, pt) {
			return false, nil
		}
		if _, err := conn.ExecContext(ctx, qDeleteLock, key, o); err != nil {
			return false, err
		}
	}
	return false, nil
}

// stale reports whether a lock row was left by a process of this host that no longer exists, or by
// this very process without any connection still holding it (an Unlock whose DELETE failed).
func stale(owner, host string, pid int, proc string) bool {
	if host != hostName || hostName == "" {
		return false
	}
	if pid == os.Getpid() {
		if proc != processToken {
			return true // the pid was reused (e.g. pid 1 of a restarted container)
		}
		heldMu.Lock()
		defer heldMu.Unlock()
		for _, o := range held {
			if o == owner {
				return false
			}
		}
		return true
	}
	return !processAlive(pid)
}

// Unlock deletes the lock row this connection took.
func (*Dialect) Unlock(ctx context.Context, conn *sql.Conn, key string) error {
	hk := heldKey{conn, key}
	heldMu.Lock()
	owner, ok := held[hk]
	heldMu.Unlock()
	if !ok {
		return fmt.Errorf("sqlite: lock %q is not held by this connection", key)
	}
	// Forget the lock first: should the DELETE fail, the row is then recognisably orphaned and this
	// process takes it over on its next TryLock (other processes of the host once this one exits).
	heldMu.Lock()
	delete(held, hk)
	heldMu.Unlock()
	if _, err := conn.ExecContext(ctx, qDeleteLock, key, owner); err != nil {
		return fmt.Errorf("sqlite: releasing lock %q: %w", key, err)
	}
	return nil
}

// LockHolders counts the rows holding key (0 or 1).
func (*Dialect) LockHolders(ctx context.Context, q dialect.Querier, key string) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, qCountLock, key).Scan(&n); err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return 0, nil
		}
		return 0, err
	}
	return n, nil
}
