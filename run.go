package sessionsec

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/golang-migrate/migrate/v4/database"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// runner applies single steps on the pinned, locked session. It drives golang-migrate's database
// driver directly - SetVersion around Run, as golang-migrate itself does - so that it can decide, step
// by step, whether the file runs, whether statements that complete a partial state run instead, or
// whether the step's objects are already there and are adopted.
type runner struct {
	p   *Provider
	cfg config
	s   *session
	f   *facts
	log *slog.Logger
	// adopted is set when a step found (some of) its objects already there: the run then ends with a
	// validation that proves the result.
	adopted bool
	// th pauses the steps and the backfill's batches while a replica lags (WithMaxReplicaLag).
	th *throttle
}

func (p *Provider) newRunner(ctx context.Context, cfg config, s *session, f *facts) (*runner, error) {
	th, err := p.newThrottle(ctx, cfg, s, f.srv)
	if err != nil {
		return nil, err
	}
	// Not golang-migrate's driver: it runs every statement with context.Background(), so ctx would not
	// bound a step; its PostgreSQL driver takes a blocking session advisory lock when it opens (through a
	// transaction pooler that lock lands on a server connection the unlock never reaches); its SQLite
	// driver runs on the caller's pool, not the pinned connection. The version rows written are
	// golang-migrate's own.
	if err := p.d.EnsureVersionTable(ctx, s.conn, cfg.migrationsTable); err != nil {
		return nil, p.readErr(ctx, "creating golang-migrate's version table", err)
	}
	return &runner{p: p, cfg: cfg, s: s, f: f, log: cfg.logger, th: th}, nil
}

// action is what one step will do on this database, decided from the catalog.
type action struct {
	skip  bool     // the step's objects are all there in the declared form: record the version only
	stmts []string // run these first (they complete a partial state, replace an older definition, clear a leftover)
	file  bool     // then run the step's own file
	// backfill, when set, is the backfill's batches, which the runner runs itself (with progress)
	// instead of the file.
	backfill *dialect.Backfill
	why      string // for the log and the plan
}

// step returns the target's step with version v.
func (r *runner) step(v uint) (schema.Step, bool) {
	steps := r.f.t.Steps()
	i := slices.IndexFunc(steps, func(s schema.Step) bool { return s.Version == v })
	if i < 0 {
		return schema.Step{}, false
	}
	return steps[i], true
}

