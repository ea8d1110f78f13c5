package dialect

// Backfiller spells the backfill as batches the core runs one at a time on the migration session, so
// that it can report progress per batch. The step's migration file runs the same batches inside the
// server (CALL BackfillSessionSecurity) for the stock golang-migrate CLI. Fallback: the step's file is
// the whole job (SQLite: one UPDATE in one transaction).
type Backfiller interface {
	// Backfill returns the batch statements for srv, or nil where the step's file is the whole job on
	// this server.
	Backfill(t Target, srv Server) *Backfill
}

// Backfill is the backfill's batch statements. A batch is the next Batch keys in key order: First or
// Next finds its last key and how many keys it holds, FillFirst or Fill fills its rows that still need
// it. The last key travels through the client and is bound again as a parameter that the key column's
// type parses (the core turns text keys read as []byte back into strings).
type Backfill struct {
	// First and Next return (last key, key count) of the first batch, or of the batch after a key;
	// parameters: (limit) and (after, limit). The key is NULL when no key is left.
	First, Next string
	// FillFirst and Fill fill the batch's rows; parameters: (last) and (after, last).
	FillFirst, Fill string
	// Batch is the keys per batch.
	Batch int
}
