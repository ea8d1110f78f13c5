package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-migrate/migrate/v4"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/internal/testdb"
	"github.com/agui-go/sessionsec/migrations"
	"github.com/agui-go/sessionsec/schema"
)

// newMigrate builds golang-migrate on the embedded SQLite migration set, through Dialect.Driver.
func newMigrate(t *testing.T, db *sql.DB) *migrate.Migrate {
	t.Helper()
	src, err := migrations.Source("sqlite")
	if err != nil {
		t.Fatal(err)
	}
	drv, err := New().Driver(context.Background(), db, nil, "schema_migrations")
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "sqlite", drv)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sqliteDB(t *testing.T) *testdb.DB {
	t.Helper()
	return testdb.New(t, testdb.Servers[3])
}

func mustExec(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func tableSQL(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var s string
	if err := db.QueryRow(qTableSQL, name).Scan(&s); err != nil {
		t.Fatalf("sql of %s: %v", name, err)
	}
	return s
}

type baseRow struct {
	ID, User, Created, Expires, Accessed sql.NullString
}

func baseRows(t *testing.T, db *sql.DB) []baseRow {
	t.Helper()
	rows, err := db.Query(`SELECT session_id, user_id, created_at, expires_at, last_accessed_at FROM sessions ORDER BY session_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []baseRow
	for rows.Next() {
		var r baseRow
		if err := rows.Scan(&r.ID, &r.User, &r.Created, &r.Expires, &r.Accessed); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func tableNames() []string {
	names := []string{schema.Expected.Sessions}
	for _, tb := range schema.Expected.Tables {
		names = append(names, tb.Name)
	}
	return names
}

func snapshot(t *testing.T, db *sql.DB) *dialect.Snapshot {
	t.Helper()
	s, err := New().Snapshot(context.Background(), db, tableNames())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// wantHash is the Go hash of a row, with created_at parsed as UTC text and turned into epoch seconds with
// schema.EpochOf.
func wantHash(t *testing.T, id, user *string, created *string) string {
	t.Helper()
	var ep *int64
	if created != nil {
		tm, err := time.Parse("2006-01-02 15:04:05", *created)
		if err != nil {
			t.Fatalf("parse %q: %v", *created, err)
		}
		e := schema.EpochOf(tm, true)
		ep = &e
	}
	return schema.SecurityHash(id, user, ep)
}

func ptr(s string) *string { return &s }

func checkHashes(t *testing.T, db *sql.DB) {
	t.Helper()
	rows, err := db.Query(`SELECT session_id, user_id, created_at, security_hash FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, user, created, hash sql.NullString
		if err := rows.Scan(&id, &user, &created, &hash); err != nil {
			t.Fatal(err)
		}
		var u *string
		if user.Valid {
			u = &user.String
		}
		want := wantHash(t, &id.String, u, &created.String)
		if hash.String != want {
			t.Errorf("session %q: security_hash %q, want %q", id.String, hash.String, want)
		}
	}
}

func TestMigrations(t *testing.T) {
	ctx := context.Background()
	d := sqliteDB(t)
	db := d.DB

	// An application table that existed before, with rows (one with a NULL user_id).
	mustExec(t, db, `CREATE TABLE sessions (
  session_id TEXT NOT NULL PRIMARY KEY,
  user_id TEXT,
  created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP,
  expires_at TEXT,
  last_accessed_at TEXT
)`)
	mustExec(t, db, `INSERT INTO sessions (session_id, user_id, created_at, expires_at) VALUES
  ('old-1', 'u1', '2024-02-29 23:59:59', NULL),
  ('old-2', NULL, '1999-12-31 00:00:00', '2999-01-01 00:00:00'),
  ('old-3', 'ü-user', '2024-01-01 00:00:00', NULL)`)
	origSQL := tableSQL(t, db, "sessions")
	origRows := baseRows(t, db)

	if p := New().Preflight(ctx, db, schema.Expected, nil); len(p) != 0 {
		t.Fatalf("preflight on a compatible table: %+v", p)
	}

	m := newMigrate(t, db)
	if err := m.Up(); err != nil {
		t.Fatalf("up: %v", err)
	}

	st, err := New().ReadVersion(ctx, db, "schema_migrations")
	if err != nil || !st.TableExists || !st.HasVersion || st.Version != 8 || st.Dirty {
		t.Fatalf("ReadVersion = %+v, %v", st, err)
	}

	want := New().Expected(schema.Expected)
	if diff := dialect.Diff(want, snapshot(t, db)); len(diff) != 0 {
		for _, x := range diff {
			t.Errorf("after up: %s", x)
		}
		t.FailNow()
	}

	// Backfill step (000005) matches the Go hash and the default key.
	checkHashes(t, db)
	var keyed int
	if err := db.QueryRow(`SELECT count(*) FROM sessions WHERE encryption_key_id = 'migration-default-key' AND last_validated_at IS NOT NULL AND security_version = 1 AND risk_score = 0`).Scan(&keyed); err != nil || keyed != 3 {
		t.Fatalf("backfilled rows = %d, %v", keyed, err)
	}

	t.Run("spec insert", func(t *testing.T) {
		mustExec(t, db, `INSERT INTO sessions (session_id, user_id) VALUES ('test-session', 'test-user')`)
		var hash, created string
		var ver int
		var validated sql.NullString
		if err := db.QueryRow(`SELECT security_hash, security_version, created_at, last_validated_at FROM sessions WHERE session_id = 'test-session'`).Scan(&hash, &ver, &created, &validated); err != nil {
			t.Fatal(err)
		}
		if w := wantHash(t, ptr("test-session"), ptr("test-user"), &created); hash != w || ver != 1 || !validated.Valid {
			t.Fatalf("hash %q (want %q), version %d, last_validated_at %v", hash, w, ver, validated)
		}
		// created_epoch in SQL agrees with schema.EpochOf for the same time.
		var ep int64
		if err := db.QueryRow(`SELECT `+strings.ReplaceAll(createdEpochSQL, "created_at", "?1"), created).Scan(&ep); err != nil {
			t.Fatal(err)
		}
		tm, _ := time.Parse("2006-01-02 15:04:05", created)
		if ep != schema.EpochOf(tm, true) || ep != tm.Unix() {
			t.Fatalf("epoch %d, EpochOf %d", ep, schema.EpochOf(tm, true))
		}
		// A NULL user_id and an explicit NULL security_version.
		mustExec(t, db, `INSERT INTO sessions (session_id, user_id, created_at, security_version) VALUES ('null-user', NULL, '2020-05-05 05:05:05', NULL)`)
		if err := db.QueryRow(`SELECT security_hash, security_version FROM sessions WHERE session_id = 'null-user'`).Scan(&hash, &ver); err != nil {
			t.Fatal(err)
		}
		if w := wantHash(t, ptr("null-user"), nil, ptr("2020-05-05 05:05:05")); hash != w || ver != 1 {
			t.Fatalf("null user: hash %q want %q, version %d", hash, w, ver)
		}
		// An application-supplied hash and last_validated_at are kept.
		mustExec(t, db, `INSERT INTO sessions (session_id, user_id, security_hash, last_validated_at, security_version) VALUES ('app', 'u', 'app-hash', '2001-01-01 00:00:00', 7)`)
		var lv string
		if err := db.QueryRow(`SELECT security_hash, last_validated_at, security_version FROM sessions WHERE session_id = 'app'`).Scan(&hash, &lv, &ver); err != nil {
			t.Fatal(err)
		}
		if hash != "app-hash" || lv != "2001-01-01 00:00:00" || ver != 7 {
			t.Fatalf("app-supplied values replaced: %q %q %d", hash, lv, ver)
		}
	})

	t.Run("risk range", func(t *testing.T) {
		for _, q := range []string{
			`INSERT INTO sessions (session_id, risk_score) VALUES ('r1', 101)`,
			`INSERT INTO sessions (session_id, risk_score) VALUES ('r2', -1)`,
			`UPDATE sessions SET risk_score = 101 WHERE session_id = 'old-1'`,
			`UPDATE sessions SET risk_score = -5 WHERE session_id = 'old-1'`,
		} {
			if _, err := db.Exec(q); err == nil || !strings.Contains(err.Error(), "sessions_risk_score_range") {
				t.Errorf("%s: err = %v, want the CHECK sessions_risk_score_range", q, err)
			}
		}
		mustExec(t, db, `INSERT INTO sessions (session_id, risk_score) VALUES ('r100', 100)`)
		mustExec(t, db, `UPDATE sessions SET risk_score = 0 WHERE session_id = 'r100'`)
		mustExec(t, db, `DELETE FROM sessions WHERE session_id = 'r100'`)
	})

	t.Run("update trigger", func(t *testing.T) {
		var rec int
		if err := db.QueryRow(`PRAGMA recursive_triggers`).Scan(&rec); err != nil || rec != 0 {
			t.Fatalf("recursive_triggers = %d, %v", rec, err)
		}
		const old = "2000-01-01 00:00:00"
		lastValidated := func() string {
			var v sql.NullString
			if err := db.QueryRow(`SELECT last_validated_at FROM sessions WHERE session_id = 'old-1'`).Scan(&v); err != nil {
				t.Fatal(err)
			}
			return v.String
		}
		reset := func() { mustExec(t, db, `UPDATE sessions SET last_validated_at = ?1 WHERE session_id = 'old-1'`, old) }
		steps := []struct {
			q       string
			changes bool
		}{
			{`UPDATE sessions SET user_id = 'u1b' WHERE session_id = 'old-1'`, false},
			{`UPDATE sessions SET last_accessed_at = '2024-03-01 00:00:00' WHERE session_id = 'old-1'`, true},  // NULL -> value
			{`UPDATE sessions SET last_accessed_at = '2024-03-01 00:00:00' WHERE session_id = 'old-1'`, false}, // same value
			{`UPDATE sessions SET last_accessed_at = '2024-03-02 00:00:00' WHERE session_id = 'old-1'`, true},
			{`UPDATE sessions SET last_accessed_at = NULL WHERE session_id = 'old-1'`, true}, // value -> NULL
			{`UPDATE sessions SET last_accessed_at = NULL WHERE session_id = 'old-1'`, false},
		}
		for _, s := range steps {
			reset()
			mustExec(t, db, s.q)
			if got := lastValidated(); (got != old) != s.changes {
				t.Errorf("%s: last_validated_at = %q, want changed=%v", s.q, got, s.changes)
			}
		}
		// The refresh did not touch the hash of the row.
		mustExec(t, db, `UPDATE sessions SET user_id = 'u1' WHERE session_id = 'old-1'`)
		checkHashesOf(t, db, "old-1", "2024-02-29 23:59:59")
	})

	t.Run("go backfill", func(t *testing.T) {
		mustExec(t, db, `UPDATE sessions SET security_hash = NULL, encryption_key_id = NULL WHERE session_id LIKE 'old-%' OR session_id = 'test-session'`)
		n, err := Backfill(ctx, db, 2)
		if err != nil || n != 4 {
			t.Fatalf("Backfill = %d, %v; want 4", n, err)
		}
		if n, err := Backfill(ctx, db, 2); err != nil || n != 0 {
			t.Fatalf("second Backfill = %d, %v; want 0", n, err)
		}
		var withKey int
		if err := db.QueryRow(`SELECT count(*) FROM sessions WHERE encryption_key_id = 'migration-default-key'`).Scan(&withKey); err != nil || withKey != 4 {
			t.Fatalf("rows with the default key = %d, %v", withKey, err)
		}
		mustExec(t, db, `UPDATE sessions SET security_hash = NULL WHERE session_id = 'app'`)
		checkHashesExcept(t, db)
	})

	t.Run("cleanup and risk", func(t *testing.T) {
		audit := func(action string) (string, int) {
			var details string
			var n int
			if err := db.QueryRow(`SELECT details, (SELECT count(*) FROM session_audit_log WHERE action = ?1) FROM session_audit_log WHERE action = ?1 ORDER BY id DESC LIMIT 1`, action).Scan(&details, &n); err != nil {
				t.Fatal(err)
			}
			return details, n
		}
		n, err := CleanupExpiredSecureSessions(ctx, db)
		if err != nil || n != 0 {
			t.Fatalf("cleanup = %d, %v", n, err)
		}
		if d, c := audit("SECURITY_CLEANUP"); d != `{"deleted":0}` || c != 1 {
			t.Fatalf("audit %q x%d", d, c)
		}
		mustExec(t, db, `INSERT INTO sessions (session_id, expires_at, risk_score) VALUES
  ('expired', '2000-01-01 00:00:00', 0), ('risky', NULL, 51), ('fine-50', '2999-01-01 00:00:00', 50),
  ('no-expiry', NULL, 0)`)
		n, err = CleanupExpiredSecureSessions(ctx, db)
		if err != nil || n != 2 {
			t.Fatalf("cleanup = %d, %v; want 2", n, err)
		}
		if d, c := audit("SECURITY_CLEANUP"); d != `{"deleted":2}` || c != 2 {
			t.Fatalf("audit %q x%d", d, c)
		}
		var left int
		_ = db.QueryRow(`SELECT count(*) FROM sessions WHERE session_id IN ('expired', 'risky', 'fine-50', 'no-expiry')`).Scan(&left)
		if left != 2 {
			t.Fatalf("%d of the fine sessions left, want 2", left)
		}

		mustExec(t, db, `INSERT INTO sessions (session_id, created_ip_hash, expires_at) VALUES ('scored', 'iphash', '2000-01-01 00:00:00')`)
		mustExec(t, db, `UPDATE sessions SET security_hash = NULL WHERE session_id = 'scored'`)
		n, err = UpdateSessionRiskScores(ctx, db)
		if err != nil || n == 0 {
			t.Fatalf("risk update = %d, %v", n, err)
		}
		var score int
		_ = db.QueryRow(`SELECT risk_score FROM sessions WHERE session_id = 'scored'`).Scan(&score)
		if score != 70 { // 40 (no hash) + 30 (expired); ip hash present, validated just now
			t.Fatalf("risk_score = %d, want 70", score)
		}
		if d, _ := audit("RISK_SCORE_UPDATE"); !strings.HasPrefix(d, `{"updated":`) {
			t.Fatalf("risk audit %q", d)
		}
		if n, err := UpdateSessionRiskScores(ctx, db); err != nil || n != 0 {
			t.Fatalf("second risk update = %d, %v; want 0 (only changed rows are written)", n, err)
		}
		mustExec(t, db, `DELETE FROM sessions WHERE session_id = 'scored'`)
	})

	t.Run("archive", func(t *testing.T) {
		mustExec(t, db, `INSERT INTO sessions_archive SELECT * FROM sessions WHERE session_id = 'old-1'`)
		var n int
		_ = db.QueryRow(`SELECT count(*) FROM sessions_archive`).Scan(&n)
		if n != 1 {
			t.Fatalf("archive rows %d", n)
		}
	})

	// Re-running the column step is recognised as "already applied".
	up2, err := os.ReadFile("../migrations/sqlite/000002_add_security_columns.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(string(up2)); !New().IsAlreadyApplied(err) {
		t.Fatalf("re-run of 000002: %v not classified as already applied", err)
	}
	// The idempotent files run again without error.
	for _, f := range []string{"000001_create_sessions", "000004_create_triggers", "000005_backfill", "000006_create_indexes", "000007_create_audit_log", "000008_create_archive"} {
		b, err := os.ReadFile("../migrations/sqlite/" + f + ".up.sql")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(b)); err != nil {
			t.Fatalf("re-run of %s: %v", f, err)
		}
	}

	// Full rollback: sessions keeps its rows and gets its exact pre-migration CREATE text back.
	rowsBefore := baseRows(t, db)
	if err := m.Down(); err != nil {
		t.Fatalf("down: %v", err)
	}
	if got := tableSQL(t, db, "sessions"); got != origSQL {
		t.Fatalf("sessions after down:\n%s\nwant\n%s", got, origSQL)
	}
	if got := baseRows(t, db); !reflect.DeepEqual(got, rowsBefore) {
		t.Fatalf("rows changed by down:\n%v\nwant\n%v", got, rowsBefore)
	}
	// Absent checks every listed column of a kept table: list only the security columns of sessions.
	gone := New().Expected(schema.Expected)
	gone.Tables["sessions"].Columns = renderColumns(schema.Expected.SecurityColumns)
	if absent := dialect.Absent(gone, snapshot(t, db), "sessions"); len(absent) != 0 {
		t.Fatalf("left after down: %v", absent)
	}
	for tbl, min := range map[string]int{"sessions_security_retired": 1, "session_audit_log_retired": 3, "sessions_archive_retired": 1} {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM ` + tbl + ` WHERE retired_at IS NOT NULL`).Scan(&n); err != nil || n < min {
			t.Errorf("%s: %d rows, %v; want >= %d", tbl, n, err, min)
		}
	}
	if dropped, err := DropEmptyRetired(ctx, db); err != nil || len(dropped) != 0 {
		t.Fatalf("DropEmptyRetired on non-empty tables = %v, %v", dropped, err)
	}
	var trig int
	_ = db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type IN ('trigger', 'index') AND tbl_name = 'sessions' AND name NOT LIKE 'sqlite_autoindex%'`).Scan(&trig)
	if trig != 0 {
		t.Fatalf("%d triggers/indexes left on sessions", trig)
	}

	// Up again.
	if err := m.Up(); err != nil {
		t.Fatalf("up again: %v", err)
	}
	if diff := dialect.Diff(want, snapshot(t, db)); len(diff) != 0 {
		t.Fatalf("after up again: %v", diff)
	}
	checkHashesExcept(t, db)

	// The pre-existing rows are still there with their original base values.
	var kept []baseRow
	for _, r := range baseRows(t, db) {
		if strings.HasPrefix(r.ID.String, "old-") {
			kept = append(kept, r)
		}
	}
	if !reflect.DeepEqual(kept, origRows) {
		t.Fatalf("pre-existing rows:\n%v\nwant\n%v", kept, origRows)
	}
}

