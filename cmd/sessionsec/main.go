// Command sessionsec applies and verifies the session-security change on one database.
//
//	sessionsec [flags] [command] [flags]
//
// Commands: up (the default: preflight, migrate, validate), validate, status, preflight, rollback,
// generate. Flags go before or after the command. With no -database and no SESSIONSEC_DATABASE it works
// on an embedded SQLite file, ./sessionsec.db; an empty -database or SESSIONSEC_DATABASE is an error, never
// the default. Run `sessionsec -h` or `sessionsec <command> -h` for the reference.
package main

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/lib/pq"  // PostgreSQL
	_ "modernc.org/sqlite" // embedded default

	"github.com/agui-go/sessionsec"
	_ "github.com/agui-go/sessionsec/mysql"    // MySQL / MariaDB dialect
	_ "github.com/agui-go/sessionsec/postgres" // PostgreSQL dialect
	"github.com/agui-go/sessionsec/schema"
	_ "github.com/agui-go/sessionsec/sqlite" // SQLite dialect and its Go functions
)

// Exit codes.
const (
	exitOK       = 0 // done, and the database is as it should be
	exitProblems = 1 // the database has problems (validation, preflight, a failed step)
	exitUsage    = 2 // bad command line
	exitConnect  = 3 // cannot connect, or not permitted (privileges, read-only, unsupported server)
)

type command struct {
	name, summary, help string
	flags               []string // the flags of its own, besides the global ones
}

// globalFlags apply to every command that opens a database.
var globalFlags = []string{"database", "migrations-table", "table", "layout", "columns", "timeout", "lock-wait", "json", "log-format", "v"}

var commands = []command{
	{"up", "preflight, migrate and validate (the default)", "Applies every pending step (the application may keep running: every step is online), then validates.\nCreates a missing SQLite file; no other command does.", []string{"reapply"}},
	{"validate", "check the database against its applied version", "Prints the report; exit 1 on any problem. Changes nothing.", nil},
	{"status", "show applied and pending steps", "Reads the version table without taking the lock. Changes nothing.", nil},
	{"preflight", "list what would stop the pending steps", "Every problem with its fix. Changes nothing.", nil},
	{"plan", "show what up would do, step by step", "The pending steps with how each runs on this server (INSTANT / INPLACE, LOCK=NONE / CONCURRENTLY / NOT VALID +\nVALIDATE), whether it rewrites the table, the rows and batches of the long ones with an estimate of their\ntime, and the preflight result. Changes nothing; exit 1 when preflight finds problems.", nil},
	{"rollback", "the emergency rollback", "Stop the application first. Asks for confirmation unless -yes; keeps history (prints the tables it kept)\nand validates that nothing else is left. -target V stops at version V.", []string{"yes", "target"}},
	{"cleanup", "delete expired, inactive and risky sessions", "In batches, each one transaction with its SECURITY_CLEANUP audit row; rows a child row holds on to stay\n(counted as blocked). Logs progress as it goes.", []string{"batch"}},
	{"risk", "raise risk scores to the documented rule", "Never lowers a score (one the application set higher stays); audited per batch (RISK_SCORE_UPDATE).", []string{"batch"}},
	{"archive", "move long-expired sessions to the archive", "Sessions expired more than -older-than ago (default 90d) move to <table>_archive, each batch copied and\ndeleted in one transaction with its SESSION_ARCHIVE audit row. -batch sets the rows per batch.", []string{"older-than", "batch"}},
	{"prune-audit", "delete old audit-log rows", "Audit rows older than -older-than (default 30d) go, in batches; each batch writes an AUDIT_PRUNE row.", []string{"older-than", "batch"}},
	{"metrics", "print a monitoring snapshot", "Hashed, validated, high-risk and expired sessions, the archive's size, the audit log's size and growth,\nand what cleanup removed in the last day. Changes nothing.", nil},
	{"generate", "write the golang-migrate folder for a table", "Writes the up/down files for -dialect and the layout (-layout, -table, -columns) to -out; with -database,\nfor that database's own table and column types.", []string{"dialect", "out"}},
}

