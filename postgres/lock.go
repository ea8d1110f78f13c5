package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/golang-migrate/migrate/v4/database"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// LockKey returns the advisory-lock id golang-migrate's postgres driver uses for this database, schema and
// migrations table when configured like the stock CLI (DatabaseName "/"+current_database()):
// GenerateAdvisoryLockId("/"+db, current_schema(), table) - the driver's Lock passes the migrations
// schema and table as the additional names.
func (Dialect) LockKey(ctx context.Context, q dialect.Querier, table string) (string, error) {
	var (
		db     string
		schema sql.NullString
	)
	if err := q.QueryRowContext(ctx, queryLockScope).Scan(&db, &schema); err != nil {
		return "", fmt.Errorf("postgres: read lock scope: %w", err)
	}
	if !schema.Valid {
		return "", fmt.Errorf("postgres: no current schema (search_path names no existing schema)")
	}
	return database.GenerateAdvisoryLockId("/"+db, schema.String, table)
}

func parseKey(key string) (int64, error) {
	id, err := strconv.ParseInt(key, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("postgres: bad advisory lock key %q: %w", key, err)
	}
	return id, nil
}

// TryLock tries once, without waiting, to take the session-level advisory lock on conn.
func (Dialect) TryLock(ctx context.Context, conn *sql.Conn, key string) (bool, error) {
	id, err := parseKey(key)
	if err != nil {
		return false, err
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, queryTryLock, id).Scan(&ok); err != nil {
		return false, fmt.Errorf("postgres: pg_try_advisory_lock: %w", err)
	}
	return ok, nil
}

// Unlock releases the advisory lock held by conn.
func (Dialect) Unlock(ctx context.Context, conn *sql.Conn, key string) error {
	id, err := parseKey(key)
	if err != nil {
		return err
	}
	var ok bool
	if err := conn.QueryRowContext(ctx, queryUnlock, id).Scan(&ok); err != nil {
		return fmt.Errorf("postgres: pg_advisory_unlock: %w", err)
	}
	if !ok {
		return fmt.Errorf("postgres: advisory lock %s was not held by this session", key)
	}
	return nil
}

// LockHolders counts the sessions of this database holding the advisory lock. A bigint key k appears in
// pg_locks as classid = k >> 32, objid = k & 0xFFFFFFFF, objsubid = 1.
func LockHolders(ctx context.Context, q dialect.Querier, key string) (int, error) {
	id, err := parseKey(key)
	if err != nil {
		return 0, err
	}
	var n int
	if err := q.QueryRowContext(ctx, queryLockHolders, id).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: read pg_locks: %w", err)
	}
	return n, nil
}
