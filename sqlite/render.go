package sqlite

import (
	"fmt"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// columnTypes maps each logical type to the SQLite type the change declares. SQLite has no column
// comments: the comments in the files are the documentation.
var columnTypes = map[schema.Type]string{
	schema.TypeSessionID: "TEXT",
	schema.TypeTimestamp: "TEXT",
	schema.TypeHash:      "TEXT",
	schema.TypeKeyID:     "TEXT",
	schema.TypeVersion:   "INTEGER",
	schema.TypeRiskScore: "INTEGER",
	schema.TypeAuditID:   "INTEGER",
	schema.TypeAction:    "TEXT",
	schema.TypeDetails:   "TEXT",
}

// ColumnType is the declared type of a logical type.
func (Dialect) ColumnType(t schema.Type) string { return columnTypes[t] }

var defaults = map[schema.Default]string{
	schema.DefaultOne: "1", schema.DefaultZero: "0", schema.DefaultNow: "CURRENT_TIMESTAMP", schema.DefaultTrue: "1",
}

// noop is a file with nothing to do (SQLite has no stored routines; the Go functions stand in).
const noop = "SELECT 1;"

// Render writes a step's files. golang-migrate's sqlite driver runs each file in one transaction, and
// SQLite's DDL is transactional: every file is all or nothing.
func (d Dialect) Render(t dialect.Target, step schema.Step) (dialect.Files, error) {
	r := renderer{t: t}
	n := t.Names
	switch step.Kind {
	case schema.StepCreateTable:
		return dialect.Files{
			Up:   "-- The session table for a fresh database (" + t.Layout.Name + " layout). An existing table is kept as it is.\n" + r.createTable(),
			Down: "-- Never drop the session table: it holds the application's data and may predate this change.\n" + noop,
		}, nil
	case schema.StepAddColumns:
		return dialect.Files{
			Up: "-- The security columns, in one transaction: all six or none. security_version's ON CONFLICT REPLACE makes an\n" +
				"-- explicit NULL take the default (an AFTER trigger would come too late for NOT NULL); the risk range is a\n" +
				"-- column CHECK, checked against the existing rows when the column is added.\n" + d.addColumns(t, schema.Change.Columns),
			Down: "-- Drop the security columns (step 5's down copied their data away; the indexes and triggers on them are gone).\n" +
				dropColumns(t, schema.Change.ColumnNames()),
		}, nil
	case schema.StepValidateCheck, schema.StepRoutine:
		return dialect.Files{
			Up:   "-- Nothing to do on SQLite: the range is a column CHECK, and the routines are Go functions of package sqlite.\n" + noop,
			Down: "-- Nothing to undo.\n" + noop,
		}, nil
	case schema.StepKeepSecurityData:
		return dialect.Files{
			Up:   "-- Nothing to do going up: this step exists for its down, which runs just before the security columns go.\n" + noop,
			Down: "-- Keep the security data before step 2's down drops the columns. SQLite cannot compute a table name, so the copy\n-- goes to one table with a retired_at column: every rollback appends.\n" + r.keepSecurityData(),
		}, nil
	case schema.StepTrigger:
		name, create := r.trigger(*step.Trigger, step.Rev())
		if prev, ok := schema.PreviousRevision(t.Steps(), step); ok {
			_, old := r.trigger(*prev.Trigger, prev.Rev())
			return dialect.Files{
				Up: "-- " + dialect.RevisionDoc(r.t, step) + "\n-- Replaced in this file's transaction: writers never run without the trigger.\nDROP TRIGGER IF EXISTS " +
					quote(name) + ";\n" + create + ";",
				Down: fmt.Sprintf("-- Back to step %d's definition; every column value (the seals included) stays.\nDROP TRIGGER IF EXISTS %s;\n%s;",
					prev.Version, quote(name), old),
			}, nil
		}
		return dialect.Files{
			Up:   "-- " + r.triggerDoc(*step.Trigger) + "\nDROP TRIGGER IF EXISTS " + quote(name) + ";\n" + create + ";",
			Down: "-- The trigger goes before the columns it uses.\nDROP TRIGGER IF EXISTS " + quote(name) + ";",
		}, nil
	case schema.StepBackfill:
		return dialect.Files{
			Up: "-- Fill pre-existing rows, in this file's transaction (SQLite has one writer at a time: other writers wait for\n" +
				"-- it, for their busy timeout). Idempotent: it only touches rows still missing a value.\n" +
				fmt.Sprintf("UPDATE %s SET\n    %s\nWHERE %s;", quote(n.Table), r.backfillSet(), r.backfillPending()),
			Down: "-- Nothing to undo: the values go away with the columns (after step 5's down kept a copy).\n" + noop,
		}, nil
	case schema.StepIndex:
		ix := step.Index
		where := ""
		if ix.Partial != nil {
			where = "\n    WHERE " + dialect.Predicate(quote, *ix.Partial)
		}
		name := n.Index(*ix)
		return dialect.Files{
			Up:   "-- Built after the backfill.\n" + fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)%s;", quote(name), quote(n.Table), dialect.QuoteList(quote, ix.Columns), where),
			Down: "-- Before the columns it covers go.\n" + fmt.Sprintf("DROP INDEX IF EXISTS %s;", quote(name)),
		}, nil
	case schema.StepAuditLog:
		return dialect.Files{
			Up:   "-- The security audit log; details holds JSON text.\n" + createAuditLog(),
			Down: "-- Never lose security history: every row is appended to " + n.AuditLog + "_retired (with retired_at), then the log goes.\n" + retireTable(n.AuditLog, auditColumnNames()),
		}, nil
	case schema.StepArchive:
		return dialect.Files{
			Up: "-- The archive, with the columns of the session table (CREATE TABLE ... AS SELECT copies names, order and type\n" +
				"-- affinity, no constraints: the archive only receives rows copied from the table).\n" +
				fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s AS SELECT * FROM %s WHERE 0;", quote(n.Archive), quote(n.Table)),
			Down: "-- Never lose archived sessions: every row is appended to " + n.Archive + "_retired (with retired_at), then the archive goes.\n" + retireArchive(n.Archive),
		}, nil
	case schema.StepExtra:
		return dialect.Files{Up: step.Extra.Up[d.Name()], Down: step.Extra.Down[d.Name()]}, nil
	}
	return dialect.Files{}, fmt.Errorf("sqlite: no rendering for step %d", step.Version)
}

