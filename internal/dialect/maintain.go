package dialect

import (
	"context"
	"database/sql"
	"time"
)

// Maintainer spells what the maintenance tasks need that differs between servers. The core runs the
// tasks' batches itself (one transaction per batch with its audit row); where the dialect has the stored
// routines the migrations created (cleanup, risk scores), the core calls them instead, so that a task
// has one definition on each server.
type Maintainer interface {
	// Call is the statement that runs the stored procedure routine of the change on srv's schema, or
	// "" where the dialect has no stored routines (SQLite): the core then runs the batches with Rules.
	Call(srv Server, routine string) string
	// Rules are the cleanup and risk-score rules as SQL over the session table's current row, for the
	// dialects without stored routines; nil elsewhere.
	Rules(t Target) Rules
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
