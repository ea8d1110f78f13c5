package sessionsec_test

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	migratemysql "github.com/golang-migrate/migrate/v4/database/mysql"
	migratepg "github.com/golang-migrate/migrate/v4/database/postgres"
	migratesqlite "github.com/golang-migrate/migrate/v4/database/sqlite"
	"github.com/golang-migrate/migrate/v4/source/iofs"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
)

// originalScript is, per server, the statements of the original hand-run script
// (001_add_session_security_columns.sql) that the server accepted, in order, with the column
// definitions that script used. MySQL takes the six ADD COLUMNs and stops at the first CREATE INDEX ...
// WHERE; MariaDB also refuses the sixth (a CHECK followed by COMMENT). PostgreSQL accepts none of the
// MySQL text; the entry is the conversion its runbook asked operators to make by hand: the columns, the
// partial indexes, the audit log.
var originalScript = map[string][]string{
	"mysql": {
		"ALTER TABLE sessions ADD COLUMN security_hash VARCHAR(64) DEFAULT NULL COMMENT 'integrity hash (hand-run script)'",
		"ALTER TABLE sessions ADD COLUMN encryption_key_id VARCHAR(36) DEFAULT NULL COMMENT 'key uuid (hand-run script)'",
		"ALTER TABLE sessions ADD COLUMN created_ip_hash VARCHAR(64) DEFAULT NULL COMMENT 'ip hash (hand-run script)'",
		"ALTER TABLE sessions ADD COLUMN security_version INTEGER DEFAULT 1 NOT NULL COMMENT 'version (hand-run script)'",
		"ALTER TABLE sessions ADD COLUMN last_validated_at TIMESTAMP DEFAULT NULL COMMENT 'validated (hand-run script)'",
		"ALTER TABLE sessions ADD COLUMN risk_score INTEGER DEFAULT 0 CHECK (risk_score >= 0 AND risk_score <= 100) COMMENT 'risk (hand-run script)'",
	},
	"postgres": {
		"ALTER TABLE sessions ADD COLUMN security_hash VARCHAR(64) DEFAULT NULL",
		"ALTER TABLE sessions ADD COLUMN encryption_key_id VARCHAR(36) DEFAULT NULL",
		"ALTER TABLE sessions ADD COLUMN created_ip_hash VARCHAR(64) DEFAULT NULL",
		"ALTER TABLE sessions ADD COLUMN security_version INTEGER DEFAULT 1 NOT NULL",
		"ALTER TABLE sessions ADD COLUMN last_validated_at TIMESTAMP DEFAULT NULL",
		"ALTER TABLE sessions ADD COLUMN risk_score INTEGER DEFAULT 0 CHECK (risk_score >= 0 AND risk_score <= 100)",
		"CREATE INDEX idx_sessions_security_hash ON sessions(security_hash) WHERE security_hash IS NOT NULL",
		"CREATE INDEX idx_sessions_encryption_key ON sessions(encryption_key_id) WHERE encryption_key_id IS NOT NULL",
		"CREATE INDEX idx_sessions_ip_hash ON sessions(created_ip_hash) WHERE created_ip_hash IS NOT NULL",
		"CREATE INDEX idx_sessions_security_version ON sessions(security_version)",
		"CREATE INDEX idx_sessions_last_validated ON sessions(last_validated_at) WHERE last_validated_at IS NOT NULL",
		"CREATE INDEX idx_sessions_risk_score ON sessions(risk_score) WHERE risk_score > 0",
		"CREATE INDEX idx_sessions_security_composite ON sessions(security_version, risk_score, last_validated_at) WHERE security_hash IS NOT NULL",
		`CREATE TABLE IF NOT EXISTS session_audit_log (id BIGSERIAL PRIMARY KEY, session_id VARCHAR(255) DEFAULT NULL,
			action VARCHAR(50) NOT NULL, details TEXT DEFAULT NULL, ip_hash VARCHAR(64) DEFAULT NULL, user_agent_hash VARCHAR(64) DEFAULT NULL,
			risk_score INTEGER DEFAULT 0, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP)`,
		"CREATE INDEX idx_session_audit_session_id ON session_audit_log (session_id)",
		"CREATE INDEX idx_session_audit_action ON session_audit_log (action)",
		"CREATE INDEX idx_session_audit_created_at ON session_audit_log (created_at)",
		"CREATE INDEX idx_session_audit_risk_score ON session_audit_log (risk_score)",
	},
}

func originalPrefixes(server string) []string {
	switch server {
	case "mariadb":
		return originalScript["mysql"][:5]
	case "sqlite":
		return nil
	}
	return originalScript[server]
}

