package sessionsec

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Mismatch is one way the database differs from what its applied version should have, as found by
// Validate.
type Mismatch struct {
	Object string `json:"object"`        // e.g. "column sessions.risk_score", "trigger sessions_security_hash_trigger"
	Want   string `json:"want"`          // what the applied version should have ("absent" after a rollback)
	Got    string `json:"got"`           // what was found
	Fix    string `json:"fix,omitempty"` // what to do about it
}

func (m Mismatch) String() string {
	s := fmt.Sprintf("%s: want %s, got %s", m.Object, m.Want, m.Got)
	if m.Fix != "" {
		s += " (fix: " + m.Fix + ")"
	}
	return s
}

// Report is the result of Validate: every problem found, not just the first.
type Report struct {
	Dialect    string     `json:"dialect"`
	Server     string     `json:"server"`  // flavor and version, e.g. "MySQL 9.7.4"
	Schema     string     `json:"schema"`  // the database / schema checked
	Layout     string     `json:"layout"`  // the layout and table, e.g. "agui layout on sessions (key=id, ...)"
	Version    uint       `json:"version"` // applied migration version (0 with HasVersion false: none)
	HasVersion bool       `json:"has_version"`
	Dirty      bool       `json:"dirty"`
	Latest     uint       `json:"latest"`      // newest version this binary has
	RolledBack bool       `json:"rolled_back"` // the report checks a complete rollback (ExpectRolledBack)
	Problems   []Mismatch `json:"problems"`
	// Notes are differences that do not stop the change from working: an adopted column with another
	// type or comment, archive columns behind the session table's.
	Notes []string `json:"notes"`
	// Queries is how many statements the check sent to the server (the version table and the catalog
	// queries; the connection's own set-up not counted): a cost to watch when Validate runs often.
	Queries int `json:"queries"`
}

// OK reports whether no problem was found.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// String renders the report for logs and operators.
func (r *Report) String() string {
	what := "schema"
	if r.RolledBack {
		what = "rollback"
	}
	version := "none"
	if r.HasVersion {
		version = fmt.Sprint(r.Version)
		if r.Dirty {
			version += " (dirty)"
		}
	}
	head := fmt.Sprintf("%s on %s (%s, %s): migration version %s of %d", what, r.Server, r.Dialect, r.Layout, version, r.Latest)
	var b strings.Builder
	if r.OK() {
		b.WriteString(head + ": valid")
	} else {
		fmt.Fprintf(&b, "%s: %d problem(s):", head, len(r.Problems))
		for _, p := range r.Problems {
			b.WriteString("\n  - " + p.String())
		}
	}
	for _, n := range r.Notes {
		b.WriteString("\n  note: " + n)
	}
	return b.String()
}

// Step is one migration of the change on one table.
type Step struct {
	Version uint   `json:"version"`
	Name    string `json:"name"` // description part of the file name, e.g. "add_security_columns"
	Up      string `json:"up"`   // up file name
	Down    string `json:"down"` // down file name
	Long    bool   `json:"long"` // its cost grows with the table (the backfill, the index builds)
}

// MigrationStatus is where a database stands against this binary's step list.
type MigrationStatus struct {
	Dialect    string `json:"dialect"`
	Table      string `json:"migrations_table"` // the migrations table
	Version    uint   `json:"version"`          // applied version; meaningful when HasVersion
	HasVersion bool   `json:"has_version"`
	Dirty      bool   `json:"dirty"`
	Latest     uint   `json:"latest"`
	Applied    []Step `json:"applied"`
	Pending    []Step `json:"pending"`
}

// String renders the status, one line per step.
func (s *MigrationStatus) String() string {
	var b strings.Builder
	state := "no version applied"
	if s.HasVersion {
		state = fmt.Sprintf("version %d", s.Version)
		if s.Dirty {
			state += " (DIRTY: an interrupted step; Migrate or Rollback finishes it)"
		}
	}
	fmt.Fprintf(&b, "%s (%s): %s, latest %d, %d applied, %d pending", s.Dialect, s.Table, state, s.Latest, len(s.Applied), len(s.Pending))
	for _, st := range s.Applied {
		fmt.Fprintf(&b, "\n  applied  %06d %s", st.Version, st.Name)
	}
	for _, st := range s.Pending {
		fmt.Fprintf(&b, "\n  pending  %06d %s", st.Version, st.Name)
	}
	return b.String()
}

