package dialect

import (
	"context"
	"database/sql"
)

// Topology is what a dialect can tell about what stands between the library and the data: a
// multi-primary cluster whose nodes do not share named or advisory locks, or a transaction pooler
// that hands each transaction whichever server connection is free.
type Topology struct {
	// Cluster: a multi-primary cluster (Galera: wsrep_on=ON). Session locks are local to a node and
	// conflicting writes from two nodes are resolved at commit (certification).
	Cluster bool
	// Pooled: a transaction pooler (PgBouncer pool_mode=transaction) - the pinned *sql.Conn does not keep
	// one server session, so nothing may live in a session: no advisory lock, no SET.
	Pooled bool
	// Why says what was seen, for the log.
	Why string
	// Session are statements that put the pinned session in the state the topology needs (Galera:
	// wsrep_sync_wait, so that what the migration reads under the lock includes every write the cluster
	// committed before, on any node).
	Session []string
}

// Lease is the SQL of the lease lock: a one-row table the library owns. Each statement is a single
// autocommitted statement, so it needs no server session that outlives it (a pooler may hand every
// statement another one) and, on a multi-primary cluster, commits on one node only or fails
// certification. Parameters are in the order given.
type Lease struct {
	// Create creates the lock table if it is missing.
	Create string
	// Seed inserts the one row, free, if it is missing (never fails on a duplicate).
	Seed string
	// Acquire takes the row when it is free or expired: (holder, ttl in microseconds). One row
	// affected means taken; the token was incremented by it.
	Acquire string
	// Token reads the token of the row held by holder: (holder).
	Token string
	// Renew extends the lease of the holder and token: (ttl in microseconds, holder, token). Zero rows
	// affected means the lease is lost.
	Renew string
	// Release frees the row when holder and token still hold it: (holder, token).
	Release string
	// State reads (holder, token, seconds until expiry) of the row, for diagnostics and tests.
	State string
}

// Leaser is implemented by the dialects whose servers can sit behind a pooler or in a cluster.
type Leaser interface {
	// Topology tells whether conn goes through a transaction pooler or to a cluster node. db is the
	// caller's pool, for a second connection to compare with.
	Topology(ctx context.Context, conn *sql.Conn, db *sql.DB) (Topology, error)
	// LeaseSQL is the lease lock's SQL for the lock table named table.
	LeaseSQL(table string) Lease
	// IsReadOnly reports an error saying the server refuses writes (a standby, a read-only replica).
	IsReadOnly(err error) bool
	// IsConflict reports a write that lost a conflict and was rolled back whole: a deadlock, or on a
	// cluster a certification failure / brute-force abort. Retrying it is safe.
	IsConflict(err error) bool
}
