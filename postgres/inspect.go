package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// Catalog queries. All of them look at current_schema() only. Table lists are passed as one text
// parameter holding an array literal ($1::text[]) so that lib/pq and pgx stdlib behave alike.
const (
	queryIdentify = `SELECT current_setting('server_version'), current_setting('server_version_num')::int,
       current_schema(), quote_ident(current_schema())`
	queryCurrentDatabase = `SELECT current_database()`
	queryLockScope       = `SELECT current_database(), current_schema()`
	queryTryLock         = `SELECT pg_try_advisory_lock($1::bigint)`
	queryUnlock          = `SELECT pg_advisory_unlock($1::bigint)`
	stmtLockTimeout      = `SET lock_timeout = '%dms'`
	stmtStatementTimeout = `SET statement_timeout = 0`

	// A bigint advisory key is stored as classid = high 32 bits, objid = low 32 bits, objsubid = 1.
	queryLockHolders = `SELECT count(DISTINCT l.pid)::int
FROM pg_locks l
WHERE l.locktype = 'advisory'
  AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid = ($1::bigint >> 32)::oid
  AND l.objid = ($1::bigint & 4294967295)::oid
  AND l.objsubid = 1`

	queryMigrationsTableExists = `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = current_schema() AND c.relname = $1 AND c.relkind IN ('r', 'p')),
       current_schema()`

	// Relations of the given names, and the schema the first one resolves to through search_path.
	queryTables = `SELECT c.relname, c.relkind::text, c.reltuples::bigint
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relname = ANY ($1::text[]) AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`
	queryResolves = `SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.oid = to_regclass(quote_ident($1))`

	// Columns of the given tables, in ordinal order. Identity and generated columns report no default.
	queryColumns = `SELECT c.relname, a.attname,
       lower(format_type(a.atttypid, a.atttypmod)),
       CASE WHEN a.atttypid IN (1042, 1043) AND a.atttypmod > 4 THEN a.atttypmod - 4 ELSE 0 END,
       NOT a.attnotnull,
       CASE WHEN a.attidentity <> '' OR a.attgenerated <> '' THEN NULL
            ELSE pg_get_expr(d.adbin, d.adrelid) END,
       COALESCE(col_description(c.oid, a.attnum), '')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE n.nspname = current_schema() AND c.relname = ANY ($1::text[])
ORDER BY c.relname, a.attnum`

	// Indexes of the schema on the given tables and every index of the schema with one of the given
	// names (index names are per schema): key columns in order, partial predicate, validity, method.
	queryIndexes = `SELECT t.relname, i.relname, x.indisunique, x.indisprimary, x.indisvalid AND x.indisready,
       COALESCE(pg_get_expr(x.indpred, x.indrelid, true), ''), am.amname,
       (SELECT string_agg(COALESCE(a.attname, pg_get_indexdef(x.indexrelid, k.ord::int, true)), chr(31) ORDER BY k.ord)
        FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
        LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum AND k.attnum > 0
        WHERE k.ord <= x.indnkeyatts)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_am am ON am.oid = i.relam
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = current_schema() AND (t.relname = ANY ($1::text[]) OR i.relname = ANY ($2::text[]))
ORDER BY t.relname, i.relname`

	// Triggers of the schema's tables; tgtype bits: 1 ROW, 2 BEFORE, 4 INSERT, 8 DELETE, 16 UPDATE,
	// 32 TRUNCATE, 64 INSTEAD. The body is the trigger function's source.
	queryTriggers = `SELECT tg.tgname, c.relname, tg.tgtype::int, COALESCE(p.prosrc, ''), p.proname
FROM pg_trigger tg
JOIN pg_class c ON c.oid = tg.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_proc p ON p.oid = tg.tgfoid
WHERE NOT tg.tgisinternal AND n.nspname = current_schema()
ORDER BY c.relname, tg.tgname`

	// Functions and procedures of the current schema.
	queryRoutines = `SELECT p.proname, p.prokind::text, COALESCE(p.prosrc, ''),
       COALESCE(obj_description(p.oid, 'pg_proc'), ''),
       pg_get_function_identity_arguments(p.oid) || ' -> ' || format_type(p.prorettype, NULL)
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = current_schema() AND p.prokind IN ('f', 'p')`

	// CHECK constraints of the given tables.
	queryChecks = `SELECT c.relname, k.conname, pg_get_constraintdef(k.oid, true), k.convalidated
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype = 'c' AND n.nspname = current_schema() AND c.relname = ANY ($1::text[])
ORDER BY c.relname, k.conname`

	queryTablesLike = `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND starts_with(c.relname, $1)
ORDER BY 1`

	// Preflight: server state and privileges in one row. $1 is the session table name.
	queryPreflightState = `SELECT pg_is_in_recovery(),
       current_setting('default_transaction_read_only') = 'on',
       current_setting('transaction_read_only') = 'on',
       current_user,
       current_schema(),
       has_schema_privilege(current_schema(), 'CREATE'),
       c.oid IS NOT NULL,
       COALESCE(pg_get_userbyid(c.relowner), ''),
       COALESCE(pg_has_role(current_user, c.relowner, 'USAGE'), false),
       COALESCE(has_table_privilege(c.oid, 'TRIGGER'), false)
FROM (SELECT 1) AS one
LEFT JOIN (pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = current_schema())
       ON c.relname = $1 AND c.relkind IN ('r', 'p')`

	// Repair: INVALID (or not ready) indexes of the current schema with one of the given names.
	queryInvalidIndexes = `SELECT i.relname
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_namespace n ON n.oid = i.relnamespace
WHERE n.nspname = current_schema() AND i.relname = ANY ($1::text[]) AND NOT (x.indisvalid AND x.indisready)`
)

