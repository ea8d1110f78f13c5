package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/internal/testdb"
	"github.com/agui-go/sessionsec/postgres"
	"github.com/agui-go/sessionsec/schema"
)

const migrationsDir = "../migrations/postgres"

var pgServer = testdb.Server{Name: "postgres", Dialect: "postgres", EnvVar: "SESSIONSEC_POSTGRES_DSN"}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newDB returns a fresh database and a pool on it opened with the given driver ("postgres" or "pgx").
func newDB(t *testing.T, driver string) (*testdb.DB, *sql.DB) {
	t.Helper()
	d := testdb.New(t, pgServer)
	if driver == "postgres" {
		return d, d.DB
	}
	db, err := sql.Open(driver, d.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return d, db
}

// withMigrate runs f with a golang-migrate instance on a pinned connection of db, built with the
// dialect's Driver (WithConnection), and closes it afterwards (which returns only that connection).
func withMigrate(t *testing.T, db *sql.DB, f func(m *migrate.Migrate) error) error {
	t.Helper()
	ctx := ctxT(t)
	src, err := iofs.New(os.DirFS(migrationsDir), ".")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d := postgres.New()
	if err := d.PrepareSession(ctx, conn, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	drv, err := d.Driver(ctx, db, conn, "schema_migrations")
	if err != nil {
		t.Fatal(err)
	}
	m, err := migrate.NewWithInstance("iofs", src, "postgres", drv)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if se, de := m.Close(); se != nil || de != nil {
			t.Errorf("close migrate: %v %v", se, de)
		}
	}()
	return f(m)
}

func up(t *testing.T, db *sql.DB) {
	t.Helper()
	if err := withMigrate(t, db, func(m *migrate.Migrate) error { return m.Up() }); err != nil {
		t.Fatalf("up: %v", err)
	}
}

func down(t *testing.T, db *sql.DB) {
	t.Helper()
	if err := withMigrate(t, db, func(m *migrate.Migrate) error { return m.Down() }); err != nil {
		t.Fatalf("down: %v", err)
	}
}

func upFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(migrationsDir, "*.up.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no up files: %v", err)
	}
	sort.Strings(files)
	return files
}

// rerunUpFiles sends every up file again, each as one Exec (what golang-migrate does): all must succeed.
func rerunUpFiles(t *testing.T, db *sql.DB) {
	t.Helper()
	ctx := ctxT(t)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, f := range upFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(ctx, string(b)); err != nil {
			t.Errorf("re-running %s: %v", filepath.Base(f), err)
		}
	}
}

func diff(t *testing.T, db *sql.DB) []dialect.Mismatch {
	t.Helper()
	d := postgres.New()
	snap, err := d.Snapshot(ctxT(t), db, postgres.TableNames(schema.Expected))
	if err != nil {
		t.Fatal(err)
	}
	return dialect.Diff(d.Expected(schema.Expected), snap)
}

func requireNoDiff(t *testing.T, db *sql.DB) {
	t.Helper()
	for _, m := range diff(t, db) {
		t.Errorf("schema mismatch: %s", m)
	}
}

func requireAbsent(t *testing.T, db *sql.DB) {
	t.Helper()
	d := postgres.New()
	snap, err := d.Snapshot(ctxT(t), db, postgres.TableNames(schema.Expected))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range dialect.Absent(d.Expected(schema.Expected), snap, "sessions") {
		t.Errorf("left after down: %s", m)
	}
	// The trigger functions too.
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM pg_proc WHERE pronamespace = current_schema()::regnamespace
		AND proname LIKE 'sessions\_%\_fn'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("trigger functions left after down: %d %v", n, err)
	}
}

