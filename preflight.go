package sessionsec

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// Preflight checks, without changing anything, whether Migrate can run on db, and returns a
// *PreflightError listing every problem found (nil when there are none): unsupported server, an existing
// sessions table the triggers cannot work with, objects that carry our names with other definitions,
// missing privileges, MySQL's binary-log restriction on routines (error 1419), a read-only server, and a
// migrations table that belongs to another migration set or to a newer binary. Migrate runs it first
// whenever it has work to do.
func Preflight(ctx context.Context, db *sql.DB, opts ...Option) error {
	t, err := resolve(ctx, db, opts)
	if err != nil {
		return err
	}
	p, err := loadPlan(t.d.Name())
	if err != nil {
		return err
	}
	st, err := t.readVersion(ctx, db)
	if err != nil {
		return &PreflightError{Problems: []Problem{{Err: ErrForeignMigrations, Object: "table " + t.cfg.table,
			Message: err.Error(), Fix: "point WithMigrationsTable (and the CLI's x-migrations-table) at a table of its own"}}}
	}
	return t.checkPreflight(ctx, db, p, st)
}

func (t *target) checkPreflight(ctx context.Context, q dialect.Querier, p *plan, st dialect.VersionState) error {
	problems, err := t.preflight(ctx, q, p, st)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return &PreflightError{Problems: problems}
	}
	return nil
}

// preflight gathers problems; err is only for failures to look (connection lost, ctx done).
func (t *target) preflight(ctx context.Context, q dialect.Querier, p *plan, st dialect.VersionState) ([]Problem, error) {
	var problems []Problem
	if _, err := t.d.Identify(ctx, q); err != nil {
		var pe *dialect.ProblemError
		if errors.As(err, &pe) {
			return []Problem{problemFrom(pe.Problem)}, nil // nothing else is meaningful on an unsupported server
		}
		return nil, fmt.Errorf("%w: identifying the server: %w", ErrNoDatabase, err)
	}
	snap, err := t.d.Snapshot(ctx, q, tableNames(schema.Expected))
	if err != nil {
		return nil, fmt.Errorf("%w: reading the catalog: %w", ErrNoDatabase, err)
	}
	for _, dp := range t.d.Preflight(ctx, q, schema.Expected, snap) {
		problems = append(problems, problemFrom(dp))
	}
	problems = append(problems, t.versionProblems(p, st, snap)...)
	return problems, nil
}

// versionProblems tells our migrations table from another set's and from a newer binary's.
func (t *target) versionProblems(p *plan, st dialect.VersionState, snap *dialect.Snapshot) []Problem {
	if !st.HasVersion {
		return nil
	}
	ours := hasSecurityColumns(snap)
	table := "table " + t.cfg.table
	switch {
	case p.index(st.Version) >= 0 && (st.Version == p.steps[0].Version || ours || st.Dirty):
		// ours; a dirty version of ours is an interrupted step that Migrate finishes
		return nil
	case st.Version > p.latest() && ours:
		if t.cfg.allowAhead {
			return nil
		}
		return []Problem{{Err: ErrDatabaseAhead, Object: table,
			Message: fmt.Sprintf("the database is at version %d; this binary knows versions up to %d", st.Version, p.latest()),
			Fix:     "deploy the newer binary, or pass WithAllowDatabaseAhead() to start without migrating"}}
	default:
		return []Problem{{Err: ErrForeignMigrations, Object: table,
			Message: fmt.Sprintf("it records version %d, but the session-security columns are not there: it belongs to another migration set", st.Version),
			Fix:     "give this migration set its own table: WithMigrationsTable(\"sessionsec_schema_migrations\") and x-migrations-table=sessionsec_schema_migrations for the CLI"}}
	}
}

func hasSecurityColumns(snap *dialect.Snapshot) bool {
	t := snap.Tables[schema.Expected.Sessions]
	if t == nil {
		return false
	}
	for _, c := range schema.Expected.SecurityColumns {
		if t.Column(c.Name) != nil {
			return true
		}
	}
	return false
}

func tableNames(s schema.Schema) []string {
	names := []string{s.Sessions}
	for _, t := range s.Tables {
		names = append(names, t.Name)
	}
	return names
}