func checkHashesOf(t *testing.T, db *sql.DB, id, created string) {
	t.Helper()
	var user sql.NullString
	var hash string
	if err := db.QueryRow(`SELECT user_id, security_hash FROM sessions WHERE session_id = ?1`, id).Scan(&user, &hash); err != nil {
		t.Fatal(err)
	}
	var u *string
	if user.Valid {
		u = &user.String
	}
	if w := wantHash(t, &id, u, &created); hash != w {
		t.Fatalf("%s: hash %q want %q", id, hash, w)
	}
}

// checkHashesExcept checks the hash of every row (the app-supplied one was reset to NULL and backfilled).
func checkHashesExcept(t *testing.T, db *sql.DB) {
	t.Helper()
	if _, err := Backfill(context.Background(), db, 0); err != nil {
		t.Fatal(err)
	}
	checkHashes(t, db)
}

func TestFreshDatabaseAndPreflight(t *testing.T) {
	ctx := context.Background()
	d := sqliteDB(t)
	if p := New().Preflight(ctx, d.DB, schema.Expected, nil); len(p) != 0 {
		t.Fatalf("preflight on an empty database: %+v", p)
	}
	m := newMigrate(t, d.DB)
	if err := m.Up(); err != nil {
		t.Fatal(err)
	}
	if diff := dialect.Diff(New().Expected(schema.Expected), snapshot(t, d.DB)); len(diff) != 0 {
		t.Fatalf("%v", diff)
	}
	srv, err := New().Identify(ctx, d.DB)
	if err != nil || srv.Flavor != "SQLite" || srv.Schema != "main" {
		t.Fatalf("Identify = %+v, %v", srv, err)
	}
	if err := m.Down(); err != nil {
		t.Fatal(err)
	}
	// golang-migrate's Close must not close the caller's pool.
	if srcErr, dbErr := m.Close(); srcErr != nil || dbErr != nil {
		t.Fatal(srcErr, dbErr)
	}
	if err := d.DB.Ping(); err != nil {
		t.Fatalf("pool closed by m.Close: %v", err)
	}
	dropped, err := DropEmptyRetired(ctx, d.DB)
	if err != nil || len(dropped) != 3 {
		t.Fatalf("DropEmptyRetired = %v, %v", dropped, err)
	}
	// sessions stays (never dropped), in its base shape.
	if got := tableSQL(t, d.DB, "sessions"); strings.Contains(got, "security") {
		t.Fatalf("sessions after down: %s", got)
	}
}