const envHelp = `Environment:
  SESSIONSEC_DATABASE   the database URL when -database is not given (an empty value is an error)

Database URLs (golang-migrate's forms; x-* parameters such as x-migrations-table are honoured or ignored):
  mysql://user:pass@tcp(host:3306)/app     (MySQL 8.0.29+, MariaDB 10.6+; percent-encode @ / ? % : # + in the password)
  postgres://user:pass@host:5432/app?sslmode=disable
  sqlite://path/to/file.db

Exit codes: 0 ok, 1 problems found, 2 usage, 3 cannot connect or not permitted.`

type options struct {
	database, migrationsTable, layout, table, columns, dialect, out, logFormat, lock string
	timeout, lockWait                                                                time.Duration
	olderThan                                                                        age
	target, batch                                                                    int
	verbose, yes, asJSON, reapply                                                    bool
	databaseSet                                                                      bool
}

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("sessionsec", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.database, "database", "", "database URL (see below); default "+defaultSQLite+" when neither -database nor SESSIONSEC_DATABASE is set")
	fs.StringVar(&o.migrationsTable, "migrations-table", "", "golang-migrate version table (default "+sessionsec.DefaultMigrationsTable+", or the URL's x-migrations-table)")
	fs.StringVar(&o.table, "table", "", "the session table (default sessions)")
	fs.StringVar(&o.layout, "layout", "", "spec or agui: the layout instead of recognising it")
	fs.StringVar(&o.columns, "columns", "", "map roles to columns: key=...,user=...,created=...,last_accessed=...,expires=...[,ip=...,active=...]")
	fs.StringVar(&o.dialect, "dialect", "", "generate without -database: mysql, postgres or sqlite")
	fs.StringVar(&o.out, "out", "", "generate: the folder to write")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Minute, "give up after this long (waiting for the lock included)")
	fs.DurationVar(&o.lockWait, "lock-wait", 5*time.Second, "per-statement bound on waiting for table locks")
	fs.StringVar(&o.lock, "lock", "auto", "the migration lock: auto (the lease on a Galera node and behind a PostgreSQL pooler, else the server's advisory lock), advisory or lease")
	fs.IntVar(&o.target, "target", 0, "rollback: stop at this version")
	fs.Var(&o.olderThan, "older-than", "archive, prune-audit: the age of what goes, e.g. 90d, 720h (default 90d / 30d)")
	fs.IntVar(&o.batch, "batch", 0, "archive, prune-audit (and cleanup, risk on SQLite): rows per batch (default 1000)")
	fs.BoolVar(&o.yes, "yes", false, "rollback: do not ask for confirmation")
	fs.BoolVar(&o.reapply, "reapply", false, "up: run every step again (each adopts, replaces or creates its objects)")
	fs.BoolVar(&o.asJSON, "json", false, "print the result as JSON on stdout")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format on stderr: text or json")
	fs.BoolVar(&o.verbose, "v", false, "debug logging: every statement and step with its wall time")
	var helpFor string // the command whose -h is asked for, once it is known
	fs.Usage = func() { usage(fs, stderr, helpFor) }

	cmd, err := parseArgs(fs, args, &helpFor)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	// An error caught before the database opens still gives -json its object on stdout; -json is looked
	// for in the arguments too, as the flag parser may have stopped before it.
	early := func(tgt *target, err error) int {
		o.asJSON = o.asJSON || jsonAsked(args)
		if tgt == nil {
			tgt = &target{}
		}
		return finish(stdout, stderr, o, cmd, tgt, nil, fmt.Errorf("sessionsec: %w", err))
	}
	if err != nil {
		return early(nil, fmt.Errorf("%w: %v", errUsage, err))
	}
	fs.Visit(func(f *flag.Flag) { o.databaseSet = o.databaseSet || f.Name == "database" })
	logger := newLogger(stderr, o)
	slog.SetDefault(logger)
	if cmd == "generate" && !o.databaseSet {
		return generate(o, stdout, stderr)
	}
	raw, err := databaseURL(o)
	if err != nil {
		return early(nil, err)
	}
	mode := map[string]string{"up": "rwc", "validate": "ro", "status": "ro", "metrics": "ro", "plan": "ro"}[cmd]
	if mode == "" {
		mode = "rw"
	}
	tgt, err := parseDatabase(raw, mode)
	if err != nil {
		return early(&target{shown: Redact(raw)}, err)
	}
	opts, err := handleOptions(o, tgt, logger)
	if err != nil {
		return early(tgt, err)
	}
	if tgt.dialect == "sqlite" && cmd != "up" {
		if _, err := os.Stat(tgt.path); err != nil {
			return finish(stdout, stderr, o, cmd, tgt, nil, fmt.Errorf("%w: %s: no such database file (only up creates one)", sessionsec.ErrNoDatabase, tgt.path))
		}
	}
	db, err := sql.Open(tgt.driver, tgt.dsn)
	if err != nil {
		return finish(stdout, stderr, o, cmd, tgt, nil, fmt.Errorf("%w: opening %s: %v", sessionsec.ErrNoDatabase, tgt.shown, err))
	}
	defer db.Close()
	p, err := sessionsec.New(db, opts...)
	if err != nil {
		return finish(stdout, stderr, o, cmd, tgt, nil, tgt.named(err))
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, o.timeout)
	defer cancelTimeout()
	logger.Info("sessionsec: database", "url", tgt.shown, "command", cmd)
	res, err := execute(ctx, p, cmd, o, tgt, stdin, stderr)
	return finish(stdout, stderr, o, cmd, tgt, res, tgt.named(err))
}

