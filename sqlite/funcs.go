package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math"
	"strconv"

	modernc "modernc.org/sqlite"

	"github.com/agui-go/sessionsec/schema"
)

// HashFunction is the SQL name of the registered hash function.
const HashFunction = "session_security_hash"

// init registers session_security_hash(session_id, user_id, created_epoch) for every modernc.org/sqlite
// connection opened from now on (driver name "sqlite"). Connections opened by any other driver, or by the
// stock golang-migrate CLI binary, do not have it: see the package comment.
func init() {
	modernc.MustRegisterDeterministicScalarFunction(HashFunction, 3, securityHashSQL)
}

// securityHashSQL is schema.SecurityHash as an SQL function. NULL arguments are nil pointers (F(NULL) =
// "-", E(NULL) = "-"); text and blobs are taken as UTF-8; created_epoch is whole seconds (a REAL is
// rounded down, a numeric text is parsed, anything else is an error).
func securityHashSQL(_ *modernc.FunctionContext, args []driver.Value) (driver.Value, error) {
	sid, err := textArg(args[0])
	if err != nil {
		return nil, fmt.Errorf("%s: session_id: %w", HashFunction, err)
	}
	uid, err := textArg(args[1])
	if err != nil {
		return nil, fmt.Errorf("%s: user_id: %w", HashFunction, err)
	}
	ep, err := epochArg(args[2])
	if err != nil {
		return nil, fmt.Errorf("%s: created_epoch: %w", HashFunction, err)
	}
	return schema.SecurityHash(sid, uid, ep), nil
}

func textArg(v driver.Value) (*string, error) {
	var s string
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		s = x
	case []byte:
		s = string(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case float64:
		s = strconv.FormatFloat(x, 'g', -1, 64)
	default:
		return nil, fmt.Errorf("unsupported value of type %T", v)
	}
	return &s, nil
}

func epochArg(v driver.Value) (*int64, error) {
	var e int64
	switch x := v.(type) {
	case nil:
		return nil, nil
	case int64:
		e = x
	case float64:
		e = int64(math.Floor(x))
	case string, []byte:
		s := fmt.Sprint(x)
		if b, ok := x.([]byte); ok {
			s = string(b)
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			e = n
		} else if f, ferr := strconv.ParseFloat(s, 64); ferr == nil {
			e = int64(math.Floor(f))
		} else {
			return nil, fmt.Errorf("not a number: %q", s)
		}
	default:
		return nil, fmt.Errorf("unsupported value of type %T", v)
	}
	return &e, nil
}

// createdEpochSQL is E(created_at) in SQL: whole seconds since 1970-01-01 UTC of the ISO-8601 UTC text
// (NULL when NULL or unparsable). Same expression as in migrations/sqlite.
const createdEpochSQL = `CAST(strftime('%s', created_at) AS INTEGER)`

// SQL of the Go routines.
const (
	qBackfillFirstBound = `SELECT max(session_id) FROM (SELECT session_id FROM sessions
WHERE security_hash IS NULL ORDER BY session_id LIMIT ?1)`
	qBackfillNextBound = `SELECT max(session_id) FROM (SELECT session_id FROM sessions
WHERE security_hash IS NULL AND session_id > ?2 ORDER BY session_id LIMIT ?1)`
	backfillSet = `UPDATE sessions SET
    security_hash = ` + HashFunction + `(session_id, user_id, ` + createdEpochSQL + `),
    encryption_key_id = COALESCE(encryption_key_id, ?1),
    last_validated_at = COALESCE(last_validated_at, CURRENT_TIMESTAMP)
WHERE security_hash IS NULL`
	qBackfillFirstBatch = backfillSet + ` AND session_id <= ?3`
	qBackfillNextBatch  = backfillSet + ` AND session_id > ?2 AND session_id <= ?3`

	qCleanupDelete = `DELETE FROM sessions
WHERE (expires_at IS NOT NULL AND julianday(expires_at) < julianday('now')) OR risk_score > ?1`
	qAudit = `INSERT INTO session_audit_log (action, details) VALUES (?1, json_object(?2, ?3))`

	riskExpr = `MIN(100,
      CASE WHEN security_hash IS NULL THEN 40 ELSE 0 END
    + CASE WHEN expires_at IS NOT NULL AND julianday(expires_at) <= julianday('now') THEN 30 ELSE 0 END
    + CASE WHEN created_ip_hash IS NULL THEN 20 ELSE 0 END
    + CASE WHEN last_validated_at IS NULL OR julianday(last_validated_at) < julianday('now', '-7 days')
           THEN 10 ELSE 0 END)`
	qRiskUpdate = `UPDATE sessions SET risk_score = ` + riskExpr + ` WHERE risk_score IS NOT ` + riskExpr

	qRetiredCount = `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1`
)

// RetiredTables are the tables a SQLite rollback appends to (fixed names, a retired_at column per row).
var RetiredTables = []string{"sessions_security_retired", "session_audit_log_retired", "sessions_archive_retired"}

