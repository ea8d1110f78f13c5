package sessionsec_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
	"github.com/agui-go/sessionsec/schema"
)

// TestFreshDatabaseRoundTrip: up -> Validate -> the runbook's checks -> down -> Validate rolled back -> up.
func TestFreshDatabaseRoundTrip(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		mustMigrate(t, d.DB)
		t.Logf("%s", mustValidate(t, d.DB))
		runbookChecks(t, d, 0)

		mustRollback(t, d.DB)
		mustValidate(t, d.DB, sessionsec.ExpectRolledBack())
		// The rolled-back state is not the migrated one: Validate must say so.
		if _, err := sessionsec.Validate(ctxT(t), d.DB); !errors.Is(err, sessionsec.ErrValidation) {
			t.Fatalf("Validate after rollback: want ErrValidation, got %v", err)
		}
		mustMigrate(t, d.DB)
		mustValidate(t, d.DB)
	})
}

// TestExistingTableKeepsRows: an application-owned table with rows is extended, backfilled with the
// canonical hash, rolled back to exactly its old rows, and migrated again.
func TestExistingTableKeepsRows(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		createExisting(t, d, 2000)
		before, n := baseChecksum(t, d)

		mustMigrate(t, d.DB)
		mustValidate(t, d.DB)
		if after, m := baseChecksum(t, d); after != before || m != n {
			t.Fatalf("base columns changed by Migrate: %d rows %s -> %d rows %s", n, before, m, after)
		}
		verifyHashes(t, d, n)
		runbookChecks(t, d, n)

		if _, err := rollback(ctxT(t), d.DB); err != nil {
			t.Fatalf("Rollback: %v", err)
		}
		mustValidate(t, d.DB, sessionsec.ExpectRolledBack())
		if after, m := baseChecksum(t, d); after != before || m != n {
			t.Fatalf("base rows changed by Rollback: %d rows -> %d rows", n, m)
		}
		mustMigrate(t, d.DB)
		mustValidate(t, d.DB)
		verifyHashes(t, d, n)
	})
}