// textArray renders names as a PostgreSQL text[] literal, for a $n::text[] parameter.
func textArray(names []string) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, s := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('"')
		b.WriteString(strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String()
}

// quote quotes a PostgreSQL identifier.
func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Family maps a type, as declared or as format_type reports it, to its family.
func (Dialect) Family(typ string) dialect.Family {
	t := strings.ToLower(strings.TrimSpace(typ))
	if i := strings.Index(t, "("); i >= 0 && !strings.HasPrefix(t, "timestamp") {
		t = strings.TrimSpace(t[:i])
	}
	switch {
	case t == "text" || t == "varchar" || t == "character varying" || t == "char" || t == "character" || t == "bpchar" || t == "name" || t == "citext":
		return dialect.FamText
	case t == "bytea":
		return dialect.FamBinary
	case t == "smallint" || t == "integer" || t == "int" || t == "bigint" || t == "int2" || t == "int4" || t == "int8":
		return dialect.FamInteger
	case t == "boolean" || t == "bool":
		return dialect.FamBool
	case t == "timestamptz" || strings.HasPrefix(t, "timestamp") && strings.HasSuffix(t, "with time zone"):
		return dialect.FamInstant
	case strings.HasPrefix(t, "timestamp") || t == "date":
		return dialect.FamWallClock
	case t == "json" || t == "jsonb":
		return dialect.FamJSON
	case t == "inet" || t == "cidr":
		return dialect.FamInet
	case t == "uuid":
		return dialect.FamUUID
	}
	return dialect.FamOther
}

// Inspect reads relations, columns, indexes, triggers, routines and CHECK constraints of
// current_schema(): seven queries, whatever the number of objects.
func (d Dialect) Inspect(ctx context.Context, q dialect.Querier, srv dialect.Server, tables []string) (*dialect.Catalog, error) {
	i := &inspection{d: d, q: q, srv: srv, cat: dialect.NewCatalog(srv.Schema), tables: tables, arr: textArray(tables)}
	if err := dialect.Reads(ctx, i.relations, i.resolves, i.columns, i.indexes, i.triggers, i.routines, i.checks); err != nil {
		return nil, err
	}
	return i.cat, nil
}

// inspection is one Inspect call: one method a catalog query, each adding what it reads to cat.
type inspection struct {
	d      Dialect
	q      dialect.Querier
	srv    dialect.Server
	cat    *dialect.Catalog
	tables []string
	arr    string // tables as a text[] literal
}

func (i *inspection) relations(ctx context.Context) error {
	return dialect.ReadRows(ctx, i.q, "postgres: inspect tables", queryTables, []any{i.arr}, func(rows *sql.Rows) error {
		t := &dialect.Table{}
		var kind string
		if err := rows.Scan(&t.Name, &kind, &t.Rows); err != nil {
			return err
		}
		switch kind {
		case "r":
		case "p":
			t.Kind = dialect.TablePartitioned
		case "v":
			t.Kind = dialect.TableView
		default:
			t.Kind = dialect.TableOther
		}
		i.cat.Tables[t.Name] = t
		return nil
	})
}

