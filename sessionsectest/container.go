package sessionsectest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	gomysql "github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq" // PostgreSQL driver
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/mariadb"
	"github.com/testcontainers/testcontainers-go/modules/mysql"
	"github.com/testcontainers/testcontainers-go/modules/postgres"

	"github.com/agui-go/sessionsec"
	_ "github.com/agui-go/sessionsec/mysql"    // the MySQL/MariaDB dialect
	_ "github.com/agui-go/sessionsec/postgres" // the PostgreSQL dialect
)

type kind string

const (
	kindMySQL    kind = "mysql"
	kindMariaDB  kind = "mariadb"
	kindPostgres kind = "postgres"
)

// A running container and how to reach it as its superuser.
type running struct {
	kind kind
	ctr  testcontainers.Container
	// admin is a DSN of the superuser on the maintenance database (MySQL: no database).
	admin string

	mu        sync.Mutex
	template0 string // PostgreSQL: the database migrated with no options, copied for each test
}

var (
	mu     sync.Mutex
	shared = map[string]*running{} // kind + image -> container
	pools  sync.Map                // *sql.DB this package returned -> pool
)

type pool struct{ driver, dsn string }

// server returns the shared container of the kind and image (starting it on first use), or a container
// of the test's own.
func server(tb testing.TB, ctx context.Context, k kind, c config) *running {
	tb.Helper()
	skipWithoutDocker(tb)
	if c.ownContainer {
		r, err := start(ctx, k, c)
		if r != nil {
			tb.Cleanup(func() { _ = testcontainers.TerminateContainer(r.ctr) })
		}
		if err != nil {
			tb.Fatalf("sessionsectest: starting %s (%s): %v; %s", k, c.image, err, dockerHint())
		}
		return r
	}
	mu.Lock()
	defer mu.Unlock()
	key := string(k) + " " + c.image
	if r := shared[key]; r != nil {
		return r
	}
	r, err := start(ctx, k, c)
	if err != nil {
		if r != nil {
			_ = testcontainers.TerminateContainer(r.ctr)
		}
		tb.Fatalf("sessionsectest: starting %s (%s): %v; %s", k, c.image, err, dockerHint())
	}
	shared[key] = r
	return r
}

var (
	dockerOnce sync.Once
	dockerErr  error
)

// skipWithoutDocker skips the test, saying why, where no Docker engine answers - or fails it where
// SESSIONSEC_REQUIRE_DOCKER is set (a CI that must not count a skipped test as passed).
func skipWithoutDocker(tb testing.TB) {
	tb.Helper()
	dockerOnce.Do(func() {
		defer func() {
			if r := recover(); r != nil {
				dockerErr = fmt.Errorf("%v", r)
			}
		}()
		p, err := testcontainers.ProviderDefault.GetProvider()
		if err != nil {
			dockerErr = err
			return
		}
		defer p.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		dockerErr = p.Health(ctx)
	})
	if dockerErr == nil {
		return
	}
	msg := noDocker(dockerErr)
	if os.Getenv(EnvRequireDocker) != "" {
		tb.Fatal(msg + " (" + EnvRequireDocker + " is set)")
	}
	tb.Skip(msg)
}

// noDocker is the message of a test that finds no Docker engine.
func noDocker(err error) string {
	return fmt.Sprintf("sessionsectest: no Docker engine answers (%v); these tests need one (DOCKER_HOST names it); %s", err, dockerHint())
}

// Environment variables of testcontainers-go that the usual failures to start or reach a container need.
const (
	envRyukDisabled = "TESTCONTAINERS_RYUK_DISABLED"
	envHostOverride = "TESTCONTAINERS_HOST_OVERRIDE"
)

// dockerHint names the testcontainers-go settings behind the usual reasons a container cannot be started
// or reached - the reaper's image cannot be pulled (no registry), or the published ports are not at the
// address testcontainers-go takes for the Docker host (Docker not on the default route: a sandbox, a
// container, a remote engine) - with their current values, so a failure says what to try.
func dockerHint() string {
	var h []string
	if v := os.Getenv(envRyukDisabled); v != "" {
		h = append(h, envRyukDisabled+"="+v+" is set")
	} else {
		h = append(h, "where the reaper image (testcontainers/ryuk) cannot be pulled, set "+envRyukDisabled+"=true (Terminate then stops the containers)")
	}
	if v := os.Getenv(envHostOverride); v != "" {
		h = append(h, envHostOverride+"="+v+" is set: the containers' published ports must be reachable at that host")
	} else {
		h = append(h, "where the containers' published ports are not reachable at the Docker host's address, set "+envHostOverride+"=127.0.0.1 (or the host that reaches them)")
	}
	return strings.Join(h, "; ")
}

// unreachable adds dockerHint to an error of reaching a started container's server over the network.
func unreachable(err error) error {
	if _, ok := errors.AsType[*net.OpError](err); ok {
		return fmt.Errorf("%w (the container runs but its server cannot be reached: %s)", err, dockerHint())
	}
	return err
}

// Terminate stops the shared containers. Call it from TestMain after m.Run.
func Terminate() {
	mu.Lock()
	defer mu.Unlock()
	for key, r := range shared {
		_ = testcontainers.TerminateContainer(r.ctr)
		delete(shared, key)
	}
}

