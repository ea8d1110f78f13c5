package sessionsec

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// Default ages of what the retention tasks remove (the runbook's 90 and 30 days).
const (
	DefaultArchiveAge = 90 * 24 * time.Hour
	DefaultAuditAge   = 30 * 24 * time.Hour
)

// Cleanup deletes expired, inactive (where the layout has the flag) and risky sessions, in batches, each
// batch one transaction with its SECURITY_CLEANUP audit row. A row that a child row holds on to
// (FOREIGN KEY ... RESTRICT) stays and is counted as Blocked. On MySQL and PostgreSQL it calls the
// CleanupExpiredSecureSessions procedure the migrations created; on SQLite it runs the same rule itself.
func Cleanup(ctx context.Context, db *sql.DB, opts ...Option) (*MaintenanceResult, error) {
	p, cfg, err := topLevel(db, opCleanup, opts)
	if err != nil {
		return nil, err
	}
	return p.maintain(ctx, opCleanup, cfg)
}

// Cleanup is the package-level Cleanup on the handle's database.
func (p *Provider) Cleanup(ctx context.Context, opts ...Option) (*MaintenanceResult, error) {
	return p.call(ctx, opCleanup, opts)
}

// UpdateRiskScores raises each session's risk_score to the documented rule's score (schema.Change.Risk)
// where that is higher. It never lowers a score: one the application set higher stays. Batches and
// audit rows (RISK_SCORE_UPDATE) as Cleanup; on MySQL and PostgreSQL it calls UpdateSessionRiskScores.
func UpdateRiskScores(ctx context.Context, db *sql.DB, opts ...Option) (*MaintenanceResult, error) {
	p, cfg, err := topLevel(db, opRisk, opts)
	if err != nil {
		return nil, err
	}
	return p.maintain(ctx, opRisk, cfg)
}

// UpdateRiskScores is the package-level UpdateRiskScores on the handle's database.
func (p *Provider) UpdateRiskScores(ctx context.Context, opts ...Option) (*MaintenanceResult, error) {
	return p.call(ctx, opRisk, opts)
}

// Archive moves sessions that expired more than 90 days ago (WithOlderThan) to the archive table
// (<table>_archive), in batches: each batch copies its rows and deletes them from the session table in
// one transaction with its SESSION_ARCHIVE audit row, so a row is always in exactly one of the two. A
// row a child row holds on to, or whose key the archive already has, stays and is counted as Blocked.
func Archive(ctx context.Context, db *sql.DB, opts ...Option) (*MaintenanceResult, error) {
	p, cfg, err := topLevel(db, opArchive, opts)
	if err != nil {
		return nil, err
	}
	return p.maintain(ctx, opArchive, cfg)
}

// Archive is the package-level Archive on the handle's database.
func (p *Provider) Archive(ctx context.Context, opts ...Option) (*MaintenanceResult, error) {
	return p.call(ctx, opArchive, opts)
}

// PruneAudit deletes audit-log rows older than 30 days (WithOlderThan), in batches, each with an
// AUDIT_PRUNE audit row of its own: the log keeps a record of its pruning.
func PruneAudit(ctx context.Context, db *sql.DB, opts ...Option) (*MaintenanceResult, error) {
	p, cfg, err := topLevel(db, opPrune, opts)
	if err != nil {
		return nil, err
	}
	return p.maintain(ctx, opPrune, cfg)
}

// PruneAudit is the package-level PruneAudit on the handle's database.
func (p *Provider) PruneAudit(ctx context.Context, opts ...Option) (*MaintenanceResult, error) {
	return p.call(ctx, opPrune, opts)
}

func (p *Provider) call(ctx context.Context, o op, opts []Option) (*MaintenanceResult, error) {
	cfg, err := p.callConfig(o, opts)
	if err != nil {
		return nil, err
	}
	return p.maintain(ctx, o, cfg)
}

// maintenance is one task's run: its session, the facts and the result so far.
type maintenance struct {
	p    *Provider
	cfg  config
	s    *session
	f    *facts
	m    dialect.Maintainer
	res  MaintenanceResult
	from time.Time
}

