package mysql

import (
	"fmt"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// columnTypes maps each logical type to the MySQL type the change creates; COLUMN_TYPE reports the
// same text lower-cased (CHARACTER SET aside). The only place the MySQL type names live.
var columnTypes = map[schema.Type]string{
	schema.TypeSessionID: "VARCHAR(255)",
	schema.TypeTimestamp: "DATETIME(6)",
	schema.TypeHash:      "CHAR(64) CHARACTER SET ascii",
	schema.TypeKeyID:     "VARCHAR(128)",
	schema.TypeVersion:   "INT",
	schema.TypeRiskScore: "SMALLINT",
	schema.TypeAuditID:   "BIGINT",
	schema.TypeAction:    "VARCHAR(64)",
	schema.TypeDetails:   "JSON",
}

// ColumnType is the concrete type of a logical type.
func (Dialect) ColumnType(t schema.Type) string { return columnTypes[t] }

var defaults = map[schema.Default]string{
	schema.DefaultOne: "1", schema.DefaultZero: "0", schema.DefaultNow: "CURRENT_TIMESTAMP(6)", schema.DefaultTrue: "TRUE",
}

// revisionNote explains why a revision step's file holds four statements, the one exception to one
// statement per file.
const revisionNote = "-- MySQL has no CREATE OR REPLACE TRIGGER: a stand-in with the new definition fires first while the trigger is\n" +
	"-- dropped and recreated, so writers never run without one. Four statements: the stock CLI always enables\n" +
	"-- multiStatements; the library never runs this file, it sends the same statements one at a time.\n"

// noop is the body of a file with nothing to do: golang-migrate fails on an empty file (1065).
const noop = "DO 0"

// Render writes a step's files. Every file holds exactly one statement, so that a caller's pool without
// multiStatements=true runs it (golang-migrate sends a file in one Exec). A compound statement
// (CREATE TRIGGER ... BEGIN ...; END) is one statement.
func (d Dialect) Render(t dialect.Target, step schema.Step) (dialect.Files, error) {
	r := renderer{t: t}
	n := t.Names
	switch step.Kind {
	case schema.StepCreateTable:
		return dialect.Files{
			Up: "-- The session table for a fresh database (" + t.Layout.Name + " layout). An existing table is kept as it is.\n" +
				r.createTable(),
			Down: "-- Never drop the session table: it holds the application's data and may predate this change.\n" + noop,
		}, nil
	case schema.StepAddColumns:
		return dialect.Files{
			Up: "-- The security columns, metadata-only: ALGORITHM=INSTANT fails fast instead of copying a big table.\n" +
				"-- One atomic ALTER. Columns that already exist (an earlier hand-run script) are adopted by the library instead.\n" +
				d.addColumns(t, schema.Change.Columns),
			Down: "-- Remove the security columns (step 5's down has copied their data to " + n.SecurityCopy + "<ts>).\n" +
				"-- An online rebuild (FORCE; writes go on), not an instant drop: instant add/drop cycles accumulate row versions\n" +
				"-- until MySQL refuses (64) or MariaDB finds the row too large; rebuilding on rollback keeps the forward step instant.\n" +
				d.dropColumns(t, schema.Change.ColumnNames()),
		}, nil
	case schema.StepValidateCheck:
		return dialect.Files{
			Up:   "-- Nothing to validate: MySQL enforces the risk range in the two triggers (an enforced CHECK would copy the table).\n" + noop,
			Down: "-- Nothing to undo.\n" + noop,
		}, nil
	case schema.StepRoutine:
		rt := r.routine(step.Routine)
		return dialect.Files{
			Up:   "-- " + schema.Change.Routine(step.Routine).Doc + ".\n" + rt.create(),
			Down: "-- Part of this change only.\n" + rt.drop(),
		}, nil
	case schema.StepKeepSecurityData:
		return dialect.Files{
			Up: "-- Nothing to do going up: this step exists for its down, which runs just before the security columns go.\n" + noop,
			Down: "-- Keep the security data before step 2's down drops the columns: copy it to " + n.SecurityCopy + "<UTC ts>.\n" +
				"CALL " + quote(n.RetireHelper) + "(" + literal(n.Table) + ")",
		}, nil
	case schema.StepTrigger:
		tr := r.trigger(*step.Trigger, step.Rev())
		if prev, ok := schema.PreviousRevision(t.Steps(), step); ok {
			old := r.trigger(*prev.Trigger, prev.Rev())
			return dialect.Files{
				Up: "-- " + dialect.RevisionDoc(r.t, step) + "\n" + revisionNote +
					strings.Join(swapStatements(tr, *step.Trigger), ";\n"),
				Down: fmt.Sprintf("-- Back to step %d's definition; every column value (the seals included) stays.\n", prev.Version) + revisionNote +
					strings.Join(swapStatements(old, *step.Trigger), ";\n"),
			}, nil
		}
		return dialect.Files{
			Up:   "-- " + tr.doc + "\n" + tr.create(""),
			Down: "-- Dropped before the hash function it calls.\nDROP TRIGGER IF EXISTS " + quote(tr.name),
		}, nil
	case schema.StepBackfill:
		return dialect.Files{
			Up: "-- Fill pre-existing rows (the insert trigger already covers new ones). Safe to re-run: it skips filled rows.\n" +
				fmt.Sprintf("CALL %s(%d)", quote(n.Backfill), schema.Change.BackfillBatch),
			Down: "-- Nothing to undo: the values go away with the columns (after step 5's down kept a copy).\n" + noop,
		}, nil
	case schema.StepIndex:
		name := n.Index(*step.Index)
		return dialect.Files{
			Up: "-- One index per online ALTER (writes go on, no table copy), built after the backfill. One at a time keeps each\n" +
				"-- commit phase, which holds an exclusive metadata lock, short. MySQL has no partial indexes.\n" +
				fmt.Sprintf("ALTER TABLE %s ADD INDEX %s (%s), ALGORITHM=INPLACE, LOCK=NONE", quote(n.Table), quote(name), dialect.QuoteList(quote, step.Index.Columns)),
			Down: "-- Drop the index online, before the columns it covers go.\n" +
				fmt.Sprintf("ALTER TABLE %s DROP INDEX %s, ALGORITHM=INPLACE, LOCK=NONE", quote(n.Table), quote(name)),
		}, nil
	case schema.StepAuditLog:
		return dialect.Files{
			Up: "-- The security audit log, written by the maintenance routines.\n" + r.createAuditLog(),
			Down: "-- Never lose security history: a non-empty audit log becomes " + n.AuditLog + "_retired_<UTC ts>; an empty one goes.\n" +
				"CALL " + quote(n.RetireHelper) + "(" + literal(n.AuditLog) + ")",
		}, nil
	case schema.StepArchive:
		return dialect.Files{
			Up: "-- The archive, with the columns of the session table (created after the security columns exist).\n" +
				fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s LIKE %s", quote(n.Archive), quote(n.Table)),
			Down: "-- Never lose archived sessions: a non-empty archive becomes " + n.Archive + "_retired_<UTC ts>; an empty one goes.\n" +
				"CALL " + quote(n.RetireHelper) + "(" + literal(n.Archive) + ")",
		}, nil
	case schema.StepExtra:
		return dialect.Files{Up: step.Extra.Up[d.Name()], Down: step.Extra.Down[d.Name()]}, nil
	}
	return dialect.Files{}, fmt.Errorf("mysql: no rendering for step %d", step.Version)
}

func (Dialect) addColumns(t dialect.Target, cols []schema.Column) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ALTER TABLE %s", quote(t.Names.Table))
	for _, c := range cols {
		b.WriteString("\n    ADD COLUMN " + columnDef(c) + ",")
	}
	b.WriteString("\n    ALGORITHM=INSTANT")
	return b.String()
}