// parseArgs parses flags before the command, the command, and flags after it. It sets *cmdSeen to
// the command before parsing that command's flags, so that `<command> -h` describes the command. On an
// error it still returns the command as far as it got (for the -json object).
func parseArgs(fs *flag.FlagSet, args []string, cmdSeen *string) (string, error) {
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	cmd := "up"
	if fs.NArg() > 0 {
		cmd = fs.Arg(0)
		if !slices.ContainsFunc(commands, func(c command) bool { return c.name == cmd }) {
			return cmd, fmt.Errorf("unknown command %q (commands: %s; see -h)", cmd, commandNames())
		}
		*cmdSeen = cmd
		if err := fs.Parse(fs.Args()[1:]); err != nil {
			return cmd, err
		}
		if fs.NArg() > 0 {
			return cmd, fmt.Errorf("unexpected argument %q after %s (flags may go before or after the command; values with spaces need quotes)", fs.Arg(0), cmd)
		}
	}
	return cmd, nil
}

// jsonAsked reports a -json flag among the arguments, for errors the flag parser stopped at first.
func jsonAsked(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-json", "--json", "-json=true", "--json=true", "-json=1", "--json=1":
			return true
		}
	}
	return false
}

func commandNames() string {
	var n []string
	for _, c := range commands {
		n = append(n, c.name)
	}
	return strings.Join(n, ", ")
}

// usage prints the reference: every command, or (for `<command> -h`) that command and its flags.
func usage(fs *flag.FlagSet, w io.Writer, cmd string) {
	i := slices.IndexFunc(commands, func(c command) bool { return c.name == cmd })
	if i < 0 {
		fmt.Fprintf(w, "usage: sessionsec [flags] [command] [flags]\n\nCommands:\n")
		for _, c := range commands {
			fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
			for _, l := range strings.Split(c.help, "\n") {
				fmt.Fprintf(w, "  %-12s   %s\n", "", l)
			}
		}
		fmt.Fprintf(w, "\nFlags (before or after the command):\n")
		fs.PrintDefaults()
		fmt.Fprintf(w, "\n%s\n", envHelp)
		return
	}
	c := commands[i]
	fmt.Fprintf(w, "usage: sessionsec [flags] %s [flags]\n\n%s: %s.\n%s\n", c.name, c.name, c.summary, c.help)
	if len(c.flags) > 0 {
		fmt.Fprintf(w, "\nFlags of %s:\n", c.name)
		subset(fs, c.flags).PrintDefaults()
	}
	fmt.Fprintf(w, "\nGlobal flags:\n")
	subset(fs, globalFlags).PrintDefaults()
	fmt.Fprintf(w, "\n%s\n", envHelp)
}

