package sessionsectest_test

import (
	"context"
	"testing"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/sessionsectest"
)

// A test of the application's own session code gets a migrated MySQL database of its own (the
// container is shared by every test of the package and started on first use).
func ExampleMySQL() {
	_ = func(t *testing.T) {
		db := sessionsectest.MySQL(t)
		if _, err := db.ExecContext(context.Background(),
			"INSERT INTO sessions (session_id, user_id, created_at, last_accessed_at, expires_at) VALUES (?, ?, NOW(), NOW(), NOW() + INTERVAL 1 DAY)",
			"s-1", "u-1"); err != nil {
			t.Fatal(err)
		}
		// ... the code under test reads the session back and checks its security_hash.
	}
}

// A test that the application's own start-up holds when a deploy starts eight replicas at once: the
// replicas migrate the empty database together, with the application's options.
func ExampleCheckReplicas() {
	_ = func(t *testing.T) {
		db := sessionsectest.Postgres(t, sessionsectest.WithoutMigrations())
		sessionsectest.CheckReplicas(t, db, 8, sessionsec.WithTable("agui_sessions"))
	}
}

// Stop the shared containers when the package's tests end.
func ExampleTerminate() {
	_ = func(m *testing.M) int {
		code := m.Run()
		sessionsectest.Terminate()
		return code
	}
}
