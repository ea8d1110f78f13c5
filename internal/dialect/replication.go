package dialect

import "context"

// Replication is what the replica lag bound (WithMaxReplicaLag) needs from a dialect whose servers
// replicate. Positions are numbers that grow with the primary's writes: a WAL position on PostgreSQL, the
// heartbeat's microseconds on MySQL and MariaDB. Fallback: no lag bound (SQLite has no replicas).
type Replication interface {
	// Beat marks the primary's position now and returns it: it writes micros to the heartbeat table
	// (a Heartbeater), or commits an empty transaction whose commit record asks streaming standbys to
	// report their replay position at once (PostgreSQL). Standbys are the streaming standbys the primary
	// itself lists with their replay positions (PostgreSQL's pg_stat_replication); nil on MySQL.
	Beat(ctx context.Context, conn Querier, table string, micros int64) (pos int64, standbys []Standby, err error)
}

// Heartbeater is a Replication whose replicas are measured by a heartbeat row read through handles the
// caller gives (WithReplicas), rather than read from the primary. Fallback: WithReplicas is refused and
// the standbys are the ones Beat lists.
type Heartbeater interface {
	Replication
	// PrepareHeartbeat creates the heartbeat table (in the current schema, through conn).
	PrepareHeartbeat(ctx context.Context, conn Querier, table string) error
	// ReplicaPosition reads, on a replica the caller gave, the heartbeat the primary wrote to
	// schema.table.
	ReplicaPosition(ctx context.Context, replica Querier, schema, table string) (int64, error)
}

// Standby is one streaming standby as its primary sees it.
type Standby struct {
	Name string // application name and address, e.g. "walreceiver@127.0.0.1 (pid 1234)"
	// Replayed is the position the standby has replayed; Known is false when the primary does not show
	// it to this user (PostgreSQL: without pg_read_all_stats) or the standby has not reported yet.
	Replayed int64
	Known    bool
	// Visible is false when the row's details are hidden from this user (missing privileges).
	Visible bool
}
