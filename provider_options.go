package sessionsec

import (
	"database/sql"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/agui-go/sessionsec/internal/dialect"
	"github.com/agui-go/sessionsec/schema"
)

// op is an operation an option can apply to.
type op uint16

const (
	opHandle op = 1 << iota // configures the handle: accepted by New and by every function
	opMigrate
	opRollback
	opValidate
	opPreflight
	opStatus
	opCleanup
	opRisk
	opArchive
	opPrune
	opMetrics
	opSeal   // Seal, SealSession, RunSealer, RetireKey
	opVerify // Verify, VerifySession
	opLease  // ReadLease: no call option applies to it
)

// opMaintain is every maintenance task.
const opMaintain = opCleanup | opRisk | opArchive | opPrune

var opNames = map[op]string{opMigrate: "Migrate", opRollback: "Rollback", opValidate: "Validate",
	opPreflight: "Preflight", opStatus: "Status", opCleanup: "Cleanup", opRisk: "UpdateRiskScores",
	opArchive: "Archive", opPrune: "PruneAudit", opMetrics: "Metrics", opSeal: "Seal", opVerify: "Verify", opLease: "ReadLease"}

var opOrder = []op{opMigrate, opRollback, opValidate, opPreflight, opStatus, opCleanup, opRisk, opArchive, opPrune, opMetrics, opSeal, opVerify}

// Option configures a Provider (New) or one call. Each option says which operations it means something
// to; giving it to another one fails the call with ErrInvalidOption, before anything is touched, and so
// does a bad value.
type Option struct {
	name  string
	ops   op
	apply func(*config) error
}

type config struct {
	// handle
	dialect         string
	layout          *schema.Layout
	table           string
	migrationsTable string
	logger          *slog.Logger
	extras          []schema.Step
	// calls
	lockWait     time.Duration
	retries      int
	backoff      time.Duration
	allowAhead   bool
	reapply      bool
	target       int // Rollback: the version to stop at (0: all)
	expectAbsent bool
	progress     func(Progress)
	stepHook     func(version uint, phase string)
	pollInterval time.Duration
	lockMode     LockMode      // WithLock
	leaseTTL     time.Duration // WithLeaseTTL
	// maintenance
	batch     int           // rows per batch (the tasks run by the core)
	olderThan time.Duration // Archive, PruneAudit: age of what goes (0: the task's default)
	now       func() time.Time
	// sealing
	sealEvery time.Duration // RunSealer: the pause between passes
	// replicas
	maxLag        time.Duration // WithMaxReplicaLag (0: off)
	maxLagSet     bool          // WithMaxReplicaLag was given: a lag that cannot be read is an error
	replicas      []*sql.DB     // WithReplicas (MySQL, MariaDB)
	backfillBatch int           // keys per backfill batch (0: the dialect's; the tests)
}

// DefaultMigrationsTable is the golang-migrate version table of this change: its own, so that it never
// shares golang-migrate's default schema_migrations with the application's own migrations.
const DefaultMigrationsTable = "sessionsec_schema_migrations"

const maxBackoff = 10 * time.Second

func defaults() config {
	return config{
		migrationsTable: DefaultMigrationsTable,
		logger:          slog.Default(),
		lockWait:        5 * time.Second,
		retries:         10,
		backoff:         250 * time.Millisecond,
		pollInterval:    time.Second,
		leaseTTL:        DefaultLeaseTTL,
		batch:           schema.Change.MaintenanceRows,
		now:             time.Now,
		sealEvery:       DefaultSealInterval,
		maxLag:          DefaultMaxReplicaLag,
	}
}

// build applies opts for operation o; handle options are always accepted.
func build(base config, o op, opts []Option) (config, error) {
	c := base
	for _, opt := range opts {
		if opt.apply == nil {
			continue
		}
		if opt.ops&(o|opHandle) == 0 {
			return c, invalid("%s does not apply to %s (it applies to %s)", opt.name, opNames[o], opt.opsText())
		}
		if err := opt.apply(&c); err != nil {
			return c, err
		}
	}
	return c, nil
}

func (o Option) opsText() string {
	var names []string
	for _, k := range opOrder {
		if o.ops&k != 0 {
			names = append(names, opNames[k])
		}
	}
	return strings.Join(names, ", ")
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidOption}, args...)...)
}

