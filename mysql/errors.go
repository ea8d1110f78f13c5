package mysql

import (
	"errors"

	gomysql "github.com/go-sql-driver/mysql"
	"github.com/golang-migrate/migrate/v4/database"
)

// Server error numbers this package classifies.
const (
	errDupFieldName      = 1060 // ER_DUP_FIELDNAME: ADD COLUMN of an existing column
	errDupKeyName        = 1061 // ER_DUP_KEYNAME: ADD INDEX with an existing name
	errTableExists       = 1050 // ER_TABLE_EXISTS_ERROR
	errSPAlreadyExists   = 1304 // ER_SP_ALREADY_EXISTS: CREATE PROCEDURE/FUNCTION without IF NOT EXISTS
	errTrgAlreadyExists  = 1359 // ER_TRG_ALREADY_EXISTS
	errDupConstraintName = 3822 // ER_CHECK_CONSTRAINT_DUP_NAME (MySQL)
	errLockWaitTimeout   = 1205 // ER_LOCK_WAIT_TIMEOUT: row locks and, for DDL, metadata locks (lock_wait_timeout)
	errLockDeadlock      = 1213 // ER_LOCK_DEADLOCK: the statement was rolled back, a retry is safe
	errBinlogRoutines    = 1419 // ER_BINLOG_CREATE_ROUTINE_NEED_SUPER
	errNoSuchTable       = 1146 // ER_NO_SUCH_TABLE
)

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

// ErrorNumber returns the MySQL server error number inside err, or 0.
func ErrorNumber(err error) uint16 {
	if me := serverError(err); me != nil {
		return me.Number
	}
	return 0
}

// IsAlreadyApplied reports whether err, from re-running an up step, proves the step had been applied:
// duplicate column (1060), duplicate index name (1061), table exists (1050), routine exists (1304),
// trigger exists (1359), duplicate CHECK constraint name (3822).
func (*Dialect) IsAlreadyApplied(err error) bool {
	switch ErrorNumber(err) {
	case errDupFieldName, errDupKeyName, errTableExists, errSPAlreadyExists, errTrgAlreadyExists,
		errDupConstraintName:
		return true
	}
	return false
}

// IsLockTimeout reports a lock-wait timeout (1205: lock_wait_timeout on a metadata lock, or
// innodb_lock_wait_timeout on a row lock) or a deadlock victim (1213); both leave nothing half-done and
// are worth retrying.
func (*Dialect) IsLockTimeout(err error) bool {
	switch ErrorNumber(err) {
	case errLockWaitTimeout, errLockDeadlock:
		return true
	}
	return false
}

// IsBinlogRoutines reports error 1419: CREATE TRIGGER/FUNCTION refused because binary logging is on,
// log_bin_trust_function_creators is 0 and the user lacks SUPER.
func IsBinlogRoutines(err error) bool { return ErrorNumber(err) == errBinlogRoutines }
