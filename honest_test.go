package sessionsec_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
)

// TestMigrateLogsOnlyWhatItDid: a fresh Migrate - on an empty database and on an existing table - claims
// no adopted or replaced object (MariaDB once said it replaced both triggers on every fresh run: its
// CREATE OR REPLACE path ran for triggers that were not there); a run with WithReapply adopts every
// object and replaces none (the definitions read back equal the declared ones); a Migrate with nothing
// to do says so.
func TestMigrateLogsOnlyWhatItDid(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		for _, existing := range []bool{false, true} {
			d := d
			if existing {
				d = testdb.New(t, d.Server)
				createExisting(t, d, 10)
			}
			var logs bytes.Buffer
			logger := sessionsec.WithLogger(slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil)))
			mustMigrate(t, d.DB, logger)
			for _, claim := range []string{"adapted", "replaced", "older definition"} {
				requireT(t, !strings.Contains(logs.String(), claim), "a fresh Migrate (existing table: %v) logs %q:\n%s", existing, claim, logs.String())
			}
			requireT(t, strings.Contains(logs.String(), "migrations applied"), "no summary line:\n%s", logs.String())
			logs.Reset()
			mustMigrate(t, d.DB, logger)
			requireT(t, strings.Contains(logs.String(), "nothing pending") && !strings.Contains(logs.String(), "step done"),
				"a Migrate with nothing pending does not say so:\n%s", logs.String())
			logs.Reset()
			mustMigrate(t, d.DB, logger, sessionsec.WithReapply())
			requireT(t, !strings.Contains(logs.String(), "replaced"), "reapply replaced an object it had just created:\n%s", logs.String())
			if d.Server.Dialect == "mysql" {
				requireT(t, strings.Count(logs.String(), "trigger ") >= 2 && strings.Contains(logs.String(), "is already there: adopted"),
					"reapply did not adopt the triggers:\n%s", logs.String())
			}
		}
	})
}

// TestReportQueriesAndLists: Report.Queries counts the statements Validate sent, and the JSON forms
// write empty lists as [].
func TestReportQueriesAndLists(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		ctx := context.Background()
		p, err := sessionsec.New(d.DB, quiet)
		if err != nil {
			t.Fatal(err)
		}
		before, err := p.Validate(ctx)
		requireT(t, err != nil && before != nil, "an empty database validated: %v", err)
		requireT(t, before.Queries >= 2, "queries = %d before the migration (the version table and the catalog were read)", before.Queries)
		mustMigrate(t, d.DB, quiet)
		rep := mustValidate(t, d.DB)
		again := mustValidate(t, d.DB)
		// The catalog is read in a fixed number of queries, whatever it holds: the count is a cost that
		// does not grow with the schema.
		requireT(t, rep.Queries >= 2 && rep.Queries == again.Queries,
			"queries: %d on the empty database, %d then %d on the migrated one", before.Queries, rep.Queries, again.Queries)
		st, err := p.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for what, v := range map[string]any{"report": rep, "status": st, "rollback": &sessionsec.RollbackResult{}, "plan": sessionsec.Plan{}} {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			requireT(t, !strings.Contains(string(b), "null") && strings.Contains(string(b), "[]"), "%s: %s", what, b)
		}
	})
}
