package sessionsec

import (
	"fmt"
	"strings"
	"time"
)

// Mismatch is one way the database differs from what its applied version should have, as found by
// Validate.
type Mismatch struct {
	Object string // e.g. "column sessions.risk_score", "trigger sessions_security_hash_trigger"
	Want   string // what the applied version should have ("absent" after a rollback)
	Got    string // what was found
	Fix    string // what to do about it
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
	Dialect    string
	Server     string // flavor and version, e.g. "MySQL 9.7.4"
	Schema     string // the database / schema checked
	Layout     string // the layout and table, e.g. "agui layout on sessions (key=id, ...)"
	Version    uint   // applied migration version (0 with HasVersion false: none)
	HasVersion bool
	Dirty      bool
	Latest     uint // newest version this binary has
	RolledBack bool // the report checks a complete rollback (ExpectRolledBack)
	Problems   []Mismatch
	// Notes are differences that do not stop the change from working: an adopted column with another
	// type or comment, archive columns behind the session table's.
	Notes []string
	// Queries is how many catalog queries the check took.
	Queries int
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
	Version uint
	Name    string // description part of the file name, e.g. "add_security_columns"
	Up      string // up file name
	Down    string // down file name
	Long    bool   // its cost grows with the table (the backfill, the index builds)
}

// MigrationStatus is where a database stands against this binary's step list.
type MigrationStatus struct {
	Dialect    string
	Table      string // the migrations table
	Version    uint   // applied version; meaningful when HasVersion
	HasVersion bool
	Dirty      bool
	Latest     uint
	Applied    []Step
	Pending    []Step
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

// Progress is one report of long work.
type Progress struct {
	Task    string // "migrate", "rollback", "cleanup", ...
	Version uint   // the step, for migrations
	Step    string // the step name or the task's phase
	Done    int64  // rows (or steps) done so far
	Total   int64  // estimated total; 0 when unknown
	Elapsed time.Duration
	Final   bool // the last report of this step or task
}

// RollbackResult says what a rollback did and what it kept.
type RollbackResult struct {
	From, To uint
	// Kept lists the tables the rollback kept history in: <table>_security_retired_<ts>,
	// session_audit_log_retired_<ts>, <table>_archive_retired_<ts> (on SQLite: the fixed *_retired tables
	// that received rows).
	Kept []string
}

func (r *RollbackResult) String() string {
	s := fmt.Sprintf("rolled back from version %d to %d", r.From, r.To)
	if len(r.Kept) == 0 {
		return s + "; no history needed keeping"
	}
	return s + "; history kept in " + strings.Join(r.Kept, ", ")
}