// maintain runs a task on a session of its own, under the migration lock: a task never runs while a
// migration or rollback changes the tables, and two replicas' runs of it take turns.
func (p *Provider) maintain(ctx context.Context, o op, cfg config) (_ *MaintenanceResult, err error) {
	task := map[op]string{opCleanup: TaskCleanup, opRisk: TaskRisk, opArchive: TaskArchive, opPrune: TaskPrune}[o]
	m, err := p.ready(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer m.s.close()
	work, err := m.s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { err = lockLost(work, err) }()
	ctx = work
	m.res.Task = task
	now := cfg.now().UTC()
	switch o {
	case opCleanup, opRisk:
		err = m.routine(ctx, o, now)
	case opArchive:
		err = m.archive(ctx, now)
	case opPrune:
		err = m.prune(ctx, now)
	}
	m.res.Duration = time.Since(m.from)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			return &m.res, err
		}
		return &m.res, &MaintenanceError{Task: task, Done: m.res, Err: p.serverError(err)}
	}
	cfg.logger.InfoContext(ctx, "sessionsec: maintenance done", "task", task, "rows", m.res.Rows, "blocked", m.res.Blocked,
		"batches", m.res.Batches, "duration", m.res.Duration.Round(time.Millisecond))
	return &m.res, nil
}

// ready opens a prepared session and checks that the change is applied.
func (p *Provider) ready(ctx context.Context, cfg config) (*maintenance, error) {
	s, err := p.open(ctx, cfg, true)
	if err != nil {
		return nil, err
	}
	m := &maintenance{p: p, cfg: cfg, s: s, m: p.d, from: time.Now()}
	fail := func(err error) (*maintenance, error) { s.close(); return nil, err }
	st, err := p.readVersion(ctx, s.conn, cfg)
	if err != nil {
		return fail(err)
	}
	if !st.HasVersion || st.Dirty || st.Version < schema.Latest() {
		state := "no version applied"
		if st.HasVersion {
			state = fmt.Sprintf("version %d of %d", st.Version, schema.Latest())
			if st.Dirty {
				state += ", dirty"
			}
		}
		return fail(fmt.Errorf("%w: %s (%s): run Migrate (the command: up) first", ErrNotMigrated, cfg.migrationsTable, state))
	}
	if m.f, err = p.inspect(ctx, s.conn, cfg); err != nil {
		return fail(err)
	}
	if m.f.layoutProblem != nil {
		return fail(&PreflightError{Problems: []Problem{*m.f.layoutProblem}})
	}
	n := m.f.t.Names
	for _, t := range []string{n.Table, n.Archive, n.AuditLog} {
		if m.f.cat.Tables[t] == nil {
			return fail(fmt.Errorf("%w: table %s is missing (run Validate for the whole picture, then Migrate -reapply)", ErrNotMigrated, t))
		}
	}
	return m, nil
}

// routine runs cleanup or the risk update: the stored procedure where the dialect has it, else the
// dialect's rules in batches.
func (m *maintenance) routine(ctx context.Context, o op, now time.Time) error {
	n := m.f.t.Names
	action, name := schema.AuditCleanup, n.Cleanup
	if o == opRisk {
		action, name = schema.AuditRisk, n.RiskUpdate
	}
	if call := m.m.Call(m.f.srv, name); call != "" {
		return m.procedure(ctx, call, action)
	}
	rules := m.m.Rules(m.f.t)
	q := m.m.Quote
	key, tbl := m.f.t.Col(schema.RoleKey), q(n.Table)
	rr := schema.Change.Risk
	if o == opCleanup {
		pred := fmt.Sprintf("(%s OR %s > %d)", rules.Expired(now), q(rr.Column), rr.CleanupThreshold)
		return m.batches(ctx, n.Table, key, pred, action, func(ctx context.Context, tx *sql.Tx, keys []any) (int64, int64, error) {
			return m.perRow(ctx, tx, keys, func(in string, args []any) (int64, error) {
				return affected(tx.ExecContext(ctx, "DELETE FROM "+tbl+" WHERE "+in+" AND "+pred, args...))
			})
		}, func(done, blocked int64) string { return fmt.Sprintf(`{"blocked": %d, "deleted": %d}`, blocked, done) })
	}
	score := rules.RiskScore(now)
	pred := fmt.Sprintf("%s < %s", q(rr.Column), score)
	return m.batches(ctx, n.Table, key, pred, action, func(ctx context.Context, tx *sql.Tx, keys []any) (int64, int64, error) {
		in, args := m.in(key, keys)
		n, err := affected(tx.ExecContext(ctx, fmt.Sprintf("UPDATE %s SET %s = %s WHERE %s AND %s", tbl, q(rr.Column), score, in, pred), args...))
		return n, 0, err
	}, func(done, _ int64) string { return fmt.Sprintf(`{"updated": %d}`, done) })
}

