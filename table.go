package sessionsec

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// TargetTable is the table in which Migrate records which session table the change is on: one row per
// migrations table (migrations_table, session_table, layout). golang-migrate's version table holds
// nothing but a number, and the change's routines and audit log are one per schema, so the change can
// be on one session table at a time; every call checks that it is given that table. Users of the stock
// CLI can read it with SELECT * FROM sessionsec_session_table. A database the CLI (or an older release)
// migrated has no row; the change's triggers, named after their table, tell the table instead.
const TargetTable = "sessionsec_session_table"

// ErrWrongTable: the call is for another session table than the one the change is on, or, with no
// table named, the default table does not exist while a session table of a known layout does under
// another name. Nothing was changed. The *TableError says which table to name.
var ErrWrongTable = errors.New("sessionsec: wrong session table")

// TableError is a call refused because of the session table it would work on. Nothing was changed.
type TableError struct {
	// Requested is the table the call would have worked on; Default is true when it is the default
	// (no WithTable, no -table).
	Requested string
	Default   bool
	// On is the table the change is on ("" when it is on none): recorded in TargetTable, or found by
	// its triggers (Evidence says which).
	On       string
	Evidence string
	// Found are the tables of a known layout under other names, when the change is on none.
	Found []string
	// Fix is what to do.
	Fix string
}

func (e *TableError) Error() string {
	req := fmt.Sprintf("table %s", e.Requested)
	if e.Default {
		req += " (the default: no WithTable / -table given)"
	}
	if e.On != "" {
		return fmt.Sprintf("sessionsec: this call is for %s, but the session-security change is on table %s (%s); nothing was changed; fix: %s",
			req, e.On, e.Evidence, e.Fix)
	}
	if len(e.Found) > 0 {
		return fmt.Sprintf("sessionsec: %s does not exist, and the database has a session table of a known layout under another name: %s; nothing was changed; fix: %s",
			req, strings.Join(e.Found, ", "), e.Fix)
	}
	return fmt.Sprintf("sessionsec: this call is for %s, which does not exist, so the session-security change is not on it; nothing was changed; fix: %s", req, e.Fix)
}

// Unwrap makes errors.Is(err, ErrWrongTable) true.
func (e *TableError) Unwrap() error { return ErrWrongTable }

// explicitTable reports whether the caller named the session table (WithTable, or a layout on a table
// other than the default).
func explicitTable(cfg config) bool {
	return cfg.table != "" || (cfg.layout != nil && cfg.layout.Table != schema.Spec.Table)
}

func tableFix(table string) string {
	return fmt.Sprintf("WithTable(%q) (the command: -table %s)", table, table)
}

// checkTable refuses a call for another session table than the one the change is on, and a call that
// names no table on a database where the default table is missing but a session table of a known
// layout exists under another name: the change must never be put on (or taken off, or checked on) a
// table the caller did not mean.
func (p *Provider) checkTable(ctx context.Context, q dialect.Querier, cfg config, srv dialect.Server, cat *dialect.Catalog) error {
	requested := p.tableName(cfg)
	on, evidence, err := p.tableOn(ctx, q, cfg, cat)
	if err != nil {
		return err
	}
	if on != "" {
		if on == requested {
			return nil
		}
		return &TableError{Requested: requested, Default: !explicitTable(cfg), On: on, Evidence: evidence,
			Fix: fmt.Sprintf("pass %s to work on the table the change is on; to put the change on %s instead, first Rollback with %s",
				tableFix(on), requested, tableFix(on))}
	}
	if explicitTable(cfg) || cat.Tables[requested] != nil {
		return nil
	}
	cols, err := p.d.TableColumns(ctx, q, srv)
	if err != nil {
		return p.readErr(ctx, "listing the tables", err)
	}
	var found, names []string
	for _, name := range slices.Sorted(maps.Keys(cols)) {
		// The change's own copies of a session table (its archive, a rollback's retired copies) have
		// its columns: they are not candidates.
		if strings.HasSuffix(name, schema.Change.ArchiveSuffix) || strings.Contains(name, schema.Change.RetiredInfix) {
			continue
		}
		if l, ok := schema.Recognize(name, cols[name]); ok {
			found = append(found, fmt.Sprintf("%s (%s layout)", name, l.Name))
			names = append(names, name)
		}
	}
	if len(found) == 0 {
		return nil
	}
	fix := fmt.Sprintf("pass %s to put the change on it", tableFix(names[0]))
	if len(names) > 1 {
		var alts []string
		for _, n := range names {
			alts = append(alts, tableFix(n))
		}
		fix = "pass the table to put the change on: " + strings.Join(alts, " or ")
	}
	fix += fmt.Sprintf(", or WithTable(%q) (the command: -table %s) to create a new, empty %s table", requested, requested, requested)
	return &TableError{Requested: requested, Default: true, Found: found, Fix: fix}
}

