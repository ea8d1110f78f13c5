package dialect

import "testing"

func TestTypeHolds(t *testing.T) {
	mysqlUnset := func(base string) (int, bool) {
		switch base {
		case "datetime", "timestamp", "time":
			return 0, true
		}
		return 0, false
	}
	pgUnset := func(base string) (int, bool) {
		switch base {
		case "timestamp", "time":
			return 6, true
		}
		return 0, false
	}
	for _, c := range []struct {
		src, dst string
		pg       bool
		want     bool
	}{
		{"decimal(10,2)", "decimal(10,2)", false, true},
		{"decimal(12,4)", "decimal(10,2)", false, false}, // scale 4 into 2: rounded
		{"decimal(10,2)", "decimal(12,4)", false, true},
		{"decimal(12,2)", "decimal(11,2)", false, false}, // one digit fewer before the point
		{"decimal(10,2) unsigned", "decimal(10,2)", false, false},
		{"datetime(6)", "datetime", false, false}, // fractional seconds dropped
		{"datetime", "datetime(6)", false, true},
		{"varchar(64)", "varchar(32)", false, false},
		{"varchar(32)", "varchar(64)", false, true},
		{"enum('a','b','c')", "enum('a','b')", false, false},
		{"int", "bigint", false, false}, // another type: equal or refused
		{"numeric(12,4)", "numeric(10,2)", true, false},
		{"numeric(12,4)", "numeric", true, true}, // unconstrained numeric holds any
		{"timestamp(6) without time zone", "timestamp(0) without time zone", true, false},
		{"timestamp(3) without time zone", "timestamp without time zone", true, true}, // 6 digits by default
		{"timestamp without time zone", "timestamp(3) without time zone", true, false},
		{"character varying(64)", "character varying", true, true},
		{"character varying", "character varying(64)", true, false},
	} {
		unset := mysqlUnset
		if c.pg {
			unset = pgUnset
		}
		if got := TypeHolds(c.src, c.dst, unset); got != c.want {
			t.Errorf("TypeHolds(%q, %q) = %v, want %v", c.src, c.dst, got, c.want)
		}
	}
}
