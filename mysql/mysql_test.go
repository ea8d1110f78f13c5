package mysql_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/internal/testdb"
	"github.com/agui-go/sessionsec/migrations"
	"github.com/agui-go/sessionsec/mysql"
	"github.com/agui-go/sessionsec/schema"
)

const migrationsTable = "schema_migrations"

const digits = "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL " +
	"SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"

var tables = []string{"sessions", "session_audit_log", "sessions_archive"}

// eachServer runs f against a fresh database on MySQL and on MariaDB.
func eachServer(t *testing.T, f func(t *testing.T, d *testdb.DB)) {
	for _, s := range testdb.Servers[:2] {
		t.Run(s.Name, func(t *testing.T) { f(t, testdb.New(t, s)) })
	}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newMigrate builds golang-migrate on a pinned connection with the dialect's driver (no multiStatements).
func newMigrate(t *testing.T, ctx context.Context, db *sql.DB) *migrate.Migrate {
	t.Helper()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	drv, err := mysql.New().Driver(ctx, db, conn, migrationsTable)
	if err != nil {
		t.Fatal(err)
	}
	src, err := migrations.Source("mysql")
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "mysql", drv)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = m.Close() })
	return m
}

func snapshot(t *testing.T, ctx context.Context, db *sql.DB) *dialect.Snapshot {
	t.Helper()
	snap, err := mysql.New().Snapshot(ctx, db, tables)
	if err != nil {
		t.Fatal(err)
	}
	return snap
}

func requireMatches(t *testing.T, ctx context.Context, db *sql.DB) {
	t.Helper()
	requireMatchesExcept(t, ctx, db, nil)
}

// requireMatchesExcept compares with the expected schema, ignoring mismatches of the named objects
// (a pre-existing sessions table keeps its own base-column definitions).
func requireMatchesExcept(t *testing.T, ctx context.Context, db *sql.DB, ignore []string) {
	t.Helper()
	snap := snapshot(t, ctx, db)
	for _, m := range dialect.Diff(mysql.New().Expected(schema.Expected), snap) {
		if slices.Contains(ignore, m.Object) {
			t.Logf("pre-existing table keeps its own definition: %s", m)
			continue
		}
		t.Errorf("schema mismatch: %s", m)
	}
	// The archive mirrors sessions column by column.
	s, a := snap.Tables["sessions"], snap.Tables["sessions_archive"]
	if a == nil || len(a.Columns) != len(s.Columns) {
		t.Fatalf("sessions_archive does not mirror sessions")
	}
	for i := range s.Columns {
		if s.Columns[i].Name != a.Columns[i].Name || s.Columns[i].Type != a.Columns[i].Type {
			t.Errorf("archive column %d: %s %s vs %s %s", i, a.Columns[i].Name, a.Columns[i].Type, s.Columns[i].Name, s.Columns[i].Type)
		}
	}
}

func requireAbsent(t *testing.T, ctx context.Context, db *sql.DB) {
	t.Helper()
	// The base columns of sessions stay: only the security columns must be gone.
	want := mysql.New().Expected(schema.Expected)
	base := map[string]bool{}
	for _, c := range schema.Expected.BaseColumns {
		base[c.Name] = true
	}
	st := want.Tables["sessions"]
	st.Columns = slices.DeleteFunc(st.Columns, func(c *dialect.Column) bool { return base[c.Name] })
	for _, m := range dialect.Absent(want, snapshot(t, ctx, db), "sessions") {
		t.Errorf("left after full rollback: %s", m)
	}
}