// tableOn is the session table the change is on: the row in TargetTable for this migrations table
// (while the migrations table records a version), or else the table its triggers are on. The triggers
// win over a row that names another table: the stock CLI can take the change off one table and put it
// on another without knowing of the row.
func (p *Provider) tableOn(ctx context.Context, q dialect.Querier, cfg config, cat *dialect.Catalog) (table, evidence string, err error) {
	var triggered []string
	for _, tr := range cat.Triggers {
		n := schema.NamesFor(tr.Table)
		if (tr.Name == n.InsertTrigger || tr.Name == n.UpdateTrigger) && !slices.Contains(triggered, tr.Table) {
			triggered = append(triggered, tr.Table)
		}
	}
	if cat.Tables[TargetTable] != nil {
		// Triggers on a table another migrations table records as its own are that change's, not
		// evidence of where this one is (two session tables, each with its migrations table).
		others, err := p.tablesOfOthers(ctx, q, cfg)
		if err != nil {
			return "", "", err
		}
		triggered = slices.DeleteFunc(triggered, func(t string) bool { return others[t] })
		st, verr := p.d.ReadVersion(ctx, q, cfg.migrationsTable)
		// A row left behind while nothing is applied (a crash before the first step, a rollback by the
		// stock CLI) records nothing.
		if verr != nil || st.HasVersion || st.Dirty {
			rec, ok, err := p.readTarget(ctx, q, cfg)
			if err != nil {
				return "", "", err
			}
			if ok && (len(triggered) != 1 || triggered[0] == rec) {
				return rec, "recorded in " + TargetTable + " for migrations table " + cfg.migrationsTable, nil
			}
		}
	}
	if len(triggered) == 1 {
		return triggered[0], "its triggers are on it", nil
	}
	return "", "", nil
}

// tablesOfOthers is the set of session tables recorded for other migrations tables than cfg's.
func (p *Provider) tablesOfOthers(ctx context.Context, q dialect.Querier, cfg config) (map[string]bool, error) {
	others, err := dialect.NameSet(ctx, q, fmt.Sprintf("SELECT %s FROM %s WHERE %s <> %s",
		p.d.Quote("session_table"), p.d.Quote(TargetTable), p.d.Quote("migrations_table"), p.d.Param(1)), cfg.migrationsTable)
	if err != nil {
		return nil, p.readErr(ctx, "reading "+TargetTable, err)
	}
	return others, nil
}

// readTarget reads the session table recorded for the migrations table; ok is false when there is no
// row. The caller knows that TargetTable exists.
func (p *Provider) readTarget(ctx context.Context, q dialect.Querier, cfg config) (string, bool, error) {
	var table string
	err := q.QueryRowContext(ctx, fmt.Sprintf("SELECT %s FROM %s WHERE %s = %s",
		p.d.Quote("session_table"), p.d.Quote(TargetTable), p.d.Quote("migrations_table"), p.d.Param(1)), cfg.migrationsTable).Scan(&table)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, p.readErr(ctx, "reading "+TargetTable, err)
	}
	return table, true, nil
}

// writeTarget records the session table the change is being put on, before its first step runs (under
// the migration lock).
func (p *Provider) writeTarget(ctx context.Context, conn *sql.Conn, cfg config, t dialect.Target) error {
	q := p.d.Quote
	create := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s VARCHAR(64) NOT NULL PRIMARY KEY, %s VARCHAR(64) NOT NULL, %s TEXT NOT NULL)",
		q(TargetTable), q("migrations_table"), q("session_table"), q("layout"))
	if _, err := conn.ExecContext(ctx, create); err != nil {
		return p.readErr(ctx, "creating "+TargetTable, err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return p.readErr(ctx, "recording the session table", err)
	}
	defer func() { _ = tx.Rollback() }()
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE %s = %s", q(TargetTable), q("migrations_table"), p.d.Param(1)),
		cfg.migrationsTable); err != nil {
		return p.readErr(ctx, "recording the session table", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s (%s, %s, %s) VALUES (%s, %s, %s)", q(TargetTable),
		q("migrations_table"), q("session_table"), q("layout"), p.d.Param(1), p.d.Param(2), p.d.Param(3)),
		cfg.migrationsTable, t.Names.Table, t.Layout.String()); err != nil {
		return p.readErr(ctx, "recording the session table", err)
	}
	if err := tx.Commit(); err != nil {
		return p.readErr(ctx, "recording the session table", err)
	}
	return nil
}

// clearTarget forgets the session table once the change is rolled back completely, and drops
// TargetTable when no other migrations table has a row in it.
func (p *Provider) clearTarget(ctx context.Context, conn *sql.Conn, cfg config, cat *dialect.Catalog) error {
	if cat.Tables[TargetTable] == nil {
		return nil
	}
	q := p.d.Quote
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("DELETE FROM %s WHERE %s = %s", q(TargetTable), q("migrations_table"), p.d.Param(1)),
		cfg.migrationsTable); err != nil {
		return p.readErr(ctx, "clearing "+TargetTable, err)
	}
	var left int
	if err := conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+q(TargetTable)).Scan(&left); err != nil {
		return p.readErr(ctx, "counting "+TargetTable, err)
	}
	if left == 0 {
		if _, err := conn.ExecContext(ctx, p.d.DropTable(TargetTable)); err != nil {
			return p.readErr(ctx, "dropping "+TargetTable, err)
		}
	}
	return nil
}

// targetOnFast is the start-up fast path's check, without the lock: nil when the call is for the
// table the change is on. It reads TargetTable (one query); a database without it (migrated by the
// stock CLI or an older release) is checked by its catalog, on the pool, read-only.
func (p *Provider) targetOnFast(ctx context.Context, cfg config) error {
	var table string
	err := p.db.QueryRowContext(ctx, fmt.Sprintf("SELECT %s FROM %s WHERE %s = %s",
		p.d.Quote("session_table"), p.d.Quote(TargetTable), p.d.Quote("migrations_table"), p.d.Param(1)), cfg.migrationsTable).Scan(&table)
	if err == nil && table == p.tableName(cfg) {
		return nil
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	_, err = p.inspect(ctx, p.db, cfg)
	return err
}