// Progress is one report of long work: a step of a migration or rollback done (Unit UnitSteps, Done
// 1), a batch of the backfill or of a maintenance task done (Unit UnitRows, Done the rows so far).
type Progress struct {
	Task    string // "migrate", "rollback", "cleanup", ...
	Version uint   // the step, for migrations
	Step    string // the step name or the task's phase
	Unit    string // UnitSteps or UnitRows: what Done and Total count
	Done    int64  // rows (or steps) done so far
	Total   int64  // estimated total; 0 when unknown
	Elapsed time.Duration
	Final   bool // the last report of this step or task
	// Throttled is set on the reports sent, about once a second, while the work pauses because a replica
	// lags more than WithMaxReplicaLag; Done is then where the work stopped. Replica names the replica
	// furthest behind ("standby <name>@<address> (pid N)" on PostgreSQL, "replica N" in WithReplicas
	// order on MySQL and MariaDB), Lag is its measured lag (-1 when it could not be read) and Waited the
	// pause so far. The work's next ordinary report says it resumed.
	Throttled bool
	Replica   string
	Lag       time.Duration
	Waited    time.Duration
}

// Progress units.
const (
	UnitSteps = "steps"
	UnitRows  = "rows"
)

// RollbackResult says what a rollback did and what it kept.
type RollbackResult struct {
	From uint `json:"from"`
	To   uint `json:"to"`
	// Kept lists the tables the rollback kept history in: <table>_security_retired_<ts>,
	// session_audit_log_retired_<ts>, <table>_archive_retired_<ts> (on SQLite: the fixed *_retired tables
	// that received rows).
	Kept []string `json:"kept"`
}

func (r *RollbackResult) String() string {
	s := fmt.Sprintf("rolled back from version %d to %d", r.From, r.To)
	if len(r.Kept) == 0 {
		return s + "; no history needed keeping"
	}
	return s + "; history kept in " + strings.Join(r.Kept, ", ")
}

// Maintenance tasks, as MaintenanceResult.Task and Progress.Task name them.
const (
	TaskCleanup = "cleanup"
	TaskRisk    = "risk"
	TaskArchive = "archive"
	TaskPrune   = "prune-audit"
)

// MaintenanceResult says what one maintenance task did. Its JSON form is the command's --json output.
type MaintenanceResult struct {
	Task string `json:"task"`
	// Rows the task changed: sessions deleted (cleanup), scores raised (risk), sessions moved to the
	// archive (archive), audit rows deleted (prune-audit).
	Rows int64 `json:"rows"`
	// Blocked are rows left in place: a child row (FOREIGN KEY ... RESTRICT) holds on to them, or the
	// archive already has a row with their key.
	Blocked int64 `json:"blocked"`
	// Batches that changed something; each was one transaction with its audit row.
	Batches int `json:"batches"`
	// Cutoff is the time before which sessions expired (archive) or audit rows were written
	// (prune-audit); zero for the other tasks.
	Cutoff   time.Time     `json:"cutoff,omitzero"`
	Duration time.Duration `json:"duration_ns"`
}

func (r *MaintenanceResult) String() string {
	verb := map[string]string{TaskCleanup: "deleted", TaskRisk: "raised", TaskArchive: "archived", TaskPrune: "deleted"}[r.Task]
	s := fmt.Sprintf("%s: %d row(s) %s in %d batch(es)", r.Task, r.Rows, verb, r.Batches)
	if r.Blocked > 0 {
		s += fmt.Sprintf(", %d left in place (a child row or an archived copy holds on to them)", r.Blocked)
	}
	if !r.Cutoff.IsZero() {
		s += ", cut-off " + r.Cutoff.UTC().Format(time.RFC3339)
	}
	return s + fmt.Sprintf(", %s", r.Duration.Round(time.Millisecond))
}

