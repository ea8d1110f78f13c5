package sessionsec_test

import (
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/agui-go/sessionsec"
	"github.com/agui-go/sessionsec/internal/testdb"
	"github.com/agui-go/sessionsec/schema"
	"github.com/agui-go/sessionsec/sqlite"
)

// The AG-UI Go SDK's DatabaseSessionStorage, as its initDatabaseSchema creates it (public repository
// mattsp1290/ag-ui, go-sdk/pkg/server/session_database.go), and the statements it runs. %s is its
// configurable table name.
var sdkDDL = map[string][]string{
	"mysql": {`CREATE TABLE IF NOT EXISTS %s (
		id VARCHAR(64) PRIMARY KEY,
		user_id VARCHAR(255) NOT NULL,
		created_at TIMESTAMP NOT NULL,
		last_accessed TIMESTAMP NOT NULL,
		expires_at TIMESTAMP NOT NULL,
		ip_address VARCHAR(45),
		user_agent TEXT,
		is_active BOOLEAN NOT NULL DEFAULT true,
		data JSON,
		metadata JSON,
		INDEX idx_user_id (user_id),
		INDEX idx_expires_at (expires_at),
		INDEX idx_last_accessed (last_accessed),
		INDEX idx_active_expires (is_active, expires_at)
	) ENGINE=InnoDB`},
	"postgres": {`CREATE TABLE IF NOT EXISTS %[1]s (
		id VARCHAR(64) PRIMARY KEY,
		user_id VARCHAR(255) NOT NULL,
		created_at TIMESTAMP WITH TIME ZONE NOT NULL,
		last_accessed TIMESTAMP WITH TIME ZONE NOT NULL,
		expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
		ip_address INET,
		user_agent TEXT,
		is_active BOOLEAN NOT NULL DEFAULT true,
		data JSONB,
		metadata JSONB
	)`,
		"CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_%[1]s_user_id ON %[1]s (user_id)",
		"CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_%[1]s_expires_at ON %[1]s (expires_at)",
		"CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_%[1]s_last_accessed ON %[1]s (last_accessed)",
		"CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_%[1]s_active_expires ON %[1]s (is_active, expires_at) WHERE is_active = true"},
	"sqlite": {`CREATE TABLE IF NOT EXISTS %[1]s (
		id TEXT PRIMARY KEY,
		user_id TEXT NOT NULL,
		created_at DATETIME NOT NULL,
		last_accessed DATETIME NOT NULL,
		expires_at DATETIME NOT NULL,
		ip_address TEXT,
		user_agent TEXT,
		is_active BOOLEAN NOT NULL DEFAULT 1,
		data TEXT,
		metadata TEXT
	)`,
		"CREATE INDEX IF NOT EXISTS idx_%[1]s_user_id ON %[1]s (user_id)",
		"CREATE INDEX IF NOT EXISTS idx_%[1]s_expires_at ON %[1]s (expires_at)",
		"CREATE INDEX IF NOT EXISTS idx_%[1]s_last_accessed ON %[1]s (last_accessed)",
		"CREATE INDEX IF NOT EXISTS idx_%[1]s_active_expires ON %[1]s (is_active, expires_at) WHERE is_active = 1"},
}

// sdk runs the SDK store's statements against one table.
type sdk struct {
	t     *testing.T
	d     *testdb.DB
	db    *sql.DB
	table string
}

func (s sdk) q(query string) string {
	query = fmt.Sprintf(query, s.table)
	if s.d.Server.Dialect != "postgres" {
		return query
	}
	for i := 1; strings.Contains(query, "?"); i++ {
		query = strings.Replace(query, "?", fmt.Sprintf("$%d", i), 1)
	}
	return query
}

func (s sdk) create() {
	for _, stmt := range sdkDDL[s.d.Server.Dialect] {
		mustExec(s.t, s.db, fmt.Sprintf(stmt, s.table))
	}
}

type sdkSession struct {
	ID, UserID, IP, UserAgent      string
	Created, LastAccessed, Expires time.Time
	Active                         bool
	Data, Metadata                 map[string]any
}

