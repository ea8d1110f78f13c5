package postgres

import (
	"errors"
	"regexp"

	"github.com/golang-migrate/migrate/v4/database"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lib/pq"
)

// SQLSTATE codes this package classifies.
const (
	codeLockNotAvailable = "55P03"
	codeDeadlockDetected = "40P01"
)

// SQLState returns the SQLSTATE of err from lib/pq or pgx, looking inside golang-migrate's
// database.Error (which has no Unwrap), or "".
func SQLState(err error) string {
	code, _, _ := serverError(err)
	return code
}

// serverError finds the server's error inside err - lib/pq's or pgx's, through fmt.Errorf / errors.Join
// chains and golang-migrate's database.Error (value or pointer), which has no Unwrap but an OrigErr
// field - and returns its SQLSTATE and message (without DETAIL).
func serverError(err error) (code, message string, ok bool) {
	for depth := 0; err != nil && depth < 16; depth++ {
		var pqErr *pq.Error
		if errors.As(err, &pqErr) {
			return string(pqErr.Code), pqErr.Message, true
		}
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			return pgErr.Code, pgErr.Message, true
		}
		var dbErrP *database.Error
		if errors.As(err, &dbErrP) && dbErrP != nil {
			err = dbErrP.OrigErr
			continue
		}
		var dbErr database.Error
		if errors.As(err, &dbErr) {
			err = dbErr.OrigErr
			continue
		}
		return "", "", false
	}
	return "", "", false
}

// IsLockTimeout reports lock_not_available (lock_timeout expired) and deadlock_detected.
func (Dialect) IsLockTimeout(err error) bool {
	switch SQLState(err) {
	case codeLockNotAvailable, codeDeadlockDetected:
		return true
	}
	return false
}

// Scrub returns the server's message without its DETAIL (which quotes row values, "Key (id)=(...)") and
// with quoted values removed from the message itself - also inside golang-migrate's database.Error,
// whose own message embeds the whole statement.
func (Dialect) Scrub(err error) string {
	code, msg, ok := serverError(err)
	if !ok {
		return err.Error()
	}
	return "ERROR " + code + ": " + quotedValue.ReplaceAllString(msg, `"…"`)
}

// quotedValue matches a quoted literal in a server message ("invalid input syntax for type inet: \"x\"").
var quotedValue = regexp.MustCompile(`"(?:[^"]|"")*"|'(?:[^']|'')*'`)
