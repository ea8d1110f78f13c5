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

// Version gates: MySQL 8.0.29 brings CREATE PROCEDURE/FUNCTION/TRIGGER IF NOT EXISTS and ADD/DROP
// COLUMN ALGORITHM=INSTANT at any position; MariaDB 10.6 is the oldest maintained line with instant
// ADD/DROP COLUMN, CREATE ... IF NOT EXISTS for routines and triggers, and atomic DDL.
var (
	minMySQL   = version{8, 0, 29}
	minMariaDB = version{10, 6, 0}
)

type version [3]int

func (v version) String() string { return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]) }

func (v version) atLeast(min version) bool {
	for i := range v {
		if v[i] != min[i] {
			return v[i] > min[i]
		}
	}
	return true
}

// Caps is what the identified server can do, read once by Identify: flavor and version gates as
// methods, so that the rest of the package never compares version strings.
type Caps struct {
	flavor  string
	version version
}

func capsOf(srv dialect.Server) Caps {
	c, _ := srv.Caps.(Caps)
	return c
}

// MariaDB reports the MariaDB flavor.
func (c Caps) MariaDB() bool { return c.flavor == FlavorMariaDB }

// CreateOrReplaceTrigger reports CREATE OR REPLACE TRIGGER/PROCEDURE, which swaps a definition atomically
// (MariaDB only; MySQL has to swap through a second trigger).
func (c Caps) CreateOrReplaceTrigger() bool { return c.MariaDB() }

// SuperReadOnly reports @@super_read_only (Oracle MySQL only).
func (c Caps) SuperReadOnly() bool { return !c.MariaDB() }

// JSONIsText reports that JSON columns are LONGTEXT with a json_valid CHECK (MariaDB).
func (c Caps) JSONIsText() bool { return c.MariaDB() }

// BinlogGuardsDropTrigger reports that error 1419 also applies to DROP TRIGGER (MariaDB), so a rollback
// needs the same privilege as the migration.
func (c Caps) BinlogGuardsDropTrigger() bool { return c.MariaDB() }

// min returns the version gate of the flavor.
func (c Caps) min() version {
	if c.MariaDB() {
		return minMariaDB
	}
	return minMySQL
}

func flavorOf(v, comment string) string {
	if strings.Contains(strings.ToLower(v), "mariadb") || strings.Contains(strings.ToLower(comment), "mariadb") {
		return FlavorMariaDB
	}
	return FlavorMySQL
}

// parseVersion reads the leading "major.minor.patch" of a VERSION() string ("9.7.4-2",
// "10.11.19-MariaDB-0+deb12u1-log", "5.5.5-10.6.12-MariaDB" from old proxies).
func parseVersion(v string) (version, bool) {
	if strings.HasPrefix(v, "5.5.5-") && strings.Contains(strings.ToLower(v), "mariadb") {
		v = strings.TrimPrefix(v, "5.5.5-")
	}
	var out version
	if end := strings.IndexFunc(v, func(r rune) bool { return (r < '0' || r > '9') && r != '.' }); end >= 0 {
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

// checkVersion rejects servers below the gates with a *dialect.ProblemError of KindUnsupportedServer.
func checkVersion(srv dialect.Server, c Caps, ok bool) error {
	if ok && c.version.atLeast(c.min()) {
		return nil
	}
	msg := fmt.Sprintf("%s %s is older than the supported %s", srv.Flavor, srv.Version, c.min())
	if !ok {
		msg = fmt.Sprintf("cannot read the version of %s server %q", srv.Flavor, srv.Version)
	}
	return &dialect.ProblemError{Problem: dialect.Problem{
		Kind:    dialect.KindUnsupportedServer,
		Object:  "server",
		Message: msg,
		Fix: fmt.Sprintf("upgrade to MySQL >= %s or MariaDB >= %s (needed: CREATE ... IF NOT EXISTS for routines and "+
			"triggers, ALGORITHM=INSTANT column changes)", minMySQL, minMariaDB),
	}}
}
