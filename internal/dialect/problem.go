package dialect

// Kind classifies a problem so that the core can map it onto the exported sentinel errors.
type Kind int

// Problem kinds.
const (
	KindUnsupportedServer Kind = iota + 1 // server too old / unknown
	KindIncompatibleTable                 // the session table cannot carry the change (layout, types, shape)
	KindConflictingObject                 // an object with one of our names but another definition
	KindPrivileges                        // missing ALTER / INDEX / TRIGGER / CREATE ROUTINE ...
	KindBinlogRoutines                    // MySQL error 1419 conditions
	KindReadOnly                          // read-only server / standby
	KindForeignMigrations                 // the migrations table belongs to another migration set
	KindDatabaseAhead                     // a newer version than this binary knows is applied
	KindOther
)

// Problem is one thing that stops (or would stop) the migration.
type Problem struct {
	Kind    Kind
	Object  string // what it is about, e.g. "table sessions", "trigger sessions_security_hash_trigger"
	Message string // what was found
	Fix     string // what the operator should do
}

// ProblemError carries a single problem as an error (from Identify, for instance).
type ProblemError struct{ Problem Problem }

func (e *ProblemError) Error() string {
	msg := e.Problem.Object + ": " + e.Problem.Message
	if e.Problem.Fix != "" {
		msg += " (fix: " + e.Problem.Fix + ")"
	}
	return msg
}