const superPassword = "sessionsec-test"

func start(ctx context.Context, k kind, c config) (*running, error) {
	ctx, cancel := context.WithTimeout(ctx, c.startTimeout)
	defer cancel()
	switch k {
	case kindMySQL:
		ctr, err := mysql.Run(ctx, c.image, mysql.WithUsername("root"), mysql.WithPassword(superPassword), mysql.WithDatabase("sessionsec"))
		if err != nil {
			return wrap(k, ctr, "", err)
		}
		dsn, err := ctr.ConnectionString(ctx)
		return wrap(k, ctr, withDB(dsn, ""), err)
	case kindMariaDB:
		ctr, err := mariadb.Run(ctx, c.image, mariadb.WithUsername("root"), mariadb.WithPassword(superPassword), mariadb.WithDatabase("sessionsec"))
		if err != nil {
			return wrap(k, ctr, "", err)
		}
		dsn, err := ctr.ConnectionString(ctx)
		return wrap(k, ctr, withDB(dsn, ""), err)
	default:
		ctr, err := postgres.Run(ctx, c.image, postgres.WithUsername("postgres"), postgres.WithPassword(superPassword),
			postgres.WithDatabase("postgres"), postgres.BasicWaitStrategies())
		if err != nil {
			return wrap(k, ctr, "", err)
		}
		dsn, err := ctr.ConnectionString(ctx, "sslmode=disable")
		return wrap(k, ctr, dsn, err)
	}
}

func wrap[C testcontainers.Container](k kind, ctr C, admin string, err error) (*running, error) {
	var r *running
	if any(ctr) != nil {
		r = &running{kind: k, ctr: ctr, admin: admin}
	}
	return r, err
}

// withDB puts a database name into a go-sql-driver DSN (and parseTime=true, which the change's
// timestamps need to scan as time.Time).
func withDB(dsn, db string) string {
	cfg, err := gomysql.ParseDSN(dsn)
	if err != nil {
		return dsn
	}
	cfg.DBName = db
	cfg.ParseTime = true
	return cfg.FormatDSN()
}

func pgWithDB(dsn, db string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	u.Path = "/" + db
	return u.String()
}

func (r *running) driver() string {
	if r.kind == kindPostgres {
		return "postgres"
	}
	return "mysql"
}

func (r *running) dsnFor(db string) string {
	if r.kind == kindPostgres {
		return pgWithDB(r.admin, db)
	}
	return withDB(r.admin, db)
}

// fresh creates a database for one test and returns a pool on it.
func (r *running) fresh(ctx context.Context, tb testing.TB, c config) (*sql.DB, error) {
	admin, err := sql.Open(r.driver(), r.admin)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	name := randomName("t_")
	create := "CREATE DATABASE " + name
	if r.kind == kindPostgres {
		// Options (a layout, a table name) are functions, so they cannot key a cache: a database
		// migrated with options is migrated directly, below.
		tmpl := "template0"
		if c.migrate && len(c.migrateOpts) == 0 {
			if tmpl, err = r.template(ctx, admin, c); err != nil {
				return nil, err
			}
		}
		create += " TEMPLATE " + tmpl
	} else {
		create += " CHARACTER SET utf8mb4"
	}
	if _, err := admin.ExecContext(ctx, create); err != nil {
		return nil, fmt.Errorf("creating the test's database: %w", unreachable(err))
	}
	db, err := sql.Open(r.driver(), r.dsnFor(name))
	if err != nil {
		return nil, err
	}
	pools.Store(db, pool{driver: r.driver(), dsn: r.dsnFor(name)})
	tb.Cleanup(func() {
		pools.Delete(db)
		_ = db.Close()
		a, err := sql.Open(r.driver(), r.admin)
		if err != nil {
			return
		}
		defer a.Close()
		drop := "DROP DATABASE IF EXISTS " + name
		if r.kind == kindPostgres {
			drop += " WITH (FORCE)"
		}
		_, _ = a.ExecContext(context.Background(), drop)
	})
	if c.migrate && (r.kind != kindPostgres || len(c.migrateOpts) > 0) {
		if err := sessionsec.Migrate(ctx, db, c.migrateOpts...); err != nil {
			return nil, fmt.Errorf("migrating the test's database: %w", err)
		}
	}
	return db, nil
}

// template returns a database migrated with no options, made once per container, that
// each test's database is copied from (CREATE DATABASE ... TEMPLATE: milliseconds, where migrating takes
// a second).
func (r *running) template(ctx context.Context, admin *sql.DB, c config) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.template0 != "" {
		return r.template0, nil
	}
	name := randomName("tmpl_")
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+name+" TEMPLATE template0 ENCODING 'UTF8'"); err != nil {
		return "", fmt.Errorf("creating the template: %w", unreachable(err))
	}
	db, err := sql.Open("postgres", r.dsnFor(name))
	if err != nil {
		return "", err
	}
	err = sessionsec.Migrate(ctx, db, c.migrateOpts...)
	_ = db.Close() // a template must have no connections when it is copied
	if err != nil {
		return "", fmt.Errorf("migrating the template: %w", err)
	}
	if _, err := admin.ExecContext(ctx, "ALTER DATABASE "+name+" WITH is_template = true"); err != nil {
		return "", err
	}
	r.template0 = name
	return name, nil
}
