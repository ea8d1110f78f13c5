package sqlite

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// Catalog queries. Snapshot runs exactly three (qColumns, qIndexes, qObjects) whatever the number of
// objects; the table list is passed as one JSON array bound to ?1 and expanded with json_each.
const (
	qVersion = `SELECT sqlite_version()`

	qTableExists = `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1`

	// qColumns: every column of the named tables, in ordinal order (hidden generated columns included).
	qColumns = `SELECT m.name, c.cid, c.name, c.type, c."notnull", c.dflt_value, c.pk
FROM sqlite_master AS m JOIN pragma_table_xinfo(m.name) AS c
WHERE m.type = 'table' AND m.name IN (SELECT value FROM json_each(?1))
ORDER BY m.name, c.cid`

	// qIndexes: every CREATE INDEX index (origin 'c') of the named tables with its key columns in order
	// and its CREATE text (for the partial predicate). Constraint autoindexes are left out.
	qIndexes = `SELECT m.name, il.name, il."unique", il.partial, ii.seqno, ii.name, ix.sql
FROM sqlite_master AS m
JOIN pragma_index_list(m.name) AS il
JOIN pragma_index_info(il.name) AS ii
LEFT JOIN sqlite_master AS ix ON ix.type = 'index' AND ix.name = il.name
WHERE m.type = 'table' AND m.name IN (SELECT value FROM json_each(?1)) AND il.origin = 'c'
ORDER BY il.name, ii.seqno`

	// qObjects: the CREATE text of the named tables (CHECK constraints, WITHOUT ROWID) and of their
	// triggers (timing, event, action).
	qObjects = `SELECT type, name, tbl_name, sql FROM sqlite_master
WHERE type IN ('table', 'trigger') AND tbl_name IN (SELECT value FROM json_each(?1)) AND sql IS NOT NULL
ORDER BY type, name`

	// qTableSQL is the CREATE text of one table (Preflight: WITHOUT ROWID).
	qTableSQL = `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?1`

	// qObjectsByName finds objects with the given names anywhere in the schema (index and trigger names
	// are schema-wide: CREATE ... IF NOT EXISTS would silently keep one on another table).
	qObjectsByName = `SELECT type, name, tbl_name FROM sqlite_master WHERE name IN (SELECT value FROM json_each(?1))`

	// qQueryOnly is 1 when the connection refuses writes (PRAGMA query_only).
	qQueryOnly = `SELECT query_only FROM pragma_query_only`

	// qHashProbe fails with "no such function" on a connection without the registered hash function.
	qHashProbe = `SELECT session_security_hash('a', 'b', 0)`

	qCreateLockTable = `CREATE TABLE IF NOT EXISTS sessionsec_lock (
    lock_key    TEXT NOT NULL PRIMARY KEY,
    owner       TEXT NOT NULL,
    host        TEXT NOT NULL,
    pid         INTEGER NOT NULL,
    process     TEXT NOT NULL,
    acquired_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
)`
	qInsertLock = `INSERT OR IGNORE INTO sessionsec_lock (lock_key, owner, host, pid, process) VALUES (?1, ?2, ?3, ?4, ?5)`
	qReadLock   = `SELECT owner, host, pid, process FROM sessionsec_lock WHERE lock_key = ?1`
	qDeleteLock = `DELETE FROM sessionsec_lock WHERE lock_key = ?1 AND owner = ?2`
	qCountLock  = `SELECT count(*) FROM sessionsec_lock WHERE lock_key = ?1`
)

