package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// Catalog queries. Every one is filtered by the connected schema (DATABASE()); "%s" marks where an IN
// list of placeholders goes.
const (
	queryIdentify      = `SELECT VERSION(), @@version_comment, DATABASE()`
	queryDatabase      = `SELECT DATABASE()`
	queryReadVersion   = `SELECT version, dirty FROM %s LIMIT 1`
	stmtPrepareSession = `SET SESSION lock_wait_timeout = %d, autocommit = 1, sql_mode = '%s', time_zone = '+00:00'`

	queryTryLock    = `SELECT GET_LOCK(?, 1)`
	queryUnlock     = `SELECT RELEASE_LOCK(?)`
	queryLockHolder = `SELECT IS_USED_LOCK(?)`

	queryTables = `SELECT TABLE_NAME, TABLE_TYPE, COALESCE(ENGINE, ''), COALESCE(ROW_FORMAT, ''), COALESCE(TABLE_ROWS, -1)
		FROM information_schema.TABLES
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (%s)`
	queryColumns = `SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE, COLUMN_DEFAULT,
		COLUMN_COMMENT, COALESCE(CHARACTER_MAXIMUM_LENGTH, 0), LOWER(EXTRA) LIKE '%%auto_increment%%'
		FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (%s)
		ORDER BY TABLE_NAME, ORDINAL_POSITION`
	queryIndexes = `SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, INDEX_TYPE
		FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (%s)
		ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`
	// Triggers and routines: every one of the schema (names are unique per schema), so that an object
	// with one of our names on another table is seen too.
	queryTriggers = `SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT
		FROM information_schema.TRIGGERS
		WHERE TRIGGER_SCHEMA = DATABASE()
		ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER`
	queryRoutines = `SELECT ROUTINE_NAME, ROUTINE_TYPE, COALESCE(ROUTINE_DEFINITION, ''), ROUTINE_COMMENT
		FROM information_schema.ROUTINES
		WHERE ROUTINE_SCHEMA = DATABASE()`
	// CHECK constraints: MySQL keys them per schema and names the table only in TABLE_CONSTRAINTS;
	// MariaDB keys them per table and has TABLE_NAME in CHECK_CONSTRAINTS (JSON columns carry one each).
	queryChecksMySQL = `SELECT tc.TABLE_NAME, cc.CONSTRAINT_NAME, cc.CHECK_CLAUSE
		FROM information_schema.TABLE_CONSTRAINTS tc
		JOIN information_schema.CHECK_CONSTRAINTS cc
		  ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
		WHERE tc.CONSTRAINT_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE = 'CHECK' AND tc.TABLE_NAME IN (%s)`
	queryChecksMariaDB = `SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE
		FROM information_schema.CHECK_CONSTRAINTS
		WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME IN (%s)`

	// Preflight.
	queryServerVariables = `SHOW GLOBAL VARIABLES WHERE Variable_name IN ('read_only', 'super_read_only',
		'innodb_read_only', 'log_bin', 'log_bin_trust_function_creators')`
	queryGrants = `SHOW GRANTS`
)

// RoutineCommentPrefix starts the COMMENT of every routine the migrations create; Preflight uses it to
// tell our routines (of any release) from foreign ones with the same name.
const RoutineCommentPrefix = "sessionsec:"

