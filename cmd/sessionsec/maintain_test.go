package main

import (
	"fmt"
	"testing"

	"github.com/agui-go/sessionsec/internal/testdb"
)

// TestMaintenanceBatchFlag (issue 19 item 11): -batch sets the batch size of cleanup and risk on every
// server (they used to run the procedures' fixed 1000 on MySQL and PostgreSQL).
func TestMaintenanceBatchFlag(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		dir := t.TempDir()
		db := []string{"-database", d.CLIURL}
		task := func(args ...string) map[string]any {
			t.Helper()
			r := runCmd(t, dir, nil, "", append(append(db, args...), "-json")...)
			if r.code != 0 {
				t.Fatalf("sessionsec %v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
			}
			return jsonOf(t, r)["task"].(map[string]any)
		}
		if r := runCmd(t, dir, nil, "", append(db, "up")...); r.code != 0 {
			t.Fatalf("up: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
		for i := range 5 {
			mustExec(t, d, fmt.Sprintf("INSERT INTO sessions (session_id, user_id, expires_at) VALUES ('old-%d', 'u', '2020-01-02 00:00:00')", i))
		}
		if r := task("risk", "-batch", "2"); r["rows"].(float64) != 5 || r["batches"].(float64) != 3 {
			t.Fatalf("risk -batch 2: %v", r)
		}
		if r := task("cleanup", "-batch", "2"); r["rows"].(float64) != 5 || r["batches"].(float64) != 3 {
			t.Fatalf("cleanup -batch 2: %v", r)
		}
	})
}
