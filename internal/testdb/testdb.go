// Package testdb gives tests a fresh, empty database on each real server the suite runs against.
//
// Servers come from the environment: SESSIONSEC_MYSQL_DSN, SESSIONSEC_MARIADB_DSN (go-sql-driver DSNs
// without a database name, e.g. "root@tcp(127.0.0.1:3307)/") and SESSIONSEC_POSTGRES_DSN (a postgres://
// URL of a maintenance database). scripts/dbservers.sh starts all three and prints these lines.
// When a DSN is missing the test is skipped with the reason - except under CI=true or
// SESSIONSEC_REQUIRE_SERVERS=1, where a missing server fails the test: CI must never count a skip as a pass.
// A package whose tests use this one runs them through Main (from its TestMain), which ends the run with
// one line counting the server subtests skipped for want of a server, and saying how to run them.
//
// SESSIONSEC_SERVERS (a comma-separated list of server names, e.g. "mariadb,postgres") restricts a run to
// those servers: scripts/matrix.sh runs the suite once per further server version that way, the other
// servers having had their run already.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // pgx stdlib, for the "pgx" driver variant
	_ "github.com/lib/pq"              // lib/pq, the default PostgreSQL driver
	_ "modernc.org/sqlite"             // embedded SQLite

	"github.com/agui-go/sessionsec/schema"
)

// Server is one server kind the suite knows.
type Server struct {
	Name    string // "mysql", "mariadb", "postgres", "sqlite"
	Dialect string // folder under migrations/: "mysql", "postgres", "sqlite"
	EnvVar  string
}

// Servers is every server kind, in the order tests iterate them.
var Servers = []Server{
	{Name: "mysql", Dialect: "mysql", EnvVar: "SESSIONSEC_MYSQL_DSN"},
	{Name: "mariadb", Dialect: "mysql", EnvVar: "SESSIONSEC_MARIADB_DSN"},
	{Name: "postgres", Dialect: "postgres", EnvVar: "SESSIONSEC_POSTGRES_DSN"},
	{Name: "sqlite", Dialect: "sqlite"},
}

// DB is a fresh database on one server.
type DB struct {
	Server Server
	DB     *sql.DB
	Name   string // database name (file path for SQLite)
	// DSN opens another pool on the same database (for "another replica" / "another process").
	DSN        string
	DriverName string // "mysql", "postgres", "sqlite"
	// CLIURL is the golang-migrate CLI -database URL for this database.
	CLIURL string
}