// resolves records the schema the first table (the session table) resolves to through search_path,
// when it is not the current schema.
func (i *inspection) resolves(ctx context.Context) error {
	if len(i.tables) == 0 {
		return nil
	}
	var resolved sql.NullString
	err := i.q.QueryRowContext(ctx, queryResolves, i.tables[0]).Scan(&resolved)
	if err != nil && err != sql.ErrNoRows {
		return fmt.Errorf("postgres: resolve %s: %w", i.tables[0], err)
	}
	if resolved.Valid && resolved.String != i.srv.Schema {
		i.cat.Resolved = resolved.String
	}
	return nil
}

func (i *inspection) columns(ctx context.Context) error {
	return dialect.ReadRows(ctx, i.q, "postgres: inspect columns", queryColumns, []any{i.arr}, func(rows *sql.Rows) error {
		var table string
		var def sql.NullString
		c := &dialect.Column{}
		if err := rows.Scan(&table, &c.Name, &c.Type, &c.Length, &c.Nullable, &def, &c.Comment); err != nil {
			return err
		}
		c.Family = i.d.Family(c.Type)
		if def.Valid {
			n := normalizeDefault(def.String)
			c.Default = &n
		}
		if t := i.cat.Tables[table]; t != nil {
			t.Columns = append(t.Columns, c)
		}
		return nil
	})
}

func (i *inspection) indexes(ctx context.Context) error {
	args := []any{i.arr, textArray(ourIndexNames(i.tables))}
	return dialect.ReadRows(ctx, i.q, "postgres: inspect indexes", queryIndexes, args, func(rows *sql.Rows) error {
		ix := &dialect.Index{}
		var cols sql.NullString
		if err := rows.Scan(&ix.Table, &ix.Name, &ix.Unique, &ix.Primary, &ix.Valid, &ix.Predicate, &ix.Method, &cols); err != nil {
			return err
		}
		if cols.String != "" {
			ix.Columns = strings.Split(cols.String, "\x1f")
		}
		ix.Predicate = normalizeExpr(ix.Predicate)
		i.cat.Indexes = append(i.cat.Indexes, ix)
		return nil
	})
}

func (i *inspection) triggers(ctx context.Context) error {
	return dialect.ReadRows(ctx, i.q, "postgres: inspect triggers", queryTriggers, nil, func(rows *sql.Rows) error {
		tg := &dialect.Trigger{}
		var tgtype int
		if err := rows.Scan(&tg.Name, &tg.Table, &tgtype, &tg.Body, &tg.Function); err != nil {
			return err
		}
		tg.Timing, tg.Event = decodeTgtype(tgtype)
		tg.Row = tgtype&1 != 0
		i.cat.Triggers = append(i.cat.Triggers, tg)
		return nil
	})
}

func (i *inspection) routines(ctx context.Context) error {
	return dialect.ReadRows(ctx, i.q, "postgres: inspect routines", queryRoutines, nil, func(rows *sql.Rows) error {
		r := &dialect.Routine{}
		var kind string
		if err := rows.Scan(&r.Name, &kind, &r.Body, &r.Comment, &r.Signature); err != nil {
			return err
		}
		r.Kind = "FUNCTION"
		if kind == "p" {
			r.Kind = "PROCEDURE"
		}
		i.cat.Routines[strings.ToLower(r.Name)] = r
		return nil
	})
}

func (i *inspection) checks(ctx context.Context) error {
	return dialect.ReadRows(ctx, i.q, "postgres: inspect checks", queryChecks, []any{i.arr}, func(rows *sql.Rows) error {
		c := &dialect.Check{}
		if err := rows.Scan(&c.Table, &c.Name, &c.Expr, &c.Validated); err != nil {
			return err
		}
		c.Expr = normalizeCheck(c.Expr)
		i.cat.Checks = append(i.cat.Checks, c)
		return nil
	})
}

// Retired counts the rows of the tables whose names start with prefix.
func (Dialect) Retired(ctx context.Context, q dialect.Querier, _ dialect.Server, prefix string) (map[string]int64, error) {
	return dialect.RowCounts(ctx, q, quote, queryTablesLike, prefix)
}

// decodeTgtype turns pg_trigger.tgtype into timing and event(s) ("INSERT", "UPDATE", "INSERT OR UPDATE").
func decodeTgtype(t int) (timing, event string) {
	switch {
	case t&64 != 0:
		timing = "INSTEAD OF"
	case t&2 != 0:
		timing = "BEFORE"
	default:
		timing = "AFTER"
	}
	var ev []string
	for _, e := range []struct {
		bit  int
		name string
	}{{4, "INSERT"}, {16, "UPDATE"}, {8, "DELETE"}, {32, "TRUNCATE"}} {
		if t&e.bit != 0 {
			ev = append(ev, e.name)
		}
	}
	return timing, strings.Join(ev, " OR ")
}

