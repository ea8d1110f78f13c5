package postgres

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"reflect"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// SQLSTATE codes of the lease and version writes.
const (
	codeReadOnlyTransaction  = "25006" // read_only_sql_transaction: a hot standby, default_transaction_read_only
	codeSerializationFailure = "40001"
	codeUniqueViolation      = "23505" // CREATE TABLE IF NOT EXISTS racing another session on pg_type
)

// Topology tells whether conn goes through a transaction pooler. A session setting is written on conn
// and read back on conn and on a second connection of the pool, with the server process of each
// statement: on a real session conn keeps its process and its setting, and another connection never
// sees it; through a transaction pooler each statement gets whichever server connection is free
// (PgBouncer hands out the most recently used one first), so the process changes or the other
// connection reads the setting. The setting is a custom one no query of the application reads.
func (Dialect) Topology(ctx context.Context, conn *sql.Conn, db *sql.DB) (dialect.Topology, error) {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	var pid1, pid3 int
	var set, seen3 string
	if err := conn.QueryRowContext(ctx, querySetProbe, token).Scan(&pid1, &set); err != nil {
		return dialect.Topology{}, fmt.Errorf("postgres: probing for a pooler: %w", err)
	}
	pooled, why := false, ""
	// The certain sign: the process id the server announced to this client when it connected
	// (BackendKeyData) is not the process running its statements. PgBouncer sends its clients a key of
	// its own.
	if announced, ok := announcedPID(conn); ok && announced != pid1 {
		return dialect.Topology{Pooled: true, Why: "a pooler: the server process differs from the one announced at connect"}, nil
	}
	// A second connection; the caller's pool may allow only one (ours): then there is none to compare
	// with, and the pool is not asked for it (it would wait).
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if db.Stats().MaxOpenConnections != 1 {
		if other, err := db.Conn(short); err == nil {
			var pid2 int
			var seen2 string
			err := other.QueryRowContext(ctx, queryReadProbe).Scan(&pid2, &seen2)
			_ = other.Close()
			if err != nil {
				return dialect.Topology{}, fmt.Errorf("postgres: probing for a pooler: %w", err)
			}
			if pid2 == pid1 || seen2 == token {
				pooled, why = true, "another connection of the pool reached the same server process"
			}
		}
	}
	if err := conn.QueryRowContext(ctx, queryReadProbe).Scan(&pid3, &seen3); err != nil {
		return dialect.Topology{}, fmt.Errorf("postgres: probing for a pooler: %w", err)
	}
	if pid3 != pid1 || seen3 != token {
		pooled, why = true, "one pinned connection reached two server processes"
	}
	if pooled {
		why = "a transaction pooler: " + why
	}
	return dialect.Topology{Pooled: pooled, Why: why}, nil
}

// LeaseSQL is the lease lock on PostgreSQL, in current_schema() like the migrations table. The clock is
// the server's (clock_timestamp()), so the holders' clocks do not matter.
func (Dialect) LeaseSQL(table string) dialect.Lease {
	t := quote(table)
	const ttl = "clock_timestamp() + $%d::bigint * interval '1 microsecond'"
	return dialect.Lease{
		Create: "CREATE TABLE IF NOT EXISTS " + t + " (id integer PRIMARY KEY, holder text NOT NULL, " +
			"token bigint NOT NULL, expires_at timestamptz NOT NULL)",
		Seed: "INSERT INTO " + t + " (id, holder, token, expires_at) VALUES (1, '', 0, '1970-01-01 00:00:00+00') " +
			"ON CONFLICT (id) DO NOTHING",
		Acquire: "UPDATE " + t + " SET holder = $1, token = token + 1, expires_at = " + fmt.Sprintf(ttl, 2) +
			" WHERE id = 1 AND expires_at < clock_timestamp()",
		Token:   "SELECT token FROM " + t + " WHERE id = 1 AND holder = $1",
		Renew:   "UPDATE " + t + " SET expires_at = " + fmt.Sprintf(ttl, 1) + " WHERE id = 1 AND holder = $2 AND token = $3::bigint",
		Release: "UPDATE " + t + " SET holder = '', expires_at = '1970-01-01 00:00:00+00' WHERE id = 1 AND holder = $1 AND token = $2::bigint",
		State:   "SELECT holder, token, EXTRACT(EPOCH FROM expires_at - clock_timestamp())::float8 FROM " + t + " WHERE id = 1",
	}
}

// IsReadOnly reports a write refused by a standby or a read-only transaction.
func (Dialect) IsReadOnly(err error) bool { return SQLState(err) == codeReadOnlyTransaction }

// IsConflict reports a deadlock, a serialization failure, or a CREATE ... IF NOT EXISTS that lost a race
// on the catalog: each was rolled back whole.
func (Dialect) IsConflict(err error) bool {
	switch SQLState(err) {
	case codeDeadlockDetected, codeSerializationFailure, codeUniqueViolation:
		return true
	}
	return false
}

// SessionSettings are PrepareSession's settings as SET LOCAL, for a transaction through a pooler.
func (Dialect) SessionSettings(lockWait time.Duration) []string {
	return []string{fmt.Sprintf("SET LOCAL lock_timeout = '%dms'", max(lockWait.Milliseconds(), 1)), "SET LOCAL statement_timeout = 0"}
}

const (
	querySetProbe           = `SELECT pg_backend_pid(), set_config('sessionsec.pooler_probe', $1, false)`
	queryReadProbe          = `SELECT pg_backend_pid(), COALESCE(current_setting('sessionsec.pooler_probe', true), '')`
	queryVersionTableExists = `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = current_schema() AND c.relname = $1 AND c.relkind IN ('r', 'p'))`
)

// announcedPID is the process id the server (or a pooler) sent in BackendKeyData when conn connected:
// pgx exposes it; lib/pq keeps it in its connection's pid field, read by reflection (read only; when a
// lib/pq release renames it, the probe falls back to comparing settings and processes).
func announcedPID(conn *sql.Conn) (pid int, ok bool) {
	_ = conn.Raw(func(dc any) error {
		if c, isPgx := dc.(*stdlib.Conn); isPgx {
			pid, ok = int(c.Conn().PgConn().PID()), true
			return nil
		}
		v := reflect.ValueOf(dc)
		if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct || v.Elem().Type().PkgPath() != "github.com/lib/pq" {
			return nil
		}
		if f := v.Elem().FieldByName("pid"); f.IsValid() && f.CanInt() {
			pid, ok = int(f.Int()), true
		}
		return nil
	})
	return pid, ok && pid != 0
}
