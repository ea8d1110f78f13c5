package dialect

import "github.com/agui-go/sessionsec/schema"

// Planner says how the dialect runs a step, for the plan an operator reads before migrating.
// Fallback: the plan says the step's file runs, without a rate (UnknownMethod).
type Planner interface {
	// Method describes how step runs on srv.
	Method(t Target, step schema.Step, srv Server) Method
}

// Method is how one step runs on one server.
type Method struct {
	How      string // the statement form, e.g. "ALTER TABLE ... ADD COLUMN ..., ALGORITHM=INSTANT"
	Rewrites bool   // whether it copies or rewrites the session table
	Writers  string // what the application's writers see while it runs
	// RowsPerSecond is the rate of a step whose time grows with the table (backfill, index builds), as
	// measured by the benchmark (BENCHMARKS.md, 1M rows under 1000 writes/s); 0 for a step whose time
	// does not depend on the table's size.
	RowsPerSecond float64
	// Batch is the rows per batch of a batched step (the backfill); 0 otherwise.
	Batch int
}

// UnknownMethod is the plan's description of a step on a dialect that is no Planner.
func UnknownMethod(d Dialect) Method {
	return Method{How: "runs the step's file", Writers: "not described by the " + d.Name() + " dialect"}
}
