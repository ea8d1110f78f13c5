package mysql

import (
	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// Rates measured by the benchmark (BENCHMARKS.md: 1M rows, 1000 writes/s, this project's 2-core
// machine), MySQL 9.7 / MariaDB 10.11: the batched backfill and one secondary index build.
const (
	mysqlBackfillRate, mariadbBackfillRate = 38_000, 48_000
	mysqlIndexRate, mariadbIndexRate       = 150_000, 400_000
)

const briefMDL = "a brief metadata lock (waits at most the lock wait behind long transactions, then retries)"

// Method describes how a step runs on MySQL or MariaDB.
func (Dialect) Method(_ dialect.Target, step schema.Step, srv dialect.Server) dialect.Method {
	maria := capsOf(srv).MariaDB()
	switch step.Kind {
	case schema.StepCreateTable:
		return dialect.Method{How: "CREATE TABLE IF NOT EXISTS (an existing table is kept as it is)", Writers: "nothing"}
	case schema.StepAddColumns:
		return dialect.Method{How: "ALTER TABLE ... ADD COLUMN (6), ALGORITHM=INSTANT (a metadata change; a table that cannot is refused, never copied)", Writers: briefMDL}
	case schema.StepValidateCheck, schema.StepKeepSecurityData:
		return dialect.Method{How: "nothing on the way up", Writers: "nothing"}
	case schema.StepRoutine:
		return dialect.Method{How: "CREATE FUNCTION/PROCEDURE IF NOT EXISTS", Writers: "nothing"}
	case schema.StepTrigger:
		how := "CREATE TRIGGER IF NOT EXISTS (an older definition is replaced through a stand-in trigger, never leaving writers without one)"
		if maria {
			how = "CREATE OR REPLACE TRIGGER"
		}
		return dialect.Method{How: how, Writers: briefMDL}
	case schema.StepBackfill:
		rate := float64(mysqlBackfillRate)
		if maria {
			rate = mariadbBackfillRate
		}
		return dialect.Method{How: "keyset batches on the key, one short autocommitted UPDATE each, run by the library with progress (the stock CLI CALLs BackfillSessionSecurity: the same batches)", Writers: "row locks of one batch at a time",
			RowsPerSecond: rate, Batch: schema.Change.BackfillBatch}
	case schema.StepIndex:
		rate := float64(mysqlIndexRate)
		if maria {
			rate = mariadbIndexRate
		}
		return dialect.Method{How: "ALTER TABLE ... ADD INDEX, ALGORITHM=INPLACE, LOCK=NONE (reads the table, does not copy it)", Writers: "keep writing; " + briefMDL + " at the start and the end",
			RowsPerSecond: rate}
	case schema.StepAuditLog:
		return dialect.Method{How: "CREATE TABLE IF NOT EXISTS " + schema.Change.AuditLog, Writers: "nothing"}
	case schema.StepArchive:
		return dialect.Method{How: "CREATE TABLE IF NOT EXISTS ... LIKE the session table (empty)", Writers: "nothing"}
	}
	return dialect.Method{How: "the extension's own SQL", Writers: "unknown"}
}
