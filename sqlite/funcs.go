package sqlite

import (
	"database/sql/driver"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	modernc "modernc.org/sqlite"

	"github.com/agui-go/sessionsec/schema"
)

// The SQL functions this package registers for every modernc.org/sqlite connection.
const (
	HashFunction   = "session_security_hash" // (key, user, created_epoch) -> schema.SecurityHash
	EpochFunction  = "sessionsec_epoch"      // (time value) -> whole seconds since 1970 UTC, or NULL
	IPHashFunction = "sessionsec_ip_hash"    // (ip) -> schema.IPHash, or NULL
)

// init registers the functions for every modernc.org/sqlite connection opened from now on. Connections
// opened by any other driver, or by the stock golang-migrate CLI binary, do not have them.
func init() {
	modernc.MustRegisterDeterministicScalarFunction(HashFunction, 3, securityHashSQL)
	modernc.MustRegisterDeterministicScalarFunction(EpochFunction, 1, epochSQL)
	modernc.MustRegisterDeterministicScalarFunction(IPHashFunction, 1, ipHashSQL)
}

// securityHashSQL is schema.SecurityHash as an SQL function. NULL arguments are nil (F(NULL) = "-",
// E(NULL) = "-"); text is taken as UTF-8 and a blob as the hex of its bytes (schema.KeyText).
func securityHashSQL(_ *modernc.FunctionContext, args []driver.Value) (driver.Value, error) {
	key, err := textArg(args[0])
	if err != nil {
		return nil, fmt.Errorf("%s: key: %w", HashFunction, err)
	}
	user, err := textArg(args[1])
	if err != nil {
		return nil, fmt.Errorf("%s: user: %w", HashFunction, err)
	}
	var epoch *int64
	switch x := args[2].(type) {
	case nil:
	case int64:
		epoch = &x
	case float64:
		e := int64(math.Floor(x))
		epoch = &e
	default:
		return nil, fmt.Errorf("%s: created_epoch: want an integer, got %T", HashFunction, args[2])
	}
	return schema.SecurityHash(key, user, epoch), nil
}

func textArg(v driver.Value) (*string, error) {
	var s string
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		s = x
	case []byte:
		s = schema.KeyText(x)
	case int64:
		s = strconv.FormatInt(x, 10)
	case float64:
		s = strconv.FormatFloat(x, 'g', -1, 64)
	default:
		return nil, fmt.Errorf("unsupported value of type %T", v)
	}
	return &s, nil
}

// epochSQL is E(t) over a value as SQLite drivers store times: NULL for NULL or a value that is no time.
func epochSQL(_ *modernc.FunctionContext, args []driver.Value) (driver.Value, error) {
	e, ok := Epoch(args[0])
	if !ok {
		return nil, nil
	}
	return e, nil
}

// timeLayouts are the text forms of a time the common Go SQLite drivers write: modernc.org/sqlite's
// default time.Time.String() (monotonic suffix removed), its "sqlite" and "datetime" _time_format, and
// mattn/go-sqlite3's default; plus SQLite's own CURRENT_TIMESTAMP and ISO 8601. A form without an
// offset is a UTC wall clock, as CURRENT_TIMESTAMP is.
var timeLayouts = []string{
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04:05.999999999 -0700",
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02T15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04",
	"2006-01-02T15:04",
	"2006-01-02",
}

// julianMax is where SQLite's "auto" reading of a number stops being a Julian day number.
const julianMax = 5373484.5

// Epoch reads a stored time value the way the triggers hash it: text in any of the drivers' forms, an
// integer as Unix seconds, a real number as SQLite's date functions read it ("auto": a Julian day number
// up to 5373484.5, Unix seconds above). ok is false for NULL and for a value that is no time.
func Epoch(v driver.Value) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case float64:
		if x >= 0 && x < julianMax {
			return int64(math.Floor((x - 2440587.5) * 86400)), true
		}
		return int64(math.Floor(x)), true
	case []byte:
		return Epoch(string(x))
	case string:
		s := strings.TrimSpace(x)
		if i := strings.Index(s, " m="); i > 0 {
			s = s[:i] // time.Time.String()'s monotonic clock reading
		}
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return t.Unix(), true
			}
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return Epoch(f)
		}
	case time.Time:
		return x.Unix(), true
	}
	return 0, false
}

// ipHashSQL is schema.IPHash over text or a 4/16-byte blob.
func ipHashSQL(_ *modernc.FunctionContext, args []driver.Value) (driver.Value, error) {
	var s string
	switch x := args[0].(type) {
	case nil:
		return nil, nil
	case string:
		s = x
	case []byte:
		a, ok := netip.AddrFromSlice(x)
		if !ok {
			s = string(x)
		} else {
			s = a.String()
		}
	default:
		return nil, nil
	}
	if h, ok := schema.IPHash(s); ok {
		return h, nil
	}
	return nil, nil
}
