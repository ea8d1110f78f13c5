package sessionsec

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// Which families an existing column may have to count as the change's column of a logical type, besides
// the family of the type the change creates (the hand-run script made security_hash a VARCHAR(64) and
// last_validated_at a TIMESTAMP; both work).
var typeFamilies = map[schema.Type][]dialect.Family{
	schema.TypeSessionID: {dialect.FamText, dialect.FamBinary},
	schema.TypeTimestamp: {dialect.FamInstant, dialect.FamWallClock, dialect.FamTimeText},
	schema.TypeHash:      {dialect.FamText},
	schema.TypeKeyID:     {dialect.FamText},
	schema.TypeVersion:   {dialect.FamInteger},
	schema.TypeRiskScore: {dialect.FamInteger},
	schema.TypeAuditID:   {dialect.FamInteger},
	schema.TypeAction:    {dialect.FamText},
	schema.TypeDetails:   {dialect.FamJSON, dialect.FamText},
}

// minLength is the shortest text column that can hold each logical type's values.
var minLength = map[schema.Type]int{schema.TypeHash: 64, schema.TypeKeyID: 32, schema.TypeAction: 32, schema.TypeSessionID: 64}

var defaultTexts = map[schema.Default]string{schema.DefaultOne: "1", schema.DefaultZero: "0", schema.DefaultNow: "now"}

// columnAccepts judges an existing column against the change's declaration of it: ok when it can do the
// column's job; note says how it differs from what the change would have created.
func columnAccepts(d dialect.Renderer, want schema.Column, got *dialect.Column) (ok bool, note string) {
	ours := d.Family(d.ColumnType(want.Type))
	if got.Family != ours && !slices.Contains(typeFamilies[want.Type], got.Family) {
		return false, ""
	}
	if got.Family == dialect.FamText && got.Length > 0 && got.Length < minLength[want.Type] {
		return false, ""
	}
	var notes []string
	if wd, ok := defaultTexts[want.Default]; ok && (got.Default == nil || !strings.EqualFold(*got.Default, wd)) {
		return false, ""
	}
	if got.Family != ours {
		notes = append(notes, "type "+got.Type+" (the change creates "+strings.ToLower(d.ColumnType(want.Type))+")")
	}
	if !want.Nullable && got.Nullable {
		notes = append(notes, "nullable (the change creates it NOT NULL; the triggers fill it)")
	}
	if want.Comment != "" && got.Comment != "" && got.Comment != want.Comment {
		notes = append(notes, fmt.Sprintf("comment %q", got.Comment))
	}
	return true, strings.Join(notes, ", ")
}

func (p *Provider) validateCall(ctx context.Context, cfg config) (*Report, error) {
	// A connection of its own, with the dialect's session settings: the result must not depend on the
	// caller's sql_mode, time zone or autocommit. It is discarded afterwards.
	s, err := p.open(ctx, cfg, true)
	if err != nil {
		return nil, err
	}
	defer s.close()
	rep, err := p.validate(ctx, s.conn, cfg, nil)
	if err != nil {
		return nil, err
	}
	if !rep.OK() {
		return rep, &ValidationError{Report: rep}
	}
	return rep, nil
}

// countingQuerier counts the statements sent through it, for Report.Queries.
type countingQuerier struct {
	q dialect.Querier
	n int
}

func (c *countingQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	c.n++
	return c.q.QueryContext(ctx, query, args...)
}

func (c *countingQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	c.n++
	return c.q.QueryRowContext(ctx, query, args...)
}

func (c *countingQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	c.n++
	return c.q.ExecContext(ctx, query, args...)
}