// identifierPattern is what the migrations table name may look like: it is quoted, never interpolated raw.
var identifierPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

// WithDialect names the dialect instead of detecting it from the *sql.DB's driver: "mysql" (MySQL and
// MariaDB), "postgres" or "sqlite", or a flavor registered under a name of its own. Use it when the
// driver is wrapped (by tracing, for instance). The dialect's package must be imported.
func WithDialect(name string) Option {
	return Option{name: "WithDialect", ops: opHandle, apply: func(c *config) error {
		if _, ok := dialect.Lookup(name); !ok {
			return invalid("dialect %q is not registered (registered: %v); import github.com/agui-go/sessionsec/%s", name, dialect.Names(), name)
		}
		c.dialect = name
		return nil
	}}
}

// WithTable names the session table (default "sessions"), e.g. the AG-UI SDK's configurable TableName.
// Its layout is recognised from its columns unless WithLayout says otherwise. Every call checks it against
// the table the change is on (TargetTable) and refuses another one with ErrWrongTable.
func WithTable(name string) Option {
	return Option{name: "WithTable", ops: opHandle, apply: func(c *config) error {
		if err := schema.Spec.WithTable(name).Check(); err != nil {
			return invalid("%v", err)
		}
		c.table = name
		return nil
	}}
}

// WithLayout fixes the layout instead of recognising it: schema.Spec, schema.AGUI, or either with
// columns mapped (schema.Spec.Map) and another table (WithTable, or Layout.WithTable).
func WithLayout(l schema.Layout) Option {
	return Option{name: "WithLayout", ops: opHandle, apply: func(c *config) error {
		if err := l.Check(); err != nil {
			return invalid("layout: %v", err)
		}
		c.layout = &l
		return nil
	}}
}

// WithMigrationsTable sets the golang-migrate version table (default sessionsec_schema_migrations). The
// name must match ^[A-Za-z_][A-Za-z0-9_]{0,62}$; the stock CLI needs the same name through
// x-migrations-table, and both derive their lock from it. A table that belongs to another migration set
// is never written.
func WithMigrationsTable(name string) Option {
	return Option{name: "WithMigrationsTable", ops: opHandle, apply: func(c *config) error {
		if !identifierPattern.MatchString(name) {
			return invalid("migrations table %q must match %s", name, identifierPattern)
		}
		c.migrationsTable = name
		return nil
	}}
}

// WithLogger sets the structured logger (default slog.Default()). Logs never contain SQL text, row data
// or credentials.
func WithLogger(l *slog.Logger) Option {
	return Option{name: "WithLogger", ops: opHandle, apply: func(c *config) error {
		if l == nil {
			return invalid("nil logger")
		}
		c.logger = l
		return nil
	}}
}

// WithLockWait bounds how long one DDL statement waits for a table lock (MySQL lock_wait_timeout,
// PostgreSQL lock_timeout; default 5s). A migration that queues behind a long transaction would otherwise
// block every later query on the table; with the bound it gives up, backs off and retries (WithRetries).
func WithLockWait(d time.Duration) Option {
	return Option{name: "WithLockWait", ops: opMigrate | opRollback, apply: func(c *config) error {
		if d < time.Second || d > time.Hour {
			return invalid("lock wait %v must be between 1s and 1h", d)
		}
		c.lockWait = d
		return nil
	}}
}

// WithRetries sets how many times a step that hit the lock-wait bound is retried (default 10), with an
// exponential backoff starting at backoff (default 250ms, capped at 10s). Then the step fails with a
// *StepError matching ErrLockWait.
func WithRetries(n int, backoff time.Duration) Option {
	return Option{name: "WithRetries", ops: opMigrate | opRollback, apply: func(c *config) error {
		if n < 0 || n > 1000 {
			return invalid("retries %d must be between 0 and 1000", n)
		}
		if backoff <= 0 || backoff > maxBackoff {
			return invalid("backoff %v must be in (0, %v]", backoff, maxBackoff)
		}
		c.retries, c.backoff = n, backoff
		return nil
	}}
}