// verifyHashes recomputes every row's security_hash in Go (schema.SecurityHash): backfilled rows and
// trigger-filled rows must agree with one verifier.
func verifyHashes(t *testing.T, d *testdb.DB, want int) {
	t.Helper()
	rows, err := d.DB.QueryContext(ctxT(t), `SELECT session_id, user_id, created_at, security_hash, encryption_key_id,
		security_version, risk_score, last_validated_at FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id string
		var user, hash, key sql.NullString
		var created, validated any
		var version, risk int
		if err := rows.Scan(&id, &user, &created, &hash, &key, &version, &risk, &validated); err != nil {
			t.Fatal(err)
		}
		if wantHash := testdb.ExpectedHash(id, user, timeOrNil(t, created), true); hash.String != wantHash {
			t.Fatalf("row %q: security_hash %q, recomputed %q", id, hash.String, wantHash)
		}
		if !strings.HasPrefix(id, "test-") && key.String != schema.Change.DefaultKeyID {
			t.Fatalf("row %q: encryption_key_id %q, want %q", id, key.String, schema.Change.DefaultKeyID)
		}
		if version != 1 || risk != 0 || validated == nil {
			t.Fatalf("row %q: security_version %d risk_score %d last_validated_at %v", id, version, risk, validated)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != want {
		t.Fatalf("verified %d rows, want %d", n, want)
	}
}

// timeOrNil converts a scanned timestamp (time.Time, or text on SQLite) to a pointer, nil for NULL.
func timeOrNil(t *testing.T, v any) *time.Time {
	if v == nil {
		return nil
	}
	ts := asTime(t, v)
	return &ts
}

func asTime(t *testing.T, v any) time.Time {
	switch x := v.(type) {
	case time.Time:
		return x
	case string:
		return parseTS(t, x)
	case []byte:
		return parseTS(t, string(x))
	}
	t.Fatalf("unexpected timestamp %T %v", v, v)
	return time.Time{}
}

func parseTS(t *testing.T, s string) time.Time {
	for _, layout := range []string{"2006-01-02 15:04:05", time.RFC3339Nano, "2006-01-02T15:04:05Z"} {
		if ts, err := time.Parse(layout, s); err == nil {
			return ts
		}
	}
	t.Fatalf("unparseable timestamp %q", s)
	return time.Time{}
}

// runbookChecks are the spec's post-migration validation queries, made correct: scoped to the connected
// schema and with the operator precedence the original got wrong.
func runbookChecks(t *testing.T, d *testdb.DB, rows int) {
	t.Helper()
	ctx := ctxT(t)
	q := func(query string, args ...any) int {
		t.Helper()
		var n sql.NullInt64
		if err := d.DB.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		return int(n.Int64)
	}
	var cols, idx int
	switch d.Server.Dialect {
	case "mysql":
		cols = q(`SELECT COUNT(*) FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sessions'
			AND (COLUMN_NAME LIKE '%security%' OR COLUMN_NAME LIKE '%risk%')`)
		idx = q(`SELECT COUNT(DISTINCT INDEX_NAME) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE()
			AND TABLE_NAME = 'sessions' AND INDEX_NAME LIKE 'idx\_sessions\_%'`)
	case "postgres":
		cols = q(`SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'sessions'
			AND (column_name LIKE '%security%' OR column_name LIKE '%risk%')`)
		idx = q(`SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'sessions'
			AND indexname LIKE 'idx\_sessions\_%'`)
	case "sqlite":
		cols = q(`SELECT COUNT(*) FROM pragma_table_info('sessions') WHERE name LIKE '%security%' OR name LIKE '%risk%'`)
		idx = q(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'sessions' AND name LIKE 'idx\_sessions\_%' ESCAPE '\'`)
	}
	if cols != 3 { // security_hash, security_version, risk_score
		t.Errorf("security/risk columns: %d, want 3", cols)
	}
	if idx != len(schema.Change.Indexes) {
		t.Errorf("idx_sessions_%% indexes: %d, want %d", idx, len(schema.Change.Indexes))
	}
	total := q(`SELECT COUNT(*) FROM sessions`)
	hashed := q(`SELECT COUNT(security_hash) FROM sessions`)
	risky := q(`SELECT COUNT(*) FROM sessions WHERE risk_score <> 0`)
	if total != rows || hashed != rows || risky != 0 {
		t.Errorf("data: total %d hashed %d nonzero risk %d, want %d %d 0", total, hashed, risky, rows, rows)
	}
	// The trigger test, verbatim from the runbook.
	if _, err := d.DB.ExecContext(ctx, "INSERT INTO sessions (session_id, user_id) VALUES ('test-session', 'test-user')"); err != nil {
		t.Fatalf("runbook trigger test insert: %v", err)
	}
	var hash sql.NullString
	var version int
	var created any
	if err := d.DB.QueryRowContext(ctx, "SELECT security_hash, security_version, created_at FROM sessions WHERE session_id = 'test-session'").
		Scan(&hash, &version, &created); err != nil {
		t.Fatal(err)
	}
	if !hash.Valid || len(hash.String) != 64 || version != 1 {
		t.Fatalf("trigger test: security_hash %v, security_version %d", hash, version)
	}
	user := sql.NullString{String: "test-user", Valid: true}
	if want := testdb.ExpectedHash("test-session", user, timeOrNil(t, created), d.Server.Dialect != "postgres"); hash.String != want {
		t.Fatalf("trigger hash %s, recomputed %s", hash.String, want)
	}
	if _, err := d.DB.ExecContext(ctx, "DELETE FROM sessions WHERE session_id = 'test-session'"); err != nil {
		t.Fatal(err)
	}
}

// cliURL is d's golang-migrate URL with this change's version table.
func cliURL(d *testdb.DB) string {
	sep := "?"
	if strings.Contains(d.CLIURL, "?") {
		sep = "&"
	}
	return d.CLIURL + sep + "x-migrations-table=" + sessionsec.DefaultMigrationsTable
}