func columnDef(c schema.Column) string {
	s := quote(c.Name) + " " + columnTypes[c.Type]
	if !c.Nullable {
		s += " NOT NULL"
	}
	if c.Name == "security_version" {
		s += " ON CONFLICT REPLACE"
	}
	if d, ok := defaults[c.Default]; ok {
		s += " DEFAULT " + d
	}
	return s
}

func (Dialect) addColumns(t dialect.Target, cols []schema.Column) string {
	var b strings.Builder
	for i, c := range cols {
		if i > 0 {
			b.WriteString("\n")
		}
		def := columnDef(c)
		if c.Name == schema.Change.Risk.Column {
			def += "\n    CONSTRAINT " + quote(t.Names.RiskCheck) + " CHECK (" + riskCheck() + ")"
		}
		fmt.Fprintf(&b, "-- %s: %s\nALTER TABLE %s ADD COLUMN %s;", c.Name, c.Comment, quote(t.Names.Table), def)
	}
	return b.String()
}

func riskCheck() string {
	rr := schema.Change.Risk
	return fmt.Sprintf("%s >= %d AND %s <= %d", quote(rr.Column), rr.Min, quote(rr.Column), rr.Max)
}

func dropColumns(t dialect.Target, cols []string) string {
	var out []string
	for i := len(cols) - 1; i >= 0; i-- {
		out = append(out, fmt.Sprintf("ALTER TABLE %s DROP COLUMN %s;", quote(t.Names.Table), quote(cols[i])))
	}
	return strings.Join(out, "\n")
}

