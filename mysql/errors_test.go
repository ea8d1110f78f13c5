package mysql

import (
	"strings"
	"testing"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/golang-migrate/migrate/v4/database"

	"github.com/agui-go/sessionsec/internal/dialect"
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

// TestRefusal: access-denied errors are privileges, read-only errors read-only, others neither - also
// inside golang-migrate's database.Error.
func TestRefusal(t *testing.T) {
	for n, want := range map[uint16]dialect.Kind{1142: dialect.KindPrivileges, 1370: dialect.KindPrivileges, 1044: dialect.KindPrivileges,
		1290: dialect.KindReadOnly, 1792: dialect.KindReadOnly, 1205: 0, 1451: 0} {
		err := &gomysql.MySQLError{Number: n}
		for _, e := range []error{err, database.Error{OrigErr: err}} {
			if got := (Dialect{}).Refusal(e); got != want {
				t.Errorf("Refusal(%d) = %v, want %v", n, got, want)
			}
		}
	}
}