// Snapshot reads columns, indexes, triggers and named CHECK constraints of the named tables (three
// queries). Types are lower-case declared types ("text", "integer"); CURRENT_TIMESTAMP defaults read
// "now"; a PRIMARY KEY column reads NOT NULL. SQLite has no routines and no column comments.
func (*Dialect) Snapshot(ctx context.Context, q dialect.Querier, tables []string) (*dialect.Snapshot, error) {
	snap := dialect.NewSnapshot()
	arg := jsonArray(tables)

	rows, err := q.QueryContext(ctx, qColumns, arg)
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading columns: %w", err)
	}
	for rows.Next() {
		var tbl, name, typ string
		var cid, notNull, pk int
		var dflt *string
		if err := rows.Scan(&tbl, &cid, &name, &typ, &notNull, &dflt, &pk); err != nil {
			rows.Close()
			return nil, err
		}
		t := snap.Tables[tbl]
		if t == nil {
			t = &dialect.Table{Name: tbl}
			snap.Tables[tbl] = t
		}
		t.Columns = append(t.Columns, &dialect.Column{
			Name: name, Type: normType(typ), Nullable: notNull == 0 && pk == 0, Default: normDefault(dflt),
		})
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("sqlite: reading columns: %w", err)
	}

	rows, err = q.QueryContext(ctx, qIndexes, arg)
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading indexes: %w", err)
	}
	for rows.Next() {
		var tbl, name string
		var col *string
		var unique, partial, seq int
		var sqlText *string
		if err := rows.Scan(&tbl, &name, &unique, &partial, &seq, &col, &sqlText); err != nil {
			rows.Close()
			return nil, err
		}
		ix := snap.Indexes[name]
		if ix == nil {
			ix = &dialect.Index{Table: tbl, Name: name, Unique: unique != 0, Valid: true}
			if partial != 0 && sqlText != nil {
				ix.Predicate = indexPredicate(*sqlText)
			}
			snap.Indexes[name] = ix
		}
		c := "<expr>" // expression index column
		if col != nil {
			c = *col
		}
		ix.Columns = append(ix.Columns, c)
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("sqlite: reading indexes: %w", err)
	}

	rows, err = q.QueryContext(ctx, qObjects, arg)
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading tables and triggers: %w", err)
	}
	for rows.Next() {
		var typ, name, tbl, text string
		if err := rows.Scan(&typ, &name, &tbl, &text); err != nil {
			rows.Close()
			return nil, err
		}
		switch typ {
		case "table":
			for cname, expr := range namedChecks(text) {
				snap.Checks[cname] = &dialect.Check{Table: tbl, Name: cname, Expr: expr, Validated: true}
			}
		case "trigger":
			timing, event, body := parseTrigger(text)
			snap.Triggers[name] = &dialect.Trigger{Name: name, Table: tbl, Timing: timing, Event: event, Body: body}
		}
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("sqlite: reading tables and triggers: %w", err)
	}
	return snap, nil
}

type closer interface {
	Err() error
	Close() error
}

func closeRows(r closer) error {
	err := r.Err()
	if cerr := r.Close(); err == nil {
		err = cerr
	}
	return err
}

func jsonArray(ss []string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, s := range ss {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q", s) // table names: Go quoting is valid JSON for them
	}
	b.WriteByte(']')
	return b.String()
}

var spaces = regexp.MustCompile(`\s+`)

// norm lower-cases, collapses white space and strips one pair of enclosing parentheses.
func norm(s string) string {
	s = strings.ToLower(strings.TrimSpace(spaces.ReplaceAllString(s, " ")))
	for len(s) >= 2 && s[0] == '(' && s[len(s)-1] == ')' && balanced(s[1:len(s)-1]) {
		s = strings.TrimSpace(s[1 : len(s)-1])
	}
	return s
}

func balanced(s string) bool {
	d := 0
	for _, r := range s {
		switch r {
		case '(':
			d++
		case ')':
			d--
			if d < 0 {
				return false
			}
		}
	}
	return d == 0
}

// normType reports a declared type as its SQLite type affinity ("integer", "text", "blob", "real",
// "numeric"), the only thing SQLite derives from it (https://sqlite.org/datatype3.html, 3.1). This also
// makes a CREATE TABLE ... AS SELECT copy (declared "INT", "NUM", ...) compare equal to its source.
func normType(t string) string {
	u := strings.ToUpper(t)
	switch {
	case strings.Contains(u, "INT"):
		return "integer"
	case strings.Contains(u, "CHAR"), strings.Contains(u, "CLOB"), strings.Contains(u, "TEXT"):
		return "text"
	case strings.Contains(u, "BLOB"), strings.TrimSpace(u) == "":
		return "blob"
	case strings.Contains(u, "REAL"), strings.Contains(u, "FLOA"), strings.Contains(u, "DOUB"):
		return "real"
	default:
		return "numeric"
	}
}

func normDefault(d *string) *string {
	if d == nil {
		return nil
	}
	v := strings.TrimSpace(*d)
	for len(v) >= 2 && v[0] == '(' && v[len(v)-1] == ')' {
		v = strings.TrimSpace(v[1 : len(v)-1])
	}
	switch strings.ToLower(v) {
	case "current_timestamp", "datetime('now')", "datetime(\"now\")":
		v = "now"
	}
	return &v
}

var withoutRowidRE = regexp.MustCompile(`(?i)\bWITHOUT\s+ROWID\b`)

var whereRE = regexp.MustCompile(`(?is)\bWHERE\b(.*)$`)