var (
	spaceRe   = regexp.MustCompile(`\s+`)
	castRe    = regexp.MustCompile(`^'((?:[^']|'')*)'::[a-z ]+(?:\(\d+(?:,\s*\d+)?\))?$`)
	numCastRe = regexp.MustCompile(`^\(?(-?[0-9.]+)\)?::[a-z ]+$`)
)

// normalizeDefault maps a pg_get_expr column default onto the dialect-neutral form: "now" for the current
// timestamp, literals without their casts and quotes, anything else lower-cased.
func normalizeDefault(def string) string {
	d := strings.TrimSpace(def)
	lower := strings.ToLower(d)
	switch lower {
	case "now()", "current_timestamp", "transaction_timestamp()", "current_timestamp(6)", "localtimestamp", "statement_timestamp()":
		return "now"
	}
	if m := castRe.FindStringSubmatch(d); m != nil {
		return strings.ReplaceAll(m[1], "''", "'")
	}
	if m := numCastRe.FindStringSubmatch(lower); m != nil {
		return m[1]
	}
	return normalizeExpr(lower)
}

// normalizeCheck turns pg_get_constraintdef output ("CHECK (...) NOT VALID") into the bare normalized
// expression.
func normalizeCheck(def string) string {
	e := strings.TrimSpace(def)
	if strings.HasPrefix(strings.ToUpper(e), "CHECK ") {
		e = e[len("CHECK "):]
	}
	if strings.HasSuffix(strings.ToUpper(e), " NOT VALID") {
		e = e[:len(e)-len(" NOT VALID")]
	}
	return normalizeExpr(e)
}

// normalizeExpr lower-cases an expression, collapses white space and removes redundant parentheses: a
// pair is kept when it is a call or list (preceded by an identifier), followed by a cast or subscript, or
// groups a top-level AND/OR inside a larger expression.
func normalizeExpr(e string) string {
	e = strings.TrimSpace(spaceRe.ReplaceAllString(strings.ToLower(e), " "))
	for {
		next, changed := dropOneParenPair(e)
		if !changed {
			return e
		}
		e = next
	}
}

func dropOneParenPair(e string) (string, bool) {
	var stack []int
	inQuote := false
	for i := 0; i < len(e); i++ {
		c := e[i]
		if c == '\'' {
			inQuote = !inQuote
			continue
		}
		if inQuote {
			continue
		}
		switch c {
		case '(':
			stack = append(stack, i)
		case ')':
			if len(stack) == 0 {
				return e, false
			}
			open := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if removable(e, open, i) {
				out := e[:open] + e[open+1:i] + e[i+1:]
				return strings.TrimSpace(spaceRe.ReplaceAllString(out, " ")), true
			}
		}
	}
	return e, false
}

func removable(e string, open, close int) bool {
	before := strings.TrimRight(e[:open], " ")
	if before != "" {
		last := before[len(before)-1]
		if last == '_' || last == '"' || last == ']' || last == ')' ||
			(last >= 'a' && last <= 'z') || (last >= '0' && last <= '9') {
			return false // call, IN/ANY list, ...
		}
	}
	after := strings.TrimLeft(e[close+1:], " ")
	if strings.HasPrefix(after, "::") || strings.HasPrefix(after, "[") || strings.HasPrefix(after, ".") {
		return false
	}
	inner := e[open+1 : close]
	if strings.TrimSpace(inner) == "" || strings.Contains(inner, ",") {
		return false
	}
	if open == 0 && close == len(e)-1 {
		return true
	}
	return !hasTopLevelBoolOp(inner)
}

func hasTopLevelBoolOp(s string) bool {
	depth := 0
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\'':
			inQuote = !inQuote
		case inQuote:
		case c == '(':
			depth++
		case c == ')':
			depth--
		case depth == 0 && c == ' ':
			rest := s[i:]
			if strings.HasPrefix(rest, " and ") || strings.HasPrefix(rest, " or ") {
				return true
			}
		}
	}
	return false
}

// queryTableColumns lists the columns of every plain or partitioned table of the current schema.
const queryTableColumns = `SELECT c.relname, a.attname
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
ORDER BY c.relname, a.attnum`

// TableColumns lists the column names of every table of the current schema.
func (Dialect) TableColumns(ctx context.Context, q dialect.Querier, _ dialect.Server) (map[string][]string, error) {
	out, err := dialect.ColumnsByTable(ctx, q, queryTableColumns)
	if err != nil {
		return nil, fmt.Errorf("postgres: list tables: %w", err)
	}
	return out, nil
}
