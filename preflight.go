package sessionsec

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

func (p *Provider) preflightCall(ctx context.Context, cfg config) error {
	s, err := p.open(ctx, cfg, false)
	if err != nil {
		return err
	}
	defer s.close()
	st, err := p.readVersion(ctx, s.conn, cfg)
	if err != nil {
		return err
	}
	f, err := p.inspect(ctx, s.conn, cfg)
	if err != nil {
		return err
	}
	if problems := p.preflight(ctx, s.conn, cfg, f, st, f.pending(st, false)); len(problems) > 0 {
		return &PreflightError{Problems: problems}
	}
	return nil
}

// preflight gathers every problem that would stop the pending steps: the rules that hold on every
// dialect, over the catalog facts, then the dialect's own (grants, read-only, binary log).
func (p *Provider) preflight(ctx context.Context, q dialect.Querier, cfg config, f *facts, st dialect.VersionState, pending []schema.Step) []Problem {
	var out []Problem
	out = append(out, p.versionProblems(cfg, f, st)...)
	if len(pending) == 0 {
		return out
	}
	if f.layoutProblem != nil {
		out = append(out, *f.layoutProblem)
	} else {
		out = append(out, tableProblems(p.d, f, pending)...)
	}
	out = append(out, conflictProblems(p.d, f, pending)...)
	for _, dp := range p.d.Preflight(ctx, q, f.srv, f.t, f.cat, pending) {
		out = append(out, problemFrom(dp))
	}
	return out
}

// versionProblems tells this change's migrations table from another set's and from a newer binary's.
// A table is this change's when it carries the default name, or when the change's objects are there:
// golang-migrate's table holds nothing but a number, so a foreign table at version 1 (or dirty) looks
// exactly like ours, and writing it would make the other set skip its own migrations.
func (p *Provider) versionProblems(cfg config, f *facts, st dialect.VersionState) []Problem {
	if !st.HasVersion && !st.Dirty {
		return nil
	}
	table := "table " + cfg.migrationsTable
	own := cfg.migrationsTable == DefaultMigrationsTable || f.ours()
	switch {
	case !own:
		return []Problem{{Err: ErrForeignMigrations, Object: table,
			Message: fmt.Sprintf("it records version %d, but nothing of the session-security change is in the database: it belongs to another migration set", st.Version),
			Fix:     "leave it to its owner: drop WithMigrationsTable (the default is " + DefaultMigrationsTable + ") and x-migrations-table=" + DefaultMigrationsTable + " for the CLI"}}
	case st.HasVersion && st.Version > latest(cfg) && !cfg.allowAhead:
		return []Problem{{Err: ErrDatabaseAhead, Object: table,
			Message: fmt.Sprintf("the database is at version %d; this binary knows versions up to %d", st.Version, latest(cfg)),
			Fix:     "deploy the newer binary, or pass WithAllowDatabaseAhead() to start without migrating"}}
	}
	return nil
}

// Which families a base column may have for its role. A built-in layout's own declared types are
// accepted too (SQLite's spec layout keeps times as TEXT).
var roleFamilies = map[schema.Role][]dialect.Family{
	schema.RoleKey:          {dialect.FamText, dialect.FamBinary, dialect.FamInteger, dialect.FamUUID},
	schema.RoleUser:         {dialect.FamText, dialect.FamBinary, dialect.FamInteger, dialect.FamUUID},
	schema.RoleCreated:      {dialect.FamInstant, dialect.FamWallClock, dialect.FamTimeText},
	schema.RoleLastAccessed: {dialect.FamInstant, dialect.FamWallClock, dialect.FamTimeText},
	schema.RoleExpires:      {dialect.FamInstant, dialect.FamWallClock, dialect.FamTimeText},
	schema.RoleIP:           {dialect.FamText, dialect.FamBinary, dialect.FamInet},
	schema.RoleActive:       {dialect.FamBool, dialect.FamInteger},
}

func roleAccepts(d dialect.Renderer, r schema.Role, fam dialect.Family) bool {
	if slices.Contains(roleFamilies[r], fam) {
		return true
	}
	for _, l := range schema.Layouts {
		for _, c := range l.Base() {
			if c.Role == r && d.Family(c.Types[d.Name()]) == fam {
				return true
			}
		}
	}
	return false
}

