// Package schema declares, once, the session-security change: the table layouts it applies to, the
// columns, indexes, triggers, routines and tables it creates, the steps that create them, and the
// canonical hashes.
//
// The declaration is logical. Each dialect package renders it into SQL (the migration files, generated
// from it) and into the form its catalog reports (what Validate compares); Preflight, Validate, the
// plan, the tests and the README's schema section all read the same value. Nothing else re-types it.
package schema

import "slices"

// Type is a dialect-neutral type of a column the change creates.
type Type int

// The column types of the change.
const (
	TypeSessionID Type = iota + 1 // a session key in the audit log: VARCHAR(255) / varchar(255) / TEXT
	TypeTimestamp                 // DATETIME(6) (a UTC wall clock) / timestamptz / TEXT
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

// The defaults the change uses.
const (
	NoDefault   Default = iota // no DEFAULT clause
	DefaultOne                 // DEFAULT 1
	DefaultZero                // DEFAULT 0
	DefaultNow                 // DEFAULT current timestamp
	DefaultTrue                // DEFAULT true (the SDK's is_active)
)

// Column is one column the change creates.
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

func (p *Predicate) String() string {
	if p == nil {
		return ""
	}
	if p.Op == GreaterThan0 {
		return p.Column + " > 0"
	}
	return p.Column + " IS NOT NULL"
}

// Index is one index of the change. On the session table its name is derived from the table
// ("idx_<table>_" + Suffix); on the audit log it is fixed (Name).
type Index struct {
	Suffix  string
	Name    string
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

// Trigger is one trigger on the session table, named "<table>_" + Suffix. Timing is the logical timing:
// a dialect whose triggers cannot modify the new row (SQLite) renders BEFORE as AFTER plus an UPDATE.
type Trigger struct {
	Suffix string
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

// Routine is one stored routine the change creates (none on SQLite, where Go functions stand in).
type Routine struct {
	Name string
	Kind RoutineKind
	Doc  string
}

// RiskRule is the risk_score rule: the range enforced on every write, the cleanup threshold and the
// scoring rule UpdateSessionRiskScores applies. Every dialect's routines and the Go maintenance API
// render it from here.
type RiskRule struct {
	Column           string
	Min, Max         int
	CleanupThreshold int // cleanup deletes rows with risk_score above this
	// Scoring: the points each missing protection adds (capped at Max).
	NoHash, Expired, NoIPHash, NotValidated int
	ValidationWindowDays                    int
}

// Declaration is the whole change.
type Declaration struct {
	Columns  []Column // added to the session table
	Indexes  []Index  // on the session table
	Triggers []Trigger
	Routines []Routine
	// AuditLog is created by the change; its columns are fixed.
	AuditLog        string
	AuditColumns    []Column
	AuditIndexes    []Index
	ArchiveSuffix   string // the archive is "<table>" + ArchiveSuffix and mirrors the session table
	Risk            RiskRule
	HashFunction    string // the stored hash function (MySQL, PostgreSQL) / Go SQL function (SQLite)
	DefaultKeyID    string // encryption_key_id given to pre-existing rows by the backfill
	RetiredInfix    string // a rollback keeps "<table><RetiredInfix><UTC yyyymmddhhmmss>"
	BackfillBatch   int
	MaintenanceRows int // rows per maintenance batch
}

// The audit log's actions, one per maintenance task. Each batch of a task writes one row with the
// action and a JSON object of counts in details, the same keys on every server, in the order MySQL's
// JSON and PostgreSQL's jsonb keep them (shorter keys first): {"blocked": B, "deleted": N},
// {"updated": N}, {"blocked": B, "archived": N}, {"deleted": N}.
const (
	AuditCleanup = "SECURITY_CLEANUP"
	AuditRisk    = "RISK_SCORE_UPDATE"
	AuditArchive = "SESSION_ARCHIVE"
	AuditPrune   = "AUDIT_PRUNE"
)

// Change is the session-security change: the single source of truth.
var Change = Declaration{
	Columns: []Column{
		{Name: "security_hash", Type: TypeHash, Nullable: true,
			Comment: "SHA-256 integrity hash over the canonical session fields (sessionsec/v1)"},
		{Name: "encryption_key_id", Type: TypeKeyID, Nullable: true,
			Comment: "Identifier of the external encryption key protecting this session"},
		{Name: "created_ip_hash", Type: TypeHash, Nullable: true,
			Comment: "SHA-256 of the client IP that created the session (privacy-preserving binding)"},
		{Name: "security_version", Type: TypeVersion, Default: DefaultOne,
			Comment: "Version of the session security implementation"},
		{Name: "last_validated_at", Type: TypeTimestamp, Nullable: true,
			Comment: "When the session was last validated"},
		{Name: "risk_score", Type: TypeRiskScore, Default: DefaultZero,
			Comment: "Session risk score, 0 (none) to 100 (highest)"},
	},
	Indexes: []Index{
		{Suffix: "security_hash", Columns: []string{"security_hash"}, Partial: &Predicate{"security_hash", IsNotNull}},
		{Suffix: "encryption_key", Columns: []string{"encryption_key_id"}, Partial: &Predicate{"encryption_key_id", IsNotNull}},
		{Suffix: "ip_hash", Columns: []string{"created_ip_hash"}, Partial: &Predicate{"created_ip_hash", IsNotNull}},
		{Suffix: "security_version", Columns: []string{"security_version"}},
		{Suffix: "last_validated", Columns: []string{"last_validated_at"}, Partial: &Predicate{"last_validated_at", IsNotNull}},
		{Suffix: "risk_score", Columns: []string{"risk_score"}, Partial: &Predicate{"risk_score", GreaterThan0}},
		{Suffix: "security_composite", Columns: []string{"security_version", "risk_score", "last_validated_at"},
			Partial: &Predicate{"security_hash", IsNotNull}},
	},
	Triggers: []Trigger{
		{Suffix: "security_hash_trigger", Timing: Before, Event: Insert},
		{Suffix: "validation_timestamp_trigger", Timing: Before, Event: Update},
	},
	Routines: []Routine{
		{Name: "session_security_hash", Kind: Function, Doc: "the canonical security hash"},
		{Name: "BackfillSessionSecurity", Kind: Procedure, Doc: "fills the security columns of pre-existing sessions, in key batches"},
		{Name: "CleanupExpiredSecureSessions", Kind: Procedure, Doc: "deletes expired, inactive or risky sessions, audited per batch"},
		{Name: "UpdateSessionRiskScores", Kind: Procedure, Doc: "recomputes risk scores, audited per batch"},
		{Name: "sessionsec_retire_table", Kind: Procedure, Doc: "keeps history tables and security data on rollback"},
	},
	AuditLog: "session_audit_log",
	AuditColumns: []Column{
		{Name: "id", Type: TypeAuditID},
		{Name: "session_id", Type: TypeSessionID, Nullable: true},
		{Name: "action", Type: TypeAction},
		{Name: "details", Type: TypeDetails, Nullable: true},
		{Name: "ip_hash", Type: TypeHash, Nullable: true},
		{Name: "user_agent_hash", Type: TypeHash, Nullable: true},
		{Name: "risk_score", Type: TypeRiskScore, Nullable: true},
		{Name: "created_at", Type: TypeTimestamp, Default: DefaultNow},
	},
	AuditIndexes: []Index{
		{Name: "idx_session_audit_session_id", Columns: []string{"session_id"}},
		{Name: "idx_session_audit_action", Columns: []string{"action"}},
		{Name: "idx_session_audit_created_at", Columns: []string{"created_at"}},
		{Name: "idx_session_audit_risk_score", Columns: []string{"risk_score"}},
	},
	ArchiveSuffix: "_archive",
	Risk: RiskRule{Column: "risk_score", Min: 0, Max: 100, CleanupThreshold: 50,
		NoHash: 40, Expired: 30, NoIPHash: 20, NotValidated: 10, ValidationWindowDays: 7},
	HashFunction:    "session_security_hash",
	DefaultKeyID:    "migration-default-key",
	RetiredInfix:    "_retired_",
	BackfillBatch:   5000,
	MaintenanceRows: 1000,
}

// Column returns the security column with the given name.
func (d Declaration) Column(name string) (Column, bool) {
	i := slices.IndexFunc(d.Columns, func(c Column) bool { return c.Name == name })
	if i < 0 {
		return Column{}, false
	}
	return d.Columns[i], true
}

// ColumnNames lists the security columns in order.
func (d Declaration) ColumnNames() []string {
	out := make([]string, len(d.Columns))
	for i, c := range d.Columns {
		out[i] = c.Name
	}
	return out
}

// Routine returns the routine with the given name.
func (d Declaration) Routine(name string) Routine {
	i := slices.IndexFunc(d.Routines, func(r Routine) bool { return r.Name == name })
	return d.Routines[i]
}

// Names are the object names the change uses on one table. On "sessions" they are the runbook's names.
type Names struct {
	Table          string
	Archive        string
	AuditLog       string
	InsertTrigger  string
	UpdateTrigger  string
	RiskCheck      string // PostgreSQL and SQLite CHECK constraint
	SecurityCopy   string // prefix of the rollback's copy of the security columns
	indexes        map[string]string
	HashFunction   string
	Backfill       string
	Cleanup        string
	RiskUpdate     string
	RetireHelper   string
	InsertFunction string // PostgreSQL trigger functions
	UpdateFunction string
}

// Routine names, fixed whatever the table: one session table per schema carries the change.
const (
	RoutineHash     = "session_security_hash"
	RoutineBackfill = "BackfillSessionSecurity"
	RoutineCleanup  = "CleanupExpiredSecureSessions"
	RoutineRisk     = "UpdateSessionRiskScores"
	RoutineRetire   = "sessionsec_retire_table"
)

// NamesFor derives every object name from the table name.
func NamesFor(table string) Names {
	n := Names{
		Table:          table,
		Archive:        table + Change.ArchiveSuffix,
		AuditLog:       Change.AuditLog,
		InsertTrigger:  table + "_" + Change.Triggers[0].Suffix,
		UpdateTrigger:  table + "_" + Change.Triggers[1].Suffix,
		RiskCheck:      table + "_risk_score_range",
		SecurityCopy:   table + "_security" + Change.RetiredInfix,
		indexes:        map[string]string{},
		HashFunction:   RoutineHash,
		Backfill:       RoutineBackfill,
		Cleanup:        RoutineCleanup,
		RiskUpdate:     RoutineRisk,
		RetireHelper:   RoutineRetire,
		InsertFunction: table + "_" + Change.Triggers[0].Suffix + "_fn",
		UpdateFunction: table + "_" + Change.Triggers[1].Suffix + "_fn",
	}
	for _, ix := range Change.Indexes {
		n.indexes[ix.Suffix] = "idx_" + table + "_" + ix.Suffix
	}
	return n
}

// Index returns the name of a session-table index on this table.
func (n Names) Index(ix Index) string {
	if ix.Name != "" {
		return ix.Name
	}
	return n.indexes[ix.Suffix]
}

// Trigger returns the name of a trigger on this table.
func (n Names) Trigger(t Trigger) string { return n.Table + "_" + t.Suffix }
