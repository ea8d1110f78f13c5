package sessionsec

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/internal/sqlstmt"
	"github.com/agui-go/sessionsec/schema"
)

// Default ages of what the retention tasks remove (the runbook's 90 and 30 days).
const (
	DefaultArchiveAge = 90 * 24 * time.Hour
	DefaultAuditAge   = 30 * 24 * time.Hour
)

// Cleanup is [Provider.Cleanup] on db: opts may mix [New]'s options and the method's.
func Cleanup(ctx context.Context, db *sql.DB, opts ...Option) (*MaintenanceResult, error) {
	p, call, err := on(db, opCleanup, opts)
	if err != nil {
		return nil, err
	}
	return p.Cleanup(ctx, call...)
}

// Cleanup deletes expired, inactive (where the layout has the flag) and risky sessions, in batches of
// WithBatchSize keys, each batch one transaction with its SECURITY_CLEANUP audit row. A row that a child
// row holds on to (FOREIGN KEY ... RESTRICT or NO ACTION, deferred ones included on PostgreSQL) stays
// and is counted as Blocked; each row is tried once per run. Every DELETE re-checks the rule, so a
// session the application extends meanwhile is kept, and Rows counts only what this call deleted. ctx
// stops the run between rows and batches. The rule is the CleanupExpiredSecureSessions procedure's,
// which the library does not call (the stock CLI's users can).
func (p *Provider) Cleanup(ctx context.Context, opts ...Option) (*MaintenanceResult, error) {
	return p.call(ctx, opCleanup, opts)
}

// UpdateRiskScores is [Provider.UpdateRiskScores] on db: opts may mix [New]'s options and the method's.
func UpdateRiskScores(ctx context.Context, db *sql.DB, opts ...Option) (*MaintenanceResult, error) {
	p, call, err := on(db, opRisk, opts)
	if err != nil {
		return nil, err
	}
	return p.UpdateRiskScores(ctx, call...)
}

// UpdateRiskScores raises each session's risk_score to the documented rule's score (schema.Change.Risk)
// where that is higher. It never lowers a score: one the application set higher stays. Batches and
// audit rows (RISK_SCORE_UPDATE) as Cleanup; the rule is the UpdateSessionRiskScores procedure's.
func (p *Provider) UpdateRiskScores(ctx context.Context, opts ...Option) (*MaintenanceResult, error) {
	return p.call(ctx, opRisk, opts)
}

// Archive is [Provider.Archive] on db: opts may mix [New]'s options and the method's.
func Archive(ctx context.Context, db *sql.DB, opts ...Option) (*MaintenanceResult, error) {
	p, call, err := on(db, opArchive, opts)
	if err != nil {
		return nil, err
	}
	return p.Archive(ctx, call...)
}

// Archive moves sessions that expired more than 90 days ago (WithOlderThan) to the archive table
// (<table>_archive), in batches: each batch copies its rows and deletes them from the session table in
// one transaction with its SESSION_ARCHIVE audit row, so a row is always in exactly one of the two. A
// row a child row holds on to, or whose key the archive already has, stays and is counted as Blocked
// (the archive keeps one row per key). The archive follows the session table: a column the table gained
// is added to it, a NOT NULL column the table lost is made nullable, a generated archive column is not
// written; an archive column whose type would round or cut the table's values (a widened DECIMAL or
// DATETIME) makes Archive refuse with an *ArchiveError (ErrArchiveMismatch) before it moves a row.
func (p *Provider) Archive(ctx context.Context, opts ...Option) (*MaintenanceResult, error) {
	return p.call(ctx, opArchive, opts)
}

// PruneAudit is [Provider.PruneAudit] on db: opts may mix [New]'s options and the method's.
func PruneAudit(ctx context.Context, db *sql.DB, opts ...Option) (*MaintenanceResult, error) {
	p, call, err := on(db, opPrune, opts)
	if err != nil {
		return nil, err
	}
	return p.PruneAudit(ctx, call...)
}

// PruneAudit deletes audit-log rows older than 30 days (WithOlderThan), in batches, each with an
// AUDIT_PRUNE audit row of its own: the log keeps a record of its pruning.
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
	m    dialect.Maintainer // set for the maintenance tasks only
	res  MaintenanceResult
	from time.Time
	th   *throttle // pauses between batches while a replica lags (WithMaxReplicaLag)
}

