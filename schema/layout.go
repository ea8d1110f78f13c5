package schema

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Role is what a base column of the session table means to the change. The triggers, the backfill and
// every routine read the table through these roles, never through literal column names.
type Role int

// The roles. Key, User, Created, LastAccessed and Expires are required; IP and Active are optional.
const (
	RoleKey          Role = iota + 1 // the session identifier (primary key or unique NOT NULL)
	RoleUser                         // the user the session belongs to
	RoleCreated                      // when the session was created (hashed)
	RoleLastAccessed                 // last access; a change refreshes last_validated_at
	RoleExpires                      // expiry; NULL never expires
	RoleIP                           // optional: the client IP in clear, the source of created_ip_hash
	RoleActive                       // optional: false means the session is over (cleanup removes it)
)

// Roles lists every role in declaration order.
var Roles = []Role{RoleKey, RoleUser, RoleCreated, RoleLastAccessed, RoleExpires, RoleIP, RoleActive}

var roleNames = map[Role]string{
	RoleKey: "key", RoleUser: "user", RoleCreated: "created", RoleLastAccessed: "last_accessed",
	RoleExpires: "expires", RoleIP: "ip", RoleActive: "active",
}

func (r Role) String() string { return roleNames[r] }

// Optional reports whether a layout may leave the role unmapped.
func (r Role) Optional() bool { return r == RoleIP || r == RoleActive }

// ParseRole reads a role name as used by the command's -columns flag ("key", "last_accessed", ...).
func ParseRole(s string) (Role, bool) {
	for r, n := range roleNames {
		if n == s {
			return r, true
		}
	}
	return 0, false
}

// Layout is the session table the change is applied to: its name and the column that plays each role.
// Two layouts are built in (Spec and AGUI); WithTable and Map derive others.
type Layout struct {
	Name    string // "spec", "agui" or "custom": which built-in it is, for messages and folder names
	Table   string
	Columns map[Role]string // IP and Active may be absent
	// base and baseIndexes are the definition step 1 creates when the table does not exist yet.
	base        []BaseColumn
	baseIndexes []BaseIndex
}

// Spec is the layout of the seed runbook: what a fresh database gets, so that its own
// INSERT INTO sessions (session_id, user_id) works.
var Spec = Layout{
	Name:  "spec",
	Table: "sessions",
	Columns: map[Role]string{
		RoleKey: "session_id", RoleUser: "user_id", RoleCreated: "created_at",
		RoleLastAccessed: "last_accessed_at", RoleExpires: "expires_at",
	},
	base: []BaseColumn{
		{Role: RoleKey, Types: dialectTypes("VARCHAR(255)", "varchar(255)", "TEXT"), NotNull: true, PrimaryKey: true},
		{Role: RoleUser, Types: dialectTypes("VARCHAR(255)", "varchar(255)", "TEXT")},
		{Role: RoleCreated, Types: dialectTypes("DATETIME(6)", "timestamptz", "TEXT"), NotNull: true, Default: DefaultNow},
		{Role: RoleExpires, Types: dialectTypes("DATETIME(6)", "timestamptz", "TEXT")},
		{Role: RoleLastAccessed, Types: dialectTypes("DATETIME(6)", "timestamptz", "TEXT")},
	},
}

