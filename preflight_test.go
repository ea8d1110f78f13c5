package sessionsec_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
	"github.com/agui-go/sessionsec/schema"
)

// unchanged asserts that a failed call left the database as it found it: same catalog, no version table.
func unchanged(t *testing.T, d *testdb.DB, before string) {
	t.Helper()
	if got := catalogFingerprint(t, d); got != before {
		t.Fatalf("the database changed:\nbefore: %s\nafter:  %s", before, got)
	}
	for _, name := range []string{sessionsec.DefaultMigrationsTable, "schema_migrations"} {
		requireT(t, !tableExists(t, d, name), "a %s table was created by a call that should have changed nothing", name)
	}
}

func wantPreflight(t *testing.T, err, sentinel error, mentions ...string) {
	t.Helper()
	if !errors.Is(err, sentinel) {
		t.Fatalf("want %v, got %v", sentinel, err)
	}
	var pe *sessionsec.PreflightError
	if !errors.As(err, &pe) {
		t.Fatalf("want a *PreflightError, got %T: %v", err, err)
	}
	for _, m := range mentions {
		if !strings.Contains(err.Error(), m) {
			t.Errorf("the error does not mention %q:\n%v", m, err)
		}
	}
	t.Logf("%v", err)
}

func TestNilAndClosedDB(t *testing.T) {
	ctx := context.Background()
	if err := sessionsec.Migrate(ctx, nil); !errors.Is(err, sessionsec.ErrNoDatabase) {
		t.Fatalf("nil db: %v", err)
	}
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		db := d.Open(t)
		_ = db.Close()
		if err := sessionsec.Migrate(ctx, db); !errors.Is(err, sessionsec.ErrNoDatabase) {
			t.Fatalf("closed db: %v", err)
		}
		if _, err := sessionsec.Validate(ctx, db); !errors.Is(err, sessionsec.ErrNoDatabase) {
			t.Fatalf("closed db, Validate: %v", err)
		}
	})
}

// unknownDriver is a database/sql driver this package does not know. It is not a stand-in for a
// database: nothing is migrated through it, the test only checks that it is refused up front.
type unknownDriver struct{}

func (unknownDriver) Open(string) (driver.Conn, error) { return nil, errors.New("never opened") }

