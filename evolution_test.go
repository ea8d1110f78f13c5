package sessionsec_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
	"github.com/agui-go/sessionsec/schema"
)

// deviceHash is a step a later release could add on top of the shipped ones: a seventh column.
var deviceHash = schema.Step{Kind: schema.StepExtra, Extra: &schema.Extra{
	Name: "add_device_hash",
	Up: map[string]string{
		"mysql":    "ALTER TABLE sessions ADD COLUMN device_hash CHAR(64) CHARACTER SET ascii NULL, ALGORITHM=INSTANT",
		"postgres": "ALTER TABLE sessions ADD COLUMN IF NOT EXISTS device_hash char(64) NULL;",
		"sqlite":   "ALTER TABLE sessions ADD COLUMN device_hash TEXT;",
	},
	Down: map[string]string{
		"mysql":    "ALTER TABLE sessions DROP COLUMN device_hash, FORCE, ALGORITHM=INPLACE, LOCK=NONE",
		"postgres": "ALTER TABLE sessions DROP COLUMN IF EXISTS device_hash;",
		"sqlite":   "ALTER TABLE sessions DROP COLUMN device_hash;",
	},
	Columns: []schema.Column{{Name: "device_hash", Type: schema.TypeHash, Nullable: true}},
}}

// TestEvolution: a step added on top of the shipped ones upgrades a database at the current latest
// version (Preflight and the run judge only the new step), Validate expects its column, and Rollback
// takes the database back to the shipped latest version, which validates again.
func TestEvolution(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		createExisting(t, d, 100)
		mustMigrate(t, d.DB)
		next := sessionsec.WithExtraSteps(deviceHash)
		requireT(t, sessionsec.Preflight(ctxT(t), d.DB, next) == nil, "Preflight of the new step")
		mustMigrate(t, d.DB, next)
		st, err := sessionsec.Status(ctxT(t), d.DB, next)
		requireT(t, err == nil && st.Version == schema.Latest()+1 && !st.Dirty, "status %+v %v", st, err)
		mustValidate(t, d.DB, next)
		// The shipped binary sees a newer database.
		if _, err := sessionsec.Validate(ctxT(t), d.DB); !errors.Is(err, sessionsec.ErrValidation) || !strings.Contains(err.Error(), "at most") {
			t.Fatalf("the shipped binary's Validate: %v", err)
		}
		requireT(t, errors.Is(sessionsec.Migrate(ctxT(t), d.DB), sessionsec.ErrDatabaseAhead), "the shipped binary must refuse a newer database")
		mustMigrate(t, d.DB, sessionsec.WithAllowDatabaseAhead())
		// Back to the shipped version.
		mustRollback(t, d.DB, next, sessionsec.WithTargetVersion(schema.Latest()))
		mustValidate(t, d.DB)
		requireT(t, catalog(t, d, "sessions").Tables["sessions"].Column("device_hash") == nil, "device_hash is still there")
		mustMigrate(t, d.DB, next)
		mustValidate(t, d.DB, next)
	})
}
