package sessionsec

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/golang-migrate/migrate/v4/database"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// Sentinel errors. Every error this package returns matches at least one of them with errors.Is.
var (
	// ErrInvalidOption: an Option was given a bad value. Nothing was touched.
	ErrInvalidOption = errors.New("sessionsec: invalid option")
	// ErrNoDatabase: the *sql.DB is nil, closed or unreachable.
	ErrNoDatabase = errors.New("sessionsec: no usable database")
	// ErrUnsupportedDriver: no registered dialect serves the *sql.DB's driver: import the dialect
	// package (the message names it) or pass WithDialect for a wrapped driver.
	ErrUnsupportedDriver = errors.New("sessionsec: unsupported database driver")
	// ErrUnsupportedServer: the server is older than the supported versions.
	ErrUnsupportedServer = errors.New("sessionsec: unsupported server version")
	// ErrIncompatibleTable: the session table cannot carry the change: no known layout, a column of an
	// unusable type, a nullable key, a view or partitioned table, a storage engine the online DDL refuses.
	ErrIncompatibleTable = errors.New("sessionsec: incompatible sessions table")
	// ErrConflictingObject: a trigger, index, routine, table or constraint has one of our names but another definition.
	ErrConflictingObject = errors.New("sessionsec: conflicting object")
	// ErrPrivileges: the database user lacks a privilege the migration needs.
	ErrPrivileges = errors.New("sessionsec: missing privileges")
	// ErrBinlogRoutines: MySQL would refuse triggers and routines (error 1419, binary logging on).
	ErrBinlogRoutines = errors.New("sessionsec: binary log forbids creating triggers/routines")
	// ErrReadOnly: the server is read-only or a standby.
	ErrReadOnly = errors.New("sessionsec: read-only server")
	// ErrForeignMigrations: the migrations table belongs to another migration set.
	ErrForeignMigrations = errors.New("sessionsec: migrations table belongs to another migration set")
	// ErrDatabaseAhead: the database carries a newer version than this binary knows.
	ErrDatabaseAhead = errors.New("sessionsec: database is ahead of this binary")
	// ErrDirty: a step was interrupted and could not be finished automatically.
	ErrDirty = errors.New("sessionsec: dirty migration state")
	// ErrStepFailed: a migration step failed.
	ErrStepFailed = errors.New("sessionsec: migration step failed")
	// ErrLockWait: a step kept timing out waiting for a table lock held by other sessions.
	ErrLockWait = errors.New("sessionsec: gave up waiting for a table lock")
	// ErrValidation: Validate found the schema different from the expected one.
	ErrValidation = errors.New("sessionsec: schema validation failed")
	// ErrNotMigrated: a maintenance task needs the change applied (run Migrate first).
	ErrNotMigrated = errors.New("sessionsec: the session-security change is not applied")
	// ErrMaintenance: a maintenance task failed part-way (what it committed stays).
	ErrMaintenance = errors.New("sessionsec: maintenance task failed")
	// ErrNotSupported: the dialect in use does not offer the operation (a third-party dialect without
	// the optional capability it needs).
	ErrNotSupported = errors.New("sessionsec: not supported by this dialect")
	// ErrArchiveMismatch: the archive table cannot take the session table's rows unchanged (a column
	// of another type, which would round or cut values, or a NOT NULL column the session table no
	// longer has that the archive cannot make nullable). Archive refuses before it moves a row.
	ErrArchiveMismatch = errors.New("sessionsec: archive table does not fit the session table")
)

var kindSentinel = map[dialect.Kind]error{
	dialect.KindUnsupportedServer: ErrUnsupportedServer,
	dialect.KindIncompatibleTable: ErrIncompatibleTable,
	dialect.KindConflictingObject: ErrConflictingObject,
	dialect.KindPrivileges:        ErrPrivileges,
	dialect.KindBinlogRoutines:    ErrBinlogRoutines,
	dialect.KindReadOnly:          ErrReadOnly,
	dialect.KindForeignMigrations: ErrForeignMigrations,
	dialect.KindDatabaseAhead:     ErrDatabaseAhead,
	dialect.KindOther:             ErrNoDatabase,
}

