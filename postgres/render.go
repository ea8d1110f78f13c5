package postgres

import (
	"fmt"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// columnTypes maps each logical type to the PostgreSQL type the change creates. The only place the
// PostgreSQL type names live.
var columnTypes = map[schema.Type]string{
	schema.TypeSessionID: "varchar(255)",
	schema.TypeTimestamp: "timestamptz",
	schema.TypeHash:      "char(64)",
	schema.TypeKeyID:     "varchar(128)",
	schema.TypeVersion:   "integer",
	schema.TypeRiskScore: "smallint",
	schema.TypeAuditID:   "bigint",
	schema.TypeAction:    "varchar(64)",
	schema.TypeDetails:   "jsonb",
}

// ColumnType is the concrete type of a logical type.
func (Dialect) ColumnType(t schema.Type) string { return columnTypes[t] }

var defaults = map[schema.Default]string{
	schema.DefaultOne: "1", schema.DefaultZero: "0", schema.DefaultNow: "now()", schema.DefaultTrue: "true",
}

// schemaMark stands for the schema in routine bodies; the files replace it with
// quote_ident(current_schema()) when they run (bind), so that every reference is qualified.
const schemaMark = "@schema@"

// bind wraps DDL whose bodies name the schema: each statement runs through EXECUTE with the mark
// replaced, so the objects are tied to the schema they are created in, by the stock CLI as by the library.
func bind(ddl ...string) string {
	var b strings.Builder
	b.WriteString("DO $sessionsec$\nBEGIN\n")
	for _, d := range ddl {
		b.WriteString("    EXECUTE pg_catalog.replace($ddl$\n" + d + "\n$ddl$, '" + schemaMark + "', pg_catalog.quote_ident(pg_catalog.current_schema()));\n")
	}
	b.WriteString("END\n$sessionsec$;")
	return b.String()
}

// Render writes a step's files. A file is one implicit transaction, except that CREATE INDEX
// CONCURRENTLY and the backfill CALL (which commits per batch) sit alone in theirs, as PostgreSQL
// requires.
func (d Dialect) Render(t dialect.Target, step schema.Step) (dialect.Files, error) {
	r := renderer{t: t}
	n := t.Names
	tbl := quote(n.Table)
	switch step.Kind {
	case schema.StepCreateTable:
		return dialect.Files{
			Up: "-- The session table for a fresh database (" + t.Layout.Name + " layout), with its indexes. An existing table is\n" +
				"-- kept as it is: nothing here touches it.\n" + r.createTable(),
			Down: "-- Never drop the session table: it holds the application's data and may predate this change.\nSELECT 1;",
		}, nil
	case schema.StepAddColumns:
		return dialect.Files{
			Up: "-- The security columns, constant defaults only (metadata-only, no rewrite); the risk range check is added\n" +
				"-- NOT VALID (no scan, enforced for new rows) and validated by step 3. Existing columns are kept.\n" + r.addColumns(),
			Down: "-- Remove the security columns and the risk check (step 5's down has copied their data away). DROP COLUMN\n" +
				"-- is metadata-only.\n" + r.dropColumns(),
		}, nil
	case schema.StepValidateCheck:
		return dialect.Files{
			Up: "-- Validate the NOT VALID risk check in its own step: VALIDATE takes only SHARE UPDATE EXCLUSIVE, so reads and\n" +
				"-- writes go on while existing rows are scanned. Validating again is a no-op.\n" +
				fmt.Sprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s;", tbl, quote(n.RiskCheck)),
			Down: "-- Nothing to undo: step 2's down drops the constraint.\nSELECT 1;",
		}, nil
	case schema.StepRoutine:
		defs := r.routines(step.Routine)
		var up, down []string
		for _, rt := range defs {
			up = append(up, rt.create())
			down = append(down, rt.drop())
		}
		return dialect.Files{
			Up:   "-- " + schema.Change.Routine(step.Routine).Doc + ".\n" + bind(up...),
			Down: "-- Part of this change only.\n" + strings.Join(down, "\n"),
		}, nil
	case schema.StepKeepSecurityData:
		return dialect.Files{
			Up: "-- Nothing to do going up: this step exists for its down, which runs just before the security columns go.\nSELECT 1;",
			Down: "-- Keep the security data before step 2's down drops the columns: copy it to " + n.SecurityCopy + "<UTC ts>.\n" +
				"CALL " + n.RetireHelper + "('" + n.Table + "');",
		}, nil
	case schema.StepTrigger:
		fn, trig := r.trigger(*step.Trigger, step.Rev())
		if prev, ok := schema.PreviousRevision(t.Steps(), step); ok {
			// Only the trigger's function changes: CREATE OR REPLACE FUNCTION swaps the body atomically
			// (no table lock, no moment without it); the trigger itself stays.
			old, _ := r.trigger(*prev.Trigger, prev.Rev())
			return dialect.Files{
				Up:   "-- " + dialect.RevisionDoc(r.t, step) + "\n" + bind(fn.create()),
				Down: fmt.Sprintf("-- Back to step %d's definition of the function; every column value (the seals included) stays.\n", prev.Version) + bind(old.create()),
			}, nil
		}
		return dialect.Files{
			Up: "-- " + trig.doc + "\n" + bind(fn.create()) + "\n" +
				fmt.Sprintf("DROP TRIGGER IF EXISTS %s ON %s;\n", quote(trig.name), tbl) + trig.create(),
			Down: "-- The trigger before the function it calls.\n" + fmt.Sprintf("DROP TRIGGER IF EXISTS %s ON %s;\n", quote(trig.name), tbl) + fn.drop(),
		}, nil
	case schema.StepBackfill:
		return dialect.Files{
			Up: "-- Fill pre-existing rows. Alone in its file: the procedure COMMITs per batch, which works only outside a\n" +
				"-- transaction block. Safe to re-run: it skips filled rows.\n" +
				fmt.Sprintf("CALL %s(%d);", n.Backfill, schema.Change.BackfillBatch),
			Down: "-- Nothing to undo: the values go away with the columns (after step 5's down kept a copy).\nSELECT 1;",
		}, nil
	case schema.StepIndex:
		ix := step.Index
		name := n.Index(*ix)
		where := ""
		if ix.Partial != nil {
			where = " WHERE " + dialect.Predicate(quote, *ix.Partial)
		}
		return dialect.Files{
			Up: "-- Built online (CONCURRENTLY: no write lock; alone in its file), after the backfill. A cut-off build leaves an\n" +
				"-- INVALID index, which the library drops before it builds again.\n" +
				fmt.Sprintf("CREATE INDEX CONCURRENTLY IF NOT EXISTS %s ON %s (%s)%s;", quote(name), tbl, dialect.QuoteList(quote, ix.Columns), where),
			Down: "-- Dropped without blocking writes (alone in its file).\n" + fmt.Sprintf("DROP INDEX CONCURRENTLY IF EXISTS %s;", quote(name)),
		}, nil
	case schema.StepAuditLog:
		return dialect.Files{
			Up: "-- The security audit log, written by the maintenance routines. New and empty: plain CREATE INDEX is fine.\n" + r.createAuditLog(),
			Down: "-- Never lose security history: a non-empty audit log becomes " + n.AuditLog + "_retired_<UTC ts>; an empty one goes.\n" +
				"CALL " + n.RetireHelper + "('" + n.AuditLog + "');",
		}, nil
	case schema.StepArchive:
		return dialect.Files{
			Up: "-- The archive, with the columns of the session table (created after the security columns exist).\n" +
				fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (LIKE %s INCLUDING DEFAULTS);", quote(n.Archive), tbl),
			Down: "-- Never lose archived sessions: a non-empty archive becomes " + n.Archive + "_retired_<UTC ts>; an empty one goes.\n" +
				"CALL " + n.RetireHelper + "('" + n.Archive + "');",
		}, nil
	case schema.StepExtra:
		return dialect.Files{Up: step.Extra.Up[d.Name()], Down: step.Extra.Down[d.Name()]}, nil
	}
	return dialect.Files{}, fmt.Errorf("postgres: no rendering for step %d", step.Version)
}

func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func columnDef(c schema.Column) string {
	s := quote(c.Name) + " " + columnTypes[c.Type]
	if c.Nullable {
		s += " NULL"
	} else {
		s += " NOT NULL"
	}
	if d, ok := defaults[c.Default]; ok {
		s += " DEFAULT " + d
	}
	return s
}

// renderer holds the expressions every routine and trigger shares, written once for the target's
// columns and their families.
type renderer struct{ t dialect.Target }

func (r renderer) col(role schema.Role) string { return quote(r.t.Col(role)) }

// tbl is the session table, schema-qualified, inside a bound body.
func (r renderer) tbl() string { return schemaMark + "." + quote(r.t.Names.Table) }

func (r renderer) createTable() string {
	l := r.t.Layout
	lines := dialect.BaseTableLines(l, "postgres", quote, dialect.NotNullDefault(defaults))
	create := fmt.Sprintf("CREATE TABLE %s (\n%s\n)", quote(l.Table), strings.Join(lines, ",\n"))
	if len(l.BaseIndexes()) == 0 {
		return strings.Replace(create, "CREATE TABLE ", "CREATE TABLE IF NOT EXISTS ", 1) + ";"
	}
	// The table's own indexes only with a table this step creates: a plain CREATE INDEX on an existing
	// big table would block its writers.
	var b strings.Builder
	b.WriteString("DO $sessionsec$\nBEGIN\n    IF pg_catalog.to_regclass(" + literal(quote(l.Table)) + ") IS NULL THEN\n")
	b.WriteString(dialect.Indent(create+";", "        "))
	for _, ix := range l.BaseIndexes() {
		where := ""
		if ix.WhereActive {
			where = " WHERE " + quote(l.Column(schema.RoleActive)) + " = true"
		}
		b.WriteString(fmt.Sprintf("        CREATE INDEX %s ON %s (%s)%s;\n", quote(ix.Name("postgres", l.Table)), quote(l.Table), dialect.QuoteList(quote, ix.ColumnsIn(l)), where))
	}
	b.WriteString("    END IF;\nEND\n$sessionsec$;")
	return b.String()
}

func (r renderer) addColumns() string {
	n := r.t.Names
	var b strings.Builder
	fmt.Fprintf(&b, "ALTER TABLE %s", quote(n.Table))
	for i, c := range schema.Change.Columns {
		sep := ","
		if i == len(schema.Change.Columns)-1 {
			sep = ";"
		}
		fmt.Fprintf(&b, "\n    ADD COLUMN IF NOT EXISTS %s%s", columnDef(c), sep)
	}
	b.WriteString("\n\n")
	for _, c := range schema.Change.Columns {
		fmt.Fprintf(&b, "COMMENT ON COLUMN %s.%s IS %s;\n", quote(n.Table), quote(c.Name), literal(c.Comment))
	}
	fmt.Fprintf(&b, `
DO $sessionsec$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint
                   WHERE conrelid = pg_catalog.to_regclass(%s) AND conname = %s) THEN
        ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s) NOT VALID;
    END IF;
END
$sessionsec$;`, literal(quote(n.Table)), literal(n.RiskCheck), quote(n.Table), quote(n.RiskCheck), riskCheck())
	return b.String()
}

func riskCheck() string {
	rr := schema.Change.Risk
	return fmt.Sprintf("%s >= %d AND %s <= %d", rr.Column, rr.Min, rr.Column, rr.Max)
}

func (r renderer) dropColumns() string {
	n := r.t.Names
	var b strings.Builder
	fmt.Fprintf(&b, "ALTER TABLE %s\n    DROP CONSTRAINT IF EXISTS %s", quote(n.Table), quote(n.RiskCheck))
	for i := len(schema.Change.Columns) - 1; i >= 0; i-- {
		fmt.Fprintf(&b, ",\n    DROP COLUMN IF EXISTS %s", quote(schema.Change.Columns[i].Name))
	}
	return b.String() + ";"
}

func (r renderer) createAuditLog() string {
	var lines []string
	for _, c := range schema.Change.AuditColumns {
		if c.Type == schema.TypeAuditID {
			lines = append(lines, "    "+quote(c.Name)+" bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY")
			continue
		}
		lines = append(lines, "    "+columnDef(c))
	}
	s := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n%s\n);\n", quote(schema.Change.AuditLog), strings.Join(lines, ",\n"))
	for _, ix := range schema.Change.AuditIndexes {
		s += fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s);\n", quote(ix.Name), quote(schema.Change.AuditLog), dialect.QuoteList(quote, ix.Columns))
	}
	return strings.TrimSuffix(s, "\n")
}

