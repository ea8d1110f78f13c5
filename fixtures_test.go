package sessionsec_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/agui-go/sessionsec/internal/testdb"
)

// existingTable is a pre-existing, application-owned sessions table per dialect: other column types than
// the ones the migrations would create, a user column and a user index that must survive, nullable
// created_at, and (on MySQL) a latin1 character set.
var existingTable = map[string][]string{
	"mysql": {
		`CREATE TABLE sessions (
			session_id VARCHAR(191) NOT NULL PRIMARY KEY,
			user_id VARCHAR(100) NULL,
			created_at DATETIME NULL,
			expires_at DATETIME NULL,
			last_accessed_at DATETIME NULL,
			payload TEXT NULL,
			KEY idx_user (user_id)
		) ENGINE=InnoDB DEFAULT CHARSET=latin1`,
	},
	"postgres": {
		`CREATE TABLE sessions (
			session_id text PRIMARY KEY,
			user_id text,
			created_at timestamp without time zone,
			expires_at timestamptz,
			last_accessed_at timestamptz,
			payload jsonb
		)`,
		`CREATE INDEX idx_user ON sessions (user_id)`,
	},
	"sqlite": {
		`CREATE TABLE sessions (
			session_id TEXT PRIMARY KEY,
			user_id TEXT,
			created_at TEXT,
			expires_at TEXT,
			last_accessed_at TEXT,
			payload TEXT
		)`,
		`CREATE INDEX idx_user ON sessions (user_id)`,
	},
}

// ph returns the n-th bind placeholder of the dialect.
func ph(d *testdb.DB, n int) string {
	if d.Server.Dialect == "postgres" {
		return fmt.Sprintf("$%d", n)
	}
	return "?"
}

// createExisting creates the application's own sessions table and fills it with rows: some with NULL
// user_id, created_at or last_accessed_at, some expired, some active, a few non-ASCII identifiers.
func createExisting(t testing.TB, d *testdb.DB, rows int) {
	t.Helper()
	ctx := context.Background()
	for _, stmt := range existingTable[d.Server.Dialect] {
		if _, err := d.DB.ExecContext(ctx, stmt); err != nil {
			t.Fatalf("creating the existing table: %v", err)
		}
	}
	seed(t, d, 0, rows)
}

// seed inserts rows [from, from+n) in multi-row INSERTs.
func seed(t testing.TB, d *testdb.DB, from, n int) {
	t.Helper()
	ctx := context.Background()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const batch = 500
	for start := from; start < from+n; start += batch {
		end := min(start+batch, from+n)
		var sb strings.Builder
		sb.WriteString("INSERT INTO sessions (session_id, user_id, created_at, expires_at, last_accessed_at) VALUES ")
		args := make([]any, 0, (end-start)*5)
		for i := start; i < end; i++ {
			if i > start {
				sb.WriteString(", ")
			}
			k := len(args)
			fmt.Fprintf(&sb, "(%s, %s, %s, %s, %s)", ph(d, k+1), ph(d, k+2), ph(d, k+3), ph(d, k+4), ph(d, k+5))
			id := fmt.Sprintf("sess-%08d", i)
			if i%97 == 0 {
				id = fmt.Sprintf("séss-%08d-ü", i) // non-ASCII survives latin1 and utf8
			}
			var user, created, accessed any
			if i%7 != 0 {
				user = fmt.Sprintf("user-%d", i%1000)
			}
			if i%11 != 0 {
				created = ts(d, base.Add(time.Duration(i)*time.Second))
			}
			if i%5 != 0 {
				accessed = ts(d, base.Add(time.Duration(i)*time.Minute))
			}
			expires := ts(d, base.Add(time.Duration(i%3-1)*24*time.Hour*365)) // a third expired long ago
			args = append(args, id, user, created, expires, accessed)
		}
		if _, err := d.DB.ExecContext(ctx, sb.String(), args...); err != nil {
			t.Fatalf("seeding sessions: %v", err)
		}
	}
}

// ts renders a timestamp the way each driver takes it.
func ts(d *testdb.DB, t time.Time) any {
	if d.Server.Dialect == "sqlite" {
		return t.UTC().Format("2006-01-02 15:04:05")
	}
	return t
}

// baseChecksum hashes every row's base columns in session_id order, as the application sees them.
func baseChecksum(t testing.TB, d *testdb.DB) (string, int) {
	t.Helper()
	rows, err := d.DB.QueryContext(context.Background(),
		"SELECT session_id, user_id, created_at, expires_at, last_accessed_at FROM sessions ORDER BY session_id")
	if err != nil {
		t.Fatalf("checksum: %v", err)
	}
	defer rows.Close()
	h := sha256.New()
	n := 0
	for rows.Next() {
		var v [5]sql.NullString
		if err := rows.Scan(&v[0], &v[1], &v[2], &v[3], &v[4]); err != nil {
			t.Fatalf("checksum scan: %v", err)
		}
		for _, s := range v {
			fmt.Fprintf(h, "%t:%d:%s|", s.Valid, len(s.String), s.String)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}
