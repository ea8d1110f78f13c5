package sessionsec_test

import (
	"database/sql"
	"strings"
	"testing"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
)

// TestArchiveFollowsTheTable: columns the application adds to its session table after the migration
// - with their own types, character sets and collations - are added to the archive before Archive
// copies, so their values arrive; the spec's INSERT ... SELECT * works again; Validate's note goes.
func TestArchiveFollowsTheTable(t *testing.T) {
	added := map[string][]string{
		"mysql": {
			"ALTER TABLE sessions ADD COLUMN tenant VARCHAR(32) CHARACTER SET latin1 COLLATE latin1_bin NOT NULL DEFAULT 'x'",
			"ALTER TABLE sessions ADD COLUMN tier ENUM('Gold', 'silver') NULL",
			"ALTER TABLE sessions ADD COLUMN quota DECIMAL(10,2) UNSIGNED NULL",
		},
		"postgres": {
			`ALTER TABLE sessions ADD COLUMN tenant text COLLATE "C" NOT NULL DEFAULT 'x'`,
			"ALTER TABLE sessions ADD COLUMN tier text[]",
			"ALTER TABLE sessions ADD COLUMN quota numeric(10,2)",
		},
		"sqlite": {
			"ALTER TABLE sessions ADD COLUMN tenant TEXT NOT NULL DEFAULT 'x'",
			"ALTER TABLE sessions ADD COLUMN tier VARCHAR(8)",
			"ALTER TABLE sessions ADD COLUMN quota NUMERIC(10,2)",
		},
	}
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		mustMigrate(t, d.DB)
		for _, stmt := range added[d.Server.Dialect] {
			mustExec(t, d.DB, stmt)
		}
		rep := mustValidate(t, d.DB)
		requireT(t, strings.Contains(strings.Join(rep.Notes, "\n"), "tenant"), "want a note about the archive's missing columns: %s", rep)
		tier := "Gold"
		if d.Server.Dialect == "postgres" {
			tier = "{Gold,silver}"
		}
		mustExec(t, d.DB, "INSERT INTO sessions (session_id, user_id, expires_at, tenant, tier, quota) VALUES ("+
			ph(d, 1)+", 'u', '2001-01-01 00:00:00', 'Tenant-A', "+ph(d, 2)+", 12.5)", "old", tier)

		res, err := sessionsec.Archive(ctxT(t), d.DB)
		requireT(t, err == nil && res.Rows == 1, "Archive: %v %v", res, err)
		var tenant, gotTier, quota sql.NullString
		if err := d.DB.QueryRow("SELECT tenant, tier, quota FROM sessions_archive WHERE session_id = 'old'").Scan(&tenant, &gotTier, &quota); err != nil {
			t.Fatal(err)
		}
		requireT(t, tenant.String == "Tenant-A" && gotTier.String == tier && strings.HasPrefix(quota.String, "12.5"),
			"archived row: tenant %v tier %v quota %v", tenant, gotTier, quota)
		if d.Server.Dialect != "sqlite" {
			// Same definitions: the columns' types, character sets and collations as the catalog reads them.
			src, dst := catalog(t, d, "sessions").Tables["sessions"], catalog(t, d, "sessions").Tables["sessions_archive"]
			for _, c := range []string{"tenant", "tier", "quota"} {
				requireT(t, src.Column(c).Type == dst.Column(c).Type, "%s: %s in sessions, %s in the archive", c, src.Column(c).Type, dst.Column(c).Type)
			}
		}
		if d.Server.Dialect == "mysql" {
			var a, b string
			q := "SELECT CONCAT(CHARACTER_SET_NAME, ' ', COLLATION_NAME) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_NAME = 'tenant'"
			if err := d.DB.QueryRow(q, "sessions").Scan(&a); err != nil {
				t.Fatal(err)
			}
			if err := d.DB.QueryRow(q, "sessions_archive").Scan(&b); err != nil {
				t.Fatal(err)
			}
			requireT(t, a == b, "tenant: %s in sessions, %s in the archive", a, b)
		}
		rep = mustValidate(t, d.DB)
		requireT(t, !strings.Contains(strings.Join(rep.Notes, "\n"), "tenant"), "the archive still lacks a column: %s", rep)
		// The spec's own statement works again.
		mustExec(t, d.DB, "INSERT INTO sessions (session_id, user_id, expires_at) VALUES ('old2', 'u', '2001-01-01 00:00:00')")
		mustExec(t, d.DB, "INSERT INTO sessions_archive SELECT * FROM sessions WHERE session_id = 'old2'")
	})
}
