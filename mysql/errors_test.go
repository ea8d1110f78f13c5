package mysql

import (
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/golang-migrate/migrate/v4/database"
)

// TestScrub: quoted values in a server message (row data: a session id's bytes, a duplicate key) are
// removed, also through golang-migrate's database.Error, whose message would embed the whole file.
func TestScrub(t *testing.T) {
	raw := &gomysql.MySQLError{Number: 1366, Message: `Incorrect string value: '\xF0\x9F\x92\xA9sid' for column 'session_id' at row 1`}
	for _, err := range []error{raw, database.Error{OrigErr: raw, Err: "migration failed", Query: []byte("INSERT ... secret")}} {
		got := Dialect{}.Scrub(err)
		if strings.Contains(got, `\xF0`) || strings.Contains(got, "sid'") || strings.Contains(got, "secret") || !strings.Contains(got, "1366") {
			t.Errorf("Scrub = %q", got)
		}
	}
	if !(Dialect{}).IsLockTimeout(&gomysql.MySQLError{Number: 1205}) || (Dialect{}).IsLockTimeout(raw) {
		t.Error("lock timeout classification")
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]version{"9.7.4-2": {9, 7, 4}, "10.11.19-MariaDB-0+deb12u1-log": {10, 11, 19}, "5.5.5-10.6.12-MariaDB": {10, 6, 12}} {
		if got, ok := parseVersion(in); !ok || got != want {
			t.Errorf("parseVersion(%q) = %v", in, got)
		}
	}
	if (version{8, 0, 28}).atLeast(minMySQL) || !(version{8, 0, 29}).atLeast(minMySQL) {
		t.Error("gate")
	}
}