func TestPreflightAGUISDKLayout(t *testing.T) {
	d := sqliteDB(t)
	mustExec(t, d.DB, `CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  last_accessed TIMESTAMP NOT NULL,
  ip_address TEXT
)`)
	probs := New().Preflight(context.Background(), d.DB, schema.Expected, nil)
	if len(probs) != 1 || probs[0].Kind != dialect.KindIncompatibleTable {
		t.Fatalf("problems: %+v", probs)
	}
	msg := probs[0].Message
	for _, s := range []string{"session_id", "last_accessed_at", "expires_at", "found columns: id, user_id, created_at, last_accessed, ip_address", "AG-UI"} {
		if !strings.Contains(msg, s) {
			t.Errorf("message %q lacks %q", msg, s)
		}
	}
	t.Log(msg, " / fix: ", probs[0].Fix)
}

func TestHashFunctionRegistered(t *testing.T) {
	d := sqliteDB(t)
	if _, err := d.DB.Exec(`SELECT session_security_hash('a', NULL, NULL)`); err != nil {
		t.Fatalf("registered function: %v", err)
	}
	var h string
	if err := d.DB.QueryRow(`SELECT session_security_hash('a', NULL, NULL)`).Scan(&h); err != nil || h != schema.SecurityHash(ptr("a"), nil, nil) {
		t.Fatalf("hash = %q, %v", h, err)
	}
}

