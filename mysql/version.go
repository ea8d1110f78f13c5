package mysql

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/agui-go/sessionsec/internal/dialect"
)

// Flavors reported in dialect.Server.Flavor.
const (
	FlavorMySQL   = "MySQL"
	FlavorMariaDB = "MariaDB"
)

// Version gates: MySQL 8.0.29 brings CREATE PROCEDURE/FUNCTION IF NOT EXISTS and ADD/DROP COLUMN
// ALGORITHM=INSTANT at any position; MariaDB 10.6 is the oldest maintained line with instant ADD/DROP
// COLUMN, CREATE ... IF NOT EXISTS for routines and triggers, and atomic DDL.
var (
	minMySQL   = [3]int{8, 0, 29}
	minMariaDB = [3]int{10, 6, 0}
)

func flavorOf(version, comment string) string {
	if strings.Contains(strings.ToLower(version), "mariadb") || strings.Contains(strings.ToLower(comment), "mariadb") {
		return FlavorMariaDB
	}
	return FlavorMySQL
}

// parseVersion reads the leading "major.minor.patch" of a VERSION() string ("9.7.4-2",
// "10.11.19-MariaDB-0+deb12u1-log", "5.5.5-10.6.12-MariaDB" from old proxies).
func parseVersion(v string) ([3]int, bool) {
	if strings.HasPrefix(v, "5.5.5-") && strings.Contains(strings.ToLower(v), "mariadb") {
		v = strings.TrimPrefix(v, "5.5.5-")
	}
	var out [3]int
	end := strings.IndexFunc(v, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	if end >= 0 {
		v = v[:end]
	}
	parts := strings.Split(v, ".")
	if len(parts) < 2 {
		return out, false
	}
	for i := 0; i < 3 && i < len(parts); i++ {
		n, err := strconv.Atoi(parts[i])
		if err != nil {
			return out, false
		}
		out[i] = n
	}
	return out, true
}

func atLeast(v, min [3]int) bool {
	for i := range v {
		if v[i] != min[i] {
			return v[i] > min[i]
		}
	}
	return true
}

// MinVersion returns the oldest supported version of a flavor.
func (*Dialect) MinVersion(flavor string) string {
	m := minMySQL
	if flavor == FlavorMariaDB {
		m = minMariaDB
	}
	return fmt.Sprintf("%d.%d.%d", m[0], m[1], m[2])
}

// CheckVersion rejects servers below the version gates with a *dialect.ProblemError of
// KindUnsupportedServer.
func (d *Dialect) CheckVersion(s dialect.Server) error {
	v, ok := parseVersion(s.Version)
	min := minMySQL
	if s.Flavor == FlavorMariaDB {
		min = minMariaDB
	}
	if ok && atLeast(v, min) {
		return nil
	}
	msg := fmt.Sprintf("%s %s is older than the supported %s", s.Flavor, s.Version, d.MinVersion(s.Flavor))
	if !ok {
		msg = fmt.Sprintf("cannot read the version of %s server %q", s.Flavor, s.Version)
	}
	return &dialect.ProblemError{Problem: dialect.Problem{
		Kind:    dialect.KindUnsupportedServer,
		Object:  "server",
		Message: msg,
		Fix: fmt.Sprintf("upgrade to MySQL >= %s or MariaDB >= %s (needed: CREATE ... IF NOT EXISTS for routines and "+
			"triggers, ALGORITHM=INSTANT column changes)", d.MinVersion(FlavorMySQL), d.MinVersion(FlavorMariaDB)),
	}}
}

// SupportsInstantDropColumn reports whether DROP COLUMN ... ALGORITHM=INSTANT works (MySQL 8.0.29+,
// MariaDB 10.4+); always true above the gates, kept as a method so a lower gate stays explicit.
func (*Dialect) SupportsInstantDropColumn(s dialect.Server) bool {
	v, _ := parseVersion(s.Version)
	if s.Flavor == FlavorMariaDB {
		return atLeast(v, [3]int{10, 4, 0})
	}
	return atLeast(v, [3]int{8, 0, 29})
}

// HasSuperReadOnly reports whether the server has @@super_read_only (Oracle MySQL only).
func (*Dialect) HasSuperReadOnly(s dialect.Server) bool { return s.Flavor == FlavorMySQL }
