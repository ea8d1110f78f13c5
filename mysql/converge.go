package mysql

import (
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// AddColumns adds the security columns a partial earlier attempt (the hand-run script, say) did not.
func (d Dialect) AddColumns(t dialect.Target, _ dialect.Server, missing []schema.Column) []string {
	return []string{d.addColumns(t, missing)}
}

// DropColumns drops the security columns that exist, after any CHECK constraint over them (the hand-run
// script put one on risk_score; MySQL refuses to drop a column a CHECK uses, error 3959). It returns
// nil when the step's own file does exactly that.
func (d Dialect) DropColumns(t dialect.Target, _ dialect.Server, present []string, cat *dialect.Catalog) []string {
	var out []string
	for _, c := range cat.Checks {
		if c.Table == t.Names.Table && mentionsAny(c.Expr, present) {
			out = append(out, "ALTER TABLE "+quote(t.Names.Table)+" DROP CONSTRAINT "+quote(c.Name))
		}
	}
	if out == nil && len(present) == len(schema.Change.Columns) {
		return nil
	}
	return append(out, d.dropColumns(t, present))
}

func mentionsAny(expr string, cols []string) bool {
	for _, c := range cols {
		if strings.Contains(expr, "`"+c+"`") {
			return true
		}
	}
	return false
}

// swapName is the stand-in trigger that covers the moment a trigger is replaced on MySQL, which has no
// CREATE OR REPLACE TRIGGER: it is created just before the old one (PRECEDES), so writers always run
// one of the two, then the old one is dropped, recreated and the stand-in dropped. Every statement is
// idempotent and the sequence resumes from any point.
func swapName(tr schema.Trigger) string {
	return "sessionsec_swap_" + strings.ToLower(string(tr.Event))
}

// ReplaceTrigger brings an existing trigger with an older definition to the declared one, with no
// moment in which writers run without it.
func (Dialect) ReplaceTrigger(t dialect.Target, srv dialect.Server, step schema.Step, cat *dialect.Catalog) []string {
	def := renderer{t: t}.trigger(*step.Trigger, step.Rev())
	if capsOf(srv).CreateOrReplaceTrigger() {
		return []string{strings.Replace(def.create(""), "CREATE TRIGGER IF NOT EXISTS", "CREATE OR REPLACE TRIGGER", 1),
			"DROP TRIGGER IF EXISTS " + quote(swapName(*step.Trigger))}
	}
	swap := def
	swap.name = swapName(*step.Trigger)
	cur := cat.Trigger(t.Names.Table, def.name)
	if cur == nil && cat.Trigger(t.Names.Table, swap.name) == nil {
		// Nothing to replace (only a revision step, or its down, asks then): create it, one statement,
		// rather than run the revision's file, whose swap needs multiStatements.
		return []string{def.create("")}
	}
	var out []string
	if cur != nil && dialect.NormalizeSpace(cur.Body) == dialect.NormalizeSpace(def.body) {
		return []string{"DROP TRIGGER IF EXISTS " + quote(swap.name)}
	}
	if cat.Trigger(t.Names.Table, swap.name) == nil && cur != nil {
		out = append(out, swap.create("PRECEDES "+quote(def.name)))
	}
	out = append(out, "DROP TRIGGER IF EXISTS "+quote(def.name))
	return append(out, def.create("PRECEDES "+quote(swap.name)), "DROP TRIGGER IF EXISTS "+quote(swap.name))
}

// swapStatements replace the existing trigger def.name with def through the stand-in, as
// ReplaceTrigger does on MySQL from the start: the file of a revision step, for the stock CLI.
func swapStatements(def triggerDef, tr schema.Trigger) []string {
	swap := def
	swap.name = swapName(tr)
	return []string{swap.create("PRECEDES " + quote(def.name)), "DROP TRIGGER IF EXISTS " + quote(def.name),
		def.create("PRECEDES " + quote(swap.name)), "DROP TRIGGER IF EXISTS " + quote(swap.name)}
}

// ReplaceRoutine brings an existing routine with an older definition to the declared one: atomically
// on MariaDB (CREATE OR REPLACE); on MySQL by DROP and CREATE, during which a CALL of that maintenance
// routine fails with 1305. The hash function is never replaced (its definition is fixed: triggers call
// it on every insert); Preflight refuses one that differs.
func (Dialect) ReplaceRoutine(t dialect.Target, srv dialect.Server, step schema.Step, _ *dialect.Catalog) []string {
	def := renderer{t: t}.routine(step.Routine)
	if capsOf(srv).CreateOrReplaceTrigger() {
		return []string{strings.Replace(def.create(), "CREATE "+def.kind+" IF NOT EXISTS", "CREATE OR REPLACE "+def.kind, 1)}
	}
	return []string{def.drop(), def.create()}
}

// Leftovers is the stand-in trigger of an interrupted replacement: going down it is dropped; going up
// ReplaceTrigger finishes the replacement, so it is reported only to make the step run.
func (Dialect) Leftovers(t dialect.Target, _ dialect.Server, step schema.Step, _ bool, cat *dialect.Catalog) []string {
	if step.Kind != schema.StepTrigger {
		return nil
	}
	if swap := swapName(*step.Trigger); cat.Trigger(t.Names.Table, swap) != nil {
		return []string{"DROP TRIGGER IF EXISTS " + quote(swap)}
	}
	return nil
}

// DropTable is the statement that drops a table.
func (Dialect) DropTable(name string) string { return "DROP TABLE IF EXISTS " + quote(name) }
