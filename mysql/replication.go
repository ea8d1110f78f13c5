package mysql

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// PrepareHeartbeat creates the heartbeat table (one row: the primary's last heartbeat in Unix
// microseconds, written by the library, as gh-ost does) and its row. A plain BIGINT, not a DATETIME(6):
// the value never meets a time zone or the DSN's parseTime.
func (Dialect) PrepareHeartbeat(ctx context.Context, conn dialect.Querier, table string) error {
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (id TINYINT NOT NULL PRIMARY KEY, micros BIGINT NOT NULL) ENGINE=InnoDB", quote(table))); err != nil {
		return fmt.Errorf("mysql: creating the heartbeat table %s: %w", table, err)
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("INSERT IGNORE INTO %s (id, micros) VALUES (1, 0)", quote(table))); err != nil {
		return fmt.Errorf("mysql: writing the heartbeat row of %s: %w", table, err)
	}
	return nil
}

// Beat writes micros to the heartbeat row; the replicas' own views of it tell how far they are.
func (Dialect) Beat(ctx context.Context, conn dialect.Querier, table string, micros int64) (int64, []dialect.Standby, error) {
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET micros = ? WHERE id = 1", quote(table)), micros); err != nil {
		return 0, nil, fmt.Errorf("mysql: writing the heartbeat: %w", err)
	}
	return micros, nil, nil
}

// ReplicaPosition reads the heartbeat the replica has applied (schema-qualified: the replica's handle
// need not have the database as its default).
func (Dialect) ReplicaPosition(ctx context.Context, replica dialect.Querier, schema, table string) (int64, error) {
	var micros int64
	err := replica.QueryRowContext(ctx, fmt.Sprintf("SELECT micros FROM %s.%s WHERE id = 1", quote(schema), quote(table))).Scan(&micros)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil // the table has arrived, its first row not yet: no heartbeat applied
	}
	return micros, err
}