func (Dialect) dropColumns(t dialect.Target, cols []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "ALTER TABLE %s", quote(t.Names.Table))
	for _, c := range cols {
		b.WriteString("\n    DROP COLUMN " + quote(c) + ",")
	}
	b.WriteString("\n    FORCE, ALGORITHM=INPLACE, LOCK=NONE")
	return b.String()
}

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
	if c.Comment != "" {
		s += " COMMENT " + literal(c.Comment)
	}
	return s
}

// baseColumnAttrs writes NULL or NOT NULL explicitly (a TIMESTAMP is otherwise NOT NULL on servers with
// explicit_defaults_for_timestamp off) and CURRENT_TIMESTAMP without a precision for a column that has
// none (the default's precision must match the column's).
func baseColumnAttrs(c schema.BaseColumn) string {
	s := " NULL"
	if c.NotNull {
		s = " NOT NULL"
	}
	if d, ok := defaults[c.Default]; ok {
		if c.Default == schema.DefaultNow && !strings.Contains(c.Types["mysql"], "(6)") {
			d = "CURRENT_TIMESTAMP"
		}
		s += " DEFAULT " + d
	}
	return s
}

// renderer holds the expressions every routine and trigger shares, written once for the target's
// columns and their families.
type renderer struct{ t dialect.Target }

