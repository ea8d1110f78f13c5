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
	queryIdentify = `SELECT current_setting('server_version'),
       current_setting('server_version_num')::int,
       current_schema()`

	queryCurrentDatabase = `SELECT current_database()`

	queryLockScope = `SELECT current_database(), current_schema()`

	queryTryLock = `SELECT pg_try_advisory_lock($1::bigint)`
	queryUnlock  = `SELECT pg_advisory_unlock($1::bigint)`

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

	// Columns of the given tables, in ordinal order. Identity and generated columns report no default.
	querySnapshotColumns = `SELECT c.relname, a.attname,
       lower(format_type(a.atttypid, a.atttypmod)),
       NOT a.attnotnull,
       CASE WHEN a.attidentity <> '' OR a.attgenerated <> '' THEN NULL
            ELSE pg_get_expr(d.adbin, d.adrelid) END,
       COALESCE(col_description(c.oid, a.attnum), '')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE n.nspname = current_schema() AND c.relname = ANY ($1::text[]) AND c.relkind IN ('r', 'p')
ORDER BY c.relname, a.attnum`

	// Indexes of the given tables: key columns in order (expressions rendered), partial predicate.
	querySnapshotIndexes = `SELECT t.relname, i.relname, x.indisunique, x.indisvalid AND x.indisready,
       COALESCE(pg_get_expr(x.indpred, x.indrelid, true), ''),
       (SELECT string_agg(COALESCE(a.attname, pg_get_indexdef(x.indexrelid, k.ord::int, true)), chr(31) ORDER BY k.ord)
        FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
        LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum AND k.attnum > 0
        WHERE k.ord <= x.indnkeyatts)
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
WHERE n.nspname = current_schema() AND t.relname = ANY ($1::text[])
ORDER BY i.relname`

	// User triggers of the given tables; tgtype bits: 1 ROW, 2 BEFORE, 4 INSERT, 8 DELETE, 16 UPDATE,
	// 32 TRUNCATE, 64 INSTEAD.
	querySnapshotTriggers = `SELECT tg.tgname, c.relname, tg.tgtype::int, pg_get_triggerdef(tg.oid, true)
FROM pg_trigger tg
JOIN pg_class c ON c.oid = tg.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT tg.tgisinternal AND n.nspname = current_schema() AND c.relname = ANY ($1::text[])
ORDER BY c.relname, tg.tgname`

	// Functions and procedures of the current schema.
	querySnapshotRoutines = `SELECT lower(p.proname), p.prokind::text
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = current_schema() AND p.prokind IN ('f', 'p')
ORDER BY 1, 2`

	// CHECK constraints of the given tables.
	querySnapshotChecks = `SELECT c.relname, k.conname, pg_get_constraintdef(k.oid, true), k.convalidated
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE k.contype = 'c' AND n.nspname = current_schema() AND c.relname = ANY ($1::text[])
ORDER BY c.relname, k.conname`

	// Preflight: server state and privileges in one row. $1 is the sessions table name.
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

	// Preflight: every object of the current schema carrying one of our names, whatever table it is on.
	// $1 index names, $2 trigger names, $3 routine names (lower-case), $4 table names.
	queryPreflightNamed = `SELECT 'index', i.relname, t.relname, ''
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = i.relnamespace
WHERE n.nspname = current_schema() AND i.relname = ANY ($1::text[])
UNION ALL
SELECT 'trigger', tg.tgname, c.relname, pg_get_triggerdef(tg.oid, true)
FROM pg_trigger tg JOIN pg_class c ON c.oid = tg.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE NOT tg.tgisinternal AND n.nspname = current_schema() AND tg.tgname = ANY ($2::text[])
UNION ALL
SELECT 'routine', lower(p.proname), p.prokind::text,
       pg_get_function_identity_arguments(p.oid) || ' -> ' || format_type(p.prorettype, NULL)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = current_schema() AND lower(p.proname) = ANY ($3::text[])
UNION ALL
SELECT 'relation', c.relname, c.relkind::text, ''
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relname = ANY ($4::text[]) AND c.relkind NOT IN ('r', 'p', 'i', 'I')
ORDER BY 1, 2, 3`

	// Repair: INVALID (or not ready) indexes of the current schema with one of our names.
	queryInvalidIndexes = `SELECT n.nspname, i.relname, t.relname
FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = i.relnamespace
WHERE n.nspname = current_schema() AND i.relname = ANY ($1::text[])
  AND NOT (x.indisvalid AND x.indisready)
ORDER BY i.relname`
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

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// Snapshot reads the catalog of current_schema() for the given tables in five queries (columns, indexes,
// triggers, routines, checks), whatever the number of objects.
func (*Dialect) Snapshot(ctx context.Context, q dialect.Querier, tables []string) (*dialect.Snapshot, error) {
	snap := dialect.NewSnapshot()
	arr := textArray(tables)

	if err := eachRow(ctx, q, querySnapshotColumns, []any{arr}, func(rows *sql.Rows) error {
		var (
			table string
			col   dialect.Column
			def   sql.NullString
		)
		if err := rows.Scan(&table, &col.Name, &col.Type, &col.Nullable, &def, &col.Comment); err != nil {
			return err
		}
		if def.Valid {
			d := normalizeDefault(def.String)
			col.Default = &d
		}
		t := snap.Tables[table]
		if t == nil {
			t = &dialect.Table{Name: table}
			snap.Tables[table] = t
		}
		t.Columns = append(t.Columns, &col)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("postgres: snapshot columns: %w", err)
	}

	if err := eachRow(ctx, q, querySnapshotIndexes, []any{arr}, func(rows *sql.Rows) error {
		var (
			ix   dialect.Index
			cols sql.NullString
		)
		if err := rows.Scan(&ix.Table, &ix.Name, &ix.Unique, &ix.Valid, &ix.Predicate, &cols); err != nil {
			return err
		}
		if cols.String != "" {
			ix.Columns = strings.Split(cols.String, "\x1f")
		}
		ix.Predicate = normalizeExpr(ix.Predicate)
		snap.Indexes[ix.Name] = &ix
		return nil
	}); err != nil {
		return nil, fmt.Errorf("postgres: snapshot indexes: %w", err)
	}

	if err := eachRow(ctx, q, querySnapshotTriggers, []any{arr}, func(rows *sql.Rows) error {
		var (
			tg     dialect.Trigger
			tgtype int
		)
		if err := rows.Scan(&tg.Name, &tg.Table, &tgtype, &tg.Body); err != nil {
			return err
		}
		tg.Timing, tg.Event = decodeTgtype(tgtype)
		tg.Body = strings.ToLower(tg.Body)
		if _, dup := snap.Triggers[tg.Name]; !dup {
			snap.Triggers[tg.Name] = &tg
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("postgres: snapshot triggers: %w", err)
	}

	if err := eachRow(ctx, q, querySnapshotRoutines, nil, func(rows *sql.Rows) error {
		var name, kind string
		if err := rows.Scan(&name, &kind); err != nil {
			return err
		}
		r := &dialect.Routine{Name: name, Kind: "FUNCTION"}
		if kind == "p" {
			r.Kind = "PROCEDURE"
		}
		if prev, dup := snap.Routines[name]; !dup || prev.Kind != "PROCEDURE" {
			snap.Routines[name] = r
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("postgres: snapshot routines: %w", err)
	}

	if err := eachRow(ctx, q, querySnapshotChecks, []any{arr}, func(rows *sql.Rows) error {
		var ck dialect.Check
		if err := rows.Scan(&ck.Table, &ck.Name, &ck.Expr, &ck.Validated); err != nil {
			return err
		}
		ck.Expr = normalizeCheck(ck.Expr)
		snap.Checks[ck.Name] = &ck
		return nil
	}); err != nil {
		return nil, fmt.Errorf("postgres: snapshot checks: %w", err)
	}
	return snap, nil
}

func eachRow(ctx context.Context, q dialect.Querier, query string, args []any, f func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := f(rows); err != nil {
			return err
		}
	}
	return rows.Err()
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
	case "now()", "current_timestamp", "transaction_timestamp()", "current_timestamp(6)", "localtimestamp":
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
