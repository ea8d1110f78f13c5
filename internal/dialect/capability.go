package dialect

import (
	"context"
	"database/sql"
	"time"

	"github.com/agui-go/sessionsec/schema"
)

// The optional capabilities. The core asks for each by type assertion and, where a dialect does not
// implement it, does what the comment calls the fallback. A dialect or a flavor (a decorator embedding
// another dialect) implements only what it has to say; the files of each dialect assert what they
// implement (var _ dialect.X = Dialect{}), so a capability lost in a refactor fails the build.

// ColumnConverger adds or drops some of the security columns where the step's own file cannot stop half
// way through and be run again (MySQL and SQLite have no ADD COLUMN IF NOT EXISTS).
// Fallback: the step's file, which must then converge by itself (PostgreSQL's IF [NOT] EXISTS).
type ColumnConverger interface {
	// AddColumns adds the missing security columns (the others exist).
	AddColumns(t Target, srv Server, missing []schema.Column) []string
	// DropColumns drops the security columns that exist, with whatever refers to them; nil when the
	// step's own down does.
	DropColumns(t Target, srv Server, present []string, cat *Catalog) []string
}

// Replacer brings an existing trigger or routine with an older definition to the declared one without
// a moment where writers run without it, where the step's file cannot (MySQL has no CREATE OR REPLACE
// TRIGGER). Fallback: the step's file (CREATE OR REPLACE, or DROP and CREATE in one transaction).
type Replacer interface {
	ReplaceTrigger(t Target, srv Server, step schema.Step, cat *Catalog) []string
	ReplaceRoutine(t Target, srv Server, step schema.Step, cat *Catalog) []string
}

// LeftoverCleaner clears what an interrupted run of a step can leave that neither direction's file
// handles (PostgreSQL: an INVALID index from a cut-off CREATE INDEX CONCURRENTLY; MySQL: the stand-in
// trigger of a replacement). up tells the direction about to run. Fallback: nothing to clear (every step
// runs in one transaction, as on SQLite).
type LeftoverCleaner interface {
	Leftovers(t Target, srv Server, step schema.Step, up bool, cat *Catalog) []string
}

// Drifter reports what Validate reports besides the declared objects: things that appeared since the
// migration and break what it set up (PostgreSQL: an application trigger that fires after the hash
// trigger; MySQL: an AUTO_INCREMENT column). Fallback: nothing more than the declared objects.
type Drifter interface {
	Drift(t Target, cat *Catalog) []Problem
}

// FileRunner runs a step's file on the pinned connection the way golang-migrate's driver for the
// dialect does (SQLite's wraps it in a transaction). Fallback: the file as one ExecContext on conn, as
// golang-migrate's MySQL and PostgreSQL drivers run it.
type FileRunner interface {
	RunFile(ctx context.Context, conn *sql.Conn, body string) error
}

// TxSettings are the statements that put a transaction in the state PrepareSession puts the session
// in (SET LOCAL ...), for a connection through a transaction pooler, where session settings would leak
// into other clients' server sessions. Fallback: none (the dialect detects no pooler).
type TxSettings interface {
	SessionSettings(lockWait time.Duration) []string
}

// BatchStarter is the statement a maintenance batch's transaction runs first. PostgreSQL makes
// deferred constraints immediate, so that a child row holding on to a session fails the DELETE of that
// row (which the batch then leaves in place) instead of the COMMIT of the whole batch. Fallback: none.
type BatchStarter interface {
	BatchStart() string
}

// RowLocker is the clause that locks the rows a SELECT returns until the transaction ends (FOR
// UPDATE). Fallback: no clause, for a server whose write transaction locks the whole database (SQLite).
type RowLocker interface {
	LockRows() string
}

// RunFile runs a step's file on conn through d's FileRunner, or as one statement string.
func RunFile(ctx context.Context, d Dialect, conn *sql.Conn, body string) error {
	if r, ok := d.(FileRunner); ok {
		return r.RunFile(ctx, conn, body)
	}
	_, err := conn.ExecContext(ctx, body)
	return err
}

// LockRows is d's row-locking clause, or "" (RowLocker's fallback).
func LockRows(d Dialect) string {
	if l, ok := d.(RowLocker); ok {
		return l.LockRows()
	}
	return ""
}