// Problem is one reason the migration cannot run, as found by Preflight.
type Problem struct {
	Err     error  // the sentinel it matches, e.g. ErrPrivileges
	Object  string // what it is about, e.g. "table sessions"
	Message string // what was found
	Fix     string // what to do about it
}

// kindNames are the stable names of the sentinels, for machine-readable output.
var kindNames = map[error]string{
	ErrUnsupportedServer: "unsupported_server", ErrIncompatibleTable: "incompatible_table",
	ErrConflictingObject: "conflicting_object", ErrPrivileges: "privileges", ErrBinlogRoutines: "binlog_routines",
	ErrReadOnly: "read_only", ErrForeignMigrations: "foreign_migrations", ErrDatabaseAhead: "database_ahead",
	ErrNoDatabase: "no_database", ErrStepFailed: "step_failed", ErrNotMigrated: "not_migrated",
	ErrArchiveMismatch: "archive_mismatch",
}

// MarshalJSON writes the problem with its kind as a stable name ("privileges", "incompatible_table", ...).
func (p Problem) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Kind    string `json:"kind"`
		Object  string `json:"object"`
		Message string `json:"message"`
		Fix     string `json:"fix,omitempty"`
	}{kindNames[p.Err], p.Object, p.Message, p.Fix})
}

func (p Problem) String() string {
	s := p.Object + ": " + p.Message
	if p.Fix != "" {
		s += "\n    fix: " + p.Fix
	}
	return s
}

func problemFrom(p dialect.Problem) Problem {
	err, ok := kindSentinel[p.Kind]
	if !ok {
		err = ErrStepFailed
	}
	return Problem{Err: err, Object: p.Object, Message: p.Message, Fix: p.Fix}
}

// PreflightError lists every problem Preflight found. errors.Is matches the sentinel of each problem.
type PreflightError struct {
	Problems []Problem
}

func (e *PreflightError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sessionsec: preflight found %d problem(s); nothing was changed:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap returns the sentinel of every problem, so errors.Is(err, ErrPrivileges) works.
func (e *PreflightError) Unwrap() []error {
	errs := make([]error, 0, len(e.Problems))
	for _, p := range e.Problems {
		errs = append(errs, p.Err)
	}
	return errs
}

// StepError is a failed migration step. Its message names the file and the server's error, never the SQL text.
type StepError struct {
	Version   uint
	Name      string // file name, e.g. "000010_add_security_indexes.up.sql"
	Direction string // "up" or "down"
	Err       error  // the server's error (golang-migrate's wrapper removed)
	kind      error  // ErrStepFailed or ErrLockWait
	refused   error  // ErrPrivileges or ErrReadOnly when the server refused the step, else nil
}

func (e *StepError) Error() string {
	return fmt.Sprintf("sessionsec: %s migration %s failed: %v", e.Direction, e.Name, e.Err)
}

// Unwrap exposes the sentinel (ErrStepFailed or ErrLockWait) and the server's error.
// A step the server refused for lack of a privilege, or because it is read-only, also matches
// ErrPrivileges or ErrReadOnly.
func (e *StepError) Unwrap() []error {
	if e.refused != nil {
		return []error{e.kind, e.refused, e.Err}
	}
	return []error{e.kind, e.Err}
}

// DirtyError reports an interrupted step that could not be finished automatically, with the command that fixes it.
type DirtyError struct {
	Version uint
	Name    string
	State   string // what was found
	Fix     string // the command or action that resolves it
	Err     error  // the error from the recovery attempt, if any
}

func (e *DirtyError) Error() string {
	s := fmt.Sprintf("sessionsec: migration %d (%s) is dirty: %s", e.Version, e.Name, e.State)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s + "; fix: " + e.Fix
}

// Unwrap exposes ErrDirty and the underlying error.
func (e *DirtyError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrDirty}
	}
	return []error{ErrDirty, e.Err}
}

