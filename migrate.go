package sessionsec

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/golang-migrate/migrate/v4"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/migrations"
	"github.com/agui-go/sessionsec/schema"
)

// Migrate applies every pending session-security migration to db.
//
// It is meant to run at server start-up in every replica at once: replicas with nothing pending return
// after reading the version table (no lock, no preflight); the others wait for the migration lock
// (honouring ctx), and the first one runs Preflight and applies the steps while the rest find nothing
// left to do. A step interrupted by a crash is finished by the next call when that is provably safe (the step
// is re-run: every up file is idempotent or a single atomic statement); otherwise a *DirtyError names
// the step and the command that fixes it. A running step is not cancelled by ctx - a half-applied DDL
// is worse than a late start-up - but ctx is checked between steps and while waiting for locks.
//
// The dialect comes from db's driver (go-sql-driver/mysql, lib/pq, pgx/v5 stdlib, modernc sqlite) unless
// WithDialect says otherwise. A MySQL DSN does not need multiStatements=true. Migrate never closes db and
// leaves no session state in its pool: it works on one pinned connection that it discards at the end.
func Migrate(ctx context.Context, db *sql.DB, opts ...Option) error {
	t, err := resolveNoPing(db, opts)
	if err != nil {
		return err
	}
	p, err := loadPlan(t.d.Name())
	if err != nil {
		return err
	}
	st, err := t.d.ReadVersion(ctx, db, t.cfg.table)
	if err == nil && upToDate(p, st) {
		return nil // the common start-up case: one version read, no lock
	}
	if err := t.ping(ctx); err != nil {
		return err
	}

	s, err := t.open(ctx)
	if err != nil {
		return err
	}
	defer s.close()

	if err := t.d.PrepareSession(ctx, s.conn, t.cfg.lockWait); err != nil {
		return fmt.Errorf("%w: preparing the migration session: %w", ErrNoDatabase, err)
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	// Under the lock the state is stable: another replica may have finished while we waited, and
	// Preflight must not judge a half-way state that another replica is still producing.
	if st, err = t.readVersion(ctx, s.conn); err != nil {
		return err
	}
	if upToDate(p, st) || t.aheadAllowed(ctx, p, st) {
		return nil
	}
	if err := t.checkPreflight(ctx, s.conn, p, st); err != nil {
		return err
	}
	r, err := t.newRunner(ctx, s, p)
	if err != nil {
		return err
	}
	if st.Dirty {
		if err := r.recover(ctx, st.Version); err != nil {
			return err
		}
		st.HasVersion = true
	}
	start := time.Now()
	pending := p.pending(st.Version, st.HasVersion)
	for _, step := range pending {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sessionsec: stopped between steps, before %s (the database is consistent; Migrate again to continue): %w", step.Up, err)
		}
		if err := r.up(ctx, step); err != nil {
			return err
		}
	}
	if r.acceptedExisting {
		// A step was taken as applied because its objects already existed: prove it.
		if rep, err := t.validate(ctx, s.conn, p); err != nil {
			return err
		} else if !rep.OK() {
			return &ValidationError{Report: rep}
		}
	}
	t.cfg.logger.InfoContext(ctx, "sessionsec: migrations applied", "dialect", t.d.Name(),
		"steps", len(pending), "version", p.latest(), "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// Rollback reverts every applied session-security migration: the emergency rollback of the runbook.
// Stop the application first. The sessions table and all its rows stay; history is kept, not dropped:
// a non-empty session_audit_log or sessions_archive is renamed to <table>_retired_<UTC timestamp>, and
// the security columns' data is copied to sessions_security_retired_<UTC timestamp> before the columns
// go. A dirty database is first brought forward (the interrupted step is finished) and then rolled back.
func Rollback(ctx context.Context, db *sql.DB, opts ...Option) error {
	t, err := resolve(ctx, db, opts)
	if err != nil {
		return err
	}
	p, err := loadPlan(t.d.Name())
	if err != nil {
		return err
	}
	s, err := t.open(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	if err := t.d.PrepareSession(ctx, s.conn, t.cfg.lockWait); err != nil {
		return fmt.Errorf("%w: preparing the migration session: %w", ErrNoDatabase, err)
	}
	if err := s.lock(ctx); err != nil {
		return err
	}
	st, err := t.readVersion(ctx, s.conn)
	if err != nil {
		return err
	}
	if !st.HasVersion {
		return nil
	}
	if p.index(st.Version) < 0 {
		return fmt.Errorf("%w: the database is at version %d, which this binary does not have; roll back with the binary (or migrations folder) that applied it",
			ErrDatabaseAhead, st.Version)
	}
	r, err := t.newRunner(ctx, s, p)
	if err != nil {
		return err
	}
	if st.Dirty {
		if err := r.recover(ctx, st.Version); err != nil {
			return err
		}
	}
	for i := p.index(st.Version); i >= 0; i-- {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sessionsec: rollback stopped before reverting %s (Rollback again to continue): %w", p.steps[i].Down, err)
		}
		if err := r.down(ctx, p.steps[i]); err != nil {
			return err
		}
	}
	t.cfg.logger.InfoContext(ctx, "sessionsec: rollback complete", "dialect", t.d.Name())
	return nil
}

func upToDate(p *plan, st dialect.VersionState) bool {
	return st.HasVersion && !st.Dirty && st.Version == p.latest()
}

func (t *target) readVersion(ctx context.Context, q dialect.Querier) (dialect.VersionState, error) {
	st, err := t.d.ReadVersion(ctx, q, t.cfg.table)
	if err != nil {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		return st, fmt.Errorf("%w: reading table %s: %v (if another tool owns this table, pass WithMigrationsTable)",
			ErrForeignMigrations, t.cfg.table, err)
	}
	return st, nil
}

// aheadAllowed reports a newer database that WithAllowDatabaseAhead tolerates. Whether the unknown
// version is really ours (and not another migration set's) is Preflight's call; this only short-cuts
// the case the operator opted into.
func (t *target) aheadAllowed(ctx context.Context, p *plan, st dialect.VersionState) bool {
	if !t.cfg.allowAhead || !st.HasVersion || st.Version <= p.latest() || p.index(st.Version) >= 0 {
		return false
	}
	t.cfg.logger.WarnContext(ctx, "sessionsec: database is ahead of this binary; carrying on as allowed",
		"database_version", st.Version, "binary_latest", p.latest())
	return true
}

// runner applies single steps through golang-migrate on the pinned session.
type runner struct {
	t *target
	s *session
	p *plan
	m *migrate.Migrate
	// acceptedExisting is set when a re-run step failed with "already exists" and was taken as applied;
	// the run then ends with a validation.
	acceptedExisting bool
	recovering       bool
}

func (t *target) newRunner(ctx context.Context, s *session, p *plan) (*runner, error) {
	drv, err := t.d.Driver(ctx, t.db, s.conn, t.cfg.table)
	if err != nil {
		return nil, fmt.Errorf("%w: opening the golang-migrate driver: %w", ErrNoDatabase, serverError(err))
	}
	src, err := migrations.Source(t.d.Name())
	if err != nil {
		return nil, err
	}
	// Deliberately never m.Close(): it would close the driver's connection back into the pool (or, for
	// drivers built on *sql.DB, the caller's pool itself). session.close discards the connection.
	m, err := migrate.NewWithInstance("iofs", src, t.d.Name(), drv)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNoDatabase, serverError(err))
	}
	return &runner{t: t, s: s, p: p, m: m}, nil
}

