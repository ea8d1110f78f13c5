// Command sessionsec applies and verifies the session-security migrations on one database.
//
//	sessionsec [flags] [up|validate|status|preflight|rollback]
//
// With no -database it works on an embedded SQLite file (./sessionsec.db). The default command, up, runs
// Preflight, Migrate and Validate and prints the report. -database takes golang-migrate style URLs:
//
//	mysql://user:pass@tcp(host:3306)/app      (MySQL 8.0.29+ and MariaDB 10.6+)
//	postgres://user:pass@host:5432/app?sslmode=disable
//	sqlite://path/to/file.db
//
// The environment variable SESSIONSEC_DATABASE is used when -database is not given. Passwords never
// appear in the output.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq"  // PostgreSQL
	_ "modernc.org/sqlite" // embedded default

	"github.com/agui-go/sessionsec"
	_ "github.com/agui-go/sessionsec/mysql"    // MySQL / MariaDB dialect
	_ "github.com/agui-go/sessionsec/postgres" // PostgreSQL dialect
	_ "github.com/agui-go/sessionsec/sqlite"   // SQLite dialect and its Go functions
)

const defaultSQLite = "sqlite://sessionsec.db"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("sessionsec", flag.ContinueOnError)
	database := fs.String("database", os.Getenv("SESSIONSEC_DATABASE"), "database URL (mysql://, postgres://, sqlite://); default "+defaultSQLite)
	table := fs.String("migrations-table", sessionsec.DefaultMigrationsTable, "golang-migrate version table")
	timeout := fs.Duration("timeout", 30*time.Minute, "give up after this long (waiting for the lock included)")
	lockWait := fs.Duration("lock-wait", 5*time.Second, "per-statement bound on waiting for table locks")
	verbose := fs.Bool("v", false, "debug logging")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: sessionsec [flags] [up|validate|status|preflight|rollback]\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	command := "up"
	if fs.NArg() > 0 {
		command = fs.Arg(0)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if *database == "" {
		*database = defaultSQLite
	}

	driverName, dsn, shown, err := parseDatabase(*database)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sessionsec:", err)
		return 2
	}
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sessionsec: opening %s: %v\n", shown, err)
		return 1
	}
	defer db.Close()

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, *timeout)
	defer cancelTimeout()

	opts := []sessionsec.Option{sessionsec.WithLogger(logger), sessionsec.WithMigrationsTable(*table), sessionsec.WithLockWait(*lockWait)}
	logger.Info("sessionsec: database", "url", shown, "command", command)
	switch command {
	case "up":
		if err := sessionsec.Migrate(ctx, db, opts...); err != nil {
			return fail(err)
		}
		return report(sessionsec.Validate(ctx, db, opts...))
	case "validate":
		return report(sessionsec.Validate(ctx, db, opts...))
	case "status":
		st, err := sessionsec.Status(ctx, db, opts...)
		if err != nil {
			return fail(err)
		}
		fmt.Println(st)
		return 0
	case "preflight":
		if err := sessionsec.Preflight(ctx, db, opts...); err != nil {
			return fail(err)
		}
		fmt.Println("preflight: no problems found")
		return 0
	case "rollback":
		if err := sessionsec.Rollback(ctx, db, opts...); err != nil {
			return fail(err)
		}
		return report(sessionsec.Validate(ctx, db, append(opts, sessionsec.ExpectRolledBack())...))
	default:
		fs.Usage()
		return 2
	}
}

func report(rep *sessionsec.Report, err error) int {
	if rep != nil {
		fmt.Println(rep)
	}
	if err != nil {
		if rep == nil {
			return fail(err)
		}
		return 1
	}
	return 0
}

func fail(err error) int {
	fmt.Fprintln(os.Stderr, err)
	if errors.Is(err, context.DeadlineExceeded) {
		fmt.Fprintln(os.Stderr, "sessionsec: timed out; raise -timeout, or see who holds the migration lock")
	}
	return 1
}

// parseDatabase turns a golang-migrate style URL into a database/sql driver name and DSN, and a form of
// the URL that is safe to print (password redacted).
func parseDatabase(raw string) (driver, dsn, shown string, err error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "", "", "", fmt.Errorf("database %q: want scheme://..., e.g. %s", redactLoose(raw), defaultSQLite)
	}
	switch scheme {
	case "mysql":
		cfg, err := mysql.ParseDSN(rest)
		if err != nil {
			return "", "", "", fmt.Errorf("mysql URL: %v", errors.New(strings.ReplaceAll(err.Error(), rest, "<dsn>")))
		}
		cfg.ParseTime = true
		safe := cfg.Clone()
		if safe.Passwd != "" {
			safe.Passwd = "xxxxx"
		}
		return "mysql", cfg.FormatDSN(), "mysql://" + safe.FormatDSN(), nil
	case "postgres", "postgresql":
		u, err := url.Parse(raw)
		if err != nil {
			return "", "", "", fmt.Errorf("postgres URL: cannot parse (check quoting of special characters in the password)")
		}
		return "postgres", u.String(), u.Redacted(), nil
	case "sqlite", "sqlite3":
		path := rest
		if path == "" {
			return "", "", "", fmt.Errorf("sqlite URL needs a file path, e.g. %s", defaultSQLite)
		}
		// WAL and a busy timeout let readers work during the migration and writers wait instead of failing.
		return "sqlite", "file:" + (&url.URL{Path: path}).EscapedPath() + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)", raw, nil
	default:
		return "", "", "", fmt.Errorf("unsupported scheme %q: use mysql://, postgres:// or sqlite://", scheme)
	}
}

// redactLoose hides anything that looks like user:password@ in a string that did not parse.
func redactLoose(s string) string {
	if at := strings.LastIndex(s, "@"); at >= 0 {
		return "<redacted>" + s[at:]
	}
	return s
}
