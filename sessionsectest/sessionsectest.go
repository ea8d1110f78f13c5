// Package sessionsectest gives integration tests a real MySQL, MariaDB or PostgreSQL database with the
// session-security change applied, on testcontainers-go.
//
//	func TestSessions(t *testing.T) {
//		db := sessionsectest.MySQL(t) // a fresh, migrated database of its own
//		...
//	}
//
// One container per image serves every test of the package (each test gets a fresh database on it:
// CREATE DATABASE on MySQL/MariaDB, a copy of a migrated template on PostgreSQL), so a suite does not pay
// a container start per test. Call Terminate from TestMain after m.Run to stop the containers; where the
// testcontainers reaper (Ryuk) runs, it stops them too.
//
// Images come from an option, else the environment (SESSIONSEC_MYSQL_IMAGE, SESSIONSEC_MARIADB_IMAGE,
// SESSIONSEC_POSTGRES_IMAGE), else the official images (mysql:8.4, mariadb:11.8, postgres:17). The
// migrations run as root: the official MySQL image's MYSQL_USER lacks SUPER, and with binary logging on
// (the default) CREATE TRIGGER would fail with error 1419. Tests skip with a clear message where no
// Docker engine runs.
//
// It is a module of its own, so that the library's users do not inherit testcontainers-go's dependencies.
package sessionsectest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/agui-go/sessionsec"
)

// Default images, when neither an option nor the environment names one.
const (
	DefaultMySQLImage    = "mysql:8.4"
	DefaultMariaDBImage  = "mariadb:11.8"
	DefaultPostgresImage = "postgres:17"
)

// Environment variables that name the images.
const (
	EnvMySQLImage    = "SESSIONSEC_MYSQL_IMAGE"
	EnvMariaDBImage  = "SESSIONSEC_MARIADB_IMAGE"
	EnvPostgresImage = "SESSIONSEC_POSTGRES_IMAGE"
	// EnvRequireDocker, when set, fails rather than skips a test that finds no Docker engine.
	EnvRequireDocker = "SESSIONSEC_REQUIRE_DOCKER"
)

type config struct {
	image        string
	migrate      bool
	migrateOpts  []sessionsec.Option
	ownContainer bool
	startTimeout time.Duration
}

// Option configures one database.
type Option func(*config)

// WithImage names the image (it must honour the official image's environment and log lines).
func WithImage(image string) Option { return func(c *config) { c.image = image } }

// WithoutMigrations returns an empty database: the test migrates it itself.
func WithoutMigrations() Option { return func(c *config) { c.migrate = false } }

// WithMigrateOptions passes options to sessionsec.Migrate (a layout, a table name, ...).
func WithMigrateOptions(opts ...sessionsec.Option) Option {
	return func(c *config) { c.migrateOpts = append(c.migrateOpts, opts...) }
}

// WithOwnContainer starts a container for this test alone (stopped when the test ends), for tests that
// change the server itself (global variables, users).
func WithOwnContainer() Option { return func(c *config) { c.ownContainer = true } }

// WithStartTimeout bounds a container's start (default 3 minutes).
func WithStartTimeout(d time.Duration) Option { return func(c *config) { c.startTimeout = d } }

func newConfig(env, def string, opts []Option) config {
	c := config{migrate: true, startTimeout: 3 * time.Minute}
	if v := os.Getenv(env); v != "" {
		c.image = v
	} else {
		c.image = def
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// MySQL returns a pool on a fresh database of a MySQL container, migrated unless WithoutMigrations. The
// pool is closed and the database dropped when the test ends.
func MySQL(tb testing.TB, opts ...Option) *sql.DB {
	tb.Helper()
	return database(tb, kindMySQL, newConfig(EnvMySQLImage, DefaultMySQLImage, opts))
}

// MariaDB is MySQL on a MariaDB container.
func MariaDB(tb testing.TB, opts ...Option) *sql.DB {
	tb.Helper()
	return database(tb, kindMariaDB, newConfig(EnvMariaDBImage, DefaultMariaDBImage, opts))
}

// Postgres is MySQL on a PostgreSQL container; each test's database is a copy of a template migrated
// once per container.
func Postgres(tb testing.TB, opts ...Option) *sql.DB {
	tb.Helper()
	return database(tb, kindPostgres, newConfig(EnvPostgresImage, DefaultPostgresImage, opts))
}

func database(tb testing.TB, k kind, c config) *sql.DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), c.startTimeout+2*time.Minute)
	defer cancel()
	srv := server(tb, ctx, k, c)
	db, err := srv.fresh(ctx, tb, c)
	if err != nil {
		tb.Fatalf("sessionsectest: %s database: %v", k, err)
	}
	return db
}

func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}