// TestGolangMigrateCLI runs the stock golang-migrate CLI, built from the module with the mysql and
// postgres tags, against the migrations/ folders; Validate must agree with what it produced.
func TestGolangMigrateCLI(t *testing.T) {
	bin := buildCLI(t)
	for _, s := range testdb.Servers {
		t.Run(s.Name, func(t *testing.T) {
			if s.Dialect == "sqlite" {
				t.Skip("skipping sqlite: the SQLite set needs the session_security_hash Go function that only programs importing sessionsec/sqlite register; the stock CLI binary lacks it (documented in README)")
			}
			d := testdb.New(t, s)
			createExisting(t, d, 300)
			before, _ := baseChecksum(t, d)
			cli := func(args ...string) {
				t.Helper()
				cmd := exec.Command(bin, append([]string{"-path", filepath.Join("migrations", s.Dialect), "-database", cliURL(d)}, args...)...)
				out, err := cmd.CombinedOutput()
				if err != nil {
					t.Fatalf("migrate %v: %v\n%s", args, err, out)
				}
			}
			cli("up")
			mustValidate(t, d.DB)
			verifyHashes(t, d, 300)
			cli("down", "-all")
			mustValidate(t, d.DB, sessionsec.ExpectRolledBack())
			if after, _ := baseChecksum(t, d); after != before {
				t.Fatal("base rows changed by CLI up+down")
			}
			// The library continues from what the CLI left.
			mustMigrate(t, d.DB)
			mustValidate(t, d.DB)
		})
	}
}

var (
	cliOnce sync.Once
	cliPath string
	cliErr  error
)

func buildCLI(t *testing.T) string {
	t.Helper()
	cliOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sessionsec-cli")
		if err != nil {
			cliErr = err
			return
		}
		cliPath = filepath.Join(dir, "migrate")
		cmd := exec.Command("go", "build", "-tags", "mysql postgres", "-o", cliPath, "github.com/golang-migrate/migrate/v4/cmd/migrate")
		if out, err := cmd.CombinedOutput(); err != nil {
			cliErr = fmt.Errorf("building the golang-migrate CLI: %v\n%s", err, out)
		}
	})
	if cliErr != nil {
		t.Fatal(cliErr)
	}
	return cliPath
}

// TestSingleConnectionSQLitePool: a pool limited to one connection (a common SQLite setting) migrates:
// every step, version write and check runs on the one pinned connection, none on the pool beside it.
func TestSingleConnectionSQLitePool(t *testing.T) {
	d := testdb.New(t, testdb.Servers[3])
	d.DB.SetMaxOpenConns(1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sessionsec.Migrate(ctx, d.DB); err != nil {
		t.Fatalf("Migrate on a one-connection pool: %v", err)
	}
	if _, err := sessionsec.Validate(ctx, d.DB); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	p, err := sessionsec.New(d.DB)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Rollback(ctx, sessionsec.WithTargetVersion(1)); err != nil {
		t.Fatalf("Rollback on a one-connection pool: %v", err)
	}
}

// TestDriverVariants: the same result whether a MySQL DSN has multiStatements=true or not (the suite's
// default DSN has not), and with PostgreSQL through pgx's database/sql driver instead of lib/pq.
func TestDriverVariants(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		var driverName, dsn string
		switch d.Server.Dialect {
		case "mysql":
			driverName, dsn = "mysql", d.DSN+"&multiStatements=true"
		case "postgres":
			driverName, dsn = "pgx", d.DSN
		default:
			t.Skip("skipping sqlite: one driver (modernc)")
		}
		db, err := sql.Open(driverName, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		createExisting(t, d, 200)
		mustMigrate(t, db)
		mustValidate(t, db)
		verifyHashes(t, d, 200)
		if _, err := rollback(ctxT(t), db); err != nil {
			t.Fatal(err)
		}
		mustValidate(t, db, sessionsec.ExpectRolledBack())
	})
}