func TestLock(t *testing.T) {
	ctx := context.Background()
	d := sqliteDB(t)
	other := d.Open(t)
	c1, err := d.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	c2, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	dl := New()
	key, _ := dl.LockKey(ctx, c1, "schema_migrations")
	if n, err := dl.LockHolders(ctx, c1, key); err != nil || n != 0 {
		t.Fatalf("holders before = %d, %v", n, err)
	}
	if ok, err := dl.TryLock(ctx, c1, key); !ok || err != nil {
		t.Fatalf("first TryLock = %v, %v", ok, err)
	}
	if ok, err := dl.TryLock(ctx, c2, key); ok || err != nil {
		t.Fatalf("second TryLock = %v, %v; want false", ok, err)
	}
	if n, _ := dl.LockHolders(ctx, c2, key); n != 1 {
		t.Fatalf("holders = %d", n)
	}
	if err := dl.Unlock(ctx, c1, key); err != nil {
		t.Fatal(err)
	}
	if ok, err := dl.TryLock(ctx, c2, key); !ok || err != nil {
		t.Fatalf("TryLock after unlock = %v, %v", ok, err)
	}
	if err := dl.Unlock(ctx, c2, key); err != nil {
		t.Fatal(err)
	}

	// A row left by a dead process of this host is taken over; one of a live process is not.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skip("no `true` binary")
	}
	dead := cmd.Process.Pid
	mustExec(t, d.DB, qInsertLock, key, "crashed", hostName, dead, "other-process")
	if ok, err := dl.TryLock(ctx, c1, key); !ok || err != nil {
		t.Fatalf("TryLock over a dead holder = %v, %v", ok, err)
	}
	if err := dl.Unlock(ctx, c1, key); err != nil {
		t.Fatal(err)
	}
	mustExec(t, d.DB, qInsertLock, key, "live", hostName, os.Getppid(), "other-process")
	if ok, err := dl.TryLock(ctx, c1, key); ok || err != nil {
		t.Fatalf("TryLock over a live holder = %v, %v", ok, err)
	}
	mustExec(t, d.DB, qDeleteLock, key, "live")

	// While another connection holds SQLite's write lock, TryLock gives up after about a second.
	c3, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c3.Close()
	if _, err := c3.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ok, err := dl.TryLock(ctx, c1, key)
	el := time.Since(start)
	t.Logf("TryLock under a write lock: %v, %v after %v", ok, err, el)
	if ok || err != nil || el > 3*time.Second {
		t.Fatalf("TryLock under a write lock = %v, %v after %v", ok, err, el)
	}
	if _, err := c3.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}

	mustExec(t, d.DB, qInsertLock, key, "remote", "another-host", dead, "p")
	if ok, err := dl.TryLock(ctx, c1, key); ok || err != nil {
		t.Fatalf("TryLock over another host's row = %v, %v", ok, err)
	}
}