func placeholders(n int) string {
	if n == 0 {
		return "NULL"
	}
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func args(names []string) []any {
	out := make([]any, len(names))
	for i, n := range names {
		out[i] = n
	}
	return out
}

var intWidth = regexp.MustCompile(`^(tinyint|smallint|mediumint|int|integer|bigint)\(\d+\)`)

// normalizeType lower-cases COLUMN_TYPE and drops integer display widths (MariaDB and MySQL < 8.0.19
// report "int(11)"), except tinyint(1), which is how BOOLEAN reads back.
func normalizeType(columnType string) string {
	t := strings.ToLower(strings.TrimSpace(columnType))
	if strings.HasPrefix(t, "tinyint(1)") {
		return t
	}
	return intWidth.ReplaceAllString(t, "$1")
}

// Family maps a type, as declared or as COLUMN_TYPE reports it, to its family.
func (Dialect) Family(typ string) dialect.Family { return familyOf(normalizeType(typ)) }

func familyOf(t string) dialect.Family {
	base := t
	if i := strings.IndexAny(base, "( "); i >= 0 {
		base = base[:i]
	}
	switch base {
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set":
		return dialect.FamText
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return dialect.FamBinary
	case "tinyint":
		if strings.HasPrefix(t, "tinyint(1)") {
			return dialect.FamBool
		}
		return dialect.FamInteger
	case "bool", "boolean":
		return dialect.FamBool
	case "smallint", "mediumint", "int", "integer", "bigint":
		return dialect.FamInteger
	case "timestamp":
		return dialect.FamInstant
	case "datetime", "date":
		return dialect.FamWallClock
	case "json":
		return dialect.FamJSON
	}
	return dialect.FamOther
}

var nowDefault = regexp.MustCompile(`^(current_timestamp|now|localtimestamp|localtime)(\(\d*\))?$`)

// normalizeDefault maps COLUMN_DEFAULT to the catalog form: nil for none (MariaDB reports a NULL
// default as the string NULL), quotes stripped (MariaDB quotes string literals), "now" for the current
// timestamp in any spelling.
func normalizeDefault(def sql.NullString, mariadb bool) *string {
	if !def.Valid {
		return nil
	}
	v := strings.TrimSpace(def.String)
	if mariadb {
		if strings.EqualFold(v, "NULL") {
			return nil
		}
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = strings.ReplaceAll(v[1:len(v)-1], "''", "'")
			return &v
		}
	}
	if nowDefault.MatchString(strings.ToLower(v)) {
		v = "now"
	}
	return &v
}

// jsonValidColumn reads the column of a MariaDB "json_valid(`col`)" check, however the session's
// sql_mode quotes it (backticks, or double quotes under ANSI_QUOTES).
var jsonValidColumn = regexp.MustCompile("^json_valid\\([`\"]?([^`\")]+)[`\"]?\\)$")

// Inspect reads tables, CHECK constraints, columns, indexes, triggers and routines: six queries,
// whatever the number of objects. The checks come before the columns: on MariaDB a JSON column is a
// LONGTEXT known by its json_valid check.
func (Dialect) Inspect(ctx context.Context, q dialect.Querier, srv dialect.Server, tables []string) (*dialect.Catalog, error) {
	i := &inspection{q: q, caps: capsOf(srv), cat: dialect.NewCatalog(srv.Schema), in: placeholders(len(tables)),
		args: args(tables), jsonCols: map[string]bool{}}
	if err := dialect.Reads(ctx, i.tables, i.checks, i.columns, i.indexes, i.triggers, i.routines); err != nil {
		return nil, err
	}
	return i.cat, nil
}

// inspection is one Inspect call: one method a catalog query, each adding what it reads to cat.
type inspection struct {
	q        dialect.Querier
	caps     Caps
	cat      *dialect.Catalog
	in       string          // the placeholders of the table names
	args     []any           // the table names
	jsonCols map[string]bool // "table.column" of MariaDB's JSON columns, read by checks for columns
}

func (i *inspection) tables(ctx context.Context) error {
	return dialect.ReadRows(ctx, i.q, "mysql: inspect tables", fmt.Sprintf(queryTables, i.in), i.args, func(rows *sql.Rows) error {
		t := &dialect.Table{}
		var typ string
		if err := rows.Scan(&t.Name, &typ, &t.Engine, &t.RowFormat, &t.Rows); err != nil {
			return err
		}
		if typ != "BASE TABLE" {
			t.Kind = dialect.TableView
		}
		t.RowFormat = strings.ToUpper(t.RowFormat)
		i.cat.Tables[t.Name] = t
		return nil
	})
}

func (i *inspection) checks(ctx context.Context) error {
	query := queryChecksMySQL
	if i.caps.MariaDB() {
		query = queryChecksMariaDB
	}
	return dialect.ReadRows(ctx, i.q, "mysql: inspect check constraints", fmt.Sprintf(query, i.in), i.args, func(rows *sql.Rows) error {
		c := &dialect.Check{Validated: true}
		if err := rows.Scan(&c.Table, &c.Name, &c.Expr); err != nil {
			return err
		}
		if m := jsonValidColumn.FindStringSubmatch(strings.TrimSpace(c.Expr)); m != nil {
			i.jsonCols[c.Table+"."+m[1]] = true
			return nil // MariaDB's JSON type, not a constraint of anyone's
		}
		i.cat.Checks = append(i.cat.Checks, c)
		return nil
	})
}

