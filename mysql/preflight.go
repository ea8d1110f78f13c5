package mysql

import (
	"context"
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

// Preflight reports what would stop the migration. It changes nothing and runs three queries besides
// the given snapshot: global variables, SHOW GRANTS and the routines' comments.
func (d *Dialect) Preflight(ctx context.Context, q dialect.Querier, s schema.Schema, snap *dialect.Snapshot) []dialect.Problem {
	var probs []dialect.Problem
	add := func(k dialect.Kind, obj, msg, fix string) {
		probs = append(probs, dialect.Problem{Kind: k, Object: obj, Message: msg, Fix: fix})
	}
	if snap == nil {
		snap = dialect.NewSnapshot()
	}

	// Server variables.
	vars := map[string]string{}
	if rows, err := q.QueryContext(ctx, queryServerVariables); err != nil {
		add(dialect.KindOther, "server", "cannot read server variables: "+err.Error(), "grant the user access to SHOW GLOBAL VARIABLES")
	} else {
		for rows.Next() {
			var k, v string
			if err := rows.Scan(&k, &v); err == nil {
				vars[strings.ToLower(k)] = strings.ToUpper(v)
			}
		}
		rows.Close()
	}
	mariadb := flavorOf(vars["version"], vars["version_comment"]) == FlavorMariaDB

	// Grants.
	dbName := ""
	_ = q.QueryRowContext(ctx, queryDatabase).Scan(&dbName)
	g := readGrants(ctx, q, dbName)

	// Read-only server.
	switch {
	case vars["innodb_read_only"] == "ON":
		add(dialect.KindReadOnly, "server", "innodb_read_only is ON: InnoDB refuses every change",
			"run the migration against the writable primary")
	case vars["super_read_only"] == "ON":
		add(dialect.KindReadOnly, "server", "super_read_only is ON (a replica or a read-only primary)",
			"run the migration against the writable primary, or SET GLOBAL super_read_only = OFF there")
	case vars["read_only"] == "ON" && !g.super:
		add(dialect.KindReadOnly, "server", "read_only is ON and the user cannot bypass it (a replica or read-only primary)",
			"run the migration against the writable primary")
	}

	// Error 1419: binary logging on, function creators not trusted, no SUPER.
	if g.err == nil && vars["log_bin"] == "ON" && vars["log_bin_trust_function_creators"] == "OFF" && !g.super {
		missing := false
		for _, t := range s.Triggers {
			missing = missing || snap.Triggers[t.Name] == nil
		}
		missing = missing || snap.Routines[strings.ToLower(s.HashFunction)] == nil
		if missing {
			msg := "binary logging is on, log_bin_trust_function_creators is OFF and the user lacks SUPER: " +
				"CREATE TRIGGER and CREATE FUNCTION fail with error 1419"
			if mariadb {
				msg += " (on MariaDB DROP TRIGGER too, so a rollback would fail the same way)"
			}
			add(dialect.KindBinlogRoutines, "server", msg, binlogFix)
		}
	}

	// Privileges.
	if g.err != nil {
		add(dialect.KindPrivileges, "user", "cannot read SHOW GRANTS: "+g.err.Error(),
			"check the privileges by hand: "+strings.Join(requiredPrivileges, ", "))
	} else if missing := g.missing(); len(missing) > 0 && !g.roles {
		add(dialect.KindPrivileges, "database "+dbName,
			"the user lacks "+strings.Join(missing, ", ")+" on this database",
			fmt.Sprintf("GRANT %s ON `%s`.* TO <user>", strings.Join(missing, ", "), dbName))
	}

	probs = append(probs, d.tableProblems(s, snap)...)
	probs = append(probs, d.conflictProblems(ctx, q, s, snap)...)
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

func isDateTime(t string) bool  { return t == "datetime" || strings.HasPrefix(t, "datetime(") }
func isTimestamp(t string) bool { return t == "timestamp" || strings.HasPrefix(t, "timestamp(") }

// findIndex returns the index called name on table, whatever key Snapshot gave it.
func findIndex(snap *dialect.Snapshot, table, name string) *dialect.Index {
	if ix := snap.Indexes[name]; ix != nil && ix.Table == table {
		return ix
	}
	return snap.Indexes[table+"."+name]
}

func (d *Dialect) tableProblems(s schema.Schema, snap *dialect.Snapshot) []dialect.Problem {
	var probs []dialect.Problem
	t := snap.Tables[s.Sessions]
	if t == nil {
		return nil // step 1 creates it
	}
	obj := "table " + s.Sessions
	var have []string
	for _, c := range t.Columns {
		have = append(have, c.Name)
	}
	var missing []string
	for _, c := range s.BaseColumns {
		if t.Column(c.Name) == nil {
			missing = append(missing, c.Name)
		}
	}
	if len(missing) > 0 {
		fix := "add or rename the columns so that " + s.Sessions + " has " + baseNames(s) +
			" (the triggers, backfill and procedures use them), then retry"
		if t.Column("id") != nil && t.Column("session_id") == nil {
			fix = "this looks like the AG-UI Go SDK session store layout (id, last_accessed): either " +
				"`ALTER TABLE " + s.Sessions + " RENAME COLUMN id TO session_id, RENAME COLUMN last_accessed TO " +
				"last_accessed_at` (plus ADD COLUMN for any other missing one) and update the application's queries, " +
				"or keep that store and use another table name for sessionsec; nothing was changed"
		}
		probs = append(probs, dialect.Problem{Kind: dialect.KindIncompatibleTable, Object: obj,
			Message: fmt.Sprintf("lacks column(s) %s that the triggers need (found: %s)",
				strings.Join(missing, ", "), strings.Join(have, ", ")),
			Fix: fix})
	}
	if c := t.Column("created_at"); c != nil {
		switch {
		case isTimestamp(c.Type):
			probs = append(probs, dialect.Problem{Kind: dialect.KindIncompatibleTable, Object: "column " + s.Sessions + ".created_at",
				Message: "is " + c.Type + ": a TIMESTAMP is read in the session time zone, so the security hash " +
					"(epoch seconds of created_at) would depend on the connection's time_zone",
				Fix: "convert it once, in a maintenance window (it copies the table): SET time_zone = '+00:00'; " +
					"ALTER TABLE " + s.Sessions + " MODIFY created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) " +
					"(values become UTC wall-clock times), or pt-online-schema-change for a large table"})
		case !isDateTime(c.Type):
			probs = append(probs, dialect.Problem{Kind: dialect.KindIncompatibleTable, Object: "column " + s.Sessions + ".created_at",
				Message: "is " + c.Type + ", not a DATETIME: the hash needs a point in time",
				Fix:     "convert it to DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) (values as UTC wall-clock times)"})
		}
	}
	for _, name := range []string{"expires_at", "last_accessed_at"} {
		if c := t.Column(name); c != nil && !isDateTime(c.Type) && !isTimestamp(c.Type) {
			probs = append(probs, dialect.Problem{Kind: dialect.KindIncompatibleTable, Object: "column " + s.Sessions + "." + name,
				Message: "is " + c.Type + ", not a DATETIME/TIMESTAMP: the procedures compare it with the current time",
				Fix:     "convert it to DATETIME(6) NULL"})
		}
	}
	if t.Column("session_id") != nil {
		keyed := false
		for _, ix := range snap.Indexes {
			if ix.Table == s.Sessions && ix.Unique && slices.Equal(ix.Columns, []string{"session_id"}) {
				keyed = true
			}
		}
		if !keyed {
			probs = append(probs, dialect.Problem{Kind: dialect.KindIncompatibleTable, Object: "column " + s.Sessions + ".session_id",
				Message: "is neither the primary key nor uniquely indexed: the backfill and cleanup walk it in key order",
				Fix:     "ALTER TABLE " + s.Sessions + " ADD PRIMARY KEY (session_id) (after removing duplicates)"})
		}
	}
	// Security columns: all or none, with our types (a partial set, e.g. from the old hand-run script, would
	// make step 2 fail with 1060 and be taken for "already applied").
	var present, wrong []string
	for _, c := range s.SecurityColumns {
		gc := t.Column(c.Name)
		if gc == nil {
			continue
		}
		present = append(present, c.Name)
		if gc.Type != columnTypes[c.Type] {
			wrong = append(wrong, fmt.Sprintf("%s is %s (want %s)", c.Name, gc.Type, columnTypes[c.Type]))
		}
	}
	if len(present) > 0 && (len(present) < len(s.SecurityColumns) || len(wrong) > 0) {
		msg := "already has security column(s) " + strings.Join(present, ", ")
		if len(wrong) > 0 {
			msg += "; " + strings.Join(wrong, "; ")
		}
		probs = append(probs, dialect.Problem{Kind: dialect.KindConflictingObject, Object: obj,
			Message: msg + " - not as this migration creates them (left by an earlier hand-run script?)",
			Fix:     "drop those columns (after saving their data) or bring all six to the documented definition, then retry"})
	}
	return probs
}

func baseNames(s schema.Schema) string {
	var n []string
	for _, c := range s.BaseColumns {
		n = append(n, c.Name)
	}
	return strings.Join(n, ", ")
}

func (d *Dialect) conflictProblems(ctx context.Context, q dialect.Querier, s schema.Schema, snap *dialect.Snapshot) []dialect.Problem {
	var probs []dialect.Problem
	add := func(obj, msg, fix string) {
		probs = append(probs, dialect.Problem{Kind: dialect.KindConflictingObject, Object: obj, Message: msg, Fix: fix})
	}
	exp := d.Expected(s)

	// Triggers with our names.
	for _, t := range s.Triggers {
		got := snap.Triggers[t.Name]
		if got == nil {
			continue
		}
		want := exp.Triggers[t.Name]
		if !strings.EqualFold(got.Table, want.Table) || got.Timing != want.Timing || got.Event != want.Event {
			add("trigger "+t.Name, fmt.Sprintf("exists as %s %s ON %s, not %s %s ON %s",
				got.Timing, got.Event, got.Table, want.Timing, want.Event, want.Table),
				"rename or drop that trigger (DROP TRIGGER "+t.Name+"), then retry")
			continue
		}
		body := strings.ToLower(got.Body)
		for _, f := range want.BodyContains {
			if !strings.Contains(body, strings.ToLower(f)) {
				add("trigger "+t.Name, "exists with another body (it lacks "+f+")",
					"drop it (DROP TRIGGER "+t.Name+") so the migration can create its own, then retry")
				break
			}
		}
	}

	// Indexes with our names must be on the right columns. A partial set is fine: each index has its own
	// atomic step, so an existing one with the right definition is exactly what a re-run reports as 1061.
	for _, ix := range s.Indexes {
		got := findIndex(snap, ix.Table, ix.Name)
		if got == nil {
			continue
		}
		if !slices.Equal(got.Columns, ix.Columns) || got.Unique {
			add("index "+ix.Name, fmt.Sprintf("exists on %s(%s)%s, not on (%s)", ix.Table, strings.Join(got.Columns, ", "),
				map[bool]string{true: " UNIQUE", false: ""}[got.Unique], strings.Join(ix.Columns, ", ")),
				fmt.Sprintf("ALTER TABLE %s DROP INDEX %s, then retry", ix.Table, ix.Name))
		}
	}

	// Routines with our names but not ours.
	if rows, err := q.QueryContext(ctx, queryRoutines); err == nil {
		comments := map[string][2]string{}
		for rows.Next() {
			var name, kind, comment string
			if rows.Scan(&name, &kind, &comment) == nil {
				comments[strings.ToLower(name)] = [2]string{strings.ToUpper(kind), comment}
			}
		}
		rows.Close()
		for _, r := range s.Routines {
			got, ok := comments[strings.ToLower(r.Name)]
			if !ok {
				continue
			}
			if got[0] != string(r.Kind) || !strings.HasPrefix(got[1], RoutineCommentPrefix) {
				add(strings.ToLower(string(r.Kind))+" "+r.Name,
					fmt.Sprintf("a %s named %s exists that this migration did not create (comment %q)", got[0], r.Name, got[1]),
					fmt.Sprintf("rename or drop it (DROP %s %s), then retry: CREATE ... IF NOT EXISTS would keep it", got[0], r.Name))
			}
		}
	}

	// Tables with our names but other columns.
	sessions := snap.Tables[s.Sessions]
	for _, t := range s.Tables {
		got := snap.Tables[t.Name]
		if got == nil {
			continue
		}
		if t.MirrorsSessions {
			if sessions == nil || sessions.Column(s.SecurityColumns[0].Name) == nil || !sameColumns(got, sessions) {
				add("table "+t.Name, "exists but does not mirror the columns of "+s.Sessions,
					"rename it (RENAME TABLE "+t.Name+" TO "+t.Name+"_old), then retry")
			}
			continue
		}
		var diffs []string
		for _, c := range t.Columns {
			gc := got.Column(c.Name)
			if gc == nil {
				diffs = append(diffs, c.Name+" missing")
			} else if gc.Type != columnTypes[c.Type] {
				diffs = append(diffs, fmt.Sprintf("%s is %s", c.Name, gc.Type))
			}
		}
		if len(diffs) > 0 {
			add("table "+t.Name, "exists with another definition ("+strings.Join(diffs, "; ")+")",
				"rename it (RENAME TABLE "+t.Name+" TO "+t.Name+"_old), then retry")
		}
	}
	return probs
}

func sameColumns(a, b *dialect.Table) bool {
	if len(a.Columns) != len(b.Columns) {
		return false
	}
	for i := range a.Columns {
		if a.Columns[i].Name != b.Columns[i].Name || a.Columns[i].Type != b.Columns[i].Type {
			return false
		}
	}
	return true
}