// WithAllowDatabaseAhead lets Migrate return nil (and log a warning) when the database carries a newer
// version of this change than the binary knows, as during a rolling deploy where newer replicas migrated
// first. Without it Migrate returns an error matching ErrDatabaseAhead.
func WithAllowDatabaseAhead() Option {
	return Option{name: "WithAllowDatabaseAhead", ops: opMigrate | opPreflight, apply: func(c *config) error {
		c.allowAhead = true
		return nil
	}}
}

// WithReapply makes Migrate run every step again, whatever the version table says: each step finds its
// objects, adopts the ones that match, replaces the ones with an older definition and creates the
// missing ones. It is how a trigger or routine that was changed by hand, or left by an older release, is
// brought back to the declared definition.
func WithReapply() Option {
	return Option{name: "WithReapply", ops: opMigrate, apply: func(c *config) error { c.reapply = true; return nil }}
}

// WithTargetVersion makes Rollback stop once the database is at version v (default 0: everything).
func WithTargetVersion(v uint) Option {
	return Option{name: "WithTargetVersion", ops: opRollback, apply: func(c *config) error {
		c.target = int(v)
		return nil
	}}
}

// WithProgress receives a report after each step of a migration or rollback, with its duration (Unit
// UnitSteps); after each batch of the backfill (MySQL, MariaDB, PostgreSQL; SQLite fills in one
// statement) and of a maintenance task, with the rows done so far (Unit UnitRows). The callback runs
// on the working goroutine: keep it short.
func WithProgress(f func(Progress)) Option {
	return Option{name: "WithProgress", ops: opMigrate | opRollback | opMaintain | opSeal | opVerify, apply: func(c *config) error {
		if f == nil {
			return invalid("nil progress callback")
		}
		c.progress = f
		return nil
	}}
}

// WithBatchSize sets the rows per batch of Cleanup, UpdateRiskScores, Archive and PruneAudit, on every
// server (the library runs the batches itself; the stored procedures, for the stock CLI's users, use
// schema.Change.MaintenanceRows). Each batch is one short transaction with its audit row. Default 1000.
func WithBatchSize(n int) Option {
	return Option{name: "WithBatchSize", ops: opMaintain | opSeal | opVerify, apply: func(c *config) error {
		if n < 1 || n > 10000 {
			return invalid("batch size %d: want 1 to 10000 rows", n)
		}
		c.batch = n
		return nil
	}}
}

// WithOlderThan sets the age past which Archive moves sessions (by their expiry; default 90 days) and
// PruneAudit deletes audit rows (by their time; default 30 days).
func WithOlderThan(d time.Duration) Option {
	return Option{name: "WithOlderThan", ops: opArchive | opPrune, apply: func(c *config) error {
		if d < time.Hour {
			return invalid("WithOlderThan(%s): want at least an hour", d)
		}
		c.olderThan = d
		return nil
	}}
}

// withNow fixes the clock of the maintenance tasks (the tests).
func withNow(f func() time.Time) Option {
	return Option{name: "withNow", ops: opMaintain | opMetrics | opSeal | opVerify, apply: func(c *config) error { c.now = f; return nil }}
}

// ExpectRolledBack makes Validate confirm a complete rollback: nothing of the change may be left except
// the session table with its own columns and the retired copies of history.
func ExpectRolledBack() Option {
	return Option{name: "ExpectRolledBack", ops: opValidate, apply: func(c *config) error { c.expectAbsent = true; return nil }}
}

// withStepHook is for the fault-injection tests: it runs before ("before-up"/"before-down") and after
// each step.
func withStepHook(f func(version uint, phase string)) Option {
	return Option{name: "withStepHook", ops: opMigrate | opRollback, apply: func(c *config) error { c.stepHook = f; return nil }}
}

// withExtraSteps appends extension steps (the evolution test).
func withExtraSteps(steps ...schema.Step) Option {
	return Option{name: "withExtraSteps", ops: opHandle, apply: func(c *config) error {
		next := schema.Latest() + 1
		for _, s := range steps {
			if s.Kind != schema.StepExtra || s.Extra == nil {
				return invalid("extension steps must be of kind StepExtra")
			}
			s.Version = next
			next++
			c.extras = append(c.extras, s)
		}
		return nil
	}}
}
