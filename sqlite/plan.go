package sqlite

import (
	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// Method describes how a step runs on SQLite: each file is one transaction, and a write transaction
// holds the database's write lock (readers continue in WAL mode). No rates are measured for SQLite.
func (Dialect) Method(_ dialect.Target, step schema.Step, _ dialect.Server) dialect.Method {
	const wait = "other writers wait (busy timeout) while it runs"
	switch step.Kind {
	case schema.StepCreateTable:
		return dialect.Method{How: "CREATE TABLE IF NOT EXISTS (an existing table is kept as it is)", Writers: "nothing"}
	case schema.StepAddColumns:
		return dialect.Method{How: "ALTER TABLE ... ADD COLUMN (6) in one transaction (schema only)", Writers: wait}
	case schema.StepValidateCheck, schema.StepRoutine, schema.StepKeepSecurityData:
		return dialect.Method{How: "nothing (the range is a column CHECK; the routines are Go functions)", Writers: "nothing"}
	case schema.StepTrigger:
		return dialect.Method{How: "DROP TRIGGER IF EXISTS + CREATE TRIGGER in one transaction", Writers: wait}
	case schema.StepBackfill:
		return dialect.Method{How: "UPDATE of the rows without a hash, in one transaction", Writers: wait}
	case schema.StepIndex:
		return dialect.Method{How: "CREATE INDEX IF NOT EXISTS", Writers: wait}
	case schema.StepAuditLog, schema.StepArchive:
		return dialect.Method{How: "CREATE TABLE IF NOT EXISTS", Writers: "nothing"}
	}
	return dialect.Method{How: "the extension's own SQL", Writers: "unknown"}
}
