package sessionsectest_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/schema"
	"github.com/agui-go/sessionsec/sessionsectest"
)

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

type kind struct {
	name string
	open func(testing.TB, ...sessionsectest.Option) *sql.DB
	ph   func(int) string // the driver's placeholder
}

var kinds = []kind{
	{"mysql", sessionsectest.MySQL, func(int) string { return "?" }},
	{"mariadb", sessionsectest.MariaDB, func(int) string { return "?" }},
	{"postgres", sessionsectest.Postgres, func(i int) string { return fmt.Sprintf("$%d", i) }},
}

func each(t *testing.T, f func(t *testing.T, k kind)) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) { f(t, k) })
	}
}

// A migrated database: valid, and the triggers fill the hash of a row the application writes.
func TestMigratedDatabase(t *testing.T) {
	each(t, func(t *testing.T, k kind) {
		ctx := context.Background()
		db := k.open(t)
		rep, err := sessionsec.Validate(ctx, db)
		if err != nil || !rep.OK() {
			t.Fatalf("Validate: %v %v", rep, err)
		}
		q := fmt.Sprintf("INSERT INTO sessions (session_id, user_id, created_at, last_accessed_at, expires_at) VALUES (%s, %s, %s, %s, %s)",
			k.ph(1), k.ph(2), k.ph(3), k.ph(4), k.ph(5))
		created := mustTime(t, "2026-01-02T03:04:05Z")
		if _, err := db.ExecContext(ctx, q, "s-1", "u-1", created, created, created.AddDate(0, 0, 1)); err != nil {
			t.Fatal(err)
		}
		var hash string
		if err := db.QueryRowContext(ctx, "SELECT security_hash FROM sessions WHERE session_id = "+k.ph(1), "s-1").Scan(&hash); err != nil {
			t.Fatal(err)
		}
		user := "u-1"
		// The time is UTC, so a wall-clock column and an instant column hash it alike.
		want := sessionsec.SecurityHash("s-1", &user, &created, true)
		if hash != want {
			t.Fatalf("security_hash = %s, want %s", hash, want)
		}
	})
}

// Each call gets a database of its own: what one test writes, another does not see.
func TestDatabasesAreIsolated(t *testing.T) {
	each(t, func(t *testing.T, k kind) {
		ctx := context.Background()
		a, b := k.open(t), k.open(t)
		if _, err := a.ExecContext(ctx, "CREATE TABLE only_in_a (id INT)"); err != nil {
			t.Fatal(err)
		}
		if _, err := b.ExecContext(ctx, "SELECT COUNT(*) FROM only_in_a"); err == nil {
			t.Fatal("a table created in one test's database is visible in another's")
		}
		var n int
		if err := b.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions").Scan(&n); err != nil || n != 0 {
			t.Fatalf("the second database's sessions: %d rows, %v", n, err)
		}
	})
}

// WithoutMigrations gives an empty database, which CheckReplicas then migrates from 8 pools at once.
func TestReplicasMigrateAnEmptyDatabase(t *testing.T) {
	each(t, func(t *testing.T, k kind) {
		ctx := context.Background()
		db := k.open(t, sessionsectest.WithoutMigrations())
		st, err := sessionsec.Status(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if st.Version != 0 {
			t.Fatalf("a database made WithoutMigrations is at version %d", st.Version)
		}
		sessionsectest.CheckReplicas(t, db, 8)
		st, err = sessionsec.Status(ctx, db)
		if err != nil || st.Version != st.Latest {
			t.Fatalf("after the replicas: %+v, %v", st, err)
		}
	})
}

// The AG-UI SDK's naming, by option, on a table name of the application's choosing.
func TestMigrateOptions(t *testing.T) {
	each(t, func(t *testing.T, k kind) {
		opts := []sessionsec.Option{sessionsec.WithLayout(schema.AGUI), sessionsec.WithTable("agui_sessions")}
		db := k.open(t, sessionsectest.WithMigrateOptions(opts...))
		rep, err := sessionsec.Validate(context.Background(), db, opts...)
		if err != nil || !rep.OK() {
			t.Fatalf("Validate: %v %v", rep, err)
		}
	})
}

// A container of the test's own, stopped with it.
func TestOwnContainer(t *testing.T) {
	db := sessionsectest.Postgres(t, sessionsectest.WithOwnContainer())
	if _, err := db.Exec("ALTER SYSTEM SET log_min_duration_statement = 1000"); err != nil {
		t.Fatal(err)
	}
	rep, err := sessionsec.Validate(context.Background(), db)
	if err != nil || !rep.OK() {
		t.Fatalf("Validate: %v %v", rep, err)
	}
}

// Parallel tests share the container and get databases of their own (PostgreSQL copies the template
// concurrently).
func TestParallelTests(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			for i := range 6 {
				t.Run(fmt.Sprint(i), func(t *testing.T) {
					t.Parallel()
					db := k.open(t)
					if _, err := db.Exec("CREATE TABLE mine (id INT)"); err != nil {
						t.Fatal(err)
					}
					rep, err := sessionsec.Validate(context.Background(), db)
					if err != nil || !rep.OK() {
						t.Fatalf("Validate: %v %v", rep, err)
					}
				})
			}
		})
	}
}