func TestUnsupportedDriverAndOptions(t *testing.T) {
	sql.Register("sessionsec-unknown", unknownDriver{})
	db, err := sql.Open("sessionsec-unknown", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := sessionsec.Migrate(ctx, db); !errors.Is(err, sessionsec.ErrUnsupportedDriver) || !strings.Contains(err.Error(), "WithDialect") {
		t.Fatalf("unknown driver: %v", err)
	}
	for _, opt := range []sessionsec.Option{
		sessionsec.WithMigrationsTable("x; DROP TABLE sessions"),
		sessionsec.WithMigrationsTable(""),
		sessionsec.WithDialect("oracle"),
		sessionsec.WithLockWait(0),
		sessionsec.WithRetries(-1, 0),
		sessionsec.WithLogger(nil),
		sessionsec.WithTable("Sessions; --"),
		sessionsec.WithTable("a_table_name_that_is_far_too_long_for_derived_names"),
		sessionsec.WithLayout(schema.Spec.Map(map[schema.Role]string{schema.RoleUser: "session_id"})),
		sessionsec.WithLayout(schema.Spec.Map(map[schema.Role]string{schema.RoleKey: "security_hash"})),
		sessionsec.WithLayout(schema.Spec.Map(map[schema.Role]string{schema.RoleCreated: ""})),
		sessionsec.ExpectRolledBack(),   // Validate's, not Migrate's
		sessionsec.WithTargetVersion(3), // Rollback's
		sessionsec.WithProgress(nil),
	} {
		if err := sessionsec.Migrate(ctx, db, opt); !errors.Is(err, sessionsec.ErrInvalidOption) {
			t.Errorf("want ErrInvalidOption, got %v", err)
		} else {
			t.Log(err)
		}
	}
	if _, err := sessionsec.Validate(ctx, db, sessionsec.WithReapply()); !errors.Is(err, sessionsec.ErrInvalidOption) {
		t.Errorf("WithReapply to Validate: want ErrInvalidOption, got %v", err)
	}
	p, err := sessionsec.New(db, sessionsec.WithDialect("mysql"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Migrate(ctx, sessionsec.WithTable("other")); !errors.Is(err, sessionsec.ErrInvalidOption) {
		t.Errorf("a handle option to a method: want ErrInvalidOption, got %v", err)
	}
	if _, err := sessionsec.New(db, sessionsec.WithLockWait(time.Second)); !errors.Is(err, sessionsec.ErrInvalidOption) {
		t.Errorf("a call option to New: want ErrInvalidOption, got %v", err)
	}
}

// TestUnknownLayout: a table that has neither built-in layout is refused with what was found and how to
// map it; nothing is created. Mapped with WithLayout, it migrates.
func TestUnknownLayout(t *testing.T) {
	ddl := map[string]string{
		"mysql":    "CREATE TABLE sessions (token VARCHAR(64) PRIMARY KEY, owner VARCHAR(255) NOT NULL, born DATETIME(6) NOT NULL, dies DATETIME(6) NULL, seen DATETIME(6) NULL)",
		"postgres": "CREATE TABLE sessions (token text PRIMARY KEY, owner text NOT NULL, born timestamptz NOT NULL, dies timestamptz, seen timestamptz)",
		"sqlite":   "CREATE TABLE sessions (token TEXT PRIMARY KEY, owner TEXT NOT NULL, born TEXT NOT NULL, dies TEXT, seen TEXT)",
	}
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		mustExec(t, d.DB, ddl[d.Server.Dialect])
		before := catalogFingerprint(t, d)
		err := sessionsec.Migrate(ctxT(t), d.DB)
		wantPreflight(t, err, sessionsec.ErrIncompatibleTable, "token", "WithLayout", "session_id")
		unchanged(t, d, before)
		l := sessionsec.WithLayout(schema.Spec.Map(map[schema.Role]string{schema.RoleKey: "token", schema.RoleUser: "owner",
			schema.RoleCreated: "born", schema.RoleExpires: "dies", schema.RoleLastAccessed: "seen"}))
		mustMigrate(t, d.DB, l)
		mustValidate(t, d.DB, l)
		if _, err := sessionsec.Validate(ctxT(t), d.DB); !errors.Is(err, sessionsec.ErrValidation) {
			t.Fatalf("Validate without the layout must say it cannot tell: %v", err)
		}
		mustRollback(t, d.DB, l)
		mustValidate(t, d.DB, l, sessionsec.ExpectRolledBack())
	})
}

// TestConflictingObjects: a trigger and an index with our names but other definitions are reported
// (all of them, not just the first), and nothing is created.
func TestConflictingObjects(t *testing.T) {
	setup := map[string][]string{
		"mysql": {
			"CREATE TRIGGER sessions_security_hash_trigger AFTER UPDATE ON sessions FOR EACH ROW SET @x = 1",
			"CREATE INDEX idx_sessions_risk_score ON sessions (user_id)",
		},
		"postgres": {
			"CREATE FUNCTION app_noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
			"CREATE TRIGGER sessions_security_hash_trigger AFTER UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION app_noop()",
			"CREATE INDEX idx_sessions_risk_score ON sessions (user_id)",
		},
		"sqlite": {
			"CREATE TRIGGER sessions_security_hash_trigger AFTER UPDATE ON sessions BEGIN SELECT 1; END",
			"CREATE INDEX idx_sessions_risk_score ON sessions (user_id)",
		},
	}
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		createExisting(t, d, 10)
		for _, s := range setup[d.Server.Dialect] {
			if _, err := d.DB.Exec(s); err != nil {
				t.Fatalf("%s: %v", s, err)
			}
		}
		before := catalogFingerprint(t, d)
		err := sessionsec.Migrate(ctxT(t), d.DB)
		wantPreflight(t, err, sessionsec.ErrConflictingObject, "sessions_security_hash_trigger", "idx_sessions_risk_score")
		unchanged(t, d, before)
	})
}

// TestForeignMigrationsTable: the application's own golang-migrate table is never written, whatever it
// says (a clean version 3, version 1, dirty): the change keeps its own table beside it, and a handle
// pointed at the foreign table refuses.
func TestForeignMigrationsTable(t *testing.T) {
	for _, state := range []struct {
		version int
		dirty   bool
	}{{3, false}, {1, false}, {2, true}} {
		t.Run(fmt.Sprintf("v%d-dirty=%t", state.version, state.dirty), func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, d *testdb.DB) {
				createExisting(t, d, 10)
				mustExec(t, d.DB, "CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)")
				mustExec(t, d.DB, fmt.Sprintf("INSERT INTO schema_migrations (version, dirty) VALUES (%d, %t)", state.version, state.dirty))
				appTable := func() string {
					var v int
					var dirty bool
					if err := d.DB.QueryRow("SELECT version, dirty FROM schema_migrations").Scan(&v, &dirty); err != nil {
						t.Fatal(err)
					}
					return fmt.Sprintf("%d/%t", v, dirty)
				}
				want := appTable()
				before := catalogFingerprint(t, d)
				err := sessionsec.Migrate(ctxT(t), d.DB, sessionsec.WithMigrationsTable("schema_migrations"))
				wantPreflight(t, err, sessionsec.ErrForeignMigrations, "another migration set")
				requireT(t, catalogFingerprint(t, d) == before, "a refused call changed the catalog")
				mustMigrate(t, d.DB)
				mustValidate(t, d.DB)
				mustRollback(t, d.DB)
				requireT(t, appTable() == want, "the application's schema_migrations changed: %s, was %s", appTable(), want)
			})
		})
	}
}