func createAuditLog() string {
	var lines []string
	for _, c := range schema.Change.AuditColumns {
		if c.Type == schema.TypeAuditID {
			lines = append(lines, "    "+quote(c.Name)+" INTEGER PRIMARY KEY")
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

func auditColumnNames() []string {
	var out []string
	for _, c := range schema.Change.AuditColumns {
		out = append(out, c.Name)
	}
	return out
}

// retireTable appends every row of table to <table>_retired (same columns plus retired_at) and drops it.
func retireTable(table string, cols []string) string {
	retired := quote(table + strings.TrimSuffix(schema.Change.RetiredInfix, "_"))
	var defs []string
	for _, c := range cols {
		defs = append(defs, "    "+quote(c))
	}
	defs = append(defs, "    \"retired_at\" TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP")
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n%s\n);\nINSERT INTO %s (%s, \"retired_at\")\nSELECT %s, CURRENT_TIMESTAMP FROM %s;\nDROP TABLE %s;",
		retired, strings.Join(defs, ",\n"), retired, dialect.QuoteList(quote, cols), dialect.QuoteList(quote, cols), quote(table), quote(table))
}

// retireArchive is retireTable for the archive, whose columns are whatever the session table had.
func retireArchive(table string) string {
	retired := quote(table + strings.TrimSuffix(schema.Change.RetiredInfix, "_"))
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s AS SELECT *, CURRENT_TIMESTAMP AS \"retired_at\" FROM %s WHERE 0;\n"+
		"INSERT INTO %s SELECT *, CURRENT_TIMESTAMP FROM %s;\nDROP TABLE %s;", retired, quote(table), retired, quote(table), quote(table))
}

// renderer holds the expressions the triggers and the backfill share, written once for the target.
type renderer struct{ t dialect.Target }

func (r renderer) col(role schema.Role) string { return quote(r.t.Col(role)) }

func (r renderer) createTable() string {
	l := r.t.Layout
	lines := dialect.BaseTableLines(l, "sqlite", quote, dialect.NotNullDefault(defaults))
	s := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n%s\n);", quote(l.Table), strings.Join(lines, ",\n"))
	for _, ix := range l.BaseIndexes() {
		where := ""
		if ix.WhereActive {
			where = " WHERE " + quote(l.Column(schema.RoleActive)) + " = 1"
		}
		s += fmt.Sprintf("\nCREATE INDEX IF NOT EXISTS %s ON %s (%s)%s;", quote(ix.Name("sqlite", l.Table)), quote(l.Table), dialect.QuoteList(quote, ix.ColumnsIn(l)), where)
	}
	return s
}

func (r renderer) text(role schema.Role) string {
	if r.t.RoleKind(role) == dialect.FamBinary {
		return "lower(hex(" + r.col(role) + "))"
	}
	return r.col(role)
}

func (r renderer) hash() string {
	return fmt.Sprintf("%s(%s, %s, %s(%s))", HashFunction, r.text(schema.RoleKey), r.text(schema.RoleUser), EpochFunction, r.col(schema.RoleCreated))
}

func (r renderer) ipHash() string { return IPHashFunction + "(" + r.col(schema.RoleIP) + ")" }

// fills lists the security columns the insert trigger and the backfill fill, with their values.
func (r renderer) fills(backfill, ipHash bool) []string {
	sets := []string{`"security_hash" = COALESCE("security_hash", ` + r.hash() + ")"}
	if backfill {
		sets = append(sets, `"encryption_key_id" = COALESCE("encryption_key_id", `+literal(schema.Change.DefaultKeyID)+")")
	}
	sets = append(sets, `"last_validated_at" = COALESCE("last_validated_at", CURRENT_TIMESTAMP)`)
	if ipHash && r.t.Has(schema.RoleIP) {
		sets = append(sets, `"created_ip_hash" = COALESCE("created_ip_hash", `+r.ipHash()+")")
	}
	return sets
}

func (r renderer) backfillSet() string { return strings.Join(r.fills(true, true), ",\n    ") }

func (r renderer) backfillPending() string {
	if r.t.Has(schema.RoleIP) {
		return `"security_hash" IS NULL OR ("created_ip_hash" IS NULL AND ` + r.col(schema.RoleIP) + ` IS NOT NULL)`
	}
	return `"security_hash" IS NULL`
}

func (r renderer) triggerDoc(tr schema.Trigger) string {
	if tr.Event == schema.Insert {
		return "New rows: SQLite triggers cannot assign NEW, so this AFTER trigger updates the row by rowid, filling only\n" +
			"-- what the application left NULL. Neither trigger's UPDATE touches " + r.t.Col(schema.RoleLastAccessed) + ", so neither fires the other."
	}
	return "Updates: a NULL-safe change of " + r.t.Col(schema.RoleLastAccessed) + " (IS NOT) refreshes last_validated_at."
}