// indexPredicate extracts the normalized WHERE clause of a CREATE INDEX text.
func indexPredicate(text string) string {
	m := whereRE.FindStringSubmatch(strings.TrimRight(strings.TrimSpace(text), ";"))
	if m == nil {
		return ""
	}
	return norm(m[1])
}

var checkRE = regexp.MustCompile(`(?i)\bCONSTRAINT\s+("?)(\w+)("?)\s+CHECK\s*\(`)

// namedChecks returns the named CHECK constraints of a CREATE TABLE text: name -> normalized expression.
func namedChecks(text string) map[string]string {
	out := map[string]string{}
	for _, loc := range checkRE.FindAllStringSubmatchIndex(text, -1) {
		name := text[loc[4]:loc[5]]
		start := loc[1] // just after "("
		d := 1
		i := start
		for ; i < len(text) && d > 0; i++ {
			switch text[i] {
			case '(':
				d++
			case ')':
				d--
			}
		}
		if d == 0 {
			out[name] = norm(text[start : i-1])
		}
	}
	return out
}

var triggerRE = regexp.MustCompile(`(?is)^\s*CREATE\s+(?:TEMP\s+|TEMPORARY\s+)?TRIGGER\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:"[^"]+"|\S+)\s+(BEFORE\s+|AFTER\s+|INSTEAD\s+OF\s+)?(INSERT|UPDATE|DELETE)\b(.*)$`)

// parseTrigger returns timing ("BEFORE", "AFTER", "INSTEAD OF"; SQLite's default is BEFORE), event
// ("INSERT", "UPDATE", "DELETE") and the normalized rest of the text (OF columns, WHEN, action).
func parseTrigger(text string) (timing, event, body string) {
	m := triggerRE.FindStringSubmatch(text)
	if m == nil {
		return "", "", norm(text)
	}
	timing = strings.ToUpper(spaces.ReplaceAllString(strings.TrimSpace(m[1]), " "))
	if timing == "" {
		timing = "BEFORE"
	}
	return timing, strings.ToUpper(m[2]), norm(m[3])
}

// sqlType maps a logical type to the declared SQLite type (lower-case, as Snapshot reports it).
func sqlType(t schema.Type) string {
	switch t {
	case schema.TypeVersion, schema.TypeRiskScore, schema.TypeAuditID:
		return "integer"
	default:
		return "text"
	}
}

func renderColumns(cols ...[]schema.Column) []*dialect.Column {
	var out []*dialect.Column
	for _, cs := range cols {
		for _, c := range cs {
			out = append(out, &dialect.Column{Name: c.Name, Type: sqlType(c.Type), Nullable: c.Nullable,
				Default: dialect.DefaultText(c.Default)}) // SQLite has no column comments
		}
	}
	return out
}

// renderArchiveColumns is how CREATE TABLE ... AS SELECT copies columns: affinity only, every column
// nullable, no default.
func renderArchiveColumns(cols []schema.Column) []*dialect.Column {
	var out []*dialect.Column
	for _, c := range cols {
		out = append(out, &dialect.Column{Name: c.Name, Type: sqlType(c.Type), Nullable: true})
	}
	return out
}

func renderIndex(ix schema.Index) *dialect.Index {
	return &dialect.Index{Table: ix.Table, Name: ix.Name, Columns: slices.Clone(ix.Columns),
		Predicate: dialect.PredicateText(ix.Partial), Valid: true}
}

