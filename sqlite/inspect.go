package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// Catalog queries. Inspect runs four whatever the number of objects; the table list is passed as one
// JSON array bound to ?1 and expanded with json_each.
const (
	qIdentify = `SELECT sqlite_version(), COALESCE((SELECT file FROM pragma_database_list WHERE name = 'main'), '')`

	qTables = `SELECT type, name, COALESCE(sql, '') FROM sqlite_master
WHERE type IN ('table', 'view') AND name IN (SELECT value FROM json_each(?1))`

	// qColumns: every column of the named tables, in ordinal order.
	qColumns = `SELECT m.name, c.name, c.type, c."notnull", c.dflt_value, c.pk
FROM sqlite_master AS m JOIN pragma_table_xinfo(m.name) AS c
WHERE m.type IN ('table', 'view') AND m.name IN (SELECT value FROM json_each(?1))
ORDER BY m.name, c.cid`

	// qIndexes: every index of the named tables with its key columns in order and its CREATE text
	// (for the partial predicate); "pk" marks a primary key (pragma_index_list origin 'pk').
	qIndexes = `SELECT m.name, il.name, il."unique", il.origin, ii.name, COALESCE(ix.sql, '')
FROM sqlite_master AS m
JOIN pragma_index_list(m.name) AS il
JOIN pragma_index_info(il.name) AS ii
LEFT JOIN sqlite_master AS ix ON ix.type = 'index' AND ix.name = il.name
WHERE m.type = 'table' AND m.name IN (SELECT value FROM json_each(?1))
ORDER BY m.name, il.name, ii.seqno`

	// qTriggers: every trigger of the database (names are database-wide).
	qTriggers = `SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger' AND sql IS NOT NULL ORDER BY name`

	qTablesLike = `SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, length(?1)) = ?1 ORDER BY name`

	// qQueryOnly is 1 when the connection refuses writes (PRAGMA query_only).
	qQueryOnly = `SELECT query_only FROM pragma_query_only`

	// qHashProbe fails with "no such function" on a connection without the registered functions.
	qHashProbe = `SELECT session_security_hash('a', 'b', 0), sessionsec_epoch('2026-01-01'), sessionsec_ip_hash('127.0.0.1')`
)