func (r renderer) col(role schema.Role) string { return quote(r.t.Col(role)) }

func (r renderer) createTable() string {
	l := r.t.Layout
	lines := dialect.BaseTableLines(l, "mysql", quote, baseColumnAttrs)
	for _, ix := range l.BaseIndexes() {
		lines = append(lines, "    INDEX "+quote(ix.Name("mysql", l.Table))+" ("+dialect.QuoteList(quote, ix.ColumnsIn(l))+")")
	}
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n%s\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4", quote(l.Table), strings.Join(lines, ",\n"))
}

func (r renderer) createAuditLog() string {
	var lines []string
	for _, c := range schema.Change.AuditColumns {
		line := "    " + columnDef(c)
		if c.Type == schema.TypeAuditID {
			line = "    " + quote(c.Name) + " BIGINT NOT NULL AUTO_INCREMENT"
		}
		lines = append(lines, line)
	}
	lines = append(lines, "    PRIMARY KEY ("+quote(schema.Change.AuditColumns[0].Name)+")")
	for _, ix := range schema.Change.AuditIndexes {
		lines = append(lines, "    INDEX "+quote(ix.Name)+" ("+dialect.QuoteList(quote, ix.Columns)+")")
	}
	return fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (\n%s\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4", quote(schema.Change.AuditLog), strings.Join(lines, ",\n"))
}

// text is how a key or user value enters the hash: a binary column as the hex of its bytes.
func (r renderer) text(ref string, role schema.Role) string {
	c := ref + r.col(role)
	if r.t.RoleKind(role) == dialect.FamBinary {
		return "LOWER(HEX(" + c + "))"
	}
	return c
}

// epoch is E(created): whole seconds since 1970-01-01 UTC, rounded down, in integer arithmetic only
// (a "/" would be DECIMAL division rounded to div_precision_increment digits before any FLOOR). It is
// evaluated only in a session whose time_zone is '+00:00' (the migration session, the backfill
// procedure, and the insert trigger, which switches to UTC around it): there a TIMESTAMP reads as its
// UTC instant, and a DATETIME, which has no zone, is its wall clock read as UTC. One expression for
// both types, so the committed folders are right whichever type the table really has, and a row hashes
// the same whatever time zone the inserting session uses. A zero date ('0000-00-00 00:00:00', which
// MariaDB and a permissive sql_mode store) names no instant: TIMESTAMPDIFF is NULL and it hashes like
// NULL on every path.
func (r renderer) epoch(ref string) string {
	c := ref + r.col(schema.RoleCreated)
	us := "TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', " + c + ")"
	return "(" + us + " DIV 1000000 - (" + us + " MOD 1000000 < 0))"
}

// hash is the canonical security hash of the row ref ("NEW." in a trigger, "" in an UPDATE).
func (r renderer) hash(ref string) string {
	return fmt.Sprintf("%s(%s, %s, %s)", quote(r.t.Names.HashFunction), r.text(ref, schema.RoleKey), r.text(ref, schema.RoleUser), r.epoch(ref))
}

// ipHash is created_ip_hash of the row ref: SHA-256 of schema.CanonicalIP, whose rules (surrounding
// spaces, a "/netmask" suffix, leading zeros, IPv4-mapped and -compatible addresses, zones) it follows
// for text columns. Text is checked with IS_IPV4/IS_IPV6 first (INET6_ATON raises an error on anything
// else under a strict sql_mode), and an embedded IPv4 tail with a leading zero ("::ffff:01.2.3.4"), which
// MySQL accepts and netip and PostgreSQL refuse, is no address. An IPv4-mapped address counts as its
// IPv4 address (IS_IPV4_MAPPED only on 16 bytes: MariaDB refuses 4). INET6_NTOA writes RFC 5952 text
// except that it shortens a lone zero group to "::", which RFC 5952 forbids: rfc5952 writes that group
// back. The result is ascii, like the column (MariaDB refuses to mix).
func (r renderer) ipHash(ref string) string {
	c := ref + r.col(schema.RoleIP)
	txt := "SUBSTRING_INDEX(TRIM(" + c + "), '/', 1)"
	bin := "INET6_ATON(" + txt + ")"
	tail := "SUBSTRING_INDEX(" + txt + ", ':', -1)"
	valid := "(IS_IPV4(" + txt + ") OR (IS_IPV6(" + txt + ") AND NOT (LOCATE('.', " + tail + ") > 0 AND " + tail + " REGEXP '(^|[.])0[0-9]')))"
	if r.t.RoleKind(schema.RoleIP) == dialect.FamBinary {
		bin, valid = c, "LENGTH("+c+") IN (4, 16)"
	}
	return "CONVERT(SHA2(CASE WHEN NOT " + valid + " THEN NULL WHEN LENGTH(" + bin + ") = 16 THEN CASE WHEN IS_IPV4_MAPPED(" + bin +
		") THEN INET6_NTOA(SUBSTRING(" + bin + ", 13, 4)) ELSE " + rfc5952("INET6_NTOA("+bin+")") + " END ELSE INET6_NTOA(" + bin + ") END, 256) USING ascii)"
}

// rfc5952 corrects INET6_NTOA's text n of an IPv6 address: when the only "::" stands for a single zero
// group (8 colons with "::" at an end, 7 with it inside), that group is written as "0". INET6_NTOA
// otherwise already picks the first longest run of zero groups and writes lower-case hex without leading
// zeros.
func rfc5952(n string) string {
	colons := "(LENGTH(" + n + ") - LENGTH(REPLACE(" + n + ", ':', '')))"
	return "CASE WHEN LOCATE('::', " + n + ") > 0 AND (" + colons + " = 8 OR (" + colons + " = 7 AND LEFT(" + n + ", 2) <> '::' AND RIGHT(" + n +
		", 2) <> '::')) THEN TRIM(BOTH ':' FROM REPLACE(" + n + ", '::', ':0:')) ELSE " + n + " END"
}

// now is the current time for a column of the target: a TIMESTAMP takes the instant, a DATETIME the
// UTC wall clock (the convention the hash reads it with).
func (r renderer) now(column string) string {
	if r.t.Kind(column) == dialect.FamInstant {
		return "CURRENT_TIMESTAMP(6)"
	}
	return "UTC_TIMESTAMP(6)"
}

// riskGuard is the range check both triggers start with.
func (r renderer) riskGuard() string {
	rr := schema.Change.Risk
	return fmt.Sprintf(`    IF NEW.%[1]s < %[2]d OR NEW.%[1]s > %[3]d THEN
        SIGNAL SQLSTATE '45000'
            SET MESSAGE_TEXT = 'sessionsec: %[4]s.%[5]s must be between %[2]d and %[3]d';
    END IF;
`, quote(rr.Column), rr.Min, rr.Max, r.t.Names.Table, rr.Column)
}