// tableProblems are the rules on the session table that hold on every dialect.
func tableProblems(d dialect.Dialect, f *facts, pending []schema.Step) []Problem {
	t := f.t
	n := t.Names
	tbl := f.cat.Tables[n.Table]
	var out []Problem
	add := func(obj, msg, fix string) {
		out = append(out, Problem{Err: ErrIncompatibleTable, Object: obj, Message: msg, Fix: fix})
	}
	if f.cat.Resolved != "" {
		add("table "+n.Table, fmt.Sprintf("the session's unqualified name %s resolves to %s.%s, but the change would go to schema %s (first on search_path)", n.Table, f.cat.Resolved, n.Table, f.cat.Schema),
			fmt.Sprintf("migrate with search_path set to %s (URL parameter search_path=%s, or options=-csearch_path=%s), so that the objects land next to the table the application uses", f.cat.Resolved, f.cat.Resolved, f.cat.Resolved))
		return out
	}
	if tbl == nil {
		return nil // step 1 creates it
	}
	switch tbl.Kind {
	case dialect.TableView:
		add("table "+n.Table, "is a view: columns, triggers and indexes cannot be added to it", "point the change at the base table (WithTable), then retry")
		return out
	case dialect.TablePartitioned:
		add("table "+n.Table, "is a partitioned table: CREATE INDEX CONCURRENTLY cannot build its indexes online",
			"create the seven indexes per partition yourself (CREATE INDEX CONCURRENTLY on each partition, then CREATE INDEX ON ONLY the parent and ALTER INDEX ... ATTACH PARTITION), or migrate in a maintenance window with a plain table; then retry")
		return out
	case dialect.TableOther:
		add("table "+n.Table, "is not a plain table", "point the change at the base table (WithTable), then retry")
		return out
	}
	touchesRows := slices.ContainsFunc(pending, func(s schema.Step) bool {
		return s.Kind == schema.StepAddColumns || s.Kind == schema.StepTrigger || s.Kind == schema.StepBackfill || s.Kind == schema.StepRoutine
	})
	if !touchesRows {
		return out
	}
	for _, r := range schema.Roles {
		name := t.Col(r)
		if name == "" {
			continue
		}
		c := tbl.Column(name)
		if c == nil {
			continue // the layout problem reports it
		}
		if !roleAccepts(d, r, c.Family) {
			add("column "+n.Table+"."+name, fmt.Sprintf("is %s, which cannot play the %s role", c.Type, r),
				fmt.Sprintf("map the %s role to a column of a suitable type (WithLayout), or convert the column; then retry", r))
		}
	}
	key := t.Col(schema.RoleKey)
	if c := tbl.Column(key); c != nil {
		switch {
		case !f.cat.UniqueKey(n.Table, key):
			add("column "+n.Table+"."+key, "is neither the primary key nor uniquely indexed: the backfill and the maintenance routines walk it in key order",
				"ALTER TABLE "+n.Table+" ADD PRIMARY KEY ("+key+") (after removing duplicates), then retry")
		case c.Nullable && d.Name() != "sqlite":
			add("column "+n.Table+"."+key, "is a nullable unique key: rows with a NULL key are never backfilled, and a rollback cannot keep their security data",
				"make it NOT NULL (after giving every row a key): ALTER TABLE "+n.Table+" ... "+key+" NOT NULL, then retry")
		}
	}
	return out
}