// procedure calls a stored routine and reads what it did from the audit rows it wrote.
func (m *maintenance) procedure(ctx context.Context, call, action string) error {
	audit, q := m.m.Quote(m.f.t.Names.AuditLog), m.m.Quote
	var mark int64
	if err := m.s.conn.QueryRowContext(ctx, "SELECT COALESCE(MAX("+q("id")+"), 0) FROM "+audit).Scan(&mark); err != nil {
		return err
	}
	start := time.Now()
	if _, err := m.s.conn.ExecContext(ctx, call); err != nil {
		return err
	}
	m.cfg.logger.DebugContext(ctx, "sessionsec: statement", "sql", call, "duration", time.Since(start))
	rows, err := m.s.conn.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s WHERE %s > %s AND %s = '%s' ORDER BY %s",
		q("details"), audit, q("id"), m.m.Param(1), q("action"), action, q("id")), mark)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var details sql.NullString
		if err := rows.Scan(&details); err != nil {
			return err
		}
		var c map[string]int64
		if json.Unmarshal([]byte(details.String), &c) != nil {
			continue
		}
		done := c["deleted"] + c["updated"]
		if done > 0 || c["blocked"] > 0 {
			m.res.Batches++
		}
		m.res.Rows += done
		m.res.Blocked += c["blocked"]
	}
	m.progress(true)
	return rows.Err()
}

