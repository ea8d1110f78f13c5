package main

import (
	"strings"
	"testing"

	"github.com/agui-go/sessionsec/internal/testdb"
)

// TestCommandTableChoice (issue 19 items 1 and 2): with no -table on a database whose session table has
// another name, up refuses and names the table and the flag; once the change is on that table, rollback,
// validate and the tasks with no -table or another one refuse and change nothing.
func TestCommandTableChoice(t *testing.T) {
	testdb.Each(t, func(t *testing.T, d *testdb.DB) {
		dir := t.TempDir()
		db := []string{"-database", d.CLIURL}
		run := func(code int, says string, args ...string) ran {
			t.Helper()
			r := runCmd(t, dir, nil, "", append(append([]string{}, db...), args...)...)
			if r.code != code || !strings.Contains(r.stdout+r.stderr, says) {
				t.Fatalf("sessionsec %v: exit %d (want %d), output does not say %q:\n%s%s", args, r.code, code, says, r.stdout, r.stderr)
			}
			return r
		}
		mustExec(t, d, `CREATE TABLE agui_sessions (session_id VARCHAR(64) NOT NULL PRIMARY KEY, user_id VARCHAR(64) NULL,
			created_at TIMESTAMP NULL, last_accessed_at TIMESTAMP NULL, expires_at TIMESTAMP NULL)`)
		mustExec(t, d, `CREATE TABLE other (session_id VARCHAR(64) NOT NULL PRIMARY KEY, user_id VARCHAR(64) NULL,
			created_at TIMESTAMP NULL, last_accessed_at TIMESTAMP NULL, expires_at TIMESTAMP NULL)`)

		// Two tables of a known layout, neither named sessions: up names both and creates nothing.
		r := run(1, "-table agui_sessions", "up")
		for _, want := range []string{"-table other", "-table sessions", "nothing was changed"} {
			requireOut(t, r.stderr, want)
		}
		run(0, "no version applied", "status")

		run(0, "", "up", "-table", "agui_sessions")
		for _, args := range [][]string{
			{"rollback", "-yes", "-table", "other"},
			{"rollback", "-yes"},
			{"rollback", "-yes", "-table", "no_such_table"},
			{"validate"},
			{"status", "-table", "other"},
			{"cleanup"},
			{"archive", "-table", "other"},
		} {
			r := run(1, "-table agui_sessions", args...)
			requireOut(t, r.stderr, "on table agui_sessions")
		}
		run(0, "valid", "validate", "-table", "agui_sessions")
		run(0, "version 22, latest 22", "status", "-table", "agui_sessions")
		run(0, "rolled back", "rollback", "-yes", "-table", "agui_sessions")
	})
}