// Expected renders the logical schema as Snapshot reports it on SQLite: text/integer columns (type
// affinities) without comments; sessions lists the base and the security columns, sessions_archive the
// security columns as CREATE TABLE ... AS SELECT copies them (nullable, no default); partial indexes;
// both triggers AFTER (an UPDATE of the row by rowid; BodyContains pins the hash call, the NULL-safe WHEN
// and the rowid update); no routines (they are Go functions here); the risk rule as the named column
// CHECK sessions_risk_score_range.
func (*Dialect) Expected(s schema.Schema) *dialect.Snapshot {
	snap := dialect.NewSnapshot()
	snap.Tables[s.Sessions] = &dialect.Table{Name: s.Sessions, Columns: renderColumns(s.BaseColumns, s.SecurityColumns)}
	for _, ix := range s.Indexes {
		snap.Indexes[ix.Name] = renderIndex(ix)
	}
	for _, t := range s.Tables {
		tbl := &dialect.Table{Name: t.Name}
		if t.MirrorsSessions {
			// The core checks that the archive mirrors sessions column by column (names, order, types);
			// listed here are the security columns as CREATE TABLE ... AS SELECT copies them.
			tbl.Columns = renderArchiveColumns(s.SecurityColumns)
		} else {
			tbl.Columns = renderColumns(t.Columns)
		}
		snap.Tables[t.Name] = tbl
		for _, ix := range t.Indexes {
			snap.Indexes[ix.Name] = renderIndex(ix)
		}
	}
	for _, tr := range s.Triggers {
		et := &dialect.Trigger{Name: tr.Name, Table: tr.Table, Timing: string(schema.After), Event: string(tr.Event)}
		switch tr.Event {
		case schema.Insert:
			et.BodyContains = []string{s.HashFunction + "(", "where rowid = new.rowid"}
		case schema.Update:
			et.BodyContains = []string{"of last_accessed_at", "new.last_accessed_at is not old.last_accessed_at",
				"where rowid = new.rowid"}
		}
		snap.Triggers[tr.Name] = et
	}
	r := s.Risk
	snap.Checks[r.ConstraintName] = &dialect.Check{Table: s.Sessions, Name: r.ConstraintName,
		Expr: fmt.Sprintf("%s between %d and %d", r.Column, r.Min, r.Max), Validated: true}
	return snap
}

// Preflight reports what would stop the migration: a connection without the registered hash function
// (not a modernc.org/sqlite connection of this program), a read-only connection, a sessions table
// lacking base columns (e.g. the AG-UI Go SDK layout: id / last_accessed), a WITHOUT ROWID sessions
// table (the triggers update by rowid), or security columns of which only some exist.
func (d *Dialect) Preflight(ctx context.Context, q dialect.Querier, s schema.Schema, snap *dialect.Snapshot) []dialect.Problem {
	var out []dialect.Problem
	var probe string
	if err := q.QueryRowContext(ctx, qHashProbe).Scan(&probe); err != nil {
		out = append(out, dialect.Problem{Kind: dialect.KindOther, Object: "function " + s.HashFunction,
			Message: "the connection cannot call " + s.HashFunction + ": " + err.Error(),
			Fix: "open the database with the modernc.org/sqlite driver (driver name \"sqlite\") in a program that " +
				"imports github.com/agui-go/sessionsec/sqlite; the stock migrate CLI cannot run these migrations"})
	}
	var ro int
	if err := q.QueryRowContext(ctx, qQueryOnly).Scan(&ro); err == nil && ro != 0 {
		out = append(out, dialect.Problem{Kind: dialect.KindReadOnly, Object: "database main",
			Message: "the connection is query_only", Fix: "open the database read-write"})
	}
	if snap == nil {
		var err error
		if snap, err = d.Snapshot(ctx, q, []string{s.Sessions}); err != nil {
			return append(out, dialect.Problem{Kind: dialect.KindOther, Object: "table " + s.Sessions,
				Message: "reading the catalog: " + err.Error()})
		}
	}
	t := snap.Tables[s.Sessions]
	if t == nil {
		return out // created by 000001
	}
	var found, missing []string
	for _, c := range t.Columns {
		found = append(found, c.Name)
	}
	for _, c := range s.BaseColumns {
		if t.Column(c.Name) == nil {
			missing = append(missing, c.Name)
		}
	}
	if len(missing) > 0 {
		msg := fmt.Sprintf("table %s lacks the column(s) %s that the triggers and routines need; found columns: %s",
			s.Sessions, strings.Join(missing, ", "), strings.Join(found, ", "))
		fix := "rename or add the missing columns (" + strings.Join(missing, ", ") + ") before migrating"
		if t.Column("id") != nil && t.Column("last_accessed") != nil {
			msg += " (this is the AG-UI Go SDK session-store layout: id / last_accessed)"
			fix = "the AG-UI Go SDK layout is not supported as is: rename id -> session_id and last_accessed -> " +
				"last_accessed_at, add any other missing column, or point the library at a separate sessions table"
		}
		out = append(out, dialect.Problem{Kind: dialect.KindIncompatibleTable, Object: "table " + s.Sessions,
			Message: msg, Fix: fix})
	}
	var present []string
	for _, c := range s.SecurityColumns {
		if t.Column(c.Name) != nil {
			present = append(present, c.Name)
		}
	}
	if len(present) > 0 && len(present) < len(s.SecurityColumns) {
		out = append(out, dialect.Problem{Kind: dialect.KindConflictingObject, Object: "table " + s.Sessions,
			Message: "only some security columns exist (" + strings.Join(present, ", ") + "); the migrations add all six at once",
			Fix:     "drop or rename those columns, or finish the schema by hand and force the version"})
	}
	out = append(out, conflicts(ctx, q, s, d.Expected(s), snap)...)
	var text string
	if err := q.QueryRowContext(ctx, qTableSQL, s.Sessions).Scan(&text); err == nil &&
		withoutRowidRE.MatchString(text) {
		out = append(out, dialect.Problem{Kind: dialect.KindIncompatibleTable, Object: "table " + s.Sessions,
			Message: "the table is WITHOUT ROWID; the SQLite triggers update the inserted row by rowid",
			Fix:     "rebuild sessions as an ordinary rowid table"})
	}
	return out
}

