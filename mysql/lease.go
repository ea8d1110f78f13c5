package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// Server error numbers of the lease and version writes.
const (
	errOptionPreventsStatement = 1290 // ER_OPTION_PREVENTS_STATEMENT: --read-only / --super-read-only
	errReadOnlyTransaction     = 1792 // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
	errReadOnlyMode            = 1836 // ER_READ_ONLY_MODE
	errUnknownSystemVariable   = 1193
)

// Topology reads wsrep_on: a Galera node (MariaDB Galera, Percona XtraDB Cluster) takes GET_LOCK for
// itself only - another node grants the same name at once - so the migration lock must be the lease.
// MySQL Group Replication multi-primary has the same rule but no variable to read here; force the
// lease there with WithLock(LockLease).
func (Dialect) Topology(ctx context.Context, conn *sql.Conn, _ *sql.DB) (dialect.Topology, error) {
	var name, value string
	err := conn.QueryRowContext(ctx, "SHOW GLOBAL VARIABLES LIKE 'wsrep_on'").Scan(&name, &value)
	switch {
	case errors.Is(err, sql.ErrNoRows), errorNumber(err) == errUnknownSystemVariable:
		return dialect.Topology{}, nil
	case err != nil:
		return dialect.Topology{}, fmt.Errorf("mysql: read wsrep_on: %w", err)
	}
	if strings.EqualFold(value, "ON") {
		// A node applies the others' write sets asynchronously: without a causality wait a reader can see
		// the version row of before the previous holder's last step.
		return dialect.Topology{Cluster: true, Why: "a Galera cluster node (wsrep_on=ON): GET_LOCK is local to a node",
			Session: []string{"SET SESSION wsrep_sync_wait = 1"}}, nil
	}
	return dialect.Topology{}, nil
}

// LeaseSQL is the lease lock on MySQL/MariaDB. Times are UTC_TIMESTAMP(6) of the server, whatever the
// session time zone of the connection that runs the statement. The row has a primary key, as Galera
// needs to certify writes to it.
func (Dialect) LeaseSQL(table string) dialect.Lease {
	t := quote(table)
	const free = "'1970-01-02 00:00:00'"
	return dialect.Lease{
		Create: "CREATE TABLE IF NOT EXISTS " + t + " (id INT NOT NULL PRIMARY KEY, holder VARCHAR(64) NOT NULL, " +
			"token BIGINT NOT NULL, expires_at DATETIME(6) NOT NULL) ENGINE=InnoDB",
		Seed: "INSERT IGNORE INTO " + t + " (id, holder, token, expires_at) VALUES (1, '', 0, " + free + ")",
		Acquire: "UPDATE " + t + " SET holder = ?, token = token + 1, expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND " +
			"WHERE id = 1 AND expires_at < UTC_TIMESTAMP(6)",
		Token:   "SELECT token FROM " + t + " WHERE id = 1 AND holder = ?",
		Renew:   "UPDATE " + t + " SET expires_at = UTC_TIMESTAMP(6) + INTERVAL ? MICROSECOND WHERE id = 1 AND holder = ? AND token = ?",
		Release: "UPDATE " + t + " SET holder = '', expires_at = " + free + " WHERE id = 1 AND holder = ? AND token = ?",
		State:   "SELECT holder, token, TIMESTAMPDIFF(MICROSECOND, UTC_TIMESTAMP(6), expires_at) / 1000000 FROM " + t + " WHERE id = 1",
	}
}

// IsReadOnly reports a write refused by a read-only server or transaction.
func (Dialect) IsReadOnly(err error) bool {
	switch errorNumber(err) {
	case errOptionPreventsStatement, errReadOnlyTransaction, errReadOnlyMode:
		return true
	}
	return false
}

// IsConflict reports a deadlock victim (1213), which on Galera is also how a write that failed
// certification or was brute-force aborted by a replicated one ends: rolled back whole.
func (Dialect) IsConflict(err error) bool { return errorNumber(err) == errLockDeadlock }
