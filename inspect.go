package sessionsec

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// facts is what one call knows about the database: the server, the catalog and the target the SQL
// is rendered for. It is read once per call (and again after a step that the runner had to adapt).
type facts struct {
	srv dialect.Server
	cat *dialect.Catalog
	t   dialect.Target
	// layoutProblem is set when the session table has no layout the change can work with.
	layoutProblem *Problem
}

// tableName is the session table the handle works on.
func (p *Provider) tableName(cfg config) string {
	switch {
	case cfg.table != "":
		return cfg.table
	case cfg.layout != nil:
		return cfg.layout.Table
	}
	return schema.Spec.Table
}

// inspect identifies the server, reads the catalog of the change's tables and resolves the layout.
func (p *Provider) inspect(ctx context.Context, q dialect.Querier, cfg config) (*facts, error) {
	srv, err := p.d.Identify(ctx, q)
	if err != nil {
		var pe *dialect.ProblemError
		if errors.As(err, &pe) {
			return nil, &PreflightError{Problems: []Problem{problemFrom(pe.Problem)}}
		}
		return nil, p.readErr(ctx, "identifying the server", err)
	}
	return p.inspectOn(ctx, q, cfg, srv)
}

func (p *Provider) inspectOn(ctx context.Context, q dialect.Querier, cfg config, srv dialect.Server) (*facts, error) {
	table := p.tableName(cfg)
	n := schema.NamesFor(table)
	cat, err := p.d.Inspect(ctx, q, srv, []string{table, n.Archive, n.AuditLog, TargetTable})
	if err != nil {
		return nil, p.readErr(ctx, "reading the catalog", err)
	}
	if err := p.checkTable(ctx, q, cfg, srv, cat); err != nil {
		return nil, err
	}
	f := &facts{srv: srv, cat: cat}
	l, prob := resolveLayout(cfg, table, cat)
	f.layoutProblem = prob
	f.t = dialect.NewTarget(p.d, l, cat, cfg.extras...)
	return f, nil
}

func (p *Provider) readErr(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%w: %s: %v", ErrNoDatabase, what, p.serverError(err))
}

// resolveLayout picks the layout: the one WithLayout names (on WithTable's table), or the built-in one
// the existing table's columns match, or the spec's for a table that does not exist yet.
func resolveLayout(cfg config, table string, cat *dialect.Catalog) (schema.Layout, *Problem) {
	tbl := cat.Tables[table]
	if cfg.layout != nil {
		l := cfg.layout.WithTable(table)
		if tbl != nil {
			var missing []string
			for _, r := range schema.Roles {
				if c := l.Column(r); c != "" && tbl.Column(c) == nil {
					missing = append(missing, fmt.Sprintf("%s (%s)", c, r))
				}
			}
			if len(missing) > 0 {
				return l, &Problem{Err: ErrIncompatibleTable, Object: "table " + table,
					Message: "lacks the column(s) the layout maps: " + strings.Join(missing, ", ") + " (found: " + strings.Join(tbl.ColumnNames(), ", ") + ")",
					Fix:     "map the roles to the table's own columns (WithLayout(schema.Spec.Map(...)) or the command's -columns), then retry"}
			}
		}
		return l, nil
	}
	if tbl == nil {
		return schema.Spec.WithTable(table), nil
	}
	if l, ok := schema.Recognize(table, tbl.ColumnNames()); ok {
		return l, nil
	}
	var hints []string
	for _, l := range schema.Layouts {
		var missing []string
		for _, r := range schema.Roles {
			if c := l.Column(r); c != "" && !r.Optional() && tbl.Column(c) == nil {
				missing = append(missing, c)
			}
		}
		if len(missing) == 0 {
			hints = append(hints, l.Name+" (all its columns are there)")
		} else {
			hints = append(hints, l.Name+" lacks "+strings.Join(missing, ", "))
		}
	}
	return schema.Spec.WithTable(table), &Problem{Err: ErrIncompatibleTable, Object: "table " + table,
		Message: "matches no built-in layout exactly: " + strings.Join(hints, "; ") + " (found: " + strings.Join(tbl.ColumnNames(), ", ") + ")",
		Fix: "name the layout and map its roles to this table's columns: WithLayout(schema.Spec.Map(map[schema.Role]string{schema.RoleKey: \"...\", ...})), " +
			"or the command's -layout and -columns key=...,user=...,created=...,last_accessed=...,expires=...[,ip=...,active=...]"}
}

// latest is the newest version of the handle's step list.
func latest(cfg config) uint { return schema.Latest() + uint(len(cfg.extras)) }

// stepsOf lists the target's steps as the exported Step type.
func stepsOf(t dialect.Target) []Step {
	var out []Step
	for _, s := range t.Steps() {
		up, down := s.FileNames(t.Names.Table)
		out = append(out, Step{Version: s.Version, Name: s.Name(t.Names.Table), Up: up, Down: down, Long: s.Long()})
	}
	return out
}

// Steps lists the steps of the change on a table (the layout does not change the list).
func Steps(table string) []Step {
	var out []Step
	for _, s := range schema.Steps {
		up, down := s.FileNames(table)
		out = append(out, Step{Version: s.Version, Name: s.Name(table), Up: up, Down: down, Long: s.Long()})
	}
	return out
}

// securityPresent splits the security columns into those the table has and those it lacks.
func securityPresent(cat *dialect.Catalog, table string) (present []string, missing []schema.Column) {
	tbl := cat.Tables[table]
	for _, c := range schema.Change.Columns {
		if tbl.Column(c.Name) != nil {
			present = append(present, c.Name)
		} else {
			missing = append(missing, c)
		}
	}
	return present, missing
}

// ours reports evidence that the change was applied here: a security column, or one of its routines
// or triggers.
func (f *facts) ours() bool {
	present, _ := securityPresent(f.cat, f.t.Names.Table)
	if len(present) > 0 {
		return true
	}
	n := f.t.Names
	for _, name := range []string{n.HashFunction, n.Backfill, n.Cleanup, n.RiskUpdate, n.RetireHelper} {
		if f.cat.Routine(name) != nil {
			return true
		}
	}
	return slices.ContainsFunc(f.cat.Triggers, func(t *dialect.Trigger) bool {
		return t.Name == n.InsertTrigger || t.Name == n.UpdateTrigger
	})
}