// conflictProblems finds objects that carry the names of what the pending steps create but are not
// this change's, in any of its releases. Older definitions of our own are not problems: the steps
// replace them.
func conflictProblems(d dialect.Dialect, f *facts, pending []schema.Step) []Problem {
	t, cat := f.t, f.cat
	n := t.Names
	var out []Problem
	add := func(obj, msg, fix string) {
		out = append(out, Problem{Err: ErrConflictingObject, Object: obj, Message: msg, Fix: fix})
	}
	for _, step := range pending {
		objs := d.Objects(t, step, f.srv)
		switch step.Kind {
		case schema.StepAddColumns:
			tbl := cat.Tables[n.Table]
			for _, c := range schema.Change.Columns {
				gc := tbl.Column(c.Name)
				if gc == nil {
					continue
				}
				if ok, _ := columnAccepts(d, c, gc); !ok {
					add("column "+n.Table+"."+c.Name, fmt.Sprintf("exists as %s, which cannot hold %s", gc.Type, typeText(c.Type)),
						fmt.Sprintf("rename it (it is not this change's) or convert it to %s, then retry", d.ColumnType(c.Type)))
				}
			}
		case schema.StepIndex, schema.StepAuditLog:
			for _, want := range objs.Indexes {
				if got := findIndex(cat, want); got != nil && got.Valid && !sameIndex(want, got) {
					add("index "+want.Name, fmt.Sprintf("exists on %s(%s)%s, not as this change creates it (%s)", got.Table,
						strings.Join(got.Columns, ", "), uniqueText(got.Unique), strings.Join(want.Columns, ", ")),
						"rename or drop that index, then retry")
				} else if got := cat.IndexNamed(want.Name); got != nil && got.Table != want.Table && d.Name() != "mysql" {
					add("index "+want.Name, "exists on table "+got.Table+" (index names are per schema here)", "rename that index, then retry")
				}
			}
		case schema.StepTrigger:
			want := objs.Triggers[0]
			if got := cat.Trigger("", want.Name); got != nil {
				switch {
				case got.Table != want.Table || !strings.EqualFold(got.Timing, want.Timing) || !strings.EqualFold(got.Event, want.Event):
					add("trigger "+want.Name, fmt.Sprintf("exists as %s %s ON %s, not %s %s ON %s", got.Timing, got.Event, got.Table, want.Timing, want.Event, want.Table),
						"rename or drop that trigger, then retry")
				case !sameBody(got.Body, want.Body) && !d.Released(want.Name, got.Body) && !anyRevision(d, f, step, got.Body):
					add("trigger "+want.Name, "exists with a definition this change did not write", "rename or drop that trigger (save it if it is yours), then retry")
				}
			}
		case schema.StepRoutine:
			for _, want := range objs.Routines {
				got := cat.Routine(want.Name)
				if got == nil || sameBody(got.Body, want.Body) {
					continue
				}
				if !strings.EqualFold(got.Kind, want.Kind) || !(d.Released(want.Name, got.Body) || strings.HasPrefix(got.Comment, "sessionsec:")) {
					add(strings.ToLower(want.Kind)+" "+want.Name, fmt.Sprintf("a %s named %s exists that this change did not create", strings.ToLower(got.Kind), got.Name),
						fmt.Sprintf("rename or drop it (DROP %s %s), then retry", got.Kind, got.Name))
				}
			}
		case schema.StepArchive:
			if a := cat.Tables[n.Archive]; a != nil && a.Column(t.Col(schema.RoleKey)) == nil {
				add("table "+n.Archive, "exists but is not an archive of "+n.Table+" (it lacks "+t.Col(schema.RoleKey)+")",
					"rename it, then retry")
			}
		}
		for _, want := range objs.Checks {
			if got := cat.Check(want.Name); got != nil && (got.Table != want.Table || !sameCheck(got.Expr, want.Expr)) {
				add("constraint "+want.Name, fmt.Sprintf("exists on %s as CHECK %s, not CHECK %s", got.Table, got.Expr, want.Expr), "rename or drop that constraint, then retry")
			}
		}
	}
	return out
}

// anyRevision reports whether body is the definition of one of the revisions of step's trigger that
// this release declares: a revision step replaces the one before it (and its down the one after).
func anyRevision(d dialect.Dialect, f *facts, step schema.Step, body string) bool {
	for _, r := range schema.Revisions(f.t.Steps(), step) {
		if tr := d.Objects(f.t, r, f.srv).Triggers; len(tr) > 0 && sameBody(tr[0].Body, body) {
			return true
		}
	}
	return false
}

func uniqueText(u bool) string {
	if u {
		return " UNIQUE"
	}
	return ""
}

// sameCheck compares CHECK expressions as the catalogs render them: case, quotes, parentheses and
// spacing aside, and BETWEEN read as its two comparisons.
func sameCheck(a, b string) bool {
	norm := func(s string) string {
		s = betweenRE.ReplaceAllString(strings.ToLower(s), "$1 >= $2 and $1 <= $3")
		return strings.NewReplacer("(", "", ")", "", " ", "", `"`, "", "`", "").Replace(s)
	}
	return norm(a) == norm(b)
}

var betweenRE = regexp.MustCompile(`([a-z_"` + "`" + `]+)\s+between\s+(\S+)\s+and\s+(\S+)`)

var typeTexts = map[schema.Type]string{
	schema.TypeSessionID: "a session key", schema.TypeTimestamp: "a point in time", schema.TypeHash: "a 64-character hex hash",
	schema.TypeKeyID: "a key identifier", schema.TypeVersion: "an integer", schema.TypeRiskScore: "an integer score",
	schema.TypeAuditID: "an integer id", schema.TypeAction: "an action name", schema.TypeDetails: "JSON",
}

func typeText(t schema.Type) string { return typeTexts[t] }