// recover finishes the step that a crash left dirty. Every up file is idempotent or a single atomic
// statement, so re-running it is safe; for an atomic statement, an "already exists" error proves it
// had completed before the crash. Anything else is reported with the manual fix.
func (r *runner) recover(ctx context.Context, v uint) error {
	log := r.t.cfg.logger
	i := r.p.index(v)
	if i < 0 {
		return &DirtyError{Version: v, Name: "unknown", State: "the dirty version is not part of this binary's migration set",
			Fix: "run Migrate from the binary that applied it, or inspect the database and `migrate force <version>`"}
	}
	step := r.p.steps[i]
	if err := r.repair(ctx, step.Up); err != nil {
		return &DirtyError{Version: v, Name: step.Up, State: "repairing leftovers of the interrupted step failed", Err: err,
			Fix: r.fix(step)}
	}
	log.WarnContext(ctx, "sessionsec: found an interrupted step; re-running it (the step is idempotent or atomic)",
		"version", v, "step", step.Up)
	// golang-migrate refuses to run on a dirty version: move back to the state before the step.
	if err := r.m.Force(r.p.previous(v)); err != nil {
		return &DirtyError{Version: v, Name: step.Up, State: "clearing the dirty flag failed", Err: serverError(err), Fix: r.fix(step)}
	}
	r.recovering = true
	if err := r.up(ctx, step); err != nil {
		var se *StepError
		if errors.As(err, &se) {
			return &DirtyError{Version: v, Name: step.Up, State: "re-running the interrupted step failed", Err: se.Err, Fix: r.fix(step)}
		}
		return err
	}
	log.InfoContext(ctx, "sessionsec: interrupted step recovered", "version", v, "step", step.Up)
	return nil
}