func (m *maintenance) archive(ctx context.Context, now time.Time) error {
	age := m.cfg.olderThan
	if age == 0 {
		age = DefaultArchiveAge
	}
	m.res.Cutoff = now.Add(-age)
	t, n, q := m.f.t, m.f.t.Names, m.m.Quote
	exp := t.Col(schema.RoleExpires)
	pred := m.m.Before(exp, t.Kind(exp), m.res.Cutoff)
	// The archive follows the table: a column the application added since the archive was created is
	// added to it first (same type, nullable), so that no value is lost on the way.
	arch := m.f.cat.Tables[n.Archive]
	var cols []string
	for _, c := range m.f.cat.Tables[n.Table].Columns {
		if arch.Column(c.Name) == nil {
			stmt, err := m.m.AddColumnLike(ctx, m.s.conn, m.f.srv, n.Table, n.Archive, c.Name)
			if err != nil {
				return err
			}
			if _, err := m.s.conn.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("adding column %s to %s before archiving: %w", c.Name, n.Archive, err)
			}
			m.cfg.logger.InfoContext(ctx, "sessionsec: archive: added a column the session table has", "table", n.Archive, "column", c.Name)
		}
		cols = append(cols, q(c.Name))
	}
	list := strings.Join(cols, ", ")
	key := t.Col(schema.RoleKey)
	return m.batches(ctx, n.Table, key, pred, schema.AuditArchive, func(ctx context.Context, tx *sql.Tx, keys []any) (int64, int64, error) {
		return m.perRow(ctx, tx, keys, func(in string, args []any) (int64, error) {
			copied, err := affected(tx.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s WHERE %s", q(n.Archive), list, list, q(n.Table), in), args...))
			if err != nil {
				return 0, err
			}
			deleted, err := affected(tx.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE %s", q(n.Table), in), args...))
			if err == nil && deleted != copied {
				// The rows are locked since the batch selected them; a difference means something is
				// badly wrong, and the transaction must not commit.
				err = fmt.Errorf("archive batch copied %d row(s) but deleted %d; rolled back", copied, deleted)
			}
			return deleted, err
		})
	}, func(done, blocked int64) string { return fmt.Sprintf(`{"blocked": %d, "archived": %d}`, blocked, done) })
}

func (m *maintenance) prune(ctx context.Context, now time.Time) error {
	age := m.cfg.olderThan
	if age == 0 {
		age = DefaultAuditAge
	}
	m.res.Cutoff = now.Add(-age)
	n := m.f.t.Names
	audit := m.f.cat.Tables[n.AuditLog]
	fam := dialect.FamInstant
	if c := audit.Column("created_at"); c != nil {
		fam = c.Family
	}
	pred := m.m.Before("created_at", fam, m.res.Cutoff)
	return m.batches(ctx, n.AuditLog, "id", pred, schema.AuditPrune, func(ctx context.Context, tx *sql.Tx, keys []any) (int64, int64, error) {
		in, args := m.in("id", keys)
		n, err := affected(tx.ExecContext(ctx, "DELETE FROM "+m.m.Quote(n.AuditLog)+" WHERE "+in, args...))
		return n, 0, err
	}, func(done, _ int64) string { return fmt.Sprintf(`{"deleted": %d}`, done) })
}

// batchFunc does one batch's work on the locked keys and returns the rows done and left in place.
type batchFunc func(ctx context.Context, tx *sql.Tx, keys []any) (done, blocked int64, err error)

// batches walks table in key order, a batch of cfg.batch keys matching pred at a time: each batch
// selects and locks its rows, does its work and writes its audit row in one transaction, retried
// when it times out waiting for a lock. A run that finds nothing writes one audit row of zeros, so the
// log shows every run.
func (m *maintenance) batches(ctx context.Context, table, key, pred, action string, work batchFunc, details func(done, blocked int64) string) error {
	var last any
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		var keys []any
		var done, blocked int64
		start := time.Now()
		err := m.retry(ctx, func() error {
			tx, err := m.s.conn.BeginTx(ctx, &sql.TxOptions{Isolation: m.m.Isolation()})
			if err != nil {
				return err
			}
			defer func() { _ = tx.Rollback() }()
			if keys, err = m.next(ctx, tx, table, key, pred, last); err != nil || len(keys) == 0 {
				return err
			}
			if done, blocked, err = work(ctx, tx, keys); err != nil {
				return err
			}
			if done > 0 || blocked > 0 {
				if err := m.audit(ctx, tx, action, details(done, blocked)); err != nil {
					return err
				}
			}
			return tx.Commit()
		})
		if err != nil {
			return err
		}
		if len(keys) == 0 {
			break
		}
		m.cfg.logger.DebugContext(ctx, "sessionsec: batch", "task", m.res.Task, "rows", done, "blocked", blocked, "duration", time.Since(start))
		last = keys[len(keys)-1]
		if done > 0 || blocked > 0 {
			m.res.Batches++
		}
		m.res.Rows += done
		m.res.Blocked += blocked
		m.progress(false)
		if len(keys) < m.cfg.batch {
			break
		}
	}
	if m.res.Rows == 0 && m.res.Blocked == 0 {
		if err := m.audit(ctx, m.s.conn, action, details(0, 0)); err != nil {
			return err
		}
	}
	m.progress(true)
	return nil
}

