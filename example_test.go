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
	"time"

	_ "modernc.org/sqlite"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/schema"
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
	// A session table of neither built-in layout: token / owner / born / dies / seen.
	_, _ = db.Exec("CREATE TABLE sessions (token TEXT PRIMARY KEY, owner TEXT, born TEXT, dies TEXT, seen TEXT)")

	err := sessionsec.Preflight(ctx, db)
	var pe *sessionsec.PreflightError
	fmt.Println(errors.Is(err, sessionsec.ErrIncompatibleTable), errors.As(err, &pe) && len(pe.Problems) > 0)

	// Mapped to its roles, it migrates.
	mapped := schema.Spec.Map(map[schema.Role]string{schema.RoleKey: "token", schema.RoleUser: "owner",
		schema.RoleCreated: "born", schema.RoleExpires: "dies", schema.RoleLastAccessed: "seen"})
	fmt.Println(sessionsec.Migrate(ctx, db, sessionsec.WithLayout(mapped), quiet))
	// Output:
	// true true
	// <nil>
}

// The AG-UI Go SDK's own session table migrates as it is: the layout is recognised from its columns.
func ExampleMigrate_aguiSDK() {
	db, done := exampleDB()
	defer done()
	ctx := context.Background()
	_, _ = db.Exec(`CREATE TABLE agui_sessions (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, created_at DATETIME NOT NULL,
		last_accessed DATETIME NOT NULL, expires_at DATETIME NOT NULL, ip_address TEXT, user_agent TEXT,
		is_active BOOLEAN NOT NULL DEFAULT 1, data TEXT, metadata TEXT)`)
	if err := sessionsec.Migrate(ctx, db, sessionsec.WithTable("agui_sessions"), quiet); err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	_, _ = db.Exec(`INSERT INTO agui_sessions (id, user_id, created_at, last_accessed, expires_at, ip_address, is_active)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, "s1", "u1", now, now, now.Add(time.Hour), "203.0.113.7", true)
	// Since step 22 the trigger no longer writes the unkeyed IP hash (reversible by enumeration): the
	// sealer writes a keyed one (SealSession after a write, or RunSealer beside the server).
	var ipHash sql.NullString
	_ = db.QueryRow("SELECT created_ip_hash FROM agui_sessions WHERE id = 's1'").Scan(&ipHash)
	fmt.Println("IP hash before sealing:", ipHash.Valid)
	ring, err := sessionsec.NewKeyring("k1", map[string][]byte{"k1": []byte("an example key of 32 bytes or more")})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := sessionsec.SealSession(ctx, db, ring, "s1", sessionsec.WithTable("agui_sessions")); err != nil {
		fmt.Println(err)
		return
	}
	_ = db.QueryRow("SELECT created_ip_hash FROM agui_sessions WHERE id = 's1'").Scan(&ipHash)
	unkeyed, _ := sessionsec.IPHash("203.0.113.7")
	fmt.Println("IP hash after sealing:", ipHash.Valid, ipHash.String != unkeyed)
	// Output:
	// IP hash before sealing: false
	// IP hash after sealing: true true
}

// A Provider validates its options once and serves every operation; its Rollback says what it kept.
func ExampleNew() {
	db, done := exampleDB()
	defer done()
	ctx := context.Background()
	p, err := sessionsec.New(db, quiet)
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = p.Migrate(ctx)
	_, _ = db.Exec("INSERT INTO sessions (session_id, user_id) VALUES ('s1', 'u1')")
	res, err := p.Rollback(ctx)
	fmt.Println(err, res.Kept)
	// Output:
	// <nil> [sessions_security_retired]
}

// Rollback is the emergency rollback; Validate with ExpectRolledBack confirms nothing is left.
func ExampleProvider_Rollback() {
	db, done := exampleDB()
	defer done()
	ctx := context.Background()
	_ = sessionsec.Migrate(ctx, db, quiet)

	p, err := sessionsec.New(db, quiet)
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := p.Rollback(ctx); err != nil {
		fmt.Println("rollback:", err)
		return
	}
	rep, err := p.Validate(ctx, sessionsec.ExpectRolledBack())
	fmt.Println(rep.OK(), err)
	// Output:
	// true <nil>
}

// Version is the applied version and the dirty flag, for a health check.
func ExampleProvider_Version() {
	db, done := exampleDB()
	defer done()
	ctx := context.Background()
	p, err := sessionsec.New(db, quiet)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, _, ok, err := p.Version(ctx)
	fmt.Println(ok, err)
	_ = p.Migrate(ctx)
	v, dirty, ok, err := p.Version(ctx)
	fmt.Println(v == uint(len(sessionsec.Steps("sessions"))), dirty, ok, err)
	// Output:
	// false <nil>
	// true false true <nil>
}

// Plan says what Migrate would do now, without doing it.
func ExampleProvider_Plan() {
	db, done := exampleDB()
	defer done()
	p, err := sessionsec.New(db, quiet)
	if err != nil {
		fmt.Println(err)
		return
	}
	pl, err := p.Plan(context.Background())
	fmt.Println(len(pl.Steps) == len(sessionsec.Steps("sessions")), len(pl.Problems), err)
	// Output:
	// true 0 <nil>
}

// RenderFiles writes the golang-migrate folder for a table of another name, offline.
func ExampleRenderFiles() {
	files, err := sessionsec.RenderFiles("sqlite", schema.Spec.WithTable("user_sessions"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(len(files) == 2*len(sessionsec.Steps("user_sessions")))
	// Output:
	// true
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
	fmt.Println(st.HasVersion, len(st.Pending) == len(sessionsec.Steps("sessions")))
	// Output:
	// false true
}

// SecurityHash recomputes the hash the insert trigger stores, to verify a session.
func ExampleSecurityHash() {
	user := "test-user"
	fmt.Println(sessionsec.SecurityHash("test-session", &user, nil, true))
	// Output:
	// fe02d0ed941f0e2d8bd37f6b55c23da58a761004b1b8027b3727ee008d263736
}

// The maintenance tasks, from a scheduled job: each works in short batches, each batch one transaction
// with its audit row, and says what it did.
func ExampleProvider_Cleanup() {
	db, done := exampleDB()
	defer done()
	ctx := context.Background()
	if err := sessionsec.Migrate(ctx, db, quiet); err != nil {
		fmt.Println("migrate:", err)
		return
	}
	twoDaysAgo := time.Now().UTC().Add(-48 * time.Hour).Format(time.DateTime)
	_, _ = db.Exec(`INSERT INTO sessions (session_id, user_id, expires_at) VALUES
		('gone-long-ago', 'u1', '2020-01-01 00:00:00'), ('gone', 'u2', ?), ('live', 'u3', '2999-01-01 00:00:00')`, twoDaysAgo)
	p, _ := sessionsec.New(db, quiet)

	// Sessions expired more than 90 days ago move to sessions_archive; the other expired ones are deleted.
	archived, _ := p.Archive(ctx)
	cleaned, _ := p.Cleanup(ctx)
	pruned, _ := p.PruneAudit(ctx, sessionsec.WithOlderThan(30*24*time.Hour))
	fmt.Println(archived.Task, archived.Rows, cleaned.Task, cleaned.Rows, pruned.Task, pruned.Rows)

	m, _ := p.ReadMetrics(ctx)
	fmt.Println(m.Sessions, m.Archived, m.Expired, m.CleanupDeletedLastDay)
	// Output:
	// archive 1 cleanup 1 prune-audit 0
	// 1 1 0 1
}