func TestErrorClassification(t *testing.T) {
	dl := New()
	if dl.IsAlreadyApplied(nil) || dl.IsLockTimeout(nil) {
		t.Fatal("nil classified")
	}
	if !dl.IsLockTimeout(errors.New("database is locked (5) (SQLITE_BUSY)")) {
		t.Fatal("busy not classified")
	}
	if !dl.IsAlreadyApplied(errors.New("SQL logic error: duplicate column name: security_hash (1)")) {
		t.Fatal("duplicate column not classified")
	}
	if versionLess("3.54.1", MinVersion) || !versionLess("3.34.9", MinVersion) {
		t.Fatal("versionLess")
	}
}

func TestPreflightConflictsAndArchiveMirror(t *testing.T) {
	ctx := context.Background()
	d := sqliteDB(t)
	mustExec(t, d.DB, `CREATE TABLE sessions (session_id TEXT PRIMARY KEY, user_id TEXT, created_at DATETIME,
  expires_at TEXT, last_accessed_at TEXT, payload BLOB)`)
	mustExec(t, d.DB, `CREATE TRIGGER sessions_security_hash_trigger AFTER UPDATE ON sessions BEGIN SELECT 1; END`)
	mustExec(t, d.DB, `CREATE INDEX idx_sessions_risk_score ON sessions (user_id)`)
	probs := New().Preflight(ctx, d.DB, schema.Expected, nil)
	var objs []string
	for _, p := range probs {
		if p.Kind != dialect.KindConflictingObject {
			t.Errorf("unexpected problem %+v", p)
		}
		objs = append(objs, p.Object)
	}
	if len(objs) != 2 || !strings.Contains(strings.Join(objs, " "), "sessions_security_hash_trigger") ||
		!strings.Contains(strings.Join(objs, " "), "idx_sessions_risk_score") {
		t.Fatalf("conflicts %v (%+v)", objs, probs)
	}
	mustExec(t, d.DB, `DROP TRIGGER sessions_security_hash_trigger`)
	mustExec(t, d.DB, `DROP INDEX idx_sessions_risk_score`)
	if p := New().Preflight(ctx, d.DB, schema.Expected, nil); len(p) != 0 {
		t.Fatalf("preflight: %+v", p)
	}

	// The archive mirrors the application's own columns (payload) and types, in order.
	m := newMigrate(t, d.DB)
	if err := m.Up(); err != nil {
		t.Fatal(err)
	}
	snap := snapshot(t, d.DB)
	if a, s := columnSig(snap.Tables["sessions_archive"]), columnSig(snap.Tables["sessions"]); a != s {
		t.Fatalf("archive %s\nsessions %s", a, s)
	}
	mustExec(t, d.DB, `INSERT INTO sessions (session_id, payload) VALUES ('p', x'00ff')`)
	mustExec(t, d.DB, `INSERT INTO sessions_archive SELECT * FROM sessions`)
	// A migrated database has no conflicts (re-run).
	if p := New().Preflight(ctx, d.DB, schema.Expected, nil); len(p) != 0 {
		t.Fatalf("preflight after up: %+v", p)
	}
	if err := m.Down(); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := d.DB.QueryRow(`SELECT count(*) FROM sessions_archive_retired WHERE payload = x'00ff'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("retired archive rows %d, %v", n, err)
	}
}

func TestLockOrphanOfThisProcess(t *testing.T) {
	ctx := context.Background()
	d := sqliteDB(t)
	c1, err := d.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	dl := New()
	key, _ := dl.LockKey(ctx, c1, "schema_migrations")
	if ok, err := dl.TryLock(ctx, c1, key); !ok || err != nil {
		t.Fatal(ok, err)
	}
	c2, err := d.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	// Held by a live connection of this process: not taken over.
	if ok, err := dl.TryLock(ctx, c2, key); ok || err != nil {
		t.Fatalf("TryLock while held in-process = %v, %v", ok, err)
	}
	// An Unlock whose DELETE failed leaves an orphan row that this process takes over.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := dl.Unlock(cctx, c1, key); err == nil {
		t.Fatal("Unlock with a cancelled context succeeded")
	}
	if n, _ := dl.LockHolders(ctx, c2, key); n != 1 {
		t.Fatalf("holders = %d, want the orphan row", n)
	}
	if ok, err := dl.TryLock(ctx, c2, key); !ok || err != nil {
		t.Fatalf("TryLock over an orphan = %v, %v", ok, err)
	}
	if err := dl.Unlock(ctx, c2, key); err != nil {
		t.Fatal(err)
	}
}