// subset is a flag set holding only the named flags of fs, for printing their defaults.
func subset(fs *flag.FlagSet, names []string) *flag.FlagSet {
	sub := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	sub.SetOutput(fs.Output())
	fs.VisitAll(func(f *flag.Flag) {
		if slices.Contains(names, f.Name) {
			sub.Var(f.Value, f.Name, f.Usage)
		}
	})
	return sub
}

// databaseURL is -database, or SESSIONSEC_DATABASE, or the embedded default - the default only when
// neither is set at all, so that a forgotten variable never migrates the wrong database.
func databaseURL(o options) (string, error) {
	if o.databaseSet {
		if strings.TrimSpace(o.database) == "" {
			return "", fmt.Errorf("%w: -database is empty (unset variable?); give a URL, or leave -database out for the embedded default", errUsage)
		}
		return o.database, nil
	}
	if v, ok := os.LookupEnv("SESSIONSEC_DATABASE"); ok {
		if strings.TrimSpace(v) == "" {
			return "", fmt.Errorf("%w: SESSIONSEC_DATABASE is set but empty; give a URL or unset it for the embedded default", errUsage)
		}
		return v, nil
	}
	return defaultSQLite, nil
}

func newLogger(w io.Writer, o options) *slog.Logger {
	level := slog.LevelInfo
	switch {
	case o.verbose:
		level = slog.LevelDebug
	case isTerminal(w) && o.logFormat != "json":
		// On a terminal the progress bars say how far it is; warnings and errors still show.
		level = slog.LevelWarn
	}
	h := slog.Handler(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
	if o.logFormat == "json" {
		h = slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})
	}
	l := slog.New(h)
	// go-sql-driver's own log lines (dropped connections, ...) go through the same handler.
	_ = mysql.SetLogger(mysqlLogger{l})
	return l
}

type mysqlLogger struct{ l *slog.Logger }

// Print logs a driver line with quoted values (row data) removed.
func (m mysqlLogger) Print(v ...any) {
	m.l.Warn("mysql driver: " + quoted.ReplaceAllString(fmt.Sprint(v...), "'…'"))
}

var quoted = regexp.MustCompile(`'(?:[^'\\]|\\.)*'`)

func layoutOf(o options) (*schema.Layout, error) {
	var l schema.Layout
	switch o.layout {
	case "":
		if o.columns == "" {
			return nil, nil
		}
		l = schema.Spec
	case "spec":
		l = schema.Spec
	case "agui":
		l = schema.AGUI
	default:
		return nil, fmt.Errorf("%w: -layout %q: want spec or agui", errUsage, o.layout)
	}
	if o.columns != "" {
		m := map[schema.Role]string{}
		for _, kv := range strings.Split(o.columns, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
			r, known := schema.ParseRole(k)
			if !ok || !known {
				return nil, fmt.Errorf("%w: -columns: %q is not role=column (roles: key, user, created, last_accessed, expires, ip, active)", errUsage, kv)
			}
			m[r] = v
		}
		l = l.Map(m)
	}
	if o.table != "" {
		l = l.WithTable(o.table)
	}
	if err := l.Check(); err != nil {
		return nil, fmt.Errorf("%w: %v", errUsage, err)
	}
	return &l, nil
}

