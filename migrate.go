package sessionsec

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

func upToDate(st dialect.VersionState, latest uint) bool {
	return st.HasVersion && !st.Dirty && st.Version == latest
}

// readVersion reads the migrations table; a table this change cannot read is another tool's.
func (p *Provider) readVersion(ctx context.Context, q dialect.Querier, cfg config) (dialect.VersionState, error) {
	st, err := p.d.ReadVersion(ctx, q, cfg.migrationsTable)
	if err != nil {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		if pinger, ok := q.(interface{ PingContext(context.Context) error }); ok {
			if perr := pinger.PingContext(ctx); perr != nil {
				return st, fmt.Errorf("%w: %v (check that the *sql.DB is open, the server is up and the credentials are right)", ErrNoDatabase, p.serverError(perr))
			}
		}
		return st, &PreflightError{Problems: []Problem{{Err: ErrForeignMigrations, Object: "table " + cfg.migrationsTable,
			Message: "cannot be read as golang-migrate's version table: " + p.serverError(err).Error(),
			Fix:     "it belongs to another tool: give this change a table of its own with WithMigrationsTable (default " + DefaultMigrationsTable + ")"}}}
	}
	return st, nil
}

// locked pins a connection, prepares it, takes the migration lock and reads the version under it.
// The returned context is the one the locked work runs under (see session.lock).
func (p *Provider) locked(ctx context.Context, cfg config) (*session, context.Context, dialect.VersionState, error) {
	s, err := p.open(ctx, cfg, true)
	if err != nil {
		return nil, ctx, dialect.VersionState{}, err
	}
	work, err := s.lock(ctx)
	if err != nil {
		s.close()
		return nil, ctx, dialect.VersionState{}, err
	}
	ctx = work
	// Under the lock the state is stable: another replica may have finished while we waited, and
	// Preflight must not judge a half-way state that another replica is still producing.
	st, err := p.readVersion(ctx, s.conn, cfg)
	if err != nil {
		s.close()
		return nil, ctx, st, lockLost(ctx, err)
	}
	return s, ctx, st, nil
}