// repair undoes leftovers of an interrupted statement that a re-run would not fix, and logs what it did.
func (r *runner) repair(ctx context.Context, file string) error {
	repaired, err := r.t.d.Repair(ctx, r.s.conn, schema.Expected)
	if err != nil {
		return fmt.Errorf("%w: repairing leftovers before %s: %w", ErrStepFailed, file, err)
	}
	for _, what := range repaired {
		r.t.cfg.logger.WarnContext(ctx, "sessionsec: repaired a leftover of an interrupted step", "step", file, "action", what)
	}
	return nil
}

func (r *runner) fix(step Step) string {
	return fmt.Sprintf("inspect the objects that migrations/%s/%s creates; when the database matches the state after it, run `migrate -path migrations/%s -database <url> force %d`, when it matches the state before it, `force %d`; then call Migrate again",
		r.t.d.Name(), step.Up, r.t.d.Name(), step.Version, r.p.previous(step.Version))
}

// up runs one step forward, retrying lock-wait timeouts with backoff. golang-migrate marks the version
// dirty before running a file; a lock-wait timeout rolls the whole statement (or file transaction) back,
// so forcing the previous version and retrying is exact.
func (r *runner) up(ctx context.Context, step Step) error {
	return r.run(ctx, step, "up", 1, r.p.previous(step.Version))
}

func (r *runner) down(ctx context.Context, step Step) error {
	return r.run(ctx, step, "down", -1, int(step.Version))
}

func (r *runner) run(ctx context.Context, step Step, dir string, n int, retryFrom int) error {
	log := r.t.cfg.logger
	file := step.Up
	if dir == "down" {
		file = step.Down
	}
	if h := r.t.cfg.stepHook; h != nil {
		h(step.Version, "before-"+dir)
	}
	backoff := r.t.cfg.backoff
	for attempt := 0; ; attempt++ {
		start := time.Now()
		err := r.m.Steps(n)
		if err == nil {
			log.InfoContext(ctx, "sessionsec: step done", "direction", dir, "version", step.Version, "step", file,
				"duration", time.Since(start).Round(time.Millisecond))
			break
		}
		cause := serverError(err)
		if dir == "up" && r.recovering && r.t.d.IsAlreadyApplied(cause) {
			if ferr := r.m.Force(int(step.Version)); ferr != nil {
				return fmt.Errorf("%w: marking %s applied: %w", ErrStepFailed, file, serverError(ferr))
			}
			r.acceptedExisting = true
			log.WarnContext(ctx, "sessionsec: step had completed before the interruption", "step", file, "evidence", cause.Error())
			break
		}
		if r.t.d.IsLockTimeout(cause) {
			if attempt >= r.t.cfg.retries {
				return &StepError{Version: step.Version, Name: file, Direction: dir, kind: ErrLockWait,
					Err: fmt.Errorf("still blocked after %d attempts by sessions holding locks on the table (long transactions?): %w", attempt+1, cause)}
			}
			if ferr := r.m.Force(retryFrom); ferr != nil {
				return fmt.Errorf("%w: resetting after a lock timeout in %s: %w", ErrStepFailed, file, serverError(ferr))
			}
			// A CREATE INDEX CONCURRENTLY that timed out leaves an INVALID index that its IF NOT EXISTS
			// would keep: clear such leftovers before the retry.
			if err := r.repair(ctx, file); err != nil {
				return err
			}
			log.WarnContext(ctx, "sessionsec: step waited too long for a table lock; backing off", "step", file,
				"attempt", attempt+1, "backoff", backoff)
			if err := sleep(ctx, backoff); err != nil {
				return fmt.Errorf("sessionsec: stopped while backing off before retrying %s (Migrate again to continue): %w", file, err)
			}
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		return &StepError{Version: step.Version, Name: file, Direction: dir, kind: ErrStepFailed, Err: cause}
	}
	if h := r.t.cfg.stepHook; h != nil {
		h(step.Version, "after-"+dir)
	}
	return nil
}