func handleOptions(o options, tgt *target, logger *slog.Logger) ([]sessionsec.Option, error) {
	opts := []sessionsec.Option{sessionsec.WithLogger(logger)}
	lock, err := lockMode(o.lock)
	if err != nil {
		return nil, err
	}
	opts = append(opts, sessionsec.WithLock(lock))
	table := o.migrationsTable
	if table == "" {
		table = tgt.migrationsTable
	}
	if table != "" {
		opts = append(opts, sessionsec.WithMigrationsTable(table))
	}
	l, err := layoutOf(o)
	if err != nil {
		return nil, err
	}
	switch {
	case l != nil:
		opts = append(opts, sessionsec.WithLayout(*l))
	case o.table != "":
		opts = append(opts, sessionsec.WithTable(o.table))
	}
	return opts, nil
}

// lockMode reads -lock.
func lockMode(s string) (sessionsec.LockMode, error) {
	for _, m := range []sessionsec.LockMode{sessionsec.LockAuto, sessionsec.LockAdvisory, sessionsec.LockLease} {
		if s == m.String() {
			return m, nil
		}
	}
	return 0, fmt.Errorf("%w: -lock %q: want auto, advisory or lease", errUsage, s)
}

// upResult is what up did: the version before and after, and the steps it ran.
type upResult struct {
	From  uint     `json:"from"`  // the version before (0: none)
	To    uint     `json:"to"`    // the version after
	Steps []string `json:"steps"` // the steps run, e.g. "000010_backfill"; empty when nothing was pending
	// failed: the migration stopped at an error; Steps are those done before it.
	failed bool
}

func (u *upResult) String() string {
	if len(u.Steps) == 0 && !u.failed {
		return fmt.Sprintf("up: nothing was pending (version %d)", u.To)
	}
	from := "no version"
	if u.From > 0 {
		from = fmt.Sprintf("version %d", u.From)
	}
	done := "applied"
	if u.failed {
		done = "applied before the failure"
	}
	return fmt.Sprintf("up: %d step(s) %s, from %s to version %d", len(u.Steps), done, from, u.To)
}

// result is what a command reports, as text and as JSON.
type result struct {
	Up       *upResult
	Report   *sessionsec.Report          `json:"report,omitempty"`
	Status   *sessionsec.MigrationStatus `json:"status,omitempty"`
	Rollback *sessionsec.RollbackResult  `json:"rollback,omitempty"`
	Files    []string                    `json:"files,omitempty"`
	Message  string                      `json:"message,omitempty"`
	Task     *sessionsec.MaintenanceResult
	Metrics  *sessionsec.Metrics
	Plan     *sessionsec.Plan
	Seal     *sessionsec.SealResult
	Verify   *sessionsec.VerifyResult
}