// maintain runs a task on a session of its own, under the migration lock: a task never runs while a
// migration or rollback changes the tables, and two replicas' runs of it take turns.
func (p *Provider) maintain(ctx context.Context, o op, cfg config) (_ *MaintenanceResult, err error) {
	task := map[op]string{opCleanup: TaskCleanup, opRisk: TaskRisk, opArchive: TaskArchive, opPrune: TaskPrune}[o]
	mt, ok := p.d.(dialect.Maintainer)
	if !ok {
		return nil, fmt.Errorf("%w: the %s dialect has no maintenance tasks (it is no dialect.Maintainer)", ErrNotSupported, p.d.Name())
	}
	m, work, err := p.readyLocked(ctx, cfg)
	if err != nil {
		return nil, err
	}
	m.m = mt
	defer m.s.close()
	defer func() { err = lockLost(work, err) }()
	ctx = work
	m.res.Task = task
	if m.th, err = p.newThrottle(ctx, cfg, m.s, m.f.srv); err != nil {
		return nil, err
	}
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
		var refused *ArchiveError
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) || errors.As(err, &refused) {
			return &m.res, err
		}
		return &m.res, &MaintenanceError{Task: task, Done: m.res, Err: p.serverError(err), Transient: p.d.IsLockTimeout(err), refused: p.refusal(err)}
	}
	cfg.logger.InfoContext(ctx, "sessionsec: maintenance done", "task", task, "rows", m.res.Rows, "blocked", m.res.Blocked,
		"batches", m.res.Batches, "duration", m.res.Duration.Round(time.Millisecond))
	return &m.res, nil
}

// ready opens a prepared session and checks that the change is applied.
// readyLocked is ready plus the migration lock, which the maintenance tasks and Seal share: the returned
// context is the one the locked work runs under (cancelled when a lease is lost).
func (p *Provider) readyLocked(ctx context.Context, cfg config) (*maintenance, context.Context, error) {
	m, err := p.ready(ctx, cfg)
	if err != nil {
		return nil, ctx, err
	}
	work, err := m.s.lock(ctx)
	if err != nil {
		m.s.close()
		return nil, ctx, err
	}
	return m, work, nil
}

