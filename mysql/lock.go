package mysql

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/golang-migrate/migrate/v4/database"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// LockKey is golang-migrate's own GET_LOCK name: GenerateAdvisoryLockId("<DATABASE()>:<table>"), so
// the library and the stock CLI (and migrate.NewWithInstance users) exclude each other.
func (Dialect) LockKey(ctx context.Context, q dialect.Querier, table string) (string, error) {
	var db sql.NullString
	if err := q.QueryRowContext(ctx, queryDatabase).Scan(&db); err != nil {
		return "", fmt.Errorf("mysql: read DATABASE(): %w", err)
	}
	if db.String == "" {
		return "", fmt.Errorf("mysql: no database selected: cannot derive the migration lock name")
	}
	return database.GenerateAdvisoryLockId(fmt.Sprintf("%s:%s", db.String, table))
}

// TryLock tries GET_LOCK(key, 1) once: false after the one-second timeout. GET_LOCK is re-entrant per
// session: each successful TryLock needs one Unlock.
func (Dialect) TryLock(ctx context.Context, conn *sql.Conn, key string) (bool, error) {
	var got sql.NullInt64
	if err := conn.QueryRowContext(ctx, queryTryLock, key).Scan(&got); err != nil {
		return false, fmt.Errorf("mysql: GET_LOCK: %w", err)
	}
	if !got.Valid {
		return false, fmt.Errorf("mysql: GET_LOCK(%s) returned NULL (killed or out of memory)", key)
	}
	return got.Int64 == 1, nil
}

// Unlock releases one hold of the lock on conn.
func (Dialect) Unlock(ctx context.Context, conn *sql.Conn, key string) error {
	var res sql.NullInt64
	if err := conn.QueryRowContext(ctx, queryUnlock, key).Scan(&res); err != nil {
		return fmt.Errorf("mysql: RELEASE_LOCK: %w", err)
	}
	if !res.Valid || res.Int64 != 1 {
		return fmt.Errorf("mysql: RELEASE_LOCK(%s): this session did not hold the lock", key)
	}
	return nil
}

// LockHolders returns 1 when some session holds the lock (IS_USED_LOCK), 0 otherwise: a named lock has at
// most one holder.
func LockHolders(ctx context.Context, q dialect.Querier, key string) (int, error) {
	var id sql.NullInt64
	if err := q.QueryRowContext(ctx, queryLockHolder, key).Scan(&id); err != nil {
		return 0, fmt.Errorf("mysql: IS_USED_LOCK: %w", err)
	}
	if id.Valid {
		return 1, nil
	}
	return 0, nil
}