// Family maps a declared type to its family, by SQLite's affinity rules plus the names that say what a
// column holds (DATETIME, BOOLEAN, JSON).
func (Dialect) Family(typ string) dialect.Family {
	u := strings.ToUpper(strings.TrimSpace(typ))
	switch {
	case strings.Contains(u, "DATE") || strings.Contains(u, "TIME"):
		return dialect.FamTimeText
	case strings.HasPrefix(u, "BOOL"):
		return dialect.FamBool
	case strings.Contains(u, "INT"):
		return dialect.FamInteger
	case strings.Contains(u, "JSON"):
		return dialect.FamJSON
	case strings.Contains(u, "CHAR"), strings.Contains(u, "CLOB"), strings.Contains(u, "TEXT"):
		return dialect.FamText
	case strings.Contains(u, "BLOB"):
		return dialect.FamBinary
	}
	return dialect.FamOther
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

// Inspect reads tables, columns, indexes, CHECK constraints and triggers in four queries. SQLite has
// no routines and no column comments.
func (d Dialect) Inspect(ctx context.Context, q dialect.Querier, srv dialect.Server, tables []string) (*dialect.Catalog, error) {
	i := &inspection{d: d, q: q, cat: dialect.NewCatalog(srv.Schema), arg: jsonArray(tables)}
	if err := dialect.Reads(ctx, i.tables, i.columns, i.indexes, i.triggers); err != nil {
		return nil, err
	}
	return i.cat, nil
}

// inspection is one Inspect call: one method a catalog query, each adding what it reads to cat.
type inspection struct {
	d   Dialect
	q   dialect.Querier
	cat *dialect.Catalog
	arg string // the table names as a JSON array
}

// tables reads the tables and, from their CREATE text, their named CHECK constraints.
func (i *inspection) tables(ctx context.Context) error {
	return dialect.ReadRows(ctx, i.q, "sqlite: reading tables", qTables, []any{i.arg}, func(rows *sql.Rows) error {
		var typ string
		t := &dialect.Table{Rows: -1}
		if err := rows.Scan(&typ, &t.Name, &t.SQL); err != nil {
			return err
		}
		if typ == "view" {
			t.Kind = dialect.TableView
		}
		i.cat.Tables[t.Name] = t
		for name, expr := range namedChecks(t.SQL) {
			i.cat.Checks = append(i.cat.Checks, &dialect.Check{Table: t.Name, Name: name, Expr: expr, Validated: true})
		}
		return nil
	})
}

func (i *inspection) columns(ctx context.Context) error {
	return dialect.ReadRows(ctx, i.q, "sqlite: reading columns", qColumns, []any{i.arg}, func(rows *sql.Rows) error {
		var tbl, name, typ string
		var notNull, pk int
		var dflt sql.NullString
		if err := rows.Scan(&tbl, &name, &typ, &notNull, &dflt, &pk); err != nil {
			return err
		}
		t := i.cat.Tables[tbl]
		if t == nil {
			return nil
		}
		t.Columns = append(t.Columns, &dialect.Column{Name: name, Type: strings.ToLower(typ), Family: i.d.Family(typ),
			Nullable: notNull == 0, Default: normDefault(dflt)})
		return nil
	})
}

// indexes reads one row per key part, in order (a row of another index starts a new one), then adds
// the rowid of the tables whose key it is.
func (i *inspection) indexes(ctx context.Context) error {
	var current *dialect.Index
	err := dialect.ReadRows(ctx, i.q, "sqlite: reading indexes", qIndexes, []any{i.arg}, func(rows *sql.Rows) error {
		var tbl, name, origin, text string
		var unique int
		var col sql.NullString
		if err := rows.Scan(&tbl, &name, &unique, &origin, &col, &text); err != nil {
			return err
		}
		if current == nil || current.Table != tbl || current.Name != name {
			current = &dialect.Index{Table: tbl, Name: name, Unique: unique != 0, Primary: origin == "pk", Valid: true,
				Method: "btree", Predicate: indexPredicate(text)}
			i.cat.Indexes = append(i.cat.Indexes, current)
		}
		c := "(expression)"
		if col.Valid {
			c = col.String
		}
		current.Columns = append(current.Columns, c)
		return nil
	})
	if err != nil {
		return err
	}
	rowidIndexes(i.cat)
	return nil
}

// rowidIndexes adds the rowid of every table whose INTEGER PRIMARY KEY it is: that key has no index of
// its own, and is unique all the same.
func rowidIndexes(cat *dialect.Catalog) {
	for _, t := range cat.Tables {
		for _, c := range t.Columns {
			if pkColumn(t.SQL, c.Name) && cat.Index(t.Name, "(rowid)") == nil && !hasPrimary(cat, t.Name) {
				cat.Indexes = append(cat.Indexes, &dialect.Index{Table: t.Name, Name: "(rowid)", Columns: []string{c.Name}, Unique: true, Primary: true, Valid: true})
			}
		}
	}
}

func (i *inspection) triggers(ctx context.Context) error {
	return dialect.ReadRows(ctx, i.q, "sqlite: reading triggers", qTriggers, nil, func(rows *sql.Rows) error {
		tr := &dialect.Trigger{Row: true}
		if err := rows.Scan(&tr.Name, &tr.Table, &tr.Body); err != nil {
			return err
		}
		tr.Timing, tr.Event = parseTrigger(tr.Body)
		i.cat.Triggers = append(i.cat.Triggers, tr)
		return nil
	})
}

func hasPrimary(cat *dialect.Catalog, table string) bool {
	for _, ix := range cat.TableIndexes(table) {
		if ix.Primary {
			return true
		}
	}
	return false
}

var integerPK = regexp.MustCompile(`(?is)^\s*"?(\w+)"?\s+INTEGER\s+PRIMARY\s+KEY\b`)

// pkColumn reports an INTEGER PRIMARY KEY column (the rowid alias), which pragma_index_list omits.
func pkColumn(tableSQL, col string) bool {
	open := strings.Index(tableSQL, "(")
	if open < 0 {
		return false
	}
	for _, def := range strings.Split(tableSQL[open+1:], ",") {
		if m := integerPK.FindStringSubmatch(def); m != nil && m[1] == col {
			return true
		}
	}
	return false
}

// Retired counts the rows of the tables whose names start with prefix.
func (Dialect) Retired(ctx context.Context, q dialect.Querier, _ dialect.Server, prefix string) (map[string]int64, error) {
	return dialect.RowCounts(ctx, q, quote, qTablesLike, prefix)
}

var spaces = regexp.MustCompile(`\s+`)

// norm lower-cases, drops identifier quotes, collapses white space and strips enclosing parentheses.
func norm(s string) string {
	s = strings.ToLower(strings.TrimSpace(spaces.ReplaceAllString(strings.ReplaceAll(s, `"`, ""), " ")))
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

func normDefault(d sql.NullString) *string {
	if !d.Valid {
		return nil
	}
	v := strings.TrimSpace(d.String)
	for len(v) >= 2 && v[0] == '(' && v[len(v)-1] == ')' {
		v = strings.TrimSpace(v[1 : len(v)-1])
	}
	switch strings.ToLower(v) {
	case "current_timestamp", "datetime('now')", `datetime("now")`:
		v = "now"
	}
	if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
		v = strings.ReplaceAll(v[1:len(v)-1], "''", "'")
	}
	return &v
}

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
		start := loc[1]
		d, i := 1, start
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

var triggerRE = regexp.MustCompile(`(?is)^\s*CREATE\s+(?:TEMP\s+|TEMPORARY\s+)?TRIGGER\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:"[^"]+"|\S+)\s+(BEFORE\s+|AFTER\s+|INSTEAD\s+OF\s+)?(INSERT|UPDATE|DELETE)\b`)

// parseTrigger returns timing ("BEFORE", "AFTER", "INSTEAD OF"; SQLite's default is BEFORE) and event.
func parseTrigger(text string) (timing, event string) {
	m := triggerRE.FindStringSubmatch(text)
	if m == nil {
		return "", ""
	}
	timing = strings.ToUpper(spaces.ReplaceAllString(strings.TrimSpace(m[1]), " "))
	if timing == "" {
		timing = "BEFORE"
	}
	return timing, strings.ToUpper(m[2])
}

// qTableColumns lists the columns of every table of the database (SQLite's own tables aside).
const qTableColumns = `SELECT m.name, c.name
FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS c
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\'
ORDER BY m.name, c.cid`

// TableColumns lists the column names of every table of the database.
func (Dialect) TableColumns(ctx context.Context, q dialect.Querier, _ dialect.Server) (map[string][]string, error) {
	out, err := dialect.ColumnsByTable(ctx, q, qTableColumns)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list tables: %w", err)
	}
	return out, nil
}
