package sessionsec_test

import (
	"bytes"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
)

// TestBackfillProgress: on a 100k-row table the backfill reports every batch - rows done rising to
// the table's size, a total, a final report - and logs how far it is; every row ends up hashed as Go
// recomputes it. SQLite fills in one statement and reports the step only (checked on 10k rows: its
// hash is a Go function per row, which the race detector makes 50x slower).
func TestBackfillProgress(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		rows := int64(100_000)
		if d.Server.Dialect == "sqlite" {
			rows = 10_000
		}
		createExisting(t, d, int(rows))
		var mu sync.Mutex
		var batches []sessionsec.Progress
		var stepDone bool
		var logs bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))
		mustMigrate(t, d.DB, sessionsec.WithLogger(logger), sessionsec.WithProgress(func(pr sessionsec.Progress) {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case pr.Throttled:
				// A pause for a lagging replica (the PostgreSQL standby of the topology, on a busy machine).
			case pr.Version == 10 && pr.Unit == sessionsec.UnitRows:
				batches = append(batches, pr)
			case pr.Version == 10 && pr.Unit == sessionsec.UnitSteps && pr.Final:
				stepDone = true
			}
		}))
		requireT(t, stepDone, "no step report for the backfill")
		verifyHashes(t, d, int(rows))
		if d.Server.Dialect == "sqlite" {
			requireT(t, len(batches) == 0, "SQLite reported %d backfill batches; its backfill is one statement", len(batches))
			return
		}
		requireT(t, int64(len(batches)) >= rows/5000, "%d batch reports for %d rows in batches of 5000", len(batches), rows)
		for i, pr := range batches {
			requireT(t, pr.Task == "migrate" && pr.Step == "backfill" && pr.Total >= pr.Done && pr.Done > 0, "report %d: %+v", i, pr)
			if i > 0 {
				requireT(t, pr.Done > batches[i-1].Done || pr.Final, "report %d does not advance: %+v after %+v", i, pr, batches[i-1])
			}
		}
		last := batches[len(batches)-1]
		requireT(t, last.Final && last.Done == rows && last.Total == rows, "last report %+v, want final with %d rows", last, rows)
		out := logs.String()
		requireT(t, strings.Contains(out, `msg="sessionsec: backfill" rows=`) && strings.Contains(out, "per_second="),
			"no progress log line:\n%s", out)
		requireT(t, strings.Contains(out, fmt.Sprintf(`msg="sessionsec: backfill done" rows=%d`, rows)), "no final backfill log line:\n%s", out)
	})
}

// syncWriter serialises writes from the logger (the callback and the log run on one goroutine, the
// lock waiter's log on another).
type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestBackfillKeyTypes: the backfill's keyset walk reads each batch's last key back from the server
// and binds it again; every key type must compare as the column does (a text key in its collation,
// with a driver that interpolates parameters too), or batches are skipped or repeated.
func TestBackfillKeyTypes(t *testing.T) {
	const n = 12_001 // three batches of 5000 and a last one of 2001 keys
	mysqlKeys := []struct{ name, typ string }{
		{"binary", "BINARY(16) NOT NULL PRIMARY KEY"},
		{"bigint", "BIGINT NOT NULL PRIMARY KEY"},
		{"ci-text", "VARCHAR(64) COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY"},
	}
	pgKeys := []struct{ name, typ string }{
		{"uuid", "uuid PRIMARY KEY"},
		{"bytea", "bytea PRIMARY KEY"},
		{"bigint", "bigint PRIMARY KEY"},
		{"text", "text PRIMARY KEY"},
	}
	key := func(typ string, i int) any {
		switch {
		case strings.HasPrefix(typ, "BINARY"), strings.HasPrefix(typ, "bytea"):
			b := make([]byte, 16)
			b[0], b[1], b[2], b[15] = byte(i>>16), byte(i>>8), byte(i), 0x00 // trailing zero byte: no padding games
			return b
		case strings.HasPrefix(typ, "BIGINT"), strings.HasPrefix(typ, "bigint"):
			return int64(i*7919) - 40_000 // negative and positive
		case strings.HasPrefix(typ, "uuid"):
			return fmt.Sprintf("%08x-0000-4000-8000-%012x", i*2654435761%(1<<32), i)
		}
		// Mixed case and accents: a binary comparison would order these differently from the collation.
		return []string{"a", "B", "é", "Z", "ü"}[i%5] + fmt.Sprintf("-%06d", i)
	}
	run := func(t *testing.T, d *testdb.DB, db *sql.DB, typ string) {
		base := "user_id VARCHAR(255) NULL, created_at TIMESTAMP NULL, expires_at TIMESTAMP NULL, last_accessed_at TIMESTAMP NULL"
		if d.Server.Dialect == "postgres" {
			base = "user_id text, created_at timestamptz, expires_at timestamptz, last_accessed_at timestamptz"
		}
		mustExec(t, d.DB, "CREATE TABLE sessions (session_id "+typ+", "+base+")")
		for from := 0; from < n; from += 1000 {
			var sb strings.Builder
			var args []any
			sb.WriteString("INSERT INTO sessions (session_id, user_id, created_at) VALUES ")
			for i := from; i < min(from+1000, n); i++ {
				if i > from {
					sb.WriteString(", ")
				}
				fmt.Fprintf(&sb, "(%s, %s, %s)", ph(d, len(args)+1), ph(d, len(args)+2), ph(d, len(args)+3))
				args = append(args, key(typ, i), fmt.Sprint("u", i%10), time.Date(2026, 1, 1, 0, 0, i%60, 999_999_000, time.UTC))
			}
			mustExec(t, d.DB, sb.String(), args...)
		}
		var batches int
		mustMigrate(t, db, sessionsec.WithProgress(func(pr sessionsec.Progress) {
			if pr.Unit == sessionsec.UnitRows && pr.Version == 10 && !pr.Final {
				batches++
			}
		}))
		mustValidate(t, db)
		var left, total int
		if err := d.DB.QueryRow("SELECT COUNT(*), SUM(CASE WHEN security_hash IS NULL THEN 1 ELSE 0 END) FROM sessions").Scan(&total, &left); err != nil {
			t.Fatal(err)
		}
		requireT(t, total == n && left == 0, "%d rows, %d left without a hash", total, left)
		requireT(t, batches == 3, "%d batches for %d keys, want 3 (5000 each, the last one short)", batches, n)
	}
	for _, s := range testdb.Servers {
		switch s.Dialect {
		case "mysql":
			for _, k := range mysqlKeys {
				for _, interpolate := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/%s/interpolate=%v", s.Name, k.name, interpolate), func(t *testing.T) {
						d := testdb.New(t, s)
						db := d.DB
						if interpolate {
							var err error
							if db, err = sql.Open(d.DriverName, d.DSN+"&interpolateParams=true"); err != nil {
								t.Fatal(err)
							}
							t.Cleanup(func() { _ = db.Close() })
						}
						run(t, d, db, k.typ)
					})
				}
			}
		case "postgres":
			for _, k := range pgKeys {
				t.Run(s.Name+"/"+k.name, func(t *testing.T) {
					d := testdb.New(t, s)
					run(t, d, d.DB, k.typ)
				})
			}
		}
	}
}