// text is how a key or user value enters the hash: text as it is, bytea as the hex of its bytes (never
// through bytea_output), anything else (uuid, integers) as its text form.
func (r renderer) text(ref string, role schema.Role) string {
	c := ref + r.col(role)
	switch r.t.RoleKind(role) {
	case dialect.FamText:
		return c
	case dialect.FamBinary:
		return "pg_catalog.encode(" + c + ", 'hex')"
	}
	return c + "::text"
}

// epoch is E(created): whole seconds since the epoch, rounded down. date_trunc first, so that the
// epoch of a whole second is exact even where EXTRACT returns double precision (PostgreSQL 12, 13);
// extract of a timestamp without time zone reads it as UTC. Infinite values hash like NULL. A date is
// cast to timestamp (its midnight, read as UTC) first: date_trunc would otherwise take it as a
// timestamptz at midnight in the session's TimeZone, and the hash would depend on the writer's zone.
func (r renderer) epoch(ref string) string {
	c := ref + r.col(schema.RoleCreated)
	if r.t.Types[r.t.Col(schema.RoleCreated)] == "date" {
		c = "(" + c + ")::timestamp"
	}
	return "CASE WHEN pg_catalog.isfinite(" + c + ") THEN EXTRACT(epoch FROM pg_catalog.date_trunc('second', " + c + "))::bigint END"
}