// trigger returns the trigger's name and its CREATE statement at revision rev, which is what
// sqlite_master keeps. From schema.RevisionKeyedIP on, the insert trigger leaves created_ip_hash alone.
func (r renderer) trigger(tr schema.Trigger, rev uint) (string, string) {
	n := r.t.Names
	name := n.Trigger(tr)
	if tr.Event == schema.Insert {
		ipHash := rev < schema.RevisionKeyedIP
		when := `NEW."security_hash" IS NULL OR NEW."last_validated_at" IS NULL`
		if ipHash && r.t.Has(schema.RoleIP) {
			when += ` OR (NEW."created_ip_hash" IS NULL AND NEW.` + r.col(schema.RoleIP) + ` IS NOT NULL)`
		}
		return name, fmt.Sprintf("CREATE TRIGGER %s\nAFTER INSERT ON %s\nFOR EACH ROW\nWHEN %s\nBEGIN\n    UPDATE %s SET\n        %s\n    WHERE rowid = NEW.rowid;\nEND",
			quote(name), quote(n.Table), when, quote(n.Table), strings.Join(r.fills(false, ipHash), ",\n        "))
	}
	la := r.col(schema.RoleLastAccessed)
	return name, fmt.Sprintf("CREATE TRIGGER %s\nAFTER UPDATE OF %s ON %s\nFOR EACH ROW\nWHEN NEW.%s IS NOT OLD.%s\nBEGIN\n    UPDATE %s SET \"last_validated_at\" = CURRENT_TIMESTAMP\n    WHERE rowid = NEW.rowid;\nEND",
		quote(name), la, quote(n.Table), la, la, quote(n.Table))
}

func (r renderer) keepSecurityData() string {
	n := r.t.Names
	table := quote(strings.TrimSuffix(n.SecurityCopy, "_"))
	key := r.col(schema.RoleKey)
	defs := []string{"    " + key}
	var cols, preds []string
	for _, c := range schema.Change.Columns {
		defs = append(defs, "    "+quote(c.Name)+" "+columnTypes[c.Type])
		cols = append(cols, quote(c.Name))
		switch c.Default {
		case schema.DefaultOne:
			preds = append(preds, quote(c.Name)+" IS NOT 1")
		case schema.DefaultZero:
			preds = append(preds, quote(c.Name)+" IS NOT 0")
		default:
			preds = append(preds, quote(c.Name)+" IS NOT NULL")
		}
	}
	defs = append(defs, "    \"retired_at\" TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP")
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n%s\n);\nINSERT INTO %s (%s, %s, \"retired_at\")\nSELECT %s, %s, CURRENT_TIMESTAMP FROM %s\nWHERE %s;",
		table, strings.Join(defs, ",\n"), table, key, strings.Join(cols, ", "), key, strings.Join(cols, ", "), quote(n.Table), strings.Join(preds, " OR "))
}

// Objects lists what a step creates, as Inspect reports it.
func (d Dialect) Objects(t dialect.Target, step schema.Step, _ dialect.Server) dialect.Objects {
	r := renderer{t: t}
	n := t.Names
	var o dialect.Objects
	switch step.Kind {
	case schema.StepAddColumns:
		o.Checks = append(o.Checks, &dialect.Check{Table: n.Table, Name: n.RiskCheck, Expr: norm(riskCheck()), Validated: true})
	case schema.StepIndex:
		ix := &dialect.Index{Table: n.Table, Name: n.Index(*step.Index), Columns: step.Index.Columns, Valid: true, Method: "btree"}
		if step.Index.Partial != nil {
			ix.Predicate = norm(dialect.Predicate(quote, *step.Index.Partial))
		}
		o.Indexes = append(o.Indexes, ix)
	case schema.StepAuditLog:
		o.Indexes = append(o.Indexes, dialect.AuditIndexObjects()...)
	case schema.StepTrigger:
		name, create := r.trigger(*step.Trigger, step.Rev())
		o.Triggers = append(o.Triggers, &dialect.Trigger{Name: name, Table: n.Table, Timing: "AFTER", Event: string(step.Trigger.Event), Row: true, Body: create})
	}
	return o
}
