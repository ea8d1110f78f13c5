// Package schema declares, once, the schema that the session-security migrations produce.
//
// The declaration is logical: it names every column, index, trigger, routine and table together with
// dialect-neutral types and predicates. Each dialect package renders it into the concrete form its
// catalog reports, Validate compares a live database against that rendering, and the tests and the
// README table are generated from or checked against the same value. Nothing else re-types it.
package schema

// Type is a dialect-neutral column type. Dialect packages map each to a concrete type.
type Type int

// The column types the migrations use.
const (
	TypeSessionID Type = iota + 1 // session identifiers: VARCHAR(255) / varchar(255) / TEXT
	TypeUserID                    // user identifiers: VARCHAR(255) / varchar(255) / TEXT
	TypeTimestamp                 // DATETIME(6) / timestamptz / TEXT
	TypeHash                      // lower-case hex SHA-256: CHAR(64) ascii / char(64) / TEXT
	TypeKeyID                     // external key identifier: VARCHAR(128) / varchar(128) / TEXT
	TypeVersion                   // INT / integer / INTEGER
	TypeRiskScore                 // SMALLINT / smallint / INTEGER
	TypeAuditID                   // BIGINT auto-increment / bigint identity / INTEGER rowid
	TypeAction                    // VARCHAR(64) / varchar(64) / TEXT
	TypeDetails                   // JSON / jsonb / TEXT
)

// Default is a dialect-neutral column default.
type Default int

// The defaults the migrations use.
const (
	NoDefault   Default = iota // no DEFAULT clause
	DefaultOne                 // DEFAULT 1
	DefaultZero                // DEFAULT 0
	DefaultNow                 // DEFAULT current timestamp
)

// Column is one expected column.
type Column struct {
	Name     string
	Type     Type
	Nullable bool
	Default  Default
	Comment  string // "" where the column carries no comment
}

// Op is the operator of a partial-index predicate.
type Op int

// Predicate operators.
const (
	IsNotNull    Op = iota + 1 // <column> IS NOT NULL
	GreaterThan0               // <column> > 0
)

// Predicate is the WHERE clause of a partial index, on dialects that have partial indexes.
type Predicate struct {
	Column string
	Op     Op
}

// Index is one expected index. All indexes of this change are non-unique.
type Index struct {
	Name    string
	Table   string
	Columns []string
	Partial *Predicate // nil: a plain index everywhere
}

// Timing is when a trigger fires relative to the row change.
type Timing string

// Trigger timings.
const (
	Before Timing = "BEFORE"
	After  Timing = "AFTER"
)

// Event is the row change a trigger fires on.
type Event string

// Trigger events.
const (
	Insert Event = "INSERT"
	Update Event = "UPDATE"
)

// Trigger is one expected trigger. Timing is the logical timing (BEFORE); a dialect whose triggers cannot
// modify the new row (SQLite) renders it as AFTER plus an UPDATE of that row.
type Trigger struct {
	Name   string
	Table  string
	Timing Timing
	Event  Event
}

// RoutineKind tells a stored procedure from a function.
type RoutineKind string

// Routine kinds.
const (
	Procedure RoutineKind = "PROCEDURE"
	Function  RoutineKind = "FUNCTION"
)

// Routine is one expected stored routine.
type Routine struct {
	Name string
	Kind RoutineKind
}

// Table is a table the migrations create (the audit log, the archive).
type Table struct {
	Name    string
	Columns []Column // for the archive: the security columns only; it mirrors every column of sessions
	Indexes []Index
	// MirrorsSessions marks the archive: it has exactly the columns of sessions, in order.
	MirrorsSessions bool
}

// RiskRule is the risk_score rule enforced on every write and used by the routines.
type RiskRule struct {
	Column           string
	Min, Max         int
	CleanupThreshold int // CleanupExpiredSecureSessions deletes rows with risk_score above this
	ConstraintName   string
}

// Schema is the whole expected result of the migrations.
type Schema struct {
	Sessions        string   // the session table
	BaseColumns     []Column // what an existing sessions table must already have (and what a new one gets)
	SecurityColumns []Column // added by the migrations
	Indexes         []Index  // on Sessions
	Triggers        []Trigger
	Routines        []Routine
	Tables          []Table // created by the migrations
	Risk            RiskRule
	HashFunction    string // stored function computing the canonical security hash
	BackfillRoutine string // procedure that backfills pre-existing rows
	// DefaultKeyID is the encryption_key_id given to pre-existing rows by the backfill.
	DefaultKeyID string
	// RetiredSuffix is the infix of the tables a rollback keeps: <table><RetiredSuffix><UTC yyyymmddhhmmss>.
	RetiredSuffix string
	// RetireHelper is the internal routine the down migrations use to keep history tables.
	RetireHelper string
}