// TestOriginalScriptPrefixes: a database where any prefix of the original script ran converges with one
// plain Migrate - no dirty state, Validate passes, every row hashed - and rolls back cleanly.
func TestOriginalScriptPrefixes(t *testing.T) {
	for _, s := range testdb.Servers {
		stmts := originalPrefixes(s.Name)
		if stmts == nil {
			continue // the original script was never for SQLite
		}
		t.Run(s.Name, func(t *testing.T) {
			for k := 1; k <= len(stmts); k++ {
				t.Run(fmt.Sprintf("first_%d", k), func(t *testing.T) {
					d := testdb.New(t, s)
					createExisting(t, d, 200)
					before, n := baseChecksum(t, d)
					for _, stmt := range stmts[:k] {
						mustExec(t, d.DB, stmt)
					}
					mustMigrate(t, d.DB)
					st, err := sessionsec.Status(ctxT(t), d.DB)
					requireT(t, err == nil && !st.Dirty && st.Version == st.Latest, "status %+v %v", st, err)
					rep := mustValidate(t, d.DB)
					t.Logf("%s", rep)
					verifyHashes(t, d, n)
					runbookChecks(t, d, n)
					mustRollback(t, d.DB)
					mustValidate(t, d.DB, sessionsec.ExpectRolledBack())
					if after, m := baseChecksum(t, d); after != before || m != n {
						t.Fatalf("base rows changed: %d -> %d rows", n, m)
					}
				})
			}
		})
	}
}

// applyRelease0 migrates d with the first release of this library (its folders are kept in
// testdata/release-0), as golang-migrate with its default schema_migrations table.
func applyRelease0(t *testing.T, d *testdb.DB) uint {
	t.Helper()
	src, err := iofs.New(os.DirFS("testdata/release-0"), d.Server.Dialect)
	if err != nil {
		t.Fatal(err)
	}
	db := d.Open(t) // WithInstance's Close closes the pool: a pool of its own
	var drv database.Driver
	switch d.Server.Dialect {
	case "mysql":
		drv, err = migratemysql.WithInstance(db, &migratemysql.Config{})
	case "postgres":
		drv, err = migratepg.WithInstance(db, &migratepg.Config{})
	default:
		drv, err = migratesqlite.WithInstance(db, &migratesqlite.Config{})
	}
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithInstance("iofs", src, d.Server.Dialect, drv)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		t.Fatalf("release 0: %v", err)
	}
	v, dirty, err := m.Version()
	requireT(t, err == nil && !dirty, "release 0 version: %d %t %v", v, dirty, err)
	return v
}

// TestUpgradeFromRelease0: a database the first release migrated (under golang-migrate's default
// schema_migrations, with the older trigger and routine definitions) keeps working: one plain Migrate
// adopts what is there, replaces the older definitions, and never writes schema_migrations, which the
// older binary of a rolling deploy still reads.
func TestUpgradeFromRelease0(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		createExisting(t, d, 300)
		before, n := baseChecksum(t, d)
		old := applyRelease0(t, d)
		mustMigrate(t, d.DB)
		rep := mustValidate(t, d.DB)
		t.Logf("%s", rep)
		var v int
		var dirty bool
		requireT(t, d.DB.QueryRow("SELECT version, dirty FROM schema_migrations").Scan(&v, &dirty) == nil && uint(v) == old && !dirty,
			"schema_migrations was written: %d %t (release 0 left %d)", v, dirty, old)
		verifyHashes(t, d, n)
		runbookChecks(t, d, n)
		mustRollback(t, d.DB)
		mustValidate(t, d.DB, sessionsec.ExpectRolledBack())
		if after, m := baseChecksum(t, d); after != before || m != n {
			t.Fatalf("base rows changed: %d -> %d rows", n, m)
		}
	})
}

// TestApplicationAddsColumn: the application evolves its own table after the migration; Validate and a
// restart's Migrate keep passing (the archive's lag is a note, not a problem).
func TestApplicationAddsColumn(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		createExisting(t, d, 50)
		mustMigrate(t, d.DB)
		mustExec(t, d.DB, "ALTER TABLE sessions ADD COLUMN tenant_id VARCHAR(64) NULL")
		rep := mustValidate(t, d.DB)
		requireT(t, len(rep.Notes) > 0, "want a note about the archive's missing column: %s", rep)
		t.Logf("%s", rep)
		mustMigrate(t, d.DB)
		mustMigrate(t, d.DB, sessionsec.WithReapply())
		mustValidate(t, d.DB)
	})
}
