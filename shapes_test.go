package sessionsec_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
	"github.com/agui-go/sessionsec/schema"
)

// refused asserts that Migrate refuses the database with sentinel, naming mentions, and changes nothing.
func refused(t *testing.T, d *testdb.DB, db *sql.DB, sentinel error, mentions ...string) {
	t.Helper()
	before := catalogFingerprint(t, d)
	wantPreflight(t, sessionsec.Migrate(ctxT(t), db), sentinel, mentions...)
	unchanged(t, d, before)
}

// TestShapesMySQL: shapes the online DDL or the hash cannot handle are refused up front with the
// database unchanged; the ones it can handle (a binary key, TIMESTAMP columns) migrate.
func TestShapesMySQL(t *testing.T) {
	for _, s := range testdb.Servers[:2] {
		t.Run(s.Name, func(t *testing.T) {
			base := "session_id %s, user_id VARCHAR(255) NULL, created_at DATETIME(6) NULL, expires_at DATETIME(6) NULL, last_accessed_at DATETIME(6) NULL"
			t.Run("fulltext", func(t *testing.T) {
				d := testdb.New(t, s)
				mustExec(t, d.DB, "CREATE TABLE sessions ("+fmt.Sprintf(base, "VARCHAR(255) NOT NULL PRIMARY KEY")+", FULLTEXT KEY ft_user (user_id)) ENGINE=InnoDB")
				refused(t, d, d.DB, sessionsec.ErrIncompatibleTable, "FULLTEXT", "ft_user")
			})
			t.Run("compressed", func(t *testing.T) {
				d := testdb.New(t, s)
				mustExec(t, d.DB, "CREATE TABLE sessions ("+fmt.Sprintf(base, "VARCHAR(255) NOT NULL PRIMARY KEY")+") ENGINE=InnoDB ROW_FORMAT=COMPRESSED")
				refused(t, d, d.DB, sessionsec.ErrIncompatibleTable, "ROW_FORMAT=COMPRESSED", "ROW_FORMAT=DYNAMIC")
			})
			t.Run("view", func(t *testing.T) {
				d := testdb.New(t, s)
				mustExec(t, d.DB, "CREATE TABLE real_sessions ("+fmt.Sprintf(base, "VARCHAR(255) NOT NULL PRIMARY KEY")+")")
				mustExec(t, d.DB, "CREATE VIEW sessions AS SELECT * FROM real_sessions")
				refused(t, d, d.DB, sessionsec.ErrIncompatibleTable, "view")
			})
			t.Run("nullable-unique-key", func(t *testing.T) {
				d := testdb.New(t, s)
				mustExec(t, d.DB, "CREATE TABLE sessions (pk INT AUTO_INCREMENT PRIMARY KEY, "+fmt.Sprintf(base, "VARCHAR(255) NULL UNIQUE")+")")
				mustExec(t, d.DB, "INSERT INTO sessions (session_id, user_id) VALUES (NULL, 'u'), ('s1', 'u')")
				refused(t, d, d.DB, sessionsec.ErrIncompatibleTable, "nullable", "NOT NULL")
			})
			t.Run("binary-key", func(t *testing.T) {
				d := testdb.New(t, s)
				mustExec(t, d.DB, "CREATE TABLE sessions ("+fmt.Sprintf(base, "BINARY(16) NOT NULL PRIMARY KEY")+")")
				mustExec(t, d.DB, "INSERT INTO sessions (session_id, user_id, created_at) VALUES (UNHEX('00ff10ab00000000000000000000beef'), 'u1', '2026-01-02 03:04:05.678')")
				mustMigrate(t, d.DB)
				mustValidate(t, d.DB)
				mustExec(t, d.DB, "INSERT INTO sessions (session_id, user_id, created_at) VALUES (UNHEX('ffffffffffffffffffffffffffffff00'), 'u2', '1969-12-31 23:59:59.5')")
				rows, err := d.DB.Query("SELECT session_id, user_id, created_at, security_hash FROM sessions")
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				n := 0
				for rows.Next() {
					var key []byte
					var user, hash string
					var created time.Time
					if err := rows.Scan(&key, &user, &created, &hash); err != nil {
						t.Fatal(err)
					}
					k := schema.KeyText(key)
					e := schema.EpochOf(created, true)
					requireT(t, hash == schema.SecurityHash(&k, &user, &e), "binary key %s: hash %s", k, hash)
					n++
				}
				requireT(t, n == 2, "rows %d", n)
				mustRollback(t, d.DB)
				mustValidate(t, d.DB, sessionsec.ExpectRolledBack())
			})
			t.Run("timestamp-columns", func(t *testing.T) {
				d := testdb.New(t, s)
				mustExec(t, d.DB, "CREATE TABLE sessions (session_id VARCHAR(255) NOT NULL PRIMARY KEY, user_id VARCHAR(255) NULL, created_at TIMESTAMP(6) NULL, expires_at TIMESTAMP NULL, last_accessed_at TIMESTAMP NULL)")
				mustExec(t, d.DB, "INSERT INTO sessions (session_id, user_id, created_at) VALUES ('a', 'u', '2026-01-02 03:04:05.999999')")
				mustMigrate(t, d.DB)
				mustValidate(t, d.DB)
				var created time.Time
				var hash string
				requireT(t, d.DB.QueryRow("SELECT created_at, security_hash FROM sessions WHERE session_id = 'a'").Scan(&created, &hash) == nil, "read")
				k, u, e := "a", "u", created.Unix()
				requireT(t, hash == schema.SecurityHash(&k, &u, &e), "TIMESTAMP created_at hashed as %s", hash)
			})
		})
	}
}