func exec(t *testing.T, q dialect.Querier, query string, args ...any) {
	t.Helper()
	if _, err := q.ExecContext(ctxT(t), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

func str(s string) *string { return &s }

// checkHashes compares every stored security_hash with schema.SecurityHash computed in Go.
func checkHashes(t *testing.T, db *sql.DB, wallClock bool) int {
	t.Helper()
	rows, err := db.Query(`SELECT session_id, user_id, created_at, security_hash FROM sessions`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var (
			id      string
			user    sql.NullString
			created sql.NullTime
			hash    sql.NullString
		)
		if err := rows.Scan(&id, &user, &created, &hash); err != nil {
			t.Fatal(err)
		}
		var c *time.Time
		if created.Valid {
			c = &created.Time
		}
		if want := testdb.ExpectedHash(id, user, c, wallClock); hash.String != want {
			t.Errorf("session %q: security_hash %q, want %q", id, hash.String, want)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestFreshDatabase(t *testing.T) {
	for _, driver := range []string{"postgres", "pgx"} {
		t.Run(driver, func(t *testing.T) {
			_, db := newDB(t, driver)
			ctx := ctxT(t)
			d := postgres.New()
			st, err := d.ReadVersion(ctx, db, "schema_migrations")
			if err != nil || st.TableExists {
				t.Fatalf("ReadVersion before: %+v %v", st, err)
			}
			up(t, db)
			st, err = d.ReadVersion(ctx, db, "schema_migrations")
			if err != nil || !st.TableExists || !st.HasVersion || st.Version != 21 || st.Dirty {
				t.Fatalf("ReadVersion after up: %+v %v", st, err)
			}
			requireNoDiff(t, db)

			// The README's acceptance check.
			exec(t, db, `INSERT INTO sessions (session_id, user_id) VALUES ('test-session', 'test-user')`)
			var (
				hash    string
				version int
				epoch   int64
			)
			if err := db.QueryRow(`SELECT security_hash, security_version, floor(extract(epoch FROM created_at))::bigint
				FROM sessions WHERE session_id = 'test-session'`).Scan(&hash, &version, &epoch); err != nil {
				t.Fatal(err)
			}
			if want := schema.SecurityHash(str("test-session"), str("test-user"), &epoch); hash != want || version != 1 {
				t.Fatalf("trigger: hash %s version %d, want %s 1", hash, version, want)
			}
			// Application-supplied hash is kept.
			exec(t, db, `INSERT INTO sessions (session_id, security_hash) VALUES ('own', repeat('a', 64))`)
			if err := db.QueryRow(`SELECT security_hash FROM sessions WHERE session_id = 'own'`).Scan(&hash); err != nil || hash != strings.Repeat("a", 64) {
				t.Fatalf("own hash: %q %v", hash, err)
			}
			// risk_score range.
			for _, v := range []int{101, -1} {
				_, err := db.Exec(`INSERT INTO sessions (session_id, risk_score) VALUES ($1, $2)`, fmt.Sprint("r", v), v)
				if err == nil {
					t.Errorf("risk_score %d accepted", v)
				}
				_, err = db.Exec(`UPDATE sessions SET risk_score = $1 WHERE session_id = 'own'`, v)
				if err == nil {
					t.Errorf("update to risk_score %d accepted", v)
				}
			}
			// NULL-safe update trigger.
			exec(t, db, `UPDATE sessions SET last_validated_at = NULL WHERE session_id = 'test-session'`)
			exec(t, db, `UPDATE sessions SET last_accessed_at = now() WHERE session_id = 'test-session'`) // NULL -> value
			var validated sql.NullTime
			if err := db.QueryRow(`SELECT last_validated_at FROM sessions WHERE session_id = 'test-session'`).Scan(&validated); err != nil || !validated.Valid {
				t.Fatalf("NULL -> value did not set last_validated_at: %v %v", validated, err)
			}
			exec(t, db, `UPDATE sessions SET last_validated_at = NULL WHERE session_id = 'test-session'`)
			exec(t, db, `UPDATE sessions SET last_accessed_at = NULL WHERE session_id = 'test-session'`) // value -> NULL
			if err := db.QueryRow(`SELECT last_validated_at FROM sessions WHERE session_id = 'test-session'`).Scan(&validated); err != nil || !validated.Valid {
				t.Fatalf("value -> NULL did not set last_validated_at: %v %v", validated, err)
			}
			exec(t, db, `UPDATE sessions SET last_validated_at = NULL WHERE session_id = 'test-session'`)
			exec(t, db, `UPDATE sessions SET user_id = 'x' WHERE session_id = 'test-session'`) // unchanged
			if err := db.QueryRow(`SELECT last_validated_at FROM sessions WHERE session_id = 'test-session'`).Scan(&validated); err != nil || validated.Valid {
				t.Fatalf("unrelated update set last_validated_at: %v %v", validated, err)
			}

			if err := withMigrate(t, db, func(m *migrate.Migrate) error { return m.Up() }); !errors.Is(err, migrate.ErrNoChange) {
				t.Fatalf("second up: %v", err)
			}
			rerunUpFiles(t, db)
			requireNoDiff(t, db)

			down(t, db)
			st, err = d.ReadVersion(ctx, db, "schema_migrations")
			if err != nil || st.HasVersion {
				t.Fatalf("ReadVersion after down: %+v %v", st, err)
			}
			requireAbsent(t, db)
			// Security data was kept.
			var retired int
			if err := db.QueryRow(`SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE 'sessions\_security\_retired\_%'`).Scan(&retired); err != nil || retired != 1 {
				t.Fatalf("retired security copies: %d %v", retired, err)
			}
			up(t, db)
			requireNoDiff(t, db)
		})
	}
}

func TestHashFunction(t *testing.T) {
	_, db := newDB(t, "postgres")
	up(t, db)
	e0, eNeg, eBig := int64(0), int64(-1), int64(1767225600)
	cases := []struct {
		id, user *string
		epoch    *int64
	}{
		{str("test-session"), str("test-user"), &eBig},
		{str(""), str(""), &e0},
		{nil, nil, nil},
		{str("sess-ü-€-😀"), str("用户"), &eNeg},
		{str("a|b"), nil, &eBig},
		{str("1:x"), str("-"), nil},
	}
	for _, c := range cases {
		var got string
		if err := db.QueryRow(`SELECT session_security_hash($1, $2, $3)`, c.id, c.user, c.epoch).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if want := schema.SecurityHash(c.id, c.user, c.epoch); got != want {
			t.Errorf("hash(%v, %v, %v) = %s, want %s", c.id, c.user, c.epoch, got, want)
		}
	}
}

// catalogSig is everything about sessions that the migrations must leave as it was after a full down.
const catalogSig = `SELECT concat_ws(E'\n',
  (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull || ' ' ||
          COALESCE(pg_get_expr(d.adbin, d.adrelid), '-') || ' ' || COALESCE(col_description(a.attrelid, a.attnum), '-'), ', ' ORDER BY a.attnum)
     FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = 'sessions'::regclass AND a.attnum > 0 AND NOT a.attisdropped),
  (SELECT string_agg(pg_get_indexdef(indexrelid), ', ' ORDER BY indexrelid::regclass::text) FROM pg_index WHERE indrelid = 'sessions'::regclass),
  (SELECT string_agg(pg_get_triggerdef(oid), ', ' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'sessions'::regclass AND NOT tgisinternal),
  (SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), ', ' ORDER BY conname) FROM pg_constraint WHERE conrelid = 'sessions'::regclass))`

const rowChecksum = `SELECT md5(string_agg(t::text, ',' ORDER BY session_id)) FROM sessions t`

func TestExistingTable(t *testing.T) {
	for _, created := range []string{"timestamp without time zone", "timestamptz"} {
		t.Run(strings.ReplaceAll(created, " ", "_"), func(t *testing.T) {
			_, db := newDB(t, "postgres")
			exec(t, db, `CREATE TABLE sessions (
				session_id varchar(255) PRIMARY KEY,
				user_id varchar(255),
				data jsonb,
				created_at `+created+` DEFAULT now(),
				expires_at timestamptz,
				last_accessed_at timestamptz,
				app_flag boolean NOT NULL DEFAULT true)`)
			exec(t, db, `CREATE INDEX app_sessions_user ON sessions (user_id)`)
			exec(t, db, `CREATE FUNCTION app_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.app_flag := true; RETURN NEW; END $$`)
			exec(t, db, `CREATE TRIGGER app_touch_trigger BEFORE UPDATE ON sessions FOR EACH ROW EXECUTE FUNCTION app_touch()`)
			exec(t, db, `INSERT INTO sessions (session_id, user_id, data, created_at, expires_at, last_accessed_at)
				SELECT 'sess-' || lpad(g::text, 6, '0') || CASE WHEN g % 97 = 0 THEN '-ü€' ELSE '' END,
				       CASE WHEN g % 7 = 0 THEN NULL WHEN g % 11 = 0 THEN '' ELSE 'user-' || (g % 100) END,
				       jsonb_build_object('n', g),
				       CASE WHEN g % 5 = 0 THEN NULL ELSE timestamp '2025-06-01 12:00:00.75' - g * interval '37 seconds' END,
				       CASE WHEN g % 3 = 0 THEN now() - interval '1 day' ELSE NULL END,
				       CASE WHEN g % 4 = 0 THEN NULL ELSE now() END
				FROM generate_series(1, 12000) g`)
			// created_at NULL is possible here (no NOT NULL on the existing column).
			var sigBefore string
			var nodeBefore int64
			if err := db.QueryRow(catalogSig).Scan(&sigBefore); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRow(`SELECT pg_relation_filenode('sessions')`).Scan(&nodeBefore); err != nil {
				t.Fatal(err)
			}
			d := postgres.New()
			if probs := d.Preflight(ctxT(t), db, schema.Expected, nil); len(probs) != 0 {
				t.Fatalf("preflight on a compatible table: %+v", probs)
			}

			up(t, db)
			node := func() int64 {
				var n int64
				if err := db.QueryRow(`SELECT pg_relation_filenode('sessions')`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			if n := node(); n != nodeBefore {
				t.Errorf("sessions was rewritten by up: filenode %d -> %d", nodeBefore, n)
			}
			// Everything is there except that the pre-existing created_at keeps its own type.
			for _, m := range diff(t, db) {
				t.Errorf("schema mismatch: %s", m)
			}
			if n := checkHashes(t, db, created != "timestamptz"); n != 12000 {
				t.Fatalf("checked %d rows", n)
			}
			var nullKey, nullValidated int
			if err := db.QueryRow(`SELECT count(*) FILTER (WHERE encryption_key_id IS DISTINCT FROM 'migration-default-key'),
				count(*) FILTER (WHERE last_validated_at IS NULL) FROM sessions`).Scan(&nullKey, &nullValidated); err != nil {
				t.Fatal(err)
			}
			if nullKey != 0 || nullValidated != 0 {
				t.Errorf("backfill left %d rows without key id, %d without last_validated_at", nullKey, nullValidated)
			}
			// User objects survived.
			var userObjs int
			if err := db.QueryRow(`SELECT (SELECT count(*) FROM pg_indexes WHERE indexname = 'app_sessions_user') +
				(SELECT count(*) FROM pg_trigger WHERE tgname = 'app_touch_trigger')`).Scan(&userObjs); err != nil || userObjs != 2 {
				t.Errorf("user index/trigger lost: %d %v", userObjs, err)
			}
			// Archive mirrors sessions.
			exec(t, db, `INSERT INTO sessions_archive SELECT * FROM sessions WHERE session_id < 'sess-000100'`)

			rerunUpFiles(t, db)
			requireNoDiff(t, db)

			// Make the audit log and archive non-empty so that down retires them.
			exec(t, db, `CALL CleanupExpiredSecureSessions()`)
			// The cleanup deleted rows, so compare the base columns before and after down (TestRoundTripRows
			// compares the full row checksum of an untouched table).
			var sumBaseBeforeDown string
			if err := db.QueryRow(`SELECT md5(string_agg(concat_ws('|', session_id, user_id, data, created_at, expires_at, last_accessed_at, app_flag), ',' ORDER BY session_id)) FROM sessions`).Scan(&sumBaseBeforeDown); err != nil {
				t.Fatal(err)
			}
			down(t, db)
			if n := node(); n != nodeBefore {
				t.Errorf("sessions was rewritten by down: filenode %d -> %d", nodeBefore, n)
			}
			requireAbsent(t, db)
			var sigAfter, sumBaseAfter string
			if err := db.QueryRow(catalogSig).Scan(&sigAfter); err != nil {
				t.Fatal(err)
			}
			if sigAfter != sigBefore {
				t.Errorf("sessions catalog changed by up+down:\nbefore %s\nafter  %s", sigBefore, sigAfter)
			}
			if err := db.QueryRow(`SELECT md5(string_agg(concat_ws('|', session_id, user_id, data, created_at, expires_at, last_accessed_at, app_flag), ',' ORDER BY session_id)) FROM sessions`).Scan(&sumBaseAfter); err != nil {
				t.Fatal(err)
			}
			if sumBaseAfter != sumBaseBeforeDown {
				t.Errorf("rows changed by down")
			}
			var retired []string
			rows, err := db.Query(`SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename LIKE '%\_retired\_%' ORDER BY 1`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var n string
				_ = rows.Scan(&n)
				retired = append(retired, n)
			}
			rows.Close()
			if len(retired) != 3 || !strings.HasPrefix(retired[0], "session_audit_log_retired_") ||
				!strings.HasPrefix(retired[1], "sessions_archive_retired_") || !strings.HasPrefix(retired[2], "sessions_security_retired_") {
				t.Errorf("retired tables: %v", retired)
			}

			up(t, db)
			if n := node(); n != nodeBefore {
				t.Errorf("sessions was rewritten by the second up: filenode %d -> %d", nodeBefore, n)
			}
			requireNoDiff(t, db)
			checkHashes(t, db, created != "timestamptz")
		})
	}
}

// TestRoundTripRows checks that up + full down leaves sessions' rows byte-identical (row checksum).
func TestRoundTripRows(t *testing.T) {
	_, db := newDB(t, "postgres")
	exec(t, db, `CREATE TABLE sessions (session_id varchar(255) PRIMARY KEY, user_id varchar(255),
		created_at timestamp NOT NULL DEFAULT now(), expires_at timestamptz, last_accessed_at timestamptz, note text)`)
	exec(t, db, `INSERT INTO sessions SELECT 's' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'u' END,
		timestamp '2024-01-01' + g * interval '1 minute', NULL, CASE WHEN g % 2 = 0 THEN now() END, 'n' || g
		FROM generate_series(1, 5000) g`)
	var before, after, sigBefore, sigAfter string
	_ = db.QueryRow(rowChecksum).Scan(&before)
	_ = db.QueryRow(catalogSig).Scan(&sigBefore)
	up(t, db)
	down(t, db)
	_ = db.QueryRow(rowChecksum).Scan(&after)
	_ = db.QueryRow(catalogSig).Scan(&sigAfter)
	if before != after || sigBefore != sigAfter {
		t.Errorf("up+down changed sessions: rows %s -> %s, catalog %q -> %q", before, after, sigBefore, sigAfter)
	}
	requireAbsent(t, db)
}

func TestProcedures(t *testing.T) {
	_, db := newDB(t, "postgres")
	up(t, db)
	exec(t, db, `INSERT INTO sessions (session_id, user_id, expires_at, risk_score, created_ip_hash) VALUES
		('keep', 'u', now() + interval '1 day', 10, repeat('b', 64)),
		('keep-noexp', 'u', NULL, 50, repeat('b', 64)),
		('expired-low', 'u', now() - interval '1 minute', 0, NULL),
		('risky-unexpired', 'u', now() + interval '1 day', 51, NULL),
		('risky-noexp', 'u', NULL, 90, NULL)`)
	lastDetails := func(action string) string {
		var s string
		if err := db.QueryRow(`SELECT details::text FROM session_audit_log WHERE action = $1 ORDER BY id DESC LIMIT 1`, action).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	exec(t, db, `CALL CleanupExpiredSecureSessions()`)
	var left []string
	rows, _ := db.Query(`SELECT session_id FROM sessions ORDER BY 1`)
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		left = append(left, s)
	}
	rows.Close()
	if !slices.Equal(left, []string{"keep", "keep-noexp"}) {
		t.Errorf("after cleanup: %v", left)
	}
	if got := lastDetails("SECURITY_CLEANUP"); got != `{"deleted": 3}` {
		t.Errorf("cleanup audit: %s", got)
	}
	// Zero deleted still writes a row; works inside a caller's transaction.
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`CALL CleanupExpiredSecureSessions()`); err != nil {
		t.Fatalf("cleanup in a transaction: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := lastDetails("SECURITY_CLEANUP"); got != `{"deleted": 0}` {
		t.Errorf("cleanup audit (0): %s", got)
	}

	// Risk scores: keep has hash (trigger), ip hash, recent validation -> 0; keep-noexp -> 0 too.
	exec(t, db, `INSERT INTO sessions (session_id, expires_at, last_validated_at) VALUES ('old', now() - interval '1 hour', now() - interval '8 days')`)
	exec(t, db, `UPDATE sessions SET security_hash = NULL WHERE session_id = 'old'`)
	exec(t, db, `CALL UpdateSessionRiskScores()`)
	scores := map[string]int{}
	rows, _ = db.Query(`SELECT session_id, risk_score FROM sessions`)
	for rows.Next() {
		var s string
		var n int
		_ = rows.Scan(&s, &n)
		scores[s] = n
	}
	rows.Close()
	want := map[string]int{"keep": 0, "keep-noexp": 0, "old": 100}
	if fmt.Sprint(scores) != fmt.Sprint(want) {
		t.Errorf("risk scores %v, want %v", scores, want)
	}
	if got := lastDetails("RISK_SCORE_UPDATE"); got != `{"updated": 3}` {
		t.Errorf("risk audit: %s", got)
	}
	exec(t, db, `CALL UpdateSessionRiskScores()`)
	if got := lastDetails("RISK_SCORE_UPDATE"); got != `{"updated": 0}` {
		t.Errorf("risk audit (unchanged): %s", got)
	}
	exec(t, db, `INSERT INTO sessions_archive SELECT * FROM sessions WHERE risk_score > 50`)
	var archived int
	if err := db.QueryRow(`SELECT count(*) FROM sessions_archive`).Scan(&archived); err != nil || archived != 1 {
		t.Errorf("archive: %d %v", archived, err)
	}
}

func TestBackfillProcedureBatches(t *testing.T) {
	for _, driver := range []string{"postgres", "pgx"} {
		t.Run(driver, func(t *testing.T) {
			_, db := newDB(t, driver)
			exec(t, db, `CREATE TABLE sessions (session_id varchar(255) PRIMARY KEY, user_id varchar(255),
				created_at timestamptz NOT NULL DEFAULT now(), expires_at timestamptz, last_accessed_at timestamptz)`)
			exec(t, db, `INSERT INTO sessions (session_id, user_id, created_at) SELECT md5(g::text), 'u' || g, now() - g * interval '1 s' FROM generate_series(1, 20000) g`)
			start := time.Now()
			up(t, db) // step 10 runs CALL BackfillSessionSecurity(5000) through golang-migrate: 4 batches, COMMIT each
			t.Logf("full up with backfill of 20000 rows: %s", time.Since(start))
			if n := checkHashes(t, db, false); n != 20000 {
				t.Fatalf("rows %d", n)
			}
			// Resumable and idempotent: NULL some hashes and call with a small batch.
			exec(t, db, `UPDATE sessions SET security_hash = NULL WHERE session_id < '4'`)
			exec(t, db, `CALL BackfillSessionSecurity(777)`)
			checkHashes(t, db, false)
		})
	}
}

func TestPreflight(t *testing.T) {
	d := postgres.New()
	kinds := func(ps []dialect.Problem) map[dialect.Kind][]string {
		m := map[dialect.Kind][]string{}
		for _, p := range ps {
			m[p.Kind] = append(m[p.Kind], p.Object+": "+p.Message)
			if p.Object == "" || p.Message == "" || p.Fix == "" {
				t.Errorf("incomplete problem: %+v", p)
			}
		}
		return m
	}
	t.Run("fresh", func(t *testing.T) {
		_, db := newDB(t, "postgres")
		if ps := d.Preflight(ctxT(t), db, schema.Expected, nil); len(ps) != 0 {
			t.Errorf("fresh database: %+v", ps)
		}
		up(t, db)
		if ps := d.Preflight(ctxT(t), db, schema.Expected, nil); len(ps) != 0 {
			t.Errorf("migrated database: %+v", ps)
		}
	})
	t.Run("agui-sdk-layout", func(t *testing.T) {
		_, db := newDB(t, "postgres")
		exec(t, db, `CREATE TABLE sessions (id varchar(255) PRIMARY KEY, user_id varchar(255) NOT NULL,
			created_at timestamptz NOT NULL, last_accessed timestamptz NOT NULL, expires_at timestamptz NOT NULL,
			ip_address varchar(64), data jsonb)`)
		ps := d.Preflight(ctxT(t), db, schema.Expected, nil)
		k := kinds(ps)
		if len(k[dialect.KindIncompatibleTable]) != 1 || len(ps) != 1 {
			t.Fatalf("problems: %+v", ps)
		}
		msg := ps[0].Message + " " + ps[0].Fix
		for _, want := range []string{"session_id", "last_accessed_at", "found columns: id, user_id", "AG-UI"} {
			if !strings.Contains(msg, want) {
				t.Errorf("message %q lacks %q", msg, want)
			}
		}
		// And Migrate's first step would not hurt it: the up must fail at the trigger, never half-apply
		// silently - that is why Preflight runs first.
	})
	t.Run("bad-types", func(t *testing.T) {
		_, db := newDB(t, "postgres")
		exec(t, db, `CREATE TABLE sessions (session_id uuid, user_id varchar(255), created_at text,
			expires_at timestamptz, last_accessed_at timestamptz, risk_score text)`)
		k := kinds(d.Preflight(ctxT(t), db, schema.Expected, nil))
		if len(k[dialect.KindIncompatibleTable]) != 3 || len(k[dialect.KindConflictingObject]) != 1 {
			t.Errorf("problems: %v", k)
		}
	})
	t.Run("conflicting-objects", func(t *testing.T) {
		_, db := newDB(t, "postgres")
		exec(t, db, `CREATE TABLE sessions (session_id varchar(255) PRIMARY KEY, user_id varchar(255),
			created_at timestamptz NOT NULL DEFAULT now(), expires_at timestamptz, last_accessed_at timestamptz)`)
		exec(t, db, `CREATE TABLE other (x int)`)
		exec(t, db, `CREATE INDEX idx_sessions_risk_score ON sessions (user_id)`)
		exec(t, db, `CREATE INDEX idx_sessions_ip_hash ON other (x)`)
		exec(t, db, `CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`)
		exec(t, db, `CREATE TRIGGER sessions_security_hash_trigger AFTER DELETE ON sessions FOR EACH ROW EXECUTE FUNCTION f()`)
		exec(t, db, `CREATE FUNCTION session_security_hash(a text) RETURNS text LANGUAGE sql AS 'SELECT a'`)
		exec(t, db, `CREATE TABLE session_audit_log (id int, action text)`)
		exec(t, db, `ALTER TABLE sessions ADD CONSTRAINT sessions_risk_score_range CHECK (length(user_id) < 10)`)
		k := kinds(d.Preflight(ctxT(t), db, schema.Expected, nil))
		if len(k[dialect.KindConflictingObject]) != 6 {
			t.Errorf("conflicts: %d\n%s", len(k[dialect.KindConflictingObject]), strings.Join(k[dialect.KindConflictingObject], "\n"))
		}
	})
	t.Run("non-owner-read-only", func(t *testing.T) {
		td, db := newDB(t, "postgres")
		exec(t, db, `CREATE TABLE sessions (session_id varchar(255) PRIMARY KEY, user_id varchar(255),
			created_at timestamptz NOT NULL DEFAULT now(), expires_at timestamptz, last_accessed_at timestamptz)`)
		role := "ssec_app_" + strings.TrimPrefix(td.Name, "ssec_")
		exec(t, db, `CREATE ROLE `+role+` LOGIN`)
		t.Cleanup(func() {
			_, _ = td.DB.Exec(`DROP OWNED BY ` + role)
			_, _ = td.DB.Exec(`DROP ROLE IF EXISTS ` + role)
		})
		exec(t, db, `REVOKE CREATE ON SCHEMA public FROM PUBLIC`)
		exec(t, db, `GRANT SELECT, INSERT, UPDATE, DELETE ON sessions TO `+role)
		ctx := ctxT(t)
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			_, _ = conn.ExecContext(context.Background(), `RESET ROLE`)
			_, _ = conn.ExecContext(context.Background(), `RESET default_transaction_read_only`)
			conn.Close()
		}()
		exec(t, conn, `SET ROLE `+role)
		exec(t, conn, `SET default_transaction_read_only = on`)
		k := kinds(d.Preflight(ctx, conn, schema.Expected, nil))
		if len(k[dialect.KindPrivileges]) != 3 || len(k[dialect.KindReadOnly]) != 1 {
			t.Errorf("problems: %v", k)
		}
	})
}

func TestRepairInvalidIndex(t *testing.T) {
	_, db := newDB(t, "postgres")
	up(t, db)
	exec(t, db, `INSERT INTO sessions (session_id, risk_score) SELECT 's' || g, 7 FROM generate_series(1, 10) g`)
	exec(t, db, `DROP INDEX idx_sessions_risk_score`)
	if _, err := db.Exec(`CREATE UNIQUE INDEX CONCURRENTLY idx_sessions_risk_score ON sessions (risk_score) WHERE risk_score > 0`); err == nil {
		t.Fatal("unique CIC over duplicates succeeded")
	}
	found := false
	for _, m := range diff(t, db) {
		if strings.Contains(m.Object, "idx_sessions_risk_score") && strings.Contains(m.Got, "INVALID") {
			found = true
		}
	}
	if !found {
		t.Fatalf("Snapshot did not report the invalid index: %v", diff(t, db))
	}
	ctx := ctxT(t)
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	did, err := postgres.New().Repair(ctx, conn, schema.Expected)
	if err != nil || len(did) != 1 || !strings.Contains(did[0], "idx_sessions_risk_score") {
		t.Fatalf("repair: %v %v", did, err)
	}
	// The step's file now rebuilds it.
	b, err := os.ReadFile(filepath.Join(migrationsDir, "000016_idx_sessions_risk_score.up.sql"))
	if err != nil {
		t.Fatal(err)
	}
	exec(t, conn, string(b))
	requireNoDiff(t, db)
	if did, err := postgres.New().Repair(ctx, conn, schema.Expected); err != nil || len(did) != 0 {
		t.Errorf("second repair: %v %v", did, err)
	}
}

func TestLock(t *testing.T) {
	td, db := newDB(t, "postgres")
	ctx := ctxT(t)
	d := postgres.New()
	key, err := d.LockKey(ctx, db, "schema_migrations")
	if err != nil {
		t.Fatal(err)
	}
	want, _ := database.GenerateAdvisoryLockId("/"+td.Name, "public", "schema_migrations")
	if key != want {
		t.Fatalf("LockKey %s, want %s", key, want)
	}
	c1, _ := db.Conn(ctx)
	c2, _ := db.Conn(ctx)
	defer c1.Close()
	defer c2.Close()

	// golang-migrate's own Lock (driver on c1, configured like the CLI) excludes our TryLock on c2.
	drv, err := d.Driver(ctx, db, c1, "schema_migrations")
	if err != nil {
		t.Fatal(err)
	}
	if err := drv.Lock(); err != nil {
		t.Fatal(err)
	}
	if ok, err := d.TryLock(ctx, c2, key); err != nil || ok {
		t.Fatalf("TryLock while golang-migrate holds the lock: %v %v", ok, err)
	}
	if n, err := d.LockHolders(ctx, db, key); err != nil || n != 1 {
		t.Fatalf("LockHolders: %d %v", n, err)
	}
	if err := drv.Unlock(); err != nil {
		t.Fatal(err)
	}
	if n, err := d.LockHolders(ctx, db, key); err != nil || n != 0 {
		t.Fatalf("LockHolders after unlock: %d %v", n, err)
	}
	if ok, err := d.TryLock(ctx, c2, key); err != nil || !ok {
		t.Fatalf("TryLock: %v %v", ok, err)
	}
	if err := d.Unlock(ctx, c2, key); err != nil {
		t.Fatal(err)
	}
	if err := d.Unlock(ctx, c2, key); err == nil {
		t.Error("second Unlock succeeded")
	}
	// A key with the high bit set (> 2^31) round-trips through pg_locks.
	if ok, err := d.TryLock(ctx, c2, "4294967295"); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if n, err := d.LockHolders(ctx, db, "4294967295"); err != nil || n != 1 {
		t.Fatalf("LockHolders big key: %d %v", n, err)
	}
	_ = d.Unlock(ctx, c2, "4294967295")
}

func TestIdentifyAndErrors(t *testing.T) {
	for _, driver := range []string{"postgres", "pgx"} {
		t.Run(driver, func(t *testing.T) {
			_, db := newDB(t, driver)
			ctx := ctxT(t)
			d := postgres.New()
			srv, err := d.Identify(ctx, db)
			if err != nil || srv.Flavor != "PostgreSQL" || srv.Schema != "public" || srv.Version == "" {
				t.Fatalf("Identify: %+v %v", srv, err)
			}
			exec(t, db, `CREATE TABLE sessions (session_id text PRIMARY KEY)`)
			_, err = db.Exec(`ALTER TABLE sessions ADD COLUMN session_id text`)
			if !d.IsAlreadyApplied(err) {
				t.Errorf("42701 not already-applied: %v", err)
			}
			if !d.IsAlreadyApplied(database.Error{OrigErr: err}) || !d.IsAlreadyApplied(&database.Error{OrigErr: err}) ||
				!d.IsAlreadyApplied(fmt.Errorf("wrapped: %w", &database.Error{OrigErr: err})) {
				t.Error("not found inside database.Error")
			}
			_, err = db.Exec(`CREATE TABLE sessions (x int)`)
			if !d.IsAlreadyApplied(err) {
				t.Errorf("42P07: %v", err)
			}
			exec(t, db, `CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'`)
			_, err = db.Exec(`CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'`)
			if !d.IsAlreadyApplied(err) {
				t.Errorf("42723: %v", err)
			}
			_, err = db.Exec(`SELECT 1/0`)
			if d.IsAlreadyApplied(err) || d.IsLockTimeout(err) {
				t.Errorf("division by zero classified: %v", err)
			}
			// lock_timeout -> 55P03.
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			if _, err := tx.Exec(`LOCK TABLE sessions IN ACCESS EXCLUSIVE MODE`); err != nil {
				t.Fatal(err)
			}
			conn, _ := db.Conn(ctx)
			defer conn.Close()
			if err := d.PrepareSession(ctx, conn, 100*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			_, err = conn.ExecContext(ctx, `ALTER TABLE sessions ADD COLUMN y int`)
			if !d.IsLockTimeout(err) || !d.IsLockTimeout(database.Error{OrigErr: err}) {
				t.Errorf("lock timeout not classified: %v", err)
			}
		})
	}
}
