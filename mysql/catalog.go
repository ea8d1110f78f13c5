package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// Catalog queries. Every one is filtered by the connected schema (DATABASE()); "%s" marks where an
// IN list of placeholders is inserted.
const (
	queryIdentify    = `SELECT VERSION(), @@version_comment, DATABASE()`
	queryDatabase    = `SELECT DATABASE()`
	queryReadVersion = `SELECT version, dirty FROM %s LIMIT 1`

	queryTryLock    = `SELECT GET_LOCK(?, 1)`
	queryUnlock     = `SELECT RELEASE_LOCK(?)`
	queryLockHolder = `SELECT IS_USED_LOCK(?)`
	stmtSetLockWait = `SET SESSION lock_wait_timeout = %d`

	// Snapshot: one query each, whatever the number of objects.
	queryColumns = `SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE, COLUMN_DEFAULT,
		COLUMN_COMMENT, COALESCE(COLLATION_NAME, '')
		FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (%s)
		ORDER BY TABLE_NAME, ORDINAL_POSITION`
	queryIndexes = `SELECT TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME
		FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN (%s)
		ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`
	// Triggers and routines: every one of the schema (names are unique per schema), so that an object
	// with one of our names on another table is seen too.
	queryTriggers = `SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT
		FROM information_schema.TRIGGERS
		WHERE TRIGGER_SCHEMA = DATABASE()
		ORDER BY TRIGGER_NAME`
	queryRoutines = `SELECT ROUTINE_NAME, ROUTINE_TYPE, ROUTINE_COMMENT
		FROM information_schema.ROUTINES
		WHERE ROUTINE_SCHEMA = DATABASE()
		ORDER BY ROUTINE_NAME`
	// MariaDB stores JSON as LONGTEXT plus CHECK (json_valid(col)); this tells a JSON column from a text one.
	queryMariaDBJSONChecks = `SELECT TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE
		FROM information_schema.CHECK_CONSTRAINTS
		WHERE CONSTRAINT_SCHEMA = DATABASE() AND TABLE_NAME IN (%s) AND CHECK_CLAUSE LIKE 'json_valid(%%'`

	// Preflight.
	queryServerVariables = `SHOW GLOBAL VARIABLES WHERE Variable_name IN ('read_only', 'super_read_only',
		'innodb_read_only', 'log_bin', 'log_bin_trust_function_creators', 'version', 'version_comment')`
	queryGrants = `SHOW GRANTS`
)

// RoutineCommentPrefix starts the COMMENT of every routine the migrations create; Preflight uses it to tell
// our routines from foreign ones with the same name.
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
// report "int(11)").
func normalizeType(columnType string) string {
	t := strings.ToLower(strings.TrimSpace(columnType))
	return intWidth.ReplaceAllString(t, "$1")
}

var nowDefault = regexp.MustCompile(`^(current_timestamp|now|localtimestamp|localtime)(\(\d*\))?$`)

// normalizeDefault maps COLUMN_DEFAULT to the snapshot form: nil for none (MariaDB reports a NULL
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