func (i *inspection) columns(ctx context.Context) error {
	return dialect.ReadRows(ctx, i.q, "mysql: inspect columns", fmt.Sprintf(queryColumns, i.in), i.args, func(rows *sql.Rows) error {
		var table, name, colType, dataType, nullable, comment string
		var def sql.NullString
		var length int64
		var autoInc bool
		if err := rows.Scan(&table, &name, &colType, &dataType, &nullable, &def, &comment, &length, &autoInc); err != nil {
			return err
		}
		t := i.cat.Tables[table]
		if t == nil {
			return nil
		}
		typ := normalizeType(colType)
		if i.caps.JSONIsText() && strings.EqualFold(dataType, "longtext") && i.jsonCols[table+"."+name] {
			typ = "json"
		}
		c := &dialect.Column{Name: name, Type: typ, Family: familyOf(typ), Nullable: nullable == "YES",
			Default: normalizeDefault(def, i.caps.MariaDB()), Comment: comment, AutoIncrement: autoInc}
		if c.Family == dialect.FamText && length < 1<<20 {
			c.Length = int(length)
		}
		t.Columns = append(t.Columns, c)
		return nil
	})
}

// indexes reads one row per key part, in order: a row of another index starts a new one.
func (i *inspection) indexes(ctx context.Context) error {
	var current *dialect.Index
	return dialect.ReadRows(ctx, i.q, "mysql: inspect indexes", fmt.Sprintf(queryIndexes, i.in), i.args, func(rows *sql.Rows) error {
		var table, name, method string
		var nonUnique int
		var col sql.NullString
		if err := rows.Scan(&table, &name, &nonUnique, &col, &method); err != nil {
			return err
		}
		if current == nil || current.Table != table || current.Name != name {
			current = &dialect.Index{Table: table, Name: name, Unique: nonUnique == 0, Primary: name == "PRIMARY",
				Valid: true, Method: strings.ToLower(method)}
			i.cat.Indexes = append(i.cat.Indexes, current)
		}
		c := col.String
		if !col.Valid {
			c = "(expression)" // a functional key part
		}
		current.Columns = append(current.Columns, c)
		return nil
	})
}

func (i *inspection) triggers(ctx context.Context) error {
	return dialect.ReadRows(ctx, i.q, "mysql: inspect triggers", queryTriggers, nil, func(rows *sql.Rows) error {
		tr := &dialect.Trigger{Row: true}
		if err := rows.Scan(&tr.Name, &tr.Table, &tr.Timing, &tr.Event, &tr.Body); err != nil {
			return err
		}
		tr.Timing, tr.Event = strings.ToUpper(tr.Timing), strings.ToUpper(tr.Event)
		i.cat.Triggers = append(i.cat.Triggers, tr)
		return nil
	})
}

func (i *inspection) routines(ctx context.Context) error {
	return dialect.ReadRows(ctx, i.q, "mysql: inspect routines", queryRoutines, nil, func(rows *sql.Rows) error {
		r := &dialect.Routine{}
		if err := rows.Scan(&r.Name, &r.Kind, &r.Body, &r.Comment); err != nil {
			return err
		}
		r.Kind = strings.ToUpper(r.Kind)
		i.cat.Routines[strings.ToLower(r.Name)] = r
		return nil
	})
}

// queryTablesLike lists the tables of the schema whose names start with a prefix (LIKE with the
// wildcards of the prefix escaped).
const queryTablesLike = `SELECT TABLE_NAME FROM information_schema.TABLES
	WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE ? ESCAPE '!' ORDER BY TABLE_NAME`

// Retired counts the rows of the tables whose names start with prefix.
func (Dialect) Retired(ctx context.Context, q dialect.Querier, _ dialect.Server, prefix string) (map[string]int64, error) {
	return dialect.RowCounts(ctx, q, quote, queryTablesLike, likePrefix(prefix, '!'))
}

// likePrefix escapes LIKE's wildcards in a literal prefix and appends %.
func likePrefix(s string, esc byte) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '%' || c == '_' || c == esc {
			b.WriteByte(esc)
		}
		b.WriteByte(s[i])
	}
	return b.String() + "%"
}

// queryTableColumns lists the columns of every base table of the schema.
const queryTableColumns = `SELECT c.TABLE_NAME, c.COLUMN_NAME
		FROM information_schema.COLUMNS c
		JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
		WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE'
		ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION`

// TableColumns lists the column names of every base table of the schema.
func (Dialect) TableColumns(ctx context.Context, q dialect.Querier, _ dialect.Server) (map[string][]string, error) {
	out, err := dialect.ColumnsByTable(ctx, q, queryTableColumns)
	if err != nil {
		return nil, fmt.Errorf("mysql: list tables: %w", err)
	}
	return out, nil
}