// planUp decides how step brings the database to the step's declared state.
func planUp(d dialect.Dialect, f *facts, step schema.Step) action {
	t, cat := f.t, f.cat
	n := t.Names
	leftovers := leftovers(d, t, f.srv, step, true, cat)
	file := action{stmts: leftovers, file: true}
	switch step.Kind {
	case schema.StepAddColumns:
		present, missing := securityPresent(cat, n.Table)
		checks := true
		for _, c := range d.Objects(t, step, f.srv).Checks {
			checks = checks && cat.Check(c.Name) != nil
		}
		switch {
		case len(missing) == 0 && checks:
			return action{skip: true, why: "the security columns are already there: adopted"}
		case len(present) > 0:
			if stmts := addColumns(d, t, f.srv, missing); stmts != nil {
				return action{stmts: stmts, why: fmt.Sprintf("%s already there: adding only %s", strings.Join(present, ", "), columnNames(missing))}
			}
		}
	case schema.StepBackfill:
		if bf := backfillOf(d, t, f.srv); bf != nil {
			return action{stmts: leftovers, backfill: bf}
		}
	case schema.StepIndex:
		want := d.Objects(t, step, f.srv).Indexes[0]
		if got := findIndex(cat, want); got != nil && got.Valid && len(leftovers) == 0 && sameIndex(want, got) {
			return action{skip: true, why: "index " + want.Name + " is already there: adopted"}
		}
	case schema.StepAuditLog, schema.StepArchive:
		name := n.AuditLog
		if step.Kind == schema.StepArchive {
			name = n.Archive
		}
		if cat.Tables[name] != nil && step.Kind == schema.StepAuditLog && !auditIndexesMissing(d, f, step) {
			return action{skip: true, why: "table " + name + " is already there: adopted"}
		}
	case schema.StepTrigger:
		want := d.Objects(t, step, f.srv).Triggers[0]
		got := cat.Trigger(n.Table, want.Name)
		if got != nil && sameBody(got.Body, want.Body) && len(leftovers) == 0 {
			if prev, ok := schema.PreviousRevision(t.Steps(), step); ok && sameBody(d.Objects(t, prev, f.srv).Triggers[0].Body, want.Body) {
				return action{skip: true} // the revision changes nothing on this layout (no IP column)
			}
			return action{skip: true, why: "trigger " + want.Name + " is already there: adopted"}
		}
		if got != nil && len(leftovers) == 0 {
			// A later step's revision (a reapply, or a run resumed after it): putting this step's
			// definition back only for the later step to replace it again would be churn.
			for _, later := range schema.Revisions(t.Steps(), step) {
				if later.Version > step.Version && sameBody(got.Body, d.Objects(t, later, f.srv).Triggers[0].Body) {
					return action{skip: true, why: fmt.Sprintf("trigger %s has step %d's revision, which that step judges", want.Name, later.Version)}
				}
			}
		}
		if got == nil && len(leftovers) == 0 && step.Rev() <= 1 {
			// Nothing to replace (ReplaceTrigger's CREATE OR REPLACE would do, but the file says what it is).
			// A revision step asks ReplaceTrigger even then: its MySQL file is the stock CLI's swap.
			return action{file: true}
		}
		why := "trigger " + want.Name + " has an older definition: replaced"
		if prev, ok := schema.PreviousRevision(t.Steps(), step); ok && len(leftovers) == 0 {
			if old := d.Objects(t, prev, f.srv).Triggers[0]; got == nil || sameBody(got.Body, old.Body) {
				// The step's ordinary work, not an adaptation: no why, so it is logged as a plain step.
				if stmts := replaceTrigger(d, t, f.srv, step, cat); stmts != nil {
					return action{stmts: stmts}
				}
				return action{file: true}
			}
		}
		if got == nil || sameBody(got.Body, want.Body) {
			why = "trigger " + want.Name + ": an interrupted replacement left its stand-in: finished"
		}
		if stmts := replaceTrigger(d, t, f.srv, step, cat); stmts != nil {
			return action{stmts: stmts, why: why}
		}
		return action{file: true}
	case schema.StepRoutine:
		want := d.Objects(t, step, f.srv).Routines
		if len(want) == 0 {
			break // no stored routine on this dialect
		}
		// Adopted only when every routine of the step is current (PostgreSQL's hash step also creates the
		// IP helper, whose body can change alone).
		same := true
		for _, w := range want {
			g := cat.Routine(w.Name)
			same = same && g != nil && sameBody(g.Body, w.Body)
		}
		got := cat.Routine(want[0].Name)
		switch {
		case same:
			return action{skip: true, why: strings.ToLower(want[0].Kind) + " " + want[0].Name + " is already there: adopted"}
		case got != nil:
			if stmts := replaceRoutine(d, t, f.srv, step, cat); stmts != nil {
				return action{stmts: stmts, why: strings.ToLower(want[0].Kind) + " " + want[0].Name + " has an older definition: replaced"}
			}
		}
	}
	return file
}

// planDown decides how step's down brings the database to the state before the step.
func planDown(d dialect.Dialect, f *facts, step schema.Step) action {
	t, cat := f.t, f.cat
	leftovers := leftovers(d, t, f.srv, step, false, cat)
	switch step.Kind {
	case schema.StepAddColumns:
		present, _ := securityPresent(cat, t.Names.Table)
		if len(present) == 0 {
			return action{skip: true, why: "the security columns are already gone"}
		}
		if stmts := dropColumns(d, t, f.srv, present, cat); stmts != nil {
			return action{stmts: stmts, why: "dropping " + strings.Join(present, ", ")}
		}
	case schema.StepIndex:
		want := d.Objects(t, step, f.srv).Indexes[0]
		if findIndex(cat, want) == nil && len(leftovers) == 0 {
			return action{skip: true, why: "index " + want.Name + " is already gone"}
		}
	case schema.StepTrigger:
		// A revision's down restores the previous revision the way a step up replaces an older
		// definition: without a moment in which writers run without the trigger.
		prev, ok := schema.PreviousRevision(t.Steps(), step)
		if !ok {
			break
		}
		want := d.Objects(t, prev, f.srv).Triggers[0]
		got := cat.Trigger(t.Names.Table, want.Name)
		if got != nil && sameBody(got.Body, want.Body) && len(leftovers) == 0 {
			return action{skip: true, why: fmt.Sprintf("trigger %s already has step %d's definition", want.Name, prev.Version)}
		}
		if stmts := replaceTrigger(d, t, f.srv, prev, cat); stmts != nil {
			return action{stmts: stmts} // the step's ordinary down, not an adaptation
		}
	}
	return action{stmts: leftovers, file: true}
}

func columnNames(cols []schema.Column) string {
	n := make([]string, len(cols))
	for i, c := range cols {
		n[i] = c.Name
	}
	return strings.Join(n, ", ")
}

