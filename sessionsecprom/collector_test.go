package sessionsecprom_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	_ "modernc.org/sqlite"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/sessionsecprom"
	_ "github.com/agui-go/sessionsec/sqlite"
)

// TestScrape registers the collector on a migrated SQLite database with two sessions, one expired, and
// scrapes it once; then again after the database is gone (up 0, no error to the scraper).
func TestScrape(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := sessionsec.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO sessions (session_id, user_id, created_at, last_accessed_at, expires_at) VALUES
		('a', 'u', '2026-01-01 00:00:00', '2026-01-01 00:00:00', '2020-01-01 00:00:00'),
		('b', 'u', '2026-01-01 00:00:00', '2026-01-01 00:00:00', '2999-01-01 00:00:00')`); err != nil {
		t.Fatal(err)
	}
	p, err := sessionsec.New(db)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := sessionsec.NewKeyring("k1", map[string][]byte{"k1": []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SealSession(ctx, ring, "a"); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(sessionsecprom.NewCollector(p))
	want := `
# HELP sessionsec_sessions Rows in the session table.
# TYPE sessionsec_sessions gauge
sessionsec_sessions 2
# HELP sessionsec_sessions_expired Sessions past their expiry that cleanup has yet to remove.
# TYPE sessionsec_sessions_expired gauge
sessionsec_sessions_expired 1
# HELP sessionsec_sessions_hashed_ratio Share of sessions with a security_hash.
# TYPE sessionsec_sessions_hashed_ratio gauge
sessionsec_sessions_hashed_ratio 1
# HELP sessionsec_sessions_sealed Sealed sessions per key id of the ring.
# TYPE sessionsec_sessions_sealed gauge
sessionsec_sessions_sealed{key_id="k1"} 1
# HELP sessionsec_sessions_sealed_ratio Share of sessions with a keyed seal (security_version 2).
# TYPE sessionsec_sessions_sealed_ratio gauge
sessionsec_sessions_sealed_ratio 0.5
# HELP sessionsec_up 1 when the last scrape read the snapshot, 0 when it failed.
# TYPE sessionsec_up gauge
sessionsec_up 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "sessionsec_sessions", "sessionsec_sessions_expired",
		"sessionsec_sessions_hashed_ratio", "sessionsec_sessions_sealed", "sessionsec_sessions_sealed_ratio", "sessionsec_up"); err != nil {
		t.Fatal(err)
	}
	if n, err := testutil.GatherAndCount(reg); err != nil || n != 16 {
		t.Fatalf("%d metrics, %v; want 16", n, err)
	}
	_ = db.Close()
	if err := testutil.GatherAndCompare(reg, strings.NewReader("# HELP sessionsec_up 1 when the last scrape read the snapshot, 0 when it failed.\n# TYPE sessionsec_up gauge\nsessionsec_up 0\n"), "sessionsec_up"); err != nil {
		t.Fatal(err)
	}
}