// AGUI is the layout of the AG-UI Go SDK's DatabaseSessionStorage (go-sdk/pkg/server,
// initDatabaseSchema): id, user_id, created_at, last_accessed, expires_at, ip_address, is_active, with
// MySQL TIMESTAMP and PostgreSQL timestamptz columns. Its table name is configurable (WithTable).
var AGUI = Layout{
	Name:  "agui",
	Table: "sessions",
	Columns: map[Role]string{
		RoleKey: "id", RoleUser: "user_id", RoleCreated: "created_at", RoleLastAccessed: "last_accessed",
		RoleExpires: "expires_at", RoleIP: "ip_address", RoleActive: "is_active",
	},
	base: []BaseColumn{
		{Role: RoleKey, Types: dialectTypes("VARCHAR(64)", "varchar(64)", "TEXT"), PrimaryKey: true, NotNull: true},
		{Role: RoleUser, Types: dialectTypes("VARCHAR(255)", "varchar(255)", "TEXT"), NotNull: true},
		{Role: RoleCreated, Types: dialectTypes("TIMESTAMP", "timestamptz", "DATETIME"), NotNull: true},
		{Role: RoleLastAccessed, Types: dialectTypes("TIMESTAMP", "timestamptz", "DATETIME"), NotNull: true},
		{Role: RoleExpires, Types: dialectTypes("TIMESTAMP", "timestamptz", "DATETIME"), NotNull: true},
		{Role: RoleIP, Types: dialectTypes("VARCHAR(45)", "inet", "TEXT")},
		{Name: "user_agent", Types: dialectTypes("TEXT", "text", "TEXT")},
		{Role: RoleActive, Types: dialectTypes("BOOLEAN", "boolean", "BOOLEAN"), NotNull: true, Default: DefaultTrue},
		{Name: "data", Types: dialectTypes("JSON", "jsonb", "TEXT")},
		{Name: "metadata", Types: dialectTypes("JSON", "jsonb", "TEXT")},
	},
	baseIndexes: []BaseIndex{
		{Suffix: "user_id", Roles: []Role{RoleUser}},
		{Suffix: "expires_at", Roles: []Role{RoleExpires}},
		{Suffix: "last_accessed", Roles: []Role{RoleLastAccessed}},
		{Suffix: "active_expires", Roles: []Role{RoleActive, RoleExpires}, WhereActive: true},
	},
}

// Layouts are the built-in layouts, in the order recognition tries them.
var Layouts = []Layout{Spec, AGUI}

// BaseColumn is one column of the table that step 1 creates when none exists. Role is 0 for a column
// the change does not use (the SDK's user_agent, data, metadata); Name then names it.
type BaseColumn struct {
	Role       Role
	Name       string
	Types      map[string]string // concrete type per dialect ("mysql", "postgres", "sqlite")
	NotNull    bool
	PrimaryKey bool
	Default    Default
}

// BaseIndex is an index step 1 creates with the table (the SDK's own, so that a table this change
// creates is the one the SDK would have created).
type BaseIndex struct {
	Suffix      string
	Roles       []Role
	WhereActive bool // partial WHERE <active> where the dialect has partial indexes
}

// Name is the index name on a dialect, as the SDK spells it: MySQL "idx_<suffix>" (index names are per
// table there), elsewhere "idx_<table>_<suffix>".
func (ix BaseIndex) Name(dialectName, table string) string {
	if dialectName == "mysql" {
		return "idx_" + ix.Suffix
	}
	return "idx_" + table + "_" + ix.Suffix
}

// ColumnsIn lists the index's columns in layout l.
func (ix BaseIndex) ColumnsIn(l Layout) []string {
	out := make([]string, len(ix.Roles))
	for i, r := range ix.Roles {
		out[i] = l.Columns[r]
	}
	return out
}

// BaseIndexes are the indexes step 1 creates with the table.
func (l Layout) BaseIndexes() []BaseIndex { return l.baseIndexes }

func dialectTypes(mysql, postgres, sqlite string) map[string]string {
	return map[string]string{"mysql": mysql, "postgres": postgres, "sqlite": sqlite}
}

// Column returns the column playing role r, or "" when the layout has none.
func (l Layout) Column(r Role) string { return l.Columns[r] }

// Has reports whether the layout maps role r.
func (l Layout) Has(r Role) bool { return l.Columns[r] != "" }

// WithTable returns the layout on another table name.
func (l Layout) WithTable(table string) Layout {
	out := l.clone()
	out.Table = table
	return out
}

// Map returns the layout with some roles mapped to other columns ("" unmaps an optional role). The
// result is a custom layout: step 1 creates its table with the spec's column types.
func (l Layout) Map(columns map[Role]string) Layout {
	out := l.clone()
	for r, c := range columns {
		if c == "" {
			delete(out.Columns, r)
			continue
		}
		out.Columns[r] = c
	}
	if !maps2Equal(out.Columns, l.Columns) {
		out.Name = "custom"
		out.base, out.baseIndexes = nil, nil
	}
	return out
}

