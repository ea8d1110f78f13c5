package sessionsec_test

import (
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/internal/testdb"
	"github.com/agui-go/sessionsec/mysql"
	"github.com/agui-go/sessionsec/schema"
)

// minimal is a dialect reduced to the required contract: embedding the interface promotes only its
// methods, so the core finds none of the optional capabilities and takes every fallback.
type minimal struct{ dialect.Dialect }

// plainPlan is a flavor as a package of its own would write it: MySQL with one capability overridden.
type plainPlan struct{ mysql.Dialect }

const flavorHow = "as the flavor describes it"

func (plainPlan) Method(dialect.Target, schema.Step, dialect.Server) dialect.Method {
	return dialect.Method{How: flavorHow}
}

func init() {
	for _, name := range []string{"mysql", "postgres", "sqlite"} {
		dialect.Register(dialect.Registration{Name: name + "-minimal", Dialect: minimal{dialect.MustLookup(name)}})
	}
	dialect.Register(dialect.Registration{Name: "mysql-plain-plan", Dialect: plainPlan{}})
}

// TestMinimalDialect: a dialect with nothing but the required contract migrates, validates and rolls
// back on every server through the fallbacks (the step files run as the stock CLI runs them, the plan
// has no rates), and the operations that need a capability refuse with ErrNotSupported.
func TestMinimalDialect(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		db := d.DB
		if d.Server.Dialect == "mysql" {
			// Without the Replacer, step 22's file - the stand-in swap, four statements - runs as the
			// stock CLI runs it, which always sets multiStatements.
			var err error
			if db, err = sql.Open(d.DriverName, d.DSN+"&multiStatements=true"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
		}
		name := sessionsec.WithDialect(d.Server.Dialect + "-minimal")
		createExisting(t, d, 50) // rows for the backfill, which the step's file does on its own here
		p, err := sessionsec.New(db, name)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := p.Plan(ctxT(t))
		if err != nil {
			t.Fatalf("Plan: %v", err)
		}
		for _, s := range plan.Steps {
			if s.Estimate != 0 || !strings.Contains(s.How, "runs the step's file") {
				t.Errorf("step %d planned as %q taking %v, want the fallback's description without an estimate", s.Version, s.How, s.Estimate)
			}
		}
		mustMigrate(t, db, name)
		mustValidate(t, db, name)
		if _, err := sessionsec.Cleanup(ctxT(t), db, name); !errors.Is(err, sessionsec.ErrNotSupported) {
			t.Errorf("Cleanup without a Maintainer: %v, want ErrNotSupported", err)
		}
		ring, err := sessionsec.NewKeyring("k1", map[string][]byte{"k1": []byte("a conformance key of at least 32 bytes")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sessionsec.Seal(ctxT(t), db, ring, name); !errors.Is(err, sessionsec.ErrNotSupported) {
			t.Errorf("Seal without a SealReader: %v, want ErrNotSupported", err)
		}
		// The full dialect finds what the minimal one made exactly as its own.
		mustValidate(t, db)
		mustRollback(t, db, name)
		mustValidate(t, db, name, sessionsec.ExpectRolledBack())
	})
}

// TestFlavorOverridesCapability: a flavor embedding a dialect keeps every capability it does not
// override (the migration uses MySQL's converging statements and batched backfill) and is used where it
// overrides one.
func TestFlavorOverridesCapability(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		if d.Server.Dialect != "mysql" {
			t.Skipf("skipping %s: the flavor under test embeds the mysql dialect", d.Server.Name)
		}
		createExisting(t, d, 50)
		flavor := sessionsec.WithDialect("mysql-plain-plan")
		p, err := sessionsec.New(d.DB, flavor)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := p.Plan(ctxT(t))
		if err != nil {
			t.Fatalf("Plan: %v", err)
		}
		for _, s := range plan.Steps {
			if s.How != flavorHow {
				t.Errorf("step %d planned as %q, want the flavor's %q", s.Version, s.How, flavorHow)
			}
		}
		var batches int
		mustMigrate(t, d.DB, flavor, sessionsec.WithProgress(func(p sessionsec.Progress) {
			if p.Unit == sessionsec.UnitRows {
				batches++
			}
		}))
		mustValidate(t, d.DB, flavor)
		if batches == 0 {
			t.Error("the flavor's backfill reported no batch: MySQL's Backfiller was not found through the embedding")
		}
	})
}
