package dialect

import (
	"slices"
	"strings"
)

// Family is what kind of value a column holds, whatever the server calls its type. The core's rules
// (which base columns can play which role, which existing security columns are equivalent to ours) are
// written over families, so they hold on every dialect.
type Family int

// Column families.
const (
	FamOther     Family = iota
	FamText             // CHAR, VARCHAR, TEXT, ...
	FamBinary           // BINARY, VARBINARY, BLOB, bytea
	FamInteger          // any integer type
	FamBool             // BOOLEAN (MySQL TINYINT(1) reads as integer)
	FamInstant          // a point in time stored as such: MySQL TIMESTAMP, PostgreSQL timestamptz
	FamWallClock        // a wall-clock time read as UTC: MySQL DATETIME, PostgreSQL timestamp
	FamTimeText         // SQLite: text, numbers or DATETIME-declared columns holding times
	FamJSON
	FamInet // PostgreSQL inet / cidr
	FamUUID // PostgreSQL uuid
)

// IsTime reports a family that holds points in time.
func (f Family) IsTime() bool { return f == FamInstant || f == FamWallClock || f == FamTimeText }

// TableKind tells a plain table from the relations the change cannot alter.
type TableKind int

// Table kinds.
const (
	TableBase        TableKind = iota
	TableView                  // a view (or MySQL SYSTEM VIEW)
	TablePartitioned           // a PostgreSQL partitioned table (no CREATE INDEX CONCURRENTLY on it)
	TableOther                 // foreign table, materialized view, ...
)

// Catalog is what a dialect reads from its catalog, in a fixed number of queries: the facts the core's
// rules run over. Names are as the server reports them.
type Catalog struct {
	Schema   string              // the database (MySQL) or schema (PostgreSQL) all of this is in
	Tables   map[string]*Table   // the session table, its archive, the audit log, and any other named
	Indexes  []*Index            // of those tables
	Triggers []*Trigger          // every trigger of the schema
	Routines map[string]*Routine // by lower-case name, every routine of the schema
	Checks   []*Check            // CHECK constraints of those tables
	// Resolved is the schema the unqualified session table name resolves to for this session when it
	// is not Schema (PostgreSQL search_path shadowing); "" otherwise.
	Resolved string
}

// NewCatalog returns an empty catalog.
func NewCatalog(schema string) *Catalog {
	return &Catalog{Schema: schema, Tables: map[string]*Table{}, Routines: map[string]*Routine{}}
}

// Table is one table and its columns in ordinal order.
type Table struct {
	Name    string
	Kind    TableKind
	Columns []*Column
	// Engine and RowFormat are MySQL's (InnoDB, COMPRESSED, ...); "" elsewhere.
	Engine, RowFormat string
	// Rows is the server's estimate of the row count (for plans and progress); -1 when unknown.
	Rows int64
	// SQL is the table's CREATE statement where the catalog keeps one (SQLite).
	SQL string
}

// Column returns the named column, or nil.
func (t *Table) Column(name string) *Column {
	if t == nil {
		return nil
	}
	for _, c := range t.Columns {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// ColumnNames lists the columns in order.
func (t *Table) ColumnNames() []string {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = c.Name
	}
	return out
}

// Column is one column.
type Column struct {
	Name     string
	Type     string // normalized, lower case: "char(64)", "varchar(255)", "datetime(6)", "timestamp with time zone"
	Family   Family
	Length   int // character length of text types; 0 when unbounded or not text
	Nullable bool
	Default  *string // normalized ("0", "1", "now", ...); nil for none
	Comment  string
	// AutoIncrement is MySQL's AUTO_INCREMENT: the server assigns the value after BEFORE INSERT
	// triggers have run (they see 0).
	AutoIncrement bool
}

// Index is one index.
type Index struct {
	Table     string
	Name      string
	Columns   []string
	Unique    bool
	Primary   bool
	Predicate string // normalized partial-index predicate, "" for none
	Valid     bool   // PostgreSQL indisvalid; true elsewhere
	Method    string // "btree", "fulltext", "spatial", "hash", ...
}

// Trigger is one trigger.
type Trigger struct {
	Name   string
	Table  string
	Timing string // BEFORE / AFTER
	Event  string // INSERT / UPDATE / DELETE
	Row    bool   // FOR EACH ROW
	Body   string // the action (MySQL ACTION_STATEMENT, PostgreSQL function source, SQLite CREATE text)
	// Function is the trigger function a PostgreSQL trigger executes.
	Function string
}

// Routine is one stored routine.
type Routine struct {
	Name      string
	Kind      string // PROCEDURE or FUNCTION
	Body      string
	Comment   string
	Signature string // PostgreSQL: identity arguments -> result
}

// Check is one CHECK constraint.
type Check struct {
	Table     string
	Name      string
	Expr      string // normalized
	Validated bool
	Columns   []string // the columns it references, where the catalog says
}

// Index returns the index called name on table, or nil.
func (c *Catalog) Index(table, name string) *Index {
	for _, ix := range c.Indexes {
		if ix.Table == table && ix.Name == name {
			return ix
		}
	}
	return nil
}

// IndexNamed returns an index called name on any table (PostgreSQL index names are per schema).
func (c *Catalog) IndexNamed(name string) *Index {
	for _, ix := range c.Indexes {
		if ix.Name == name {
			return ix
		}
	}
	return nil
}

// TableIndexes lists the indexes of a table.
func (c *Catalog) TableIndexes(table string) []*Index {
	var out []*Index
	for _, ix := range c.Indexes {
		if ix.Table == table {
			out = append(out, ix)
		}
	}
	return out
}

// Trigger returns the trigger called name (on table, when table is not ""), or nil.
func (c *Catalog) Trigger(table, name string) *Trigger {
	for _, t := range c.Triggers {
		if t.Name == name && (table == "" || t.Table == table) {
			return t
		}
	}
	return nil
}

// Routine returns the routine called name (case-insensitive), or nil.
func (c *Catalog) Routine(name string) *Routine { return c.Routines[strings.ToLower(name)] }

// Check returns the CHECK constraint called name, or nil.
func (c *Catalog) Check(name string) *Check {
	i := slices.IndexFunc(c.Checks, func(k *Check) bool { return k.Name == name })
	if i < 0 {
		return nil
	}
	return c.Checks[i]
}

// UniqueKey reports whether column is the primary key or the only column of a unique index.
func (c *Catalog) UniqueKey(table, column string) bool {
	for _, ix := range c.TableIndexes(table) {
		if (ix.Unique || ix.Primary) && ix.Predicate == "" && slices.Equal(ix.Columns, []string{column}) {
			return true
		}
	}
	return false
}

// NormalizeSpace collapses runs of white space to one blank and trims: how definitions are compared.
func NormalizeSpace(s string) string { return strings.Join(strings.Fields(s), " ") }
