package mysql

import (
	"errors"
	"regexp"
	"strconv"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/golang-migrate/migrate/v4/database"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// Server error numbers this package classifies.
const (
	errDupFieldName    = 1060 // ER_DUP_FIELDNAME: ADD COLUMN of an existing column
	errDupKeyName      = 1061 // ER_DUP_KEYNAME: ADD INDEX with an existing name
	errCantDropField   = 1091 // ER_CANT_DROP_FIELD_OR_KEY
	errLockWaitTimeout = 1205 // ER_LOCK_WAIT_TIMEOUT: row locks and, for DDL, metadata locks (lock_wait_timeout)
	errLockDeadlock    = 1213 // ER_LOCK_DEADLOCK: the statement was rolled back, a retry is safe
	errBinlogRoutines  = 1419 // ER_BINLOG_CREATE_ROUTINE_NEED_SUPER
	errNoSuchTable     = 1146 // ER_NO_SUCH_TABLE
	errRowIsReferenced = 1451 // ER_ROW_IS_REFERENCED_2: a child row (FOREIGN KEY ... RESTRICT) blocks a DELETE
)

// Refusal sorts the access-denied errors (1044 database, 1045 login, 1142 table, 1143 column, 1227
// SUPER-like, 1370 routine) and the read-only ones (1290 --read-only / super_read_only, 1792 a
// read-only transaction, 1836 ER_READ_ONLY_MODE).
func (Dialect) Refusal(err error) dialect.Kind {
	switch errorNumber(err) {
	case 1044, 1045, 1142, 1143, 1227, 1370:
		return dialect.KindPrivileges
	case 1290, 1792, 1836:
		return dialect.KindReadOnly
	}
	return 0
}

// serverError finds the go-sql-driver error inside err, looking through fmt.Errorf / errors.Join chains
// and golang-migrate's database.Error (value or pointer), which has no Unwrap but an OrigErr field.
func serverError(err error) *gomysql.MySQLError {
	for depth := 0; err != nil && depth < 32; depth++ {
		var me *gomysql.MySQLError
		if errors.As(err, &me) {
			return me
		}
		var dep *database.Error
		if errors.As(err, &dep) && dep != nil {
			err = dep.OrigErr
			continue
		}
		var dev database.Error
		if errors.As(err, &dev) {
			err = dev.OrigErr
			continue
		}
		return nil
	}
	return nil
}

// errorNumber returns the MySQL server error number inside err, or 0.
func errorNumber(err error) uint16 {
	if me := serverError(err); me != nil {
		return me.Number
	}
	return 0
}

// IsLockTimeout reports a lock-wait timeout (1205: lock_wait_timeout on a metadata lock, or
// innodb_lock_wait_timeout on a row lock) or a deadlock victim (1213); both leave nothing half-done and
// are worth retrying.
func (Dialect) IsLockTimeout(err error) bool {
	switch errorNumber(err) {
	case errLockWaitTimeout, errLockDeadlock:
		return true
	}
	return false
}

// quotedValue matches the quoted parts of a server message: "Incorrect string value: '\xF0\x9F...'",
// "Duplicate entry 'abc' for key", "Data truncated ... value: '...'": they can carry row data.
var quotedValue = regexp.MustCompile(`'(?:[^'\\]|\\.)*'`)

// Scrub returns the server error's number and message with every quoted value replaced by '…': a
// message may quote a session id, a user id or an IP.
func (Dialect) Scrub(err error) string {
	me := serverError(err)
	if me == nil {
		return err.Error()
	}
	return "Error " + strconv.Itoa(int(me.Number)) + ": " + quotedValue.ReplaceAllString(me.Message, "'…'")
}

// IsBinlogRoutines reports error 1419: CREATE TRIGGER/FUNCTION refused because binary logging is on,
// log_bin_trust_function_creators is 0 and the user lacks SUPER.
func IsBinlogRoutines(err error) bool { return errorNumber(err) == errBinlogRoutines }