func auditIndexesMissing(d dialect.Dialect, f *facts, step schema.Step) bool {
	for _, ix := range d.Objects(f.t, step, f.srv).Indexes {
		if findIndex(f.cat, ix) == nil {
			return true
		}
	}
	return false
}

// findIndex looks an index up by table and name (MySQL and SQLite names are per table or global,
// PostgreSQL's per schema: the table must match either way).
func findIndex(cat *dialect.Catalog, want *dialect.Index) *dialect.Index {
	return cat.Index(want.Table, want.Name)
}

func sameIndex(want, got *dialect.Index) bool {
	return slices.Equal(want.Columns, got.Columns) && !got.Unique && strings.EqualFold(want.Predicate, got.Predicate)
}

func sameBody(got, want string) bool {
	return dialect.NormalizeSpace(got) == dialect.NormalizeSpace(want)
}

// up runs step forward: version dirty, the action, version clean. A lock-wait timeout rolls the
// running statement back whole; the step is then re-planned from a fresh catalog read (a timed-out
// CREATE INDEX CONCURRENTLY leaves an INVALID index to clear) and retried with backoff.
func (r *runner) up(ctx context.Context, step schema.Step) error {
	return r.run(ctx, step, true)
}

// down runs step's down. Following golang-migrate, the version recorded while it runs is the previous
// step's, dirty.
func (r *runner) down(ctx context.Context, step schema.Step) error {
	return r.run(ctx, step, false)
}

func (r *runner) run(ctx context.Context, step schema.Step, up bool) error {
	dir, record := "down", r.previous(step.Version)
	if up {
		dir, record = "up", int(step.Version)
	}
	files, err := renderStep(r.p.d, r.f.t, step)
	if err != nil {
		return err
	}
	body, file := files.Up, ""
	upName, downName := step.FileNames(r.f.t.Names.Table)
	file = upName
	if !up {
		body, file = files.Down, downName
	}
	// Fencing: a holder whose lease was taken over never starts another step.
	if err := r.s.verify(ctx); err != nil {
		return err
	}
	r.hook(step.Version, "before-"+dir)
	// A step (an index build above all) starts only with the replicas within the lag bound.
	task := map[bool]string{true: "migrate", false: "rollback"}[up]
	if err := r.th.wait(ctx, Progress{Task: task, Version: step.Version, Step: step.Name(r.f.t.Names.Table), Unit: UnitSteps, Total: 1}); err != nil {
		return err
	}
	start := time.Now()
	backoff := r.cfg.backoff
	if step.Kind == schema.StepTrigger && len(schema.Revisions(r.f.t.Steps(), step)) > 1 {
		// The catalog was read at the start of the run; an earlier step of this run may have written
		// another revision of this trigger since, and the replacement must start from what is there.
		if err := r.refresh(ctx); err != nil {
			return err
		}
	}
	for attempt := 0; ; attempt++ {
		var a action
		if up {
			a = planUp(r.p.d, r.f, step)
		} else {
			a = planDown(r.p.d, r.f, step)
		}
		err := r.apply(ctx, step, a, record, body)
		if err == nil {
			if a.why != "" {
				r.adopted = r.adopted || up
				r.log.InfoContext(ctx, "sessionsec: step adapted to what the database already had", "version", step.Version,
					"step", file, "direction", dir, "how", a.why)
			}
			break
		}
		if errors.Is(err, ErrReplicaLag) {
			return err // no failure of the step: the backfill stopped between batches, to run again
		}
		if ctx.Err() != nil {
			return fmt.Errorf("sessionsec: step %s stopped (run again to continue: every step converges): %w", file, lockLost(ctx, ctx.Err()))
		}
		if !r.p.d.IsLockTimeout(err) && !r.conflict(err) {
			return &StepError{Version: step.Version, Name: file, Direction: dir, kind: ErrStepFailed, Err: r.p.serverError(err), refused: r.p.refusal(err)}
		}
		if attempt >= r.cfg.retries {
			return &StepError{Version: step.Version, Name: file, Direction: dir, kind: ErrLockWait,
				Err: fmt.Errorf("still blocked after %d attempts by sessions holding locks on the table (long transactions?): %w", attempt+1, r.p.serverError(err))}
		}
		r.log.WarnContext(ctx, "sessionsec: step waited too long for a table lock; backing off", "step", file,
			"attempt", attempt+1, "backoff", backoff)
		if err := sleep(ctx, backoff); err != nil {
			return fmt.Errorf("sessionsec: stopped while backing off before retrying %s (run again to continue): %w", file, err)
		}
		backoff = min(backoff*2, maxBackoff)
		if err := r.refresh(ctx); err != nil {
			return err
		}
	}
	r.log.InfoContext(ctx, "sessionsec: step done", "direction", dir, "version", step.Version, "step", file,
		"duration", time.Since(start).Round(time.Millisecond))
	r.progress(Progress{Task: task, Version: step.Version,
		Step: step.Name(r.f.t.Names.Table), Unit: UnitSteps, Done: 1, Total: 1, Elapsed: time.Since(start), Final: true})
	r.hook(step.Version, "after-"+dir)
	return nil
}

