package schema

import (
	"fmt"
	"strings"
)

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
	// Revision is the trigger's definition a StepTrigger step installs: 0 or 1 for the first (step 7, 8),
	// 2 and up for a later step that replaces it (its down restores the previous revision). Validate
	// expects, of each trigger, the revision of the last applied step that declares it.
	Revision uint
	Index    *Index // StepIndex
	Extra    *Extra // StepExtra
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
		// Security version 2 (issue 17): the insert trigger stops writing the unkeyed created_ip_hash,
		// which an enumeration of the address space reverses; the sealer writes the keyed one.
		Step{Kind: StepTrigger, Trigger: &Change.Triggers[0], Revision: RevisionKeyedIP},
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
		if s.Rev() > 1 {
			return fmt.Sprintf("%s_trigger_v%d", strings.ToLower(string(s.Trigger.Event)), s.Rev())
		}
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

// RevisionKeyedIP is the insert trigger's revision of security version 2 (step 22): it fills the
// version 1 hash, the defaults and last_validated_at as before, but no longer computes created_ip_hash
// from the client IP (an unkeyed SHA-256 of an IPv4 address is reversed by enumerating 2^32
// addresses). New rows keep created_ip_hash NULL (or what the application wrote) until the library's
// sealer writes the keyed binding.
const RevisionKeyedIP = 2

// Rev is the revision of the trigger definition a StepTrigger step installs (1 for the first).
func (s Step) Rev() uint { return max(s.Revision, 1) }

func sameTrigger(a, b Step) bool {
	return a.Kind == StepTrigger && b.Kind == StepTrigger && a.Trigger.Event == b.Trigger.Event && a.Trigger.Suffix == b.Trigger.Suffix
}

// PreviousRevision returns the step that installed the revision of s's trigger that s replaces (what
// s's down restores); false for a trigger's first step.
func PreviousRevision(steps []Step, s Step) (Step, bool) {
	var prev Step
	found := false
	for _, o := range steps {
		if o.Version < s.Version && sameTrigger(o, s) && (!found || o.Version > prev.Version) {
			prev, found = o, true
		}
	}
	return prev, found
}

// Superseded reports whether a step after s, at most version upTo, installs another revision of s's
// trigger: a database at upTo then carries that revision, not s's.
func Superseded(steps []Step, s Step, upTo uint) bool {
	for _, o := range steps {
		if o.Version > s.Version && o.Version <= upTo && sameTrigger(o, s) {
			return true
		}
	}
	return false
}

// Revisions returns every step that declares a revision of s's trigger, s included, in order.
func Revisions(steps []Step, s Step) []Step {
	var out []Step
	for _, o := range steps {
		if sameTrigger(o, s) {
			out = append(out, o)
		}
	}
	return out
}