// validate checks the database against the objects of the applied steps (or their absence).
func (p *Provider) validate(ctx context.Context, conn dialect.Querier, cfg config, _ *facts) (rep *Report, err error) {
	q := &countingQuerier{q: conn}
	defer func() {
		if rep != nil {
			rep.Queries = q.n
		}
	}()
	st, err := p.readVersion(ctx, q, cfg)
	if err != nil {
		return nil, err
	}
	f, err := p.inspect(ctx, q, cfg)
	if err != nil {
		return nil, err
	}
	top := latest(cfg)
	rep = &Report{Dialect: p.d.Name(), Server: f.srv.String(), Schema: f.cat.Schema, Layout: f.t.Layout.String(),
		Version: st.Version, HasVersion: st.HasVersion, Dirty: st.Dirty, Latest: top, RolledBack: cfg.expectAbsent}
	add := func(obj, want, got, fix string) {
		rep.Problems = append(rep.Problems, Mismatch{Object: obj, Want: want, Got: got, Fix: fix})
	}
	if f.layoutProblem != nil {
		add(f.layoutProblem.Object, "a known layout", f.layoutProblem.Message, f.layoutProblem.Fix)
		return rep, nil
	}
	if cfg.expectAbsent {
		if st.HasVersion || st.Dirty {
			add("table "+cfg.migrationsTable, "no applied version", versionText(st), "Rollback again")
		}
		absentProblems(p.d, f, add)
		return rep, nil
	}
	applied := uint(0)
	switch {
	case !st.HasVersion:
		add("table "+cfg.migrationsTable, fmt.Sprintf("version %d", top), "no applied version", "run Migrate")
	case st.Dirty:
		add("table "+cfg.migrationsTable, fmt.Sprintf("version %d clean", top), versionText(st), "run Migrate (it finishes the interrupted step) or Rollback")
		applied = st.Version - 1
	case st.Version > top:
		add("table "+cfg.migrationsTable, fmt.Sprintf("version %d at most", top), versionText(st), "deploy the binary that applied it")
		applied = top
	default:
		applied = st.Version
		if st.Version < top {
			add("table "+cfg.migrationsTable, fmt.Sprintf("version %d", top), versionText(st), "run Migrate")
		}
	}
	for _, step := range f.t.Steps() {
		if step.Version > applied {
			break
		}
		if schema.Superseded(f.t.Steps(), step, applied) {
			continue // a later applied step installed another revision of this trigger: it is judged there
		}
		stepProblems(p.d, f, step, rep, add)
		if mt, ok := p.d.(dialect.Maintainer); ok && step.Kind == schema.StepArchive && f.cat.Tables[f.t.Names.Archive] != nil && f.cat.Tables[f.t.Names.Table] != nil {
			// What Archive would refuse (it fixes the rest itself): valid must mean Archive can run.
			plan, err := planArchive(ctx, mt, q, f)
			if err != nil {
				return nil, err
			}
			for _, pr := range plan.problems {
				add(pr.Object, "a column that takes the session table's values unchanged", pr.Message, pr.Fix)
			}
		}
	}
	for _, dp := range drift(p.d, f) {
		add(dp.Object, "none", dp.Message, dp.Fix)
	}
	return rep, nil
}

func versionText(st dialect.VersionState) string {
	if !st.HasVersion {
		if st.Dirty {
			return "no version (dirty)"
		}
		return "no version"
	}
	s := fmt.Sprint(st.Version)
	if st.Dirty {
		s += " (dirty)"
	}
	return s
}

type addFunc func(obj, want, got, fix string)

// rerunFix is the fix of an object an applied step should have left and has not (or not as it made it).
const rerunFix = "run Migrate with WithReapply() (the command: up -reapply)"

// stepProblems checks the objects one applied step should have left: the tables and columns it is
// about, then the indexes, triggers, routines and CHECK constraints the dialect says it creates.
func stepProblems(d dialect.Dialect, f *facts, step schema.Step, rep *Report, add addFunc) {
	switch step.Kind {
	case schema.StepCreateTable:
		if !baseTableProblems(f, add) {
			return // no table: its indexes and triggers cannot be there either
		}
	case schema.StepAddColumns:
		securityColumnProblems(d, f, schema.Change.Columns, rep, add)
	case schema.StepExtra:
		securityColumnProblems(d, f, step.Extra.Columns, rep, add)
	case schema.StepAuditLog:
		auditLogProblems(d, f, add)
	case schema.StepArchive:
		archiveProblems(f, rep, add)
	}
	objs := d.Objects(f.t, step, f.srv)
	indexProblems(f.cat, objs.Indexes, add)
	triggerProblems(f.cat, objs.Triggers, step, add)
	routineProblems(f.cat, objs.Routines, step, add)
	checkProblems(f.cat, objs.Checks, add)
}

