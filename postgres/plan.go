package postgres

import (
	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// Rates measured by the benchmark (BENCHMARKS.md: 1M rows, 1000 writes/s, this project's 2-core
// machine), PostgreSQL 15: the batched backfill and one partial index built concurrently.
const (
	backfillRate = 57_000
	indexRate    = 220_000
)

const briefLock = "a brief ACCESS EXCLUSIVE lock (waits at most lock_timeout behind long transactions, then retries)"

// Method describes how a step runs on PostgreSQL.
func (Dialect) Method(_ dialect.Target, step schema.Step, _ dialect.Server) dialect.Method {
	switch step.Kind {
	case schema.StepCreateTable:
		return dialect.Method{How: "CREATE TABLE IF NOT EXISTS (an existing table is kept as it is)", Writers: "nothing"}
	case schema.StepAddColumns:
		return dialect.Method{How: "ALTER TABLE ... ADD COLUMN IF NOT EXISTS (6) with constant defaults (catalog only, no rewrite), CHECK ... NOT VALID", Writers: briefLock}
	case schema.StepValidateCheck:
		return dialect.Method{How: "ALTER TABLE ... VALIDATE CONSTRAINT (reads the table under SHARE UPDATE EXCLUSIVE)", Writers: "keep writing",
			RowsPerSecond: indexRate}
	case schema.StepKeepSecurityData:
		return dialect.Method{How: "nothing on the way up", Writers: "nothing"}
	case schema.StepRoutine:
		return dialect.Method{How: "CREATE OR REPLACE FUNCTION/PROCEDURE, bound to its schema", Writers: "nothing"}
	case schema.StepTrigger:
		return dialect.Method{How: "CREATE OR REPLACE TRIGGER (replaces an older definition atomically)", Writers: "a brief SHARE ROW EXCLUSIVE lock"}
	case schema.StepBackfill:
		return dialect.Method{How: "keyset batches on the key, one short autocommitted UPDATE each, run by the library with progress (the stock CLI CALLs BackfillSessionSecurity: the same batches)", Writers: "row locks of one batch at a time",
			RowsPerSecond: backfillRate, Batch: schema.Change.BackfillBatch}
	case schema.StepIndex:
		return dialect.Method{How: "CREATE INDEX CONCURRENTLY IF NOT EXISTS (an invalid leftover of an interrupted build is dropped first)", Writers: "keep writing",
			RowsPerSecond: indexRate}
	case schema.StepAuditLog:
		return dialect.Method{How: "CREATE TABLE IF NOT EXISTS " + schema.Change.AuditLog, Writers: "nothing"}
	case schema.StepArchive:
		return dialect.Method{How: "CREATE TABLE IF NOT EXISTS ... (LIKE the session table) (empty)", Writers: "nothing"}
	}
	return dialect.Method{How: "the extension's own SQL", Writers: "unknown"}
}
