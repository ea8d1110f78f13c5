package sessionsec_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite"

	"github.com/agui-go/sessionsec"
	_ "github.com/agui-go/sessionsec/sqlite"
)

// quiet keeps the examples' output to what they print.
var quiet = sessionsec.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))

func exampleDB() (*sql.DB, func()) {
	dir, _ := os.MkdirTemp("", "sessionsec-example")
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "app.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		panic(err)
	}
	return db, func() { db.Close(); os.RemoveAll(dir) }
}

// Migrate at start-up, then prove the result with Validate.
func ExampleMigrate() {
	db, done := exampleDB()
	defer done()
	ctx := context.Background()

	if err := sessionsec.Migrate(ctx, db, quiet); err != nil {
		fmt.Println("migrate:", err)
		return
	}
	rep, err := sessionsec.Validate(ctx, db)
	fmt.Println(rep.OK(), err)

	// The runbook's trigger test: a plain insert gets its hash and version.
	_, _ = db.Exec("INSERT INTO sessions (session_id, user_id) VALUES ('test-session', 'test-user')")
	var version int
	var hash string
	_ = db.QueryRow("SELECT security_version, security_hash FROM sessions WHERE session_id = 'test-session'").Scan(&version, &hash)
	fmt.Println(version, len(hash))
	// Output:
	// true <nil>
	// 1 64
}

// Preflight lists every problem at once; errors.Is picks out the kind.
func ExamplePreflight() {
	db, done := exampleDB()
	defer done()
	ctx := context.Background()
	// The AG-UI Go SDK's own session store layout: id / last_accessed.
	_, _ = db.Exec("CREATE TABLE sessions (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT NOT NULL, last_accessed TEXT NOT NULL)")

	err := sessionsec.Preflight(ctx, db)
	var pe *sessionsec.PreflightError
	fmt.Println(errors.Is(err, sessionsec.ErrIncompatibleTable), errors.As(err, &pe) && len(pe.Problems) > 0)
	// Output:
	// true true
}

// Rollback is the emergency rollback; Validate with ExpectRolledBack confirms nothing is left.
func ExampleRollback() {
	db, done := exampleDB()
	defer done()
	ctx := context.Background()
	_ = sessionsec.Migrate(ctx, db, quiet)

	if err := sessionsec.Rollback(ctx, db, quiet); err != nil {
		fmt.Println("rollback:", err)
		return
	}
	rep, err := sessionsec.Validate(ctx, db, sessionsec.ExpectRolledBack())
	fmt.Println(rep.OK(), err)
	// Output:
	// true <nil>
}

// Status tells applied and pending steps.
func ExampleStatus() {
	db, done := exampleDB()
	defer done()
	st, err := sessionsec.Status(context.Background(), db)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(st.HasVersion, len(st.Pending) == len(mustSteps("sqlite")))
	// Output:
	// false true
}

func mustSteps(dialect string) []sessionsec.Step {
	s, err := sessionsec.Steps(dialect)
	if err != nil {
		panic(err)
	}
	return s
}

// SecurityHash recomputes the hash the insert trigger stores, to verify a session.
func ExampleSecurityHash() {
	user := "test-user"
	fmt.Println(len(sessionsec.SecurityHash("test-session", &user, nil, true)))
	// Output:
	// 64
}