func exec(t *testing.T, ctx context.Context, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(ctx, q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func sp(s string) *string { return &s }

// checkHashes verifies every row's security_hash against schema.SecurityHash; returns the row count.
func checkHashes(t *testing.T, ctx context.Context, db *sql.DB, where string) int {
	t.Helper()
	rows, err := db.QueryContext(ctx, "SELECT session_id, user_id, created_at, security_hash FROM sessions "+where)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id string
		var user, hash sql.NullString
		var created sql.NullTime
		if err := rows.Scan(&id, &user, &created, &hash); err != nil {
			t.Fatal(err)
		}
		var c *time.Time
		if created.Valid {
			c = &created.Time
		}
		if want := testdb.ExpectedHash(id, user, c, true); hash.String != want {
			t.Errorf("row %q: security_hash %q, want %q", id, hash.String, want)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

func upFiles(t *testing.T) []string {
	t.Helper()
	dir, err := migrations.Dir("mysql")
	if err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(dir, "*.up.sql")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	return names
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	dir, _ := migrations.Dir("mysql")
	b, err := fs.ReadFile(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMigrateFreshDatabase(t *testing.T) {
	eachServer(t, func(t *testing.T, d *testdb.DB) {
		ctx := ctxT(t)
		m := newMigrate(t, ctx, d.DB)
		if err := m.Up(); err != nil {
			t.Fatalf("up: %v", err)
		}
		requireMatches(t, ctx, d.DB)
		v, dirty, err := m.Version()
		if err != nil || dirty || v != uint(len(upFiles(t))) {
			t.Fatalf("version %d dirty %v err %v", v, dirty, err)
		}
		st, err := mysql.New().ReadVersion(ctx, d.DB, migrationsTable)
		if err != nil || !st.TableExists || !st.HasVersion || st.Version != v || st.Dirty {
			t.Fatalf("ReadVersion = %+v, %v", st, err)
		}

		// Every up file again, as crash recovery would: success or "already applied".
		dia := mysql.New()
		for _, f := range upFiles(t) {
			_, err := d.DB.ExecContext(ctx, readFile(t, f))
			switch {
			case err == nil:
				t.Logf("re-run %s: ok", f)
			case dia.IsAlreadyApplied(err):
				t.Logf("re-run %s: already applied (%d)", f, mysql.ErrorNumber(err))
			default:
				t.Errorf("re-run %s: %v", f, err)
			}
		}
		requireMatches(t, ctx, d.DB)

		postMigrationChecks(t, ctx, d.DB)

		if err := m.Down(); err != nil {
			t.Fatalf("down: %v", err)
		}
		if _, _, err := m.Version(); !errors.Is(err, migrate.ErrNilVersion) {
			t.Fatalf("version after down: %v", err)
		}
		requireAbsent(t, ctx, d.DB)
		// The audit log had rows: it was retired, not dropped; the security data was kept too.
		var retiredAudit, retiredSec int
		exec(t, ctx, d.DB, "DO 0")
		if err := d.DB.QueryRowContext(ctx, `SELECT
			SUM(TABLE_NAME LIKE 'session\_audit\_log\_retired\_%'), SUM(TABLE_NAME LIKE 'sessions\_security\_retired\_%')
			FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()`).Scan(&retiredAudit, &retiredSec); err != nil {
			t.Fatal(err)
		}
		if retiredAudit != 1 || retiredSec != 1 {
			t.Errorf("retired tables: audit %d, security %d; want 1 and 1", retiredAudit, retiredSec)
		}
		if err := m.Up(); err != nil {
			t.Fatalf("up again: %v", err)
		}
		requireMatches(t, ctx, d.DB)
	})
}

func postMigrationChecks(t *testing.T, ctx context.Context, db *sql.DB) {
	t.Helper()
	exec(t, ctx, db, "DELETE FROM sessions")
	// The runbook's acceptance check.
	exec(t, ctx, db, "INSERT INTO sessions (session_id, user_id) VALUES ('test-session', 'test-user')")
	var hash sql.NullString
	var ver int
	if err := db.QueryRowContext(ctx, "SELECT security_hash, security_version FROM sessions WHERE session_id = 'test-session'").Scan(&hash, &ver); err != nil {
		t.Fatal(err)
	}
	if !hash.Valid || len(hash.String) != 64 || ver != 1 {
		t.Fatalf("test-session: hash %v version %d", hash, ver)
	}
	// Hash edge cases: non-ASCII, empty, NULL user, explicit created_at before 1970 with a fraction.
	exec(t, ctx, db, "INSERT INTO sessions (session_id, user_id) VALUES (?, ?), (?, NULL), (?, ?)",
		"sé€😀", "ü", "null-user", "empty-user", "")
	exec(t, ctx, db, "INSERT INTO sessions (session_id, user_id, created_at) VALUES ('old', 'u', '1969-12-31 23:59:59.5')")
	if n := checkHashes(t, ctx, db, ""); n != 5 {
		t.Fatalf("checked %d rows", n)
	}
	// An application-supplied hash is kept.
	exec(t, ctx, db, "INSERT INTO sessions (session_id, security_hash) VALUES ('own-hash', REPEAT('a', 64))")
	if err := db.QueryRowContext(ctx, "SELECT security_hash FROM sessions WHERE session_id = 'own-hash'").Scan(&hash); err != nil || hash.String != strings.Repeat("a", 64) {
		t.Fatalf("own hash: %v %v", hash, err)
	}
	exec(t, ctx, db, "DELETE FROM sessions WHERE session_id = 'own-hash'")

	// risk_score range on insert and update.
	for _, q := range []string{
		"INSERT INTO sessions (session_id, risk_score) VALUES ('r1', 101)",
		"INSERT INTO sessions (session_id, risk_score) VALUES ('r2', -1)",
		"UPDATE sessions SET risk_score = 101 WHERE session_id = 'test-session'",
		"UPDATE sessions SET risk_score = -1 WHERE session_id = 'test-session'",
	} {
		_, err := db.ExecContext(ctx, q)
		var me *gomysql.MySQLError
		if !errors.As(err, &me) || string(me.SQLState[:]) != "45000" || !strings.Contains(me.Message, "risk_score") {
			t.Errorf("%s: want SQLSTATE 45000, got %v", q, err)
		}
	}
	exec(t, ctx, db, "UPDATE sessions SET risk_score = 100 WHERE session_id = 'test-session'")
	exec(t, ctx, db, "UPDATE sessions SET risk_score = 0 WHERE session_id = 'test-session'")

	// Update trigger: NULL -> value and value -> NULL both refresh last_validated_at; no change does not.
	const old = "2001-01-01 00:00:00"
	lastValidated := func() string {
		var s string
		if err := db.QueryRowContext(ctx, "SELECT CAST(last_validated_at AS CHAR) FROM sessions WHERE session_id = 'test-session'").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	exec(t, ctx, db, "UPDATE sessions SET last_accessed_at = NULL WHERE session_id = 'test-session'")
	for i, step := range []struct {
		set     string
		refresh bool
	}{
		{"last_accessed_at = '2020-01-01 00:00:00'", true},        // NULL -> value
		{"last_accessed_at = '2020-01-01 00:00:00'", false},       // unchanged
		{"last_accessed_at = NULL", true},                         // value -> NULL
		{"last_accessed_at = NULL, user_id = 'test-user'", false}, // NULL -> NULL
	} {
		exec(t, ctx, db, "UPDATE sessions SET last_validated_at = '"+old+"' WHERE session_id = 'test-session'")
		exec(t, ctx, db, "UPDATE sessions SET "+step.set+" WHERE session_id = 'test-session'")
		if got := lastValidated(); (got != old+".000000") != step.refresh {
			t.Errorf("update trigger step %d (%s): last_validated_at %s, refresh want %v", i, step.set, got, step.refresh)
		}
	}

	// Cleanup: expired-but-low-risk and risky-but-unexpired both go; NULL expires_at never expires.
	exec(t, ctx, db, "DELETE FROM sessions")
	exec(t, ctx, db, `INSERT INTO sessions (session_id, expires_at, risk_score) VALUES
		('expired-low', NOW(6) - INTERVAL 1 DAY, 0), ('risky-live', NOW(6) + INTERVAL 1 DAY, 60),
		('never-expires', NULL, 10), ('live', NOW(6) + INTERVAL 1 DAY, 50), ('risky-null', NULL, 51)`)
	cleanup := func(want int) {
		t.Helper()
		exec(t, ctx, db, "CALL CleanupExpiredSecureSessions()")
		var n int
		if err := db.QueryRowContext(ctx, `SELECT CAST(JSON_EXTRACT(details, '$.deleted') AS SIGNED) FROM session_audit_log
			WHERE action = 'SECURITY_CLEANUP' ORDER BY id DESC LIMIT 1`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("cleanup audit deleted=%d, want %d", n, want)
		}
	}
	cleanup(3)
	var left []string
	rows, err := db.QueryContext(ctx, "SELECT session_id FROM sessions ORDER BY session_id")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		left = append(left, s)
	}
	rows.Close()
	if !slices.Equal(left, []string{"live", "never-expires"}) {
		t.Errorf("after cleanup: %v", left)
	}
	cleanup(0)

	// Risk scores: 40 no hash + 30 expired + 20 no ip hash + 10 stale validation, capped at 100.
	exec(t, ctx, db, "DELETE FROM sessions")
	exec(t, ctx, db, `INSERT INTO sessions (session_id, expires_at, created_ip_hash, last_validated_at) VALUES
		('fresh', NULL, REPEAT('b', 64), NOW(6)), ('no-ip', NULL, NULL, NOW(6)),
		('stale', NOW(6) - INTERVAL 1 DAY, NULL, NOW(6) - INTERVAL 8 DAY)`)
	exec(t, ctx, db, "UPDATE sessions SET security_hash = NULL WHERE session_id = 'stale'")
	exec(t, ctx, db, "CALL UpdateSessionRiskScores()")
	want := map[string]int{"fresh": 0, "no-ip": 20, "stale": 100}
	for id, w := range want {
		var got int
		if err := db.QueryRowContext(ctx, "SELECT risk_score FROM sessions WHERE session_id = ?", id).Scan(&got); err != nil || got != w {
			t.Errorf("risk_score %s = %d (%v), want %d", id, got, err, w)
		}
	}
	var updated int
	if err := db.QueryRowContext(ctx, `SELECT CAST(JSON_EXTRACT(details, '$.updated') AS SIGNED) FROM session_audit_log
		WHERE action = 'RISK_SCORE_UPDATE' ORDER BY id DESC LIMIT 1`).Scan(&updated); err != nil || updated != 2 {
		t.Errorf("risk audit updated=%d (%v), want 2", updated, err)
	}

	// The runbook's archive statement.
	exec(t, ctx, db, "INSERT INTO sessions_archive SELECT * FROM sessions WHERE expires_at < NOW(6)")
	var archived int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions_archive").Scan(&archived); err != nil || archived != 1 {
		t.Errorf("archived %d (%v), want 1", archived, err)
	}
}

// baseState is what a rollback must restore exactly.
func baseState(t *testing.T, ctx context.Context, db *sql.DB) (string, string) {
	t.Helper()
	var name, create string
	if err := db.QueryRowContext(ctx, "SHOW CREATE TABLE sessions").Scan(&name, &create); err != nil {
		t.Fatal(err)
	}
	var n int
	var sum sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*), CAST(BIT_XOR(CONV(LEFT(SHA2(CONCAT_WS('|', session_id,
		COALESCE(user_id, '\\N'), COALESCE(CAST(created_at AS CHAR), '\\N'), COALESCE(CAST(expires_at AS CHAR), '\\N'),
		COALESCE(CAST(last_accessed_at AS CHAR), '\\N'), note), 256), 16), 16, 10)) AS CHAR)
		FROM sessions`).Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	return create, fmt.Sprintf("%d:%s", n, sum.String)
}

func TestMigrateExistingLatin1Table(t *testing.T) {
	eachServer(t, func(t *testing.T, d *testdb.DB) {
		ctx := ctxT(t)
		db := d.DB
		exec(t, ctx, db, `CREATE TABLE sessions (
			session_id VARCHAR(255) NOT NULL PRIMARY KEY,
			user_id VARCHAR(255) NULL,
			note VARCHAR(50) NOT NULL DEFAULT '',
			created_at DATETIME(6) NULL,
			expires_at DATETIME(6) NULL,
			last_accessed_at DATETIME(6) NULL,
			touched INT NOT NULL DEFAULT 0,
			KEY user_note_idx (user_id, note)
		) ENGINE=InnoDB DEFAULT CHARSET=latin1`)
		exec(t, ctx, db, `CREATE TRIGGER user_touch BEFORE UPDATE ON sessions FOR EACH ROW SET NEW.touched = OLD.touched + 1`)
		const rowsN = 20000
		exec(t, ctx, db, `INSERT INTO sessions (session_id, user_id, note, created_at, expires_at, last_accessed_at)
			SELECT CONCAT('sé-', LPAD(n, 6, '0')), IF(n % 7 = 0, NULL, CONCAT('usér', n % 100)), 'x',
				IF(n % 11 = 0, NULL, TIMESTAMP('2024-01-01 00:00:00.123456') + INTERVAL n SECOND),
				IF(n % 3 = 0, NULL, '2030-01-01'), IF(n % 5 = 0, NULL, '2024-06-01')
			FROM (SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d + 1 AS n
				FROM `+digits+` a, `+digits+` b, `+digits+` c, `+digits+` e, `+digits+` f) seq
			WHERE n <= ?`, rowsN)
		createBefore, sumBefore := baseState(t, ctx, db)

		if probs := mysql.New().Preflight(ctx, db, schema.Expected, snapshot(t, ctx, db)); len(probs) > 0 {
			t.Fatalf("preflight on a compatible table: %+v", probs)
		}
		m := newMigrate(t, ctx, db)
		if err := m.Migrate(8); err != nil {
			t.Fatalf("up to 8: %v", err)
		}
		start := time.Now()
		if err := m.Steps(1); err != nil { // 9: CALL BackfillSessionSecurity(5000)
			t.Fatalf("backfill: %v", err)
		}
		el := time.Since(start)
		t.Logf("backfill of %d latin1 rows: %v (%.0f rows/s)", rowsN, el, float64(rowsN)/el.Seconds())
		if err := m.Up(); err != nil {
			t.Fatalf("up: %v", err)
		}
		requireMatchesExcept(t, ctx, db, []string{"column sessions.created_at"})
		if n := checkHashes(t, ctx, db, ""); n != rowsN {
			t.Fatalf("checked %d rows", n)
		}
		var nullKey int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM sessions WHERE encryption_key_id <> 'migration-default-key' OR encryption_key_id IS NULL OR last_validated_at IS NULL").Scan(&nullKey); err != nil || nullKey != 0 {
			t.Errorf("backfill left %d rows without key/validation (%v)", nullKey, err)
		}

		// Keyset batches on a latin1 key read the table about once, not once per batch.
		exec(t, ctx, db, "UPDATE sessions SET security_hash = NULL")
		reads := func() int64 {
			rows, err := db.QueryContext(ctx, "SHOW SESSION STATUS WHERE Variable_name IN ('Handler_read_next', 'Handler_read_rnd_next', 'Handler_read_key')")
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var total int64
			for rows.Next() {
				var k string
				var v int64
				_ = rows.Scan(&k, &v)
				total += v
			}
			return total
		}
		before := reads()
		start = time.Now()
		exec(t, ctx, db, "CALL BackfillSessionSecurity(500)")
		el = time.Since(start)
		read := reads() - before
		t.Logf("re-backfill %d rows in 40 batches of 500: %v (%.0f rows/s), %d handler reads", rowsN, el, float64(rowsN)/el.Seconds(), read)
		if read > 6*rowsN {
			t.Errorf("backfill read %d rows for %d: a scan per batch?", read, rowsN)
		}
		checkHashes(t, ctx, db, "")
		// The user's trigger and index survived and still work alongside ours.
		exec(t, ctx, db, "UPDATE sessions SET last_accessed_at = NOW(6) WHERE session_id = 'sé-000001'")
		var touched int
		if err := db.QueryRowContext(ctx, "SELECT touched FROM sessions WHERE session_id = 'sé-000001'").Scan(&touched); err != nil || touched < 1 {
			t.Errorf("user trigger: touched=%d %v", touched, err)
		}
		exec(t, ctx, db, "UPDATE sessions SET last_accessed_at = '2024-06-01' WHERE session_id = 'sé-000001'")

		if err := m.Down(); err != nil {
			t.Fatalf("down: %v", err)
		}
		requireAbsent(t, ctx, db)
		createAfter, sumAfter := baseState(t, ctx, db)
		if createAfter != createBefore {
			t.Errorf("SHOW CREATE TABLE changed:\nbefore %s\nafter  %s", createBefore, createAfter)
		}
		if sumAfter != sumBefore {
			t.Errorf("rows changed: %s -> %s", sumBefore, sumAfter)
		}
		var kept int
		if err := db.QueryRowContext(ctx, `SELECT TABLE_ROWS IS NOT NULL FROM information_schema.TABLES
			WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME LIKE 'sessions\_security\_retired\_%'`).Scan(&kept); err != nil {
			t.Errorf("security data not kept: %v", err)
		}
		var trig int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE() AND TRIGGER_NAME = 'user_touch'").Scan(&trig); err != nil || trig != 1 {
			t.Errorf("user trigger gone after down")
		}
		if err := m.Up(); err != nil {
			t.Fatalf("up again: %v", err)
		}
		requireMatchesExcept(t, ctx, db, []string{"column sessions.created_at"})
	})
}

func randSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func kinds(probs []dialect.Problem) []dialect.Kind {
	var k []dialect.Kind
	for _, p := range probs {
		k = append(k, p.Kind)
	}
	return k
}

func TestPreflight(t *testing.T) {
	eachServer(t, func(t *testing.T, d *testdb.DB) {
		ctx := ctxT(t)
		dia := mysql.New()
		if probs := dia.Preflight(ctx, d.DB, schema.Expected, snapshot(t, ctx, d.DB)); len(probs) > 0 {
			t.Fatalf("preflight on an empty database as root: %+v", probs)
		}

		// The AG-UI Go SDK session store layout.
		exec(t, ctx, d.DB, `CREATE TABLE sessions (
			id VARCHAR(255) PRIMARY KEY, user_id VARCHAR(255) NOT NULL, data JSON,
			created_at TIMESTAMP NOT NULL, expires_at TIMESTAMP NOT NULL, last_accessed TIMESTAMP NOT NULL,
			ip_address VARCHAR(45), user_agent TEXT)`)
		probs := dia.Preflight(ctx, d.DB, schema.Expected, snapshot(t, ctx, d.DB))
		for _, p := range probs {
			t.Logf("AG-UI layout: %+v", p)
		}
		var missingCols, tsCol bool
		for _, p := range probs {
			if p.Kind == dialect.KindIncompatibleTable && strings.Contains(p.Message, "session_id") &&
				strings.Contains(p.Message, "last_accessed_at") && strings.Contains(p.Fix, "AG-UI") {
				missingCols = true
			}
			if p.Kind == dialect.KindIncompatibleTable && p.Object == "column sessions.created_at" {
				tsCol = true
			}
		}
		if !missingCols || !tsCol {
			t.Errorf("AG-UI layout: want missing-columns and TIMESTAMP problems, got %+v", probs)
		}
		exec(t, ctx, d.DB, "DROP TABLE sessions")

		// Conflicting objects: a trigger with our name on another table, an index with our name on other columns.
		exec(t, ctx, d.DB, "CREATE TABLE sessions (session_id VARCHAR(255) PRIMARY KEY, user_id VARCHAR(255), created_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), expires_at DATETIME(6), last_accessed_at DATETIME(6), KEY idx_sessions_risk_score (user_id))")
		exec(t, ctx, d.DB, "CREATE TABLE other (a INT)")
		exec(t, ctx, d.DB, "CREATE TRIGGER sessions_security_hash_trigger BEFORE INSERT ON other FOR EACH ROW SET NEW.a = 1")
		exec(t, ctx, d.DB, "CREATE PROCEDURE CleanupExpiredSecureSessions() SELECT 1")
		probs = dia.Preflight(ctx, d.DB, schema.Expected, snapshot(t, ctx, d.DB))
		var objs []string
		for _, p := range probs {
			if p.Kind == dialect.KindConflictingObject {
				objs = append(objs, p.Object)
			}
		}
		for _, want := range []string{"trigger sessions_security_hash_trigger", "index idx_sessions_risk_score", "procedure CleanupExpiredSecureSessions"} {
			if !slices.Contains(objs, want) {
				t.Errorf("conflicts %v lack %s", objs, want)
			}
		}
		exec(t, ctx, d.DB, "DROP TRIGGER sessions_security_hash_trigger")
		exec(t, ctx, d.DB, "DROP PROCEDURE CleanupExpiredSecureSessions")
		exec(t, ctx, d.DB, "DROP TABLE sessions")

		// A non-SUPER user with every privilege on this database only: error 1419 conditions.
		user := "ssec_u_" + randSuffix()
		admin := d.DB
		exec(t, ctx, admin, fmt.Sprintf("CREATE USER '%s'@'%%' IDENTIFIED BY 'pw-%s'", user, user))
		t.Cleanup(func() {
			c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, _ = admin.ExecContext(c, fmt.Sprintf("DROP USER IF EXISTS '%s'@'%%'", user))
		})
		exec(t, ctx, admin, fmt.Sprintf("GRANT ALL PRIVILEGES ON `%s`.* TO '%s'@'%%'", d.Name, user))
		cfg, err := gomysql.ParseDSN(d.DSN)
		if err != nil {
			t.Fatal(err)
		}
		cfg.User, cfg.Passwd = user, "pw-"+user
		udb, err := sql.Open("mysql", cfg.FormatDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer udb.Close()
		probs = dia.Preflight(ctx, udb, schema.Expected, snapshot(t, ctx, udb))
		if !slices.Equal(kinds(probs), []dialect.Kind{dialect.KindBinlogRoutines}) {
			t.Errorf("non-SUPER user: want exactly a binlog problem, got %+v", probs)
		} else {
			t.Logf("1419 problem: %s / fix: %s", probs[0].Message, probs[0].Fix)
		}
		// And the migration really fails with 1419 at the first trigger/function step.
		m := newMigrate(t, ctx, udb)
		err = m.Up()
		if !mysql.IsBinlogRoutines(err) {
			t.Errorf("up as non-SUPER user: want 1419, got %v", err)
		}

		// Fewer privileges: reported by name.
		exec(t, ctx, admin, fmt.Sprintf("REVOKE ALL PRIVILEGES ON `%s`.* FROM '%s'@'%%'", d.Name, user))
		exec(t, ctx, admin, fmt.Sprintf("GRANT SELECT, INSERT, UPDATE, DELETE ON `%s`.* TO '%s'@'%%'", d.Name, user))
		udb2, _ := sql.Open("mysql", cfg.FormatDSN())
		defer udb2.Close()
		probs = dia.Preflight(ctx, udb2, schema.Expected, snapshot(t, ctx, udb2))
		var priv bool
		for _, p := range probs {
			if p.Kind == dialect.KindPrivileges && strings.Contains(p.Message, "TRIGGER") && strings.Contains(p.Message, "CREATE ROUTINE") {
				priv = true
			}
		}
		if !priv {
			t.Errorf("missing privileges not reported: %+v", probs)
		}
	})
}

func TestLockAndIdentify(t *testing.T) {
	eachServer(t, func(t *testing.T, d *testdb.DB) {
		ctx := ctxT(t)
		dia := mysql.New()
		srv, err := dia.Identify(ctx, d.DB)
		if err != nil || srv.Schema != d.Name {
			t.Fatalf("identify: %+v %v", srv, err)
		}
		t.Logf("server: %+v", srv)
		key, err := dia.LockKey(ctx, d.DB, migrationsTable)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := database.GenerateAdvisoryLockId(d.Name + ":" + migrationsTable)
		if key != want {
			t.Fatalf("lock key %s, want golang-migrate's %s", key, want)
		}
		c1, _ := d.DB.Conn(ctx)
		defer c1.Close()
		c2, _ := d.DB.Conn(ctx)
		defer c2.Close()
		if ok, err := dia.TryLock(ctx, c1, key); !ok || err != nil {
			t.Fatalf("TryLock c1: %v %v", ok, err)
		}
		start := time.Now()
		if ok, err := dia.TryLock(ctx, c2, key); ok || err != nil {
			t.Fatalf("TryLock c2 while held: %v %v", ok, err)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("TryLock blocked %v", el)
		}
		if n, err := dia.LockHolders(ctx, d.DB, key); n != 1 || err != nil {
			t.Errorf("holders %d %v", n, err)
		}
		// golang-migrate's driver on the lock-holding connection: its GET_LOCK is re-entrant.
		start = time.Now()
		drv, err := dia.Driver(ctx, d.DB, c1, migrationsTable)
		if err != nil {
			t.Fatalf("driver while holding the lock: %v", err)
		}
		if el := time.Since(start); el > 3*time.Second {
			t.Errorf("driver took %v", el)
		}
		_ = drv
		if n, _ := dia.LockHolders(ctx, d.DB, key); n != 1 {
			t.Errorf("lock lost after the driver's own lock/unlock")
		}
		if err := dia.Unlock(ctx, c1, key); err != nil {
			t.Fatal(err)
		}
		if n, err := dia.LockHolders(ctx, d.DB, key); n != 0 || err != nil {
			t.Errorf("holders after unlock %d %v", n, err)
		}
		if err := dia.PrepareSession(ctx, c1, 1500*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		var lw int
		if err := c1.QueryRowContext(ctx, "SELECT @@SESSION.lock_wait_timeout").Scan(&lw); err != nil || lw != 2 {
			t.Errorf("lock_wait_timeout %d %v", lw, err)
		}
		// A metadata-lock wait ends in 1205, classified as a lock timeout.
		exec(t, ctx, d.DB, "CREATE TABLE t (a INT)")
		tx, _ := c2.BeginTx(ctx, nil)
		_, _ = tx.ExecContext(ctx, "SELECT * FROM t")
		_ = dia.PrepareSession(ctx, c1, time.Second)
		_, err = c1.ExecContext(ctx, "ALTER TABLE t ADD COLUMN b INT")
		_ = tx.Rollback()
		if !dia.IsLockTimeout(err) {
			t.Errorf("MDL wait: want lock timeout, got %v", err)
		}
		st, err := dia.ReadVersion(ctx, d.DB, "no_such_table")
		if err != nil || st.TableExists {
			t.Errorf("ReadVersion without table: %+v %v", st, err)
		}
	})
}

func TestVersionGate(t *testing.T) {
	dia := mysql.New()
	for _, c := range []struct {
		flavor, version string
		ok              bool
	}{
		{mysql.FlavorMySQL, "9.7.4-2", true},
		{mysql.FlavorMySQL, "8.0.29", true},
		{mysql.FlavorMySQL, "8.0.28-log", false},
		{mysql.FlavorMySQL, "5.7.44", false},
		{mysql.FlavorMariaDB, "10.11.19-MariaDB-0+deb12u1-log", true},
		{mysql.FlavorMariaDB, "10.5.20-MariaDB", false},
		{mysql.FlavorMariaDB, "5.5.5-10.6.12-MariaDB", true},
	} {
		err := dia.CheckVersion(dialect.Server{Flavor: c.flavor, Version: c.version})
		var pe *dialect.ProblemError
		if c.ok != (err == nil) || (err != nil && (!errors.As(err, &pe) || pe.Problem.Kind != dialect.KindUnsupportedServer)) {
			t.Errorf("%s %s: %v", c.flavor, c.version, err)
		}
	}
}

func TestErrorClassification(t *testing.T) {
	dia := mysql.New()
	dup := &gomysql.MySQLError{Number: 1060, Message: "Duplicate column name 'security_hash'"}
	for _, err := range []error{
		dup,
		fmt.Errorf("step 2: %w", dup),
		database.Error{OrigErr: dup, Query: []byte("ALTER ...")},
		&database.Error{OrigErr: &gomysql.MySQLError{Number: 1061}},
		fmt.Errorf("wrapped: %w", &database.Error{OrigErr: &gomysql.MySQLError{Number: 1359}}),
		&gomysql.MySQLError{Number: 1304},
		&gomysql.MySQLError{Number: 1050},
	} {
		if !dia.IsAlreadyApplied(err) {
			t.Errorf("IsAlreadyApplied(%v) = false", err)
		}
	}
	for _, err := range []error{nil, errors.New("x"), &gomysql.MySQLError{Number: 1064}, database.Error{OrigErr: &gomysql.MySQLError{Number: 1146}}} {
		if dia.IsAlreadyApplied(err) {
			t.Errorf("IsAlreadyApplied(%v) = true", err)
		}
	}
	if !dia.IsLockTimeout(database.Error{OrigErr: &gomysql.MySQLError{Number: 1205}}) || !dia.IsLockTimeout(&gomysql.MySQLError{Number: 1213}) || dia.IsLockTimeout(dup) {
		t.Error("IsLockTimeout")
	}
}
