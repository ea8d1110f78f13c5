package sqlite

import (
	"errors"
	"regexp"
	"strings"

	modernc "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// IsLockTimeout reports SQLITE_BUSY / SQLITE_LOCKED ("database is locked"): another connection held the
// write lock longer than the busy timeout.
func (Dialect) IsLockTimeout(err error) bool {
	if err == nil {
		return false
	}
	var se *modernc.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return true
		}
	}
	// golang-migrate's database.Error has no Unwrap: fall back to the message.
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "database is locked") || strings.Contains(msg, "sqlite_busy") ||
		strings.Contains(msg, "database table is locked")
}

// Refusal sorts SQLITE_READONLY (a read-only file or connection) and SQLITE_AUTH / SQLITE_PERM (an
// authorizer or the file system refused).
func (Dialect) Refusal(err error) dialect.Kind {
	var se *modernc.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_READONLY:
			return dialect.KindReadOnly
		case sqlite3.SQLITE_AUTH, sqlite3.SQLITE_PERM:
			return dialect.KindPrivileges
		}
	}
	return 0
}

// quotedValue matches a quoted literal in an SQLite message.
var quotedValue = regexp.MustCompile(`'(?:[^']|'')*'`)

// Scrub returns the message with quoted values removed (SQLite quotes values in some constraint errors).
func (Dialect) Scrub(err error) string { return quotedValue.ReplaceAllString(err.Error(), "'…'") }