// baseTableProblems checks the session table and the columns of the layout's roles; false when the
// table is missing.
func baseTableProblems(f *facts, add addFunc) bool {
	n := f.t.Names
	tbl := f.cat.Tables[n.Table]
	if tbl == nil {
		add("table "+n.Table, "present", "missing", "run Migrate")
		return false
	}
	for _, r := range schema.Roles {
		if c := f.t.Col(r); c != "" && tbl.Column(c) == nil {
			add("column "+n.Table+"."+c, "present ("+r.String()+")", "missing", "restore the column")
		}
	}
	return true
}

// securityColumnProblems checks the columns a step adds to the session table; an existing column that
// differs but does the job is a note.
func securityColumnProblems(d dialect.Dialect, f *facts, cols []schema.Column, rep *Report, add addFunc) {
	n := f.t.Names
	tbl := f.cat.Tables[n.Table]
	for _, c := range cols {
		obj := "column " + n.Table + "." + c.Name
		gc := tbl.Column(c.Name)
		if gc == nil {
			add(obj, "present", "missing", rerunFix)
			continue
		}
		if ok, note := columnAccepts(d, c, gc); !ok {
			add(obj, "a column for "+typeText(c.Type)+defaultWant(c), gc.Type+defaultGot(gc), "convert it to "+d.ColumnType(c.Type))
		} else if note != "" {
			rep.Notes = append(rep.Notes, obj+": "+note+": accepted as equivalent")
		}
	}
}

// auditLogProblems checks the audit log and its columns.
func auditLogProblems(d dialect.Dialect, f *facts, add addFunc) {
	name := f.t.Names.AuditLog
	a := f.cat.Tables[name]
	if a == nil {
		add("table "+name, "present", "missing", rerunFix)
		return
	}
	for _, c := range schema.Change.AuditColumns {
		gc := a.Column(c.Name)
		if gc == nil {
			add("column "+name+"."+c.Name, "present", "missing", "restore the column, or retire the table and run Migrate")
		} else if ok, _ := columnAccepts(d, c, gc); !ok {
			add("column "+name+"."+c.Name, "a column for "+typeText(c.Type), gc.Type, "convert it to "+d.ColumnType(c.Type))
		}
	}
}

// archiveProblems checks the archive; columns the session table has gained since are a note (the next
// Archive adds them).
func archiveProblems(f *facts, rep *Report, add addFunc) {
	n := f.t.Names
	a := f.cat.Tables[n.Archive]
	if a == nil {
		add("table "+n.Archive, "present", "missing", rerunFix)
		return
	}
	var behind []string
	for _, c := range f.cat.Tables[n.Table].Columns {
		if a.Column(c.Name) == nil {
			behind = append(behind, c.Name)
		}
	}
	if len(behind) > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("table %s lacks %s, which %s has: the next Archive adds them (same types) before it copies; until then INSERT INTO %s SELECT * FROM %s fails (run Archive, or name the columns)",
			n.Archive, strings.Join(behind, ", "), n.Table, n.Archive, n.Table))
	}
}

func indexProblems(cat *dialect.Catalog, want []*dialect.Index, add addFunc) {
	for _, w := range want {
		obj := "index " + w.Name
		switch got := findIndex(cat, w); {
		case got == nil:
			add(obj, "present", "missing", rerunFix)
		case !got.Valid:
			add(obj, "valid", "INVALID (an interrupted CREATE INDEX CONCURRENTLY)", rerunFix)
		case !sameIndex(w, got):
			add(obj, indexText(w), indexText(got), "drop it and "+rerunFix)
		}
	}
}

func triggerProblems(cat *dialect.Catalog, want []*dialect.Trigger, step schema.Step, add addFunc) {
	for _, w := range want {
		obj := "trigger " + w.Name
		switch got := cat.Trigger(w.Table, w.Name); {
		case got == nil:
			add(obj, fmt.Sprintf("%s %s ON %s", w.Timing, w.Event, w.Table), "missing", rerunFix)
		case !strings.EqualFold(got.Timing, w.Timing) || !strings.EqualFold(got.Event, w.Event):
			add(obj, fmt.Sprintf("%s %s", w.Timing, w.Event), fmt.Sprintf("%s %s", got.Timing, got.Event), rerunFix)
		case !sameBody(got.Body, w.Body):
			redefined(obj, step, add)
		}
	}
}

