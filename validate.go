package sessionsec

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// Report is the result of Validate: every problem found, not just the first.
type Report struct {
	Dialect    string
	Server     string // flavor and version, e.g. "MySQL 9.7.4"
	Version    uint   // applied migration version (0 with HasVersion false: none)
	HasVersion bool
	Dirty      bool
	Latest     uint // newest version this binary has
	RolledBack bool // the report checks a complete rollback (ExpectRolledBack)
	Problems   []string
}

// OK reports whether no problem was found.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// String renders the report for logs and operators.
func (r *Report) String() string {
	what := "schema"
	if r.RolledBack {
		what = "rollback"
	}
	version := "none"
	if r.HasVersion {
		version = fmt.Sprint(r.Version)
		if r.Dirty {
			version += " (dirty)"
		}
	}
	head := fmt.Sprintf("%s on %s (%s): migration version %s of %d", what, r.Server, r.Dialect, version, r.Latest)
	if r.OK() {
		return head + ": valid"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problem(s):", head, len(r.Problems))
	for _, p := range r.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p)
	}
	return b.String()
}

// Validate checks the connected database (its current schema only) against the schema the migrations
// produce - every column's type, nullability and default, every index's columns, order, uniqueness,
// partial predicate and validity, both triggers, the routines, the audit and archive tables, the
// risk-score rule, and the migration version and dirty flag - in a fixed, small number of catalog queries.
// With ExpectRolledBack it confirms instead that nothing of the change is left.
//
// The report lists every problem; the error is a *ValidationError matching ErrValidation when there is
// any, or another error when the database could not be read.
func Validate(ctx context.Context, db *sql.DB, opts ...Option) (*Report, error) {
	t, err := resolve(ctx, db, opts)
	if err != nil {
		return nil, err
	}
	p, err := loadPlan(t.d.Name())
	if err != nil {
		return nil, err
	}
	rep, err := t.validate(ctx, db, p)
	if err != nil {
		return nil, err
	}
	if !rep.OK() {
		return rep, &ValidationError{Report: rep}
	}
	return rep, nil
}

func (t *target) validate(ctx context.Context, q dialect.Querier, p *plan) (*Report, error) {
	srv, err := t.d.Identify(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%w: identifying the server: %w", ErrNoDatabase, err)
	}
	st, err := t.readVersion(ctx, q)
	if err != nil {
		return nil, err
	}
	got, err := t.d.Snapshot(ctx, q, tableNames(schema.Expected))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the catalog: %w", ErrNoDatabase, err)
	}
	rep := &Report{Dialect: t.d.Name(), Server: srv.Flavor + " " + srv.Version, Version: st.Version,
		HasVersion: st.HasVersion, Dirty: st.Dirty, Latest: p.latest(), RolledBack: t.cfg.expectAbsent}
	want := t.d.Expected(schema.Expected)
	// The base columns of sessions belong to the application in both directions: present, any shape.
	rep.Problems = append(rep.Problems, baseColumnProblems(want, got)...)

	if t.cfg.expectAbsent {
		if st.HasVersion || st.Dirty {
			rep.Problems = append(rep.Problems, fmt.Sprintf("table %s: want no applied version, got %s", t.cfg.table, versionText(st)))
		}
		for _, m := range dialect.Absent(want, got, schema.Expected.Sessions) {
			rep.Problems = append(rep.Problems, m.String())
		}
		return rep, nil
	}

	switch {
	case !st.HasVersion:
		rep.Problems = append(rep.Problems, fmt.Sprintf("table %s: want version %d, got no applied version (run Migrate)", t.cfg.table, p.latest()))
	case st.Dirty || st.Version != p.latest():
		rep.Problems = append(rep.Problems, fmt.Sprintf("table %s: want version %d clean, got %s", t.cfg.table, p.latest(), versionText(st)))
	}
	for _, m := range dialect.Diff(want, got) {
		rep.Problems = append(rep.Problems, m.String())
	}
	rep.Problems = append(rep.Problems, mirrorProblems(got)...)
	return rep, nil
}

// baseColumnProblems checks that the base columns of sessions exist, whatever their shape (an existing
// table is the application's: only the security columns are ours to define), and removes them from want.
func baseColumnProblems(want, got *dialect.Snapshot) []string {
	name := schema.Expected.Sessions
	wt := want.Tables[name]
	if wt == nil {
		return nil
	}
	var ours []*dialect.Column
	for _, c := range wt.Columns {
		if _, security := securityColumn(c.Name); security {
			ours = append(ours, c)
		}
	}
	trimmed := *wt
	trimmed.Columns = ours
	want.Tables[name] = &trimmed
	gt := got.Tables[name]
	if gt == nil {
		return nil // Diff reports the missing table
	}
	var out []string
	for _, c := range schema.Expected.BaseColumns {
		if gt.Column(c.Name) == nil {
			out = append(out, fmt.Sprintf("column %s.%s: want present, got missing", name, c.Name))
		}
	}
	return out
}

func securityColumn(name string) (schema.Column, bool) {
	for _, c := range schema.Expected.SecurityColumns {
		if c.Name == name {
			return c, true
		}
	}
	return schema.Column{}, false
}

// mirrorProblems checks that the archive has exactly the columns of sessions, in order and type, so that
// INSERT INTO sessions_archive SELECT * FROM sessions works.
func mirrorProblems(got *dialect.Snapshot) []string {
	var out []string
	sessions := got.Tables[schema.Expected.Sessions]
	for _, tbl := range schema.Expected.Tables {
		if !tbl.MirrorsSessions {
			continue
		}
		archive := got.Tables[tbl.Name]
		if sessions == nil || archive == nil {
			continue // reported as missing by Diff
		}
		if len(archive.Columns) != len(sessions.Columns) {
			out = append(out, fmt.Sprintf("table %s: want the %d columns of %s, got %d", tbl.Name, len(sessions.Columns), sessions.Name, len(archive.Columns)))
			continue
		}
		for i, c := range sessions.Columns {
			a := archive.Columns[i]
			if a.Name != c.Name || !strings.EqualFold(a.Type, c.Type) {
				out = append(out, fmt.Sprintf("table %s column %d: want %s %s (as in %s), got %s %s", tbl.Name, i+1, c.Name, c.Type, sessions.Name, a.Name, a.Type))
			}
		}
	}
	return out
}

func versionText(st dialect.VersionState) string {
	if !st.HasVersion {
		return "no version"
	}
	s := fmt.Sprint(st.Version)
	if st.Dirty {
		s += " (dirty)"
	}
	return s
}