// conflicts reports objects that carry one of our names but another definition: the migrations use
// CREATE ... IF NOT EXISTS and would silently keep them. Objects that match (a re-run) are fine.
func conflicts(ctx context.Context, q dialect.Querier, s schema.Schema, want, snap *dialect.Snapshot) []dialect.Problem {
	var out []dialect.Problem
	conflict := func(obj, msg, fix string) {
		out = append(out, dialect.Problem{Kind: dialect.KindConflictingObject, Object: obj, Message: msg, Fix: fix})
	}
	// Names used on another table (or by another kind of object).
	var names []string
	kinds := map[string]string{}
	owner := map[string]string{}
	for n, ix := range want.Indexes {
		names, kinds[n], owner[n] = append(names, n), "index", ix.Table
	}
	for n, tr := range want.Triggers {
		names, kinds[n], owner[n] = append(names, n), "trigger", tr.Table
	}
	for n := range want.Tables {
		names, kinds[n], owner[n] = append(names, n), "table", n
	}
	slices.Sort(names)
	if rows, err := q.QueryContext(ctx, qObjectsByName, jsonArray(names)); err == nil {
		for rows.Next() {
			var typ, name, tbl string
			if rows.Scan(&typ, &name, &tbl) != nil {
				continue
			}
			if typ != kinds[name] || tbl != owner[name] {
				conflict(typ+" "+name, fmt.Sprintf("%s %s exists on %s; the migrations need the name for a %s on %s",
					typ, name, tbl, kinds[name], owner[name]), "rename or drop that "+typ)
			}
		}
		_ = closeRows(rows)
	}

	// Same name, other definition: compare what exists with what the migrations would create.
	sub := dialect.NewSnapshot()
	for n, ix := range want.Indexes {
		if g := snap.Indexes[n]; g != nil && g.Table == ix.Table {
			sub.Indexes[n] = ix
		}
	}
	for n, tr := range want.Triggers {
		if g := snap.Triggers[n]; g != nil && g.Table == tr.Table {
			sub.Triggers[n] = tr
		}
	}
	for n, c := range want.Checks {
		if snap.Checks[n] != nil {
			sub.Checks[n] = c
		}
	}
	if st := snap.Tables[s.Sessions]; st != nil {
		all := true
		for _, c := range s.SecurityColumns {
			all = all && st.Column(c.Name) != nil
		}
		if all {
			sub.Tables[s.Sessions] = &dialect.Table{Name: s.Sessions, Columns: renderColumns(s.SecurityColumns)}
		}
	}
	for _, t := range s.Tables {
		g := snap.Tables[t.Name]
		if g == nil {
			continue
		}
		if t.MirrorsSessions {
			if st := snap.Tables[s.Sessions]; st != nil && columnSig(g) != columnSig(st) {
				conflict("table "+t.Name, fmt.Sprintf("%s exists but its columns (%s) do not mirror %s (%s)",
					t.Name, columnSig(g), s.Sessions, columnSig(st)),
					"rename the existing table, or align its columns with "+s.Sessions)
			}
			continue
		}
		sub.Tables[t.Name] = want.Tables[t.Name]
	}
	// One problem per object, all its differences in the message.
	var order []string
	diffs := map[string][]string{}
	for _, m := range dialect.Diff(sub, snap) {
		if diffs[m.Object] == nil {
			order = append(order, m.Object)
		}
		diffs[m.Object] = append(diffs[m.Object], m.String())
	}
	for _, obj := range order {
		conflict(obj, "exists with another definition: "+strings.Join(diffs[obj], "; "),
			"rename or drop it (the migrations create it with IF NOT EXISTS and would keep yours)")
	}
	return out
}

func columnSig(t *dialect.Table) string {
	parts := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		parts[i] = c.Name + " " + c.Type
	}
	return strings.Join(parts, ", ")
}
