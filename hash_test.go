package sessionsec_test

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/agui-go/sessionsec/internal/testdb"
	"github.com/agui-go/sessionsec/schema"
)

// hashVectors are created_at values where a rounding hash goes wrong: a fraction just under a second
// (DECIMAL division rounds it up), pre-1970 fractions (DIV truncates toward zero), and the last
// microsecond of the supported range.
var hashVectors = []struct {
	literal string
	epoch   int64
}{
	{"2024-05-01 10:00:00.999970", 1714557600},
	{"2024-05-01 10:00:00.999999", 1714557600},
	{"1969-12-31 23:59:59.999999", -1},
	{"1969-07-20 20:17:40.500000", -14182940},
	{"1970-01-01 00:00:00.000000", 0},
	{"9999-12-31 23:59:59.999999", 253402300799},
}

// TestHashKnownAnswers: on every server, the insert trigger and the backfill store, for each vector, the
// hash of exactly the expected epoch second - also under session settings that change division
// (div_precision_increment) and time zones, which the hash must not depend on.
func TestHashKnownAnswers(t *testing.T) {
	for _, v := range hashVectors {
		want, err := time.Parse("2006-01-02 15:04:05.999999", v.literal)
		requireT(t, err == nil && schema.EpochOf(want, true) == v.epoch, "vector %s: Go epoch %d, want %d", v.literal, schema.EpochOf(want, true), v.epoch)
	}
	settings := map[string][]string{
		"mysql":    {"SET div_precision_increment = 1", "SET time_zone = '+09:00'"},
		"mariadb":  {"SET div_precision_increment = 0", "SET time_zone = '-05:00'"},
		"postgres": {"SET TIME ZONE 'Asia/Tokyo'", "SET extra_float_digits = -15"},
	}
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		literal := func(s string) string {
			if d.Server.Dialect == "postgres" {
				return "'" + s + "+00'"
			}
			return "'" + s + "'"
		}
		typ := map[string]string{"mysql": "DATETIME(6)", "postgres": "timestamptz", "sqlite": "TEXT"}[d.Server.Dialect]
		mustExec(t, d.DB, fmt.Sprintf("CREATE TABLE sessions (session_id VARCHAR(64) NOT NULL PRIMARY KEY, user_id VARCHAR(64), created_at %[1]s, expires_at %[1]s, last_accessed_at %[1]s)", typ))
		for i, v := range hashVectors { // rows for the backfill
			mustExec(t, d.DB, fmt.Sprintf("INSERT INTO sessions (session_id, user_id, created_at) VALUES ('old-%d', 'u', %s)", i, literal(v.literal)))
		}
		mustMigrate(t, d.DB)
		conn, err := d.DB.Conn(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, set := range settings[d.Server.Name] {
			if _, err := conn.ExecContext(ctxT(t), set); err != nil {
				t.Fatalf("%s: %v", set, err)
			}
		}
		for i, v := range hashVectors { // rows for the trigger, under the odd settings
			if _, err := conn.ExecContext(ctxT(t), fmt.Sprintf("INSERT INTO sessions (session_id, user_id, created_at) VALUES ('new-%d', 'u', %s)", i, literal(v.literal))); err != nil {
				t.Fatal(err)
			}
		}
		_ = conn.Close()
		for i, v := range hashVectors {
			for _, id := range []string{fmt.Sprintf("old-%d", i), fmt.Sprintf("new-%d", i)} {
				var hash sql.NullString
				requireT(t, d.DB.QueryRow("SELECT security_hash FROM sessions WHERE session_id = "+ph(d, 1), id).Scan(&hash) == nil, "read %s", id)
				k, u, e := id, "u", v.epoch
				requireT(t, hash.String == schema.SecurityHash(&k, &u, &e), "%s, created_at %s: stored hash is not that of epoch %d", id, v.literal, v.epoch)
			}
		}
	})
}