// pgDB opens d with extra connection parameters (search_path, for one).
func pgDB(t *testing.T, d *testdb.DB, params string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", d.DSN+"&"+params)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// TestShapesPostgres: partitioned tables and views are refused; 'infinity' timestamps migrate (they hash
// like NULL); an unqualified name that resolves to another schema than the one the change would use is
// refused; an application trigger that would fire after the hash trigger is refused with the rename.
func TestShapesPostgres(t *testing.T) {
	s := testdb.Servers[2]
	base := "session_id text %s, user_id text, created_at timestamptz, expires_at timestamptz, last_accessed_at timestamptz"
	t.Run("partitioned", func(t *testing.T) {
		d := testdb.New(t, s)
		mustExec(t, d.DB, "CREATE TABLE sessions ("+fmt.Sprintf(base, "NOT NULL")+", PRIMARY KEY (session_id)) PARTITION BY HASH (session_id)")
		mustExec(t, d.DB, "CREATE TABLE sessions_p0 PARTITION OF sessions FOR VALUES WITH (MODULUS 2, REMAINDER 0)")
		mustExec(t, d.DB, "CREATE TABLE sessions_p1 PARTITION OF sessions FOR VALUES WITH (MODULUS 2, REMAINDER 1)")
		refused(t, d, d.DB, sessionsec.ErrIncompatibleTable, "partitioned", "per partition")
	})
	t.Run("view", func(t *testing.T) {
		d := testdb.New(t, s)
		mustExec(t, d.DB, "CREATE TABLE real_sessions ("+fmt.Sprintf(base, "PRIMARY KEY")+")")
		mustExec(t, d.DB, "CREATE VIEW sessions AS SELECT * FROM real_sessions")
		refused(t, d, d.DB, sessionsec.ErrIncompatibleTable, "view")
	})
	t.Run("nullable-unique-key", func(t *testing.T) {
		d := testdb.New(t, s)
		mustExec(t, d.DB, "CREATE TABLE sessions (pk serial PRIMARY KEY, "+fmt.Sprintf(base, "UNIQUE")+")")
		refused(t, d, d.DB, sessionsec.ErrIncompatibleTable, "nullable")
	})
	t.Run("infinity", func(t *testing.T) {
		d := testdb.New(t, s)
		mustExec(t, d.DB, "CREATE TABLE sessions ("+fmt.Sprintf(base, "PRIMARY KEY")+")")
		mustExec(t, d.DB, "INSERT INTO sessions VALUES ('inf', 'u', 'infinity', 'infinity', '-infinity'), ('fin', 'u', '2026-01-01 00:00:00.999999+00', 'infinity', NULL)")
		mustMigrate(t, d.DB)
		mustValidate(t, d.DB)
		mustExec(t, d.DB, "INSERT INTO sessions (session_id, user_id, created_at) VALUES ('inf2', 'u', '-infinity')")
		for _, id := range []string{"inf", "inf2"} {
			var hash string
			requireT(t, d.DB.QueryRow("SELECT security_hash FROM sessions WHERE session_id = $1", id).Scan(&hash) == nil, "read %s", id)
			k, u := id, "u"
			requireT(t, hash == schema.SecurityHash(&k, &u, nil), "an infinite created_at hashes like NULL: %s", hash)
		}
		mustExec(t, d.DB, "CALL CleanupExpiredSecureSessions()")
		var n int
		requireT(t, d.DB.QueryRow("SELECT COUNT(*) FROM sessions WHERE session_id = 'inf'").Scan(&n) == nil && n == 1, "an infinitely valid session was cleaned up")
	})
	t.Run("shadowed-by-search-path", func(t *testing.T) {
		d := testdb.New(t, s)
		mustExec(t, d.DB, "CREATE TABLE public.sessions ("+fmt.Sprintf(base, "PRIMARY KEY")+")")
		mustExec(t, d.DB, "CREATE SCHEMA app")
		db := pgDB(t, d, "search_path=app,public")
		refused(t, d, db, sessionsec.ErrIncompatibleTable, "public.sessions", "search_path")
		var n int
		requireT(t, d.DB.QueryRow("SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'app'").Scan(&n) == nil && n == 0, "tables were created in schema app")
	})
	t.Run("late-user-trigger", func(t *testing.T) {
		d := testdb.New(t, s)
		mustExec(t, d.DB, "CREATE TABLE sessions ("+fmt.Sprintf(base, "PRIMARY KEY")+")")
		mustExec(t, d.DB, "CREATE FUNCTION app_lower() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.user_id := lower(NEW.user_id); RETURN NEW; END $$")
		mustExec(t, d.DB, "CREATE TRIGGER trg_sessions_normalize BEFORE INSERT ON sessions FOR EACH ROW EXECUTE FUNCTION app_lower()")
		refused(t, d, d.DB, sessionsec.ErrConflictingObject, "trg_sessions_normalize", "RENAME TO")
		mustExec(t, d.DB, "ALTER TRIGGER trg_sessions_normalize ON sessions RENAME TO a_trg_sessions_normalize")
		mustMigrate(t, d.DB)
		mustValidate(t, d.DB)
		mustExec(t, d.DB, "INSERT INTO sessions (session_id, user_id) VALUES ('x', 'MiXeD')")
		var hash string
		requireT(t, d.DB.QueryRow("SELECT security_hash FROM sessions WHERE session_id = 'x'").Scan(&hash) == nil, "read")
		k, u := "x", "mixed"
		requireT(t, hash == schema.SecurityHash(&k, &u, nil), "the hash is not over the stored (normalized) row")
	})
}

// TestPostgresSchemaBinding: migrated in schema a, the objects work from a session whose search_path is
// public, and the procedures never touch another schema's session table, whatever search_path the
// caller has (CVE-2018-1058).
func TestPostgresSchemaBinding(t *testing.T) {
	d := testdb.New(t, testdb.Servers[2])
	mustExec(t, d.DB, "CREATE SCHEMA a")
	mustExec(t, d.DB, "CREATE SCHEMA b")
	mustExec(t, d.DB, "CREATE TABLE b.sessions (session_id text PRIMARY KEY, user_id text, created_at timestamptz, expires_at timestamptz, last_accessed_at timestamptz, risk_score int DEFAULT 99)")
	mustExec(t, d.DB, "INSERT INTO b.sessions (session_id, expires_at) SELECT 'b' || g, now() - interval '1 day' FROM generate_series(1, 100) g")
	mustExec(t, d.DB, "CREATE TABLE b.session_audit_log (id serial, action text, details jsonb)")
	a := pgDB(t, d, "search_path=a")
	mustMigrate(t, a)
	mustValidate(t, a)
	public := pgDB(t, d, "search_path=public")
	mustExec(t, public, "INSERT INTO a.sessions (session_id, user_id, expires_at) VALUES ('s1', 'u', now() - interval '1 hour')")
	var hash sql.NullString
	requireT(t, public.QueryRow("SELECT security_hash FROM a.sessions WHERE session_id = 's1'").Scan(&hash) == nil && hash.Valid, "insert from a public session: no hash")
	bdb := pgDB(t, d, "search_path=b")
	mustExec(t, bdb, "CALL a.CleanupExpiredSecureSessions()")
	mustExec(t, bdb, "CALL a.UpdateSessionRiskScores()")
	var nb, na, auditB int
	requireT(t, d.DB.QueryRow("SELECT COUNT(*) FROM b.sessions").Scan(&nb) == nil && nb == 100, "b.sessions lost rows: %d", nb)
	requireT(t, d.DB.QueryRow("SELECT COUNT(*) FROM b.session_audit_log").Scan(&auditB) == nil && auditB == 0, "audit rows went to schema b: %d", auditB)
	requireT(t, d.DB.QueryRow("SELECT COUNT(*) FROM a.sessions").Scan(&na) == nil && na == 0, "a.sessions kept its expired session")
	mustRollback(t, a)
	mustValidate(t, a, sessionsec.ExpectRolledBack())
}

// TestShapesSQLite: a WITHOUT ROWID table and a view are refused; times as modernc.org/sqlite writes a
// time.Time (its String form) and as mattn/go-sqlite3 writes one are hashed as the instants they are.
func TestShapesSQLite(t *testing.T) {
	s := testdb.Servers[3]
	base := "session_id TEXT NOT NULL PRIMARY KEY, user_id TEXT, created_at DATETIME, expires_at DATETIME, last_accessed_at DATETIME"
	t.Run("without-rowid", func(t *testing.T) {
		d := testdb.New(t, s)
		mustExec(t, d.DB, "CREATE TABLE sessions ("+base+") WITHOUT ROWID")
		refused(t, d, d.DB, sessionsec.ErrIncompatibleTable, "WITHOUT ROWID")
	})
	t.Run("view", func(t *testing.T) {
		d := testdb.New(t, s)
		mustExec(t, d.DB, "CREATE TABLE real_sessions ("+base+")")
		mustExec(t, d.DB, "CREATE VIEW sessions AS SELECT * FROM real_sessions")
		refused(t, d, d.DB, sessionsec.ErrIncompatibleTable, "view")
	})
	t.Run("driver-time-forms", func(t *testing.T) {
		d := testdb.New(t, s)
		mustExec(t, d.DB, "CREATE TABLE sessions ("+base+")")
		berlin := time.FixedZone("CET", 3600)
		instant := time.Date(2026, 2, 14, 23, 30, 15, 999_000_000, berlin)
		mustExecArgs(t, d.DB, "INSERT INTO sessions (session_id, user_id, created_at) VALUES ('modernc-old', 'u', ?)", instant)
		mustMigrate(t, d.DB)
		mustExecArgs(t, d.DB, "INSERT INTO sessions (session_id, user_id, created_at) VALUES ('modernc-new', 'u', ?)", time.Now().In(berlin))
		mustExecArgs(t, d.DB, "INSERT INTO sessions (session_id, user_id, created_at) VALUES ('mattn', 'u', ?)", instant.Format("2006-01-02 15:04:05.999999999-07:00"))
		mustExecArgs(t, d.DB, "INSERT INTO sessions (session_id, user_id, created_at) VALUES ('current', 'u', CURRENT_TIMESTAMP)")
		rows, err := d.DB.Query("SELECT session_id, CAST(created_at AS TEXT), security_hash FROM sessions")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id, text, hash string
			if err := rows.Scan(&id, &text, &hash); err != nil {
				t.Fatal(err)
			}
			var want time.Time
			switch id {
			case "modernc-old", "mattn":
				want = instant
			default:
				layout := "2006-01-02 15:04:05"
				if strings.Contains(text, " m=") || strings.Contains(text, "CET") {
					layout = "2006-01-02 15:04:05.999999999 -0700 MST"
					text, _, _ = strings.Cut(text, " m=")
				}
				w, err := time.Parse(layout, text)
				requireT(t, err == nil, "parse %q: %v", text, err)
				want = w
			}
			u, e := "u", want.Unix()
			requireT(t, hash == schema.SecurityHash(&id, &u, &e), "row %s (created_at %q): the hash is not over its instant", id, text)
		}
	})
}