// retry runs one batch again when it lost a lock wait or a deadlock (the server rolled it back whole).
func (m *maintenance) retry(ctx context.Context, batch func() error) error {
	wait := m.cfg.backoff
	for attempt := 0; ; attempt++ {
		err := batch()
		if err == nil || !m.p.d.IsLockTimeout(err) || attempt >= m.cfg.retries {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(wait*2, maxBackoff)
	}
}

// next selects and locks the keys of the next batch: the first cfg.batch keys after last that match
// pred, in key order (a keyset walk: each batch starts where the previous one ended).
func (m *maintenance) next(ctx context.Context, tx *sql.Tx, table, key, pred string, last any) ([]any, error) {
	q := m.m.Quote
	where, args := pred, []any(nil)
	if last != nil {
		where, args = fmt.Sprintf("%s > %s AND (%s)", q(key), m.m.Param(1), pred), []any{last}
	}
	rows, err := tx.QueryContext(ctx, fmt.Sprintf("SELECT %s FROM %s WHERE %s ORDER BY %s LIMIT %d%s",
		q(key), q(table), where, q(key), m.cfg.batch, m.m.LockRows()), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	fam := dialect.FamInteger // the audit log's id
	if table != m.f.t.Names.AuditLog {
		fam = m.f.t.Kind(key)
	}
	var keys []any
	for rows.Next() {
		// A key goes back to the server as it came: a number, bytes for a binary key, text otherwise
		// (bytes would compare as binary against a text column's collation).
		var k any
		switch fam {
		case dialect.FamInteger:
			var v int64
			err = rows.Scan(&v)
			k = v
		case dialect.FamBinary:
			var v []byte
			err = rows.Scan(&v)
			k = v
		default:
			var v string
			err = rows.Scan(&v)
			k = v
		}
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, rows.Err()
}

// in is "key IN (...)" over keys, with its arguments.
func (m *maintenance) in(key string, keys []any) (string, []any) {
	ph := make([]string, len(keys))
	for i := range keys {
		ph[i] = m.m.Param(i + 1)
	}
	return m.m.Quote(key) + " IN (" + strings.Join(ph, ", ") + ")", keys
}

// perRow runs a batch's statements over all its keys at once; when one row conflicts (a child row
// holds on to it, or the archive has its key), it rolls the batch back to its savepoint and goes row
// by row, each row in a savepoint of its own, leaving the conflicting ones in place.
func (m *maintenance) perRow(ctx context.Context, tx *sql.Tx, keys []any, apply func(in string, args []any) (int64, error)) (done, blocked int64, err error) {
	key := m.f.t.Col(schema.RoleKey)
	if _, err := tx.ExecContext(ctx, "SAVEPOINT sessionsec_batch"); err != nil {
		return 0, 0, err
	}
	in, args := m.in(key, keys)
	n, err := apply(in, args)
	if err == nil {
		return n, 0, nil
	}
	if !m.m.IsRowConflict(err) {
		return 0, 0, err
	}
	if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT sessionsec_batch"); err != nil {
		return 0, 0, err
	}
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT sessionsec_row"); err != nil {
			return done, blocked, err
		}
		in, args := m.in(key, []any{k})
		n, err := apply(in, args)
		switch {
		case err == nil:
			done += n
			if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT sessionsec_row"); err != nil {
				return done, blocked, err
			}
		case m.m.IsRowConflict(err):
			blocked++
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT sessionsec_row"); err != nil {
				return done, blocked, err
			}
		default:
			return done, blocked, err
		}
	}
	return done, blocked, nil
}

// audit writes one audit row; details is the JSON object the package builds (the same text on every
// server).
func (m *maintenance) audit(ctx context.Context, q dialect.Querier, action, details string) error {
	_, err := q.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s (%s, %s) VALUES ('%s', '%s')",
		m.m.Quote(m.f.t.Names.AuditLog), m.m.Quote("action"), m.m.Quote("details"), action, details))
	return err
}

func (m *maintenance) progress(final bool) {
	if m.cfg.progress == nil {
		return
	}
	m.cfg.progress(Progress{Task: m.res.Task, Step: "batch", Unit: UnitRows, Done: m.res.Rows, Elapsed: time.Since(m.from), Final: final})
}

func affected(r sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}