// TestDatabaseAhead: a newer binary migrated first; this one refuses unless told to carry on.
func TestDatabaseAhead(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		mustMigrate(t, d.DB)
		if _, err := d.DB.Exec("UPDATE " + sessionsec.DefaultMigrationsTable + " SET version = 999"); err != nil {
			t.Fatal(err)
		}
		err := sessionsec.Migrate(ctxT(t), d.DB)
		wantPreflight(t, err, sessionsec.ErrDatabaseAhead, "999", "WithAllowDatabaseAhead")
		if err := sessionsec.Migrate(ctxT(t), d.DB, sessionsec.WithAllowDatabaseAhead()); err != nil {
			t.Fatalf("with WithAllowDatabaseAhead: %v", err)
		}
	})
}

// TestReadOnlyServer: a read-only PostgreSQL database (as on a standby) and a super_read_only MySQL.
func TestReadOnlyServer(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		switch d.Server.Name {
		case "postgres":
			if _, err := d.DB.Exec("ALTER DATABASE " + d.Name + " SET default_transaction_read_only = on"); err != nil {
				t.Fatal(err)
			}
			db := d.Open(t) // new sessions pick the setting up
			wantPreflight(t, sessionsec.Migrate(ctxT(t), db), sessionsec.ErrReadOnly)
		case "mysql", "mariadb":
			// read_only is server-wide: set it briefly (packages run one at a time in the suite).
			variable := "super_read_only"
			if d.Server.Name == "mariadb" {
				variable = "read_only" // MariaDB's read_only also binds users without READ_ONLY ADMIN
			}
			limited := limitedUser(t, d, "ALL PRIVILEGES")
			if _, err := d.DB.Exec("SET GLOBAL " + variable + " = ON"); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_, _ = d.DB.Exec("SET GLOBAL " + variable + " = OFF")
				_, _ = d.DB.Exec("SET GLOBAL read_only = OFF")
			})
			wantPreflight(t, sessionsec.Migrate(ctxT(t), limited), sessionsec.ErrReadOnly)
		default:
			t.Skip("skipping sqlite: read-only is a file permission there, covered by the OS")
		}
	})
}

// TestMissingPrivileges: a user that may read and write sessions but not alter it.
func TestMissingPrivileges(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		createExisting(t, d, 10)
		var db *sql.DB
		switch d.Server.Dialect {
		case "mysql":
			db = limitedUser(t, d, "SELECT, INSERT, UPDATE, DELETE")
		case "postgres":
			db = limitedRole(t, d)
		default:
			t.Skip("skipping sqlite: no privilege system")
		}
		before := catalogFingerprint(t, d)
		wantPreflight(t, sessionsec.Migrate(ctxT(t), db), sessionsec.ErrPrivileges)
		unchanged(t, d, before)
	})
}

// TestBinlogRoutineRestriction: MySQL error 1419 - binary logging on, log_bin_trust_function_creators=0
// and a user without SUPER: CREATE TRIGGER would fail half-way; Preflight says so first, with the fix.
func TestBinlogRoutineRestriction(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		if d.Server.Dialect != "mysql" {
			t.Skipf("skipping %s: error 1419 is MySQL/MariaDB's", d.Server.Name)
		}
		var logBin, trust int
		if err := d.DB.QueryRow("SELECT @@log_bin, @@log_bin_trust_function_creators").Scan(&logBin, &trust); err != nil {
			t.Fatal(err)
		}
		if logBin != 1 || trust != 0 {
			t.Fatalf("the test server must run with binary logging on and log_bin_trust_function_creators=0 (got %d, %d): scripts/dbservers.sh does", logBin, trust)
		}
		db := limitedUser(t, d, "ALL PRIVILEGES")
		before := catalogFingerprint(t, d)
		wantPreflight(t, sessionsec.Migrate(ctxT(t), db), sessionsec.ErrBinlogRoutines, "log_bin_trust_function_creators")
		unchanged(t, d, before)
	})
}

// limitedUser creates a MySQL/MariaDB user with privs on d's database only and returns a pool for it.
func limitedUser(t *testing.T, d *testdb.DB, privs string) *sql.DB {
	t.Helper()
	user := "u" + d.Name[len(d.Name)-10:]
	for _, s := range []string{
		fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY 'Pw-%s'", user, user),
		fmt.Sprintf("GRANT %s ON %s.* TO '%s'@'%%'", privs, d.Name, user),
	} {
		if _, err := d.DB.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	t.Cleanup(func() { _, _ = d.DB.Exec(fmt.Sprintf("DROP USER IF EXISTS '%s'@'%%'", user)) })
	cfg, err := gomysql.ParseDSN(d.DSN)
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Passwd = user, "Pw-"+user
	db, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// limitedRole creates a PostgreSQL login role that may use sessions but does not own it.
func limitedRole(t *testing.T, d *testdb.DB) *sql.DB {
	t.Helper()
	role := "r" + d.Name[len(d.Name)-10:]
	for _, s := range []string{
		fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD 'pw'", role),
		fmt.Sprintf("GRANT SELECT, INSERT, UPDATE, DELETE ON sessions TO %s", role),
	} {
		if _, err := d.DB.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	u, err := url.Parse(d.DSN)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, "pw")
	db, err := sql.Open("postgres", u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = db.Close()
		_, _ = d.DB.Exec("DROP OWNED BY " + role)
		_, _ = d.DB.Exec("DROP ROLE IF EXISTS " + role)
	})
	return db
}