// Open opens another, independent pool on the same database.
func (d *DB) Open(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open(d.DriverName, d.DSN)
	if err != nil {
		t.Fatalf("open %s: %v", d.Server.Name, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func required() bool {
	return os.Getenv("CI") == "true" || os.Getenv("SESSIONSEC_REQUIRE_SERVERS") == "1"
}

func randomName(prefix string) string {
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Selected reports whether this run includes the server (SESSIONSEC_SERVERS).
func Selected(s Server) bool {
	only := os.Getenv("SESSIONSEC_SERVERS")
	if only == "" {
		return true
	}
	for _, name := range strings.Split(only, ",") {
		if strings.TrimSpace(name) == s.Name {
			return true
		}
	}
	return false
}

// New creates a fresh database on the server and drops it when the test ends.
func New(t testing.TB, s Server) *DB {
	t.Helper()
	if !Selected(s) {
		t.Skipf("skipping %s: this run is for SESSIONSEC_SERVERS=%s only", s.Name, os.Getenv("SESSIONSEC_SERVERS"))
	}
	switch s.Dialect {
	case "mysql":
		return newMySQL(t, s)
	case "postgres":
		return newPostgres(t, s)
	default:
		return newSQLite(t, s)
	}
}

// Each calls f once per server, as a subtest named after the server.
func Each(t *testing.T, f func(t *testing.T, d *DB)) {
	for _, s := range Servers {
		t.Run(s.Name, func(t *testing.T) { f(t, New(t, s)) })
	}
}

func envDSN(t testing.TB, s Server) string {
	t.Helper()
	dsn := os.Getenv(s.EnvVar)
	if dsn == "" {
		if required() {
			t.Fatalf("%s is not set but servers are required (CI=true): run scripts/dbservers.sh start", s.EnvVar)
		}
		noteSkip(s)
		t.Skipf("skipping %s: %s is not set (run scripts/dbservers.sh start and source its env file)", s.Name, s.EnvVar)
	}
	return dsn
}

// skipped counts, per server, the subtests skipped because its DSN is not set.
var skipped struct {
	sync.Mutex
	n map[string]int
}

func noteSkip(s Server) {
	skipped.Lock()
	defer skipped.Unlock()
	if skipped.n == nil {
		skipped.n = map[string]int{}
	}
	skipped.n[s.Name]++
}

// DSNHelp says how to give the suite the servers it skipped for: the environment variables with a DSN
// of each form, or scripts/test.sh, which starts the servers itself.
const DSNHelp = "set SESSIONSEC_MYSQL_DSN='root:pass@tcp(127.0.0.1:3306)/' and " +
	"SESSIONSEC_MARIADB_DSN='root:pass@tcp(127.0.0.1:3307)/' (go-sql-driver DSNs without a database) and " +
	"SESSIONSEC_POSTGRES_DSN='postgres://postgres:pass@127.0.0.1:5432/postgres?sslmode=disable' " +
	"(a user that may CREATE DATABASE: each test makes its own), or run scripts/test.sh, which starts the servers itself"

// SkipSummary is the line Main prints: how many server subtests were skipped for want of a server and how
// to run them; "" when none was.
func SkipSummary(pkg string) string {
	skipped.Lock()
	defer skipped.Unlock()
	total, vars := 0, []string{}
	for _, s := range Servers {
		if n := skipped.n[s.Name]; n > 0 {
			total += n
			vars = append(vars, fmt.Sprintf("%s %d", s.EnvVar, n))
		}
	}
	if total == 0 {
		return ""
	}
	return fmt.Sprintf("%s: SKIPPED %d server subtests, their server's DSN not set (%s); to run them, %s",
		pkg, total, strings.Join(vars, ", "), DSNHelp)
}

// Main runs the package's tests (call it from TestMain: os.Exit(testdb.Main(m))) and then, where server
// subtests were skipped, prints SkipSummary's line. A passing package's output is discarded by
// `go test ./...` (only -v shows it), so without -v the line goes to the terminal (/dev/tty) where there
// is one; otherwise to standard output.
func Main(m *testing.M) int {
	code := m.Run()
	pkg := "this package"
	if bi, ok := debug.ReadBuildInfo(); ok {
		pkg = strings.TrimSuffix(bi.Path, ".test")
	}
	line := SkipSummary(pkg)
	if line == "" {
		return code
	}
	if !testing.Verbose() {
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			_, err = fmt.Fprintln(tty, line)
			_ = tty.Close()
			if err == nil {
				return code
			}
		}
	}
	fmt.Println(line)
	return code
}

func newMySQL(t testing.TB, s Server) *DB {
	t.Helper()
	cfg, err := mysql.ParseDSN(envDSN(t, s))
	if err != nil {
		t.Fatalf("%s: bad DSN: %v", s.EnvVar, err)
	}
	admin, err := sql.Open("mysql", cfg.FormatDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := randomName("ssec_")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" CHARACTER SET utf8mb4"); err != nil {
		t.Fatalf("%s: create database: %v", s.Name, err)
	}
	cfg.DBName = name
	cfg.ParseTime = true
	dsn := cfg.FormatDSN()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = db.Close()
		a, err := sql.Open("mysql", strings.Replace(dsn, "/"+name, "/", 1))
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			_, _ = a.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name)
			_ = a.Close()
		}
	})
	user := url.User(cfg.User)
	if cfg.Passwd != "" {
		user = url.UserPassword(cfg.User, cfg.Passwd)
	}
	return &DB{Server: s, DB: db, Name: name, DSN: dsn, DriverName: "mysql",
		CLIURL: fmt.Sprintf("mysql://%s@tcp(%s)/%s", user.String(), cfg.Addr, name)}
}

func newPostgres(t testing.TB, s Server) *DB {
	t.Helper()
	base := envDSN(t, s)
	admin, err := sql.Open("postgres", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := randomName("ssec_")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" ENCODING 'UTF8' TEMPLATE template0"); err != nil {
		t.Fatalf("%s: create database: %v", s.Name, err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: bad URL: %v", s.EnvVar, err)
	}
	u.Path = "/" + name
	dsn := u.String()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = db.Close()
		a, err := sql.Open("postgres", base)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			_, _ = a.ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			_ = a.Close()
		}
	})
	return &DB{Server: s, DB: db, Name: name, DSN: dsn, DriverName: "postgres", CLIURL: dsn}
}

func newSQLite(t testing.TB, s Server) *DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), randomName("ssec_")+".db")
	// The path goes into a file: URI, where '#' and '?' (subtest names bring "#01") must be escaped.
	// WAL and a busy timeout make concurrent writers wait instead of failing with SQLITE_BUSY.
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return &DB{Server: s, DB: db, Name: path, DSN: dsn, DriverName: "sqlite",
		CLIURL: fmt.Sprintf("sqlite://%s", path)}
}

// ExpectedHash recomputes a row's security_hash from its values as scanned, with schema.SecurityHash: the
// one independent verifier every dialect's test checks triggers and backfills against. created is nil for
// NULL; wallClockUTC as for schema.EpochOf.
func ExpectedHash(id string, user sql.NullString, created *time.Time, wallClockUTC bool) string {
	var u *string
	if user.Valid {
		u = &user.String
	}
	var epoch *int64
	if created != nil {
		e := schema.EpochOf(*created, wallClockUTC)
		epoch = &e
	}
	return schema.SecurityHash(&id, u, epoch)
}