// DefaultBatch is Backfill's batch size when batch <= 0.
const DefaultBatch = 5000

// Backfill sets security_hash (session_security_hash over session_id, user_id and created_at),
// encryption_key_id := COALESCE(encryption_key_id, 'migration-default-key') and last_validated_at :=
// COALESCE(last_validated_at, now) on every row whose security_hash IS NULL. It walks session_id in keyset
// batches of batch rows (ORDER BY session_id, never a bare LIMIT), each batch its own autocommit
// statement, so it is idempotent and resumable and never holds SQLite's write lock for long. It returns
// the number of rows updated. The migration's own backfill step (000005) is a single UPDATE; running
// Backfill before migrating a large table leaves that step nothing to do.
func Backfill(ctx context.Context, db *sql.DB, batch int) (int64, error) {
	if batch <= 0 {
		batch = DefaultBatch
	}
	var total int64
	var last *string
	for {
		var hi sql.NullString
		var err error
		if last == nil {
			err = db.QueryRowContext(ctx, qBackfillFirstBound, batch).Scan(&hi)
		} else {
			err = db.QueryRowContext(ctx, qBackfillNextBound, batch, *last).Scan(&hi)
		}
		if err != nil {
			return total, fmt.Errorf("sqlite: backfill: %w", err)
		}
		if !hi.Valid {
			return total, nil
		}
		var res sql.Result
		if last == nil {
			res, err = db.ExecContext(ctx, qBackfillFirstBatch, schema.Expected.DefaultKeyID, nil, hi.String)
		} else {
			res, err = db.ExecContext(ctx, qBackfillNextBatch, schema.Expected.DefaultKeyID, *last, hi.String)
		}
		if err != nil {
			return total, fmt.Errorf("sqlite: backfill: %w", err)
		}
		n, _ := res.RowsAffected()
		total += n
		h := hi.String
		last = &h
	}
}

// CleanupExpiredSecureSessions deletes the sessions that expired (expires_at IS NOT NULL AND expires_at <
// now; a NULL expires_at never expires) or whose risk_score is above 50, and inserts one audit row
// action='SECURITY_CLEANUP', details='{"deleted":N}' (also for N = 0), in one transaction. It returns N.
func CleanupExpiredSecureSessions(ctx context.Context, db *sql.DB) (int64, error) {
	return inTx(ctx, db, func(tx *sql.Tx) (int64, error) {
		res, err := tx.ExecContext(ctx, qCleanupDelete, schema.Expected.Risk.CleanupThreshold)
		if err != nil {
			return 0, err
		}
		n, _ := res.RowsAffected()
		if _, err := tx.ExecContext(ctx, qAudit, "SECURITY_CLEANUP", "deleted", n); err != nil {
			return 0, err
		}
		return n, nil
	})
}

// UpdateSessionRiskScores sets risk_score := LEAST(100, 40*[security_hash IS NULL] + 30*[expires_at <=
// now] + 20*[created_ip_hash IS NULL] + 10*[last_validated_at IS NULL OR older than 7 days]) on the rows
// whose score changes, and inserts one audit row action='RISK_SCORE_UPDATE', details='{"updated":N}',
// in one transaction. It returns N. It does not touch last_accessed_at, so it does not refresh
// last_validated_at.
func UpdateSessionRiskScores(ctx context.Context, db *sql.DB) (int64, error) {
	return inTx(ctx, db, func(tx *sql.Tx) (int64, error) {
		res, err := tx.ExecContext(ctx, qRiskUpdate)
		if err != nil {
			return 0, err
		}
		n, _ := res.RowsAffected()
		if _, err := tx.ExecContext(ctx, qAudit, "RISK_SCORE_UPDATE", "updated", n); err != nil {
			return 0, err
		}
		return n, nil
	})
}

// DropEmptyRetired drops the RetiredTables that exist and hold no row (a rollback always creates them,
// since SQLite has no conditional DDL) and returns their names. Non-empty ones are kept.
func DropEmptyRetired(ctx context.Context, db *sql.DB) ([]string, error) {
	var dropped []string
	for _, name := range RetiredTables {
		n, err := inTx(ctx, db, func(tx *sql.Tx) (int64, error) {
			var exists int
			if err := tx.QueryRowContext(ctx, qRetiredCount, name).Scan(&exists); err != nil || exists == 0 {
				return 0, err
			}
			var rows int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+quoteIdent(name)).Scan(&rows); err != nil || rows > 0 {
				return 0, err
			}
			_, err := tx.ExecContext(ctx, "DROP TABLE "+quoteIdent(name))
			return 1, err
		})
		if err != nil {
			return dropped, fmt.Errorf("sqlite: dropping empty %s: %w", name, err)
		}
		if n == 1 {
			dropped = append(dropped, name)
		}
	}
	return dropped, nil
}

func inTx(ctx context.Context, db *sql.DB, f func(*sql.Tx) (int64, error)) (int64, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	n, err := f(tx)
	if err != nil {
		_ = tx.Rollback()
		return 0, err
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	return n, nil
}
