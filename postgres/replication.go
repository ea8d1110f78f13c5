package postgres

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// stmtBeat commits a transaction that has an xid (txid_current assigns one) and so a commit record.
// With synchronous_commit = remote_apply that record carries the "apply feedback" flag: a standby
// replaying it reports its replay position at once instead of at its next status interval (10 s by
// default), so that pg_stat_replication's replay_lsn is fresh when the primary is otherwise idle. The
// setting is local to the transaction and only taken when no synchronous standby is configured: then
// the commit does not wait for anything.
const stmtBeat = `DO $sessionsec$ BEGIN
  IF current_setting('synchronous_standby_names') = '' THEN
    PERFORM set_config('synchronous_commit', 'remote_apply', true);
  END IF;
  PERFORM txid_current();
END $sessionsec$`

// queryStandbys returns the primary's WAL position and each physical standby's replay position (one
// row with NULLs when there is none), as byte offsets. A base backup's WAL sender is no standby, and
// neither is a logical replication client (a CDC connector confirms its position when it pleases; its
// WAL sender is connected to a database, a physical one is not). Without superuser or
// pg_read_all_stats the state and positions of the rows are NULL.
const queryStandbys = `SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::int8, r.pid, COALESCE(r.application_name, ''),
  COALESCE(host(r.client_addr), 'local'), r.state, (r.replay_lsn - '0/0'::pg_lsn)::int8
FROM (SELECT 1) AS one
LEFT JOIN (pg_stat_replication AS r JOIN pg_stat_activity AS a ON a.pid = r.pid AND a.datid IS NULL)
  ON r.state IS DISTINCT FROM 'backup'`

// Beat commits the feedback-asking transaction, then reads the standbys' replay positions against the
// primary's WAL position, from pg_stat_replication: no connection to a standby is needed.
func (Dialect) Beat(ctx context.Context, conn dialect.Querier, _ string, _ int64) (int64, []dialect.Standby, error) {
	if _, err := conn.ExecContext(ctx, stmtBeat); err != nil {
		return 0, nil, fmt.Errorf("postgres: heartbeat transaction: %w", err)
	}
	rows, err := conn.QueryContext(ctx, queryStandbys)
	if err != nil {
		return 0, nil, fmt.Errorf("postgres: reading pg_stat_replication: %w", err)
	}
	defer rows.Close()
	var pos int64
	var out []dialect.Standby
	for rows.Next() {
		var pid sql.NullInt64
		var app, addr string
		var state sql.NullString
		var replay sql.NullInt64
		if err := rows.Scan(&pos, &pid, &app, &addr, &state, &replay); err != nil {
			return 0, nil, fmt.Errorf("postgres: reading pg_stat_replication: %w", err)
		}
		if !pid.Valid {
			continue // the LEFT JOIN's row without a standby
		}
		if app == "" {
			app = "standby"
		}
		out = append(out, dialect.Standby{Name: fmt.Sprintf("%s@%s (pid %d)", app, addr, pid.Int64),
			Replayed: replay.Int64, Known: replay.Valid, Visible: state.Valid})
	}
	return pos, out, rows.Err()
}