func maps2Equal(a, b map[Role]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func (l Layout) clone() Layout {
	out := l
	out.Columns = make(map[Role]string, len(l.Columns))
	for k, v := range l.Columns {
		out.Columns[k] = v
	}
	return out
}

// Base returns the definition step 1 creates when the table is missing: the built-in layout's own, or
// for a custom mapping the spec's column types under the mapped names (plus TEXT / BOOLEAN columns
// for a mapped IP or active flag).
func (l Layout) Base() []BaseColumn {
	if l.base != nil {
		return l.base
	}
	out := slices.Clone(Spec.base)
	if l.Has(RoleIP) {
		out = append(out, BaseColumn{Role: RoleIP, Types: dialectTypes("VARCHAR(45)", "varchar(45)", "TEXT")})
	}
	if l.Has(RoleActive) {
		out = append(out, BaseColumn{Role: RoleActive, Types: dialectTypes("BOOLEAN", "boolean", "BOOLEAN"), NotNull: true, Default: DefaultTrue})
	}
	return out
}

// ColumnName is the name of a base column in this layout.
func (l Layout) ColumnName(c BaseColumn) string {
	if c.Role != 0 {
		return l.Columns[c.Role]
	}
	return c.Name
}

// MaxTableName bounds the table name so that every derived name (the longest is
// "<table>_validation_timestamp_trigger_fn") fits PostgreSQL's 63-byte identifiers.
const MaxTableName = 31

var identPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// Check reports a layout that cannot be used: bad identifiers, a missing required role, two roles on
// one column, or a column that the change itself adds.
func (l Layout) Check() error {
	if !identPattern.MatchString(l.Table) || len(l.Table) > MaxTableName {
		return fmt.Errorf("table name %q must match %s and be at most %d characters", l.Table, identPattern, MaxTableName)
	}
	seen := map[string]Role{}
	for _, r := range Roles {
		c := l.Columns[r]
		if c == "" {
			if !r.Optional() {
				return fmt.Errorf("layout of %s maps no column to the %s role", l.Table, r)
			}
			continue
		}
		if !identPattern.MatchString(c) || len(c) > 63 {
			return fmt.Errorf("column name %q (%s) must match %s", c, r, identPattern)
		}
		if other, dup := seen[c]; dup {
			return fmt.Errorf("column %s plays two roles (%s and %s)", c, other, r)
		}
		if _, ours := Change.Column(c); ours {
			return fmt.Errorf("column %s (%s) is one of the security columns the change adds", c, r)
		}
		seen[c] = r
	}
	for r := range l.Columns {
		if !slices.Contains(Roles, r) {
			return fmt.Errorf("unknown role %d", r)
		}
	}
	return nil
}

// String names the layout and its mapping, e.g. "agui layout on sessions (key=id, ...)".
func (l Layout) String() string {
	var parts []string
	for _, r := range Roles {
		if c := l.Columns[r]; c != "" {
			parts = append(parts, r.String()+"="+c)
		}
	}
	return fmt.Sprintf("%s layout on %s (%s)", l.Name, l.Table, strings.Join(parts, ", "))
}

// Recognize picks the built-in layout whose columns the existing table has, trying them in order; the
// table name is kept. It returns false when none matches, or when more than one does (a table with
// both session_id and id): the caller must then say which with an option.
func Recognize(table string, columns []string) (Layout, bool) {
	var found []Layout
	for _, l := range Layouts {
		ok := true
		for _, r := range Roles {
			if c := l.Columns[r]; c != "" && !r.Optional() && !slices.Contains(columns, c) {
				ok = false
				break
			}
		}
		if ok {
			found = append(found, l.WithTable(table))
		}
	}
	if len(found) != 1 {
		return Layout{}, false
	}
	// An optional role the table lacks is unmapped (an SDK table without ip_address still migrates).
	l := found[0]
	for _, r := range Roles {
		if r.Optional() && l.Has(r) && !slices.Contains(columns, l.Columns[r]) {
			name := l.Name
			l = l.Map(map[Role]string{r: ""})
			l.Name = name
		}
	}
	return l, true
}