// apply records the version dirty, does what a says, and records it clean.
func (r *runner) apply(ctx context.Context, step schema.Step, a action, record int, body string) error {
	if a.skip {
		return r.setVersion(ctx, record, false)
	}
	if err := r.setVersion(ctx, record, true); err != nil {
		return err
	}
	for _, stmt := range a.stmts {
		start := time.Now()
		if _, err := r.s.exec(ctx, stmt); err != nil {
			return err
		}
		r.log.DebugContext(ctx, "sessionsec: statement", "version", step.Version, "sql", statementHead(stmt), "duration", time.Since(start))
	}
	if a.backfill != nil {
		if err := r.backfill(ctx, step, a.backfill); err != nil {
			return err
		}
	}
	if a.file {
		start := time.Now()
		if err := r.runFile(ctx, body); err != nil {
			return err
		}
		r.log.DebugContext(ctx, "sessionsec: file", "version", step.Version, "sql", statementHead(body), "duration", time.Since(start))
	}
	return r.setVersion(ctx, record, false)
}

// setVersion records the version in golang-migrate's table. On a cluster the write can lose
// certification against nothing of ours (the lease excludes other migrators) but a brute-force abort
// by replicated DDL is possible: it is retried.
func (r *runner) setVersion(ctx context.Context, version int, dirty bool) error {
	return r.retryConflict(ctx, func() error { return r.p.d.SetVersion(ctx, r.s.conn, r.cfg.migrationsTable, version, dirty) })
}

// runFile runs a step's file as one statement string, as golang-migrate's Run does, but bounded by ctx.
func (r *runner) runFile(ctx context.Context, body string) error {
	return r.s.file(ctx, body)
}

// conflict reports a write that lost a conflict (deadlock, cluster certification) and was rolled back.
func (r *runner) conflict(err error) bool {
	return r.s.leaser != nil && r.s.leaser.IsConflict(err)
}

// retryConflict runs one autocommitted write (or one transaction), again with backoff when it lost a
// conflict: on Galera the application's writes on other nodes abort ours at certification, and a
// retry of a whole statement is safe. It gives up after r.cfg.retries+10 attempts.
func (r *runner) retryConflict(ctx context.Context, f func() error) error {
	backoff := 20 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := f()
		if err == nil || ctx.Err() != nil || !r.conflict(err) || attempt >= r.cfg.retries+10 {
			return err
		}
		r.log.DebugContext(ctx, "sessionsec: write lost a conflict; retrying", "attempt", attempt+1, "err", r.p.serverError(err))
		jitter := time.Duration(rand.Int64N(int64(backoff)))
		if err := sleep(ctx, backoff+jitter); err != nil {
			return err
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// refresh re-reads the catalog after the database changed under a plan.
func (r *runner) refresh(ctx context.Context) error {
	f, err := r.p.inspectOn(ctx, r.s.conn, r.cfg, r.f.srv)
	if err != nil {
		return err
	}
	f.t.Layout = r.f.t.Layout // the layout was settled at the start; keep it even if columns went
	f.t = dialect.NewTarget(r.p.d, f.t.Layout, f.cat, r.cfg.extras...)
	r.f = f
	return nil
}

// previous returns the version before v as golang-migrate records it (-1 for none).
func (r *runner) previous(v uint) int {
	if v <= 1 {
		return database.NilVersion
	}
	return int(v - 1)
}

func (r *runner) hook(v uint, phase string) {
	if h := r.cfg.stepHook; h != nil {
		h(v, phase)
	}
}

func (r *runner) progress(pr Progress) {
	if f := r.cfg.progress; f != nil {
		f(pr)
	}
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// statementHead is the first SQL line of a statement or file (comments skipped), for debug logs: the
// statements are the package's own DDL, never row data.
func statementHead(sql string) string {
	for _, line := range strings.Split(sql, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "--") {
			continue
		}
		if len(line) > 100 {
			line = line[:100] + "..."
		}
		return line
	}
	return ""
}