func execute(ctx context.Context, p *sessionsec.Provider, cmd string, o options, tgt *target, stdin io.Reader, stderr io.Writer) (*result, error) {
	call := []sessionsec.Option{sessionsec.WithLockWait(o.lockWait)}
	switch cmd {
	case "up":
		if o.reapply {
			call = append(call, sessionsec.WithReapply())
		}
		before := statusFor(ctx, p)
		bar := stepsProgress(stderr, isTerminal(stderr), "migrate", stepsToRun(before, "migrate", o.reapply, 0))
		up := &upResult{Steps: []string{}}
		if before != nil && before.HasVersion {
			up.From = before.Version
		}
		err := p.Migrate(ctx, append(call, sessionsec.WithProgress(func(pr sessionsec.Progress) {
			if pr.Unit == sessionsec.UnitSteps {
				up.Steps = append(up.Steps, fmt.Sprintf("%06d_%s", pr.Version, pr.Step))
			}
			bar.migration(pr)
		}))...)
		bar.finish(err)
		if err != nil {
			// What ran before the failure stays applied: say so (to is where the version table stands).
			up.failed = true
			if st := statusFor(ctx, p); st != nil && st.HasVersion {
				up.To = st.Version
			}
			return &result{Up: up}, err
		}
		rep, err := p.Validate(ctx)
		if rep != nil {
			up.To = rep.Version
		}
		return &result{Report: rep, Up: up}, err
	case "validate":
		rep, err := p.Validate(ctx)
		return &result{Report: rep}, err
	case "status":
		st, err := p.Status(ctx)
		return &result{Status: st}, err
	case "preflight":
		if err := p.Preflight(ctx); err != nil {
			return nil, err
		}
		return &result{Message: "preflight: no problems found"}, nil
	case "plan":
		pl, err := p.Plan(ctx)
		if err == nil && len(pl.Problems) > 0 {
			err = &sessionsec.PreflightError{Problems: pl.Problems}
		}
		return &result{Plan: pl}, err
	case "rollback":
		if !o.yes {
			if err := confirm(stdin, stderr, tgt); err != nil {
				return nil, err
			}
		}
		if o.target > 0 {
			call = append(call, sessionsec.WithTargetVersion(uint(o.target)))
		}
		bar := stepsProgress(stderr, isTerminal(stderr), "rollback", stepsToRun(statusFor(ctx, p), "rollback", false, uint(max(o.target, 0))))
		res, err := p.Rollback(ctx, append(call, sessionsec.WithProgress(bar.migration))...)
		bar.finish(err)
		if err != nil {
			return nil, err
		}
		if o.target > 0 {
			rep, err := p.Validate(ctx)
			return &result{Rollback: res, Report: rep}, err
		}
		rep, err := p.Validate(ctx, sessionsec.ExpectRolledBack())
		return &result{Rollback: res, Report: rep}, err
	case "cleanup", "risk", "archive", "prune-audit":
		return maintain(ctx, p, cmd, o, stderr)
	case "seal", "verify":
		return sealing(ctx, p, cmd, o, stderr)
	case "metrics":
		m, err := p.ReadMetrics(ctx)
		return &result{Metrics: m}, err
	case "generate":
		files, err := p.Files(ctx)
		if err != nil {
			return nil, err
		}
		names, err := writeFolder(o.out, files)
		return &result{Files: names}, err
	}
	return nil, fmt.Errorf("%w: unknown command %q", errUsage, cmd)
}

// confirm asks the operator to type yes: a rollback drops columns.
func confirm(stdin io.Reader, stderr io.Writer, tgt *target) error {
	fmt.Fprintf(stderr, "This rolls back the session-security change on %s (history is kept in *_retired_* tables).\nType yes to go on: ", tgt.shown)
	line, _ := bufio.NewReader(stdin).ReadString('\n')
	if !isTerminal(stdin) || !strings.HasSuffix(line, "\n") {
		// Only a terminal echoes the operator's Enter: end the prompt's line before the next message.
		fmt.Fprintln(stderr)
	}
	if strings.TrimSpace(line) != "yes" {
		return fmt.Errorf("%w: rollback not confirmed (type yes, or pass -yes)", errUsage)
	}
	return nil
}

func generate(o options, stdout, stderr io.Writer) int {
	l, err := layoutOf(o)
	if err == nil && l == nil {
		l = &schema.Spec
		if o.table != "" {
			t := schema.Spec.WithTable(o.table)
			l = &t
		}
	}
	if err == nil && (o.dialect == "" || o.out == "") {
		err = fmt.Errorf("%w: generate needs -dialect (mysql, postgres, sqlite) and -out, or -database", errUsage)
	}
	if err != nil {
		return finish(stdout, stderr, o, "generate", &target{shown: "(none)"}, nil, fmt.Errorf("sessionsec: %w", err))
	}
	files, err := sessionsec.RenderFiles(o.dialect, *l)
	var names []string
	if err == nil {
		names, err = writeFolder(o.out, files)
	}
	return finish(stdout, stderr, o, "generate", &target{shown: "(none)"}, &result{Files: names}, err)
}