func (s sdk) insert(x sdkSession) {
	s.t.Helper()
	data, _ := json.Marshal(x.Data)
	meta, _ := json.Marshal(x.Metadata)
	var ip any = x.IP
	if x.IP == "" {
		ip = nil
	}
	if _, err := s.db.ExecContext(ctxT(s.t), s.q(`INSERT INTO %s (id, user_id, created_at, last_accessed, expires_at, ip_address, user_agent, is_active, data, metadata)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), x.ID, x.UserID, x.Created, x.LastAccessed, x.Expires, ip, x.UserAgent, x.Active, string(data), string(meta)); err != nil {
		s.t.Fatalf("SDK insert: %v", err)
	}
}

func (s sdk) get(id string) (userID string, active bool) {
	s.t.Helper()
	var created, accessed, expires time.Time
	var ip, ua, data, meta sql.NullString
	if err := s.db.QueryRowContext(ctxT(s.t), s.q(`SELECT id, user_id, created_at, last_accessed, expires_at, ip_address, user_agent, is_active, data, metadata
		FROM %s WHERE id = ?`), id).Scan(&id, &userID, &created, &accessed, &expires, &ip, &ua, &active, &data, &meta); err != nil {
		s.t.Fatalf("SDK get %s: %v", id, err)
	}
	return userID, active
}

func (s sdk) touch(id string, at time.Time) {
	s.t.Helper()
	res, err := s.db.ExecContext(ctxT(s.t), s.q(`UPDATE %s SET last_accessed = ?, expires_at = ?, is_active = ?, data = ?, metadata = ?
		WHERE id = ?`), at, at.Add(time.Hour), true, "{}", "{}", id)
	if err != nil {
		s.t.Fatalf("SDK update: %v", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		s.t.Fatalf("SDK update of %s: %d rows", id, n)
	}
}

func (s sdk) active(now time.Time) int {
	s.t.Helper()
	rows, err := s.db.QueryContext(ctxT(s.t), s.q(`SELECT id FROM %s WHERE is_active = ? AND expires_at > ? ORDER BY last_accessed DESC LIMIT ?`), true, now, 1000)
	if err != nil {
		s.t.Fatalf("SDK active sessions: %v", err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	var c int
	if err := s.db.QueryRowContext(ctxT(s.t), s.q(`SELECT COUNT(*) FROM %s WHERE is_active = ? AND expires_at > ?`), true, now).Scan(&c); err != nil || c != n {
		s.t.Fatalf("SDK active count %d vs %d rows (%v)", c, n, err)
	}
	return n
}

func (s sdk) cleanup(now time.Time) int64 {
	s.t.Helper()
	res, err := s.db.ExecContext(ctxT(s.t), s.q(`DELETE FROM %s WHERE expires_at < ? OR is_active = ?`), now, false)
	if err != nil {
		s.t.Fatalf("SDK cleanup: %v", err)
	}
	n, _ := res.RowsAffected()
	return n
}

func (s sdk) delete(id string) {
	s.t.Helper()
	mustExecArgs(s.t, s.db, s.q(`DELETE FROM %s WHERE id = ?`), id)
}

func mustExecArgs(t *testing.T, db *sql.DB, q string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(ctxT(t), q, args...); err != nil {
		t.Fatalf("%s: %v", firstLine(q), err)
	}
}

var sdkIPs = []string{"203.0.113.7", "2001:db8::1", "::ffff:198.51.100.4", "2001:0DB8:0:0:0:0:0:2", "not-an-ip", "",
	"01.2.3.4", "2001:db8:0:0:1:0:0:1", "::1.2.3.4", "FE80::1", "1:0:0:2:0:0:0:3", "::"}

func (s sdk) rows(n int, now time.Time) []sdkSession {
	ips := sdkIPs
	if s.d.Server.Dialect == "postgres" {
		ips = slices.DeleteFunc(slices.Clone(ips), func(ip string) bool { return ip == "not-an-ip" }) // inet refuses it
	}
	out := make([]sdkSession, n)
	for i := range out {
		out[i] = sdkSession{ID: fmt.Sprintf("sdk-%05d", i), UserID: fmt.Sprintf("user-%d", i%7),
			IP: ips[i%len(ips)], UserAgent: "agent/1.0",
			Created:      now.Add(-time.Duration(i) * time.Minute).Add(time.Duration(i%1000) * 997 * time.Microsecond),
			LastAccessed: now.Add(-time.Duration(i) * time.Second),
			Expires:      now.Add(time.Duration(i%3-1) * time.Hour),
			Active:       i%5 != 0,
			Data:         map[string]any{"k": i}, Metadata: map[string]any{"m": "x"}}
	}
	return out
}

// sdkHashes recomputes security_hash and created_ip_hash of every row in Go and compares. Rows whose
// id starts with one of keyedPrefixes were inserted at version 22 or later, whose insert trigger leaves
// created_ip_hash to the sealer: theirs must be NULL.
func sdkHashes(t *testing.T, s sdk, keyedPrefixes ...string) int {
	t.Helper()
	rows, err := s.db.QueryContext(ctxT(t), s.q(`SELECT id, user_id, created_at, ip_address, security_hash, created_ip_hash FROM %s`))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id, user string
		var created any
		var ip, hash, ipHash sql.NullString
		if err := rows.Scan(&id, &user, &created, &ip, &hash, &ipHash); err != nil {
			t.Fatal(err)
		}
		var epoch int64
		switch v := created.(type) {
		case time.Time:
			epoch = v.Unix() // TIMESTAMP / timestamptz: an instant
		default:
			e, ok := sqlite.Epoch(v)
			requireT(t, ok, "row %s: created_at %v is no time", id, v)
			epoch = e
		}
		want := schema.SecurityHash(&id, &user, &epoch)
		requireT(t, hash.String == want, "row %s: security_hash %s, recomputed %s", id, hash.String, want)
		wantIP, ok := "", false
		if ip.Valid && !slices.ContainsFunc(keyedPrefixes, func(p string) bool { return strings.HasPrefix(id, p) }) {
			wantIP, ok = schema.IPHash(ip.String)
		}
		requireT(t, ipHash.Valid == ok && ipHash.String == wantIP, "row %s: created_ip_hash %v for ip %v, want %q (%t)", id, ipHash, ip, wantIP, ok)
		n++
	}
	return n
}

// baseDefinition is the catalog of the table's own columns and indexes, for "restored exactly".
func baseDefinition(t *testing.T, d *testdb.DB, table string) string {
	t.Helper()
	cat := catalog(t, d, table)
	tbl := cat.Tables[table]
	requireT(t, tbl != nil, "table %s is missing", table)
	var b strings.Builder
	for _, c := range tbl.Columns {
		fmt.Fprintf(&b, "%s %s %t %s|", c.Name, c.Type, c.Nullable, deref(c.Default))
	}
	for _, ix := range cat.TableIndexes(table) {
		fmt.Fprintf(&b, "%s %v %t %s|", ix.Name, ix.Columns, ix.Unique, ix.Predicate)
	}
	return b.String()
}

func baseRowsOf(t *testing.T, s sdk) string {
	t.Helper()
	rows, err := s.db.QueryContext(ctxT(t), s.q(`SELECT id, user_id, created_at, last_accessed, expires_at, ip_address, user_agent, is_active, data, metadata FROM %s ORDER BY id`))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		v := make([]sql.NullString, 10)
		ptrs := make([]any, 10)
		for i := range v {
			ptrs[i] = &v[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%v\n", v)
	}
	return b.String()
}

// TestAGUISDKStore: the SDK's own table migrates with no option, on every dialect and under another
// table name; the SDK's statements work before and after; every row's hash and IP hash recompute in Go;
// cleanup treats inactive sessions as expired; and Rollback restores the SDK's exact table with every
// base row unchanged.
func TestAGUISDKStore(t *testing.T) {
	for _, table := range []string{"sessions", "agui_sessions"} {
		t.Run(table, func(t *testing.T) {
			testdb.Each(t, func(t *testing.T, d *testdb.DB) {
				s := sdk{t: t, d: d, db: d.DB, table: table}
				var opts []sessionsec.Option
				if table != "sessions" {
					opts = append(opts, sessionsec.WithTable(table))
				}
				s.create()
				now := time.Now().UTC().Truncate(time.Microsecond)
				for _, x := range s.rows(300, now) {
					s.insert(x)
				}
				s.touch("sdk-00001", now)
				s.delete("sdk-00002")
				_ = s.active(now)
				definition := baseDefinition(t, d, table)

				mustMigrate(t, d.DB, opts...)
				rep := mustValidate(t, d.DB, opts...)
				requireT(t, strings.Contains(rep.Layout, "agui"), "recognised as %s", rep.Layout)
				requireT(t, sdkHashes(t, s) == 299, "rows")

				// The SDK keeps working, and the triggers fill its new rows.
				later := s.rows(20, now.Add(time.Hour))
				for i := range later {
					later[i].ID = fmt.Sprintf("new-%02d", i)
					s.insert(later[i])
				}
				if u, active := s.get("new-03"); u != later[3].UserID || active != later[3].Active {
					t.Fatalf("SDK get after Migrate: %s %t", u, active)
				}
				var validatedBefore, validatedAfter sql.NullString
				_ = d.DB.QueryRow(s.q("SELECT last_validated_at FROM %s WHERE id = ?"), "new-04").Scan(&validatedBefore)
				time.Sleep(1100 * time.Millisecond)
				s.touch("new-04", now.Add(2*time.Hour))
				_ = d.DB.QueryRow(s.q("SELECT last_validated_at FROM %s WHERE id = ?"), "new-04").Scan(&validatedAfter)
				requireT(t, validatedAfter.String != validatedBefore.String, "touching last_accessed did not refresh last_validated_at (%v -> %v)", validatedBefore, validatedAfter)
				requireT(t, sdkHashes(t, s, "new-") == 319, "rows after the SDK's inserts")
				_ = s.active(now)
				before := baseRowsOf(t, s)

				mustRollback(t, d.DB, opts...)
				mustValidate(t, d.DB, append(opts, sessionsec.ExpectRolledBack())...)
				requireT(t, baseDefinition(t, d, table) == definition, "the SDK's table is not as it was:\n%s\nwant\n%s", baseDefinition(t, d, table), definition)
				requireT(t, baseRowsOf(t, s) == before, "base rows changed by Rollback")
				s.cleanup(now)
				mustMigrate(t, d.DB, opts...)
				mustValidate(t, d.DB, opts...)
			})
		})
	}
}

// TestAGUISDKFreshDatabase: with the agui layout named, a fresh database gets the SDK's own table, so the
// SDK's CREATE TABLE IF NOT EXISTS finds it and its statements run.
func TestAGUISDKFreshDatabase(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		mustMigrate(t, d.DB, sessionsec.WithLayout(schema.AGUI))
		s := sdk{t: t, d: d, db: d.DB, table: "sessions"}
		s.create() // the SDK's own start-up: a no-op now
		now := time.Now().UTC().Truncate(time.Microsecond)
		for _, x := range s.rows(30, now) {
			s.insert(x)
		}
		requireT(t, sdkHashes(t, s, "sdk-") == 30, "rows")
		rep := mustValidate(t, d.DB)
		requireT(t, strings.Contains(rep.Layout, "agui"), "recognised as %s", rep.Layout)
	})
}

// TestAGUISDKReplicas: 8 replicas start at once on the SDK's table.
func TestAGUISDKReplicas(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		s := sdk{t: t, d: d, db: d.DB, table: "sessions"}
		s.create()
		now := time.Now().UTC().Truncate(time.Microsecond)
		for _, x := range s.rows(2000, now) {
			s.insert(x)
		}
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs[i] = sessionsec.Migrate(ctxT(t), d.Open(t))
			}(i)
		}
		wg.Wait()
		for i, err := range errs {
			requireT(t, err == nil, "replica %d: %v", i, err)
		}
		mustValidate(t, d.DB)
		requireT(t, sdkHashes(t, s) == 2000, "rows")
	})
}

// TestTimeZonesOfTheCaller: the same instant hashes the same from connections in different time zones,
// and the cleanup routine keeps a session the application (in UTC) wrote as valid for another hour,
// whatever time zone the calling connection uses.
func TestTimeZonesOfTheCaller(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		if d.Server.Dialect == "sqlite" {
			t.Skip("skipping sqlite: no session time zone; times are text written by the driver")
		}
		s := sdk{t: t, d: d, db: d.DB, table: "sessions"}
		s.create()
		mustMigrate(t, d.DB)
		ctx := ctxT(t)
		instant := time.Date(2026, 3, 29, 1, 30, 0, 999999000, time.UTC)
		var first time.Time
		setTZ := map[string][]string{
			"mysql":    {"SET time_zone = '+00:00'", "SET time_zone = '+09:00'", "SET time_zone = '-05:00'", "SET time_zone = '+05:30'"},
			"postgres": {"SET TIME ZONE 'UTC'", "SET TIME ZONE 'Asia/Tokyo'", "SET TIME ZONE 'America/New_York'", "SET TIME ZONE 'Asia/Kolkata'"},
		}[d.Server.Dialect]
		for i, set := range setTZ {
			conn, err := d.DB.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.ExecContext(ctx, set); err != nil {
				t.Fatal(err)
			}
			// The literal is the instant written in that session's zone.
			var lit string
			if d.Server.Dialect == "mysql" {
				if err := conn.QueryRowContext(ctx, "SELECT CAST(CONVERT_TZ(?, '+00:00', @@session.time_zone) AS CHAR)", instant.Format("2006-01-02 15:04:05.000000")).Scan(&lit); err != nil {
					t.Fatal(err)
				}
			} else {
				lit = instant.Format("2006-01-02 15:04:05.000000+00")
			}
			id := fmt.Sprintf("tz-%d", i)
			ins := "INSERT INTO sessions (id, user_id, created_at, last_accessed, expires_at, is_active) VALUES (?, 'u', ?, ?, ?, true)"
			if d.Server.Dialect == "postgres" {
				ins = "INSERT INTO sessions (id, user_id, created_at, last_accessed, expires_at, is_active) VALUES ($1, 'u', $2, $3, $4, true)"
			}
			if _, err := conn.ExecContext(ctx, ins, id, lit, lit, lit); err != nil {
				t.Fatal(err)
			}
			// The stored instant (a TIMESTAMP(0) rounds the fraction) is the same whatever the writer's zone,
			// and the hash is over it.
			var hash string
			var stored time.Time
			if err := d.DB.QueryRow(s.q("SELECT security_hash, created_at FROM %s WHERE id = ?"), id).Scan(&hash, &stored); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				first = stored
			}
			requireT(t, stored.Equal(first), "the instant written under %s reads %v, under the first zone %v", set, stored, first)
			epoch := stored.Unix()
			user := "u"
			requireT(t, hash == schema.SecurityHash(&id, &user, &epoch), "hash of %s written under %s", id, set)
			// A session valid for another hour, written by the application in UTC.
			valid := time.Now().UTC().Add(time.Hour)
			s.insert(sdkSession{ID: fmt.Sprintf("valid-%d", i), UserID: "u", Created: valid, LastAccessed: valid, Expires: valid, Active: true})
			if _, err := conn.ExecContext(ctx, "CALL CleanupExpiredSecureSessions()"); err != nil {
				t.Fatalf("cleanup from %s: %v", set, err)
			}
			_ = conn.Raw(func(any) error { return driver.ErrBadConn }) // discard the session with its time zone
			_ = conn.Close()
			var n int
			if err := d.DB.QueryRow(s.q("SELECT COUNT(*) FROM %s WHERE id = ?"), fmt.Sprintf("valid-%d", i)).Scan(&n); err != nil || n != 1 {
				t.Fatalf("cleanup called from a connection with %s deleted a valid session (%v)", set, err)
			}
		}
	})
}