func (p *Provider) migrate(ctx context.Context, cfg config) (err error) {
	want := latest(cfg)
	st, err := p.d.ReadVersion(ctx, p.db, cfg.migrationsTable)
	upToDateLog := func() {
		cfg.logger.InfoContext(ctx, "sessionsec: nothing pending: the database is at the latest version", "version", want)
	}
	if err == nil && upToDate(st, want) && !cfg.reapply {
		// The common start-up case: the version and the table it is on read, no lock.
		if err := p.targetOnFast(ctx, cfg); err != nil {
			return err
		}
		upToDateLog()
		return nil
	}
	s, work, st, err := p.locked(ctx, cfg)
	if err != nil {
		return err
	}
	defer s.close()
	defer func() { err = lockLost(work, err) }()
	ctx = work
	f, err := p.inspect(ctx, s.conn, cfg)
	if err != nil {
		return err // a *TableError too: the call is for another table than the one the change is on
	}
	if upToDate(st, want) && !cfg.reapply {
		upToDateLog()
		return nil
	}
	if st.HasVersion && st.Version > want && cfg.allowAhead && f.ours() {
		cfg.logger.WarnContext(ctx, "sessionsec: database is ahead of this binary; carrying on as allowed",
			"database_version", st.Version, "binary_latest", want)
		return nil
	}
	pending := f.pending(st, cfg.reapply)
	if problems := p.preflight(ctx, s.conn, cfg, f, st, pending); len(problems) > 0 {
		return &PreflightError{Problems: problems}
	}
	// Recorded before the first step changes anything, so that every later call - and an interrupted
	// run's next one - knows which table the change is on.
	if err := p.writeTarget(ctx, s.conn, cfg, f.t); err != nil {
		return err
	}
	r, err := p.newRunner(ctx, cfg, s, f)
	if err != nil {
		return err
	}
	if st.Dirty {
		cfg.logger.WarnContext(ctx, "sessionsec: found an interrupted step; finishing it (every step converges from any state)",
			"version", st.Version)
	}
	start := time.Now()
	for i, step := range pending {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("sessionsec: stopped between steps, before step %d (the database is consistent; Migrate again to continue): %w", step.Version, err)
		}
		if err := r.up(ctx, step); err != nil {
			var se *StepError
			if i == 0 && st.Dirty && !cfg.reapply && errors.As(err, &se) && errors.Is(err, ErrStepFailed) {
				return &DirtyError{Version: step.Version, Name: se.Name, State: "re-running the interrupted step failed", Err: se.Err,
					Fix: fmt.Sprintf("Migrate with WithReapply() (the command: up -reapply) runs every step again and recreates what the step relies on; "+
						"or inspect the objects of step %d and `migrate force %d` when they are complete, then Migrate again", step.Version, step.Version)}
			}
			return err
		}
	}
	// Each step started with the replicas within the lag bound; so does the caller's next work: Migrate
	// returns once the replicas have replayed the last step too (WithMaxReplicaLag).
	if err := r.th.wait(ctx, Progress{Task: "migrate", Version: want, Step: "done", Unit: UnitSteps, Done: int64(len(pending)), Total: int64(len(pending))}); err != nil {
		return err
	}
	if r.adopted {
		// A step found objects already there and took them as its own: prove the result.
		rep, err := p.validate(ctx, s.conn, cfg, nil)
		if err != nil {
			return err
		}
		if !rep.OK() {
			return &ValidationError{Report: rep}
		}
	}
	cfg.logger.InfoContext(ctx, "sessionsec: migrations applied", "dialect", p.d.Name(), "layout", f.t.Layout.Name,
		"table", f.t.Names.Table, "steps", len(pending), "version", want, "duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// pending lists the steps Migrate runs from st: a dirty step again (it converges from wherever it
// stopped), then every later one; everything with reapply.
func (f *facts) pending(st dialect.VersionState, reapply bool) []schema.Step {
	all := f.t.Steps()
	if reapply || !st.HasVersion {
		return all
	}
	from := st.Version + 1
	if st.Dirty {
		from = st.Version
	}
	i := slices.IndexFunc(all, func(s schema.Step) bool { return s.Version >= from })
	if i < 0 {
		return nil
	}
	return all[i:]
}

func (p *Provider) rollback(ctx context.Context, cfg config) (_ *RollbackResult, err error) {
	s, work, st, err := p.locked(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer s.close()
	defer func() { err = lockLost(work, err) }()
	ctx = work
	res := &RollbackResult{From: st.Version, To: uint(cfg.target)}
	if !st.HasVersion && !st.Dirty {
		return res, nil
	}
	f, err := p.inspect(ctx, s.conn, cfg)
	if err != nil {
		return nil, err
	}
	if table := f.t.Names.Table; f.cat.Tables[table] == nil {
		// With nothing recorded and no trigger telling where the change is, it is at least not on a
		// table that does not exist: its down steps would drop the routines the real table relies on.
		on, _, err := p.tableOn(ctx, s.conn, cfg, f.cat)
		if err != nil {
			return nil, err
		}
		if on == "" {
			return nil, &TableError{Requested: table, Default: !explicitTable(cfg),
				Fix: "pass the session table the change was applied to: WithTable(\"<table>\") (the command: -table <table>)"}
		}
	}
	if f.layoutProblem != nil {
		return nil, &PreflightError{Problems: []Problem{*f.layoutProblem}}
	}
	top := latest(cfg)
	if st.HasVersion && st.Version > top {
		return nil, fmt.Errorf("%w: the database is at version %d, which this binary does not have (it knows %d); roll back with the binary that applied it",
			ErrDatabaseAhead, st.Version, top)
	}
	if st.HasVersion && int(st.Version) <= cfg.target && !st.Dirty {
		return res, nil
	}
	before, err := p.retired(ctx, s.conn, f)
	if err != nil {
		return nil, err
	}
	r, err := p.newRunner(ctx, cfg, s, f)
	if err != nil {
		return nil, err
	}
	from := st.Version
	if !st.HasVersion {
		from = 0
	}
	if st.Dirty {
		// golang-migrate records an interrupted down of step N as version N-1 dirty, and an interrupted up
		// of step N as N dirty: the two look alike. Running step N+1's down first covers the first case
		// (it resumes the cut-off down, which keeps the security data) and is harmless in the second: every
		// down converges towards the state before its step, so one whose step never ran finds nothing to do.
		if next, ok := r.step(from + 1); ok {
			cfg.logger.WarnContext(ctx, "sessionsec: found an interrupted step; finishing the rollback from it", "version", st.Version)
			if err := r.down(ctx, next); err != nil {
				return nil, err
			}
		}
	}
	for v := from; int(v) > cfg.target; v-- {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("sessionsec: rollback stopped before reverting step %d (Rollback again to continue): %w", v, err)
		}
		step, ok := r.step(v)
		if !ok {
			continue
		}
		if err := r.down(ctx, step); err != nil {
			return nil, err
		}
	}
	after, err := p.retired(ctx, s.conn, r.f)
	if err != nil {
		return nil, err
	}
	if cfg.target == 0 {
		if err := p.clearTarget(ctx, s.conn, cfg, r.f.cat); err != nil {
			return nil, err
		}
	}
	for _, t := range slices.Sorted(maps.Keys(after)) {
		n, had := before[t]
		switch {
		case after[t] > n:
			res.Kept = append(res.Kept, t)
		case !had && after[t] == 0:
			// An empty copy (SQLite appends to fixed tables it cannot create conditionally): nothing kept.
			if _, err := s.exec(ctx, p.d.DropTable(t)); err != nil {
				return nil, p.readErr(ctx, "dropping an empty retired table", err)
			}
		}
	}
	cfg.logger.InfoContext(ctx, "sessionsec: rollback complete", "dialect", p.d.Name(), "from", res.From, "to", res.To, "kept", res.Kept)
	return res, nil
}

// retired counts the rows of the tables that hold history a rollback kept: what a rollback added to
// them is what it kept. (The prefixes end before the trailing "_" of the timestamp, so that SQLite's
// fixed-name *_retired tables are counted too.)
func (p *Provider) retired(ctx context.Context, q dialect.Querier, f *facts) (map[string]int64, error) {
	n := f.t.Names
	out := map[string]int64{}
	infix := strings.TrimSuffix(schema.Change.RetiredInfix, "_")
	for _, prefix := range []string{strings.TrimSuffix(n.SecurityCopy, "_"), n.AuditLog + infix, n.Archive + infix} {
		tables, err := p.d.Retired(ctx, q, f.srv, prefix)
		if err != nil {
			return nil, p.readErr(ctx, "counting retired history", err)
		}
		maps.Copy(out, tables)
	}
	return out, nil
}