func (r renderer) hash(ref string) string {
	return fmt.Sprintf("%s.%s(%s, %s, %s)", schemaMark, r.t.Names.HashFunction, r.text(ref, schema.RoleKey), r.text(ref, schema.RoleUser), r.epoch(ref))
}

// ipHash is created_ip_hash of the row: the helper canonicalizes text and inet alike.
func (r renderer) ipHash(ref string) string {
	c := ref + r.col(schema.RoleIP)
	switch r.t.RoleKind(schema.RoleIP) {
	case dialect.FamInet:
		c = "pg_catalog.host(" + c + ")"
	case dialect.FamText:
	default:
		c += "::text"
	}
	return schemaMark + "." + ipHashFunction + "(" + c + ")"
}

// now is the current time for a column: an instant for timestamptz, the UTC wall clock for a
// timestamp without time zone (the convention the hash reads it with).
func (r renderer) now(column string) string {
	if r.t.Kind(column) == dialect.FamWallClock {
		return "(pg_catalog.now() AT TIME ZONE 'UTC')"
	}
	return "pg_catalog.now()"
}

// nowVar is the routines' variable holding the current time for a column of that family.
func (r renderer) nowVar(column string) string {
	if r.t.Kind(column) == dialect.FamWallClock {
		return "v_now_utc"
	}
	return "v_now"
}
