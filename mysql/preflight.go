package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// requiredPrivileges are what the up and down steps use on the application database.
var requiredPrivileges = []string{
	"SELECT", "INSERT", "UPDATE", "DELETE", // backfill, maintenance procedures, migrations table
	"CREATE", "DROP", "ALTER", "INDEX", // tables, columns, indexes, retiring history tables
	"TRIGGER", "CREATE ROUTINE", "ALTER ROUTINE", "EXECUTE", // triggers, routines, CALL
}

const binlogFix = "either run the migration once as a user with the SUPER privilege, or set " +
	"log_bin_trust_function_creators=1: self-managed MySQL `SET PERSIST log_bin_trust_function_creators = 1`, " +
	"MariaDB `SET GLOBAL log_bin_trust_function_creators = 1` plus the same line under [mysqld] in the server " +
	"config; managed services do not grant SUPER - set the parameter log_bin_trust_function_creators = 1 in the " +
	"DB parameter group (Amazon RDS) or DB cluster parameter group (Aurora), as a database flag (Google Cloud " +
	"SQL) or as a server parameter (Azure Database for MySQL / MariaDB), then retry. Only SUPER lifts the check: " +
	"SET_ANY_DEFINER, SYSTEM_VARIABLES_ADMIN, SET_USER_ID and BINLOG_ADMIN do not (checked on MySQL 9.7 and MariaDB 10.11)"

// Preflight reports what would stop the pending steps on MySQL/MariaDB: a read-only server, error 1419
// (binary logging without trusted function creators), missing grants, and a session table whose storage
// refuses the online DDL (ALGORITHM=INSTANT needs InnoDB, no COMPRESSED row format, no FULLTEXT index).
// It changes nothing and runs two queries.
func (d Dialect) Preflight(ctx context.Context, q dialect.Querier, srv dialect.Server, t dialect.Target, cat *dialect.Catalog, pending []schema.Step) []dialect.Problem {
	var probs []dialect.Problem
	add := func(k dialect.Kind, obj, msg, fix string) {
		probs = append(probs, dialect.Problem{Kind: k, Object: obj, Message: msg, Fix: fix})
	}
	caps := capsOf(srv)
	vars := map[string]string{}
	if err := dialect.EachRow(ctx, q, queryServerVariables, nil, func(rows *sql.Rows) error {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		vars[strings.ToLower(k)] = strings.ToUpper(v)
		return nil
	}); err != nil {
		add(dialect.KindOther, "server", "cannot read server variables: "+d.Scrub(err), "grant the user access to SHOW GLOBAL VARIABLES")
	}
	g := readGrants(ctx, q, srv.Schema)

	switch {
	case vars["innodb_read_only"] == "ON":
		add(dialect.KindReadOnly, "server", "innodb_read_only is ON: InnoDB refuses every change",
			"run the migration against the writable primary")
	case caps.SuperReadOnly() && vars["super_read_only"] == "ON":
		add(dialect.KindReadOnly, "server", "super_read_only is ON (a replica or a read-only primary)",
			"run the migration against the writable primary, or SET GLOBAL super_read_only = OFF there")
	case vars["read_only"] == "ON" && !g.super:
		add(dialect.KindReadOnly, "server", "read_only is ON and the user cannot bypass it (a replica or read-only primary)",
			"run the migration against the writable primary")
	}

	createsRoutines := slices.ContainsFunc(pending, func(s schema.Step) bool {
		return s.Kind == schema.StepTrigger || s.Kind == schema.StepRoutine
	})
	if g.err == nil && createsRoutines && vars["log_bin"] == "ON" && vars["log_bin_trust_function_creators"] == "OFF" && !g.super {
		msg := "binary logging is on, log_bin_trust_function_creators is OFF and the user lacks SUPER: " +
			"CREATE TRIGGER and CREATE FUNCTION fail with error 1419"
		if caps.BinlogGuardsDropTrigger() {
			msg += " (on MariaDB DROP TRIGGER too, so a rollback would fail the same way)"
		}
		add(dialect.KindBinlogRoutines, "server", msg, binlogFix)
	}

	if g.err != nil {
		add(dialect.KindPrivileges, "user", "cannot read SHOW GRANTS: "+d.Scrub(g.err),
			"check the privileges by hand: "+strings.Join(requiredPrivileges, ", "))
	} else if missing := g.missing(); len(missing) > 0 && !g.roles {
		add(dialect.KindPrivileges, "database "+srv.Schema,
			"the user lacks "+strings.Join(missing, ", ")+" on this database",
			fmt.Sprintf("GRANT %s ON `%s`.* TO <user>", strings.Join(missing, ", "), srv.Schema))
	}

	if tbl := cat.Tables[t.Names.Table]; tbl != nil && tbl.Kind == dialect.TableBase &&
		slices.ContainsFunc(pending, func(s schema.Step) bool { return s.Kind == schema.StepAddColumns }) {
		obj := "table " + t.Names.Table
		switch {
		case !strings.EqualFold(tbl.Engine, "InnoDB"):
			add(dialect.KindIncompatibleTable, obj, "uses the "+tbl.Engine+" engine: the security columns are added with ALGORITHM=INSTANT, which needs InnoDB",
				"convert it in a maintenance window (it copies the table): ALTER TABLE "+quote(t.Names.Table)+" ENGINE=InnoDB, then retry")
		case tbl.RowFormat == "COMPRESSED":
			add(dialect.KindIncompatibleTable, obj, "has ROW_FORMAT=COMPRESSED: InnoDB cannot add columns instantly to it, and an in-place add would rebuild the table",
				"rebuild it once in a maintenance window: ALTER TABLE "+quote(t.Names.Table)+" ROW_FORMAT=DYNAMIC (or pt-online-schema-change for a large table), then retry")
		}
		for _, ix := range cat.TableIndexes(t.Names.Table) {
			if ix.Method == "fulltext" {
				add(dialect.KindIncompatibleTable, "index "+ix.Name+" on "+t.Names.Table,
					"is a FULLTEXT index: InnoDB cannot add columns instantly to a table that has one, and an in-place add blocks writes",
					"drop the FULLTEXT index for the migration and recreate it afterwards (ALTER TABLE "+quote(t.Names.Table)+" DROP INDEX "+quote(ix.Name)+"), then retry")
			}
		}
	}
	if slices.ContainsFunc(pending, func(s schema.Step) bool { return s.Kind == schema.StepTrigger || s.Kind == schema.StepBackfill }) {
		probs = append(probs, dialect.AutoIncrementProblems(t, cat)...)
	}
	if r := cat.Routine(t.Names.HashFunction); r != nil && slices.ContainsFunc(pending, func(s schema.Step) bool { return s.Routine == t.Names.HashFunction }) {
		want := renderer{t: t}.routine(t.Names.HashFunction).body
		if r.Body != "" && dialect.NormalizeSpace(r.Body) != dialect.NormalizeSpace(want) && strings.HasPrefix(r.Comment, RoutineCommentPrefix) {
			add(dialect.KindConflictingObject, "function "+r.Name, "exists with another body: the triggers call it on every insert, so it is not replaced in place",
				"stop writers, DROP FUNCTION "+quote(r.Name)+", then run Migrate again")
		}
	}
	return probs
}