func writeFolder(dir string, files map[string]string) ([]string, error) {
	if dir == "" {
		return nil, fmt.Errorf("%w: generate needs -out", errUsage)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var names []string
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return nil, err
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// exitCode sorts an error into the documented exit codes.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage), errors.Is(err, sessionsec.ErrInvalidOption), errors.Is(err, sessionsec.ErrNoKeyring),
		errors.Is(err, sessionsec.ErrKeyring), errors.Is(err, sessionsec.ErrKeyTooShort):
		return exitUsage
	case errors.Is(err, sessionsec.ErrNoDatabase), errors.Is(err, sessionsec.ErrPrivileges), errors.Is(err, sessionsec.ErrReadOnly),
		errors.Is(err, sessionsec.ErrUnsupportedServer), errors.Is(err, sessionsec.ErrUnsupportedDriver),
		errors.Is(err, sessionsec.ErrBinlogRoutines), errors.Is(err, context.DeadlineExceeded):
		return exitConnect
	}
	return exitProblems
}

// output is the JSON form of a run; its fields are stable.
type output struct {
	Command  string                        `json:"command"`
	Database string                        `json:"database"`
	OK       bool                          `json:"ok"`
	Exit     int                           `json:"exit"`
	Error    string                        `json:"error,omitempty"`
	Problems []sessionsec.Problem          `json:"problems,omitempty"`
	Up       *upResult                     `json:"up,omitempty"`
	Report   *sessionsec.Report            `json:"report,omitempty"`
	Status   *sessionsec.MigrationStatus   `json:"status,omitempty"`
	Rollback *sessionsec.RollbackResult    `json:"rollback,omitempty"`
	Files    []string                      `json:"files,omitempty"`
	Message  string                        `json:"message,omitempty"`
	Task     *sessionsec.MaintenanceResult `json:"task,omitempty"`
	Metrics  *sessionsec.Metrics           `json:"metrics,omitempty"`
	Plan     *sessionsec.Plan              `json:"plan,omitempty"`
	Seal     *sessionsec.SealResult        `json:"seal,omitempty"`
	Verify   *sessionsec.VerifyResult      `json:"verify,omitempty"`
}

func finish(stdout, stderr io.Writer, o options, cmd string, tgt *target, res *result, err error) int {
	code := exitCode(err)
	if o.asJSON {
		out := output{Command: cmd, Database: tgt.shown, OK: err == nil, Exit: code}
		if err != nil {
			out.Error = err.Error()
			var pe *sessionsec.PreflightError
			if errors.As(err, &pe) {
				out.Problems = pe.Problems
			}
		}
		if res != nil {
			out.Report, out.Status, out.Rollback, out.Files, out.Message = res.Report, res.Status, res.Rollback, res.Files, res.Message
			out.Task, out.Metrics, out.Plan, out.Up = res.Task, res.Metrics, res.Plan, res.Up
			out.Seal, out.Verify = res.Seal, res.Verify
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(out)
		return code
	}
	if res != nil {
		if res.Up != nil {
			fmt.Fprintln(stdout, res.Up)
		}
		if res.Rollback != nil {
			fmt.Fprintln(stdout, res.Rollback)
		}
		switch {
		case res.Report != nil:
			fmt.Fprintln(stdout, res.Report)
		case res.Status != nil:
			fmt.Fprintln(stdout, res.Status)
		case res.Plan != nil:
			fmt.Fprintln(stdout, res.Plan)
		case res.Task != nil:
			fmt.Fprintln(stdout, res.Task)
		case res.Metrics != nil:
			fmt.Fprintln(stdout, res.Metrics)
		case res.Seal != nil:
			fmt.Fprintln(stdout, res.Seal)
		case res.Verify != nil:
			fmt.Fprintln(stdout, res.Verify)
		case res.Message != "":
			fmt.Fprintln(stdout, res.Message)
		}
		for _, f := range res.Files {
			fmt.Fprintln(stdout, filepath.Join(o.out, f))
		}
	}
	if err != nil {
		var ve *sessionsec.ValidationError
		shown := errors.As(err, &ve) && res != nil && res.Report != nil
		shown = shown || (res != nil && res.Plan != nil) // the plan lists its problems
		if !shown {
			fmt.Fprintln(stderr, err)
		}
		if errors.Is(err, context.DeadlineExceeded) {
			fmt.Fprintln(stderr, "sessionsec: timed out; raise -timeout, or see who holds the migration lock")
		}
	}
	return code
}
