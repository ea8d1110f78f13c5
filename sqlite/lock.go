package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// The migration lock.
//
// golang-migrate's sqlite driver locks in-process only (a flag per driver instance), so two pools or
// two processes migrating one file would both run. SQLite's own write lock cannot be held for the whole
// run either: golang-migrate writes through other connections of the pool, which would then wait on it.
//
// Instead the lock is an exclusive flock(2) on a file next to the database, <database>-<migrations
// table>.lock: it excludes other processes and other pools of this process alike (flock locks belong to
// the open file, not to the process), and the kernel drops it when its holder dies, so a crash never
// leaves a stale lock behind. The file itself stays (removing it would let two holders lock two
// different files). An in-memory database is private to its process: an in-process lock is enough.

type heldKey struct {
	conn *sql.Conn
	key  string
}

var held sync.Map // heldKey -> release func

// LockKey is the lock file of the database and migrations table, or "memory:<table>" for an in-memory
// database.
func (Dialect) LockKey(ctx context.Context, q dialect.Querier, table string) (string, error) {
	var file string
	if err := q.QueryRowContext(ctx, `SELECT COALESCE((SELECT file FROM pragma_database_list WHERE name = 'main'), '')`).Scan(&file); err != nil {
		return "", fmt.Errorf("sqlite: locating the database file: %w", err)
	}
	if file == "" {
		return "memory:" + table, nil
	}
	return file + "-" + table + ".lock", nil
}

// TryLock tries once, without waiting, to take the lock for conn.
func (Dialect) TryLock(_ context.Context, conn *sql.Conn, key string) (bool, error) {
	hk := heldKey{conn, key}
	if _, mine := held.Load(hk); mine {
		return true, nil
	}
	release, ok, err := tryLock(key)
	if err != nil || !ok {
		return false, err
	}
	held.Store(hk, release)
	return true, nil
}

// Unlock releases the lock conn holds.
func (Dialect) Unlock(_ context.Context, conn *sql.Conn, key string) error {
	v, ok := held.LoadAndDelete(heldKey{conn, key})
	if !ok {
		return fmt.Errorf("sqlite: lock %q is not held by this connection", key)
	}
	return v.(func() error)()
}

var memLocks sync.Map // key -> *sync.Mutex

// tryLockMemory is the in-process lock of an in-memory database.
func tryLockMemory(key string) (func() error, bool) {
	m, _ := memLocks.LoadOrStore(key, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	if !mu.TryLock() {
		return nil, false
	}
	return func() error { mu.Unlock(); return nil }, true
}

// LockHeld reports whether some connection holds the lock key (diagnostics and tests).
func LockHeld(key string) (bool, error) {
	release, ok, err := tryLock(key)
	if err != nil {
		return false, err
	}
	if ok {
		return false, release()
	}
	return true, nil
}
