package schema

import "fmt"

// StepKind is what a step does. Every dialect renders every kind; a kind a dialect has no use for (the
// PostgreSQL constraint validation on MySQL, stored routines on SQLite) renders as a no-op file, so
// that step numbers mean the same thing on every server.
type StepKind int

// The step kinds, in the order they first appear.
const (
	StepCreateTable      StepKind = iota + 1 // the session table, when it does not exist yet
	StepAddColumns                           // the six security columns (and the risk CHECK, NOT VALID)
	StepValidateCheck                        // VALIDATE CONSTRAINT (PostgreSQL)
	StepRoutine                              // one stored routine
	StepKeepSecurityData                     // up: nothing; down: copy the security columns away first
	StepTrigger                              // one trigger
	StepBackfill                             // fill pre-existing rows
	StepIndex                                // one index on the session table, online
	StepAuditLog                             // the audit log and its indexes
	StepArchive                              // the archive, mirroring the session table
	StepExtra                                // an extension step carrying its own SQL (tests, forks)
)

// Step is one migration: one golang-migrate version, one up and one down file per dialect.
type Step struct {
	Version uint
	Kind    StepKind
	Routine string   // StepRoutine
	Trigger *Trigger // StepTrigger
	Index   *Index   // StepIndex
	Extra   *Extra   // StepExtra
}

// Extra is a step declared outside this package: its SQL per dialect and the columns it adds to the
// session table (Validate expects them once the step is applied). It is how the evolution test proves
// that a new step can be added on top of the shipped ones.
type Extra struct {
	Name    string
	Up      map[string]string // dialect -> SQL
	Down    map[string]string
	Columns []Column
}

// Steps is the change, in order. Append only: a database records the version it reached, so an
// existing step must keep its meaning; a change to an object is a new step.
var Steps = func() []Step {
	s := []Step{
		{Kind: StepCreateTable},
		{Kind: StepAddColumns},
		{Kind: StepValidateCheck},
		{Kind: StepRoutine, Routine: RoutineRetire}, // created early, dropped last: every down uses it
		{Kind: StepKeepSecurityData},
		{Kind: StepRoutine, Routine: RoutineHash}, // before the triggers that call it
		{Kind: StepTrigger, Trigger: &Change.Triggers[0]},
		{Kind: StepTrigger, Trigger: &Change.Triggers[1]},
		{Kind: StepRoutine, Routine: RoutineBackfill},
		{Kind: StepBackfill}, // after the insert trigger: rows written meanwhile are already filled
	}
	for i := range Change.Indexes {
		s = append(s, Step{Kind: StepIndex, Index: &Change.Indexes[i]}) // after the backfill
	}
	s = append(s,
		Step{Kind: StepAuditLog},
		Step{Kind: StepArchive}, // after the security columns exist
		Step{Kind: StepRoutine, Routine: RoutineCleanup},
		Step{Kind: StepRoutine, Routine: RoutineRisk},
	)
	for i := range s {
		s[i].Version = uint(i + 1)
	}
	return s
}()

var routineStepNames = map[string]string{
	RoutineRetire:   "create_retire_helper",
	RoutineHash:     "create_hash_function",
	RoutineBackfill: "create_backfill_procedure",
	RoutineCleanup:  "create_cleanup_procedure",
	RoutineRisk:     "create_risk_procedure",
}

// Name is the description part of the step's file names on the given table, e.g. "add_security_columns"
// or "idx_sessions_risk_score".
func (s Step) Name(table string) string {
	switch s.Kind {
	case StepCreateTable:
		return "create_" + table
	case StepAddColumns:
		return "add_security_columns"
	case StepValidateCheck:
		return "validate_risk_score_range"
	case StepRoutine:
		return routineStepNames[s.Routine]
	case StepKeepSecurityData:
		return "keep_security_data"
	case StepTrigger:
		if s.Trigger.Event == Insert {
			return "create_insert_trigger"
		}
		return "create_update_trigger"
	case StepBackfill:
		return "backfill"
	case StepIndex:
		return NamesFor(table).Index(*s.Index)
	case StepAuditLog:
		return "create_audit_log"
	case StepArchive:
		return "create_archive"
	case StepExtra:
		return s.Extra.Name
	}
	return fmt.Sprintf("step_%d", s.Version)
}

// FileNames are the golang-migrate file names of the step on the given table.
func (s Step) FileNames(table string) (up, down string) {
	base := fmt.Sprintf("%06d_%s", s.Version, s.Name(table))
	return base + ".up.sql", base + ".down.sql"
}

// Long reports the steps whose cost grows with the table: the backfill and the index builds.
func (s Step) Long() bool { return s.Kind == StepBackfill || s.Kind == StepIndex }

// Latest is the version of the last shipped step.
func Latest() uint { return Steps[len(Steps)-1].Version }
