package dialect

import (
	"context"
	"database/sql"
	"time"
)

// Maintainer spells what the maintenance tasks need that differs between servers. The core runs every
// task's batches itself (one transaction per batch with its audit row), on every server: so that the
// batch size, ctx cancellation between rows and batches and the handling of a row a child row holds on
// to are the same everywhere. The stored procedures the migrations create (cleanup, risk scores) run
// the same rules for the stock golang-migrate CLI's users; Rules renders them from the same code.
type Maintainer interface {
	// Rules are the cleanup and risk-score rules as SQL over the session table's current row.
	Rules(t Target) Rules
	// BatchStart is the statement a batch's transaction runs first ("" for none). PostgreSQL makes
	// deferred constraints immediate, so that a child row holding on to a session fails the DELETE
	// of that row (which the batch then leaves in place) instead of the COMMIT of the whole batch.
	BatchStart() string
	// GeneratedColumns are the generated (computed) columns of table: the archive never writes one.
	GeneratedColumns(ctx context.Context, q Querier, srv Server, table string) (map[string]bool, error)
	// DropNotNull is the statement that makes column col of table nullable, keeping its type.
	DropNotNull(ctx context.Context, q Querier, srv Server, table, col string) (string, error)
	// SameType reports whether a value of column src is stored unchanged in column dst (false when
	// dst's type would round, truncate or refuse it). SQLite, which stores any value as given, says
	// true.
	SameType(src, dst *Column) bool
	// Before is a predicate: column col, of family f, holds a time earlier than at (a UTC instant),
	// whatever the connection's time zone (the core runs on a prepared session).
	Before(col string, f Family, at time.Time) string
	// Param is the n-th (1-based) bind parameter.
	Param(n int) string
	// Quote quotes an identifier.
	Quote(name string) string
	// LockRows is the clause that locks the rows a SELECT returns until the transaction ends ("" where
	// the whole database is locked by a write transaction, as on SQLite).
	LockRows() string
	// Isolation is the isolation level of a batch's transaction: READ COMMITTED where the server has
	// it, so that a batch locks the rows it changes and not every row its search passes over.
	Isolation() sql.IsolationLevel
	// AddColumnLike is the statement that adds column col of table from to table to, with col's exact
	// type (character set and collation included), nullable and without a default, so that a copied row
	// keeps whatever value it had. It reads the column's definition through q.
	AddColumnLike(ctx context.Context, q Querier, srv Server, from, to, col string) (string, error)
	// IsRowConflict reports an error that one row causes and that leaves the others alone: a child row
	// (FOREIGN KEY ... RESTRICT) holds on to it, or a row with its key exists in the target table.
	IsRowConflict(err error) bool
}

// Rules are cleanup's and the risk score's SQL, for a dialect whose core-run batches stand in for
// stored routines.
type Rules interface {
	// Expired is what cleanup removes besides risky rows, at now: expired, or inactive where the layout
	// has an active flag.
	Expired(now time.Time) string
	// RiskScore is schema.Change.Risk's scoring rule over the current row at now.
	RiskScore(now time.Time) string
}
