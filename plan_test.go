package sessionsec_test

import (
	"strings"
	"testing"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
)

// TestPlan: on a table the change was not applied to, the plan lists every step with how it runs on
// this server (online forms, nothing rewriting the table), the backfill's rows and batches, and no
// preflight problems; it changes nothing. After Migrate nothing is pending.
func TestPlan(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		ctx := ctxT(t)
		createExisting(t, d, 12000)
		before := catalogFingerprint(t, d)
		p, err := sessionsec.New(d.DB)
		requireT(t, err == nil, "New: %v", err)
		pl, err := p.Plan(ctx)
		requireT(t, err == nil, "Plan: %v", err)
		requireT(t, len(pl.Steps) == int(pl.Latest) && pl.Version == 0 && len(pl.Problems) == 0, "plan: %s", pl)
		requireT(t, catalogFingerprint(t, d) == before, "Plan changed the schema")
		requireT(t, !tableExists(t, d, "sessionsec_schema_migrations"), "Plan created the version table")
		var backfill *sessionsec.PlannedStep
		for i, s := range pl.Steps {
			requireT(t, !s.Rewrites && s.How != "", "step %s: %+v", s.Name, s)
			if s.Name == "backfill" {
				backfill = &pl.Steps[i]
			}
		}
		batches := (backfill.Rows + 4999) / 5000
		if d.Server.Dialect == "sqlite" {
			batches = 0 // one transaction
		}
		requireT(t, backfill != nil && backfill.Batches == batches, "backfill: %+v", backfill)
		if d.Server.Dialect != "mysql" { // InnoDB's row estimate may lag a fresh load
			requireT(t, backfill.Rows == 12000, "backfill rows: %+v", backfill)
		}
		want := map[string]string{"mysql": "ALGORITHM=INPLACE, LOCK=NONE", "postgres": "CONCURRENTLY", "sqlite": "CREATE INDEX"}[d.Server.Dialect]
		requireT(t, strings.Contains(pl.String(), want) && strings.Contains(pl.String(), "preflight: no problems found"), "plan text:\n%s", pl)
		t.Logf("plan on %s:\n%s", d.Server.Name, pl)

		mustMigrate(t, d.DB)
		pl, err = p.Plan(ctx)
		requireT(t, err == nil && len(pl.Steps) == 0 && pl.Version == pl.Latest, "after Migrate: %v %v", pl, err)
	})
}