// MaintenanceError is a maintenance task that failed part-way. The batches it committed stay committed
// (each with its audit row); Done says what they did. Once the cause is dealt with, running the task
// again continues where it stopped.
type MaintenanceError struct {
	Task string
	Done MaintenanceResult // what the committed batches did
	Err  error             // the server's error, scrubbed of row data
	// Transient: the error was a lock wait or deadlock that outlasted the retries, which running the
	// task again (later) can get past; otherwise the cause must be fixed first.
	Transient bool
	// refused is ErrPrivileges or ErrReadOnly when the server refused the task: running it again as
	// it is cannot help.
	refused error
}

func (e *MaintenanceError) Error() string {
	next := "fix the cause above, then run it again to continue"
	switch {
	case e.refused == ErrPrivileges:
		next = "the database user lacks a privilege the task needs: grant it SELECT, INSERT, UPDATE and DELETE on the session, " +
			"archive and audit-log tables and EXECUTE on the change's procedures, then run the task again"
	case e.refused == ErrReadOnly:
		next = "the server is read-only: run the task on the primary"
	case e.Transient:
		next = "other sessions held the rows' locks through every retry: run it again when the load is lower"
	}
	return fmt.Sprintf("sessionsec: %s failed after %d batch(es) (%d row(s), kept): %v; %s", e.Task, e.Done.Batches, e.Done.Rows, e.Err, next)
}

// ArchiveError is Archive refusing to run because the archive table does not fit the session table;
// nothing was moved. Each problem names the archive column and the change that fixes it.
type ArchiveError struct{ Problems []Problem }

func (e *ArchiveError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sessionsec: archive refused, nothing was moved: %d problem(s) with the archive table:", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrArchiveMismatch) true.
func (e *ArchiveError) Unwrap() error { return ErrArchiveMismatch }

// Unwrap exposes ErrMaintenance and the server's error, and ErrPrivileges or ErrReadOnly when the
// server refused the task.
func (e *MaintenanceError) Unwrap() []error {
	if e.refused != nil {
		return []error{ErrMaintenance, e.refused, e.Err}
	}
	return []error{ErrMaintenance, e.Err}
}

// refusal is ErrPrivileges or ErrReadOnly when the server refused err's statement, else nil.
func (p *Provider) refusal(err error) error {
	switch p.d.Refusal(err) {
	case dialect.KindPrivileges:
		return ErrPrivileges
	case dialect.KindReadOnly:
		return ErrReadOnly
	}
	return nil
}

// ValidationError carries Validate's report when it found problems.
type ValidationError struct{ Report *Report }

func (e *ValidationError) Error() string { return "sessionsec: " + e.Report.String() }

// Unwrap makes errors.Is(err, ErrValidation) true.
func (e *ValidationError) Unwrap() error { return ErrValidation }

// serverError strips golang-migrate's database.Error, whose message embeds the whole SQL file, down to
// the server's own error, and scrubs quoted values (row data) out of the server's message.
func (p *Provider) serverError(err error) error {
	var dbErr database.Error
	if errors.As(err, &dbErr) {
		return p.scrubbed(dbErr.OrigErr, dbErr.Err, dbErr.Line)
	}
	var dbErrPtr *database.Error
	if errors.As(err, &dbErrPtr) && dbErrPtr != nil {
		return p.scrubbed(dbErrPtr.OrigErr, dbErrPtr.Err, dbErrPtr.Line)
	}
	return p.scrubbed(err, "", 0)
}

// ServerError is a server's error with quoted values removed from its message. Unwrap gives the
// driver's own error (for errors.As on *mysql.MySQLError, *pq.Error, *pgconn.PgError), whose message
// may carry row data: log Error(), not the unwrapped error.
type ServerError struct {
	Message string
	Line    uint // line in the migration file, when golang-migrate found one
	err     error
}

func (e *ServerError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Message)
	}
	return e.Message
}

// Unwrap returns the driver's error.
func (e *ServerError) Unwrap() error { return e.err }

func (p *Provider) scrubbed(inner error, text string, line uint) error {
	if inner == nil {
		if text == "" {
			return nil
		}
		inner = errors.New(text)
	}
	var se *ServerError
	if errors.As(inner, &se) {
		return inner
	}
	return &ServerError{Message: p.d.Scrub(inner), Line: line, err: inner}
}