// routineProblems judges a routine's body only where the catalog shows it (Body "" when it does not).
func routineProblems(cat *dialect.Catalog, want []*dialect.Routine, step schema.Step, add addFunc) {
	for _, w := range want {
		obj := strings.ToLower(w.Kind) + " " + w.Name
		switch got := cat.Routine(w.Name); {
		case got == nil:
			add(obj, "present", "missing", rerunFix)
		case !strings.EqualFold(got.Kind, w.Kind):
			add(obj, w.Kind, got.Kind, "drop it and "+rerunFix)
		case got.Body != "" && !sameBody(got.Body, w.Body):
			redefined(obj, step, add)
		}
	}
}

func checkProblems(cat *dialect.Catalog, want []*dialect.Check, add addFunc) {
	for _, w := range want {
		obj := "constraint " + w.Name
		switch got := cat.Check(w.Name); {
		case got == nil:
			add(obj, "CHECK "+w.Expr, "missing", rerunFix)
		case !sameCheck(got.Expr, w.Expr):
			add(obj, "CHECK "+w.Expr, "CHECK "+got.Expr, "drop it and "+rerunFix)
		case w.Validated && !got.Validated:
			add(obj, "validated", "NOT VALID", rerunFix)
		}
	}
}

// redefined reports a trigger or routine whose definition is not the one step installs.
func redefined(obj string, step schema.Step, add addFunc) {
	add(obj, "the definition of step "+fmt.Sprint(step.Version), "another definition (changed by hand, or left by an older release)", rerunFix)
}

func defaultWant(c schema.Column) string {
	if d, ok := defaultTexts[c.Default]; ok {
		return " with default " + d
	}
	return ""
}

func defaultGot(c *dialect.Column) string {
	if c.Default == nil {
		return " without a default"
	}
	return " default " + *c.Default
}

func indexText(ix *dialect.Index) string {
	s := "(" + strings.Join(ix.Columns, ", ") + ")"
	if ix.Unique {
		s = "UNIQUE " + s
	}
	if ix.Predicate != "" {
		s += " WHERE " + ix.Predicate
	}
	return s
}

// absentProblems confirms a complete rollback: nothing of steps 2 and later is left.
func absentProblems(d dialect.Dialect, f *facts, add addFunc) {
	t, cat := f.t, f.cat
	n := t.Names
	const fix = "run Rollback again"
	present, _ := securityPresent(cat, n.Table)
	for _, c := range present {
		add("column "+n.Table+"."+c, "absent", "present", fix)
	}
	for _, name := range []string{n.AuditLog, n.Archive} {
		if cat.Tables[name] != nil {
			add("table "+name, "absent (kept as "+name+"_retired_<ts> when it held rows)", "present", fix)
		}
	}
	for _, step := range t.Steps() {
		objs := d.Objects(t, step, f.srv)
		for _, ix := range objs.Indexes {
			if ix.Table == n.Table && findIndex(cat, ix) != nil {
				add("index "+ix.Name, "absent", "present", fix)
			}
		}
		for _, tr := range objs.Triggers {
			if cat.Trigger(tr.Table, tr.Name) != nil {
				add("trigger "+tr.Name, "absent", "present", fix)
			}
		}
		for _, r := range objs.Routines {
			if cat.Routine(r.Name) != nil {
				add(strings.ToLower(r.Kind)+" "+r.Name, "absent", "present", fix)
			}
		}
		for _, c := range objs.Checks {
			if cat.Check(c.Name) != nil {
				add("constraint "+c.Name, "absent", "present", fix)
			}
		}
	}
}

// drift is the dialect's Drifter report, or nothing (Drifter's fallback).
func drift(d dialect.Dialect, f *facts) []dialect.Problem {
	if dr, ok := d.(dialect.Drifter); ok {
		return dr.Drift(f.t, f.cat)
	}
	return nil
}