// Snapshot reads columns, indexes, triggers and routines in four queries (five on MariaDB, which needs
// its CHECK constraints to recognise JSON columns).
//
// Indexes are keyed by name. MySQL index names are per table: the first table of tables (pass the
// sessions table first) owning a name gets the bare key; the same name on a later table is keyed
// "<table>.<name>" (sessions_archive, created LIKE sessions, repeats every idx_sessions_* name). PRIMARY is
// always keyed "<table>.PRIMARY".
func (d *Dialect) Snapshot(ctx context.Context, q dialect.Querier, tables []string) (*dialect.Snapshot, error) {
	snap := dialect.NewSnapshot()
	var version string
	if err := q.QueryRowContext(ctx, `SELECT VERSION()`).Scan(&version); err != nil {
		return nil, fmt.Errorf("mysql: snapshot: %w", err)
	}
	mariadb := flavorOf(version, "") == FlavorMariaDB
	in := placeholders(len(tables))

	jsonCols := map[string]bool{}
	if mariadb && len(tables) > 0 {
		rows, err := q.QueryContext(ctx, fmt.Sprintf(queryMariaDBJSONChecks, in), args(tables)...)
		if err != nil {
			return nil, fmt.Errorf("mysql: snapshot check constraints: %w", err)
		}
		for rows.Next() {
			var table, name, clause string
			if err := rows.Scan(&table, &name, &clause); err != nil {
				rows.Close()
				return nil, err
			}
			// Column-level CHECK: the constraint is named after the column, clause json_valid(`col`).
			col := strings.Trim(strings.TrimSuffix(strings.TrimPrefix(clause, "json_valid("), ")"), "`")
			jsonCols[table+"."+col] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}

	rows, err := q.QueryContext(ctx, fmt.Sprintf(queryColumns, in), args(tables)...)
	if err != nil {
		return nil, fmt.Errorf("mysql: snapshot columns: %w", err)
	}
	for rows.Next() {
		var table, name, colType, dataType, nullable, comment, collation string
		var def sql.NullString
		if err := rows.Scan(&table, &name, &colType, &dataType, &nullable, &def, &comment, &collation); err != nil {
			rows.Close()
			return nil, err
		}
		t := snap.Tables[table]
		if t == nil {
			t = &dialect.Table{Name: table}
			snap.Tables[table] = t
		}
		typ := normalizeType(colType)
		if mariadb && strings.EqualFold(dataType, "longtext") && jsonCols[table+"."+name] {
			typ = "json"
		}
		t.Columns = append(t.Columns, &dialect.Column{
			Name:     name,
			Type:     typ,
			Nullable: nullable == "YES",
			Default:  normalizeDefault(def, mariadb),
			Comment:  comment,
		})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	rows, err = q.QueryContext(ctx, fmt.Sprintf(queryIndexes, in), args(tables)...)
	if err != nil {
		return nil, fmt.Errorf("mysql: snapshot indexes: %w", err)
	}
	byTable := map[string][]*dialect.Index{}
	var current *dialect.Index
	for rows.Next() {
		var table, name string
		var nonUnique int
		var col sql.NullString
		if err := rows.Scan(&table, &name, &nonUnique, &col); err != nil {
			rows.Close()
			return nil, err
		}
		if current == nil || current.Table != table || current.Name != name {
			current = &dialect.Index{Table: table, Name: name, Unique: nonUnique == 0, Valid: true}
			byTable[table] = append(byTable[table], current)
		}
		c := col.String
		if !col.Valid {
			c = "(expression)" // MySQL functional key part
		}
		current.Columns = append(current.Columns, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, table := range tables { // the caller's order decides who gets a bare index name
		if seen[table] {
			continue
		}
		seen[table] = true
		for _, ix := range byTable[table] {
			key := ix.Name
			if key == "PRIMARY" || snap.Indexes[key] != nil {
				key = table + "." + ix.Name
			}
			snap.Indexes[key] = ix
		}
	}

	rows, err = q.QueryContext(ctx, queryTriggers)
	if err != nil {
		return nil, fmt.Errorf("mysql: snapshot triggers: %w", err)
	}
	for rows.Next() {
		tr := &dialect.Trigger{}
		if err := rows.Scan(&tr.Name, &tr.Table, &tr.Timing, &tr.Event, &tr.Body); err != nil {
			rows.Close()
			return nil, err
		}
		tr.Timing, tr.Event = strings.ToUpper(tr.Timing), strings.ToUpper(tr.Event)
		snap.Triggers[tr.Name] = tr
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	rows, err = q.QueryContext(ctx, queryRoutines)
	if err != nil {
		return nil, fmt.Errorf("mysql: snapshot routines: %w", err)
	}
	for rows.Next() {
		r := &dialect.Routine{}
		var comment string
		if err := rows.Scan(&r.Name, &r.Kind, &comment); err != nil {
			rows.Close()
			return nil, err
		}
		r.Kind = strings.ToUpper(r.Kind)
		snap.Routines[strings.ToLower(r.Name)] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return snap, nil
}