func (p *Provider) ready(ctx context.Context, cfg config) (*maintenance, error) {
	s, err := p.open(ctx, cfg, true)
	if err != nil {
		return nil, err
	}
	m := &maintenance{p: p, cfg: cfg, s: s, from: time.Now()}
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

// routine runs cleanup or the risk update in batches of WithBatchSize keys, with the rules the stored
// procedures run (rendered by the dialect from the same code). The library runs the batches itself, on
// every server, rather than calling the procedure: a CALL is one statement that ctx cannot stop between
// batches, and its batch size is fixed.
func (m *maintenance) routine(ctx context.Context, o op, now time.Time) error {
	n := m.f.t.Names
	action := schema.AuditCleanup
	if o == opRisk {
		action = schema.AuditRisk
	}
	rules := m.m.Rules(m.f.t)
	sb := m.p.stmt()
	key := m.f.t.Col(schema.RoleKey)
	rr := schema.Change.Risk
	if o == opCleanup {
		pred := sqlstmt.Or(sqlstmt.Raw(rules.Expired(now)), sqlstmt.Compare(rr.Column, sqlstmt.Gt, rr.CleanupThreshold))
		return m.batches(ctx, n.Table, key, pred, action, func(ctx context.Context, tx *sql.Tx, keys []any) (int64, int64, error) {
			// The rule is in the DELETE's WHERE, not only in the batch's SELECT: a session the
			// application extended since is never deleted, and only what this statement deleted counts.
			return m.perRow(ctx, tx, keys, func(keys []any) (int64, error) {
				query, args := sb.DeleteKeys(n.Table, key, keys, pred)
				return affected(tx.ExecContext(ctx, query, args...))
			})
		}, func(done, blocked int64) string { return fmt.Sprintf(`{"blocked": %d, "deleted": %d}`, blocked, done) })
	}
	score := rules.RiskScore(now)
	pred := sqlstmt.CompareExpr(rr.Column, sqlstmt.Lt, score)
	return m.batches(ctx, n.Table, key, pred, action, func(ctx context.Context, tx *sql.Tx, keys []any) (int64, int64, error) {
		query, args := sb.SetKeys(n.Table, rr.Column, score, key, keys, pred)
		n, err := affected(tx.ExecContext(ctx, query, args...))
		return n, 0, err
	}, func(done, _ int64) string { return fmt.Sprintf(`{"updated": %d}`, done) })
}

func (m *maintenance) archive(ctx context.Context, now time.Time) error {
	age := m.cfg.olderThan
	if age == 0 {
		age = DefaultArchiveAge
	}
	m.res.Cutoff = now.Add(-age)
	t, n, sb := m.f.t, m.f.t.Names, m.p.stmt()
	exp := t.Col(schema.RoleExpires)
	pred := sqlstmt.Raw(m.p.d.Before(exp, t.Kind(exp), m.res.Cutoff))
	plan, err := planArchive(ctx, m.m, m.s.conn, m.f)
	if err != nil {
		return err
	}
	if len(plan.problems) > 0 {
		return &ArchiveError{Problems: plan.problems}
	}
	// The archive follows the table: a column the application added since the archive was created is
	// added to it (same type, nullable), and an archive column the application renamed or dropped that
	// is NOT NULL without a default is made nullable, so that no value is lost and no row is refused.
	for _, stmt := range plan.alter {
		if _, err := m.s.conn.ExecContext(ctx, stmt.sql); err != nil {
			return fmt.Errorf("%s before archiving: %w", stmt.what, err)
		}
		m.cfg.logger.InfoContext(ctx, "sessionsec: archive: "+stmt.what, "table", n.Archive)
	}
	key := t.Col(schema.RoleKey)
	return m.batches(ctx, n.Table, key, pred, schema.AuditArchive, func(ctx context.Context, tx *sql.Tx, keys []any) (int64, int64, error) {
		// A key the archive already holds (a session archived before, whose key the application used
		// again) stays in the session table, counted as blocked: the archive keeps one row per key.
		keys, held, err := m.notArchived(ctx, tx, keys)
		if err != nil || len(keys) == 0 {
			return 0, held, err
		}
		done, blocked, err := m.perRow(ctx, tx, keys, func(keys []any) (int64, error) {
			query, args := sb.CopyKeys(n.Archive, n.Table, plan.cols, key, keys, pred)
			copied, err := affected(tx.ExecContext(ctx, query, args...))
			if err != nil {
				return 0, err
			}
			query, args = sb.DeleteKeys(n.Table, key, keys, pred)
			deleted, err := affected(tx.ExecContext(ctx, query, args...))
			if err == nil && deleted != copied {
				// The rows are locked since the batch selected them, so this cannot happen unless a
				// trigger or rule on the tables interferes; the transaction must not commit.
				err = fmt.Errorf("%w: an archive batch copied %d row(s) but deleted %d and was rolled back: a trigger or rule on %s or %s changes the rows; "+
					"remove it or archive those rows by hand", errArchiveCount, copied, deleted, n.Table, n.Archive)
			}
			return deleted, err
		})
		return done, blocked + held, err
	}, func(done, blocked int64) string { return fmt.Sprintf(`{"blocked": %d, "archived": %d}`, blocked, done) })
}

var errArchiveCount = errors.New("archive count mismatch")

// notArchived drops from keys those the archive already has, and counts them.
func (m *maintenance) notArchived(ctx context.Context, tx *sql.Tx, keys []any) ([]any, int64, error) {
	query, args := m.p.stmt().HeldKeys(m.f.t.Names.Archive, m.f.t.Col(schema.RoleKey), keys)
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	have := map[string]bool{}
	for rows.Next() {
		var k []byte
		if err := rows.Scan(&k); err != nil {
			return nil, 0, err
		}
		have[string(k)] = true
	}
	if err := rows.Err(); err != nil {
		return nil, 0, err
	}
	if len(have) == 0 {
		return keys, 0, nil
	}
	var left []any
	for _, k := range keys {
		if !have[keyText(k)] {
			left = append(left, k)
		}
	}
	return left, int64(len(keys) - len(left)), nil
}

// keyText is a key as the driver returns it scanned into []byte (the decimal text of an integer).
func keyText(k any) string {
	switch v := k.(type) {
	case int64:
		return fmt.Sprint(v)
	case []byte:
		return string(v)
	default:
		return fmt.Sprint(v)
	}
}

// archivePlan is what Archive copies and what it changes in the archive first.
type archivePlan struct {
	cols     []string // the columns copied
	alter    []archiveStmt
	problems []Problem // what Archive cannot fix itself; Validate reports the same
}

type archiveStmt struct{ sql, what string }

// planArchive compares the archive with the session table. Columns the archive computes itself
// (generated) are not written; a generated column of the session table is archived as its value.
// A column the archive has in a type that would change its values (a DECIMAL of smaller scale, a
// DATETIME with fewer fractional digits, a shorter VARCHAR, another type) is a problem: Archive
// refuses to round. One that is wider than the table's (the application narrowed its column) is fine.
func planArchive(ctx context.Context, d dialect.Maintainer, q dialect.Querier, f *facts) (*archivePlan, error) {
	n := f.t.Names
	src, arch := f.cat.Tables[n.Table], f.cat.Tables[n.Archive]
	genArch, err := d.GeneratedColumns(ctx, q, f.srv, n.Archive)
	if err != nil {
		return nil, err
	}
	p := &archivePlan{}
	for _, c := range src.Columns {
		a := arch.Column(c.Name)
		switch {
		case a == nil:
			stmt, err := d.AddColumnLike(ctx, q, f.srv, n.Table, n.Archive, c.Name)
			if err != nil {
				return nil, err
			}
			p.alter = append(p.alter, archiveStmt{stmt, "added column " + c.Name + " that the session table has"})
		case genArch[c.Name]:
			continue
		case !d.Holds(c, a):
			p.problems = append(p.problems, Problem{Err: ErrArchiveMismatch, Object: "column " + n.Archive + "." + c.Name,
				Message: fmt.Sprintf("is %s while %s.%s is %s: archiving would round or cut its values", a.Type, n.Table, c.Name, c.Type),
				Fix:     fmt.Sprintf("change %s.%s to %s (ALTER TABLE), then run Archive", n.Archive, c.Name, c.Type)})
			continue
		}
		p.cols = append(p.cols, c.Name)
	}
	// The batches look up their keys in the archive: without an index on the key (PostgreSQL's and
	// SQLite's archives are made without one) every batch would read the whole archive.
	key := f.t.Col(schema.RoleKey)
	indexed := false
	for _, ix := range f.cat.TableIndexes(n.Archive) {
		indexed = indexed || len(ix.Columns) > 0 && ix.Columns[0] == key
	}
	if !indexed && arch.Column(key) != nil {
		p.alter = append(p.alter, archiveStmt{d.IndexColumn(n.Archive, key), "indexed column " + key})
	}
	for _, a := range arch.Columns {
		if src.Column(a.Name) != nil || a.Nullable || a.Default != nil || genArch[a.Name] {
			continue
		}
		stmt, err := d.DropNotNull(ctx, q, f.srv, n.Archive, a.Name)
		if err != nil {
			p.problems = append(p.problems, Problem{Err: ErrArchiveMismatch, Object: "column " + n.Archive + "." + a.Name,
				Message: fmt.Sprintf("is NOT NULL without a default and %s has no such column: no row can be archived", n.Table),
				Fix:     err.Error()})
			continue
		}
		p.alter = append(p.alter, archiveStmt{stmt, "made column " + a.Name + " nullable (the session table no longer has it)"})
	}
	return p, nil
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
	pred := sqlstmt.Raw(m.p.d.Before("created_at", fam, m.res.Cutoff))
	return m.batches(ctx, n.AuditLog, "id", pred, schema.AuditPrune, func(ctx context.Context, tx *sql.Tx, keys []any) (int64, int64, error) {
		query, args := m.p.stmt().DeleteKeys(n.AuditLog, "id", keys, sqlstmt.Cond{})
		n, err := affected(tx.ExecContext(ctx, query, args...))
		return n, 0, err
	}, func(done, _ int64) string { return fmt.Sprintf(`{"deleted": %d}`, done) })
}

// batchFunc does one batch's work on the locked keys and returns the rows done and left in place.
type batchFunc func(ctx context.Context, tx *sql.Tx, keys []any) (done, blocked int64, err error)

// batches walks table in key order, a batch of cfg.batch keys matching pred at a time: each batch
// selects and locks its rows, does its work and writes its audit row in one transaction, retried
// when it times out waiting for a lock. A run that finds nothing writes one audit row of zeros, so the
// log shows every run.
func (m *maintenance) batches(ctx context.Context, table, key string, pred sqlstmt.Cond, action string, work batchFunc, details func(done, blocked int64) string) error {
	var last any
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := m.throttle(ctx); err != nil {
			return err
		}
		var keys []any
		var done, blocked int64
		start := time.Now()
		err := m.retry(ctx, func() error {
			tx, err := m.s.conn.BeginTx(ctx, &sql.TxOptions{Isolation: m.p.d.Isolation()})
			if err != nil {
				return err
			}
			defer func() { _ = tx.Rollback() }()
			if bs, ok := m.p.d.(dialect.BatchStarter); ok {
				if _, err := tx.ExecContext(ctx, bs.BatchStart()); err != nil {
					return err
				}
			}
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
// Each attempt first checks that this call still holds the lease (fencing), where the lease is the lock.
func (m *maintenance) retry(ctx context.Context, batch func() error) error {
	wait := m.cfg.backoff
	for attempt := 0; ; attempt++ {
		if err := m.s.verify(ctx); err != nil {
			return err
		}
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
func (m *maintenance) next(ctx context.Context, tx *sql.Tx, table, key string, pred sqlstmt.Cond, last any) ([]any, error) {
	query, args := m.p.stmt().NextKeys(table, key, last, pred, m.cfg.batch)
	rows, err := tx.QueryContext(ctx, query, args...)
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

// perRow runs a batch's statements over all its keys at once; when one row conflicts (a child row
// holds on to it, or the archive has its key), it rolls the batch back to its savepoint and goes row
// by row, each row in a savepoint of its own, leaving the conflicting ones in place and counting them
// as blocked. apply's statements re-check the task's rule, so a row changed since the batch selected it
// is left alone, and apply returns only the rows its statements changed.
func (m *maintenance) perRow(ctx context.Context, tx *sql.Tx, keys []any, apply func(keys []any) (int64, error)) (done, blocked int64, err error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT sessionsec_batch"); err != nil {
		return 0, 0, err
	}
	n, err := apply(keys)
	if err == nil {
		return n, 0, nil
	}
	if !m.p.d.IsRowConflict(err) {
		return 0, 0, err
	}
	if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT sessionsec_batch"); err != nil {
		return 0, 0, err
	}
	for _, k := range keys {
		// Each key once, in order: a blocked row is counted and passed, never tried again; ctx stops
		// the walk between rows (the transaction then rolls back whole).
		if err := ctx.Err(); err != nil {
			return done, blocked, err
		}
		if _, err := tx.ExecContext(ctx, "SAVEPOINT sessionsec_row"); err != nil {
			return done, blocked, err
		}
		n, err := apply([]any{k})
		switch {
		case err == nil:
			done += n
			if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT sessionsec_row"); err != nil {
				return done, blocked, err
			}
		case m.p.d.IsRowConflict(err):
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
	query, args := m.p.stmt().AuditRow(m.f.t.Names.AuditLog, action, details)
	_, err := q.ExecContext(ctx, query, args...)
	return err
}

// throttle waits while a replica lags more than the bound.
func (m *maintenance) throttle(ctx context.Context) error {
	return m.th.wait(ctx, Progress{Task: m.res.Task, Step: "batch", Unit: UnitRows, Done: m.res.Rows, Elapsed: time.Since(m.from)})
}

func (m *maintenance) progress(final bool) {
	if m.cfg.progress == nil {
		return
	}
	m.cfg.progress(Progress{Task: m.res.Task, Step: "batch", Unit: UnitRows, Done: m.res.Rows, Elapsed: time.Since(m.from), Final: final})
}

// stmt is the builder of the SQL the core writes itself, in the dialect's words.
func (p *Provider) stmt() sqlstmt.Builder { return sqlstmt.For(p.d) }

func affected(r sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}