// grants is what SHOW GRANTS says about the current user on one database.
type grants struct {
	privs map[string]bool
	super bool
	roles bool // privileges may come from roles, which SHOW GRANTS does not expand
	err   error
}

var grantLine = regexp.MustCompile(`^GRANT (.+?) ON (\S+) TO `)

func readGrants(ctx context.Context, q dialect.Querier, db string) grants {
	g := grants{privs: map[string]bool{}}
	rows, err := q.QueryContext(ctx, queryGrants)
	if err != nil {
		g.err = err
		return g
	}
	defer rows.Close()
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			g.err = err
			return g
		}
		m := grantLine.FindStringSubmatch(line)
		if m == nil {
			if strings.HasPrefix(line, "GRANT `") || strings.HasPrefix(line, "GRANT '") {
				g.roles = true
			}
			continue
		}
		target := m[2]
		global := target == "*.*"
		if !global {
			dbPart, rest, ok := strings.Cut(target, ".")
			if !ok || rest != "*" || !dbPatternMatches(unquoteIdent(dbPart), db) {
				continue // table-, column- and routine-level grants are not enough for DDL
			}
		}
		for _, p := range splitPrivs(m[1]) {
			p = strings.ToUpper(strings.TrimSpace(p))
			if p == "ALL" || p == "ALL PRIVILEGES" {
				for _, r := range requiredPrivileges {
					g.privs[r] = true
				}
				if global {
					g.super = true
				}
				continue
			}
			g.privs[p] = true
			if global && p == "SUPER" {
				g.super = true
			}
		}
	}
	g.err = rows.Err()
	return g
}

func (g grants) missing() []string {
	var out []string
	for _, p := range requiredPrivileges {
		if !g.privs[p] {
			out = append(out, p)
		}
	}
	return out
}

// splitPrivs splits "SELECT, INSERT (a, b), ALTER" at top-level commas.
func splitPrivs(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	out = append(out, s[start:])
	for i, p := range out {
		if j := strings.Index(p, "("); j >= 0 {
			out[i] = p[:j] // column-level grants: the privilege name only
		}
	}
	return out
}

func unquoteIdent(s string) string {
	if len(s) >= 2 && s[0] == '`' && s[len(s)-1] == '`' {
		return strings.ReplaceAll(s[1:len(s)-1], "``", "`")
	}
	return s
}

// dbPatternMatches applies a database-level grant pattern (LIKE syntax: % _ and \ escapes).
func dbPatternMatches(pattern, db string) bool {
	var re strings.Builder
	re.WriteString("^")
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; c {
		case '\\':
			if i+1 < len(pattern) {
				i++
				re.WriteString(regexp.QuoteMeta(string(pattern[i])))
			}
		case '%':
			re.WriteString(".*")
		case '_':
			re.WriteString(".")
		default:
			re.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	re.WriteString("$")
	ok, _ := regexp.MatchString(re.String(), db)
	return ok
}

// Drift reports a hashed column made AUTO_INCREMENT after the migration (dialect.AutoIncrementProblems).
// Trigger order adds nothing on MySQL: triggers fire in creation order, so a later trigger of the
// application fires after the hash trigger only if it is created with FOLLOWS, which is its own choice.
func (Dialect) Drift(t dialect.Target, cat *dialect.Catalog) []dialect.Problem {
	return dialect.AutoIncrementProblems(t, cat)
}