// Metrics is a snapshot of the session table and the audit log, for monitoring. Its JSON form is the
// command's --json output; it logs as a group of slog attributes.
type Metrics struct {
	At       time.Time `json:"at"`
	Sessions int64     `json:"sessions"`
	// Hashed rows carry a security_hash (the share of verifiable sessions).
	Hashed int64 `json:"hashed"`
	// AvgRiskScore is the mean risk_score; HighRisk the rows above the cleanup threshold.
	AvgRiskScore float64 `json:"avg_risk_score"`
	HighRisk     int64   `json:"high_risk"`
	// Validated rows were validated within the risk rule's window (7 days).
	Validated int64 `json:"validated"`
	// Expired rows are still there after their expiry: what cleanup has yet to remove.
	Expired int64 `json:"expired"`
	// Archived rows are in the archive table.
	Archived int64 `json:"archived"`
	// AuditRows is the audit log's size; AuditRowsLastDay its growth over the last 24 hours.
	AuditRows        int64 `json:"audit_rows"`
	AuditRowsLastDay int64 `json:"audit_rows_last_day"`
	// CleanupDeletedLastDay are the sessions cleanup deleted in the last 24 hours (from its audit rows).
	CleanupDeletedLastDay int64 `json:"cleanup_deleted_last_day"`
	// Sealed rows carry a keyed seal (security_version 2); SealedByKey counts them per key id.
	Sealed      int64            `json:"sealed"`
	SealedByKey map[string]int64 `json:"sealed_by_key"`
	// OldestUnsealedAge is how long ago the oldest unsealed row was created (0 when none is): with
	// RunSealer running, it stays within its bound unless rows were written with an old creation time.
	OldestUnsealedAge time.Duration `json:"oldest_unsealed_age_ns"`
	// TamperedLastDay are the SESSION_TAMPERED audit rows of the last 24 hours (VerifySession, Verify, Seal).
	TamperedLastDay int64 `json:"tampered_last_day"`
}

// SealedShare is Sealed / Sessions (1 for an empty table).
func (m *Metrics) SealedShare() float64 { return share(m.Sealed, m.Sessions) }

// HashedShare is Hashed / Sessions (1 for an empty table).
func (m *Metrics) HashedShare() float64 { return share(m.Hashed, m.Sessions) }

// ValidatedShare is Validated / Sessions (1 for an empty table).
func (m *Metrics) ValidatedShare() float64 { return share(m.Validated, m.Sessions) }

// CleanupEffectiveness is the share of the sessions due for removal in the last day that cleanup
// removed: CleanupDeletedLastDay / (CleanupDeletedLastDay + Expired) (1 when nothing was due).
func (m *Metrics) CleanupEffectiveness() float64 {
	return share(m.CleanupDeletedLastDay, m.CleanupDeletedLastDay+m.Expired)
}

func share(n, of int64) float64 {
	if of == 0 {
		return 1
	}
	return float64(n) / float64(of)
}

func (m *Metrics) String() string {
	return fmt.Sprintf("%d session(s): %.1f%% hashed, %.1f%% validated in the window, average risk %.1f, %d high-risk, %d expired (cleanup effectiveness %.1f%%), %d archived; audit log %d row(s), %d in the last day; %.1f%% sealed, oldest unsealed %s old, %d tampered in the last day",
		m.Sessions, 100*m.HashedShare(), 100*m.ValidatedShare(), m.AvgRiskScore, m.HighRisk, m.Expired, 100*m.CleanupEffectiveness(), m.Archived, m.AuditRows, m.AuditRowsLastDay,
		100*m.SealedShare(), m.OldestUnsealedAge.Round(time.Second), m.TamperedLastDay)
}

// LogValue logs the snapshot as a group of attributes.
func (m *Metrics) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int64("sessions", m.Sessions), slog.Int64("hashed", m.Hashed), slog.Float64("hashed_share", m.HashedShare()),
		slog.Float64("avg_risk_score", m.AvgRiskScore), slog.Int64("high_risk", m.HighRisk),
		slog.Int64("validated", m.Validated), slog.Int64("expired", m.Expired), slog.Int64("archived", m.Archived),
		slog.Int64("audit_rows", m.AuditRows), slog.Int64("audit_rows_last_day", m.AuditRowsLastDay),
		slog.Int64("cleanup_deleted_last_day", m.CleanupDeletedLastDay),
		slog.Float64("cleanup_effectiveness", m.CleanupEffectiveness()),
		slog.Int64("sealed", m.Sealed), slog.Float64("sealed_share", m.SealedShare()),
		slog.Duration("oldest_unsealed_age", m.OldestUnsealedAge), slog.Int64("tampered_last_day", m.TamperedLastDay))
}
